/**
 * The FreeListAllocator's kernel: formatting, splitting, merging with free neighbours,
 * growth, pointer validation. Finding a free block (first, best, next fit over the treap)
 * is fit.ts, the layer below.
 */

import { alignDown } from "../../core/bits.js";
import { ArgumentRangeError, DoubleFreeError } from "../../core/errors.js";
import type { Memory } from "../../core/memory.js";
import {
  checkSizeFits,
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  rejectPointer,
} from "../../core/validate.js";
import { FreeListFit } from "./fit.js";
import * as layout from "./layout.js";
import { areaFor, bitmapBytes, type FreeListOptions } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  AREA_END,
  BITMAP_CHUNK_BYTES,
  BITS_PER_WORD,
  END,
  FLAG_BITS,
  FREE_BLOCKS,
  FREE_BYTES,
  GRANULE,
  IN_USE,
  LIVE,
  MIN_BLOCK,
  PEAK,
  PREV_USED,
  ROOT,
  ROVER,
  SIZE_WORD_BYTES,
  USED,
} = layout;

export abstract class FreeListKernel extends FreeListFit {
  protected constructor(memory: Memory, options: FreeListOptions) {
    super(memory, options);
    if (options.attach !== true) this.format();
  }

  // ---- formatting --------------------------------------------------------------------------

