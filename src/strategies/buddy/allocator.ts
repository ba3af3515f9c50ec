/**
 * BuddyAllocator: a binary buddy allocator (acid_alloc's `Buddy`). Every block is a power of
 * two times the smallest block; a block is split in halves ("buddies") until it fits a
 * request, and a freed block merges with its buddy whenever that one is free too, all the way
 * up. O(log n) alloc and free, no search, and no byte of metadata inside the blocks.
 *
 * Choose it for offset-only suballocation (GPU buffers, files: all metadata is out of line),
 * for blocks that must be aligned to their size, and wherever a bounded, predictable cost
 * matters more than memory efficiency: a request is rounded up to a power of two, so up to
 * half of a block can be internal waste. For general-purpose heaps TLSF wastes less.
 *
 * The span, alignment rule and metadata words are drawn in layout.ts; splitting, merging
 * and growth are kernel.ts, the invariant walker check.ts.
 *
 * ## Cost (n = units, K = top order ≤ log2 n)
 * | operation   | best | worst        | notes                                                 |
 * | ----------- | ---- | ------------ | ----------------------------------------------------- |
 * | alloc       | O(1) | O(K)         | order from ORDER_MASK in O(1), ≤ 6 reads to find the   |
 * |             |      |              | block, one split per order above the request           |
 * | dealloc     | O(1) | O(K)         | O(order) to find the block, one merge per order        |
 * | realloc     | O(1) | O(K) + copy  | shrinks in place; grows in place into free buddies     |
 * | reset       | O(n / 32) |         | clears the bitmaps and tiles the region again          |
 * | growth      | O(K²) | O(K²)       | when a growable memory is grown to admit a new block    |
 *
 * Fragmentation: internal, up to half of a block (a request of 2^k + 1 bytes takes 2^(k+1)).
 * External: a free block cannot merge with a free neighbour that is not its buddy, so free
 * memory can be split into pieces none of which fits a large request. Blocks are taken
 * lowest address first, which keeps the high end of the span whole longest. After every
 * block is freed the span is one tiling of the largest aligned blocks again (full coalescing).
 *
 * ## dealloc and the size check
 * A pointer must be the first byte of a live block: outside [first unit, HI) or not on a
 * unit boundary → `InvalidPointerError`; inside a free block (freed already, possibly merged
 * into its buddy since) → `DoubleFreeError`; inside a live block but not its start →
 * `InvalidPointerError`. The size is optional (the order is known); when given it is checked:
 * `LayoutMismatchError` when size > the block's usable size, or when the block's order was
 * chosen by its size alone and `size` maps to a smaller order (size ≤ half the block, for
 * blocks above one unit). For a block whose order was raised by its alignment (the raised
 * bit), any size up to the block's size is accepted, because `deallocate(ptr, layout)` passes
 * the size only. All checks happen before any change.
 *
 * ## Growth
 * With `maxCapacity` larger than the memory now (a growable ArrayBuffer, SharedArrayBuffer or
 * WebAssembly.Memory), an allocation that finds no block grows the memory, but only when the
 * grown span is sure to hold the block (a failed allocation changes nothing), and adds the new
 * units as free blocks that merge with the free blocks below them. The metadata is sized for
 * `maxCapacity` at creation. Memory grown by someone else is adopted at the next allocation
 * that does not fit. Without `maxCapacity` the span is the memory as it is at creation.
 *
 * ## Invariants (`check()`)
 * Slots hold the values the configuration implies; LO ≤ HI ≤ HI_MAX and HI fits the memory.
 * Leaves tile [LO, HI) exactly (every unit covered once); every leaf exists and is aligned to
 * its order; a split node exists and its parent, if it exists, is split; no node inside a
 * leaf is split. A free block's buddy is not free at its order when their parent exists (else
 * they would have merged). Free bits are set exactly for free leaves (count and position);
 * summary levels and ORDER_MASK agree with the bits below them; raised bits only at starts of
 * live blocks. FREE_BYTES equals the bytes of the free leaves, LIVE the number of live ones.
 */

import type { AllocatorStats } from "../../core/allocator.js";
import { alignUp, popcount } from "../../core/bits.js";
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
import { BuddyChecked } from "./check.js";
import * as layout from "./layout.js";
import { type BuddyOptions, buddyOrder, planGeometry, resolveOrders } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { BIT_MASK, BUDDY_HEADER, FREE_BYTES, HI, LEVEL_SHIFT, LIVE, ORDER_MASK, PEAK, WORD_SHIFT } =
  layout;

/**
 * A binary buddy allocator: every block is a power of two times the smallest block; a block
 * is split in halves until it fits, and a freed block merges with its free half ("buddy")
 * all the way up. O(log n), no search, no metadata inside the blocks, every block aligned to
 * its size. A request is rounded up to a power of two, so up to half a block can be waste.
 * Use it for offset-only suballocation and for blocks that must be aligned to their size.
 *
 * @example
 * ```ts
 * import { BuddyAllocator } from "memkit";
 *
 * const buddy = new BuddyAllocator(1 << 16);
 * const p = buddy.alloc(3000);
 * console.log(buddy.usableSize(p)); // 4096: the next power of two
 * buddy.dealloc(p);
 * ```
 */
