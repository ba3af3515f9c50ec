/**
 * The TLSF kernel: the heap's state (views, list positions, the live and start maps, the
 * front end's stacks), laying out an empty heap, the in-use count, the free lists and the
 * start map. O(1) each but `initialise` (O(L + H), as reset) and `nextStart` (at most its
 * limit's granules). Freeing, merging and the checks of in-band words are in blocks.ts;
 * searching, taking and growth in search.ts; layout and flags in layout.ts; size classes
 * in mapping.ts.
 */

import { type AllocatorOptions, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { ArgumentRangeError, StaleViewError } from "../../core/errors.js";
import { StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { validateTlsfAttach } from "./attach.js";
import * as layout from "./layout.js";
import {
  FIRST_ALIGN,
  FRONT_CAPACITY,
  FRONT_CLASSES,
  FRONT_MIN_BUDGET,
  FRONT_SHIFT,
  FRONT_WORDS,
  freshFreeBlocks,
  liveMapBytes,
  liveView,
  META_U32,
  NO_FRONT,
  summaryWords,
  TLSF_HEADER,
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

/** The summary of a handle that keeps none. */
const NO_SUMMARY = new Int32Array(0);

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
  /**
   * The start map's summary (layout.ts `summaryWords`), kept when `front` (this handle owns
   * the heap alone); NO_SUMMARY otherwise.
   */
  protected sum: Int32Array = NO_SUMMARY;

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
    // Room for one minimal block and the sentinel, growing the memory if it must (minEnd is
    // 8-aligned, FIRST being 4 past a multiple of 8, so a memory ending there is enough).
    const minEnd = this.first + MIN_BLOCK + BLOCK_OVERHEAD;
    if (this.heapEndFor(memory.end) < minEnd && !(this.growable && memory.grow(minEnd))) {
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
    if (this.front) this.sum = new Int32Array(summaryWords(this.liveBuf.byteLength));
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
    this.sum.fill(0);
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
    const blocks = freshFreeBlocks(this.first, end, this.memory.foreign);
    for (let i = 0; i < blocks.length; i++) {
      const [b, size] = blocks[i];
      this.layFree(b, size);
      if (i + 1 < blocks.length) {
        // Someone else's pages follow: a used block over them, up to the next free block.
        const h = b + size;
        m[h >>> 2] = (blocks[i + 1][0] - h) | PREV_FREE_BIT;
        this.setStart(h);
      }
    }
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
    const at = this.sw + SLACK;
    const slack = this.memU32[at] - x;
    if (slack >= 0) this.memU32[at] = slack;
    else this.raisePeak(-slack);
  }

  /** The slack ran out by `over` bytes: the peak rises by that much (and the front's budget). */
  private raisePeak(over: number): void {
    const m = this.memU32;
    const sw = this.sw;
    m[sw + SLACK] = 0;
    const peak = m[sw + PEAK] + over;
    m[sw + PEAK] = peak;
    if (this.front && peak >>> FRONT_BUDGET_SHIFT > m[sw + BUDGET]) {
      m[sw + BUDGET] = peak >>> FRONT_BUDGET_SHIFT;
    }
  }

  // ---- free lists --------------------------------------------------------------------------

  /** Links free block `b` (size `size`) at the head of its list and sets the bitmap bits. */
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

  /**
   * Links free block `t` at the head of list `li`, which is not empty: its bitmap bits are
   * set already and stay. For a block that replaces another in the same list.
   */
  protected pushFree(t: number, li: number): void {
    const m = this.memU32;
    const h = this.heads + li;
    const head = m[h];
    const i = t >>> 2;
    m[i + LINK_PREV] = 0;
    m[i + LINK_NEXT] = head;
    if (head !== 0) m[(head >>> 2) + LINK_PREV] = t;
    m[h] = t;
  }

  /**
   * Moves listed free block `f` (links checked) to the head of its list `li`, as removing
   * and inserting it would, but with the bitmaps left alone: for a block that grows (a
   * merge) and stays in its list.
   */
  protected toHead(f: number, li: number): void {
    const m = this.memU32;
    const i = f >>> 2;
    const prev = m[i + LINK_PREV];
    if (prev === 0) return; // it heads the list already
    const next = m[i + LINK_NEXT];
    if (next !== 0) m[(next >>> 2) + LINK_PREV] = prev;
    m[(prev >>> 2) + LINK_NEXT] = next;
    this.pushFree(f, li);
  }

  /** Unlinks free block `b`, whose words `checkFree` has checked. */
  protected removeFree(b: number, size: number): void {
    const m = this.memU32;
    const i = b >>> 2;
    const prev = m[i + LINK_PREV];
    const next = m[i + LINK_NEXT];
    if (next !== 0) m[(next >>> 2) + LINK_PREV] = prev;
    if (prev !== 0) m[(prev >>> 2) + LINK_NEXT] = next;
    else this.unhead(listOf(size), next);
  }

  /** List `li`'s head is unlinked: `next` heads it now; its bitmap bits clear when empty. */
  protected unhead(li: number, next: number): void {
    const m = this.memU32;
    m[this.heads + li] = next;
    if (next === 0) {
      const fl = li >>> SL_LOG2;
      const bits = m[this.slMap + fl] & ~(1 << (li & (SL_COUNT - 1)));
      m[this.slMap + fl] = bits;
      if (bits === 0) m[this.flMap] &= ~(1 << fl);
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
    const k = g >>> 5;
    this.live[(k << 1) + 1] |= 1 << (g & 31);
    if (this.front) this.sum[k >>> 5] |= 1 << (k & 31);
  }

  protected clearStart(b: number): void {
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    const k = g >>> 5;
    const w = this.live[(k << 1) + 1] & ~(1 << (g & 31));
    this.live[(k << 1) + 1] = w;
    if (w === 0 && this.front) this.sum[k >>> 5] &= ~(1 << (k & 31));
  }

  /**
   * Whether a start bit is set in granules (g, limit], `limit` inside the map: as
   * `nextStart(g, limit) !== -1`, but with the summary (when kept) standing for the whole
   * start words between the first and the last, so a window of 1,024 granules reads two start
   * words and one or two summary words instead of 33 start words.
   */
  protected startWithin(g: number, limit: number): boolean {
    if (!this.front) return this.nextStart(g, limit) !== -1;
    const live = this.live;
    const sum = this.sum;
    const x = g + 1;
    const k0 = x >>> 5;
    const k1 = limit >>> 5;
    const low = -1 << (x & 31); // the bits of word k0 from x up
    const high = ~(-2 << (limit & 31)); // the bits of word k1 up to limit
    if (k0 === k1) return (live[(k0 << 1) + 1] & low & high) !== 0;
    if ((live[(k0 << 1) + 1] & low) !== 0) return true;
    // The whole words k0 + 1 … k1 − 1: their summary bits.
    const a = k0 + 1;
    const z = k1 - 1;
    if (a <= z) {
      const s0 = a >>> 5;
      const s1 = z >>> 5;
      const from = -1 << (a & 31);
      const to = ~(-2 << (z & 31));
      if (s0 === s1) {
        if ((sum[s0] & from & to) !== 0) return true;
      } else {
        if ((sum[s0] & from) !== 0 || (sum[s1] & to) !== 0) return true;
        for (let s = s0 + 1; s < s1; s++) if (sum[s] !== 0) return true;
      }
    }
    // The last word, read only when the summary says it holds a start.
    if ((sum[k1 >>> 5] & (1 << (k1 & 31))) === 0) return false;
    return (live[(k1 << 1) + 1] & high) !== 0;
  }

  /** The first granule after `g` whose start bit is set, if it is at most `limit`; else −1. */
  protected nextStart(g: number, limit: number): number {
    const live = this.live;
    let x = g + 1;
    let w = live[((x >>> 5) << 1) + 1] >>> (x & 31);
    if (w === 0) {
      // Whole start words after x's (every second word of the map), up to the one holding
      // `limit` and the map's end: four at a time with one OR, then one at a time.
      let wi = ((x >>> 5) << 1) + 3;
      const last = Math.min(((limit >>> 5) << 1) + 1, live.length - 1);
      while (wi + 6 <= last && (live[wi] | live[wi + 2] | live[wi + 4] | live[wi + 6]) === 0) {
        wi += 8;
      }
      while (wi <= last && live[wi] === 0) wi += 2;
      if (wi > last) return -1;
      w = live[wi];
      x = (wi - 1) << 4; // the word's first granule: (wi − 1) / 2 × 32
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

  /**
   * The entry guard of the methods off the hot path, and the views checked against the
   * heap's end: another handle of this heap (`attach`) may have grown it past what this
   * handle's views show.
   */
  protected override enter(): void {
    super.enter();
    if (this.viewBehind()) this.syncViews();
  }

  /** Whether this handle's view of the memory ends before the heap (another handle grew it). */
  protected viewBehind(): boolean {
    return this.memU32[this.sw + END] >>> 2 > this.memU32.length;
  }

  protected override onViews(): void {
    this.memU32 = this.memory.u32;
    const live = this.live as Int32Array | undefined; // unset while the constructor runs
    if (live === undefined) return;
    // A shared WebAssembly.Memory grown by another agent can still show this agent its old
    // length for a while: the engine updates other agents' buffers when they next check for
    // interrupts (measured in Node 20: 19 of 107 growths seen through an atomic were not yet
    // visible, for up to ~3,800 polls). The heap's END, in the metadata every view covers,
    // says how far the memory must reach: poll until it does. Only a shared memory can lag:
    // any other memory shows its growth at once, so an END past its end is a damaged END.
    // A poisoned heap is not waited for: its caller throws HeapPoisonedError next.
    for (let polls = 0; this.memU32[this.sw + END] > this.memory.end; polls++) {
      if (this.poisonedHeader()) return;
      if (!this.memory.shared) {
        this.corrupt(
          `END ${this.memU32[this.sw + END]} is past the memory's end ${this.memory.end}`,
        );
      }
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