  /** Lays out a fresh heap over the memory's bytes (growing a tiny growable memory). */
  protected format(): void {
    const minEnd = this.org + SIZE_WORD_BYTES + MIN_BLOCK + BITMAP_CHUNK_BYTES;
    if (alignDown(this.memory.end, GRANULE) < minEnd) {
      if (!(this.growable && this.memory.grow(minEnd))) {
        throw new ArgumentRangeError(
          `FreeListAllocator: memory region [${this.memory.start}, ${this.memory.end}) is too ` +
            `small: it needs at least ${minEnd - this.memory.start} bytes`,
          "ERR_MEMORY",
        );
      }
      this.syncViews();
    }
    const end = alignDown(this.memory.end, GRANULE);
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + END] = end;
    this.formatArea(areaFor(end - this.org - SIZE_WORD_BYTES));
  }

  /** One free block over `area` bytes from ORG, the sentinel, a clear bitmap, zero counters. */
  protected formatArea(area: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u = this.u;
    const org = this.org;
    const areaEnd = org + area;
    slots[slot0 + AREA_END] = areaEnd;
    slots[slot0 + ROOT] = 0;
    slots[slot0 + ROVER] = org;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + IN_USE] = 0;
    slots[slot0 + PEAK] = 0;
    slots[slot0 + FREE_BYTES] = area;
    slots[slot0 + FREE_BLOCKS] = area > 0 ? 1 : 0;
    const bm = areaEnd + SIZE_WORD_BYTES;
    this.memory.u8.fill(0, bm, bm + bitmapBytes(area));
    u[areaEnd >>> 2] = area > 0 ? USED : USED + PREV_USED;
    if (area > 0) {
      this.writeFree(org, area);
      this.setBit(org);
      this.insertFreeBlock(org);
    }
  }

  // ---- splitting and merging ----------------------------------------------------------------

  /** Hands out `need` bytes of free block `b` at `align`; returns the payload pointer. */
  protected splitBlock(b: number, need: number, align: number): number {
    this.checkFreeBlock(b, need);
    const u = this.u;
    const slots = this.slots;
    const slot0 = this.slot0;
    const s = this.sizeOf(b);
    const p = align === DEFAULT_ALIGN ? b + SIZE_WORD_BYTES : this.payloadIn(b, align);
    const a = p - SIZE_WORD_BYTES;
    const gap = a - b;
    let tail = b + s - (a + need);
    if (tail < MIN_BLOCK) {
      need += tail;
      tail = 0;
    }
    const t = a + need;
    if (gap === 0) {
      if (tail === 0) {
        this.removeFreeBlock(b);
        slots[slot0 + FREE_BLOCKS]--;
      } else {
        this.setBit(t);
        this.replaceFreeBlock(b, t, tail);
      }
      u[a >>> 2] = need + USED + PREV_USED;
    } else {
      this.writeFree(b, gap);
      this.repositionFreeBlock(b);
      this.setBit(a);
      u[a >>> 2] = need + USED;
      if (tail !== 0) {
        this.writeFree(t, tail);
        this.setBit(t);
        this.insertFreeBlock(t);
        slots[slot0 + FREE_BLOCKS]++;
      }
    }
    if (tail === 0) u[t >>> 2] |= PREV_USED;
    slots[slot0 + ROVER] = t;
    slots[slot0 + LIVE]++;
    slots[slot0 + FREE_BYTES] -= need;
    const inUse = slots[slot0 + IN_USE] + need - SIZE_WORD_BYTES;
    slots[slot0 + IN_USE] = inUse;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    return p;
  }

  /** Frees live block `b`, merging it with free neighbours on both sides. */
  protected freeBlock(b: number): void {
    this.checkNeighbourhood(b);
    const u = this.u;
    const slots = this.slots;
    const slot0 = this.slot0;
    const bi = b >>> 2;
    const hdr = u[bi];
    const s = hdr - (hdr & FLAG_BITS);
    const r = b + s;
    const ri = r >>> 2;
    const rh = u[ri];
    const rightFree = (rh & USED) === 0;
    slots[slot0 + LIVE]--;
    slots[slot0 + IN_USE] -= s - SIZE_WORD_BYTES;
    slots[slot0 + FREE_BYTES] += s;
    let start = b;
    let size = s;
    if ((hdr & PREV_USED) !== 0) {
      if (!rightFree) {
        this.writeFree(b, s);
        u[ri] = rh - PREV_USED;
        this.insertFreeBlock(b);
        slots[slot0 + FREE_BLOCKS]++;
      } else {
        size = s + rh - (rh & FLAG_BITS);
        this.clearBit(r);
        this.replaceFreeBlock(r, b, size); // same end, so same priority: a rename
      }
    } else {
      const ls = u[bi - 1]; // the left neighbour's footer
      start = b - ls;
      u[bi] = s; // a dead size word: USED clear, so a second free is recognised
      this.clearBit(b);
      if (!rightFree) {
        size = ls + s;
        u[ri] = rh - PREV_USED;
        this.writeFree(start, size);
        this.repositionFreeBlock(start);
      } else {
        size = ls + s + rh - (rh & FLAG_BITS);
        this.clearBit(r);
        this.removeFreeBlock(start);
        this.replaceFreeBlock(r, start, size); // r's end, r's priority
        slots[slot0 + FREE_BLOCKS]--;
      }
    }
    const rover = slots[slot0 + ROVER];
    if (rover > start && rover < start + size) slots[slot0 + ROVER] = start;
  }

  /** realloc's shrink: block `b` of size `s` keeps `need` bytes. */
  protected shrinkInPlace(b: number, s: number, need: number): void {
    const slack = s - need;
    if (slack === 0) return;
    const u = this.u;
    const slots = this.slots;
    const slot0 = this.slot0;
    const bi = b >>> 2;
    const r = b + s;
    const rh = u[r >>> 2];
    const t = b + need;
    if ((rh & USED) === 0) {
      const size = rh - (rh & FLAG_BITS) + slack;
      this.clearBit(r);
      this.setBit(t);
      this.replaceFreeBlock(r, t, size); // the tail joins the right neighbour: same end
    } else if (slack >= MIN_BLOCK) {
      u[r >>> 2] = rh - PREV_USED;
      this.writeFree(t, slack);
      this.setBit(t);
      this.insertFreeBlock(t);
      slots[slot0 + FREE_BLOCKS]++;
    } else {
      return; // a sliver under 24 bytes stays with the block
    }
    u[bi] = need + (u[bi] & FLAG_BITS);
    slots[slot0 + IN_USE] -= slack;
    slots[slot0 + FREE_BYTES] += slack;
  }

  /** realloc's grow: takes `need − s` bytes from a free right neighbour if it has them. */
  protected growInPlace(b: number, s: number, need: number): boolean {
    const u = this.u;
    const slots = this.slots;
    const slot0 = this.slot0;
    const bi = b >>> 2;
    const r = b + s;
    const rh = u[r >>> 2];
    if ((rh & USED) !== 0) return false;
    const rs = rh - (rh & FLAG_BITS);
    const total = s + rs;
    if (total < need) return false;
    const rem = total - need;
    this.clearBit(r);
    if (rem >= MIN_BLOCK) {
      const t = b + need;
      this.setBit(t);
      this.replaceFreeBlock(r, t, rem); // same end: a rename
    } else {
      this.removeFreeBlock(r);
      slots[slot0 + FREE_BLOCKS]--;
      need = total;
      u[(b + total) >>> 2] |= PREV_USED;
    }
    u[bi] = need + (u[bi] & FLAG_BITS);
    slots[slot0 + FREE_BYTES] -= need - s;
    const inUse = slots[slot0 + IN_USE] + need - s;
    slots[slot0 + IN_USE] = inUse;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    const rover = slots[slot0 + ROVER];
    if (rover > b && rover < b + need) slots[slot0 + ROVER] = b + need;
    return true;
  }

  // ---- growth -------------------------------------------------------------------------------

  /**
   * Grows a growable memory so that the top free block can hold `need` bytes at `align`:
   * the new space, the old bitmap's bytes and a free last block become one free block, and
   * the bitmap moves to the new top. False, changing nothing, when the memory cannot grow.
   */
  protected growFor(need: number, align: number): boolean {
    if (!this.growable) return false;
    const slots = this.slots;
    const slot0 = this.slot0;
    const u = this.u;
    const org = this.org;
    const areaEnd = slots[slot0 + AREA_END];
    const sentinel = u[areaEnd >>> 2];
    const lastFree = (sentinel & PREV_USED) === 0;
    const top = lastFree ? areaEnd - u[(areaEnd >>> 2) - 1] : areaEnd;
    const p = align === DEFAULT_ALIGN ? top + SIZE_WORD_BYTES : this.payloadIn(top, align);
    const area = p - SIZE_WORD_BYTES + need - org;
    const minEnd = org + SIZE_WORD_BYTES + area + bitmapBytes(area);
    if (!(minEnd <= this.memory.maxEnd) || !this.memory.grow(minEnd)) return false;
    this.syncViews();
    this.adoptGrowth();
    return true;
  }

  /** Takes the memory's bytes up to its (8-aligned) end into the heap. */
  protected adoptGrowth(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u = this.u;
    const org = this.org;
    const end = alignDown(this.memory.end, GRANULE);
    const oldAreaEnd = slots[slot0 + AREA_END];
    const oldArea = oldAreaEnd - org;
    const area = areaFor(end - org - SIZE_WORD_BYTES);
    const lastFree = (u[oldAreaEnd >>> 2] & PREV_USED) === 0;
    if (area - oldArea < (lastFree ? GRANULE : MIN_BLOCK)) return;
    const areaEnd = org + area;
    const oldBm = oldAreaEnd + SIZE_WORD_BYTES;
    const bm = areaEnd + SIZE_WORD_BYTES;
    const u8 = this.memory.u8;
    const oldBmBytes = bitmapBytes(oldArea);
    u8.copyWithin(bm, oldBm, oldBm + oldBmBytes); // memmove: the two may overlap
    u8.fill(0, bm + oldBmBytes, bm + bitmapBytes(area));
    slots[slot0 + AREA_END] = areaEnd;
    slots[slot0 + END] = end;
    u[areaEnd >>> 2] = USED; // the new sentinel; the block before it is free
    const added = area - oldArea;
    slots[slot0 + FREE_BYTES] += added;
    if (lastFree) {
      const last = oldAreaEnd - u[(oldAreaEnd >>> 2) - 1];
      this.writeFree(last, this.sizeOf(last) + added);
      this.repositionFreeBlock(last);
    } else {
      this.writeFree(oldAreaEnd, added);
      this.setBit(oldAreaEnd);
      this.insertFreeBlock(oldAreaEnd);
      slots[slot0 + FREE_BLOCKS]++;
    }
  }

  // ---- validation -------------------------------------------------------------------------

  /**
   * Before a free trusts the in-band words around live block `b`: its size reaches exactly
   * the next block start (the bitmap has no start inside it, and one, or the sentinel, at
   * its end), the next block says its left neighbour is used, a free right neighbour's size
   * and footer agree and end at a block start, and a free left neighbour's footer leads to
   * a free block start of that size. Anything else is corruption (an overflow that reached
   * a size word, a footer or a flag): the heap is poisoned before anything is written.
   */
  protected checkNeighbourhood(b: number): void {
    const u = this.u;
    const areaEnd = this.slots[this.slot0 + AREA_END];
    const hdr = u[b >>> 2];
    const s = hdr - (hdr & FLAG_BITS);
    const r = b + s;
    if (!(s >= MIN_BLOCK && r <= areaEnd && (r === areaEnd || this.testBit(r)))) {
      this.corrupt(`block ${b}: its size ${s} does not end at a block start`);
    }
    if (this.startBetween(b, r))
      this.corrupt(`block ${b}: another block starts inside its size ${s}`);
    const rh = u[r >>> 2];
    if ((rh & PREV_USED) === 0) this.corrupt(`block ${r}: PREV_USED is clear, block ${b} is used`);
    if ((rh & USED) === 0) {
      const rs = rh - (rh & FLAG_BITS);
      const re = r + rs;
      if (
        !(rs >= MIN_BLOCK && re <= areaEnd && u[(re >>> 2) - 1] === rs) ||
        !(re === areaEnd || this.testBit(re))
      ) {
        this.corrupt(
          `free block ${r}: size ${rs} and its footer disagree or end off a block start`,
        );
      }
    }
    if ((hdr & PREV_USED) === 0) {
      const ls = u[(b >>> 2) - 1];
      const l = b - ls;
      const lh = u[l >>> 2];
      if (
        !(ls >= MIN_BLOCK && l >= this.org && (ls & (GRANULE - 1)) === 0 && this.testBit(l)) ||
        lh - (lh & FLAG_BITS) !== ls ||
        (lh & USED) !== 0
      ) {
        this.corrupt(`block ${b}: the free block its footer ${ls} leads to is not one`);
      }
    }
  }

  /** Whether any block starts strictly between `b` and `r` (the bitmap, a word at a time). */
  protected startBetween(b: number, r: number): boolean {
    const u = this.u;
    const bm = this.bitmapIndex();
    const from = (b - this.org) / GRANULE + 1;
    const to = (r - this.org) / GRANULE;
    for (let g = from; g < to; ) {
      const bit = g & (BITS_PER_WORD - 1);
      const n = Math.min(BITS_PER_WORD - bit, to - g);
      const word = u[bm + (g >>> 5)] >>> bit;
      if ((n === BITS_PER_WORD ? word : word & ((1 << n) - 1)) !== 0) return true;
      g += n;
    }
    return false;
  }

  /**
   * Before a split trusts free block `b`'s words: USED clear, a size of at least `need`
   * whose footer agrees and whose end is a block start. Else corruption (see above).
   */
  protected checkFreeBlock(b: number, need: number): void {
    const u = this.u;
    const areaEnd = this.slots[this.slot0 + AREA_END];
    const w = u[b >>> 2];
    const s = w - (w & FLAG_BITS);
    const e = b + s;
    if (
      (w & USED) !== 0 ||
      !(s >= need && s >= MIN_BLOCK && e <= areaEnd && u[(e >>> 2) - 1] === s) ||
      !(e === areaEnd || this.testBit(e)) ||
      !this.testBit(b)
    ) {
      this.corrupt(
        `free block ${b} (size word ${w}) is not a free block of at least ${need} bytes`,
      );
    }
  }

  /** The start of the live block whose payload is `ptr`; throws (changing nothing) if none. */
  protected liveBlock(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const b = ptr - SIZE_WORD_BYTES;
    if ((ptr & (GRANULE - 1)) !== 0 || b < this.org || ptr >= this.slots[this.slot0 + AREA_END]) {
      throw this.notALiveBlock(ptr);
    }
    if (!this.testBit(b)) throw this.notALiveBlock(ptr);
    if ((this.u[b >>> 2] & USED) === 0) throw this.freeBlockError(ptr, b);
    return b;
  }

  /** USED clear: a double free if `b` is a whole free block (footer, next PREV_USED), else corruption. */
  protected freeBlockError(ptr: number, b: number): Error {
    const u = this.u;
    const w = u[b >>> 2];
    const e = b + w - (w & FLAG_BITS);
    const whole = e - b >= MIN_BLOCK && e <= this.slots[this.slot0 + AREA_END];
    if (whole && u[(e >>> 2) - 1] === e - b && (u[e >>> 2] & PREV_USED) === 0) {
      return new DoubleFreeError(`pointer ${ptr}: the block is free (freed already)`);
    }
    return this.corrupt(`block ${b} (size word ${w}) has USED clear but is not a free block`);
  }

  /** The error for a pointer that is not a live block's payload (the slow path). */
  protected notALiveBlock(ptr: number): Error {
    const org = this.org;
    const areaEnd = this.slots[this.slot0 + AREA_END];
    if ((ptr & (GRANULE - 1)) !== 0) return invalidPointer(ptr, "every block starts 8-aligned");
    if (ptr < org + SIZE_WORD_BYTES || ptr >= areaEnd) {
      return invalidPointer(
        ptr,
        `outside this FreeListAllocator's blocks [${org + SIZE_WORD_BYTES}, ${areaEnd})`,
      );
    }
    // Scan the bitmap back to the block holding ptr.
    const u = this.u;
    const b = ptr - SIZE_WORD_BYTES;
    const g = (b - org) / GRANULE;
    const bm = this.bitmapIndex();
    let wi = g >>> 5;
    let word = u[bm + wi] & ((1 << (g & (BITS_PER_WORD - 1))) - 1);
    while (word === 0 && wi > 0) word = u[bm + --wi];
    if (word === 0) return invalidPointer(ptr, "not a block start");
    const c = org + GRANULE * (wi * BITS_PER_WORD + 31 - Math.clz32(word));
    const cw = u[c >>> 2];
    const cs = cw - (cw & FLAG_BITS);
    if ((cw & USED) !== 0) {
      return invalidPointer(ptr, `inside the live block at ${c + SIZE_WORD_BYTES}, not its start`);
    }
    const w = u[b >>> 2];
    const ws = w - (w & FLAG_BITS);
    if ((w & USED) === 0 && ws >= MIN_BLOCK && b + ws <= c + cs) {
      return new DoubleFreeError(
        `pointer ${ptr}: the block was freed already (merged into the free block at ${c})`,
      );
    }
    return invalidPointer(ptr, `inside the free block at ${c}, not a block start`);
  }

  protected checkSizeMatches(b: number, size: number): void {
    checkSizeFits(b + SIZE_WORD_BYTES, size, this.sizeOf(b) - SIZE_WORD_BYTES);
  }
}
