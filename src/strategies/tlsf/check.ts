/**
 * TLSF's invariant walker (`check()`): the front end's stacks, then a physical walk of every
 * block from the first to the sentinel, then every free list, each compared with the state
 * words, the bitmaps and the live and start maps. O(heap / MIN_BLOCK + free blocks + held
 * blocks); reads only, and reports the first broken invariant with the offsets involved.
 *
 * Front end: each class holds at most its capacity; every held block is a block start of
 * the class's size, used, not live, held once; CACHED is their bytes and at most BUDGET.
 * Physical walk FIRST → sentinel: sizes are multiples of 8 and ≥ MIN_BLOCK, inside the heap;
 * each block's F equals its follower's PF; no two adjacent free blocks; a free block's footer
 * holds its start; the start map marks every block and the sentinel and nothing else; the
 * live map marks exactly the used blocks the front end does not hold, but for the blocks
 * over someone else's pages (`holeBlock`: in neither, nor counted); USED_COUNT,
 * USED_BYTES and PEAK − SLACK (bytes in use) match the walk. Lists: a list's bitmap bits
 * are set iff it is non-empty; every listed block is free, in the list its size maps to,
 * with symmetric links; lists hold exactly the free blocks of the walk. The start map's
 * summary, when kept, has a bit set exactly for the start words that are not 0.
 */

import { popcount } from "../../core/bits.js";
import {
  FLAG_BITS,
  FREE_BIT,
  FRONT_CAPACITY,
  FRONT_CLASSES,
  FRONT_SHIFT,
  holeBlock,
  LINK_NEXT,
  LINK_PREV,
  PREV_FREE_BIT,
  sizeOf,
  TLSF_HEADER,
} from "./layout.js";
import {
  BLOCK_OVERHEAD,
  FL_COUNT,
  GRANULE_LOG2,
  listOf,
  MIN_BLOCK,
  SL_COUNT,
  SL_LOG2,
} from "./mapping.js";

const { END, USED_COUNT, USED_BYTES, SLACK, PEAK, CACHED, BUDGET } = TLSF_HEADER.word;

/** The parts of a TLSF heap the walker reads. */
export interface TlsfState {
  /** The memory's u32 view; the state words are at `sw`. */
  readonly u32: Uint32Array;
  readonly sw: number;
  /** The live and start maps, interleaved (layout.ts). */
  readonly live: Int32Array;
  /** The front end's stacks, or null without a front end. */
  readonly fc: Uint32Array | null;
  /** The start map's summary (layout.ts `summaryWords`), or null when none is kept. */
  readonly sum: Int32Array | null;
  readonly first: number;
  readonly dataStart: number;
  readonly memoryEnd: number;
  /** Pages inside the memory that are someone else's (each covered by a `holeBlock`). */
  readonly foreign: readonly (readonly [number, number])[];
  readonly flMap: number;
  readonly slMap: number;
  readonly heads: number;
}

