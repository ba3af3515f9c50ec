/**
 * PoolAllocator's bytes: the header, the pool words, the free stack and the live bitmap, and
 * where they go in a memory (pure arithmetic). The strategy and its costs: allocator.ts.
 *
 * ## Blocks and alignment
 * The block size is rounded up to a multiple of 8 (so at least 8). Blocks are aligned to the
 * block size's natural alignment A: the largest power of two dividing the block size, capped
 * at MAX_BLOCK_ALIGN (4096), so A ≥ 8. 64-byte blocks are 64-aligned, 48-byte blocks
 * 16-aligned, 24-byte blocks 8-aligned, 8192-byte blocks 4096-aligned. `alloc(size, align)`
 * serves 0 ≤ size ≤ block size and align ≤ A; a larger size answers 0 (no block can ever hold
 * it, as C answers NULL), a larger alignment throws RangeError ERR_ALLOC_ALIGN (B7).
 *
 * ## Memory picture (N blocks of S bytes, alignment A)
 *
 *     region.start (rounded up to 8)
 *     | header | pool words | free stack | live bitmap  | pad | pad | block 0 | … | block N−1 |
 *     | 96 B   | i32 × 5    | i32 × N    | i32 × ⌈N/32⌉ | →8  | →A  | S bytes |   | S bytes   |
 *     ^ metaAt                                                ^ dataStart
 *                                                                        ^ BASE (block 0)
 *
 * For an offset-only memory the header, pool words, free stack and bitmap live in a side
 * buffer, and BASE is the region start (at least 8, as 0 is null) rounded up to A.
 *
 *     header slots (float64; 0–7 are the common header, CONFIG = POOL_LAYOUT): configuration
 *     slot  8 BLOCK_SIZE  S, bytes per block (a multiple of 8)
 *     slot  9 NUM_BLOCKS  N (at most 2^29: 4 GiB of 8-byte blocks)
 *     slot 10 BASE        offset of block 0, a multiple of A
 *     slot 11 BLOCK_ALIGN A
 *
 *     pool words (the header's int32 state words): the state that changes on every call.
 *     They are int32, not float64 header slots, so that the hot path indexes the free stack
 *     and bitmap, which share their Int32Array (`words`), with no float-to-int conversion.
 *     word 0 NFREE   entries on the free stack
 *     word 1 CARVED  blocks [0, CARVED) have been handed out since the last reset or rewind;
 *                    [CARVED, N) were not, and are free without being listed anywhere
 *     word 2 LIMIT   blocks [0, LIMIT) lie inside the memory now (LIMIT < N only on a
 *                    growable memory that has not grown that far yet)
 *     word 3 PEAK_CARVED  the highest CARVED since creation (a block count), folded in at
 *                    each reset or rewind: blocks at or above max(PEAK_CARVED, CARVED) were
 *                    never handed out (zero on a fresh memory, so `allocZeroed` skips the fill)
 *     word 4 PEAK    the highest CARVED since the last reset (a block count), folded in at
 *                    each rewind and zeroed by reset: max(PEAK, CARVED) is the most blocks
 *                    live at once since the last reset, as blocks are carved only when none
 *                    is free (`stats().peakInUse` is that times S). PEAK ≤ PEAK_CARVED, as
 *                    every fold into PEAK folds into PEAK_CARVED too
 *
 *     The header's CONFIG slot holds POOL_LAYOUT: attaching to bytes with another value (a
 *     pool with another layout of these slots and words) fails with ERR_HEAP_CONFIG.
 *
 *     free stack (int32 per entry; the top entry is handed out next: LIFO, as in Vais):
 *     entry:  0        1              NFREE−1     NFREE  …  N−1
 *           | block# | block# | … | block#    | (stale, never read) |
 *
 *     live bitmap (int32 words, bit b of word w is block 32w + b; 1 = live):
 *     bit:  31                                   1         0
 *         | block 32w+31 | …              | block 32w+1 | block 32w |
 *     Bits of blocks at or above CARVED are stale and never read, so reset writes none.
 *
 *     block index:  0 ………… CARVED ………… LIMIT ………… N
 *                  | live or on the | never handed | beyond the memory's end
 *                  | free stack     | out: free    | (growable memory, carved after growth)
 */

import { alignUp } from "../../core/bits.js";
import { ArgumentRangeError } from "../../core/errors.js";
import { declareHeader, headerOffset, SLOT_BYTES } from "../../core/header.js";
import { checkSize32, DEFAULT_ALIGN } from "../../core/validate.js";

// ---- header slots (float64): the configuration ---------------------------------------------

/** The configuration in float64 slots; the pool words, which every call changes, as int32. */
export const POOL_HEADER = declareHeader(
  ["BLOCK_SIZE", "NUM_BLOCKS", "BASE", "BLOCK_ALIGN"],
  ["NFREE", "CARVED", "LIMIT", "PEAK_CARVED", "PEAK"],
);

