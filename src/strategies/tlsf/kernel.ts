/**
 * The TLSF kernel: the heap's state (views, list positions, the live and start maps, the
 * front end's stacks) and the operations every public call is made of: the free lists,
 * freeing and merging blocks, pointer validation, and the checks of the in-band words
 * (size words, footers, links) made before any of them is trusted. O(1) each; the size
 * check of a block looks at WINDOW_G granules of the start map at most. Searching, taking
 * and growth are in search.ts; layout and flags in layout.ts; size classes in mapping.ts.
 */

import { type AllocatorOptions, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import {
  ArgumentRangeError,
  DoubleFreeError,
  InvalidPointerError,
  StaleViewError,
} from "../../core/errors.js";
import { StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { isUint32, rejectPointer } from "../../core/validate.js";
import { validateTlsfAttach } from "./attach.js";
import * as layout from "./layout.js";
import {
  FIRST_ALIGN,
  FRONT_CAPACITY,
  FRONT_CLASSES,
  FRONT_MIN_BUDGET,
  FRONT_SHIFT,
  FRONT_WORDS,
  holeBlock,
  liveMapBytes,
  liveView,
  META_U32,
  NO_FRONT,
  sizeOf,
  TLSF_HEADER,
  tombstone,
} from "./layout.js";
import * as mapping from "./mapping.js";
import { FL_COUNT, LIST_COUNT, listOf, MAX_BLOCK, SL_COUNT, SL_LOG2 } from "./mapping.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { FREE_BIT, PREV_FREE_BIT, FRONT_BUDGET_SHIFT } = layout;
const { BLOCK_OVERHEAD, GRANULE_LOG2, MIN_BLOCK } = mapping;
const { END, USED_COUNT, USED_BYTES, SLACK, PEAK, CLEAN_FROM, CACHED, BUDGET } = TLSF_HEADER.word;
const LINK_PREV = 1;
const LINK_NEXT = 2;

/** Which check of in-band words failed (`damaged`). */
const BAD_USED_WORD = 0;
const BAD_FOLLOWER = 1;
const BAD_FOOTER = 2;
const BAD_PREDECESSOR = 3;
const BAD_FREE_WORDS = 4;
const BAD_NEXT_LINK = 5;
const BAD_PREV_LINK = 6;
export const BAD_LISTED = 7;

/**
 * The size check's window: a size read from a block is checked against the start map
 * exactly up to this many granules (no block start between the block and its claimed end);
 * beyond, the window must hold no start and the claimed end must be one.
 */
const WINDOW_G = 1024;

/** How often `onViews` asks for a shared memory's new length before it gives up. */
const MAX_VIEW_POLLS = 10_000_000;

export interface TlsfOptions extends AllocatorOptions {
  /** Grow the memory when no free block fits (default: whenever the memory can grow). */
  grow?: boolean;
  /**
   * With `attach`: the live map of the heap being attached to (`liveMapBuffer` of the handle
   * that made it). Required: the map lives outside the memory, so the bytes alone cannot say
   * which blocks are live.
   */
  liveMap?: SharedArrayBuffer | ArrayBuffer;
  /**
   * Cache freed blocks smaller than 512 bytes per size for the next request of that size
   * (layout.ts, "The front end"). Default false; `Heap` turns it on. Ignored (off) for a
   * shared memory and for an attached handle: the stacks belong to one handle.
   */
  frontEnd?: boolean;
}

export abstract class TlsfKernel extends BaseAllocator {
  protected readonly growable: boolean;
  /** The memory's u32 view: the state words, the lists and the blocks. */
  protected memU32: Uint32Array;
  /** u32 index of the state words in `memU32` (TLSF_HEADER.word). */
  protected readonly sw: number;
  /** u32 index of the FL bitmap; SL bitmaps follow; then the list heads. */
  protected readonly flMap: number;
  protected readonly slMap: number;
  protected readonly heads: number;
  /** First block's start. */
  protected readonly first: number;
  /** The live and start maps (layout.ts), interleaved. */
  protected liveBuf: ArrayBuffer | SharedArrayBuffer;
  protected live: Int32Array;
  /** Whether this handle caches freed small blocks (layout.ts, "The front end"). */
  protected readonly front: boolean;
  /** The front end's stacks; NO_FRONT (capacity 0 everywhere) without a front end. */
  protected readonly fc: Uint32Array;

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
    this.sw = (this.metaAt + TLSF_HEADER.wordsAt) >>> 2;
    this.flMap = this.extraMetaAt >>> 2;
    this.slMap = this.flMap + 1;
    this.heads = this.slMap + FL_COUNT;
    // The first block's pointer is 16-aligned (4 or 12 bytes of pad after dataStart): with
    // block sizes rounded to the alignment asked for (allocAligned), every block of a heap
    // that always asks for 16 then stays 16-aligned, as the traces (glibc's 16) do.
    this.first = alignUp(this.dataStart + 2 * BLOCK_OVERHEAD, FIRST_ALIGN) - BLOCK_OVERHEAD;
    this.front = options.frontEnd === true && !memory.shared && !attach;
    this.fc = this.front ? new Uint32Array(FRONT_WORDS) : NO_FRONT;
    if (this.front) {
      for (let c = MIN_BLOCK >>> GRANULE_LOG2; c < FRONT_CLASSES; c++) {
        this.fc[(c << FRONT_SHIFT) + 1] = FRONT_CAPACITY;
      }
    }
    if (attach) {
      this.liveBuf = validateTlsfAttach(this.memU32, this.sw, this.slots, this.slot0, {
        liveMap: options.liveMap,
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
    if (this.heapEndFor(memory.end) < minEnd && !(this.growable && memory.grow(minEnd + 8))) {
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
    this.memU32[this.sw + CLEAN_FROM] = this.dataStart;
    this.initialise(end);
  }

  /**
   * Lays out an empty heap ending at `end`: one free block and the sentinel, or, where the
   * memory holds pages someone else grew (`memory.foreign`), a free block before and after
   * the used block over each of them (`holeBlock`).
   */
  protected initialise(end: number): void {
    const m = this.memU32;
    const sw = this.sw;
    m.fill(0, this.flMap, this.heads + LIST_COUNT);
    this.live.fill(0);
    if (this.front) for (let i = 0; i < FRONT_WORDS; i += 1 << FRONT_SHIFT) this.fc[i] = 0;
    m[sw + USED_COUNT] = 0;
    m[sw + USED_BYTES] = 0;
    m[sw + SLACK] = 0;
    m[sw + PEAK] = 0;
    m[sw + CACHED] = 0;
    m[sw + BUDGET] = this.front ? FRONT_MIN_BUDGET : 0;
    m[sw + END] = end;
    m.fill(0, this.dataStart >>> 2, this.first >>> 2); // the pad before the first block
    this.setSentinel(end, PREV_FREE_BIT);
    let b = this.first;
    for (const [from, to] of this.memory.foreign) {
      const hole = holeBlock(from, to);
      if (hole.b >= end - BLOCK_OVERHEAD) break;
      this.layFree(b, hole.b - b);
      m[hole.b >>> 2] = hole.size | PREV_FREE_BIT;
      this.setStart(hole.b);
      b = hole.b + hole.size;
    }
    this.layFree(b, end - BLOCK_OVERHEAD - b);
  }

  /** Writes free block `[b, b + size)` (size word, footer, start bit) into its list. */
  protected layFree(b: number, size: number): void {
    const m = this.memU32;
    m[b >>> 2] = size | FREE_BIT;
    m[(b + size - 4) >>> 2] = b;
    this.setStart(b);
    this.insertFree(b, size);
  }

  // ---- in use --------------------------------------------------------------------------------

  /** In use grew by `x` bytes: taken from the slack below the peak, raising the peak past it. */
  protected addInUse(x: number): void {
    const m = this.memU32;
    const at = this.sw + SLACK;
    const slack = m[at] - x;
    if (slack >= 0) {
      m[at] = slack;
    } else {
      m[at] = 0;
      const peak = m[at + (PEAK - SLACK)] - slack;
      m[at + (PEAK - SLACK)] = peak;
      if (this.front && peak >>> FRONT_BUDGET_SHIFT > m[this.sw + BUDGET]) {
        m[this.sw + BUDGET] = peak >>> FRONT_BUDGET_SHIFT;
      }
    }
  }

  // ---- freeing -----------------------------------------------------------------------------

  /** Frees live block `b` (pointer `ptr`, size `size` already checked): merges it into the lists. */
  protected release(ptr: number, b: number, size: number): void {
    this.freeBlock(b, this.memU32[b >>> 2], size);
    const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[(g >>> 5) << 1] &= ~(1 << (g & 31));
    this.memU32[this.sw + SLACK] += size - BLOCK_OVERHEAD;
  }

  /**
   * Returns used block `b` (size word `word`, size `size`, already checked against the start
   * map) to the free lists, merging it with free neighbours. Every in-band word it relies on
   * (the neighbours' size words, a footer, the links) is checked before the first write.
   */
  protected freeBlock(b: number, word: number, size: number): void {
    const m = this.memU32;
    const sw = this.sw;
    const next = b + size;
    const nextWord = m[next >>> 2];
    if ((nextWord & PREV_FREE_BIT) !== 0) this.damaged(b, next, BAD_FOLLOWER);
    const nextFree = (nextWord & FREE_BIT) !== 0;
    const nextSize = sizeOf(nextWord);
    if (nextFree) this.checkFree(next, nextSize, nextWord);
    let prev = 0;
    let prevWord = 0;
    let prevSize = 0;
    if ((word & PREV_FREE_BIT) !== 0) {
      prev = this.freePredecessor(b);
      prevWord = m[prev >>> 2];
      prevSize = sizeOf(prevWord);
    }
    // Checked: now write.
    m[sw + USED_COUNT]--;
    m[sw + USED_BYTES] -= size;
    let start = b;
    let total = size;
    if (nextFree) {
      this.removeFree(next, nextSize);
      this.wipeAbsorbed(next);
      total += nextSize;
    }
    if (prev !== 0) {
      this.removeFree(prev, prevSize);
      start = prev;
      total += prevSize;
      m[prev >>> 2] = total | FREE_BIT | (prevWord & PREV_FREE_BIT);
      // b's size word stays behind in the merged payload as a tombstone: freeing b again
      // is then recognised as a double free.
      m[b >>> 2] = tombstone(b);
      this.clearStart(b);
    } else {
      m[b >>> 2] = total | FREE_BIT;
    }
    m[(start + total - 4) >>> 2] = start;
    m[(start + total) >>> 2] |= PREV_FREE_BIT;
    this.insertFree(start, total);
  }

  /**
   * Shrinks used block `b` from `cur` to `need` bytes, freeing the tail when it is big enough;
   * returns the bytes freed (0 when the tail stays). The caller counts them out of use.
   */
  protected shrinkUsed(b: number, cur: number, need: number): number {
    const rest = cur - need;
    if (rest < MIN_BLOCK) return 0;
    const m = this.memU32;
    const r = b + need;
    let size = rest;
    const next = r + rest;
    const nextWord = m[next >>> 2];
    const nextFree = (nextWord & FREE_BIT) !== 0;
    const nextSize = sizeOf(nextWord);
    if (nextFree) this.checkFree(next, nextSize, nextWord);
    m[b >>> 2] = need | (m[b >>> 2] & PREV_FREE_BIT);
    m[this.sw + USED_BYTES] -= rest;
    if (nextFree) {
      this.removeFree(next, nextSize);
      this.wipeAbsorbed(next);
      size += nextSize;
    } else {
      m[next >>> 2] = nextWord | PREV_FREE_BIT;
    }
    m[r >>> 2] = size | FREE_BIT;
    m[(r + size - 4) >>> 2] = r;
    this.setStart(r);
    this.insertFree(r, size);
    return rest;
  }

  /** Merges free block `b` (already listed) into its free predecessor. */
  protected mergeWithPrevious(b: number, size: number): void {
    const m = this.memU32;
    const prev = this.freePredecessor(b);
    const prevWord = m[prev >>> 2];
    const prevSize = sizeOf(prevWord);
    this.removeFree(b, size);
    this.removeFree(prev, prevSize);
    this.wipeAbsorbed(b);
    // prev's old footer (the word before b) is now inside the merged block too.
    if (b - 4 >= m[this.sw + CLEAN_FROM]) m[(b - 4) >>> 2] = 0;
    const merged = prevSize + size;
    m[prev >>> 2] = merged | FREE_BIT | (prevWord & PREV_FREE_BIT);
    m[(prev + merged - 4) >>> 2] = prev;
    this.insertFree(prev, merged);
  }

  /**
   * The free block before `b` (whose PF bit is set), found through the footer before `b` and
   * checked: a block start, free, ending exactly at `b`, its own words whole.
   */
  private freePredecessor(b: number): number {
    const m = this.memU32;
    const prev = m[(b - 4) >>> 2];
    if (!(prev >= this.first && prev <= b - MIN_BLOCK && (prev & 7) === 4)) {
      this.damaged(b, prev, BAD_FOOTER);
    }
    const prevWord = m[prev >>> 2];
    const prevSize = sizeOf(prevWord);
    if ((prevWord & FREE_BIT) === 0 || prev + prevSize !== b)
      this.damaged(b, prev, BAD_PREDECESSOR);
    this.checkFree(prev, prevSize, prevWord);
    return prev;
  }

  /**
   * A free block absorbed into the block before it leaves its size word and links behind
   * in the merged payload. Above CLEAN_FROM that payload is promised to be zero (allocZeroed
   * skips its fill there), so wipe them; below, leave a tombstone so that a second free of
   * the absorbed block is recognised as a double free. Its start bit goes either way.
   */
  protected wipeAbsorbed(b: number): void {
    const m = this.memU32;
    const i = b >>> 2;
    if (b + 12 > m[this.sw + CLEAN_FROM]) {
      m[i] = 0;
      m[i + LINK_PREV] = 0;
      m[i + LINK_NEXT] = 0;
    } else {
      m[i] = tombstone(b);
    }
    this.clearStart(b);
  }

  // ---- free lists --------------------------------------------------------------------------

  protected insertFree(b: number, size: number): void {
    const m = this.memU32;
    const li = listOf(size);
    const head = m[this.heads + li];
    const i = b >>> 2;
    m[i + LINK_PREV] = 0;
    m[i + LINK_NEXT] = head;
    if (head !== 0) m[(head >>> 2) + LINK_PREV] = b;
    m[this.heads + li] = b;
    const fl = li >>> SL_LOG2;
    m[this.flMap] |= 1 << fl;
    m[this.slMap + fl] |= 1 << (li & (SL_COUNT - 1));
  }

  /** Unlinks free block `b`, whose words `checkFree` has checked. */
  protected removeFree(b: number, size: number): void {
    const m = this.memU32;
    const i = b >>> 2;
    const prev = m[i + LINK_PREV];
    const next = m[i + LINK_NEXT];
    if (next !== 0) m[(next >>> 2) + LINK_PREV] = prev;
    if (prev !== 0) {
      m[(prev >>> 2) + LINK_NEXT] = next;
      return;
    }
    const li = listOf(size);
    m[this.heads + li] = next;
    if (next === 0) {
      const fl = li >>> SL_LOG2;
      const bits = m[this.slMap + fl] & ~(1 << (li & (SL_COUNT - 1)));
      m[this.slMap + fl] = bits;
      if (bits === 0) m[this.flMap] &= ~(1 << fl);
    }
  }

  // ---- checks of in-band words -------------------------------------------------------------

  /**
   * Checks free block `f` (size word `word`, size `size`) before its words are trusted: it
   * ends inside the heap, its footer points back at it, and its links lead to blocks that
   * link back to it (or it heads its list): the checks glibc makes before unlinking a chunk.
   * A footer or a link can only point back by chance (footers hold their own block's start,
   * which no other block's words hold). Poisons the heap on a mismatch.
   */
  protected checkFree(f: number, size: number, word: number): void {
    const m = this.memU32;
    const end = f + size;
    if (size < MIN_BLOCK || end > m[this.sw + END] - BLOCK_OVERHEAD || m[(end - 4) >>> 2] !== f) {
      this.damaged(f, word, BAD_FREE_WORDS);
    }
    const i = f >>> 2;
    const prev = m[i + LINK_PREV];
    const next = m[i + LINK_NEXT];
    if (next !== 0 && m[(next >>> 2) + LINK_PREV] !== f) this.damaged(f, next, BAD_NEXT_LINK);
    if (prev === 0 ? m[this.heads + listOf(size)] !== f : m[(prev >>> 2) + LINK_NEXT] !== f) {
      this.damaged(f, prev, BAD_PREV_LINK);
    }
  }

  /**
   * The size of used block `b` (live or held by the front end), its size word checked
   * first: used, at least MIN_BLOCK, inside the heap, and ending where the next block starts
   * (exactly up to WINDOW_G granules; beyond, no start in the window and one at the claimed
   * end). Poisons the heap otherwise.
   */
  protected usedSize(b: number): number {
    const m = this.memU32;
    const word = m[b >>> 2];
    const s = sizeOf(word);
    if ((word & FREE_BIT) !== 0 || s < MIN_BLOCK || b + s > m[this.sw + END] - BLOCK_OVERHEAD) {
      this.badBlock(b, word);
    }
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    const k = s >>> GRANULE_LOG2;
    if (k < 64) {
      if (!this.endsAt(g, k)) this.badBlock(b, word);
    } else if (k <= WINDOW_G) {
      if (this.nextStart(g, g + k) !== g + k) this.badBlock(b, word);
    } else if (this.nextStart(g, g + WINDOW_G) !== -1 || !this.isStart(b + s)) {
      this.badBlock(b, word);
    }
    return s;
  }

  protected badBlock(b: number, word: number): never {
    return this.damaged(b, word, BAD_USED_WORD);
  }

  /**
   * Poisons the heap for damaged in-band words found at block `b` (`x`: the word or address
   * that gave it away; `what`: which check failed). The messages are built here, out of the
   * hot paths, so that the checks stay small enough for the engine to inline.
   */
  protected damaged(b: number, x: number, what: number): never {
    switch (what) {
      case BAD_FOLLOWER:
        return this.corrupt(`block ${x} after used block ${b} says its predecessor is free`);
      case BAD_FOOTER:
        return this.corrupt(`block ${b}: the footer before it holds ${x}, not a block start`);
      case BAD_PREDECESSOR:
        return this.corrupt(
          `block ${b}: its free predecessor ${x} has size word ${this.memU32[x >>> 2]}`,
        );
      case BAD_FREE_WORDS:
        return this.corrupt(`free block ${b}: size word ${x} or its footer is damaged`);
      case BAD_NEXT_LINK:
        return this.corrupt(`free block ${b}: next link ${x} does not link back`);
      case BAD_PREV_LINK:
        return this.corrupt(`free block ${b}: previous link ${x} does not link back`);
      case BAD_LISTED:
        return this.corrupt(
          `block ${b} on a free list has size word ${x}, not a free block that fits`,
        );
      default:
        return this.corrupt(
          `used block ${b}: size word ${x} does not end where the next block starts`,
        );
    }
  }

  // ---- the start map -----------------------------------------------------------------------

  /** Whether `b` is where a block (or the sentinel) starts: ≡ 4 mod 8, in the heap, marked. */
  protected isStart(b: number): boolean {
    if ((b & 7) !== 4 || b < this.first || b > this.memU32[this.sw + END] - BLOCK_OVERHEAD) {
      return false;
    }
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    return (this.live[((g >>> 5) << 1) + 1] & (1 << (g & 31))) !== 0;
  }

  protected setStart(b: number): void {
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    this.live[((g >>> 5) << 1) + 1] |= 1 << (g & 31);
  }

  protected clearStart(b: number): void {
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    this.live[((g >>> 5) << 1) + 1] &= ~(1 << (g & 31));
  }

  /** The first granule after `g` whose start bit is set, if it is at most `limit`; else −1. */
  protected nextStart(g: number, limit: number): number {
    const live = this.live;
    let x = g + 1;
    let w = live[((x >>> 5) << 1) + 1] >>> (x & 31);
    while (w === 0) {
      x = (x | 31) + 1;
      if (x > limit) return -1;
      w = live[((x >>> 5) << 1) + 1] >>> 0;
    }
    x += 31 - Math.clz32(w & -w);
    return x <= limit ? x : -1;
  }

  /**
   * Whether the first block start after granule `g` is at `g + k` (0 < k < 64: a block below
   * 512 bytes), from the two or three start words the range touches.
   */
  protected endsAt(g: number, k: number): boolean {
    const live = this.live;
    const x = g + 1;
    const o = x & 31;
    const d = k - 1 + o; // the target's bit, counted from the start of x's word
    const wi = ((x >>> 5) << 1) + 1;
    let w = live[wi] & (-1 << o);
    if (d >= 32) {
      if (w !== 0) return false;
      w = live[wi + 2];
      if (d >= 64) {
        if (w !== 0) return false;
        w = live[wi + 4];
      }
    }
    return (w & -w) === 1 << (d & 31);
  }

  // ---- pointers ----------------------------------------------------------------------------

  /** The block of the live block at `ptr`; throws (changing nothing) for anything else. */
  protected blockOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const end = this.memU32[this.sw + END];
    if (ptr >= this.first + BLOCK_OVERHEAD && ptr < end && (ptr & 7) === 0) {
      const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
      if ((this.live[(g >>> 5) << 1] & (1 << (g & 31))) !== 0) return ptr - BLOCK_OVERHEAD;
    }
    return this.notLive(ptr);
  }

  /** Throws the error for `ptr`, which `blockOf` found not to be a live block. */
  private notLive(ptr: number): never {
    const end = this.memU32[this.sw + END];
    if (ptr < this.first + BLOCK_OVERHEAD || ptr >= end || (ptr & 7) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not an 8-aligned address inside this TlsfAllocator's heap ` +
          `[${this.first + BLOCK_OVERHEAD}, ${end})`,
      );
    }
    if (this.isFreedBlock(ptr - BLOCK_OVERHEAD)) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
    }
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not the start of a live block of this TlsfAllocator`,
    );
  }

  /**
   * Whether `b` (not live) is where a freed block starts: a block start in the start map (a
   * free block, or one the front end holds) or a tombstone left by a merge. Only used to
   * name the error; user bytes that happen to look like a tombstone are reported as a double
   * free instead of an invalid pointer, and the heap is unchanged in both cases.
   */
  protected isFreedBlock(b: number): boolean {
    return this.isStart(b) || this.memU32[b >>> 2] === tombstone(b);
  }

  // ---- small helpers -----------------------------------------------------------------------

  /** Writes the sentinel (size 0, used, with `flags`) before `end` and marks it a start. */
  protected setSentinel(end: number, flags: number): void {
    this.memU32[(end - BLOCK_OVERHEAD) >>> 2] = flags;
    this.setStart(end - BLOCK_OVERHEAD);
  }

  /** The heap's end for a memory ending at `memEnd`: 8-aligned, at most 2^32 − 8. */
  protected heapEndFor(memEnd: number): number {
    return Math.min(memEnd - (memEnd & 7), MAX_BLOCK);
  }

  protected override onViews(): void {
    this.memU32 = this.memory.u32;
    const live = this.live as Int32Array | undefined; // unset while the constructor runs
    if (live === undefined) return;
    // A shared WebAssembly.Memory grown by another agent can still show this agent its old
    // length for a while: the engine updates other agents' buffers when they next check for
    // interrupts (measured in Node 20: 19 of 107 growths seen through an atomic were not yet
    // visible, for up to ~3,800 polls). The heap's END, in the metadata every view covers,
    // says how far the memory must reach: poll until it does.
    for (let polls = 0; this.memU32[this.sw + END] > this.memory.end; polls++) {
      if (polls === MAX_VIEW_POLLS) {
        throw new StaleViewError(
          `TlsfAllocator: the heap ends at ${this.memU32[this.sw + END]}, but this agent's ` +
            `view of the memory still ends at ${this.memory.end}`,
        );
      }
      this.memory.refresh();
      this.memU32 = this.memory.u32;
    }
    // A shared heap's live map is a growable SharedArrayBuffer that another agent may have
    // grown: view it with a fixed length (length-tracking views reload the length on every
    // access), re-made when its size changed.
    if (live.length * 4 !== this.liveBuf.byteLength) this.live = liveView(this.liveBuf);
  }
}
