/**
 * StackAllocator's bytes: the header and the 8-byte header below every block. The strategy,
 * its costs and rules: allocator.ts.
 *
 * ## Memory picture
 *
 *     region.start (8-aligned)
 *     | header: 8 common + 7 stack slots, float64 each (120 bytes) |
 *     | hdr | block a | pad | hdr | block b | hdr | block c |        free ...        | END
 *     ^ dataStart                               ^ LAST      ^ TOP
 *
 *     slot  8 TOP     end of the newest block (dataStart when the stack is empty)
 *     slot  9 END     end of usable bytes (memory end; moves up when the memory grows)
 *     slot 10 HIGH_WATER  the highest TOP, folded in when TOP moves down: bytes at or above
 *                     max(HIGH_WATER, TOP) were never handed out (zero on a fresh memory),
 *                     so allocZeroed skips them
 *     slot 11 LAST    pointer of the newest (top) block, 0 when the stack is empty
 *     slot 12 LIVE    blocks on the stack
 *     slot 13 INUSE   sum of the live blocks' sizes
 *     slot 14 PEAK    highest INUSE since the last reset (folded in lazily)
 *     common CONFIG   BLOCK_HEADER_BYTES (8): the block format, checked on attach
 *
 *     block header: 8 bytes, 8-aligned, directly below every block (two u32 words)
 *     byte  0          4          8
 *           | PREV     | SIZE     | block bytes ... (ptr, 8-aligned or more)
 *     PREV  pointer of the block below (the top before this block was pushed), 0 for the
 *           bottom block
 *     SIZE  the block's size as requested (0 … 2^32−1); it is also its usable size
 *
 * A block is placed at ptr = alignUp(TOP + 8, align) with its header at ptr − 8; the new TOP
 * is ptr + size. Popping it sets TOP to the end of the block below (PREV + SIZE(PREV)), or
 * to dataStart. A mark is simply a TOP value: `mark()` returns TOP, `rollback(m)` pops every
 * block whose header lies at or above m.
 */

import { declareHeader } from "../../core/header.js";
import { DEFAULT_ALIGN } from "../../core/validate.js";

export const STACK_HEADER = declareHeader([
  "TOP",
  "END",
  "HIGH_WATER",
  "LAST",
  "LIVE",
  "INUSE",
  "PEAK",
]);

/** Block header: two u32 words just below the block. */
export const HDR_PREV = 0;
export const HDR_SIZE = 1;
export const HDR_WORDS = 2;
export const U32_BYTES = 4;
/** Bytes of the header below every block (stored in the common CONFIG slot). */
export const BLOCK_HEADER_BYTES = HDR_WORDS * U32_BYTES;
/** Every block pointer (and so every header) is aligned to at least this. */
export const BLOCK_ALIGN = DEFAULT_ALIGN;

/** Index in a u32 view of the first header word of the block at `ptr` (ptr ≥ 8, < 2^32). */
export function headerWord(ptr: number): number {
  return (ptr - BLOCK_HEADER_BYTES) >>> 2;
}
