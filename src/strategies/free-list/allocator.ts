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
 * The layout (size words, flags, footers, the treap of free blocks by address, the bitmap)
 * is drawn in layout.ts; the treap's operations are tree.ts, finding a free block fit.ts,
 * splitting, merging and growth kernel.ts, the invariant walker check.ts.
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
 *
 * Corruption: before a free or a resize trusts the words around a live block (its size,
 * its neighbours' flags, sizes and footers), they are checked against the bitmap
 * (`checkNeighbourhood`: the size ends exactly at the next block start, O(size / 256)
 * bitmap words); before a split trusts a free block, its size, footer and end
 * (`checkFreeBlock`). A mismatch (a user's overflow reached a size word) is
 * `HeapCorruptedError` and poisons the heap before anything is written.
 */

import type { AllocatorStats } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { ArgumentRangeError } from "../../core/errors.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  checkSize32,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
} from "../../core/validate.js";
import { FixedMemory } from "../../memory/memory.js";
import { FreeListChecked } from "./check.js";
import * as layout from "./layout.js";
import { bitmapBytes, blockSizeFor, type FreeListOptions } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  AREA_END,
  F_MAXSUB,
  FIT_CODES,
  FLAG_BITS,
  FREE_BLOCKS,
  FREE_BYTES,
  FREE_LIST_HEADER,
  GRANULE,
  IN_USE,
  LIVE,
  MIN_BLOCK,
  PEAK,
  ROOT,
  SIZE_WORD_BYTES,
} = layout;

/**
 * A general-purpose allocator for blocks of any size freed in any order: first fit (or best
 * or next fit), splitting larger blocks, and merging a freed block at once with both free
 * neighbours, so freeing everything leaves one free block. Small and easy to inspect; TLSF is
 * faster and has O(1) worst cases.
 *
 * @example
 * ```ts
 * import { FreeListAllocator } from "memkit";
 *
 * const heap = new FreeListAllocator(64 * 1024, { fit: "best" });
 * const a = heap.alloc(100);
 * const b = heap.alloc(200);
 * heap.dealloc(a);
 * heap.dealloc(b);
 * console.log(heap.stats().largestFree === heap.stats().free); // true: one free block again
 * ```
 */
export class FreeListAllocator extends FreeListChecked {
  readonly name = "FreeListAllocator";
  /** Bytes of header a FreeListAllocator places at the start of its region. */
  static readonly metadataSize: number = FREE_LIST_HEADER.bytes;
  /** The smallest block (24 bytes): what `alloc(0)` … `alloc(20)` take. */
  static readonly minBlockSize: number = MIN_BLOCK;

  /**
   * `new FreeListAllocator(capacity)` owns a fresh zeroed buffer whose block area is
   * `capacity` bytes (rounded up to 8): one free block of that size at first.
   * `new FreeListAllocator(memory)` manages any byte memory (fixed, growable, shared, wasm).
   *
   * @param memoryOrCapacity - bytes of the block area of a new buffer, or the memory to manage
   * @param options - the fit policy, `attach`
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: FreeListOptions = {}) {
    const fitName = options.fit;
    if (fitName !== undefined && !Object.hasOwn(FIT_CODES, fitName)) {
      throw new ArgumentRangeError(
        `fit must be "first", "best" or "next", got ${String(fitName)}`,
        "ERR_HEAP_CONFIG",
      );
    }
    super(
      typeof memoryOrCapacity === "number"
        ? ownedFreeListMemory(memoryOrCapacity)
        : memoryOrCapacity,
      options,
    );
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

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
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

  /** @inheritDoc Allocator.dealloc */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
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
    this.checkNeighbourhood(b); // the words a resize in place trusts
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

  /** @inheritDoc Allocator.usableSize */
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

  /** @inheritDoc Allocator.stats */
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
}

/** A fresh zeroed buffer holding the header and a block area of `capacity` bytes. */
function ownedFreeListMemory(capacity: number): FixedMemory {
  checkSize32(capacity, "capacity");
  const area = Math.max(alignUp(capacity, GRANULE), MIN_BLOCK);
  const bytes =
    FreeListAllocator.metadataSize + SIZE_WORD_BYTES + area + SIZE_WORD_BYTES + bitmapBytes(area);
  return new FixedMemory(new ArrayBuffer(bytes), 0, undefined, true);
}
