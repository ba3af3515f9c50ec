/**
 * FreeListAllocator: a general-purpose allocator for blocks of any size freed in any order.
 * Free blocks are found first fit (default), best fit or next fit; a larger free block is
 * split; a freed block is merged at once with both free neighbours (boundary tags), so
 * freeing everything leaves exactly one free block.
 *
 * Choose it for variable-size blocks with no better-known pattern, when a small, simple,
 * inspectable heap matters more than O(1) worst cases (then choose TLSF). From the seeds:
 * Vais FreeList (`new(capacity)`, `alloc`, `dealloc`, `total_allocated`, `remaining`,
 * `drop`; first fit, splitting). Vais spends a 16-byte header per block (size + next) with a
 * 32-byte minimum block and never merges; this one spends 4 bytes per block and merges.
 *
 * ## How the header shrinks from 16 bytes to 4
 * - The size word is all a used block keeps: sizes are multiples of 8, so its low three bits
 *   are free for flags: USED (this block) and PREV_USED (the block before it).
 * - Only FREE blocks carry a footer (a copy of the size at their last word). Merging with the
 *   left neighbour needs its start only when it is free; PREV_USED says whether it is, so a
 *   used block needs no footer (the classic "prev-in-use bit").
 * - The free-set links live inside the free blocks' own payload, where nothing else is.
 *
 * ## Why a tree, not a linked list
 * First fit over an address-ordered free list keeps fragmentation lowest (Wilson et al.,
 * "Dynamic Storage Allocation: A Survey and Critical Review", 1995; Johnstone and Wilson,
 * 1998), but with a list both the search and the address-ordered insert on free walk the
 * list. Replaying `python-json` (193 k live blocks) with a list took 8,000 list steps per
 * alloc and 2,700 per free: 7.6 minutes. So the free blocks are kept in a *treap keyed by
 * address*, each node also holding the largest block size in its subtree (Stephenson's
 * "fast fits", 1983). The policy is exactly address-ordered first fit — the lowest-addressed
 * free block that fits — but found in O(log n): descend left whenever the left subtree's
 * largest block fits. Inserting a freed block in address order is O(log n) too. The same
 * replay now takes 0.25 s: 130 ns per call on a fixed 64 MiB heap, about TLSF's speed on
 * all three traces (on random churn, WORKLOADS.md W1, TLSF is 2–4 times faster).
 * The minimum block grows from the 16 bytes two list links would need to 24 (three tree
 * links and MAXSUB); best and next fit use the same tree.
 *
 * A node's priority is a hash (murmur3 fmix32, a bijection) of the block's END address, not
 * its start: carving an allocation off the front of a free block, or merging a freed block
 * into the free block on its right, keeps the end, so the node is renamed in place with no
 * rotation — the two most frequent operations.
 *
 * ## Memory picture
 *
 *     region.start (rounded up to 8)
 *     | header: 8 common + 9 slots | 4 | block | block | … | block | S | bitmap | slack |
 *     ^ metaAt                      ^ dataStart                       ^ AREA_END
 *                                        ^ ORG = dataStart + 4 (first block start)
 *
 *     slot  8 ROOT         block start of the tree root, 0 when no block is free
 *     slot  9 AREA_END     blocks tile [ORG, AREA_END) exactly; the end sentinel S (one
 *                          size word: size 0, USED) sits at AREA_END, the bitmap after it
 *     slot 10 END          end of the bytes this heap manages (8-aligned, ≤ memory end)
 *     slot 11 ROVER        next fit: the address the next search starts at
 *     slot 12 LIVE         live blocks
 *     slot 13 IN_USE       Σ usable bytes of live blocks (block size − 4)
 *     slot 14 FREE_BYTES   Σ sizes of free blocks (size words included)
 *     slot 15 FREE_BLOCKS  number of free blocks (= nodes in the tree)
 *     slot 16 PEAK         highest IN_USE since creation or reset
 *     CONFIG (slot 6)      the fit policy: 0 first, 1 best, 2 next
 *
 *     A block starts at an address ≡ 4 (mod 8) so its payload (start + 4) is 8-aligned; its
 *     size is a multiple of 8, at least MIN_BLOCK = 24.
 *
 *     size word (u32, first word of every block; also the sentinel):
 *     bit: 31                                    3    2       1          0
 *         | size (a multiple of 8, < 2^32)       | 0 | PREV_USED | USED |
 *
 *     used block (4 bytes of overhead):
 *     | size word | payload: size − 4 usable bytes, 8-aligned ....................... |
 *     +0          +4                                                             +size
 *
 *     free block (a tree node; 24 bytes at least):
 *     | size word | LEFT | RIGHT | PARENT | MAXSUB | (stale bytes) ... | FOOTER = size |
 *     +0          +4     +8      +12      +16      +20                 +size−4
 *     LEFT/RIGHT/PARENT: block starts of tree neighbours (0 = none); MAXSUB: the largest
 *     block size in this node's subtree.
 *
 *     bitmap (u32 words at AREA_END + 4): bit (b − ORG) / 8 is set exactly when a block
 *     (used or free) starts at b; 8 bytes of bitmap per 512 bytes of block area (1/64).
 *     bit:  31                                     1           0
 *         | ORG + 8·(32w+31) | …                  | ORG+8(32w+1) | ORG + 8·32w |
 *
 * The bitmap sits at the top and moves up when the memory grows: the new space, the old
 * bitmap's bytes and the last block (if free) become one free block, and a larger bitmap is
 * written at the new top. It is in-band, not in `extraMetaBytes`, because it must grow
 * with the heap, and a bitmap sized up front for a 4 GiB maximum would cost 64 MiB.
 *
 * ## Alignment
 * Payloads are 8-aligned. For a larger alignment the block starts at the first aligned
 * payload in the free block whose gap in front is 0 or at least 24 bytes (the gap becomes a
 * free block; an 8- or 16-byte gap could not), so at most align + 16 bytes are skipped.
 * Requests aligned to 16 or more get block sizes rounded to 16, not 8, as glibc's chunks
 * are: a run of 16-aligned requests (every request in the three real traces) then keeps
 * every block boundary 16-aligned and never needs a gap. A free block can be large enough
 * and still not fit because of its gap, so an aligned search tries ALIGN_TRIES (8) such
 * candidates in address order, then takes the next block large enough for any gap
 * (size ≥ need + align + 16): first fit up to the 8th miss, and O(log n). Only when there
 * is no such block (near out of memory) does it try every remaining candidate, so an
 * aligned request fails only when no free block can hold it.
 *
 * ## Cost (n = free blocks; treap depth ≈ 2 ln n, expected)
 * | operation        | best       | worst        | notes                                   |
 * | ---------------- | ---------- | ------------ | --------------------------------------- |
 * | alloc, first fit | O(log n)   | O(log n)     | ≤ 9 tree searches when aligned above 8; |
 * |                  |            |              | near out of memory, every candidate     |
 * | alloc, next fit  | O(log n)   | O(log n)     | first fit from ROVER, then from start   |
 * | alloc, best fit  | O(log n)   | O(n log n)   | every block ≥ size, until an exact fit  |
 * | dealloc          | O(1)       | O(log n)     | a rename when merging right, else       |
 * |                  |            |              | insert or remove                        |
 * | realloc          | O(1)       | alloc + copy | in place into a free right neighbour    |
 * | reset            | O(heap/64) | O(heap/64)   | clears the bitmap                       |
 * | growth           | O(heap/64) | O(heap/64)   | moves the bitmap; amortised by doubling |
 * | rejected pointer | O(1)       | O(heap/256)  | bitmap scan back to the block holding it|
 * | check            | O(heap)    | O(heap)      | physical walk, bitmap, tree             |
 * Growth of the memory (when no free block fits) is amortised O(1) per byte.
 *
 * Fragmentation: address-ordered first fit with immediate merging, the lowest-
 * fragmentation policy known for real programs (see above). Replaying the traces
 * (src/trace/replay.ts, fixed 256 MiB heap), the highest block end over the peak of live
 * bytes is 1.15 (python-json), 1.14 (gcc-lvm), 1.03 (sqlite3); TLSF gives 1.31, 1.24, 1.12.
 * Best fit gives the same figures at up to twice the time; next fit scatters blocks over
 * the heap: 5.8, 10.1, 3.1 — offered because the seeds name it, not recommended. Internal:
 * up to 7 (or 15 when aligned ≥ 16) bytes of rounding + the 4-byte size word; a remainder
 * under 24 bytes stays with the block.
 *
 * ## Overhead
 * Per used block: the 4-byte size word + rounding to 8 (minimum block 24 bytes, so `alloc(0)`
 * … `alloc(20)` take 24); + 1 bit of bitmap per 8 bytes of heap (1.6%). Per heap: the header
 * (136 bytes), 4 bytes before the first block, the 4-byte sentinel, the bitmap.
 *
 * ## Invariants (`check()`)
 * The physical walk from ORG reaches AREA_END exactly, every size a multiple of 8 ≥ 24;
 * each PREV_USED bit equals the previous block's USED bit (the first block's is 1); no two
 * free blocks are adjacent; every free block's footer equals its size; the sentinel is
 * (0, USED, PREV_USED of the last block). The bitmap has a bit exactly at each block start.
 * The tree: root's PARENT is 0, child.PARENT = node, in-order addresses strictly increase,
 * every node is a free block, a node's priority exceeds its children's, MAXSUB = max(own
 * size, children's MAXSUB); the node count equals the walk's free-block count (so every
 * free block is in the tree). LIVE, IN_USE, FREE_BYTES, FREE_BLOCKS equal the walk's sums.
 * Every walk is bounded (blocks ≤ area / 24, nodes ≤ FREE_BLOCKS).
 *
 * ## Misuse
 * A pointer is a live block exactly when it is 8-aligned, inside the area, its bitmap bit
 * is set and its size word has USED: O(1) and exact, whatever the user wrote into blocks.
 * Rejections, before any write: misaligned, outside, inside a live block (interior) →
 * InvalidPointerError; a free block's start → DoubleFreeError. A block freed and merged into
 * its left neighbour no longer starts a block, but its size word is left in place with USED
 * cleared; a pointer whose bit is clear is looked up (bitmap scan back to the block holding
 * it) and is a DoubleFreeError when that block is free and the word is such a dead size
 * word, else InvalidPointerError. So a second free is detected deterministically until the
 * memory is handed out again; after reuse it is a live block (the second free then frees
 * the new owner's block, as in every allocator without quarantine) or an interior pointer.
 * The bitmap is what makes this exact: size words alone can be forged by any data a user
 * writes into a block; the bitmap costs 1.6% of the heap (1 bit per 8 bytes), and keeps
 * every check O(1). `dealloc(ptr, size)`: size > usable size → LayoutMismatchError (a block
 * may be larger than its request, so only a size it cannot hold is caught).
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import { alignDown, alignUp, popcount } from "../core/bits.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  LayoutMismatchError,
} from "../core/errors.js";
import { declareHeader, H_CONFIG, StrategyKind } from "../core/header.js";
import type { Memory } from "../core/memory.js";
import {
  checkAlign,
  checkDeallocSize,
  checkSize32,
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  isValidAlign,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { FixedMemory } from "../memory/memory.js";

// ---- header slots (float64) ------------------------------------------------------------------

const FREE_LIST_HEADER = declareHeader([
  "ROOT",
  "AREA_END",
  "END",
  "ROVER",
  "LIVE",
  "IN_USE",
  "FREE_BYTES",
  "FREE_BLOCKS",
  "PEAK",
]);
const { ROOT, AREA_END, END, ROVER, LIVE, IN_USE, FREE_BYTES, FREE_BLOCKS, PEAK } =
  FREE_LIST_HEADER.slot;

// ---- blocks ------------------------------------------------------------------------------------

/** Bytes of a u32 word; every field of a block is one. */
const WORD = 4;
/** Block sizes and payload addresses are multiples of this. */
const GRANULE = 8;
/** The size word in front of every block. */
const SIZE_WORD_BYTES = WORD;
/** Size-word flags, in the low bits a multiple of GRANULE leaves free. */
const USED = 1;
const PREV_USED = 2;
const FLAG_BITS = GRANULE - 1;

