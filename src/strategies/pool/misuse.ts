/**
 * PoolAllocator's answers to misuse, off the hot path: which error a pointer that is not a
 * live block's start gets, and the checks of an alignment or a dealloc size the hot path
 * sends here. Every function throws before the pool changes; none is called on the common
 * path of `alloc` or `dealloc`. The strategy and its costs: allocator.ts.
 */

import { ArgumentRangeError, DoubleFreeError, LayoutMismatchError } from "../../core/errors.js";
import {
  checkDeallocSize,
  invalidPointer,
  isUint32,
  isValidAlign,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { BITS_PER_WORD, POOL_HEADER, WORD_SHIFT } from "./layout.js";

const { CARVED, PEAK_CARVED } = POOL_HEADER.word;

/**
 * The block number of the live block at `ptr` in the pool whose words are `words` (live
 * bitmap at word `bitsAt`, `numBlocks` blocks of `blockSize` from `base`); throws the precise
 * error otherwise: InvalidPointerError for a pointer outside the blocks, inside one, or at a
 * block never handed out; DoubleFreeError for a block carved but not live.
 */
export function liveBlockOf(
  words: Int32Array,
  base: number,
  blockSize: number,
  numBlocks: number,
  bitsAt: number,
  ptr: number,
): number {
  if (!isUint32(ptr)) rejectPointer(ptr);
  const end = base + numBlocks * blockSize;
  if (ptr < base || ptr >= end) {
    throw invalidPointer(ptr, `outside this PoolAllocator's blocks [${base}, ${end})`);
  }
  const off = ptr - base;
  const block = Math.floor(off / blockSize);
  if (off !== block * blockSize) {
    throw invalidPointer(
      ptr,
      `${off - block * blockSize} bytes into block ${block} ` +
        `(blocks of ${blockSize} bytes from ${base})`,
    );
  }
  const carved = words[CARVED];
  if (block >= Math.max(carved, words[PEAK_CARVED])) {
    throw invalidPointer(ptr, `block ${block} was never handed out`);
  }
  const live = (words[bitsAt + (block >> WORD_SHIFT)] & (1 << (block & (BITS_PER_WORD - 1)))) !== 0;
  if (block >= carved || !live) {
    throw new DoubleFreeError(
      `PoolAllocator: block ${block} at ${ptr} is not live: freed already, or released by reset`,
    );
  }
  return block;
}

/** Throws unless `align` is a power of two ≤ `blockAlign` (B7). */
export function checkPoolAlign(align: number, blockAlign: number, blockSize: number): void {
  if (!isValidAlign(align)) rejectAlign(align);
  if (align > blockAlign) {
    throw new ArgumentRangeError(
      `PoolAllocator: align ${align} exceeds the block alignment ${blockAlign} ` +
        `(blocks of ${blockSize} bytes)`,
      "ERR_ALLOC_ALIGN",
    );
  }
}

/** The size given to `dealloc(ptr, size)`: a valid integer no larger than the block. */
export function checkPoolDeallocSize(ptr: number, size: number, blockSize: number): void {
  checkDeallocSize(size);
  if (size > blockSize) {
    throw new LayoutMismatchError(
      `dealloc(${ptr}, ${size}): blocks of this pool hold ${blockSize} bytes`,
    );
  }
}