/** Walks the heap `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkTlsf(t: TlsfState, corrupt: (what: string) => never): void {
  const u32 = t.u32;
  const sw = t.sw;
  const end = u32[sw + END];
  if (!(end <= t.memoryEnd && end % 8 === 0 && end > t.first)) {
    corrupt(`END ${end} is not an 8-aligned end inside memory end ${t.memoryEnd}`);
  }
  const sentinel = end - BLOCK_OVERHEAD;
  const granule = (b: number) => (b + BLOCK_OVERHEAD - t.dataStart) >>> GRANULE_LOG2;
  const bit = (b: number, start: 0 | 1) => {
    const g = granule(b);
    return (t.live[((g >>> 5) << 1) + start] & (1 << (g & 31))) !== 0;
  };
  const held = checkFront(t, sentinel, bit, corrupt);
  // Physical walk.
  let b = t.first;
  let prevFree = false;
  let used = 0;
  let usedBytes = 0;
  let inUse = 0;
  let liveBlocks = 0;
  let freeBlocks = 0;
  let freeBytes = 0;
  let holes = 0;
  let holeBytes = 0;
  while (b < sentinel) {
    const word = u32[b >>> 2];
    const size = sizeOf(word);
    const isFree = (word & FREE_BIT) !== 0;
    if (size < MIN_BLOCK || size % 8 !== 0 || b + size > sentinel) {
      corrupt(`block ${b}: size ${size} is not a multiple of 8 ≥ ${MIN_BLOCK} inside the heap`);
    }
    if (((word & PREV_FREE_BIT) !== 0) !== prevFree) {
      corrupt(
        `block ${b}: PREV_FREE flag is ${!prevFree} but the previous block is ${prevFree ? "free" : "used"}`,
      );
    }
    if (!bit(b, 1)) corrupt(`block ${b} is not marked in the start map`);
    const isLive = bit(b, 0);
    if (isFree) {
      if (prevFree) corrupt(`blocks before ${b} and ${b} are both free: not coalesced`);
      if (u32[(b + size - 4) >>> 2] !== b) {
        corrupt(`free block ${b}: footer holds ${u32[(b + size - 4) >>> 2]}, not ${b}`);
      }
      if (isLive) corrupt(`free block ${b} is marked live in the live map`);
      if (held.has(b)) corrupt(`free block ${b} is held by the front end`);
      freeBlocks++;
      freeBytes += size;
    } else if (!isLive && !held.has(b) && isHole(t.foreign, b, size)) {
      holes++;
      holeBytes += size;
    } else {
      if (isLive === held.has(b)) {
        corrupt(
          isLive
            ? `live block ${b} is held by the front end`
            : `used block ${b} is neither live nor held by the front end`,
        );
      }
      if (isLive) {
        liveBlocks++;
        inUse += size - BLOCK_OVERHEAD;
      }
      used++;
      usedBytes += size;
    }
    prevFree = isFree;
    b += size;
  }
  if (b !== sentinel) corrupt(`physical walk ended at ${b}, not at the sentinel ${sentinel}`);
  const sentinelWord = u32[sentinel >>> 2];
  if (
    (sentinelWord & ~FLAG_BITS) !== 0 ||
    (sentinelWord & FREE_BIT) !== 0 ||
    ((sentinelWord & PREV_FREE_BIT) !== 0) !== prevFree
  ) {
    corrupt(`sentinel at ${sentinel} holds ${sentinelWord}`);
  }
  if (!bit(sentinel, 1)) corrupt("the sentinel is not marked in the start map");
  let liveBits = 0;
  let startBits = 0;
  for (let i = 0; i < t.live.length; i += 2) {
    liveBits += popcount(t.live[i]);
    startBits += popcount(t.live[i + 1]);
  }
  if (t.sum !== null) checkSummary(t.live, t.sum, corrupt);
  if (liveBits !== liveBlocks) {
    corrupt(`live map has ${liveBits} bits set for ${liveBlocks} live blocks`);
  }
  if (startBits !== used + freeBlocks + holes + 1) {
    corrupt(
      `start map has ${startBits} bits set for ${used + freeBlocks + holes} blocks and the sentinel`,
    );
  }
  if (used !== u32[sw + USED_COUNT]) {
    corrupt(`USED_COUNT ${u32[sw + USED_COUNT]} != ${used} used blocks`);
  }
  if (usedBytes !== u32[sw + USED_BYTES]) {
    corrupt(`USED_BYTES ${u32[sw + USED_BYTES]} != ${usedBytes}`);
  }
  if (u32[sw + SLACK] > u32[sw + PEAK] || u32[sw + PEAK] - u32[sw + SLACK] !== inUse) {
    corrupt(`PEAK ${u32[sw + PEAK]} − SLACK ${u32[sw + SLACK]} != ${inUse} bytes in use`);
  }
  if (freeBytes + usedBytes + holeBytes !== sentinel - t.first) {
    corrupt(
      `blocks cover ${freeBytes + usedBytes + holeBytes} bytes, the heap ${sentinel - t.first}`,
    );
  }
  checkLists(t, sentinel, freeBlocks, corrupt);
}

/** The front end's stacks: returns the blocks they hold (empty without a front end). */
function checkFront(
  t: TlsfState,
  sentinel: number,
  bit: (b: number, start: 0 | 1) => boolean,
  corrupt: (what: string) => never,
): Set<number> {
  const held = new Set<number>();
  const u32 = t.u32;
  const fc = t.fc;
  let bytes = 0;
  if (fc !== null) {
    for (let c = 0; c < FRONT_CLASSES; c++) {
      const i = c << FRONT_SHIFT;
      const n = fc[i];
      const cap = fc[i + 1];
      if (cap > FRONT_CAPACITY || n > cap || (c < MIN_BLOCK >>> GRANULE_LOG2 && cap !== 0)) {
        corrupt(`front end class ${c} holds ${n} blocks of capacity ${cap}`);
      }
      const size = c << GRANULE_LOG2;
      for (let k = 1; k <= n; k++) {
        const b = fc[i + 1 + k];
        if (!(b >= t.first && b < sentinel && (b & 7) === 4 && bit(b, 1))) {
          corrupt(`front end class ${c}: ${b} is not a block start`);
        }
        if ((u32[b >>> 2] & ~PREV_FREE_BIT) !== size) {
          corrupt(`front end class ${c}: block ${b} has size word ${u32[b >>> 2]}`);
        }
        if (held.has(b)) corrupt(`the front end holds block ${b} twice`);
        held.add(b);
        bytes += size;
      }
    }
  }
  if (bytes !== u32[t.sw + CACHED] || bytes > u32[t.sw + BUDGET]) {
    corrupt(
      `CACHED ${u32[t.sw + CACHED]} (budget ${u32[t.sw + BUDGET]}) != the front end's ${bytes} bytes`,
    );
  }
  return held;
}

/** The lists and bitmaps hold exactly the `freeBlocks` free blocks of the walk. */
function checkLists(
  t: TlsfState,
  sentinel: number,
  freeBlocks: number,
  corrupt: (what: string) => never,
): void {
  const u32 = t.u32;
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
        if (listOf(sizeOf(word)) !== li)
          corrupt(`block ${f} of size ${sizeOf(word)} is in list (${fl}, ${sl})`);
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

/** Whether the used block `[b, b + size)` is the `holeBlock` over one of `foreign`'s ranges. */
function isHole(foreign: readonly (readonly [number, number])[], b: number, size: number): boolean {
  for (const [from, to] of foreign) {
    const h = holeBlock(from, to);
    if (h.b === b && h.size === size) return true;
  }
  return false;
}

/** The summary's bit k is set exactly when start word k is not 0, and no bit is set beyond. */
function checkSummary(live: Int32Array, sum: Int32Array, corrupt: (what: string) => never): void {
  const words = live.length >>> 1;
  if (sum.length * 32 < words) corrupt(`start-map summary of ${sum.length} words for ${words}`);
  for (let k = 0; k < sum.length * 32; k++) {
    const marked = (sum[k >>> 5] & (1 << (k & 31))) !== 0;
    const nonzero = k < words && live[(k << 1) + 1] !== 0;
    if (marked !== nonzero) {
      corrupt(
        `start-map summary bit ${k} is ${marked ? "set" : "clear"} for start word ${k} = ${nonzero ? live[(k << 1) + 1] : 0}`,
      );
    }
  }
}