/** Word offsets, from a free block's start, of its tree fields. */
const F_LEFT = 1;
const F_RIGHT = 2;
const F_PARENT = 3;
const F_MAXSUB = 4;
const FOOTER_BYTES = WORD;
/** The smallest block: a size word, four tree fields and a footer, rounded to GRANULE. */
export const MIN_BLOCK = alignUp((F_MAXSUB + 1) * WORD + FOOTER_BYTES, GRANULE);
/** The largest request that still gets a MIN_BLOCK. */
const MIN_BLOCK_PAYLOAD = MIN_BLOCK - SIZE_WORD_BYTES;
/** Block sizes for alignments ≥ 16 are multiples of this (as glibc's chunks). */
const WIDE_GRANULE = 16;
/**
 * The largest alignment gap in front of a block: the gap is 0 or at least MIN_BLOCK (it
 * becomes a free block), so payloadIn moves at most MIN_BLOCK + align − 8 bytes.
 */
const maxGap = (align: number): number => MIN_BLOCK + align - GRANULE;
/** Candidates an aligned search tries before it asks for a block that surely fits. */
const ALIGN_TRIES = 8;

// ---- bitmap ------------------------------------------------------------------------------------

const BITS_PER_WORD = 32;
/** The bitmap grows in 8-byte chunks (it is followed by 8-aligned bytes). */
const BITMAP_CHUNK_BYTES = 8;
/** Bytes of block area one bitmap chunk covers: one bit per GRANULE. */
const BITMAP_CHUNK_SPAN = BITMAP_CHUNK_BYTES * 8 * GRANULE; // 512

