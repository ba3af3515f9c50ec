/**
 * The OffsetAllocator's kernel: the hot operations over one state record, the node pool and
 * the live table. Units are granules (8 bytes) throughout; the handle (`offset-allocator.ts`)
 * validates arguments, converts bytes, and reserves the nodes (and the live-table slot) an
 * operation may need before calling in, so nothing here fails half-way.
 *
 * ## The state record (`Int32Array`)
 *
 *     word  0 FIRST          first block's offset
 *           1 END            one past the last block (the heap end)
 *           2 HEAD           node of the block at FIRST
 *           3 TAIL           node of the block ending at END
 *           4 FREE_GRANULES  Σ sizes of free blocks
 *           5 USED_GRANULES  Σ sizes of used blocks
 *           6 LIVE           used blocks
 *           7 PEAK           highest USED_GRANULES since creation or reset
 *           8 FL_MAP         bit f set ⇔ first level f has a non-empty bin
 *       9 … 33 SL_MAP + f    bit s set ⇔ bin (f, s) is non-empty
 *     34 … 833 BIN_HEAD + b  the first node of bin b's free list (NONE: empty)
 *
 * The blocks tile [FIRST, END) in address order through the neighbour links, from HEAD to
 * TAIL; a free block is also on its bin's list, a used one in the live table.
 */

import {
  BIN_COUNT,
  BINS_PER_LEVEL,
  BINS_PER_LEVEL_LOG2,
  binOf,
  FIRST_LEVELS,
  searchBinOf,
} from "./bins.js";
import { LiveTable } from "./live-table.js";
import {
  BIN,
  BIN_NEXT,
  BIN_PREV,
  FREE,
  NEIGHBOR_NEXT,
  NEIGHBOR_PREV,
  NODE_SHIFT,
  NONE,
  NodePool,
  OFFSET,
  SIZE,
  STATE,
  USED,
} from "./nodes.js";

export const FIRST = 0;
export const END = 1;
export const HEAD = 2;
export const TAIL = 3;
export const FREE_GRANULES = 4;
export const USED_GRANULES = 5;
export const LIVE = 6;
export const PEAK = 7;
export const FL_MAP = 8;
export const SL_MAP = 9;
export const BIN_HEAD = SL_MAP + FIRST_LEVELS;
export const STATE_WORDS = BIN_HEAD + BIN_COUNT;

/**
 * How many blocks of a request's own bin the search looks at before the larger bins (a
 * constant bound). A block of the own bin is the closest fit the bins can offer, and taking
 * it keeps the larger blocks whole for larger requests: on the three real traces replayed
 * offset-only, the footprint comes within 0.2 % of an exact first fit's or best fit's, or
 * below both (`node bench/offset-fit.mjs` prints the three).
 */
export const OWN_BIN_SCAN = 8;

