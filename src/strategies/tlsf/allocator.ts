/**
 * TlsfAllocator: two-level segregated fit (Masmano et al., "TLSF: a new dynamic memory
 * allocator for real-time systems", 2004). Blocks of any size, freed in any order, in O(1):
 * no loop in `alloc` or `dealloc` whose length depends on the heap. memkit's general-purpose
 * default, and the engine of `Heap`, which adds a front end: per-size stacks of recently
 * freed small blocks served without searching, splitting or merging.
 *
 * Choose it when sizes vary and lifetimes are unknown: it is fast, its worst case is bounded,
 * and it coalesces immediately, so fragmentation stays low. Choose a pool or slab when every
 * block has one size, a bump or stack when blocks die together.
 *
 * The folder: mapping.ts (size classes), layout.ts (the memory picture: header, block
 * fields, flags, the live and start maps, the front end), kernel.ts (the state, the free
 * lists, the start map), blocks.ts (freeing and merging, pointer validation, the checks of
 * in-band words), search.ts (finding, taking, growth, the front end's stacks), check.ts (the
 * invariant walker), attach.ts (validating a heap before attaching), and this file, the
 * public handle.
 *
 * ## Memory picture (layout.ts has the full drawing)
 *
 *     | header + lists | pad | block | block | … | block | sentinel |
 *     used block  | size|flags | payload (size − 4 usable bytes) ...                  |
 *     free block  | size|flags | list prev | list next | ...        | footer = own start |
 *
 * ## Cost
 * | operation   | best     | worst    | notes                                                |
 * | ----------- | -------- | -------- | ---------------------------------------------------- |
 * | alloc       | O(1)     | O(1)     | the front end's stack, else two bitmap scans (`Math.clz32`) and one split |
 * | dealloc     | O(1)     | O(1)     | onto the front end's stack, else merge with both neighbours; the size word checked against the start map (at most WINDOW_G granules; with the front end, through the map's summary: at most four words) |
 * | realloc     | O(1)     | O(n)     | in place when shrinking or the next block is free; else copy |
 * | reset       | O(L + H) | O(L + H) | clears the L = 800 list heads and the maps (H = heap bytes / 128 words) |
 * | growth      | O(1)     | O(1)     | new memory becomes a free block merged with the last one; the maps are copied when they must grow (doubling: O(1) amortised) |
 * | flush       | O(k)     | O(k)     | the k blocks the front end holds go back to the lists, before growth and before cutting the heap's end |
 *
 * Fragmentation: good-fit with immediate coalescing of every block the front end does not
 * hold; no two free blocks are ever adjacent. Per-block overhead: 4 bytes of size word +
 * rounding to 8, + 2 bits in the maps. The front end holds at most BUDGET bytes
 * (layout.ts): that much more memory may be in blocks that only their own size reuses.
 *
 * ## Invariants (`check()`, check.ts)
 * Every block lies between the first block and the sentinel, sizes are multiples of 8 and at
 * least MIN_BLOCK; no two free blocks are adjacent; the start map marks exactly the block
 * starts, the live map exactly the live blocks; the front end's stacks hold distinct used,
 * non-live blocks of their class's size, within the capacities and the budget; the lists
 * and bitmaps hold exactly the free blocks, each in the list of its size; the state words
 * match the walk; with the front end, the start map's summary marks exactly its non-zero
 * start words.
 */

import type { AllocatorStats } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import type { BlockLayout } from "../../core/layout.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  checkSizeFits,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
} from "../../core/validate.js";
import { ownedMemory } from "../../memory/memory.js";
import { checkTlsf } from "./check.js";
import type { TlsfOptions } from "./kernel.js";
import * as layout from "./layout.js";
import {
  FIRST_ALIGN,
  FRONT_CLASSES,
  freshFreeBlocks,
  holeBytes,
  LINK_NEXT,
  NO_FRONT,
  sizeOf,
  TLSF_HEADER,
  TLSF_METADATA_BYTES,
} from "./layout.js";
import * as mapping from "./mapping.js";
import { blockSizeFor, FL_COUNT, GRANULE, listMinSize, SL_COUNT, SL_LOG2 } from "./mapping.js";
import { FALLBACK_SCAN, TlsfSearch } from "./search.js";

