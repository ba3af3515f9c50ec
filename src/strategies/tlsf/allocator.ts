/**
 * TlsfAllocator: two-level segregated fit (Masmano et al., "TLSF: a new dynamic memory
 * allocator for real-time systems", 2004). Blocks of any size, freed in any order, in O(1):
 * no loop in `alloc` or `dealloc` whose length depends on the heap. memkit's general-purpose
 * default, and the engine of `Heap`.
 *
 * Choose it when sizes vary and lifetimes are unknown: it is fast, its worst case is bounded,
 * and it coalesces immediately, so fragmentation stays low. Choose a pool or slab when every
 * block has one size, a bump or stack when blocks die together.
 *
 * The folder: mapping.ts (size classes), layout.ts (the memory picture: header, block
 * fields, flags), kernel.ts (the operations on the heap's state), check.ts (the invariant
 * walker), attach.ts (validating a heap before attaching), and this file, the public handle.
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
 * | alloc       | O(1)     | O(1)     | two bitmap scans (`Math.clz32`), one split            |
 * | dealloc     | O(1)     | O(1)     | merge with both neighbours                           |
 * | realloc     | O(1)     | O(n)     | in place when shrinking or the next block is free; else copy |
 * | reset       | O(L + H) | O(L + H) | clears the L = 800 list heads and the live map (H = heap bytes / 256 words) |
 * | growth      | O(1)     | O(1)     | new memory becomes a free block merged with the last one; the live map is copied when it must grow (doubling: O(1) amortised) |
 *
 * Fragmentation: good-fit with immediate coalescing; no two free blocks are ever adjacent.
 * Per-block overhead: 4 bytes of size word + rounding to 8, + 1 bit in the live map.
 *
 * ## Invariants (`check()`, check.ts)
 * Every block lies between the first block and the sentinel, sizes are multiples of 8 and at
 * least MIN_BLOCK; no two free blocks are adjacent; the live map marks exactly the used
 * blocks; the lists and bitmaps hold exactly the free blocks, each in the list of its size.
 */

import type { AllocatorStats } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  checkSizeFits,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { ownedMemory } from "../../memory/memory.js";
import { checkTlsf } from "./check.js";
import { FALLBACK_SCAN, TlsfKernel, type TlsfOptions } from "./kernel.js";
import * as layout from "./layout.js";
import * as mapping from "./mapping.js";
import { blockSizeFor, listMinSize } from "./mapping.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  FIRST_ALIGN,
  FLAG_BITS,
  FREE_BIT,
  LINK_NEXT,
  PREV_FREE_BIT,
  TLSF_HEADER,
  TLSF_METADATA_BYTES,
} = layout;
const { BLOCK_OVERHEAD, FL_COUNT, GRANULE, MIN_BLOCK, SL_COUNT, SL_LOG2 } = mapping;

export type { TlsfOptions } from "./kernel.js";

const { END, LIVE, USED_BYTES, PEAK, CLEAN_FROM } = TLSF_HEADER.slot;

// alloc compares its alignment with a module-local constant, which the engine folds (an
// imported binding is loaded from its module cell on every use).
const ALIGN8 = 8;
if (ALIGN8 !== DEFAULT_ALIGN) throw new Error("tlsf: ALIGN8 disagrees with core/validate.ts");

export class TlsfAllocator extends TlsfKernel {
  readonly name: string = "TlsfAllocator";
  /** Bytes of metadata at the start of the region. */
  static readonly metadataSize: number = TLSF_METADATA_BYTES;

  /**
   * `new TlsfAllocator(capacity)` owns a fresh, zeroed buffer with room for blocks of
   * `capacity` bytes in all; `new TlsfAllocator(memory)` manages any memory with bytes.
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

  /** The buffer of the live map, to hand to `attach` (a `SharedArrayBuffer` for a shared heap). */
  get liveMapBuffer(): ArrayBuffer | SharedArrayBuffer {
    return this.liveBuf;
  }

  // ---- the contract ------------------------------------------------------------------------

  alloc(size: number, align: number = ALIGN8): number {
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
    const b = this.findFree(bsize);
    if (b === 0) return this.allocSlow(bsize, size);
    return this.take(b, bsize);
  }

