/**
 * The OffsetAllocator's bins: which free-list a free block of a given size sits in, and which
 * bin a request must start searching from. Pure functions over sizes in granules (8 bytes).
 *
 * The mapping is TLSF's (`listOf`, `searchListOf`, `listMinSize` in `../tlsf/mapping.ts`),
 * used as is rather than written a third time: Aaltonen's OffsetAllocator maps sizes with a
 * "small float" of 5 exponent and 3 mantissa bits (8 bins per power of two, 256 bins); TLSF's
 * classes are the same construction with 5 mantissa bits (32 bins per power of two above
 * 256 bytes, one bin per granule below it, 800 bins), so they are strictly finer, cover
 * every size a 4 GiB region can hold, and already have the round-down (insert) and
 * round-up (search) halves the reference design needs.
 *
 * | bins        | block sizes (bytes)      | bin width   |
 * | ----------- | ------------------------ | ----------- |
 * | 0 … 31      | 0 … 248                  | 8 (exact)   |
 * | 32 … 63     | 256 … 504                | 8 (exact)   |
 * | 32k … 32k+31 | 2^(k+7) … 2^(k+8) − 1   | 2^(k+2)     |
 * | 768 … 799   | 2^31 … 2^32 − 8          | 2^26        |
 *
 * Bin b holds free blocks of `binMinGranules(b)` up to `binMinGranules(b + 1) − 1` granules:
 * a free block goes into the bin its size rounds *down* to (`binOf`). A request looks at a
 * few blocks of its own bin, where some may fit, then searches from the bin its size rounds
 * *up* to (`searchBinOf`), where every block fits without being looked at (`kernel.ts`). Within one bin, block sizes differ by at
 * most 1/32 (3.1 %) of the bin's smallest.
 */

import {
  FL_COUNT,
  GRANULE,
  GRANULE_LOG2,
  LIST_COUNT,
  listMinSize,
  listOf,
  MAX_BLOCK,
  SL_COUNT,
  SL_LOG2,
  searchListOf,
} from "../tlsf/mapping.js";

export { GRANULE, GRANULE_LOG2 };
/** Bins in all: FIRST_LEVELS ranges of BINS_PER_LEVEL each. */
export const BIN_COUNT = LIST_COUNT;
/** First-level ranges (one per power of two, the first holding all small sizes). */
export const FIRST_LEVELS = FL_COUNT;
/** Second-level bins per first-level range. */
export const BINS_PER_LEVEL = SL_COUNT;
export const BINS_PER_LEVEL_LOG2 = SL_LOG2;
/** The largest block, in granules: just under 4 GiB. */
export const MAX_GRANULES = MAX_BLOCK / GRANULE;

/** The bin a free block of `granules` (1 … MAX_GRANULES) is kept in: its size rounded down. */
export function binOf(granules: number): number {
  return listOf(granules * GRANULE);
}

/**
 * The first bin whose every block holds `granules` (1 … MAX_GRANULES): the size rounded up
 * to the next bin boundary. BIN_COUNT when no bin can promise it (above the last bin's
 * smallest size).
 */
export function searchBinOf(granules: number): number {
  const bin = searchListOf(granules * GRANULE);
  // TLSF's search gives up one size early: rounding the last bin's smallest size up by a
  // bin width passes MAX_BLOCK, although the last bin itself holds it.
  return bin === BIN_COUNT && granules <= LAST_BIN_MIN ? BIN_COUNT - 1 : bin;
}

/** The smallest block, in granules, that bin `bin` (0 … BIN_COUNT − 1) holds. */
export function binMinGranules(bin: number): number {
  return listMinSize(bin) / GRANULE;
}

const LAST_BIN_MIN = binMinGranules(BIN_COUNT - 1);