export type { TlsfOptions } from "./kernel.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { FREE_BIT, PREV_FREE_BIT, FRONT_CAPACITY, FRONT_LIMIT, FRONT_SHIFT } = layout;
const { BLOCK_OVERHEAD, GRANULE_LOG2, MIN_BLOCK } = mapping;
const { END, USED_COUNT, USED_BYTES, SLACK, PEAK, CLEAN_FROM, CACHED, BUDGET } = TLSF_HEADER.word;
const ALIGN8 = 8;
const ALIGN16 = 16;
/** The size bits of a size word below FRONT_LIMIT (bits 3 … 8). */
const FRONT_SIZE_BITS = FRONT_LIMIT - (1 << GRANULE_LOG2);
if (ALIGN8 !== DEFAULT_ALIGN || ALIGN16 !== FIRST_ALIGN) {
  throw new Error("tlsf: ALIGN8 and ALIGN16 disagree with core/validate.ts and layout.ts");
}

/**
 * A general-purpose allocator for blocks of any size freed in any order, in O(1): two-level
 * segregated fit (TLSF), with free blocks merged at once. Fast, with a bounded worst case
 * and low fragmentation: use it when sizes vary and lifetimes are unknown. It grows a
 * growable memory when no free block fits. `Heap` is a TLSF with C's names and more.
 *
 * @example
 * ```ts
 * import { TlsfAllocator, WasmMemory } from "memkit";
 *
 * const tlsf = new TlsfAllocator(1 << 20); // owns a 1 MiB buffer
 * const a = tlsf.alloc(100);
 * const b = tlsf.alloc(5000, 64); // 64-aligned
 * tlsf.dealloc(a);
 * console.log(tlsf.realloc(b, 9000) !== 0); // true: grown in place or moved
 * console.log(tlsf.stats().liveBlocks); // 1
 *
 * // On a memory that grows: 1 page now, up to 16 pages (1 MiB).
 * const growing = new TlsfAllocator(WasmMemory.create(1, 16));
 * console.log(growing.alloc(200_000) !== 0); // true: the memory grew to fit it
 * ```
 */
export class TlsfAllocator extends TlsfSearch {
  readonly name: string = "TlsfAllocator";
  /** Bytes of metadata at the start of the region. */
  static readonly metadataSize: number = TLSF_METADATA_BYTES;
  /**
   * What a block costs beyond its request: a 4-byte size word before the pointer, sizes in
   * multiples of 8 (of the alignment asked, when larger), 16 bytes at least. Pass it to
   * `footprintFloor` for the least footprint this layout allows on a trace.
   */
  static readonly blockLayout: BlockLayout = Object.freeze({
    header: BLOCK_OVERHEAD,
    granule: GRANULE,
    minBlock: MIN_BLOCK,
  });

  /**
   * `new TlsfAllocator(capacity)` owns a fresh, zeroed buffer with room for blocks of
   * `capacity` bytes in all; `new TlsfAllocator(memory)` manages any memory with bytes.
   *
   * @param memoryOrCapacity - bytes of blocks in a new buffer, or the memory to manage
   * @param options - growth, the small-block cache, `attach`
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or a
   *   memory without bytes (offset-only)
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or
   *   `ERR_HEAP_CONFIG` with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: TlsfOptions = {}) {
    super(
      typeof memoryOrCapacity === "number"
        ? ownedMemory(memoryOrCapacity + 16, TLSF_METADATA_BYTES)
        : memoryOrCapacity,
      options,
    );
  }

  /**
   * Attaches a second handle (another worker) to the TLSF heap in `memory`, adopting its live
   * map (`liveMapBuffer` of the first handle). Validated read-only; see attach.ts.
   */
  static attach(memory: Memory, liveMap: SharedArrayBuffer | ArrayBuffer): TlsfAllocator {
    return new TlsfAllocator(memory, { attach: true, liveMap });
  }

  /** The buffer of the live and start maps, to hand to `attach` (shared for a shared heap). */
  get liveMapBuffer(): ArrayBuffer | SharedArrayBuffer {
    return this.liveBuf;
  }

  // ---- the contract ------------------------------------------------------------------------

