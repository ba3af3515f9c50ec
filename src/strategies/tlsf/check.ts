/**
 * TLSF's invariant walker (`check()`): a physical walk of every block from the first to the
 * sentinel, then every free list, each compared with the counters, the bitmaps and the live
 * map. O(heap / MIN_BLOCK + free blocks); reads only, and reports the first broken
 * invariant with the offsets involved.
 *
 * Physical walk FIRST → sentinel: sizes are multiples of 8 and ≥ MIN_BLOCK, inside the heap;
 * each block's F equals its follower's PF; no two adjacent free blocks; a free block's footer
 * holds its start; the live map bit is set exactly for used blocks; the LIVE and USED_BYTES
 * counters match the walk. Lists: a list's bitmap bits are set iff it is non-empty; every
 * listed block is free, in the list its size maps to, with symmetric links; lists hold
 * exactly the free blocks of the walk.
 */

import { popcount } from "../../core/bits.js";
import { FLAG_BITS, FREE_BIT, LINK_NEXT, LINK_PREV, PREV_FREE_BIT, TLSF_HEADER } from "./layout.js";
import {
  BLOCK_OVERHEAD,
  FL_COUNT,
  GRANULE_LOG2,
  listOf,
  MIN_BLOCK,
  SL_COUNT,
  SL_LOG2,
} from "./mapping.js";

const { END, LIVE, USED_BYTES } = TLSF_HEADER.slot;

/** The parts of a TLSF heap the walker reads. */
export interface TlsfState {
  readonly slots: Float64Array;
  readonly slot0: number;
  readonly u32: Uint32Array;
  readonly live: Int32Array;
  readonly first: number;
  readonly dataStart: number;
  readonly memoryEnd: number;
  readonly flMap: number;
  readonly slMap: number;
  readonly heads: number;
}

/** Walks the heap `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkTlsf(t: TlsfState, corrupt: (what: string) => never): void {
  const u32 = t.u32;
  const slots = t.slots;
  const slot0 = t.slot0;
  const end = slots[slot0 + END];
  if (!(end <= t.memoryEnd && end % 8 === 0 && end > t.first)) {
    corrupt(`END ${end} is not an 8-aligned end inside memory end ${t.memoryEnd}`);
  }
  // Physical walk.
  let b = t.first;
  let prevFree = false;
  let used = 0;
  let usedBytes = 0;
  let freeBlocks = 0;
  let freeBytes = 0;
  let liveBits = 0;
  const sentinel = end - BLOCK_OVERHEAD;
  while (b < sentinel) {
    const word = u32[b >>> 2];
    const size = word & ~FLAG_BITS;
    const isFree = (word & FREE_BIT) !== 0;
    if (size < MIN_BLOCK || size % 8 !== 0 || b + size > sentinel) {
      corrupt(`block ${b}: size ${size} is not a multiple of 8 ≥ ${MIN_BLOCK} inside the heap`);
    }
    if (((word & PREV_FREE_BIT) !== 0) !== prevFree) {
      corrupt(
        `block ${b}: PREV_FREE flag is ${!prevFree} but the previous block is ${prevFree ? "free" : "used"}`,
      );
    }
    const bit = (b + BLOCK_OVERHEAD - t.dataStart) >>> GRANULE_LOG2;
    const isLive = (t.live[bit >>> 5] & (1 << (bit & 31))) !== 0;
    if (isFree) {
      if (prevFree) corrupt(`blocks before ${b} and ${b} are both free: not coalesced`);
      if (u32[(b + size - 4) >>> 2] !== b) {
        corrupt(`free block ${b}: footer holds ${u32[(b + size - 4) >>> 2]}, not ${b}`);
      }
      if (isLive) corrupt(`free block ${b} is marked live in the live map`);
      freeBlocks++;
      freeBytes += size;
    } else {
      if (!isLive) corrupt(`used block ${b} is not marked live in the live map`);
      used++;
      usedBytes += size;
    }
    prevFree = isFree;
    b += size;
  }
  if (b !== sentinel) corrupt(`physical walk ended at ${b}, not at the sentinel ${sentinel}`);
  const sw = u32[sentinel >>> 2];
  if (
    (sw & ~FLAG_BITS) !== 0 ||
    (sw & FREE_BIT) !== 0 ||
    ((sw & PREV_FREE_BIT) !== 0) !== prevFree
  ) {
    corrupt(`sentinel at ${sentinel} holds ${sw}`);
  }
  for (let i = 0; i < t.live.length; i++) liveBits += popcount(t.live[i]);
  if (liveBits !== used) corrupt(`live map has ${liveBits} bits set for ${used} used blocks`);
  if (used !== slots[slot0 + LIVE])
    corrupt(`LIVE counter ${slots[slot0 + LIVE]} != ${used} used blocks`);
  if (usedBytes !== slots[slot0 + USED_BYTES])
    corrupt(`USED_BYTES ${slots[slot0 + USED_BYTES]} != ${usedBytes}`);
  if (freeBytes + usedBytes !== sentinel - t.first) {
    corrupt(`blocks cover ${freeBytes + usedBytes} bytes, the heap ${sentinel - t.first}`);
  }
  // Lists and bitmaps.
  let listed = 0;
  const flBits = u32[t.flMap];
  for (let fl = 0; fl < FL_COUNT; fl++) {
    const slBits = u32[t.slMap + fl];
    if (((flBits >>> fl) & 1) !== (slBits !== 0 ? 1 : 0)) {
      corrupt(`FL bitmap bit ${fl} disagrees with its SL bitmap ${slBits}`);
    }
    for (let sl = 0; sl < SL_COUNT; sl++) {
      const li = (fl << SL_LOG2) | sl;
      let f = u32[t.heads + li];
      if (((slBits >>> sl) & 1) !== (f !== 0 ? 1 : 0)) {
        corrupt(`SL bitmap bit (${fl}, ${sl}) disagrees with list head ${f}`);
      }
      let prev = 0;
      while (f !== 0) {
        if (++listed > freeBlocks)
          corrupt(`list (${fl}, ${sl}) holds more blocks than are free (cycle?)`);
        if (f < t.first || f >= sentinel || f % 8 !== 4)
          corrupt(`list (${fl}, ${sl}): ${f} is not a block start`);
        const word = u32[f >>> 2];
        if ((word & FREE_BIT) === 0) corrupt(`list (${fl}, ${sl}): block ${f} is not free`);
        if (listOf(word & ~FLAG_BITS) !== li)
          corrupt(`block ${f} of size ${word & ~FLAG_BITS} is in list (${fl}, ${sl})`);
        if (u32[(f >>> 2) + LINK_PREV] !== prev)
          corrupt(`block ${f}: prev link ${u32[(f >>> 2) + LINK_PREV]} != ${prev}`);
        prev = f;
        f = u32[(f >>> 2) + LINK_NEXT];
      }
    }
  }
  if (listed !== freeBlocks)
    corrupt(`lists hold ${listed} blocks, the heap has ${freeBlocks} free`);
}
