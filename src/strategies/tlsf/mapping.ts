/**
 * TLSF's size classes: which free list holds a block of a given size, and which list a
 * search for a size starts at: core/size-classes.ts's scheme (3, 8, 5), tested exhaustively
 * there and here (test/strategies/tlsf/mapping.test.ts).
 *
 * First level = power-of-two range, second level = SL_COUNT (32) equal slices of it. Block
 * sizes below SMALL_LIMIT (256) map one list per 8 bytes (first level 0). Above, a block of
 * size s has fl = msb(s) − 7 and sl = the 5 bits after the msb:
 *
 * | fl | block sizes           | slice width |
 * | -- | --------------------- | ----------- |
 * | 0  | 0 … 248               | 8           |
 * | 1  | 256 … 504             | 8           |
 * | 2  | 512 … 1,016           | 16          |
 * | k  | 2^(k+7) … 2^(k+8) − 1 | 2^(k+2)     |
 * | 24 | 2^31 … 2^32 − 8       | 2^26        |
 *
 * A request is rounded up to the next slice boundary before the search, so any block in the
 * list found fits: internal waste from the classes is below one slice, at most 1/32 (3.1%)
 * of the block, plus the 4-byte size word and rounding to 8.
 */

import { alignUp } from "../../core/bits.js";
import { classOf, classSize, searchClass } from "../../core/size-classes.js";

/** Every block size and address is a multiple of GRANULE. */
export const GRANULE_LOG2 = 3;
export const GRANULE = 1 << GRANULE_LOG2;
/** Second-level lists per first-level range. */
export const SL_LOG2 = 5;
export const SL_COUNT = 1 << SL_LOG2;
/** Below this block size every list is one granule wide (first level 0). */
export const SMALL_LOG2 = SL_LOG2 + GRANULE_LOG2;
export const SMALL_LIMIT = 1 << SMALL_LOG2;
/** First-level ranges: level 0 for small blocks, then one per power of two up to 2^31. */
export const FL_COUNT = 32 - (SL_LOG2 + GRANULE_LOG2) + 1;
export const LIST_COUNT = FL_COUNT * SL_COUNT;
/** Bytes of the size word before every block's payload. */
export const BLOCK_OVERHEAD = 4;
/** The smallest block: size word, two links and a footer. */
export const MIN_BLOCK = 16;
/** The largest block size the classes map (just under 4 GiB). */
export const MAX_BLOCK = 2 ** 32 - GRANULE;

/** The list (fl × SL_COUNT + sl) that holds free blocks of `size` (a multiple of 8). */
export function listOf(size: number): number {
  return classOf(size, GRANULE_LOG2, SMALL_LOG2, SL_LOG2);
}

/**
 * Whether free blocks of `larger` and `smaller` bytes (multiples of 8, larger > smaller) go
 * in the same list: both at least SMALL_LIMIT, with the same most significant bit and the
 * same SL_LOG2 bits after it. Cheaper than comparing two `listOf`s: a split or a merge that
 * keeps its block in its list moves the list node instead of unlinking and inserting.
 */
export function sameList(larger: number, smaller: number): boolean {
  // Below SMALL_LIMIT every list is one granule wide, so two different sizes differ in it
  // (and a smaller size below SMALL_LIMIT differs from a larger one in the msb's bit).
  return larger >= SMALL_LIMIT && (larger ^ smaller) >>> (31 - SL_LOG2 - Math.clz32(larger)) === 0;
}

/**
 * The first list whose every block can hold `size`: `size` rounded up to the next slice
 * boundary, then mapped. LIST_COUNT when no list can (size too close to 4 GiB).
 */
export function searchListOf(size: number): number {
  return searchClass(size, GRANULE_LOG2, SMALL_LOG2, SL_LOG2);
}

/** The smallest block size list `li` holds. */
export function listMinSize(li: number): number {
  return classSize(li, GRANULE_LOG2, SMALL_LOG2, SL_LOG2);
}

/** The block size serving a request of `size` bytes (size word included, at least MIN_BLOCK). */
export function blockSizeFor(size: number): number {
  const b = alignUp(size + BLOCK_OVERHEAD, GRANULE);
  return Math.max(b, MIN_BLOCK);
}
