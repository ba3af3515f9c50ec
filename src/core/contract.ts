/**
 * The `Allocator` contract (DESIGN.md "The contract"): what every strategy, wrapper and
 * shared heap implements, with the errors each call may throw. `BaseAllocator`
 * (allocator.ts) is the part the strategies share.
 */

import type { Allocation, Layout } from "./layout.js";
import type { Memory } from "./memory.js";

/** What `stats()` reports. All figures are bytes except `liveBlocks`. */
export interface AllocatorStats {
  /** Bytes of the region now: `memory.end - memory.start`. */
  readonly capacity: number;
  /** Bytes inside live blocks, as the strategy hands them out (usable sizes). */
  readonly inUse: number;
  /** Bytes not in any block that later allocations can still use. */
  readonly free: number;
  /** `capacity - inUse - free`: header, metadata, block headers, padding, lost fragments. */
  readonly overhead: number;
  /** Blocks handed out and not yet freed. */
  readonly liveBlocks: number;
  /** The highest `inUse` since creation or the last `reset()`. */
  readonly peakInUse: number;
  /** The largest size `alloc(size, 1)` would succeed for now, without growing the memory. */
  readonly largestFree: number;
}

/**
 * What every memkit allocator does: hand out blocks of a linear memory as byte offsets
 * (pointers), take them back, resize them, and report on itself. Every strategy, the `Heap`,
 * the wrappers (`CheckedAllocator`, `ChainAllocator`, …) and `SharedHeap` implement it.
 *
 * Out of memory is never an exception here: `alloc` returns 0 and `allocate` `null` (only
 * `allocOrThrow` throws). A caller's mistake (a bad size, alignment or pointer, a double
 * free) throws a typed error with a stable `code` before anything changes; corrupt metadata
 * throws `HeapCorruptedError` and poisons the heap.
 */
export interface Allocator {
  /** The linear memory the blocks live in: read and write them through its views (`u8`, `f64`, …). */
  readonly memory: Memory;
  /**
   * Allocates a block.
   *
   * @param size - bytes wanted, an integer ≥ 0 (0 gives a unique minimal block)
   * @param align - a power of two up to 65536; below 8 it is raised to 8 (default 8)
   * @returns the block's address (a byte offset, a multiple of `align`), or 0 when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when an argument is not a number
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` (negative or fractional size) or
   *   `ERR_ALLOC_ALIGN` (not a power of two, or above 65536)
   * @throws {@link HeapPoisonedError} `ERR_HEAP_POISONED` once the heap was found corrupt
   */
  alloc(size: number, align?: number): number;
  /**
   * As `alloc`, with every byte of the block 0. Skips the fill where the bytes are known
   * never to have been handed out (fresh pages of a growable memory).
   *
   * @param size - bytes wanted, an integer ≥ 0
   * @param align - a power of two up to 65536 (default 8)
   * @returns the block's address, or 0 when out of memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_ALLOC_ALIGN`, as `alloc`
   */
  allocZeroed(size: number, align?: number): number;
  /**
   * Frees a block. `dealloc(0)` does nothing.
   *
   * @param ptr - an address `alloc` returned and that is not freed yet
   * @param size - the block's size, checked against the block where the strategy knows it
   *   (required by the strategies that keep no size: `BlockAllocator`)
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER` (not a block of this allocator),
   *   `ERR_FOREIGN_POINTER` (another allocator's) or `ERR_NOT_TOP` (a stack block out of order)
   * @throws {@link DoubleFreeError} `ERR_DOUBLE_FREE` when the block is already free
   * @throws {@link LayoutMismatchError} `ERR_LAYOUT_MISMATCH` when `size` is not the block's
   */
  dealloc(ptr: number, size?: number): void;
  /**
   * Resizes a block: in place when the strategy can, else by moving it (the first
   * `min(old, new)` bytes are kept). `realloc(0, n)` is `alloc(n)`.
   *
   * @param ptr - a live block, or 0
   * @param newSize - the new size in bytes, ≥ 1 (free a block with `dealloc`, not `realloc(p, 0)`)
   * @param align - the alignment the block needs (default 8)
   * @param oldSize - the block's size, for strategies that keep none (`BlockAllocator`);
   *   the others ignore it
   * @returns the block's new address, or 0 when out of memory (and the old block is intact)
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` for 0 or a bad size, `ERR_ALLOC_ALIGN`
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER` when `ptr` is not a live block
   * @throws {@link DoubleFreeError} `ERR_DOUBLE_FREE` when `ptr` was freed
   */
  realloc(ptr: number, newSize: number, align?: number, oldSize?: number): number;
  /**
   * Allocates a block for a {@link Layout}.
   *
   * @param layout - the size and alignment wanted
   * @returns the block and its usable size, or `null` when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `layout` is not a Layout
   */
  allocate(layout: Layout): Allocation | null;
  /**
   * As `allocate`, zero-filled.
   *
   * @param layout - the size and alignment wanted
   * @returns the block and its usable size, or `null` when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `layout` is not a Layout
   */
  allocateZeroed(layout: Layout): Allocation | null;
  /**
   * The `Layout` form of `dealloc`: the layout's size is checked where it can be.
   *
   * @param ptr - a live block
   * @param layout - the layout it was allocated with
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER`, {@link DoubleFreeError}
   *   `ERR_DOUBLE_FREE`, {@link LayoutMismatchError} `ERR_LAYOUT_MISMATCH`, as `dealloc`
   */
  deallocate(ptr: number, layout?: Layout): void;
  /**
   * The usable bytes of a live block: at least what was asked for, often more.
   *
   * @param ptr - a live block
   * @returns its usable size in bytes
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER` when `ptr` is not a live block
   *   (`ERR_UNSUPPORTED` where the strategy keeps no sizes)
   */
  usableSize(ptr: number): number;
  /**
   * Whether `ptr` lies in this allocator's region (O(1)); says nothing about whether it is live.
   *
   * @param ptr - any number
   * @returns true when `ptr` is inside the region blocks are handed out from
   */
  owns(ptr: number): boolean;
  /**
   * Frees every block at once; pointers handed out before are invalid afterwards.
   *
   * @throws {@link InvalidPointerError} `ERR_LIVE_CHILDREN` while an allocator carved from
   *   this one is alive
   */
  reset(): void;
  /**
   * Figures about the allocator now: capacity, bytes in use, free, overhead, live blocks,
   * peak, largest free block.
   *
   * @returns a fresh {@link AllocatorStats}
   */
  stats(): AllocatorStats;
  /**
   * Walks every piece of the allocator's metadata and checks its invariants (O(blocks)).
   *
   * @throws {@link HeapCorruptedError} `ERR_HEAP_CORRUPTED` saying what is wrong; the heap is
   *   poisoned from then on
   */
  check(): void;
  /**
   * As `alloc`, but throws instead of returning 0.
   *
   * @param size - bytes wanted
   * @param align - a power of two up to 65536 (default 8)
   * @returns the block's address, never 0
   * @throws {@link OutOfMemoryError} `ERR_OUT_OF_MEMORY` when there is no room
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_ALLOC_ALIGN`, as `alloc`
   */
  allocOrThrow(size: number, align?: number): number;
}

/** Options every strategy takes. */
export interface AllocatorOptions {
  /** Attach to a heap already in this memory (validated read-only) instead of making one. */
  attach?: boolean;
}
