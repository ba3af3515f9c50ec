/**
 * BlockAllocator's bytes: the header, the free runs' bookkeeping in their first block, and
 * the argument rules. The strategy and its costs: allocator.ts.
 *
 * ## Memory picture
 *
 *     region.start (8-aligned)
 *     | header: 8 common + 7 block slots, float64 (120 bytes) | start bits | pad | block 0 | … | block L−1 | tail |
 *                                                                                ^ BLOCKS_AT (a multiple of B)
 *     start bits  one bit per block, set at the first block of every live allocation
 *                 (⌈L/32⌉ u32 words, 8-aligned: `startBitsBytes(L)`); out of the blocks'
 *                 way, before them, so an overflow of a block never reaches them
 *     pad  < max(B, align) bytes, so that block k starts at BLOCKS_AT + k·B, B-aligned, and
 *          block 0 at a multiple of `options.align` (default B; 0 pad when both are ≤ 8)
 *     tail bytes of the region after the last whole block (unused)
 *
 *     slot  8 FIRST        index of the first free run (the lowest), NONE when no block is free
 *     slot  9 FREE         free blocks (the sum of the runs' lengths)
 *     slot 10 LIVE         allocations not yet freed (stats; see "Counting" below)
 *     slot 11 PEAK         most blocks in use at once since creation or the last reset
 *     slot 12 BLOCK_SIZE   B, a power of two 4 … 65536 (also the common CONFIG slot)
 *     slot 13 BLOCK_COUNT  L
 *     slot 14 BLOCKS_AT    byte offset of block 0
 *
 *     free run header: the first block of every run of free blocks (stalloc's layout)
 *       B = 4 (narrow, u16 fields)       B ≥ 8 (wide, u32 fields)
 *       byte 0      2       4            byte 0      4       8
 *       | NEXT u16 | LEN u16 |           | NEXT u32 | LEN u32 | … rest of the block unused
 *     NEXT  index of the next free run, always higher; NONE (all ones: 0xFFFF or 0xFFFFFFFF)
 *           after the last run
 *     LEN   blocks in the run, ≥ 1
 *     Every other block of a free run, and every allocated block, holds no metadata at all.
 *
 *     example, L = 8:  index  0   1   2   3   4   5   6   7
 *                           | A | A |3→6|   |   | B |2→∅|   |     FIRST = 2, FREE = 5
 *     A = allocateBlocks(2), B = allocateBlocks(1); `dump()` prints "index 2: 3 free blocks"
 *     and "index 6: 2 free blocks".
 *
 * ## Limits
 * B is a power of two from 4 to 65536 (a free run's header must fit in its first block).
 * L is at least 1 and at most 65535 when B = 4 (u16 indices, as in stalloc, whose L is below
 * 65536), or 2^32 / B when B ≥ 8 (u32 indices); the blocks must fit the memory (≤ 4 GiB). L is
 * fixed at creation: a growable memory is grown once if needed to hold the L blocks, never
 * after. Offset-only memories are not supported: the free runs' headers live in the blocks.
 */

import type { AllocatorOptions } from "../../core/allocator.js";
import { ArgumentRangeError, ArgumentTypeError } from "../../core/errors.js";
import { declareHeader } from "../../core/header.js";
import { isUint32, isValidAlign, MAX_ALIGN, rejectAlign, rejectSize } from "../../core/validate.js";

// ---- header slots ------------------------------------------------------------------------

export const BLOCK_HEADER = declareHeader([
  "FIRST",
  "FREE",
  "LIVE",
  "PEAK",
  "BLOCK_SIZE",
  "BLOCK_COUNT",
  "BLOCKS_AT",
]);
export const { FIRST, FREE, LIVE, PEAK, BLOCK_SIZE, BLOCK_COUNT, BLOCKS_AT } = BLOCK_HEADER.slot;

// ---- the free run header (in the first block of a run) ------------------------------------

