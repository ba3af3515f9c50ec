/**
 * BumpAllocator's bytes: the header, its state words and the mark record. The strategy and
 * its costs: allocator.ts.
 *
 * ## Memory picture
 *
 *     region.start (8-aligned)
 *     | header: 8 common + 3 bump slots (float64) | 6 state words (int32) |  (112 bytes)
 *     | block | pad | block | block | mark record | block |     free ...   | END
 *     ^ dataStart                                          ^ TOP
 *
 *     slot  8 HIGH_WATER  the highest TOP since creation, folded in when TOP moves down:
 *                         bytes at or above max(HIGH_WATER, TOP) were never handed out
 *                         (zero on a fresh memory)
 *     slot  9 PEAK        highest TOP − dataStart since the last reset (folded in lazily)
 *     slot 10 EPOCH       number of resets; stamps mark records so stale marks are caught
 *     word  0 TOP         next free byte; blocks lie in [dataStart, TOP)
 *     word  1 END         end of usable bytes (memory end, at most 2^32 − 8; moves up when
 *                         the memory grows)
 *     word  2 LAST        pointer of the newest block, 0 when unknown (after a free or
 *                         rollback)
 *     word  3 LIVE        blocks allocated and not freed
 *     word  4 TOTAL_LO    bytes requested since the last reset (the seeds' total_allocated)
 *     word  5 TOTAL_HI    are TOTAL_HI × 2^31 + TOTAL_LO, with 0 ≤ TOTAL_LO < 2^31
 *
 * Every word is int32: TOP, END and LAST are offsets up to 2^32 − 8, read back with `>>> 0`.
 * The total can pass 2^32, so it is a pair: alloc adds the request to TOTAL_LO and carries
 * into TOTAL_HI only when the sum reaches 2^31 (an int32 add and a compare per alloc, no
 * float64 slot to read and write).
 *
 * The header's CONFIG slot holds BUMP_LAYOUT: attaching to bytes with another value (a bump
 * heap with another layout of these slots and words) fails with ERR_HEAP_CONFIG.
 *
 *     mark record (32 bytes, 8-aligned, inside the arena; `mark()` returns its address):
 *     | self address | LIVE at mark | EPOCH at mark | LAST at mark |
 *
 * No per-block header: a block is exactly its bytes plus alignment padding before it.
 */

import { declareHeader } from "../../core/header.js";

export const BUMP_HEADER = declareHeader(
  ["HIGH_WATER", "PEAK", "EPOCH"],
  ["TOP", "END", "LAST", "LIVE", "TOTAL_LO", "TOTAL_HI"],
);

/** The header's CONFIG slot: which layout of the slots and words above these bytes hold. */
export const BUMP_LAYOUT = 2;

/** TOTAL_LO stays below this; the rest of the total is counted in TOTAL_HI. */
export const TOTAL_UNIT = 2 ** 31;

/** The highest END a 32-bit word holds: a 4 GiB memory gives up its last 8 bytes. */
export const MAX_END = 2 ** 32 - 8;

/** Mark record fields (float64 slots) and size. */
export const MARK_SELF = 0;
export const MARK_LIVE = 1;
export const MARK_EPOCH = 2;
export const MARK_LAST = 3;
export const MARK_BYTES = 4 * 8;
