/**
 * The TLSF kernel: the heap's state (views, list positions, the live map) and the
 * operations on it that every public call is made of: finding, taking, splitting and
 * releasing blocks, merging neighbours, the free lists, growth, and pointer validation.
 * O(1) each: no loop whose length depends on the heap (the search's fallback looks at
 * FALLBACK_SCAN blocks at most). Layout and flags: layout.ts; size classes: mapping.ts.
 */

import { type AllocatorOptions, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { ArgumentRangeError, DoubleFreeError, InvalidPointerError } from "../../core/errors.js";
import { StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { isUint32, rejectPointer } from "../../core/validate.js";
import { isSharedArrayBuffer } from "../../memory/memory.js";
import { validateTlsfAttach } from "./attach.js";
import * as layout from "./layout.js";
import { liveMapBytes, liveView, tombstone } from "./layout.js";
import * as mapping from "./mapping.js";
import { blockSizeFor, listOf, searchListOf } from "./mapping.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  FIRST_ALIGN,
  FLAG_BITS,
  FREE_BIT,
  LINK_NEXT,
  LINK_PREV,
  META_U32,
  PREV_FREE_BIT,
  TLSF_HEADER,
} = layout;
const {
  BLOCK_OVERHEAD,
  FL_COUNT,
  GRANULE,
  GRANULE_LOG2,
  LIST_COUNT,
  MAX_BLOCK,
  MIN_BLOCK,
  SL_COUNT,
  SL_LOG2,
} = mapping;

const { END, LIVE, USED_BYTES, PEAK, CLEAN_FROM } = TLSF_HEADER.slot;

/** How many blocks the search's fallback looks at in one list (a constant bound). */
export const FALLBACK_SCAN = 8;

export interface TlsfOptions extends AllocatorOptions {
  /** Grow the memory when no free block fits (default: whenever the memory can grow). */
  grow?: boolean;
  /**
   * With `attach`: the live map of the heap being attached to (`liveMapBuffer` of the handle
   * that made it). Required: the map lives outside the memory, so the bytes alone cannot say
   * which blocks are live.
   */
  liveMap?: SharedArrayBuffer | ArrayBuffer;
}

export abstract class TlsfKernel extends BaseAllocator {
  protected readonly growable: boolean;
  /** The memory's u32 view (blocks and the in-band lists). */
  protected memU32: Uint32Array;
  /** u32 index of the FL bitmap; SL bitmaps follow; then the list heads. */
  protected readonly flMap: number;
  protected readonly slMap: number;
  protected readonly heads: number;
  /** First block's start. */
  protected readonly first: number;
  /** The live map: one bit per 8 bytes from dataStart, set at each live block's pointer. */
  protected liveBuf: ArrayBuffer | SharedArrayBuffer;
  protected live: Int32Array;

  protected constructor(memory: Memory, options: TlsfOptions) {
    if (!memory.hasBytes) {
      throw new ArgumentRangeError(
        "TlsfAllocator keeps a size word before every block, so it needs a memory with bytes",
        "ERR_MEMORY",
      );
    }
    const attach = options.attach === true;
    super(memory, StrategyKind.tlsf, TLSF_HEADER, META_U32 * 4, SL_LOG2, attach, "TlsfAllocator");
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    this.memU32 = memory.u32;
    this.flMap = this.extraMetaAt >>> 2;
    this.slMap = this.flMap + 1;
    this.heads = this.slMap + FL_COUNT;
    // The first block's pointer is 16-aligned (4 or 12 bytes of pad after dataStart): with
    // block sizes rounded to the alignment asked for (allocAligned), every block of a heap
    // that always asks for 16 then stays 16-aligned, as the traces (glibc's 16) do.
    this.first = alignUp(this.dataStart + 2 * BLOCK_OVERHEAD, FIRST_ALIGN) - BLOCK_OVERHEAD;
    if (attach) {
      this.liveBuf = validateTlsfAttach(this.slots, this.slot0, options.liveMap, {
        metaBytes: this.metaBytes,
        dataStart: this.dataStart,
        minEnd: this.first + MIN_BLOCK + BLOCK_OVERHEAD,
        maxEnd: this.heapEndFor(memory.end),
        memory,
      });
      this.live = liveView(this.liveBuf);
      return;
    }
    // Room for one minimal block and the sentinel, growing the memory if it must.
    const minEnd = this.first + MIN_BLOCK + BLOCK_OVERHEAD;
    if (this.heapEndFor(memory.end) < minEnd && !(this.growable && memory.grow(minEnd + GRANULE))) {
      throw new ArgumentRangeError(
        `TlsfAllocator: region [${memory.start}, ${memory.end}) leaves no room for a block`,
        "ERR_MEMORY",
      );
    }
    this.syncViews();
    const end = this.heapEndFor(memory.end);
    // A plain ArrayBuffer, replaced (copied) when the heap grows: views of a resizable buffer
    // cost a bounds reload on every access (measured: ~15 ns per alloc/free pair on W1).
    // A shared heap's map must stay the same object for every agent, so it is growable.
    this.liveBuf = memory.shared
      ? new SharedArrayBuffer(liveMapBytes(this.dataStart, end), {
          maxByteLength: liveMapBytes(this.dataStart, memory.maxEnd),
        })
      : new ArrayBuffer(liveMapBytes(this.dataStart, end));
    this.live = liveView(this.liveBuf);
    this.slots[this.slot0 + CLEAN_FROM] = this.dataStart;
    this.initialise(end);
  }

  /** Lays out an empty heap ending at `end`: one free block and the sentinel. */
  protected initialise(end: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u32 = this.memU32;
    u32.fill(0, this.flMap, this.heads + LIST_COUNT);
    this.live.fill(0);
    slots[slot0 + LIVE] = 0;
    slots[slot0 + USED_BYTES] = 0;
    slots[slot0 + PEAK] = 0;
    slots[slot0 + END] = end;
    u32.fill(0, this.dataStart >>> 2, this.first >>> 2); // the pad before the first block
    const size = end - BLOCK_OVERHEAD - this.first;
    this.setSentinel(end, PREV_FREE_BIT);
    u32[this.first >>> 2] = size | FREE_BIT;
    u32[(this.first + size - 4) >>> 2] = this.first;
    this.insertFree(this.first, size);
  }

  // ---- allocation internals --------------------------------------------------------------

  /**
   * A free block of at least `bsize` bytes, or 0. O(1): the rounded-up list and the bitmaps
   * first; failing that, a bounded look at the blocks of `bsize`'s own list (which may hold
   * blocks big enough that the rounded search skips).
   */
  protected findFree(bsize: number): number {
    const u32 = this.memU32;
    const li = searchListOf(bsize);
    if (li < LIST_COUNT) {
      let fl = li >>> SL_LOG2;
      let slBits = u32[this.slMap + fl] & (-1 << (li & (SL_COUNT - 1)));
      if (slBits === 0) {
        const flBits = u32[this.flMap] & (fl + 1 < 32 ? -1 << (fl + 1) : 0);
        if (flBits !== 0) {
          fl = 31 - Math.clz32(flBits & -flBits);
          slBits = u32[this.slMap + fl];
        }
      }
      if (slBits !== 0) {
        return u32[this.heads + ((fl << SL_LOG2) | (31 - Math.clz32(slBits & -slBits)))];
      }
    }
    // Fallback: the exact list of bsize, scanned for at most FALLBACK_SCAN blocks.
    let b = bsize <= MAX_BLOCK ? u32[this.heads + listOf(bsize)] : 0;
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      if ((u32[b >>> 2] & ~FLAG_BITS) >= bsize) return b;
      b = u32[(b >>> 2) + LINK_NEXT];
    }
    return 0;
  }

  /** Takes free block `b` for a block of `bsize` bytes; splits off the rest; returns the pointer. */
  protected take(b: number, bsize: number): number {
    const u32 = this.memU32;
    const slots = this.slots;
    const slot0 = this.slot0;
    const word = u32[b >>> 2];
    const size = word & ~FLAG_BITS;
    this.removeFree(b, size);
    const rest = size - bsize;
    if (rest >= MIN_BLOCK) {
      const r = b + bsize;
      u32[r >>> 2] = rest | FREE_BIT; // its predecessor (b) is used: PF clear
      u32[(r + rest - 4) >>> 2] = r;
      this.insertFree(r, rest);
      u32[b >>> 2] = bsize | (word & PREV_FREE_BIT);
      slots[slot0 + USED_BYTES] += bsize;
    } else {
      u32[b >>> 2] = size | (word & PREV_FREE_BIT);
      u32[(b + size) >>> 2] &= ~PREV_FREE_BIT;
      slots[slot0 + USED_BYTES] += size;
    }
    const live = ++slots[slot0 + LIVE];
    const inUse = slots[slot0 + USED_BYTES] - live * BLOCK_OVERHEAD;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    const ptr = b + BLOCK_OVERHEAD;
    const bit = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[bit >>> 5] |= 1 << (bit & 31);
    return ptr;
  }

  /** alloc with align > 8: find a block with room for the padding, split the gap off. */
  protected allocAligned(size: number, align: number): number {
    const bsize = blockSizeFor(size);
    // Fast path: the block found for the size rounded up to the alignment already starts
    // aligned. A heap that always asks for one alignment (≤ FIRST_ALIGN) keeps every block
    // aligned this way, so it pays no gap and no split (glibc rounds to 16 for the same
    // reason); a block that is not aligned goes the general way below.
    if (align <= FIRST_ALIGN) {
      const rounded = alignUp(bsize, align);
      const a = this.findFree(rounded);
      if (a !== 0 && ((a + BLOCK_OVERHEAD) & (align - 1)) === 0) return this.take(a, rounded);
    }
    // Worst case the pointer moves up by align − 8, and a gap must be 0 or ≥ MIN_BLOCK.
    const search = bsize + align + MIN_BLOCK;
    let b = this.findFree(search);
    if (b === 0) {
      if (!this.growFor(search)) return 0;
      b = this.findFree(search);
      if (b === 0) return 0;
    }
    const u32 = this.memU32;
    const word = u32[b >>> 2];
    const size0 = word & ~FLAG_BITS;
    let ptr = alignUp(b + BLOCK_OVERHEAD, align);
    if (ptr - BLOCK_OVERHEAD - b !== 0 && ptr - BLOCK_OVERHEAD - b < MIN_BLOCK) ptr += align;
    const gap = ptr - BLOCK_OVERHEAD - b;
    if (gap === 0) return this.take(b, bsize);
    // Split [b, b + gap) off as a free block of its own; the rest starts at ptr − 4.
    this.removeFree(b, size0);
    const nb = b + gap;
    const rest = size0 - gap;
    u32[b >>> 2] = gap | FREE_BIT | (word & PREV_FREE_BIT);
    u32[(b + gap - 4) >>> 2] = b;
    this.insertFree(b, gap);
    u32[nb >>> 2] = rest | FREE_BIT | PREV_FREE_BIT;
    u32[(nb + rest - 4) >>> 2] = nb;
    this.insertFree(nb, rest);
    return this.take(nb, bsize);
  }

  /** alloc's slow path: grow the memory and retry, or answer out of memory. */
  protected allocSlow(bsize: number, size: number): number {
    if (size > MAX_BLOCK - 64) return 0;
    if (!this.growFor(bsize)) return 0;
    const b = this.findFree(bsize);
    return b === 0 ? 0 : this.take(b, bsize);
  }

  /** Grows a growable memory so a free block of `bsize` can exist. False if it cannot. */
  protected growFor(bsize: number): boolean {
    if (!this.growable) return false;
    const slots = this.slots;
    const slot0 = this.slot0;
    const end = slots[slot0 + END];
    // The new space joins the last block if it is free, so ask only for what is missing.
    const lastFree = (this.memU32[(end - BLOCK_OVERHEAD) >>> 2] & PREV_FREE_BIT) !== 0;
    const have = lastFree ? this.memU32[(end - BLOCK_OVERHEAD - 4) >>> 2] : 0;
    const haveSize = lastFree ? end - BLOCK_OVERHEAD - have : 0;
    const want = end + Math.max(bsize - haveSize, MIN_BLOCK) + GRANULE * 2;
    if (!(want <= this.memory.maxEnd) || !this.memory.grow(want)) return false;
    this.syncViews();
    const newEnd = this.heapEndFor(this.memory.end);
    if (newEnd <= end) return false;
    if (this.liveBuf.byteLength < liveMapBytes(this.dataStart, newEnd)) {
      // Room for the new end, doubling so the copies cost O(1) amortised.
      const need = Math.max(
        liveMapBytes(this.dataStart, newEnd),
        Math.min(this.liveBuf.byteLength * 2, liveMapBytes(this.dataStart, this.memory.maxEnd)),
      );
      if (isSharedArrayBuffer(this.liveBuf)) {
        this.liveBuf.grow(need);
        this.live = liveView(this.liveBuf);
      } else {
        const bigger = new ArrayBuffer(need);
        new Int32Array(bigger).set(this.live);
        this.liveBuf = bigger;
        this.live = new Int32Array(bigger);
      }
    }
    // The old sentinel becomes the start of a free block [end − 4, newEnd − 4).
    const u32 = this.memU32;
    const b = end - BLOCK_OVERHEAD;
    const size = newEnd - end;
    const prevFree = u32[b >>> 2] & PREV_FREE_BIT;
    u32[b >>> 2] = size | FREE_BIT | prevFree;
    u32[(b + size - 4) >>> 2] = b;
    this.setSentinel(newEnd, PREV_FREE_BIT);
    this.slots[slot0 + END] = newEnd;
    this.insertFree(b, size);
    if (prevFree !== 0) this.mergeWithPrevious(b, size);
    return true;
  }

  // ---- freeing -----------------------------------------------------------------------------

  /** Frees the used block `b` (pointer `ptr`), merging it with free neighbours. */
  protected release(ptr: number, b: number): void {
    const u32 = this.memU32;
    const slots = this.slots;
    const slot0 = this.slot0;
    const bit = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[bit >>> 5] &= ~(1 << (bit & 31));
    const word = u32[b >>> 2];
    let size = word & ~FLAG_BITS;
    let start = b;
    slots[slot0 + LIVE]--;
    slots[slot0 + USED_BYTES] -= size;
    if (b + size > slots[slot0 + CLEAN_FROM]) slots[slot0 + CLEAN_FROM] = b + size;
    // Merge with the next block when it is free.
    const next = b + size;
    const nextWord = u32[next >>> 2];
    if ((nextWord & FREE_BIT) !== 0) {
      const nextSize = nextWord & ~FLAG_BITS;
      this.removeFree(next, nextSize);
      this.wipeAbsorbed(next);
      size += nextSize;
    }
    // Merge with the previous block when it is free (its start is in the footer before b).
    if ((word & PREV_FREE_BIT) !== 0) {
      const prev = u32[(b - 4) >>> 2];
      const prevWord = u32[prev >>> 2];
      const prevSize = prevWord & ~FLAG_BITS;
      this.removeFree(prev, prevSize);
      start = prev;
      size += prevSize;
      u32[prev >>> 2] = size | FREE_BIT | (prevWord & PREV_FREE_BIT);
      // b's size word stays behind in the merged payload as a tombstone: freeing b again
      // is then recognised as a double free.
      u32[b >>> 2] = tombstone(b);
    } else {
      u32[b >>> 2] = size | FREE_BIT;
    }
    u32[(start + size - 4) >>> 2] = start;
    u32[(start + size) >>> 2] |= PREV_FREE_BIT;
    this.insertFree(start, size);
  }

  /** Shrinks used block `b` from `cur` to `need` bytes, freeing the tail when it is big enough. */
  protected shrinkUsed(b: number, cur: number, need: number): void {
    const rest = cur - need;
    if (rest < MIN_BLOCK) return;
    const u32 = this.memU32;
    const slots = this.slots;
    const slot0 = this.slot0;
    u32[b >>> 2] = need | (u32[b >>> 2] & PREV_FREE_BIT);
    const r = b + need;
    let size = rest;
    const next = r + rest;
    const nextWord = u32[next >>> 2];
    slots[slot0 + USED_BYTES] -= rest;
    if (r + rest > slots[slot0 + CLEAN_FROM]) slots[slot0 + CLEAN_FROM] = r + rest;
    if ((nextWord & FREE_BIT) !== 0) {
      const nextSize = nextWord & ~FLAG_BITS;
      this.removeFree(next, nextSize);
      this.wipeAbsorbed(next);
      size += nextSize;
    } else {
      u32[next >>> 2] = nextWord | PREV_FREE_BIT;
    }
    u32[r >>> 2] = size | FREE_BIT;
    u32[(r + size - 4) >>> 2] = r;
    this.insertFree(r, size);
  }

  /** Merges free block `b` (already listed) into its free predecessor. */
  protected mergeWithPrevious(b: number, size: number): void {
    const u32 = this.memU32;
    const prev = u32[(b - 4) >>> 2];
    const prevWord = u32[prev >>> 2];
    const prevSize = prevWord & ~FLAG_BITS;
    this.removeFree(b, size);
    this.removeFree(prev, prevSize);
    this.wipeAbsorbed(b);
    // prev's old footer (the word before b) is now inside the merged block too.
    if (b - 4 >= this.slots[this.slot0 + CLEAN_FROM]) u32[(b - 4) >>> 2] = 0;
    const merged = prevSize + size;
    u32[prev >>> 2] = merged | FREE_BIT | (prevWord & PREV_FREE_BIT);
    u32[(prev + merged - 4) >>> 2] = prev;
    this.insertFree(prev, merged);
  }

  /**
   * A free block absorbed into the block before it leaves its size word and links behind
   * in the merged payload. Above CLEAN_FROM that payload is promised to be zero (allocZeroed
   * skips its fill there), so wipe them; below, leave a tombstone so that a second free of
   * the absorbed block is recognised as a double free.
   */
  protected wipeAbsorbed(b: number): void {
    const i = b >>> 2;
    if (b + 12 > this.slots[this.slot0 + CLEAN_FROM]) {
      this.memU32[i] = 0;
      this.memU32[i + LINK_PREV] = 0;
      this.memU32[i + LINK_NEXT] = 0;
    } else {
      this.memU32[i] = tombstone(b);
    }
  }

  // ---- free lists --------------------------------------------------------------------------

  protected insertFree(b: number, size: number): void {
    const u32 = this.memU32;
    const li = listOf(size);
    const head = u32[this.heads + li];
    const i = b >>> 2;
    u32[i + LINK_PREV] = 0;
    u32[i + LINK_NEXT] = head;
    if (head !== 0) u32[(head >>> 2) + LINK_PREV] = b;
    u32[this.heads + li] = b;
    const fl = li >>> SL_LOG2;
    u32[this.flMap] |= 1 << fl;
    u32[this.slMap + fl] |= 1 << (li & (SL_COUNT - 1));
  }

  protected removeFree(b: number, size: number): void {
    const u32 = this.memU32;
    const i = b >>> 2;
    const prev = u32[i + LINK_PREV];
    const next = u32[i + LINK_NEXT];
    if (next !== 0) u32[(next >>> 2) + LINK_PREV] = prev;
    if (prev !== 0) {
      u32[(prev >>> 2) + LINK_NEXT] = next;
      return;
    }
    const li = listOf(size);
    u32[this.heads + li] = next;
    if (next === 0) {
      const fl = li >>> SL_LOG2;
      const bits = u32[this.slMap + fl] & ~(1 << (li & (SL_COUNT - 1)));
      u32[this.slMap + fl] = bits;
      if (bits === 0) u32[this.flMap] &= ~(1 << fl);
    }
  }

  // ---- pointers ----------------------------------------------------------------------------

  /** The block of the live block at `ptr`; throws (changing nothing) for anything else. */
  protected blockOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const ds = this.dataStart;
    if (
      ptr < this.first + BLOCK_OVERHEAD ||
      ptr >= this.slots[this.slot0 + END] ||
      (ptr & 7) !== 0
    ) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not an 8-aligned address inside this TlsfAllocator's heap ` +
          `[${this.first + BLOCK_OVERHEAD}, ${this.slots[this.slot0 + END]})`,
      );
    }
    const bit = (ptr - ds) >>> GRANULE_LOG2;
    if ((this.live[bit >>> 5] & (1 << (bit & 31))) !== 0) return ptr - BLOCK_OVERHEAD;
    if (this.isFreedBlock(ptr - BLOCK_OVERHEAD)) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
    }
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not the start of a live block of this TlsfAllocator`,
    );
  }

  /**
   * Whether `b` (not live) is where a freed block starts: a free block (its footer points
   * back at it) or a tombstone left by a merge. Only used to name the error; user bytes
   * that happen to look like either are reported as a double free instead of an invalid
   * pointer, and the heap is unchanged in both cases.
   */
  protected isFreedBlock(b: number): boolean {
    const u32 = this.memU32;
    const word = u32[b >>> 2];
    if (word === tombstone(b)) return true;
    if ((word & FREE_BIT) === 0) return false;
    const size = word & ~FLAG_BITS;
    const end = b + size;
    return (
      size >= MIN_BLOCK &&
      end <= this.slots[this.slot0 + END] - BLOCK_OVERHEAD &&
      u32[(end - 4) >>> 2] === b
    );
  }

  // ---- small helpers -----------------------------------------------------------------------

  protected setSentinel(end: number, flags: number): void {
    this.memU32[(end - BLOCK_OVERHEAD) >>> 2] = flags; // size 0, used
  }

  protected clearPrevFree(b: number): void {
    this.memU32[b >>> 2] &= ~PREV_FREE_BIT;
  }

  protected notePeak(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const inUse = slots[slot0 + USED_BYTES] - slots[slot0 + LIVE] * BLOCK_OVERHEAD;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
  }

  /** The heap's end for a memory ending at `memEnd`: 8-aligned, at most 2^32 − 8. */
  protected heapEndFor(memEnd: number): number {
    return Math.min(memEnd - (memEnd & 7), MAX_BLOCK);
  }

  protected override onViews(): void {
    this.memU32 = this.memory.u32;
    // A shared heap's live map is a growable SharedArrayBuffer that another agent may have
    // grown: view it with a fixed length (length-tracking views reload the length on every
    // access), re-made when its size changed.
    const live = this.live as Int32Array | undefined; // unset while the constructor runs
    if (live !== undefined && live.length * 4 !== this.liveBuf.byteLength) {
      this.live = liveView(this.liveBuf);
    }
  }
}
