/**
 * The OffsetAllocator's free-space report (Aaltonen's storage report): how much is free, the
 * largest free block, and how the free blocks spread over the bins, which is a histogram of
 * free sizes with 32 buckets per power of two. Walks the bins' lists: O(free blocks).
 */

import { BIN_COUNT, binMinGranules, GRANULE, MAX_GRANULES } from "./bins.js";
import { BIN_HEAD, type OffsetKernel } from "./kernel.js";
import { BIN_NEXT, NODE_SHIFT, NONE, SIZE } from "./nodes.js";

/** The free blocks of one bin: sizes `minSize` … `maxSize` bytes. */
export interface FreeBin {
  /** The smallest block size the bin holds, in bytes. */
  readonly minSize: number;
  /** The largest block size the bin holds, in bytes. */
  readonly maxSize: number;
  /** Free blocks in the bin. */
  readonly blocks: number;
  /** Their bytes. */
  readonly bytes: number;
}

/** What `OffsetAllocator.freeSpaceReport()` returns: how the free space is spread. */
export interface FreeSpaceReport {
  /** Bytes in free blocks. */
  readonly totalFree: number;
  /** The largest free block (bytes). `stats().largestFree` may be smaller: see kernel.ts. */
  readonly largestFreeBlock: number;
  /** Free blocks. */
  readonly freeBlocks: number;
  /** The non-empty bins, smallest sizes first. */
  readonly bins: readonly FreeBin[];
}

export function freeSpaceReport(k: OffsetKernel): FreeSpaceReport {
  const s = k.s;
  const w = k.pool.words;
  const bins: FreeBin[] = [];
  let totalFree = 0;
  let largest = 0;
  let freeBlocks = 0;
  for (let bin = 0; bin < BIN_COUNT; bin++) {
    let blocks = 0;
    let granules = 0;
    for (let n = s[BIN_HEAD + bin]; n !== NONE; n = w[(n << NODE_SHIFT) + BIN_NEXT]) {
      const size = w[(n << NODE_SHIFT) + SIZE];
      blocks++;
      granules += size;
      if (size > largest) largest = size;
    }
    if (blocks === 0) continue;
    const maxGranules = bin + 1 < BIN_COUNT ? binMinGranules(bin + 1) - 1 : MAX_GRANULES;
    bins.push({
      minSize: binMinGranules(bin) * GRANULE,
      maxSize: maxGranules * GRANULE,
      blocks,
      bytes: granules * GRANULE,
    });
    totalFree += granules;
    freeBlocks += blocks;
  }
  return { totalFree: totalFree * GRANULE, largestFreeBlock: largest * GRANULE, freeBlocks, bins };
}