/** Bytes of bitmap for `area` bytes of blocks. */
export function bitmapBytes(area: number): number {
  return BITMAP_CHUNK_BYTES * Math.ceil(area / BITMAP_CHUNK_SPAN);
}

/**
 * The largest block area A (0 or a multiple of 8 ≥ MIN_BLOCK) with A + bitmapBytes(A) ≤ room
 * (room a multiple of 8): whole chunks of 512 + 8 bytes, then what is left minus one chunk.
 */
export function areaFor(room: number): number {
  const whole = Math.floor(room / (BITMAP_CHUNK_SPAN + BITMAP_CHUNK_BYTES));
  const rest = room - whole * (BITMAP_CHUNK_SPAN + BITMAP_CHUNK_BYTES);
  const area =
    whole * BITMAP_CHUNK_SPAN + (rest >= 2 * BITMAP_CHUNK_BYTES ? rest - BITMAP_CHUNK_BYTES : 0);
  return area >= MIN_BLOCK ? area : 0;
}

/**
 * The block size that serves `size` bytes at `align` (may exceed 2^32 for huge sizes): a
 * multiple of 8, or of 16 for alignments of 16 and more (see "Alignment" above).
 */
export function blockSizeFor(size: number, align: number): number {
  if (align >= WIDE_GRANULE) {
    return alignUp(Math.max(size + SIZE_WORD_BYTES, MIN_BLOCK), WIDE_GRANULE);
  }
  return size <= MIN_BLOCK_PAYLOAD ? MIN_BLOCK : alignUp(size + SIZE_WORD_BYTES, GRANULE);
}