/**
 * The header's CONFIG slot: which layout of the slots and words above these bytes hold. Not
 * a multiple of 8, so never a block size.
 */
export const POOL_LAYOUT = 2;
const HEADER_BYTES = POOL_HEADER.bytes;

// ---- out-of-line metadata (int32 words after the pool words) --------------------------------

/** Index in `words` (which starts at the pool words) of free-stack entry 0. */
export const STACK = POOL_HEADER.wordCount;
/** Bytes of an int32 word (pool word, free-stack entry, bitmap word). */
export const WORD_BYTES = 4;
/** Blocks per live-bitmap word. */
export const BITS_PER_WORD = 32;
export const WORD_SHIFT = 5;

/** Words of the live bitmap for `n` blocks. */
export function bitmapWords(n: number): number {
  return Math.ceil(n / BITS_PER_WORD);
}

/** Bytes of out-of-line metadata after the header and its pool words: stack and bitmap. */
export function extraMetaBytes(n: number): number {
  return (n + bitmapWords(n)) * WORD_BYTES;
}

// ---- block size and alignment ------------------------------------------------------------

/** Blocks are never aligned to more than a page: a bigger block size aligns to 4096. */
export const MAX_BLOCK_ALIGN = 4096;
/** Largest block size (before rounding to 8): 2^31 bytes, half of a 4 GiB heap. */
export const MAX_BLOCK_SIZE = 2 ** 31;
/** Largest number of blocks: 4 GiB of 8-byte blocks, so block numbers fit in int32. */
export const MAX_BLOCKS = 2 ** 29;
/** Largest span of blocks: offsets are 32-bit. */
export const MAX_POOL_BYTES = 2 ** 32;

/** The block size actually used: `blockSize` rounded up to a multiple of 8. */
export function poolBlockSize(blockSize: number): number {
  return alignUp(blockSize, DEFAULT_ALIGN);
}

/**
 * The alignment of blocks of `blockSize` (already rounded to 8): the largest power of two
 * dividing it, capped at MAX_BLOCK_ALIGN. Always ≥ 8.
 */
export function poolBlockAlign(blockSize: number): number {
  let a = DEFAULT_ALIGN;
  while (a < MAX_BLOCK_ALIGN && blockSize % (a * 2) === 0) a *= 2;
  return a;
}

/** Where the pieces of a pool of `n` blocks of `size` go in a memory (pure arithmetic). */
export interface PoolPlan {
  /** Offset of block 0. */
  readonly base: number;
  /** One past the last byte of block n − 1. */
  readonly end: number;
}

/**
 * Mirrors BaseAllocator's placement: in-band, the header at the region start rounded to 8 and
 * the metadata after it; offset-only, the metadata elsewhere and blocks from max(start, 8).
 */
export function planPool(start: number, hasBytes: boolean, size: number, n: number): PoolPlan {
  const align = poolBlockAlign(size);
  const dataStart = hasBytes
    ? headerOffset(start) + alignUp(HEADER_BYTES + extraMetaBytes(n), SLOT_BYTES)
    : Math.max(start, DEFAULT_ALIGN);
  const base = alignUp(dataStart, align);
  return { base, end: base + n * size };
}

/** The most blocks of `size` (rounded to 8) that fit in `[start, end)`; 0 when none do. */
export function blocksThatFit(start: number, end: number, hasBytes: boolean, size: number): number {
  // Each block costs `size` bytes plus 4.125 of metadata when in-band: start from the
  // estimate, then step to the exact answer (a few steps at most).
  const perBlock = hasBytes ? size + WORD_BYTES + WORD_BYTES / BITS_PER_WORD : size;
  let n = Math.max(0, Math.min(MAX_BLOCKS, Math.floor((end - start) / perBlock)));
  while (n > 0 && planPool(start, hasBytes, size, n).end > end) n--;
  while (n < MAX_BLOCKS && planPool(start, hasBytes, size, n + 1).end <= end) n++;
  return n;
}

export function checkBlockSize(blockSize: number): void {
  checkSize32(blockSize, "blockSize");
  if (!(blockSize >= 1 && blockSize <= MAX_BLOCK_SIZE)) {
    throw new ArgumentRangeError(
      `PoolAllocator: blockSize must be 1 … 2^31, got ${blockSize}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

export function checkNumBlocks(numBlocks: number, size: number): void {
  checkSize32(numBlocks, "numBlocks");
  if (!(numBlocks >= 1 && numBlocks * size <= MAX_POOL_BYTES)) {
    throw new ArgumentRangeError(
      `PoolAllocator: numBlocks must be at least 1, and blocks at most 4 GiB in all ` +
        `(${numBlocks} × ${size} bytes)`,
      "ERR_ALLOC_SIZE",
    );
  }
}