export class BuddyAllocator extends BuddyChecked {
  readonly name = "BuddyAllocator";

  /**
   * `new BuddyAllocator(capacity)` owns a fresh zeroed buffer holding `capacity` bytes of
   * blocks (rounded up to minBlockSize) that start at a multiple of min(64 KiB, the largest
   * power of two ≤ capacity), so a power-of-two capacity is one top-level block (the padding
   * before the region is < 64 KiB). `new BuddyAllocator(memory)` manages any `Memory` (fixed,
   * growable, shared, wasm, offset).
   *
   * @param memoryOrCapacity - bytes of blocks in a new buffer, or the memory to manage
   * @param options - see {@link BuddyOptions}
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: BuddyOptions = {}) {
    super(memoryOrCapacity, options);
  }

  /** Attaches a second handle to a buddy heap in `memory`, made with the same options. */
  static attach(memory: Memory, options: BuddyOptions = {}): BuddyAllocator {
    return new BuddyAllocator(memory, { ...options, attach: true });
  }

  /**
   * Bytes of header and metadata for a heap of `capacity` bytes of blocks. (The other
   * strategies' `metadataSize` is a number; a buddy's depends on its capacity.)
   */
  static metadataSizeFor(capacity: number, options: BuddyOptions = {}): number {
    checkSize32(capacity, "capacity");
    const { log2Unit, orderCap } = resolveOrders(options);
    const geo = planGeometry(Math.max(capacity, 1), log2Unit, orderCap);
    return alignUp(BUDDY_HEADER.bytes + geo.words * 4, 8);
  }

  /** @deprecated Use `metadataSizeFor` (`metadataSize` is a number on the other strategies). */
  static metadataSize(capacity: number, options: BuddyOptions = {}): number {
    return BuddyAllocator.metadataSizeFor(capacity, options);
  }

  // ---- the contract ------------------------------------------------------------------------

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== DEFAULT_ALIGN && !isValidAlign(align)) rejectAlign(align);
    const log2Unit = this.log2Unit;
    const sizeOrder = buddyOrder(size, log2Unit);
    const alignOrder = align <= this.unit ? 0 : buddyOrder(align, log2Unit);
    const t = Math.max(sizeOrder, alignOrder);
    if (t > this.maxOrder) return 0;
    if (this.w[ORDER_MASK] >>> t === 0 && !this.growFor(t)) return 0;
    return this.takeBlock(t, alignOrder > sizeOrder);
  }

  /** @inheritDoc Allocator.dealloc */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const i = this.unitOf(ptr);
    const k = this.liveOrder(i, ptr);
    if (size !== undefined) this.checkLayout(i, k, ptr, size);
    this.releaseBlock(i, k);
  }

  /** @inheritDoc Allocator.realloc */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const i = this.unitOf(ptr);
    const k = this.liveOrder(i, ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const log2Unit = this.log2Unit;
    const sizeOrder = buddyOrder(newSize, log2Unit);
    const alignOrder = buddyOrder(align, log2Unit);
    const t = Math.max(sizeOrder, alignOrder);
    if (ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      if (t <= k) {
        this.shrinkInPlace(i, k, t);
        this.setRaised(i, alignOrder > sizeOrder);
        return ptr;
      }
      if (t <= this.maxOrder && this.canGrowInPlace(i, k, t)) {
        this.growInPlace(i, k, t);
        this.setRaised(i, alignOrder > sizeOrder);
        return ptr;
      }
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    if (this.memory.hasBytes) {
      const keep = Math.min(this.unit * (1 << k), newSize);
      this.memory.u8.copyWithin(to, ptr, ptr + keep);
    }
    this.releaseBlock(i, k);
    return to;
  }

  /** @inheritDoc Allocator.usableSize */
  usableSize(ptr: number): number {
    this.enter();
    const i = this.unitOf(ptr);
    return this.unit * (1 << this.liveOrder(i, ptr));
  }

  /** Frees every block: the region is tiled with the largest aligned blocks again. */
  reset(): void {
    this.enter();
    this.clearAndTile();
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const free = slots[slot0 + FREE_BYTES];
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    const capacity = this.memory.end - this.memory.start;
    const mask = this.w[ORDER_MASK];
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: mask === 0 ? 0 : this.unit * 2 ** (31 - Math.clz32(mask)),
    };
  }

  /** Free blocks of `order` now (O(bitmap words) popcount; for tests and reports). */
  freeBlockCount(order: number): number {
    this.enter();
    if (!(Number.isSafeInteger(order) && order >= 0 && order <= this.maxOrder)) {
      throw new ArgumentRangeError(
        `order must be 0 … ${this.maxOrder}, got ${order}`,
        "ERR_ALLOC_SIZE",
      );
    }
    const w = this.w;
    const from = this.freeAt[order << LEVEL_SHIFT];
    const to = from + (((this.geo.numax >> order) + 1 + BIT_MASK) >>> WORD_SHIFT);
    let n = 0;
    for (let x = from; x < to; x++) n += popcount(w[x]);
    return n;
  }
}
