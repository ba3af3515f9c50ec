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
 * ## Memory picture
 *
 *     region.start (8-aligned)
 *     | common header (8 float64 slots) | TLSF slots 8–12 (float64)                     |
 *     | FL bitmap: u32 | SL bitmaps: FL_COUNT × u32 | list heads: FL_COUNT × SL_COUNT × u32 |
 *     dataStart (8-aligned)
 *     | pad (4 or 12) | block | block | … | block | sentinel (4) |  END (8-aligned)
 *                     ^ FIRST: its pointer FIRST + 4 is 16-aligned  ^ END − 4
 *
 *     slot  8 END         heap end; the sentinel's size word is at END − 4
 *     slot  9 LIVE        live blocks
 *     slot 10 USED_BYTES  Σ sizes of used blocks (size words included); free bytes follow:
 *                         END − 4 − FIRST − USED_BYTES
 *     slot 11 PEAK        highest in-use bytes (USED_BYTES − 4 × LIVE) since creation or reset
 *     slot 12 FRESH       bytes at or above were never inside a freed block (allocZeroed)
 *
 * A block starts with a 4-byte size word; the user's pointer is 4 bytes after it, so block
 * starts are ≡ 4 (mod 8) and user pointers ≡ 0 (mod 8). Sizes count the whole block (size
 * word included) and are multiples of 8, which frees the low bits for flags:
 *
 *     size word   31                                   3   2   1   0
 *                 |  block size / 8 (29 bits)          | - |PF | F |
 *                 F  = this block is free
 *                 PF = the block before it (in address order) is free
 *
 *     used block  | size|flags | payload (size − 4 usable bytes) ...                  |
 *     free block  | size|flags | prevFree | nextFree | ...          | footer = own start |
 *                  +0           +4         +8                        +size − 4
 *
 * Free blocks carry their list links and, in their last word, their own start: the block
 * after a free block finds it through that footer when it is freed (boundary tag). A used
 * block needs no footer (its follower's PF bit is clear), so its overhead is 4 bytes.
 * The sentinel is a zero-size used block at END − 4 that stops every walk and holds the PF
 * bit of the last real block.
 *
 * Out of line (a side buffer, where user overflows cannot reach it): the *live map*, one bit
 * per 8 bytes of heap, set exactly at the user pointer of every live block. It makes every
 * pointer check exact and O(1): a pointer that is not the start of a live block (never
 * handed out, interior, freed) is rejected before any header is read or written.
 *
 * ## Size classes
 * First level = power-of-two range, second level = SL_COUNT (32) equal slices of it. Block
 * sizes below SMALL_LIMIT (256) map one list per 8 bytes (first level 0). Above, a block of
 * size s has fl = msb(s) − 7 and sl = the 5 bits after the msb:
 *
 * | fl | block sizes          | slice width |
 * | -- | -------------------- | ----------- |
 * | 0  | 0 … 248              | 8           |
 * | 1  | 256 … 504            | 8           |
 * | 2  | 512 … 1,016          | 16          |
 * | k  | 2^(k+7) … 2^(k+8) − 1 | 2^(k+2)     |
 * | 24 | 2^31 … 2^32 − 8      | 2^26        |
 *
 * A request is rounded up to the next slice boundary before the search, so any block in the
 * list found fits: internal waste from the classes is below one slice, at most 1/32 (3.1%)
 * of the block, plus the 4-byte size word and rounding to 8.
 *
 * ## Cost
 * | operation   | best | worst | notes                                                   |
 * | ----------- | ---- | ----- | ------------------------------------------------------- |
 * | alloc       | O(1) | O(1)  | two bitmap scans (`Math.clz32`), one split               |
 * | dealloc     | O(1) | O(1)  | merge with both neighbours                              |
 * | realloc     | O(1) | O(n)  | in place when shrinking or the next block is free; else copy |
 * | reset       | O(L) | O(L)  | clears the lists (L = 800) and the live map              |
 * | growth      | O(1) | O(1)  | new memory becomes a free block merged with the last one |
 *
 * Fragmentation: good-fit with immediate coalescing; no two free blocks are ever adjacent.
 * Per-block overhead: 4 bytes of size word + rounding to 8, + 1 bit in the live map.
 *
 * ## Invariants (`check()`)
 * Physical walk FIRST → sentinel: sizes are multiples of 8 and ≥ MIN_BLOCK, inside the heap;
 * each block's F equals its follower's PF; no two adjacent free blocks; a free block's footer
 * holds its start; the live map bit is set exactly for used blocks; the LIVE and USED_BYTES
 * counters match the walk. Lists: a list's bitmap bits are set iff it is non-empty; every listed block
 * is free, in the list its size maps to, with symmetric links; lists hold exactly the free
 * blocks of the walk.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import { alignUp } from "../core/bits.js";
import {
  ArgumentRangeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import {
  COMMON_SLOTS,
  H_CONFIG,
  H_DATA_START,
  H_META_BYTES,
  H_STATE,
  headerBytes,
  STATE_OK,
  StrategyKind,
} from "../core/header.js";
import {
  checkAlign,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { isSharedArrayBuffer, type Memory } from "../memory/memory.js";
import { ownedMemory } from "./bump.js";

// ---- size classes (pure functions, tested exhaustively) ----------------------------------

/** Every block size and address is a multiple of GRANULE. */
export const GRANULE_LOG2 = 3;
export const GRANULE = 1 << GRANULE_LOG2;
/** Second-level lists per first-level range. */
export const SL_LOG2 = 5;
export const SL_COUNT = 1 << SL_LOG2;
/** Below this block size every list is one granule wide (first level 0). */
export const SMALL_LIMIT = 1 << (SL_LOG2 + GRANULE_LOG2);
/** First-level ranges: level 0 for small blocks, then one per power of two up to 2^31. */
export const FL_COUNT = 32 - (SL_LOG2 + GRANULE_LOG2) + 1;
export const LIST_COUNT = FL_COUNT * SL_COUNT;
/** Bytes of the size word before every block's payload. */
export const BLOCK_OVERHEAD = 4;
/** The smallest block: size word, two links and a footer. */
export const MIN_BLOCK = 16;
/** The largest block size the classes map (just under 4 GiB). */
export const MAX_BLOCK = 2 ** 32 - GRANULE;

/** The list (fl × SL_COUNT + sl) that holds free blocks of `size` (a multiple of 8). */
export function listOf(size: number): number {
  if (size < SMALL_LIMIT) return size >>> GRANULE_LOG2;
  const msb = 31 - Math.clz32(size);
  return (
    ((msb - (SL_LOG2 + GRANULE_LOG2) + 1) << SL_LOG2) |
    ((size >>> (msb - SL_LOG2)) & (SL_COUNT - 1))
  );
}

/**
 * The first list whose every block can hold `size`: `size` rounded up to the next slice
 * boundary, then mapped. LIST_COUNT when no list can (size too close to 4 GiB).
 */
export function searchListOf(size: number): number {
  if (size < SMALL_LIMIT) return size >>> GRANULE_LOG2;
  const msb = 31 - Math.clz32(size);
  const rounded = size + (1 << (msb - SL_LOG2)) - 1;
  if (rounded > MAX_BLOCK) return LIST_COUNT;
  return listOf(rounded - (rounded & ((1 << (msb - SL_LOG2)) - 1)));
}

/** The smallest block size list `li` holds. */
export function listMinSize(li: number): number {
  const fl = li >>> SL_LOG2;
  const sl = li & (SL_COUNT - 1);
  if (fl === 0) return sl << GRANULE_LOG2;
  return 2 ** (fl + SL_LOG2 + GRANULE_LOG2 - 1) + sl * 2 ** (fl + GRANULE_LOG2 - 1);
}

/** The block size serving a request of `size` bytes (size word included, at least MIN_BLOCK). */
export function blockSizeFor(size: number): number {
  const b = alignUp(size + BLOCK_OVERHEAD, GRANULE);
  return Math.max(b, MIN_BLOCK);
}

// ---- header slots and block fields ---------------------------------------------------------

// The hot path reads these as module-local constants: an imported binding is loaded from its
// module cell on every use, a local const is folded (measured ~1 ns per call on a pool).
const STATE_SLOT = 3;
const OK = 0;
const ALIGN8 = 8;
if (STATE_SLOT !== H_STATE || OK !== STATE_OK || ALIGN8 !== DEFAULT_ALIGN) {
  throw new Error("tlsf.ts: local constants disagree with core/header.ts and core/validate.ts");
}

const END = COMMON_SLOTS + 0; // heap end; the sentinel's size word is at END − 4
const LIVE = COMMON_SLOTS + 1; // live blocks
const USED_BYTES = COMMON_SLOTS + 2; // sum of the sizes of used blocks (size words included)
const PEAK = COMMON_SLOTS + 3; // highest in-use bytes since creation or reset
const FRESH = COMMON_SLOTS + 4; // bytes at or above were never inside a freed block
const TLSF_SLOTS = 5;

/** Size-word flags. */
const F_FREE = 1;
const F_PREV_FREE = 2;
const F_MASK = 7;
/** Word offsets from a block start, in u32 units. */
const W_PREV_FREE = 1;
const W_NEXT_FREE = 2;

const META_U32 = 1 + FL_COUNT + LIST_COUNT; // FL bitmap, SL bitmaps, heads

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

export class TlsfAllocator extends BaseAllocator {
  readonly name: string = "TlsfAllocator";
  /** Bytes of metadata at the start of the region. */
  static readonly metadataSize: number = headerBytes(TLSF_SLOTS) + META_U32 * 4;

  private readonly growable: boolean;
  /** The memory's u32 view (blocks and the in-band lists). */
  private m: Uint32Array;
  /** u32 index of the FL bitmap; SL bitmaps follow; then the list heads. */
  private readonly flMap: number;
  private readonly slMap: number;
  private readonly heads: number;
  /** First block's start. */
  private readonly first: number;
  /** The live map: one bit per 8 bytes from dataStart, set at each live block's pointer. */
  private liveBuf: ArrayBuffer | SharedArrayBuffer;
  private live: Int32Array;

  constructor(memoryOrCapacity: Memory | number, options: TlsfOptions = {}) {
    const memory =
      typeof memoryOrCapacity === "number"
        ? ownedMemory(memoryOrCapacity + 16, TlsfAllocator.metadataSize)
        : memoryOrCapacity;
    if (!memory.hasBytes) {
      throw new ArgumentRangeError(
        "TlsfAllocator keeps a size word before every block, so it needs a memory with bytes",
        "ERR_MEMORY",
      );
    }
    const attach = options.attach === true;
    super(memory, StrategyKind.tlsf, TLSF_SLOTS, META_U32 * 4, SL_LOG2, attach, "TlsfAllocator");
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    this.m = memory.u32;
    this.flMap = (this.metaAt + headerBytes(TLSF_SLOTS)) >>> 2;
    this.slMap = this.flMap + 1;
    this.heads = this.slMap + FL_COUNT;
    // The first block's pointer is 16-aligned (4 or 12 bytes of pad after dataStart): with
    // block sizes rounded to the alignment asked for (allocAligned), every block of a heap
    // that always asks for 16 then stays 16-aligned, as the traces (glibc's 16) do.
    this.first = alignUp(this.dataStart + 2 * BLOCK_OVERHEAD, FIRST_ALIGN) - BLOCK_OVERHEAD;
    if (attach) {
      this.liveBuf = this.validateAttach(options.liveMap);
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
      ? new SharedArrayBuffer(this.liveBytesFor(end), {
          maxByteLength: this.liveBytesFor(memory.maxEnd),
        })
      : new ArrayBuffer(this.liveBytesFor(end));
    this.live = liveView(this.liveBuf);
    this.h[this.hb + FRESH] = this.dataStart;
    this.initialise(end);
  }

  /**
   * Attaches a second handle (another worker) to the TLSF heap in `memory`, adopting its live
   * map (`liveMapBuffer` of the first handle). Validated read-only; see `validateAttach`.
   */
  static attach(memory: Memory, liveMap: SharedArrayBuffer | ArrayBuffer): TlsfAllocator {
    return new TlsfAllocator(memory, { attach: true, liveMap });
  }

  /** The buffer of the live map, to hand to `attach` (a `SharedArrayBuffer` for a shared heap). */
  get liveMapBuffer(): ArrayBuffer | SharedArrayBuffer {
    return this.liveBuf;
  }

  /**
   * On attach, after the common header was validated: the configuration, the metadata size,
   * the data start and the heap end must be exactly what this handle computes for `memory`,
   * the counters plausible, and the live map large enough for the heap. Reads only; throws
   * `HeapIncompatibleError` on any mismatch (garbage included).
   */
  private validateAttach(
    liveMap: SharedArrayBuffer | ArrayBuffer | undefined,
  ): ArrayBuffer | SharedArrayBuffer {
    const h = this.h;
    const hb = this.hb;
    const bad = (what: string): never => {
      throw new HeapIncompatibleError(`TlsfAllocator: cannot attach: ${what}`, "ERR_HEAP_CONFIG");
    };
    if (h[hb + H_CONFIG] !== SL_LOG2) bad(`config word ${h[hb + H_CONFIG]} is not ${SL_LOG2}`);
    if (h[hb + H_META_BYTES] !== this.metaBytes)
      bad(`metadata size ${h[hb + H_META_BYTES]} is not ${this.metaBytes}`);
    if (h[hb + H_DATA_START] !== this.dataStart)
      bad(`data start ${h[hb + H_DATA_START]} is not ${this.dataStart}`);
    const end = h[hb + END];
    if (
      !(Number.isSafeInteger(end) && end % GRANULE === 0) ||
      end < this.first + MIN_BLOCK + BLOCK_OVERHEAD ||
      end > this.heapEndFor(this.memory.end)
    ) {
      bad(`heap end ${end} does not fit memory [${this.memory.start}, ${this.memory.end})`);
    }
    for (const slot of [LIVE, USED_BYTES, PEAK, FRESH]) {
      const v = h[hb + slot];
      if (!(Number.isSafeInteger(v) && v >= 0 && v <= end)) bad(`header slot ${slot} holds ${v}`);
    }
    if (liveMap === undefined) bad("no live map given (options.liveMap)");
    const map = liveMap as ArrayBuffer | SharedArrayBuffer;
    if (!(map instanceof ArrayBuffer || isSharedArrayBuffer(map)))
      bad("the live map is not an ArrayBuffer or SharedArrayBuffer");
    if (this.memory.shared && !isSharedArrayBuffer(map))
      bad("a shared heap's live map must be a SharedArrayBuffer");
    if (map.byteLength < this.liveBytesFor(end))
      bad(`the live map has ${map.byteLength} bytes, the heap needs ${this.liveBytesFor(end)}`);
    return map;
  }

  /** Lays out an empty heap ending at `end`: one free block and the sentinel. */
  private initialise(end: number): void {
    const h = this.h;
    const hb = this.hb;
    const m = this.m;
    m.fill(0, this.flMap, this.heads + LIST_COUNT);
    this.live.fill(0);
    h[hb + LIVE] = 0;
    h[hb + USED_BYTES] = 0;
    h[hb + PEAK] = 0;
    h[hb + END] = end;
    m.fill(0, this.dataStart >>> 2, this.first >>> 2); // the pad before the first block
    const size = end - BLOCK_OVERHEAD - this.first;
    this.setSentinel(end, F_PREV_FREE);
    m[this.first >>> 2] = size | F_FREE;
    m[(this.first + size - 4) >>> 2] = this.first;
    this.insertFree(this.first, size);
  }

  // ---- the contract ------------------------------------------------------------------------

  alloc(size: number, align: number = ALIGN8): number {
    if (this.h[this.hb + STATE_SLOT] !== OK) {
      this.enterSlow();
      return this.alloc(size, align);
    }
    if (!isUint32(size)) {
      rejectSize(size);
      return 0;
    }
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
    const fresh = this.memory.freshZero ? this.h[this.hb + FRESH] : Number.POSITIVE_INFINITY;
    if (ptr >= fresh) {
      // Never inside a freed block: only words this allocator wrote can be non-zero: the
      // free-list links (first 8 bytes) and a footer (last word of the block).
      u8.fill(0, ptr, Math.min(end, ptr + 8));
      const footer = ptr - BLOCK_OVERHEAD + (this.m[(ptr - BLOCK_OVERHEAD) >>> 2] & ~F_MASK) - 4;
      if (footer < end && footer >= ptr) u8.fill(0, footer, Math.min(end, footer + 4));
    } else {
      u8.fill(0, ptr, end);
    }
    return ptr;
  }

  dealloc(ptr: number, size?: number): void {
    if (this.h[this.hb + STATE_SLOT] !== OK) {
      this.enterSlow();
      this.dealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const b = this.blockOf(ptr);
    if (size !== undefined) this.checkSize(ptr, b, size);
    this.release(ptr, b);
  }

  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    if (!isUint32(ptr)) rejectPointer(ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const b = this.blockOf(ptr);
    const m = this.m;
    const word = m[b >>> 2];
    const cur = word & ~F_MASK;
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
      const nextWord = m[next >>> 2];
      const nextSize = nextWord & ~F_MASK;
      if ((nextWord & F_FREE) !== 0 && cur + nextSize >= need) {
        // Grow into the free block after this one, then give back what is left over.
        this.removeFree(next, nextSize);
        const h = this.h;
        const hb = this.hb;
        this.zeroIfFresh(next);
        const merged = cur + nextSize;
        m[b >>> 2] = merged | (word & F_PREV_FREE);
        this.clearPrevFree(b + merged);
        h[hb + USED_BYTES] += nextSize;
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
    return (this.m[b >>> 2] & ~F_MASK) - BLOCK_OVERHEAD;
  }

  reset(): void {
    this.enter();
    const h = this.h;
    const hb = this.hb;
    h[hb + FRESH] = h[hb + END]; // every byte may have been written
    this.initialise(h[hb + END]);
  }

  stats(): AllocatorStats {
    this.enter();
    const h = this.h;
    const hb = this.hb;
    const capacity = this.memory.end - this.memory.start;
    const live = h[hb + LIVE];
    const inUse = h[hb + USED_BYTES] - live * BLOCK_OVERHEAD;
    // Every byte between the first block and the sentinel is in a used or a free block; the
    // free blocks are counted by walking the lists (stats is not on the hot path).
    const freeBytes = h[hb + END] - BLOCK_OVERHEAD - this.first - h[hb + USED_BYTES];
    const free = Math.max(0, freeBytes - this.countFreeBlocks() * BLOCK_OVERHEAD);
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: live,
      peakInUse: Math.max(h[hb + PEAK], inUse),
      largestFree: this.largestFree(),
    };
  }

  /** The number of blocks on the free lists (bounded: at most one per MIN_BLOCK bytes). */
  private countFreeBlocks(): number {
    const m = this.m;
    const limit = (this.h[this.hb + END] - this.first) / MIN_BLOCK;
    let n = 0;
    for (let fl = 0; fl < FL_COUNT; fl++) {
      if (m[this.slMap + fl] === 0) continue;
      for (let sl = 0; sl < SL_COUNT; sl++) {
        for (
          let b = m[this.heads + ((fl << SL_LOG2) | sl)];
          b !== 0 && n <= limit;
          b = m[(b >>> 2) + W_NEXT_FREE]
        )
          n++;
      }
    }
    if (n > limit) this.corrupt("the free lists hold more blocks than the heap can (a cycle?)");
    return n;
  }

  /** The largest size `alloc(n, 1)` serves now (see the search's bounded fallback). */
  private largestFree(): number {
    const m = this.m;
    const flBits = m[this.flMap];
    if (flBits === 0) return 0;
    const fl = 31 - Math.clz32(flBits);
    const sl = 31 - Math.clz32(m[this.slMap + fl]);
    const li = (fl << SL_LOG2) | sl;
    let best = 0;
    let b = m[this.heads + li];
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      const s = m[b >>> 2] & ~F_MASK;
      if (s > best) best = s;
      b = m[(b >>> 2) + W_NEXT_FREE];
    }
    return Math.max(best, listMinSize(li)) - BLOCK_OVERHEAD;
  }

  // ---- allocation internals --------------------------------------------------------------

  /**
   * A free block of at least `bsize` bytes, or 0. O(1): the rounded-up list and the bitmaps
   * first; failing that, a bounded look at the blocks of `bsize`'s own list (which may hold
   * blocks big enough that the rounded search skips).
   */
  private findFree(bsize: number): number {
    const m = this.m;
    const li = searchListOf(bsize);
    if (li < LIST_COUNT) {
      let fl = li >>> SL_LOG2;
      let slBits = m[this.slMap + fl] & (-1 << (li & (SL_COUNT - 1)));
      if (slBits === 0) {
        const flBits = m[this.flMap] & (fl + 1 < 32 ? -1 << (fl + 1) : 0);
        if (flBits !== 0) {
          fl = 31 - Math.clz32(flBits & -flBits);
          slBits = m[this.slMap + fl];
        }
      }
      if (slBits !== 0) {
        return m[this.heads + ((fl << SL_LOG2) | (31 - Math.clz32(slBits & -slBits)))];
      }
    }
    // Fallback: the exact list of bsize, scanned for at most FALLBACK_SCAN blocks.
    let b = bsize <= MAX_BLOCK ? m[this.heads + listOf(bsize)] : 0;
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      if ((m[b >>> 2] & ~F_MASK) >= bsize) return b;
      b = m[(b >>> 2) + W_NEXT_FREE];
    }
    return 0;
  }

  /** Takes free block `b` for a block of `bsize` bytes; splits off the rest; returns the pointer. */
  private take(b: number, bsize: number): number {
    const m = this.m;
    const h = this.h;
    const hb = this.hb;
    const word = m[b >>> 2];
    const size = word & ~F_MASK;
    this.removeFree(b, size);
    const rest = size - bsize;
    if (rest >= MIN_BLOCK) {
      const r = b + bsize;
      m[r >>> 2] = rest | F_FREE; // its predecessor (b) is used: PF clear
      m[(r + rest - 4) >>> 2] = r;
      this.insertFree(r, rest);
      m[b >>> 2] = bsize | (word & F_PREV_FREE);
      h[hb + USED_BYTES] += bsize;
    } else {
      m[b >>> 2] = size | (word & F_PREV_FREE);
      m[(b + size) >>> 2] &= ~F_PREV_FREE;
      h[hb + USED_BYTES] += size;
    }
    const live = ++h[hb + LIVE];
    const inUse = h[hb + USED_BYTES] - live * BLOCK_OVERHEAD;
    if (inUse > h[hb + PEAK]) h[hb + PEAK] = inUse;
    const ptr = b + BLOCK_OVERHEAD;
    const bit = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[bit >>> 5] |= 1 << (bit & 31);
    return ptr;
  }

  /** alloc with align > 8: find a block with room for the padding, split the gap off. */
  private allocAligned(size: number, align: number): number {
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
    const m = this.m;
    const word = m[b >>> 2];
    const size0 = word & ~F_MASK;
    let ptr = alignUp(b + BLOCK_OVERHEAD, align);
    if (ptr - BLOCK_OVERHEAD - b !== 0 && ptr - BLOCK_OVERHEAD - b < MIN_BLOCK) ptr += align;
    const gap = ptr - BLOCK_OVERHEAD - b;
    if (gap === 0) return this.take(b, bsize);
    // Split [b, b + gap) off as a free block of its own; the rest starts at ptr − 4.
    this.removeFree(b, size0);
    const nb = b + gap;
    const rest = size0 - gap;
    m[b >>> 2] = gap | F_FREE | (word & F_PREV_FREE);
    m[(b + gap - 4) >>> 2] = b;
    this.insertFree(b, gap);
    m[nb >>> 2] = rest | F_FREE | F_PREV_FREE;
    m[(nb + rest - 4) >>> 2] = nb;
    this.insertFree(nb, rest);
    return this.take(nb, bsize);
  }

  /** alloc's slow path: grow the memory and retry, or answer out of memory. */
  private allocSlow(bsize: number, size: number): number {
    if (size > MAX_BLOCK - 64) return 0;
    if (!this.growFor(bsize)) return 0;
    const b = this.findFree(bsize);
    return b === 0 ? 0 : this.take(b, bsize);
  }

  /** Grows a growable memory so a free block of `bsize` can exist. False if it cannot. */
  private growFor(bsize: number): boolean {
    if (!this.growable) return false;
    const h = this.h;
    const hb = this.hb;
    const end = h[hb + END];
    // The new space joins the last block if it is free, so ask only for what is missing.
    const lastFree = (this.m[(end - BLOCK_OVERHEAD) >>> 2] & F_PREV_FREE) !== 0;
    const have = lastFree ? this.m[(end - BLOCK_OVERHEAD - 4) >>> 2] : 0;
    const haveSize = lastFree ? end - BLOCK_OVERHEAD - have : 0;
    const want = end + Math.max(bsize - haveSize, MIN_BLOCK) + GRANULE * 2;
    if (!(want <= this.memory.maxEnd) || !this.memory.grow(want)) return false;
    this.syncViews();
    const newEnd = this.heapEndFor(this.memory.end);
    if (newEnd <= end) return false;
    if (this.liveBuf.byteLength < this.liveBytesFor(newEnd)) {
      // Room for the new end, doubling so the copies cost O(1) amortised.
      const need = Math.max(
        this.liveBytesFor(newEnd),
        Math.min(this.liveBuf.byteLength * 2, this.liveBytesFor(this.memory.maxEnd)),
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
    const m = this.m;
    const b = end - BLOCK_OVERHEAD;
    const size = newEnd - end;
    const prevFree = m[b >>> 2] & F_PREV_FREE;
    m[b >>> 2] = size | F_FREE | prevFree;
    m[(b + size - 4) >>> 2] = b;
    this.setSentinel(newEnd, F_PREV_FREE);
    this.h[hb + END] = newEnd;
    this.insertFree(b, size);
    if (prevFree !== 0) this.mergeWithPrevious(b, size);
    return true;
  }

  // ---- freeing -----------------------------------------------------------------------------

  /** Frees the used block `b` (pointer `ptr`), merging it with free neighbours. */
  private release(ptr: number, b: number): void {
    const m = this.m;
    const h = this.h;
    const hb = this.hb;
    const bit = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[bit >>> 5] &= ~(1 << (bit & 31));
    const word = m[b >>> 2];
    let size = word & ~F_MASK;
    let start = b;
    h[hb + LIVE]--;
    h[hb + USED_BYTES] -= size;
    if (b + size > h[hb + FRESH]) h[hb + FRESH] = b + size;
    // Merge with the next block when it is free.
    const next = b + size;
    const nextWord = m[next >>> 2];
    if ((nextWord & F_FREE) !== 0) {
      const nextSize = nextWord & ~F_MASK;
      this.removeFree(next, nextSize);
      this.zeroIfFresh(next);
      size += nextSize;
    }
    // Merge with the previous block when it is free (its start is in the footer before b).
    if ((word & F_PREV_FREE) !== 0) {
      const prev = m[(b - 4) >>> 2];
      const prevWord = m[prev >>> 2];
      const prevSize = prevWord & ~F_MASK;
      this.removeFree(prev, prevSize);
      start = prev;
      size += prevSize;
      m[prev >>> 2] = size | F_FREE | (prevWord & F_PREV_FREE);
      // b's size word stays behind in the merged payload as a tombstone: freeing b again
      // is then recognised as a double free.
      m[b >>> 2] = tombstone(b);
    } else {
      m[b >>> 2] = size | F_FREE;
    }
    m[(start + size - 4) >>> 2] = start;
    m[(start + size) >>> 2] |= F_PREV_FREE;
    this.insertFree(start, size);
  }

  /** Shrinks used block `b` from `cur` to `need` bytes, freeing the tail when it is big enough. */
  private shrinkUsed(b: number, cur: number, need: number): void {
    const rest = cur - need;
    if (rest < MIN_BLOCK) return;
    const m = this.m;
    const h = this.h;
    const hb = this.hb;
    m[b >>> 2] = need | (m[b >>> 2] & F_PREV_FREE);
    const r = b + need;
    let size = rest;
    const next = r + rest;
    const nextWord = m[next >>> 2];
    h[hb + USED_BYTES] -= rest;
    if (r + rest > h[hb + FRESH]) h[hb + FRESH] = r + rest;
    if ((nextWord & F_FREE) !== 0) {
      const nextSize = nextWord & ~F_MASK;
      this.removeFree(next, nextSize);
      this.zeroIfFresh(next);
      size += nextSize;
    } else {
      m[next >>> 2] = nextWord | F_PREV_FREE;
    }
    m[r >>> 2] = size | F_FREE;
    m[(r + size - 4) >>> 2] = r;
    this.insertFree(r, size);
  }

  /** Merges free block `b` (already listed) into its free predecessor. */
  private mergeWithPrevious(b: number, size: number): void {
    const m = this.m;
    const prev = m[(b - 4) >>> 2];
    const prevWord = m[prev >>> 2];
    const prevSize = prevWord & ~F_MASK;
    this.removeFree(b, size);
    this.removeFree(prev, prevSize);
    this.zeroIfFresh(b);
    // prev's old footer (the word before b) is now inside the merged block too.
    if (b - 4 >= this.h[this.hb + FRESH]) m[(b - 4) >>> 2] = 0;
    const merged = prevSize + size;
    m[prev >>> 2] = merged | F_FREE | (prevWord & F_PREV_FREE);
    m[(prev + merged - 4) >>> 2] = prev;
    this.insertFree(prev, merged);
  }

  /**
   * A free block absorbed into the block before it leaves its size word and links behind
   * in the merged payload. Above FRESH that payload is promised to be zero (allocZeroed
   * skips its fill there), so wipe them; below, leave a tombstone so that a second free of
   * the absorbed block is recognised as a double free.
   */
  private zeroIfFresh(b: number): void {
    const i = b >>> 2;
    if (b + 12 > this.h[this.hb + FRESH]) {
      this.m[i] = 0;
      this.m[i + W_PREV_FREE] = 0;
      this.m[i + W_NEXT_FREE] = 0;
    } else {
      this.m[i] = tombstone(b);
    }
  }

  // ---- free lists --------------------------------------------------------------------------

  private insertFree(b: number, size: number): void {
    const m = this.m;
    const li = listOf(size);
    const head = m[this.heads + li];
    const i = b >>> 2;
    m[i + W_PREV_FREE] = 0;
    m[i + W_NEXT_FREE] = head;
    if (head !== 0) m[(head >>> 2) + W_PREV_FREE] = b;
    m[this.heads + li] = b;
    const fl = li >>> SL_LOG2;
    m[this.flMap] |= 1 << fl;
    m[this.slMap + fl] |= 1 << (li & (SL_COUNT - 1));
  }

  private removeFree(b: number, size: number): void {
    const m = this.m;
    const i = b >>> 2;
    const prev = m[i + W_PREV_FREE];
    const next = m[i + W_NEXT_FREE];
    if (next !== 0) m[(next >>> 2) + W_PREV_FREE] = prev;
    if (prev !== 0) {
      m[(prev >>> 2) + W_NEXT_FREE] = next;
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

  // ---- pointers ----------------------------------------------------------------------------

  /** The block of the live block at `ptr`; throws (changing nothing) for anything else. */
  private blockOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const ds = this.dataStart;
    if (ptr < this.first + BLOCK_OVERHEAD || ptr >= this.h[this.hb + END] || (ptr & 7) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not an 8-aligned address inside this TlsfAllocator's heap ` +
          `[${this.first + BLOCK_OVERHEAD}, ${this.h[this.hb + END]})`,
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
  private isFreedBlock(b: number): boolean {
    const m = this.m;
    const word = m[b >>> 2];
    if (word === tombstone(b)) return true;
    if ((word & F_FREE) === 0) return false;
    const size = word & ~F_MASK;
    const end = b + size;
    return (
      size >= MIN_BLOCK && end <= this.h[this.hb + END] - BLOCK_OVERHEAD && m[(end - 4) >>> 2] === b
    );
  }

  private checkSize(ptr: number, b: number, size: number): void {
    if (!isUint32(size)) rejectSize(size);
    const usable = (this.m[b >>> 2] & ~F_MASK) - BLOCK_OVERHEAD;
    if (size > usable) {
      throw new LayoutMismatchError(
        `dealloc(${ptr}, ${size}): the block holds only ${usable} bytes`,
      );
    }
  }

  // ---- small helpers -----------------------------------------------------------------------

  private setSentinel(end: number, flags: number): void {
    this.m[(end - BLOCK_OVERHEAD) >>> 2] = flags; // size 0, used
  }

  private clearPrevFree(b: number): void {
    this.m[b >>> 2] &= ~F_PREV_FREE;
  }

  private notePeak(): void {
    const h = this.h;
    const hb = this.hb;
    const inUse = h[hb + USED_BYTES] - h[hb + LIVE] * BLOCK_OVERHEAD;
    if (inUse > h[hb + PEAK]) h[hb + PEAK] = inUse;
  }

  /** The heap's end for a memory ending at `memEnd`: 8-aligned, at most 2^32 − 8. */
  private heapEndFor(memEnd: number): number {
    return Math.min(memEnd - (memEnd & 7), MAX_BLOCK);
  }

  private liveBytesFor(end: number): number {
    const bits = Math.max(0, end - this.dataStart) / GRANULE;
    return alignUp(Math.ceil(bits / 8), 8) + 8;
  }

  protected override onViews(): void {
    this.m = this.memory.u32;
    // A shared heap's live map is a growable SharedArrayBuffer that another agent may have
    // grown: view it with a fixed length (length-tracking views reload the length on every
    // access), re-made when its size changed.
    const live = this.live as Int32Array | undefined; // unset while the constructor runs
    if (live !== undefined && live.length * 4 !== this.liveBuf.byteLength) {
      this.live = liveView(this.liveBuf);
    }
  }

  override metadataBytes(): Uint8Array {
    const meta = super.metadataBytes();
    const live = new Uint8Array(this.liveBuf);
    const out = new Uint8Array(meta.length + live.length);
    out.set(meta, 0);
    out.set(live, meta.length);
    return out;
  }

  // ---- check -------------------------------------------------------------------------------

  protected checkStrategy(): void {
    const m = this.m;
    const h = this.h;
    const hb = this.hb;
    const end = h[hb + END];
    if (!(end <= this.memory.end && end % 8 === 0 && end > this.first)) {
      this.corrupt(`END ${end} is not an 8-aligned end inside memory end ${this.memory.end}`);
    }
    // Physical walk.
    let b = this.first;
    let prevFree = false;
    let used = 0;
    let usedBytes = 0;
    let freeBlocks = 0;
    let freeBytes = 0;
    let liveBits = 0;
    const sentinel = end - BLOCK_OVERHEAD;
    while (b < sentinel) {
      const word = m[b >>> 2];
      const size = word & ~F_MASK;
      const isFree = (word & F_FREE) !== 0;
      if (size < MIN_BLOCK || size % 8 !== 0 || b + size > sentinel) {
        this.corrupt(
          `block ${b}: size ${size} is not a multiple of 8 ≥ ${MIN_BLOCK} inside the heap`,
        );
      }
      if (((word & F_PREV_FREE) !== 0) !== prevFree) {
        this.corrupt(
          `block ${b}: PREV_FREE flag is ${!prevFree} but the previous block is ${prevFree ? "free" : "used"}`,
        );
      }
      const bit = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
      const isLive = (this.live[bit >>> 5] & (1 << (bit & 31))) !== 0;
      if (isFree) {
        if (prevFree) this.corrupt(`blocks before ${b} and ${b} are both free: not coalesced`);
        if (m[(b + size - 4) >>> 2] !== b) {
          this.corrupt(`free block ${b}: footer holds ${m[(b + size - 4) >>> 2]}, not ${b}`);
        }
        if (isLive) this.corrupt(`free block ${b} is marked live in the live map`);
        freeBlocks++;
        freeBytes += size;
      } else {
        if (!isLive) this.corrupt(`used block ${b} is not marked live in the live map`);
        used++;
        usedBytes += size;
      }
      prevFree = isFree;
      b += size;
    }
    if (b !== sentinel)
      this.corrupt(`physical walk ended at ${b}, not at the sentinel ${sentinel}`);
    const sw = m[sentinel >>> 2];
    if ((sw & ~F_MASK) !== 0 || (sw & F_FREE) !== 0 || ((sw & F_PREV_FREE) !== 0) !== prevFree) {
      this.corrupt(`sentinel at ${sentinel} holds ${sw}`);
    }
    for (let i = 0; i < this.live.length; i++) {
      let x = this.live[i];
      while (x !== 0) {
        x &= x - 1;
        liveBits++;
      }
    }
    if (liveBits !== used)
      this.corrupt(`live map has ${liveBits} bits set for ${used} used blocks`);
    if (used !== h[hb + LIVE]) this.corrupt(`LIVE counter ${h[hb + LIVE]} != ${used} used blocks`);
    if (usedBytes !== h[hb + USED_BYTES])
      this.corrupt(`USED_BYTES ${h[hb + USED_BYTES]} != ${usedBytes}`);
    if (freeBytes + usedBytes !== sentinel - this.first) {
      this.corrupt(
        `blocks cover ${freeBytes + usedBytes} bytes, the heap ${sentinel - this.first}`,
      );
    }
    // Lists and bitmaps.
    let listed = 0;
    const flBits = m[this.flMap];
    for (let fl = 0; fl < FL_COUNT; fl++) {
      const slBits = m[this.slMap + fl];
      if (((flBits >>> fl) & 1) !== (slBits !== 0 ? 1 : 0)) {
        this.corrupt(`FL bitmap bit ${fl} disagrees with its SL bitmap ${slBits}`);
      }
      for (let sl = 0; sl < SL_COUNT; sl++) {
        const li = (fl << SL_LOG2) | sl;
        let f = m[this.heads + li];
        if (((slBits >>> sl) & 1) !== (f !== 0 ? 1 : 0)) {
          this.corrupt(`SL bitmap bit (${fl}, ${sl}) disagrees with list head ${f}`);
        }
        let prev = 0;
        while (f !== 0) {
          if (++listed > freeBlocks)
            this.corrupt(`list (${fl}, ${sl}) holds more blocks than are free (cycle?)`);
          if (f < this.first || f >= sentinel || f % 8 !== 4)
            this.corrupt(`list (${fl}, ${sl}): ${f} is not a block start`);
          const word = m[f >>> 2];
          if ((word & F_FREE) === 0) this.corrupt(`list (${fl}, ${sl}): block ${f} is not free`);
          if (listOf(word & ~F_MASK) !== li)
            this.corrupt(`block ${f} of size ${word & ~F_MASK} is in list (${fl}, ${sl})`);
          if (m[(f >>> 2) + W_PREV_FREE] !== prev)
            this.corrupt(`block ${f}: prev link ${m[(f >>> 2) + W_PREV_FREE]} != ${prev}`);
          prev = f;
          f = m[(f >>> 2) + W_NEXT_FREE];
        }
      }
    }
    if (listed !== freeBlocks)
      this.corrupt(`lists hold ${listed} blocks, the heap has ${freeBlocks} free`);
  }
}

/** The first block's pointer is aligned to this; allocAligned's fast path serves up to it. */
const FIRST_ALIGN = 16;

/** How many blocks the search's fallback looks at in one list (a constant bound). */
const FALLBACK_SCAN = 8;

/** A fixed-length view of the whole live map (never length-tracking: see onViews). */
function liveView(buf: ArrayBuffer | SharedArrayBuffer): Int32Array {
  return new Int32Array(buf, 0, buf.byteLength >>> 2);
}

/** The word a merge leaves at the start of a freed block it absorbed: free bit + address hash. */
function tombstone(b: number): number {
  return ((Math.imul(b, 0x9e3779b1) ^ 0x544c5346) & ~F_MASK & 0x7fffffff) | F_FREE;
}