  alloc(size: number, align: number = ALIGN8): number {
    // The fast path, kept small so that callers inline it: the heap in order, alignment 8 or
    // 16, a size whose block the front end caches; then its class's top block if it has one
    // aligned as asked. Everything else goes the general way.
    if (
      !this.blocked() &&
      (align === ALIGN8 || align === ALIGN16) &&
      typeof size === "number" &&
      size >>> 0 === size &&
      size <= FRONT_LIMIT - BLOCK_OVERHEAD - align
    ) {
      const bsize = size < MIN_BLOCK - BLOCK_OVERHEAD ? MIN_BLOCK : (size + 3 + align) & -align;
      const fc = this.fc;
      const i = bsize << (FRONT_SHIFT - GRANULE_LOG2);
      const n = fc[i];
      if (n !== 0) {
        const b = fc[i + 1 + n];
        if (((b + BLOCK_OVERHEAD) & (align - 1)) === 0) return this.pop(i, n, b, bsize);
      }
      return this.allocBlock(size, bsize, align);
    }
    return this.allocGeneral(size, align);
  }

  /** alloc's general path: the entry check, the arguments, any size and alignment. */
  private allocGeneral(size: number, align: number): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== ALIGN8) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align > ALIGN8) return this.allocAligned(size, align);
    }
    // blockSizeFor(size), with int arithmetic while it cannot overflow.
    let bsize =
      size <= 0x7fffffe0
        ? (size + BLOCK_OVERHEAD + GRANULE - 1) & ~(GRANULE - 1)
        : blockSizeFor(size);
    if (bsize < MIN_BLOCK) bsize = MIN_BLOCK;
    if (bsize < FRONT_LIMIT) {
      const i = bsize << (FRONT_SHIFT - GRANULE_LOG2);
      const n = this.fc[i];
      if (n !== 0) return this.pop(i, n, this.fc[i + 1 + n], bsize);
    }
    return this.allocBlock(size, bsize, ALIGN8);
  }

  override allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    // Read before allocating: a block at or above it was never handed out.
    const clean = this.memory.freshZero
      ? this.memU32[this.sw + CLEAN_FROM]
      : Number.POSITIVE_INFINITY;
    const ptr = this.alloc(size, align);
    if (ptr === 0 || size === 0) return ptr;
    const u8 = this.memory.u8;
    const end = ptr + size;
    if (ptr >= clean) {
      // Never handed out: only words this allocator wrote can be non-zero: the free-list
      // links (first 8 bytes) and a footer (last word of the block).
      u8.fill(0, ptr, Math.min(end, ptr + 8));
      const footer = ptr - BLOCK_OVERHEAD + sizeOf(this.memU32[(ptr - BLOCK_OVERHEAD) >>> 2]) - 4;
      if (footer < end && footer >= ptr) u8.fill(0, footer, Math.min(end, footer + 4));
    } else {
      u8.fill(0, ptr, end);
    }
    return ptr;
  }

  dealloc(ptr: number, size?: number): void {
    // The fast path, kept small so that callers inline it: a live block the front end
    // caches (small, both neighbours used), its in-band size word checked against the start
    // map, room on its stack (every class of a front end has FRONT_CAPACITY) and in the
    // budget. Everything else, and every failed check, goes the general way, which checks
    // again and throws the right error.
    const fc = this.fc;
    if (fc !== NO_FRONT && size === undefined && typeof ptr === "number" && !this.blocked()) {
      // The pointer as a uint32 once, and int arithmetic from here on (a pointer read from a
      // Float64Array arrives as a double): everything below only uses its low 32 bits.
      const p = ptr >>> 0;
      const g = (p - this.dataStart) >>> GRANULE_LOG2;
      const live = this.live;
      const lw = (g >>> 5) << 1;
      const bits = live[lw];
      const mask = 1 << (g & 31);
      if ((bits & mask) !== 0 && p === ptr && (p & 7) === 0) {
        const b = p - BLOCK_OVERHEAD;
        const m = this.memU32;
        const word = m[b >>> 2];
        const s = word & FRONT_SIZE_BITS;
        const i = s << (FRONT_SHIFT - GRANULE_LOG2);
        const n = fc[i];
        const sw = this.sw;
        const cached = m[sw + CACHED] + s;
        if (
          (word & ~FRONT_SIZE_BITS) === 0 &&
          s >= MIN_BLOCK &&
          (m[(b + s) >>> 2] & FREE_BIT) === 0 &&
          n < FRONT_CAPACITY &&
          cached <= m[sw + BUDGET] &&
          this.endsAt(g, s >>> GRANULE_LOG2)
        ) {
          fc[i + n + 2] = b;
          fc[i] = n + 1;
          live[lw] = bits & ~mask;
          m[sw + SLACK] += s - BLOCK_OVERHEAD;
          m[sw + CACHED] = cached;
          return;
        }
      }
    }
    this.deallocGeneral(ptr, size);
  }

  /** dealloc's general path: the entry check, the pointer, the size, then TLSF's free. */
  private deallocGeneral(ptr: number, size: number | undefined): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const b = this.blockOf(ptr);
    const s = this.usedSize(b);
    if (size !== undefined) checkSizeFits(ptr, size, s - BLOCK_OVERHEAD);
    if (s < FRONT_LIMIT) {
      const fc = this.fc;
      const i = s << (FRONT_SHIFT - GRANULE_LOG2);
      const n = fc[i];
      const m = this.memU32;
      const sw = this.sw;
      if (
        (m[b >>> 2] & PREV_FREE_BIT) === 0 &&
        (m[(b + s) >>> 2] & FREE_BIT) === 0 &&
        n < fc[i + 1] &&
        m[sw + CACHED] + s <= m[sw + BUDGET]
      ) {
        fc[i + n + 2] = b;
        fc[i] = n + 1;
        const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
        this.live[(g >>> 5) << 1] &= ~(1 << (g & 31));
        m[sw + SLACK] += s - BLOCK_OVERHEAD;
        m[sw + CACHED] += s;
        return;
      }
    }
    this.release(ptr, b, s);
  }

  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    // The pointer first: a freed or foreign pointer is an error even with a huge new size.
    const b = this.blockOf(ptr); // checks that ptr is a number
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const m = this.memU32;
    const cur = this.usedSize(b);
    const word = m[b >>> 2];
    // Sizes rounded to the alignment, as allocAligned's fast path does, keep the blocks of a
    // heap that asks for one alignment aligned after resizing too.
    const need =
      align > ALIGN8 && align <= FIRST_ALIGN
        ? alignUp(blockSizeFor(newSize), align)
        : blockSizeFor(newSize);
    if (ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      if (need <= cur) {
        m[this.sw + SLACK] += this.shrinkUsed(b, cur, need);
        return ptr;
      }
      const next = b + cur;
      const nextWord = m[next >>> 2];
      const nextSize = sizeOf(nextWord);
      if ((nextWord & FREE_BIT) !== 0 && cur + nextSize >= need) {
        // Grow into the free block after this one, then give back what is left over.
        this.checkFree(next, nextSize, nextWord);
        this.removeFree(next, nextSize);
        this.wipeAbsorbed(next);
        const merged = cur + nextSize;
        m[b >>> 2] = merged | (word & PREV_FREE_BIT);
        m[(b + merged) >>> 2] &= ~PREV_FREE_BIT;
        m[this.sw + USED_BYTES] += nextSize;
        const rest = this.shrinkUsed(b, merged, need);
        const end = b + merged - rest;
        if (end > m[this.sw + CLEAN_FROM]) m[this.sw + CLEAN_FROM] = end;
        this.addInUse(nextSize - rest);
        return ptr;
      }
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    const u8 = this.memory.u8;
    u8.copyWithin(to, ptr, ptr + Math.min(cur - BLOCK_OVERHEAD, newSize));
    this.dealloc(ptr);
    return to;
  }

  usableSize(ptr: number): number {
    this.enter();
    return this.usedSize(this.blockOf(ptr)) - BLOCK_OVERHEAD;
  }

  reset(): void {
    this.enter();
    const m = this.memU32;
    m[this.sw + CLEAN_FROM] = m[this.sw + END]; // every byte may have been written
    this.initialise(m[this.sw + END]);
  }

  stats(): AllocatorStats {
    this.enter();
    const m = this.memU32;
    const sw = this.sw;
    const capacity = this.memory.end - this.memory.start;
    const end = m[sw + END];
    const inUse = m[sw + PEAK] - m[sw + SLACK];
    const holes = holeBytes(this.memory.foreign, end); // someone else's pages: overhead
    let cachedBlocks = 0;
    let cachedUsable = 0;
    let largestCached = 0;
    for (let c = MIN_BLOCK >>> GRANULE_LOG2; c < FRONT_CLASSES && this.front; c++) {
      const n = this.fc[c << FRONT_SHIFT];
      cachedBlocks += n;
      cachedUsable += n * ((c << GRANULE_LOG2) - BLOCK_OVERHEAD);
      if (n !== 0) largestCached = (c << GRANULE_LOG2) - BLOCK_OVERHEAD;
    }
    const liveBlocks = m[sw + USED_COUNT] - cachedBlocks;
    if (liveBlocks === 0 && cachedBlocks !== 0) {
      // Every block is free or held by the front end, which gives them all back before
      // the heap would grow: the heap serves what a fresh one of this size does, one free
      // block between each two blocks over someone else's pages (as `initialise` lays out).
      let free = 0;
      let largest = 0;
      for (const [, size] of freshFreeBlocks(this.first, end, this.memory.foreign)) {
        free += size - BLOCK_OVERHEAD;
        largest = Math.max(largest, size - BLOCK_OVERHEAD);
      }
      return {
        capacity,
        inUse: 0,
        free,
        overhead: capacity - free,
        liveBlocks: 0,
        peakInUse: m[sw + PEAK],
        largestFree: largest,
      };
    }
    // Every byte between the first block and the sentinel is in a used or a free block; the
    // free blocks are counted by walking the lists (stats is not on the hot path). Blocks the
    // front end holds count as free: later allocations of their size take them as they are.
    const freeBytes = end - BLOCK_OVERHEAD - this.first - m[sw + USED_BYTES] - holes;
    const free = Math.max(0, freeBytes - this.countFreeBlocks() * BLOCK_OVERHEAD) + cachedUsable;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks,
      peakInUse: m[sw + PEAK],
      largestFree: Math.max(this.largestFree(), largestCached),
    };
  }

  /** The number of blocks on the free lists (bounded: at most one per MIN_BLOCK bytes). */
  private countFreeBlocks(): number {
    const m = this.memU32;
    const limit = (m[this.sw + END] - this.first) / MIN_BLOCK;
    let n = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      if (m[this.slMap + fl] === 0) continue;
      for (let sl = 0; sl < SL_COUNT; sl++) {
        for (
          let b = m[this.heads + ((fl << SL_LOG2) | sl)];
          b !== 0 && n <= limit;
          b = m[(b >>> 2) + LINK_NEXT]
        )
          n++;
      }
    }
    if (n > limit) this.corrupt("the free lists hold more blocks than the heap can (a cycle?)");
    return n;
  }

  /** The largest size `alloc(n, 1)` serves now from the lists (see the search's fallback). */
  private largestFree(): number {
    const m = this.memU32;
    const flBits = m[this.flMap];
    if (flBits === 0) return 0;
    const fl = 31 - Math.clz32(flBits);
    const sl = 31 - Math.clz32(m[this.slMap + fl]);
    const li = (fl << SL_LOG2) | sl;
    let best = 0;
    let b = m[this.heads + li];
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      const s = sizeOf(m[b >>> 2]);
      if (s > best) best = s;
      b = m[(b >>> 2) + LINK_NEXT];
    }
    return Math.max(best, listMinSize(li)) - BLOCK_OVERHEAD;
  }

  override metadataBytes(): Uint8Array {
    const meta = super.metadataBytes();
    const live = new Uint8Array(this.liveBuf);
    const front = this.front ? new Uint8Array(this.fc.buffer) : new Uint8Array(0);
    const out = new Uint8Array(meta.length + live.length + front.length);
    out.set(meta, 0);
    out.set(live, meta.length);
    out.set(front, meta.length + live.length);
    return out;
  }

  protected checkStrategy(): void {
    checkTlsf(
      {
        u32: this.memU32,
        sw: this.sw,
        live: this.live,
        fc: this.front ? this.fc : null,
        sum: this.front ? this.sum : null,
        first: this.first,
        dataStart: this.dataStart,
        memoryEnd: this.memory.end,
        foreign: this.memory.foreign,
        flMap: this.flMap,
        slMap: this.slMap,
        heads: this.heads,
      },
      (what) => this.corrupt(what),
    );
  }
}