/** Field numbers inside a run header; a field is a u16 (narrow) or a u32 (wide). */
export const F_NEXT = 0;
export const F_LEN = 1;
export const RUN_FIELDS = 2;
/** Narrow headers (two u16) fit the smallest block; from 8 bytes on, headers are two u32. */
export const MIN_BLOCK_SIZE = 2 * RUN_FIELDS;
export const WIDE_BLOCK_SIZE = 4 * RUN_FIELDS;
export const MAX_BLOCK_SIZE = MAX_ALIGN;
export const NARROW_NONE = 0xffff;
export const WIDE_NONE = 0xffffffff;
/** Indices 0 … L−1 must differ from NONE; a run's length (≤ L) must fit its field. */
export const MAX_NARROW_BLOCKS = NARROW_NONE;
/** The largest alignment in blocks `allocateBlocks` takes. */
export const MAX_ALIGN_BLOCKS = 65536;
export const MAX_REGION_BYTES = 2 ** 32;

export interface BlockOptions extends AllocatorOptions {
  /** Number of blocks L (default: as many as fit the memory, up to the format's limit). */
  blockCount?: number;
  /**
   * Block 0's address is a multiple of this power of two (default B). With B = 4 and
   * `align: 16`, the 8 blocks of a 32-byte heap hold two 16-aligned 16-byte values.
   */
  align?: number;
}

/** Bytes of the start bits for L blocks: one bit a block, in whole u32 words. */
export function startBitsBytes(blockCount: number): number {
  return Math.ceil(blockCount / 32) * 4;
}

// ---- argument checks ---------------------------------------------------------------------

export function isBlockSize(b: number): boolean {
  return (b | 0) === b && b >= MIN_BLOCK_SIZE && b <= MAX_BLOCK_SIZE && (b & (b - 1)) === 0;
}

/** The largest L for block size B: u16 indices below NONE, or a 4 GiB region. */
export function maxBlocks(blockSize: number): number {
  return blockSize < WIDE_BLOCK_SIZE ? MAX_NARROW_BLOCKS : MAX_REGION_BYTES / blockSize;
}

export function checkBlockSize(b: number): void {
  if (typeof b !== "number") throw new ArgumentTypeError(`blockSize must be a number`);
  if (!isBlockSize(b)) {
    throw new ArgumentRangeError(
      `blockSize must be a power of two ${MIN_BLOCK_SIZE} … ${MAX_BLOCK_SIZE}, got ${b}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

export function checkBlockCount(n: number, blockSize: number): void {
  if (typeof n !== "number") throw new ArgumentTypeError(`blockCount must be a number`);
  const max = maxBlocks(blockSize);
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= max)) {
    throw new ArgumentRangeError(
      `blockCount must be an integer 1 … ${max} for blocks of ${blockSize} bytes, got ${n}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

/** A block count argument: an integer ≥ 1 (a count ≥ 2^32 is rejected as a size error). */
export function checkCount(n: number, what: string): void {
  if (!isUint32(n)) {
    rejectSize(n, what);
    throw new ArgumentRangeError(`${what} must be below 2^32, got ${n}`, "ERR_ALLOC_SIZE");
  }
  if (n === 0) throw new ArgumentRangeError(`${what} must be at least 1 block`, "ERR_ALLOC_SIZE");
}

/** The alignment of block 0: `align` (validated) or B, whichever is larger. */
export function blockAlignOf(align: number | undefined, blockSize: number): number {
  if (align === undefined) return blockSize;
  if (!isValidAlign(align)) rejectAlign(align);
  return Math.max(align, blockSize);
}

export function checkAlignInBlocks(a: number): void {
  if (typeof a !== "number") throw new ArgumentTypeError(`alignInBlocks must be a number`);
  if (!((a | 0) === a && a >= 1 && a <= MAX_ALIGN_BLOCKS && (a & (a - 1)) === 0)) {
    throw new ArgumentRangeError(
      `alignInBlocks must be a power of two 1 … ${MAX_ALIGN_BLOCKS}, got ${a}`,
      "ERR_ALLOC_ALIGN",
    );
  }
}