  override allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    const ptr = this.alloc(size, align);
    if (ptr === 0 || size === 0) return ptr;
    const u8 = this.memory.u8;
    const end = ptr + size;
    const fresh = this.memory.freshZero
      ? this.slots[this.slot0 + CLEAN_FROM]
      : Number.POSITIVE_INFINITY;
    if (ptr >= fresh) {
      // Never inside a freed block: only words this allocator wrote can be non-zero: the
      // free-list links (first 8 bytes) and a footer (last word of the block).
      u8.fill(0, ptr, Math.min(end, ptr + 8));
      const footer =
        ptr - BLOCK_OVERHEAD + (this.memU32[(ptr - BLOCK_OVERHEAD) >>> 2] & ~FLAG_BITS) - 4;
      if (footer < end && footer >= ptr) u8.fill(0, footer, Math.min(end, footer + 4));
    } else {
      u8.fill(0, ptr, end);
    }
    return ptr;
  }

  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const b = this.blockOf(ptr);
    if (size !== undefined)
      checkSizeFits(ptr, size, (this.memU32[b >>> 2] & ~FLAG_BITS) - BLOCK_OVERHEAD);
    this.release(ptr, b);
  }

  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    if (!isUint32(ptr)) rejectPointer(ptr);
    const b = this.blockOf(ptr); // the pointer before the size: a freed one throws
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const u32 = this.memU32;
    const word = u32[b >>> 2];
    const cur = word & ~FLAG_BITS;
    // Sizes rounded to the alignment, as allocAligned's fast path does, keep the blocks of a
    // heap that asks for one alignment aligned after resizing too.
    const need =
      align > ALIGN8 && align <= FIRST_ALIGN
        ? alignUp(blockSizeFor(newSize), align)
        : blockSizeFor(newSize);
    if (ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      if (need <= cur) {
        this.shrinkUsed(b, cur, need);
        return ptr;
      }
      const next = b + cur;
      const nextWord = u32[next >>> 2];
      const nextSize = nextWord & ~FLAG_BITS;
      if ((nextWord & FREE_BIT) !== 0 && cur + nextSize >= need) {
        // Grow into the free block after this one, then give back what is left over.
        this.removeFree(next, nextSize);
        const slots = this.slots;
        const slot0 = this.slot0;
        this.wipeAbsorbed(next);
        const merged = cur + nextSize;
        u32[b >>> 2] = merged | (word & PREV_FREE_BIT);
        this.clearPrevFree(b + merged);
        slots[slot0 + USED_BYTES] += nextSize;
        this.shrinkUsed(b, merged, need);
        this.notePeak();
        return ptr;
      }
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    const u8 = this.memory.u8;
    u8.copyWithin(to, ptr, ptr + Math.min(cur - BLOCK_OVERHEAD, newSize));
    this.release(ptr, this.blockOf(ptr));
    return to;
  }

  usableSize(ptr: number): number {
    this.enter();
    const b = this.blockOf(ptr);
    return (this.memU32[b >>> 2] & ~FLAG_BITS) - BLOCK_OVERHEAD;
  }

  reset(): void {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + CLEAN_FROM] = slots[slot0 + END]; // every byte may have been written
    this.initialise(slots[slot0 + END]);
  }

  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const capacity = this.memory.end - this.memory.start;
    const live = slots[slot0 + LIVE];
    const inUse = slots[slot0 + USED_BYTES] - live * BLOCK_OVERHEAD;
    // Every byte between the first block and the sentinel is in a used or a free block; the
    // free blocks are counted by walking the lists (stats is not on the hot path).
    const freeBytes = slots[slot0 + END] - BLOCK_OVERHEAD - this.first - slots[slot0 + USED_BYTES];
    const free = Math.max(0, freeBytes - this.countFreeBlocks() * BLOCK_OVERHEAD);
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: live,
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: this.largestFree(),
    };
  }

  /** The number of blocks on the free lists (bounded: at most one per MIN_BLOCK bytes). */
  private countFreeBlocks(): number {
    const u32 = this.memU32;
    const limit = (this.slots[this.slot0 + END] - this.first) / MIN_BLOCK;
    let n = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      if (u32[this.slMap + fl] === 0) continue;
      for (let sl = 0; sl < SL_COUNT; sl++) {
        for (
          let b = u32[this.heads + ((fl << SL_LOG2) | sl)];
          b !== 0 && n <= limit;
          b = u32[(b >>> 2) + LINK_NEXT]
        )
          n++;
      }
    }
    if (n > limit) this.corrupt("the free lists hold more blocks than the heap can (a cycle?)");
    return n;
  }

  /** The largest size `alloc(n, 1)` serves now (see the search's bounded fallback). */
  private largestFree(): number {
    const u32 = this.memU32;
    const flBits = u32[this.flMap];
    if (flBits === 0) return 0;
    const fl = 31 - Math.clz32(flBits);
    const sl = 31 - Math.clz32(u32[this.slMap + fl]);
    const li = (fl << SL_LOG2) | sl;
    let best = 0;
    let b = u32[this.heads + li];
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      const s = u32[b >>> 2] & ~FLAG_BITS;
      if (s > best) best = s;
      b = u32[(b >>> 2) + LINK_NEXT];
    }
    return Math.max(best, listMinSize(li)) - BLOCK_OVERHEAD;
  }

  override metadataBytes(): Uint8Array {
    const meta = super.metadataBytes();
    const live = new Uint8Array(this.liveBuf);
    const out = new Uint8Array(meta.length + live.length);
    out.set(meta, 0);
    out.set(live, meta.length);
    return out;
  }

  protected checkStrategy(): void {
    checkTlsf(
      {
        slots: this.slots,
        slot0: this.slot0,
        u32: this.memU32,
        live: this.live,
        first: this.first,
        dataStart: this.dataStart,
        memoryEnd: this.memory.end,
        flMap: this.flMap,
        slMap: this.slMap,
        heads: this.heads,
      },
      (what) => this.corrupt(what),
    );
  }
}