const SL_MASK = BINS_PER_LEVEL - 1;

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** The hot operations. @internal (the OffsetAllocator's own part) */
export class OffsetKernel {
  readonly s = new Int32Array(STATE_WORDS);
  readonly pool: NodePool;
  readonly table = new LiveTable();
  /** The pool's node words (the same array as `pool.words`, re-read after `reserve`). */
  w: Int32Array;

  constructor(first: number, end: number, nodeCapacity: number) {
    this.pool = new NodePool(nodeCapacity);
    this.w = this.pool.words;
    this.initialise(first, end);
  }

  /**
   * Makes room for `count` more nodes (see NodePool.reserve) and one more used block in the
   * live table; false when it cannot (the engine refused the memory).
   */
  reserve(count: number): boolean {
    const ok = this.pool.reserve(count) && this.table.reserve();
    this.w = this.pool.words;
    return ok;
  }

  /** Block start of node `n`, in granules. */
  offsetOf(n: number): number {
    return this.w[(n << NODE_SHIFT) + OFFSET];
  }

  /** Block size of node `n`, in granules. */
  sizeOf(n: number): number {
    return this.w[(n << NODE_SHIFT) + SIZE];
  }

  /** Every block freed: one free block covering [first, end). */
  initialise(first: number, end: number): void {
    const s = this.s;
    s.fill(0);
    this.pool.clear();
    this.table.clear();
    s[FIRST] = first;
    s[END] = end;
    const n = this.pool.acquire();
    const at = n << NODE_SHIFT;
    const w = this.w;
    w[at + OFFSET] = first;
    w[at + SIZE] = end - first;
    w[at + NEIGHBOR_PREV] = NONE;
    w[at + NEIGHBOR_NEXT] = NONE;
    s[HEAD] = n;
    s[TAIL] = n;
    s[FREE_GRANULES] = end - first;
    this.insertFreeBlock(n);
  }

  // ---- finding and taking a free block -----------------------------------------------------

  /**
   * A free block of at least `granules` (1 … MAX_GRANULES), or NONE. O(1): at most
   * OWN_BIN_SCAN blocks of the request's own bin, the first that fits (a close fit that keeps
   * larger blocks whole); failing that, the first block of the smallest non-empty bin from
   * the rounded-up one on, found through the bitmaps (every block there fits).
   */
  findFreeBlock(granules: number): number {
    const s = this.s;
    const w = this.w;
    let n = s[BIN_HEAD + binOf(granules)];
    for (let i = 0; i < OWN_BIN_SCAN && n !== NONE; i++) {
      if (w[(n << NODE_SHIFT) + SIZE] >= granules) return n;
      n = w[(n << NODE_SHIFT) + BIN_NEXT];
    }
    const bin = searchBinOf(granules);
    if (bin >= BIN_COUNT) return NONE;
    let fl = bin >>> BINS_PER_LEVEL_LOG2;
    let slBits = s[SL_MAP + fl] & (-1 << (bin & SL_MASK));
    if (slBits === 0) {
      const flBits = s[FL_MAP] & (-1 << (fl + 1));
      if (flBits === 0) return NONE;
      fl = lowestBit(flBits);
      slBits = s[SL_MAP + fl];
    }
    return s[BIN_HEAD + ((fl << BINS_PER_LEVEL_LOG2) | lowestBit(slBits))];
  }

  /** Takes free block `n` for a block of `granules`; returns its offset. One node reserved. */
  take(n: number, granules: number): number {
    this.removeFreeBlock(n);
    this.use(n, granules);
    return this.w[(n << NODE_SHIFT) + OFFSET];
  }

  /**
   * Takes free block `n` for a block of `granules` starting at a multiple of `alignGranules`
   * (a power of two); n must hold the padding. The padding before it stays a free block.
   * Returns the offset. Two nodes reserved.
   */
  takeAligned(n: number, granules: number, alignGranules: number): number {
    const w = this.w;
    const offset = w[(n << NODE_SHIFT) + OFFSET];
    const pad = (alignGranules - (offset & (alignGranules - 1))) & (alignGranules - 1);
    if (pad === 0) return this.take(n, granules);
    this.removeFreeBlock(n);
    const m = this.split(n, pad);
    this.insertFreeBlock(n);
    this.use(m, granules);
    return offset + pad;
  }

  /** Marks free block `n` (on no list) used, its tail beyond `granules` split off as free. */
  private use(n: number, granules: number): void {
    const s = this.s;
    const w = this.w;
    const at = n << NODE_SHIFT;
    if (w[at + SIZE] > granules) this.insertFreeBlock(this.split(n, granules));
    w[at + STATE] = USED;
    this.table.insert(w[at + OFFSET], n);
    s[FREE_GRANULES] -= granules;
    const used = s[USED_GRANULES] + granules;
    s[USED_GRANULES] = used;
    s[LIVE]++;
    if (used > s[PEAK]) s[PEAK] = used;
  }

  /**
   * Cuts block `n` after its first `granules`: the rest becomes a new node of n's state,
   * its neighbour after n, on no list. Returns it. One node reserved.
   */
  private split(n: number, granules: number): number {
    const s = this.s;
    const pool = this.pool;
    const r = pool.acquire();
    const w = this.w;
    const at = n << NODE_SHIFT;
    const rat = r << NODE_SHIFT;
    const next = w[at + NEIGHBOR_NEXT];
    w[rat + OFFSET] = w[at + OFFSET] + granules;
    w[rat + SIZE] = w[at + SIZE] - granules;
    w[rat + STATE] = w[at + STATE];
    w[rat + NEIGHBOR_PREV] = n;
    w[rat + NEIGHBOR_NEXT] = next;
    if (next !== NONE) w[(next << NODE_SHIFT) + NEIGHBOR_PREV] = r;
    else s[TAIL] = r;
    w[at + NEIGHBOR_NEXT] = r;
    w[at + SIZE] = granules;
    return r;
  }

  // ---- freeing -------------------------------------------------------------------------------

  /** The used block at `offset`, or NONE. */
  usedBlockAt(offset: number): number {
    return this.table.find(offset);
  }

  /**
   * Frees used block `n` (found by `usedBlockAt`), merging it with free neighbours. False,
   * changing nothing, when the live table does not hold it (corruption).
   */
  release(n: number): boolean {
    const s = this.s;
    const pool = this.pool;
    const w = this.w;
    let at = n << NODE_SHIFT;
    if (!this.table.remove(w[at + OFFSET])) return false;
    let size = w[at + SIZE];
    s[USED_GRANULES] -= size;
    s[FREE_GRANULES] += size;
    s[LIVE]--;
    const next = w[at + NEIGHBOR_NEXT];
    if (next !== NONE && w[(next << NODE_SHIFT) + STATE] === FREE) {
      this.removeFreeBlock(next);
      size += w[(next << NODE_SHIFT) + SIZE];
      this.unlinkNeighbour(next);
      pool.release(next);
    }
    const prev = w[at + NEIGHBOR_PREV];
    if (prev !== NONE && w[(prev << NODE_SHIFT) + STATE] === FREE) {
      this.removeFreeBlock(prev);
      this.unlinkNeighbour(n);
      pool.release(n);
      n = prev;
      at = n << NODE_SHIFT;
      size += w[at + SIZE];
    }
    w[at + SIZE] = size;
    w[at + STATE] = FREE;
    this.insertFreeBlock(n);
    return true;
  }

  /** Takes node `n` out of the neighbour list (its predecessor exists and absorbs it). */
  private unlinkNeighbour(n: number): void {
    const w = this.w;
    const at = n << NODE_SHIFT;
    const prev = w[at + NEIGHBOR_PREV];
    const next = w[at + NEIGHBOR_NEXT];
    w[(prev << NODE_SHIFT) + NEIGHBOR_NEXT] = next;
    if (next !== NONE) w[(next << NODE_SHIFT) + NEIGHBOR_PREV] = prev;
    else this.s[TAIL] = prev;
  }

  // ---- resizing in place ---------------------------------------------------------------------

  /**
   * Shrinks used block `n` to `granules` (< its size), the rest joining the free block after
   * it or becoming one (one node reserved, unless the next block is free).
   */
  shrink(n: number, granules: number): void {
    const s = this.s;
    const w = this.w;
    const at = n << NODE_SHIFT;
    const rest = w[at + SIZE] - granules;
    const next = w[at + NEIGHBOR_NEXT];
    if (next !== NONE && w[(next << NODE_SHIFT) + STATE] === FREE) {
      this.removeFreeBlock(next);
      w[(next << NODE_SHIFT) + OFFSET] -= rest;
      w[(next << NODE_SHIFT) + SIZE] += rest;
      this.insertFreeBlock(next);
      w[at + SIZE] = granules;
    } else {
      const r = this.split(n, granules);
      w[(r << NODE_SHIFT) + STATE] = FREE;
      this.insertFreeBlock(r);
    }
    s[USED_GRANULES] -= rest;
    s[FREE_GRANULES] += rest;
  }

  /** Whether used block `n` can grow to `granules` into the free block after it. */
  canGrowInPlace(n: number, granules: number): boolean {
    const w = this.w;
    const at = n << NODE_SHIFT;
    const next = w[at + NEIGHBOR_NEXT];
    return (
      next !== NONE &&
      w[(next << NODE_SHIFT) + STATE] === FREE &&
      w[at + SIZE] + w[(next << NODE_SHIFT) + SIZE] >= granules
    );
  }

  /** Grows used block `n` to `granules` (> its size) into the free block after it. */
  growInPlace(n: number, granules: number): void {
    const s = this.s;
    const pool = this.pool;
    const w = this.w;
    const at = n << NODE_SHIFT;
    const next = w[at + NEIGHBOR_NEXT];
    const nat = next << NODE_SHIFT;
    const extra = granules - w[at + SIZE];
    this.removeFreeBlock(next);
    if (w[nat + SIZE] === extra) {
      this.unlinkNeighbour(next);
      pool.release(next);
    } else {
      w[nat + OFFSET] += extra;
      w[nat + SIZE] -= extra;
      this.insertFreeBlock(next);
    }
    w[at + SIZE] = granules;
    s[FREE_GRANULES] -= extra;
    const used = s[USED_GRANULES] + extra;
    s[USED_GRANULES] = used;
    if (used > s[PEAK]) s[PEAK] = used;
  }

  // ---- growth --------------------------------------------------------------------------------

  /** Whether only free space, if anything, lies between block `n` and END. */
  reachesEnd(n: number): boolean {
    const tail = this.s[TAIL];
    if (tail === n) return true;
    const w = this.w;
    return (
      w[(n << NODE_SHIFT) + NEIGHBOR_NEXT] === tail && w[(tail << NODE_SHIFT) + STATE] === FREE
    );
  }

  /** Free granules at the end of the heap (the last block's size if it is free, else 0). */
  freeAtEnd(): number {
    const w = this.w;
    const at = this.s[TAIL] << NODE_SHIFT;
    return w[at + STATE] === FREE ? w[at + SIZE] : 0;
  }

  /** Adds [END, newEnd) to the heap as free space, joining a free last block. One node reserved. */
  extend(newEnd: number): void {
    const s = this.s;
    const pool = this.pool;
    const added = newEnd - s[END];
    const tail = s[TAIL];
    let w = this.w;
    if (w[(tail << NODE_SHIFT) + STATE] === FREE) {
      this.removeFreeBlock(tail);
      w[(tail << NODE_SHIFT) + SIZE] += added;
      this.insertFreeBlock(tail);
    } else {
      const r = pool.acquire();
      w = this.w;
      const rat = r << NODE_SHIFT;
      w[rat + OFFSET] = s[END];
      w[rat + SIZE] = added;
      w[rat + NEIGHBOR_PREV] = tail;
      w[rat + NEIGHBOR_NEXT] = NONE;
      w[(tail << NODE_SHIFT) + NEIGHBOR_NEXT] = r;
      s[TAIL] = r;
      this.insertFreeBlock(r);
    }
    s[END] = newEnd;
    s[FREE_GRANULES] += added;
  }

  // ---- the bins ------------------------------------------------------------------------------

  /** The largest request `findFreeBlock` serves now, in granules (0: none). */
  largestServed(): number {
    const s = this.s;
    const flBits = s[FL_MAP];
    if (flBits === 0) return 0;
    const fl = 31 - Math.clz32(flBits);
    const bin = (fl << BINS_PER_LEVEL_LOG2) | (31 - Math.clz32(s[SL_MAP + fl]));
    // Every request up to the bin's smallest size finds a block through the bitmaps; a larger
    // one only among the OWN_BIN_SCAN blocks the own-bin scan looks at (each ≥ that size),
    // and no request of a larger bin can find one.
    const w = this.w;
    let best = 0;
    let n = s[BIN_HEAD + bin];
    for (let i = 0; i < OWN_BIN_SCAN && n !== NONE; i++) {
      best = Math.max(best, w[(n << NODE_SHIFT) + SIZE]);
      n = w[(n << NODE_SHIFT) + BIN_NEXT];
    }
    return best;
  }

  /** Puts free block `n` at the head of its bin's list and marks it FREE. */
  private insertFreeBlock(n: number): void {
    const s = this.s;
    const w = this.w;
    const at = n << NODE_SHIFT;
    const bin = binOf(w[at + SIZE]);
    const head = s[BIN_HEAD + bin];
    w[at + STATE] = FREE;
    w[at + BIN] = bin;
    w[at + BIN_PREV] = NONE;
    w[at + BIN_NEXT] = head;
    if (head !== NONE) w[(head << NODE_SHIFT) + BIN_PREV] = n;
    s[BIN_HEAD + bin] = n;
    const fl = bin >>> BINS_PER_LEVEL_LOG2;
    s[FL_MAP] |= 1 << fl;
    s[SL_MAP + fl] |= 1 << (bin & SL_MASK);
  }

  /** Takes free block `n` off its bin's list. */
  private removeFreeBlock(n: number): void {
    const s = this.s;
    const w = this.w;
    const at = n << NODE_SHIFT;
    const prev = w[at + BIN_PREV];
    const next = w[at + BIN_NEXT];
    if (next !== NONE) w[(next << NODE_SHIFT) + BIN_PREV] = prev;
    if (prev !== NONE) {
      w[(prev << NODE_SHIFT) + BIN_NEXT] = next;
      return;
    }
    const bin = w[at + BIN];
    s[BIN_HEAD + bin] = next;
    if (next === NONE) {
      const fl = bin >>> BINS_PER_LEVEL_LOG2;
      const bits = s[SL_MAP + fl] & ~(1 << (bin & SL_MASK));
      s[SL_MAP + fl] = bits;
      if (bits === 0) s[FL_MAP] &= ~(1 << fl);
    }
  }
}