/** A tree node's priority: murmur3's fmix32 of the block's end (a bijection on u32). */
function priorityOf(end: number): number {
  let x = end | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

// ---- the allocator ----------------------------------------------------------------------------

export type FitPolicy = "first" | "best" | "next";
const FIT_CODES: Record<FitPolicy, number> = { first: 0, best: 1, next: 2 };
const FIT_FIRST = 0;
const FIT_BEST = 1;
const FIT_NEXT = 2;
const FIT_NAMES: readonly FitPolicy[] = ["first", "best", "next"];

export interface FreeListOptions extends AllocatorOptions {
  /** How a free block is chosen (default "first"; with `attach`, must match the heap's). */
  fit?: FitPolicy;
  /** Grow the memory when no free block fits (default: whenever the memory can grow). */
  grow?: boolean;
}

export class FreeListAllocator extends BaseAllocator {
  readonly name = "FreeListAllocator";
  /** The fit policy this heap was made with. */
  readonly fit: FitPolicy;
  /** Bytes of header a FreeListAllocator places at the start of its region. */
  static readonly metadataSize: number = FREE_LIST_HEADER.bytes;
  /** The smallest block (24 bytes): what `alloc(0)` … `alloc(20)` take. */
  static readonly minBlockSize: number = MIN_BLOCK;

  private readonly growable: boolean;
  /** Start of the first block: dataStart + 4, so payloads are 8-aligned. */
  private readonly org: number;
  private readonly fitCode: number;
  /** The memory's u32 view (refreshed when growth replaces it). */
  private u: Uint32Array;

  /**
   * `new FreeListAllocator(capacity)` owns a fresh zeroed buffer whose block area is
   * `capacity` bytes (rounded up to 8): one free block of that size at first.
   * `new FreeListAllocator(memory)` manages any byte memory (fixed, growable, shared, wasm).
   */
  constructor(memoryOrCapacity: Memory | number, options: FreeListOptions = {}) {
    const fitName = options.fit;
    if (fitName !== undefined && !Object.hasOwn(FIT_CODES, fitName)) {
      throw new ArgumentRangeError(
        `fit must be "first", "best" or "next", got ${String(fitName)}`,
        "ERR_HEAP_CONFIG",
      );
    }
    const memory =
      typeof memoryOrCapacity === "number"
        ? ownedFreeListMemory(memoryOrCapacity)
        : memoryOrCapacity;
    if (!memory.hasBytes) {
      throw new ArgumentTypeError(
        "FreeListAllocator keeps a size word in front of every block: it needs a memory with " +
          "bytes, not an offset-only region",
        "ERR_UNSUPPORTED",
      );
    }
    const attach = options.attach === true;
    const fitCode = FIT_CODES[fitName ?? "first"];
    super(memory, StrategyKind.freeList, FREE_LIST_HEADER, 0, fitCode, attach, "FreeListAllocator");
    this.org = this.dataStart + SIZE_WORD_BYTES;
    this.u = memory.u32;
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    if (attach) {
      const stored = this.slots[this.slot0 + H_CONFIG];
      if (!(stored === FIT_FIRST || stored === FIT_BEST || stored === FIT_NEXT)) {
        throw new HeapIncompatibleError(
          `FreeListAllocator: unknown fit policy code ${stored}`,
          "ERR_HEAP_CONFIG",
        );
      }
      if (fitName !== undefined && FIT_CODES[fitName] !== stored) {
        throw new HeapIncompatibleError(
          `FreeListAllocator: the heap uses ${FIT_NAMES[stored]} fit, not ${fitName} fit`,
          "ERR_HEAP_CONFIG",
        );
      }
      this.fitCode = stored;
    } else {
      this.fitCode = fitCode;
      this.format();
    }
    this.fit = FIT_NAMES[this.fitCode];
  }

  /** The seeds' `from_buffer`: a heap in `[byteOffset, byteOffset + byteLength)` of a buffer. */
  static fromBuffer(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    byteLength?: number,
    options: FreeListOptions = {},
  ): FreeListAllocator {
    return new FreeListAllocator(new FixedMemory(buffer, byteOffset, byteLength, false), options);
  }

  /** Attaches a second handle to a free-list heap already in `memory`. */
  static attach(memory: Memory): FreeListAllocator {
    return new FreeListAllocator(memory, { attach: true });
  }

  // ---- the contract -----------------------------------------------------------------------

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    const _slots = this.slots;
    const _slot0 = this.slot0;
    if (this.blocked()) {
      this.enterSlow();
      return this.alloc(size, align);
    }
    if (!isUint32(size)) {
      rejectSize(size);
      return 0;
    }
    if (align !== DEFAULT_ALIGN) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align < DEFAULT_ALIGN) align = DEFAULT_ALIGN;
    }
    const need = blockSizeFor(size, align);
    let b = this.findFreeBlock(need, align);
    if (b === 0) {
      if (!this.growFor(need, align)) return 0;
      b = this.findFreeBlock(need, align);
      if (b === 0) return 0;
    }
    return this.splitBlock(b, need, align);
  }

  dealloc(ptr: number, size?: number): void {
    const _slots = this.slots;
    const _slot0 = this.slot0;
    if (this.blocked()) {
      this.enterSlow();
      this.dealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const b = this.liveBlock(ptr);
    if (size !== undefined) this.checkSizeMatches(b, size);
    this.freeBlock(b);
  }

  /**
   * Shrinks in place (the tail joins a free right neighbour, or becomes a free block when it
   * is at least 24 bytes); grows in place into a free right neighbour that is large enough;
   * else moves (alloc, copy, free). 0 when out of memory, the old block untouched.
   */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const b = this.liveBlock(ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const u = this.u;
    const bi = b >>> 2;
    const hdr = u[bi];
    const s = hdr - (hdr & FLAG_BITS);
    const need = blockSizeFor(newSize, align);
    if (ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      if (need <= s) {
        this.shrinkInPlace(b, s, need);
        return ptr;
      }
      if (this.growInPlace(b, s, need)) return ptr;
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    const keep = Math.min(s - SIZE_WORD_BYTES, newSize);
    this.memory.u8.copyWithin(to, ptr, ptr + keep);
    this.freeBlock(b);
    return to;
  }

  usableSize(ptr: number): number {
    this.enter();
    const b = this.liveBlock(ptr);
    const w = this.u[b >>> 2];
    return w - (w & FLAG_BITS) - SIZE_WORD_BYTES;
  }

  /** Frees every block: the area is one free block again (the memory keeps its size). */
  reset(): void {
    this.enter();
    this.formatArea(this.slots[this.slot0 + AREA_END] - this.org);
  }

  /**
   * Bytes inside live blocks, size words and rounding included: Σ block sizes. The seeds'
   * `total_allocated` (Vais counts its 16-byte headers the same way).
   */
  totalAllocated(): number {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    return slots[slot0 + IN_USE] + SIZE_WORD_BYTES * slots[slot0 + LIVE];
  }

  /**
   * Bytes of the free blocks, size words included: block area − totalAllocated(). Exact,
   * where the seeds' `remaining` (capacity − allocated) was "approximate"; as there, one
   * allocation can get at most `stats().largestFree`, and a growable memory's future growth
   * is not counted.
   */
  remaining(): number {
    this.enter();
    return this.slots[this.slot0 + FREE_BYTES];
  }

  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const inUse = slots[slot0 + IN_USE];
    const free = slots[slot0 + FREE_BYTES] - SIZE_WORD_BYTES * slots[slot0 + FREE_BLOCKS];
    const capacity = this.memory.end - this.memory.start;
    const root = slots[slot0 + ROOT];
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: root === 0 ? 0 : this.u[(root >>> 2) + F_MAXSUB] - SIZE_WORD_BYTES,
    };
  }

  /** The free blocks in address order, as [start, size] pairs (for tests and tools). */
  freeBlocks(): Array<[number, number]> {
    this.enter();
    const out: Array<[number, number]> = [];
    for (let x = this.leftmost(this.root()); x !== 0; x = this.successor(x)) {
      out.push([x, this.sizeOf(x)]);
    }
    return out;
  }

  protected override onViews(): void {
    this.u = this.memory.u32;
  }

  // ---- formatting --------------------------------------------------------------------------

  /** Lays out a fresh heap over the memory's bytes (growing a tiny growable memory). */
  private format(): void {
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
  private formatArea(area: number): void {
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

  // ---- finding a free block ------------------------------------------------------------------

  /** A free block that can hold a block of `need` bytes at `align`, by the fit policy; or 0. */
  private findFreeBlock(need: number, align: number): number {
    const root = this.slots[this.slot0 + ROOT];
    if (root === 0 || this.u[(root >>> 2) + F_MAXSUB] < need) return 0;
    if (this.fitCode === FIT_FIRST) {
      const b = this.leftmostFit(root, need);
      return align === DEFAULT_ALIGN ? b : this.alignedFrom(b, need, align, 0);
    }
    if (this.fitCode === FIT_NEXT)
      return this.nextFitFrom(this.slots[this.slot0 + ROVER], need, align);
    return this.bestFit(root, need, align);
  }

  /** The lowest-addressed block of subtree `x` (whose MAXSUB ≥ need) with size ≥ need. */
  private leftmostFit(x: number, need: number): number {
    const u = this.u;
    for (;;) {
      const xi = x >>> 2;
      const l = u[xi + F_LEFT];
      if (l !== 0 && u[(l >>> 2) + F_MAXSUB] >= need) {
        x = l;
        continue;
      }
      const w = u[xi];
      if (w - (w & FLAG_BITS) >= need) return x;
      x = u[xi + F_RIGHT]; // its MAXSUB ≥ need, by the parent's
    }
  }

  /** The next block after `x` in address order with size ≥ need, or 0. */
  private nextFit(x: number, need: number): number {
    const u = this.u;
    const r = u[(x >>> 2) + F_RIGHT];
    if (r !== 0 && u[(r >>> 2) + F_MAXSUB] >= need) return this.leftmostFit(r, need);
    for (;;) {
      const p = u[(x >>> 2) + F_PARENT];
      if (p === 0) return 0;
      const pi = p >>> 2;
      if (u[pi + F_LEFT] === x) {
        const w = u[pi];
        if (w - (w & FLAG_BITS) >= need) return p;
        const pr = u[pi + F_RIGHT];
        if (pr !== 0 && u[(pr >>> 2) + F_MAXSUB] >= need) return this.leftmostFit(pr, need);
      }
      x = p;
    }
  }

  /** Next fit: the first fitting block starting at or after `from`, else from the start. */
  private nextFitFrom(from: number, need: number, align: number): number {
    const u = this.u;
    // The lowest block starting at or after `from`.
    let lb = 0;
    let x = this.slots[this.slot0 + ROOT];
    while (x !== 0) {
      if (x >= from) {
        lb = x;
        x = u[(x >>> 2) + F_LEFT];
      } else {
        x = u[(x >>> 2) + F_RIGHT];
      }
    }
    if (lb !== 0) {
      const b = this.alignedFrom(
        this.sizeOf(lb) >= need ? lb : this.nextFit(lb, need),
        need,
        align,
        0,
      );
      if (b !== 0) return b;
    }
    return this.alignedFrom(
      this.leftmostFit(this.slots[this.slot0 + ROOT], need),
      need,
      align,
      from,
    );
  }

  /**
   * The first block from candidate `b` on (address order, size ≥ need) that holds `need`
   * bytes at `align`, before `below` if that is not 0. Tries ALIGN_TRIES candidates, then
   * jumps to the next block large enough for any alignment gap: first fit up to that bound.
   * Only when no such block exists does it try every remaining candidate (near out of
   * memory), so an aligned request fails only when no free block can hold it.
   */
  private alignedFrom(b: number, need: number, align: number, below: number): number {
    if (align !== DEFAULT_ALIGN) {
      for (let tries = 1; b !== 0 && !this.fitsAligned(b, need, align); tries++) {
        if (tries < ALIGN_TRIES) {
          b = this.nextFit(b, need);
          continue;
        }
        const from = b;
        b = this.nextFit(from, need + maxGap(align));
        if (b !== 0) break; // it fits whatever its gap
        b = this.nextFit(from, need);
        while (b !== 0 && !this.fitsAligned(b, need, align)) b = this.nextFit(b, need);
        break;
      }
    }
    return below !== 0 && b >= below ? 0 : b;
  }

  /** Best fit: the smallest fitting block (the lowest-addressed of equals); stops at exact. */
  private bestFit(root: number, need: number, align: number): number {
    let best = 0;
    let bestSize = 0;
    for (let b = this.leftmostFit(root, need); b !== 0; b = this.nextFit(b, need)) {
      const s = this.sizeOf(b);
      if ((best === 0 || s < bestSize) && this.fitsAligned(b, need, align)) {
        best = b;
        bestSize = s;
        if (s === need) break;
      }
    }
    return best;
  }

  /** Where the payload goes in free block `b` for `align`: leaves no gap, or one ≥ 24. */
  private payloadIn(b: number, align: number): number {
    const p = alignUp(b + SIZE_WORD_BYTES, align);
    const gap = p - SIZE_WORD_BYTES - b;
    return gap === 0 || gap >= MIN_BLOCK ? p : alignUp(b + SIZE_WORD_BYTES + MIN_BLOCK, align);
  }

  private fitsAligned(b: number, need: number, align: number): boolean {
    if (align === DEFAULT_ALIGN) return true;
    return this.payloadIn(b, align) - SIZE_WORD_BYTES + need <= b + this.sizeOf(b);
  }

  // ---- splitting and merging ----------------------------------------------------------------

  /** Hands out `need` bytes of free block `b` at `align`; returns the payload pointer. */
  private splitBlock(b: number, need: number, align: number): number {
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
  private freeBlock(b: number): void {
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
  private shrinkInPlace(b: number, s: number, need: number): void {
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
  private growInPlace(b: number, s: number, need: number): boolean {
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
  private growFor(need: number, align: number): boolean {
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
  private adoptGrowth(): void {
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

  // ---- the tree of free blocks ---------------------------------------------------------------

  private root(): number {
    return this.slots[this.slot0 + ROOT];
  }

  private sizeOf(b: number): number {
    const w = this.u[b >>> 2];
    return w - (w & FLAG_BITS);
  }

  private priority(b: number): number {
    const w = this.u[b >>> 2];
    return priorityOf(b + w - (w & FLAG_BITS));
  }

  /** Writes a free block's size word (PREV_USED: its left neighbour is never free) and footer. */
  private writeFree(b: number, size: number): void {
    const u = this.u;
    u[b >>> 2] = size + PREV_USED;
    u[((b + size) >>> 2) - 1] = size;
  }

  /** MAXSUB of `x` from its own size and its children's MAXSUB. */
  private subtreeMax(x: number): number {
    const u = this.u;
    const xi = x >>> 2;
    const w = u[xi];
    let m = w - (w & FLAG_BITS);
    const l = u[xi + F_LEFT];
    if (l !== 0 && u[(l >>> 2) + F_MAXSUB] > m) m = u[(l >>> 2) + F_MAXSUB];
    const r = u[xi + F_RIGHT];
    if (r !== 0 && u[(r >>> 2) + F_MAXSUB] > m) m = u[(r >>> 2) + F_MAXSUB];
    return m;
  }

  /** Recomputes MAXSUB from `x` up to the root (stopping once a value is unchanged if `early`). */
  private fixMaxUp(x: number, early: boolean): void {
    const u = this.u;
    while (x !== 0) {
      const xi = x >>> 2;
      const m = this.subtreeMax(x);
      if (early && u[xi + F_MAXSUB] === m) return;
      u[xi + F_MAXSUB] = m;
      x = u[xi + F_PARENT];
    }
  }

  /** Rotates `x` above its parent, keeping address order; recomputes both MAXSUBs. */
  private rotateUp(x: number): void {
    const u = this.u;
    const xi = x >>> 2;
    const p = u[xi + F_PARENT];
    const pi = p >>> 2;
    if (u[pi + F_LEFT] === x) {
      const c = u[xi + F_RIGHT];
      u[pi + F_LEFT] = c;
      if (c !== 0) u[(c >>> 2) + F_PARENT] = p;
      u[xi + F_RIGHT] = p;
    } else {
      const c = u[xi + F_LEFT];
      u[pi + F_RIGHT] = c;
      if (c !== 0) u[(c >>> 2) + F_PARENT] = p;
      u[xi + F_LEFT] = p;
    }
    const g = u[pi + F_PARENT];
    u[xi + F_PARENT] = g;
    u[pi + F_PARENT] = x;
    this.replaceChild(g, p, x);
    u[pi + F_MAXSUB] = this.subtreeMax(p);
    u[xi + F_MAXSUB] = this.subtreeMax(x);
  }

  /** Points `parent`'s link to `from` (or the root, when parent is 0) at `to`. */
  private replaceChild(parent: number, from: number, to: number): void {
    if (parent === 0) {
      this.slots[this.slot0 + ROOT] = to;
      return;
    }
    const u = this.u;
    const pi = parent >>> 2;
    if (u[pi + F_LEFT] === from) u[pi + F_LEFT] = to;
    else u[pi + F_RIGHT] = to;
  }

  /** Adds free block `b` (size word and footer written) to the tree. */
  private insertFreeBlock(b: number): void {
    const u = this.u;
    const bi = b >>> 2;
    const size = this.sizeOf(b);
    u[bi + F_LEFT] = 0;
    u[bi + F_RIGHT] = 0;
    u[bi + F_MAXSUB] = size;
    let x = this.root();
    if (x === 0) {
      u[bi + F_PARENT] = 0;
      this.slots[this.slot0 + ROOT] = b;
      return;
    }
    for (;;) {
      const xi = x >>> 2;
      if (u[xi + F_MAXSUB] < size) u[xi + F_MAXSUB] = size;
      const side = b < x ? F_LEFT : F_RIGHT;
      const c = u[xi + side];
      if (c === 0) {
        u[xi + side] = b;
        break;
      }
      x = c;
    }
    u[bi + F_PARENT] = x;
    const pb = this.priority(b);
    for (;;) {
      const p = u[bi + F_PARENT];
      if (p === 0 || this.priority(p) > pb) return;
      this.rotateUp(b);
    }
  }

  /** Takes free block `b` out of the tree. */
  private removeFreeBlock(b: number): void {
    const u = this.u;
    const bi = b >>> 2;
    for (;;) {
      const l = u[bi + F_LEFT];
      const r = u[bi + F_RIGHT];
      if (l === 0 || r === 0) break;
      this.rotateUp(this.priority(l) > this.priority(r) ? l : r);
    }
    const child = u[bi + F_LEFT] !== 0 ? u[bi + F_LEFT] : u[bi + F_RIGHT];
    const p = u[bi + F_PARENT];
    if (child !== 0) u[(child >>> 2) + F_PARENT] = p;
    this.replaceChild(p, b, child);
    // Rotations kept every MAXSUB exact with b inside; only b's ancestors change now.
    this.fixMaxUp(p, true);
  }

  /**
   * Free block `nw` (size `size`) takes the place of `old`: no other free block lies between
   * them, and `nw` ENDS where `old` ends (every caller carves from or adds to the front), so
   * address order and heap order (priority = hash of the end) hold as they are: a rename,
   * then MAXSUB. Reads all of `old`'s fields before writing `nw`'s, as the two may overlap.
   */
  private replaceFreeBlock(old: number, nw: number, size: number): void {
    const u = this.u;
    const oi = old >>> 2;
    const l = u[oi + F_LEFT];
    const r = u[oi + F_RIGHT];
    const p = u[oi + F_PARENT];
    const m = u[oi + F_MAXSUB];
    this.writeFree(nw, size);
    const ni = nw >>> 2;
    u[ni + F_LEFT] = l;
    u[ni + F_RIGHT] = r;
    u[ni + F_PARENT] = p;
    u[ni + F_MAXSUB] = m;
    if (l !== 0) u[(l >>> 2) + F_PARENT] = nw;
    if (r !== 0) u[(r >>> 2) + F_PARENT] = nw;
    this.replaceChild(p, old, nw);
    this.fixMaxUp(nw, true);
  }

  /**
   * Restores heap order and MAXSUB after free block `x` changed size or start (keeping its
   * place in address order): rotations only when its end, hence its priority, moved.
   */
  private repositionFreeBlock(x: number): void {
    const u = this.u;
    const xi = x >>> 2;
    const px = this.priority(x);
    let rotated = false;
    for (;;) {
      const p = u[xi + F_PARENT];
      if (p === 0 || this.priority(p) > px) break;
      this.rotateUp(x);
      rotated = true;
    }
    for (;;) {
      const l = u[xi + F_LEFT];
      const r = u[xi + F_RIGHT];
      let c = l;
      let pc = l !== 0 ? this.priority(l) : 0;
      if (r !== 0) {
        const pr = this.priority(r);
        if (c === 0 || pr > pc) {
          c = r;
          pc = pr;
        }
      }
      if (c === 0 || pc < px) break;
      this.rotateUp(c);
      rotated = true;
    }
    // Without rotations every ancestor was exact for x's old MAXSUB: stop once unchanged.
    // Rotations already recomputed nodes whose ancestors are stale: go to the root.
    this.fixMaxUp(x, !rotated);
  }

  private leftmost(x: number): number {
    const u = this.u;
    if (x === 0) return 0;
    while (u[(x >>> 2) + F_LEFT] !== 0) x = u[(x >>> 2) + F_LEFT];
    return x;
  }

  private successor(x: number): number {
    const u = this.u;
    const r = u[(x >>> 2) + F_RIGHT];
    if (r !== 0) return this.leftmost(r);
    for (;;) {
      const p = u[(x >>> 2) + F_PARENT];
      if (p === 0 || u[(p >>> 2) + F_LEFT] === x) return p;
      x = p;
    }
  }

  // ---- the block-start bitmap ----------------------------------------------------------------

  /** Index in `u` of bitmap word 0. */
  private bitmapIndex(): number {
    return (this.slots[this.slot0 + AREA_END] + SIZE_WORD_BYTES) >>> 2;
  }

  private setBit(b: number): void {
    const g = (b - this.org) / GRANULE;
    this.u[this.bitmapIndex() + (g >>> 5)] |= 1 << (g & (BITS_PER_WORD - 1));
  }

  private clearBit(b: number): void {
    const g = (b - this.org) / GRANULE;
    this.u[this.bitmapIndex() + (g >>> 5)] &= ~(1 << (g & (BITS_PER_WORD - 1)));
  }

  private testBit(b: number): boolean {
    const g = (b - this.org) / GRANULE;
    return (this.u[this.bitmapIndex() + (g >>> 5)] & (1 << (g & (BITS_PER_WORD - 1)))) !== 0;
  }

  // ---- validation -------------------------------------------------------------------------

  /** The start of the live block whose payload is `ptr`; throws (changing nothing) if none. */
  private liveBlock(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const b = ptr - SIZE_WORD_BYTES;
    if ((ptr & (GRANULE - 1)) !== 0 || b < this.org || ptr >= this.slots[this.slot0 + AREA_END]) {
      throw this.notALiveBlock(ptr);
    }
    if (!this.testBit(b)) throw this.notALiveBlock(ptr);
    if ((this.u[b >>> 2] & USED) === 0) {
      throw new DoubleFreeError(`pointer ${ptr}: the block is free (freed already)`);
    }
    return b;
  }

  /** The error for a pointer that is not a live block's payload (the slow path). */
  private notALiveBlock(ptr: number): Error {
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

  private checkSizeMatches(b: number, size: number): void {
    checkDeallocSize(size);
    const usable = this.sizeOf(b) - SIZE_WORD_BYTES;
    if (size > usable) {
      throw new LayoutMismatchError(
        `dealloc(${b + SIZE_WORD_BYTES}, ${size}): the block holds only ${usable} bytes`,
      );
    }
  }

  // ---- check --------------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u = this.u;
    const org = this.org;
    for (const s of [ROOT, AREA_END, END, ROVER, LIVE, IN_USE, FREE_BYTES, FREE_BLOCKS, PEAK]) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (slots[slot0 + H_CONFIG] !== this.fitCode)
      this.corrupt(`CONFIG ${slots[slot0 + H_CONFIG]} changed`);
    const areaEnd = slots[slot0 + AREA_END];
    const end = slots[slot0 + END];
    const area = areaEnd - org;
    if (!(area >= 0 && area % GRANULE === 0)) {
      this.corrupt(`AREA_END ${areaEnd} is not ORG ${org} + a multiple of 8`);
    }
    const bmEnd = areaEnd + SIZE_WORD_BYTES + bitmapBytes(area);
    if (!(bmEnd <= end && end <= this.memory.end)) {
      this.corrupt(`bitmap end ${bmEnd} > END ${end}, or END > memory end ${this.memory.end}`);
    }
    // The physical walk.
    let b = org;
    let prevUsed = true;
    let blocks = 0;
    let live = 0;
    let inUse = 0;
    let freeBlocks = 0;
    let freeBytes = 0;
    const maxBlocks = area / MIN_BLOCK;
    while (b < areaEnd) {
      const w = u[b >>> 2];
      const s = w - (w & FLAG_BITS);
      if ((w & (FLAG_BITS & ~(USED | PREV_USED))) !== 0) {
        this.corrupt(`block at ${b}: reserved size-word bit set (${w})`);
      }
      if (!(s >= MIN_BLOCK && b + s <= areaEnd)) {
        this.corrupt(`block at ${b}: size ${s} is below ${MIN_BLOCK} or runs past ${areaEnd}`);
      }
      if (((w & PREV_USED) !== 0) !== prevUsed) {
        this.corrupt(`block at ${b}: PREV_USED is ${(w & PREV_USED) >> 1}, not ${+prevUsed}`);
      }
      if (!this.testBit(b)) this.corrupt(`block at ${b}: no bitmap bit`);
      if ((w & USED) !== 0) {
        live++;
        inUse += s - SIZE_WORD_BYTES;
        prevUsed = true;
      } else {
        if (!prevUsed) this.corrupt(`free blocks at ${b} and before it are adjacent (not merged)`);
        const footer = u[((b + s) >>> 2) - 1];
        if (footer !== s) this.corrupt(`free block at ${b}: footer ${footer} != size ${s}`);
        freeBlocks++;
        freeBytes += s;
        prevUsed = false;
      }
      b += s;
      if (++blocks > maxBlocks) this.corrupt(`more than ${maxBlocks} blocks in ${area} bytes`);
    }
    const sw = u[areaEnd >>> 2];
    if (sw !== USED + (prevUsed ? PREV_USED : 0)) {
      this.corrupt(`end sentinel at ${areaEnd} is ${sw}, not ${USED + (prevUsed ? PREV_USED : 0)}`);
    }
    // The bitmap: exactly one bit per block start.
    const bm = this.bitmapIndex();
    const words = bitmapBytes(area) / WORD;
    let bits = 0;
    for (let i = 0; i < words; i++) bits += popcount(u[bm + i]);
    if (bits !== blocks) this.corrupt(`bitmap has ${bits} bits set for ${blocks} blocks`);
    if (live !== slots[slot0 + LIVE])
      this.corrupt(`LIVE ${slots[slot0 + LIVE]} != ${live} live blocks`);
    if (inUse !== slots[slot0 + IN_USE])
      this.corrupt(`IN_USE ${slots[slot0 + IN_USE]} != ${inUse}`);
    if (freeBytes !== slots[slot0 + FREE_BYTES]) {
      this.corrupt(`FREE_BYTES ${slots[slot0 + FREE_BYTES]} != ${freeBytes} bytes of free blocks`);
    }
    if (freeBlocks !== slots[slot0 + FREE_BLOCKS]) {
      this.corrupt(`FREE_BLOCKS ${slots[slot0 + FREE_BLOCKS]} != ${freeBlocks} free blocks`);
    }
    const rover = slots[slot0 + ROVER];
    if (!(rover >= org && rover <= areaEnd)) this.corrupt(`ROVER ${rover} outside the area`);
    this.checkTree(freeBlocks, areaEnd);
  }

  /** The tree: links, order, heap order, MAXSUB, and exactly `count` free blocks. */
  private checkTree(count: number, areaEnd: number): void {
    const u = this.u;
    const root = this.root();
    const isFreeBlock = (x: number) =>
      x >= this.org &&
      x < areaEnd &&
      (x - this.org) % GRANULE === 0 &&
      this.testBit(x) &&
      (u[x >>> 2] & USED) === 0;
    if (root !== 0) {
      if (!isFreeBlock(root)) this.corrupt(`tree root ${root} is not a free block`);
      if (u[(root >>> 2) + F_PARENT] !== 0) this.corrupt(`tree root ${root} has a parent`);
    } else if (count !== 0) {
      this.corrupt(`tree is empty but ${count} blocks are free`);
    }
    // In-order traversal with an explicit stack, bounded by `count` nodes.
    const stack: number[] = [];
    let x = root;
    let seen = 0;
    let prev = 0;
    while (x !== 0 || stack.length > 0) {
      while (x !== 0) {
        if (++seen > count) this.corrupt(`tree has more nodes than the ${count} free blocks`);
        const xi = x >>> 2;
        for (const side of [F_LEFT, F_RIGHT]) {
          const c = u[xi + side];
          if (c === 0) continue;
          if (!isFreeBlock(c)) this.corrupt(`tree node ${x}: child ${c} is not a free block`);
          if (u[(c >>> 2) + F_PARENT] !== x) {
            this.corrupt(`tree node ${c}: PARENT ${u[(c >>> 2) + F_PARENT]} != ${x}`);
          }
          if (this.priority(c) > this.priority(x)) {
            this.corrupt(`tree node ${c} outranks its parent ${x} (heap order)`);
          }
        }
        if (u[xi + F_MAXSUB] !== this.subtreeMax(x)) {
          this.corrupt(`tree node ${x}: MAXSUB ${u[xi + F_MAXSUB]} != ${this.subtreeMax(x)}`);
        }
        stack.push(x);
        x = u[xi + F_LEFT];
      }
      x = stack.pop()!;
      if (x <= prev) this.corrupt(`tree out of address order: ${x} after ${prev}`);
      prev = x;
      x = u[(x >>> 2) + F_RIGHT];
    }
    if (seen !== count) this.corrupt(`tree holds ${seen} blocks, the heap ${count} free blocks`);
  }
}

/** A fresh zeroed buffer holding the header and a block area of `capacity` bytes. */
function ownedFreeListMemory(capacity: number): FixedMemory {
  checkSize32(capacity, "capacity");
  const area = Math.max(alignUp(capacity, GRANULE), MIN_BLOCK);
  const bytes =
    FreeListAllocator.metadataSize + SIZE_WORD_BYTES + area + SIZE_WORD_BYTES + bitmapBytes(area);
  return new FixedMemory(new ArrayBuffer(bytes), 0, undefined, true);
}
