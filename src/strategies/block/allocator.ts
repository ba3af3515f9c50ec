/**
 * BlockAllocator (stalloc): L blocks of B bytes, handed out first fit over runs of free
 * blocks. A free run keeps its own bookkeeping in its first block, so the allocator needs
 * nothing per block and nothing beside the blocks but a few header slots.
 *
 * Choose it for many small allocations of a few sizes inside a fixed, small heap (wasm
 * scratch heaps, embedded-style budgets, a parent for slabs): it is compact (no header per
 * allocation, no bitmap), allocation is first fit, and freeing coalesces immediately. Its
 * price: `dealloc` must be told the size, sizes round up to whole blocks, and alloc/free
 * walk the list of free runs. From the seeds: stalloc (`Stalloc<L, B>`: `allocate_blocks`,
 * `deallocate_blocks`, `grow_in_place`, `shrink_in_place`, `is_oom`, `is_empty`, `clear`,
 * and its `Debug` dump of the free runs).
 *
 * The layout (the header, the runs' NEXT and LEN words, limits) is in layout.ts; the runs
 * are walked and changed by kernel.ts, checked by check.ts.
 *
 * ## Cost (R = free runs, at most ⌈L/2⌉ since runs never touch)
 * | operation                 | best | worst    | notes                                          |
 * | ------------------------- | ---- | -------- | ---------------------------------------------- |
 * | alloc / allocateBlocks    | O(1) | O(R)     | first fit: the first run that holds it         |
 * | dealloc / deallocateBlocks| O(1) | O(R)     | walks to the place in address order, coalesces |
 * | realloc in place          | O(1) | O(R)     | grows into the next run, gives back the tail   |
 * | realloc moving            | O(R) | O(R + n) | + copying n bytes                              |
 * | reset                     | O(1) | O(1)     | one run of L blocks                            |
 * | isOom / isEmpty / numFree | O(1) | O(1)     |                                                |
 * | stats / check / dump      | O(R) | O(R)     |                                                |
 *
 * Fragmentation: internal, up to B − 1 bytes per allocation (sizes round up to whole blocks;
 * `alloc(0)` takes one block); an alignment above B may leave free blocks before a block.
 * External: the runs are kept in address order and fully coalesced (no two runs touch), so
 * free space is only ever split by live blocks; first fit keeps the low end busy.
 *
 * Overhead: one start bit per block, out of the blocks' way (layout.ts); per allocation,
 * zero bytes (a free run's header lives in its own free block). The allocator's state
 * beside the blocks is the header: 64 common bytes + 7 slots = 120 bytes, the start bits
 * (⌈L/32⌉ words), the pad before block 0 (< max(B, align)) and the tail (< B). stalloc's
 * state is the 4 bytes of its first-run index; FIRST is ours, and FREE, LIVE, PEAK are
 * counters for O(1) `numFree`/`isEmpty` and for `stats()`, B, L, BLOCKS_AT the
 * configuration, and the start bits what lets a free be checked exactly.
 *
 * ## Rules where the contract leaves room
 * - `dealloc(ptr, size)` needs the size (any size that rounds to the same number of blocks);
 *   without it: `ArgumentTypeError` (ERR_ALLOC_ARG_TYPE), heap unchanged. So does
 *   `realloc(ptr, newSize, align, oldSize)`: its fourth argument is the old size.
 * - `usableSize(ptr)` cannot be known: it validates `ptr` then throws `AllocatorError`
 *   (ERR_UNSUPPORTED). `allocate(layout)` reports the rounded size, `blocks × B`.
 * - Alignment: blocks are B-aligned. `alloc` raises `align` to 8 (the contract) and, when it
 *   exceeds B, needs the block's absolute address to be a multiple of it. So with B = 4,
 *   `alloc(4)` still takes an 8-aligned block; `allocateBlocks(1)` is the 4-byte form.
 * - Checks (all before any change: one walk of the runs and the start bits of the range):
 *   the pointer is an integer at a block boundary inside the blocks (else
 *   `InvalidPointerError`); its first block is not free (else `DoubleFreeError`: freed twice,
 *   or never handed out); it is the first block of a live allocation (its start bit; else
 *   `InvalidPointerError`: a pointer inside a block); the size covers exactly that
 *   allocation, no more (over a free run or the next allocation) and no less (else
 *   `LayoutMismatchError`). A second free is caught as long as the blocks were not handed
 *   out again. The block API follows the same rules: it frees, grows and shrinks whole
 *   allocations.
 *
 * ## Counting
 * LIVE counts allocations minus frees: the start bits set.
 *
 * ## Invariants (`check()`)
 * The configuration slots match the handle; BLOCKS_AT is a multiple of B at or after the
 * header, and BLOCKS_AT + L·B ≤ memory end. Walking from FIRST: every run lies in [0, L),
 * has LEN ≥ 1, starts after the previous run's end + 1 (address order, fully coalesced; this
 * also bounds the walk); the lengths add up to FREE; FIRST is NONE exactly when FREE = 0;
 * 0 ≤ LIVE ≤ L − FREE ≤ PEAK ≤ L. Every walk (alloc and dealloc too) checks the runs it
 * reads the same way and reports a broken one as corruption, so a user overflow that hits a
 * free run's header poisons the heap instead of handing out bad blocks.
 */

import type { AllocatorStats } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  HeapIncompatibleError,
} from "../../core/errors.js";
import {
  H_CONFIG,
  headerOffset,
  SLOT_BYTES,
  StrategyKind,
  validateHeader,
} from "../../core/header.js";
import { type Allocation, Layout } from "../../core/layout.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
} from "../../core/validate.js";
import { BlockChecked } from "./check.js";
import * as layout from "./layout.js";
import {
  type BlockOptions,
  checkAlignInBlocks,
  checkCount,
  isBlockSize,
  startBitsBytes,
} from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { BLOCK_HEADER, FIRST, FREE, LIVE, PEAK, RUN_FIELDS } = layout;

/**
 * L blocks of B bytes, handed out first fit over runs of free blocks; a free run keeps its
 * bookkeeping in its own first block, so nothing is spent per block. Compact, for many small
 * allocations of a few sizes in a small fixed heap. `dealloc` must be told the size (sizes
 * round up to whole blocks), and alloc and free walk the list of free runs.
 *
 * @example
 * ```ts
 * import { BlockAllocator } from "memkit";
 *
 * const blocks = new BlockAllocator(8, 4); // 8 blocks of 4 bytes
 * const p = blocks.alloc(12); // three blocks
 * console.log(blocks.stats().free); // 20
 * blocks.dealloc(p, 12); // the size is required
 * ```
 */
export class BlockAllocator extends BlockChecked {
  readonly name = "BlockAllocator";
  /** Bytes of header a BlockAllocator places at the start of its region (its start bits follow). */
  static readonly metadataSize: number = BLOCK_HEADER.bytes;

  /** Bytes of header and start bits before the blocks (and any pad) for L blocks. */
  static metadataBytesFor(blockCount: number): number {
    return alignUp(BLOCK_HEADER.bytes + startBitsBytes(blockCount), SLOT_BYTES);
  }

  /**
   * `new BlockAllocator(L, B)` owns a fresh, zeroed buffer of L blocks of B bytes (stalloc's
   * `Stalloc::<L, B>::new()`); `new BlockAllocator(memory, B, { blockCount })` manages a
   * `Memory` (fixed, growable, shared or wasm; not offset-only).
   *
   * @param memoryOrBlockCount - L, the number of blocks of a new buffer, or the memory to manage
   * @param blockSize - B, bytes per block: a power of two
   * @param options - `blockCount` with a memory, `align` of block 0, `attach`
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrBlockCount: Memory | number, blockSize: number, options: BlockOptions = {}) {
    super(memoryOrBlockCount, blockSize, options);
  }

  /** Attaches a second handle to a block heap already in `memory` (validated read-only). */
  static attach(memory: Memory): BlockAllocator {
    if (!memory.hasBytes) {
      throw new ArgumentTypeError("BlockAllocator: an offset-only memory has no heap to attach to");
    }
    const slot0 = headerOffset(memory.start) / SLOT_BYTES;
    validateHeader(memory.f64, slot0, StrategyKind.block, "BlockAllocator");
    const blockSize = memory.f64[slot0 + H_CONFIG];
    if (!isBlockSize(blockSize)) {
      throw new HeapIncompatibleError(
        `BlockAllocator: block size ${blockSize} in the header is not a power of two 4 … 65536`,
        "ERR_HEAP_CONFIG",
      );
    }
    return new BlockAllocator(memory, blockSize, { attach: true });
  }

  // ---- the contract ----------------------------------------------------------------------

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== DEFAULT_ALIGN) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align < DEFAULT_ALIGN) align = DEFAULT_ALIGN;
    }
    const B = this.blockSize;
    const count = size <= B ? 1 : Math.ceil(size / B);
    if (count > this.blockCount) return 0;
    const k = this.takeFirstFit(count, align <= B ? 1 : align / B);
    if (k < 0) return 0;
    this.setStart(k);
    this.slots[this.slot0 + LIVE]++;
    return this.blocksAt + k * B;
  }

  /** `size` must round to the block's number of blocks (there is no header to check it). */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const k = this.blockIndexOf(ptr);
    const count = this.blocksForSize(size, "dealloc", "size");
    this.locateExact(ptr, k, count);
    this.release(k, count);
  }

  /**
   * Resizes in place when it can (shrinking gives the tail back; growing takes blocks from
   * the free run right after the block), else moves and copies. `oldSize` is required for a
   * non-null `ptr` (`ArgumentTypeError` without it): any size that rounds to the block's
   * number of blocks. 0 when out of memory, the old block untouched.
   */
  override realloc(
    ptr: number,
    newSize: number,
    align: number = DEFAULT_ALIGN,
    oldSize?: number,
  ): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const k = this.blockIndexOf(ptr);
    const oldCount = this.blocksForSize(oldSize, "realloc", "oldSize");
    this.locateExact(ptr, k, oldCount);
    const fits = this.checkReallocSize(newSize);
    checkAlign(align);
    if (!fits) return 0;
    const B = this.blockSize;
    const newCount = Math.ceil(newSize / B);
    if (newCount > this.blockCount) return 0;
    const a = Math.max(align, DEFAULT_ALIGN);
    return this.resize(ptr, k, oldCount, newCount, a <= B ? 1 : a / B);
  }

  /** Not knowable without a per-block header: validates `ptr`, then `ERR_UNSUPPORTED`. */
  usableSize(ptr: number): number {
    this.enter();
    const k = this.blockIndexOf(ptr);
    if (!this.isStart(k)) this.locateExact(ptr, k, 1); // throws: free, or inside a block
    throw new AllocatorError(
      "BlockAllocator keeps no per-block sizes: the caller knows the size (it rounds up to " +
        `whole blocks of ${this.blockSize} bytes)`,
      "ERR_UNSUPPORTED",
    );
  }

  /** The Layout form; `size` is the rounded size, whole blocks. */
  override allocate(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocate takes a Layout");
    const ptr = this.alloc(layout.size, layout.align);
    return ptr === 0 ? null : { ptr, size: this.roundedSize(layout.size) };
  }

  /** @inheritDoc Allocator.allocateZeroed */
  override allocateZeroed(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocateZeroed takes a Layout");
    const ptr = this.allocZeroed(layout.size, layout.align);
    return ptr === 0 ? null : { ptr, size: this.roundedSize(layout.size) };
  }

  /** @inheritDoc Allocator.owns */
  override owns(ptr: number): boolean {
    return (
      isUint32(ptr) &&
      ptr >= this.blocksAt &&
      ptr < this.blocksAt + this.blockCount * this.blockSize
    );
  }

  /** Frees every block at once (stalloc's `clear`): one run of L blocks. */
  reset(): void {
    this.enter();
    this.clearBlocks();
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const B = this.blockSize;
    const freeBlocks = slots[slot0 + FREE];
    const inUse = (this.blockCount - freeBlocks) * B;
    const free = freeBlocks * B;
    const capacity = this.memory.end - this.memory.start;
    // alloc(n, 1) is aligned to 8: with B = 4 a run's first usable block may be its second.
    const mask = B >= DEFAULT_ALIGN ? 0 : DEFAULT_ALIGN / B - 1;
    let largest = 0;
    for (let r = this.firstRun(), min = 0; r !== this.none; r = this.runNext(r)) {
      const end = r + this.checkedRunLen(r, min);
      const usable = end - (r + (-(this.firstBlockNumber + r) & mask));
      if (usable > largest) largest = usable;
      min = end + 1;
    }
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: Math.max(slots[slot0 + PEAK] * B, inUse),
      largestFree: largest * B,
    };
  }

  // ---- stalloc's block API ---------------------------------------------------------------

  /**
   * `count` blocks whose address is a multiple of `alignInBlocks × B` (a power of two up to
   * 65536), first fit; the pointer, or 0 when no run holds them.
   */
  allocateBlocks(count: number, alignInBlocks = 1): number {
    this.enter();
    checkCount(count, "count");
    checkAlignInBlocks(alignInBlocks);
    if (count > this.blockCount) return 0;
    const k = this.takeFirstFit(count, alignInBlocks);
    if (k < 0) return 0;
    this.setStart(k);
    this.slots[this.slot0 + LIVE]++;
    return this.blocksAt + k * this.blockSize;
  }

  /** Frees `count` blocks at `ptr` (validated as `dealloc` does). `ptr` 0 does nothing. */
  deallocateBlocks(ptr: number, count: number): void {
    this.enter();
    if (ptr === 0) return;
    const k = this.blockIndexOf(ptr);
    checkCount(count, "count");
    this.locateExact(ptr, k, count);
    this.release(k, count);
  }

  /**
   * Grows the `oldCount` blocks at `ptr` to `newCount` without moving them, taking blocks
   * from the free run right after them. False (nothing changed) when that run is missing or
   * too short.
   */
  growInPlace(ptr: number, oldCount: number, newCount: number): boolean {
    this.enter();
    const k = this.blockIndexOf(ptr);
    checkCount(oldCount, "oldCount");
    checkCount(newCount, "newCount");
    if (newCount < oldCount) {
      throw new ArgumentRangeError(
        `growInPlace: newCount ${newCount} is below oldCount ${oldCount}`,
        "ERR_ALLOC_SIZE",
      );
    }
    this.locateExact(ptr, k, oldCount);
    return newCount === oldCount || this.growInto(k, oldCount, newCount);
  }

  /** Gives back the last `oldCount − newCount` blocks at `ptr` (1 ≤ newCount ≤ oldCount). */
  shrinkInPlace(ptr: number, oldCount: number, newCount: number): void {
    this.enter();
    const k = this.blockIndexOf(ptr);
    checkCount(oldCount, "oldCount");
    checkCount(newCount, "newCount");
    if (newCount > oldCount) {
      throw new ArgumentRangeError(
        `shrinkInPlace: newCount ${newCount} is above oldCount ${oldCount}`,
        "ERR_ALLOC_SIZE",
      );
    }
    this.locateExact(ptr, k, oldCount);
    if (newCount < oldCount) {
      this.insertFree(this.wPrev, k + newCount, oldCount - newCount, this.wNext);
    }
  }

  /** `realloc` in blocks: in place when possible, else move and copy; 0 when out of memory. */
  reallocBlocks(ptr: number, oldCount: number, newCount: number, alignInBlocks = 1): number {
    this.enter();
    if (ptr === 0) return this.allocateBlocks(newCount, alignInBlocks);
    const k = this.blockIndexOf(ptr);
    checkCount(oldCount, "oldCount");
    this.locateExact(ptr, k, oldCount);
    checkCount(newCount, "newCount");
    checkAlignInBlocks(alignInBlocks);
    if (newCount > this.blockCount) return 0;
    return this.resize(ptr, k, oldCount, newCount, alignInBlocks);
  }

  /** True when no block at all is free (stalloc's `is_oom`; O(1)). */
  isOom(): boolean {
    this.enter();
    return this.slots[this.slot0 + FIRST] === this.none;
  }

  /** True when every block is free (stalloc's `is_empty`; O(1)). */
  isEmpty(): boolean {
    this.enter();
    return this.slots[this.slot0 + FREE] === this.blockCount;
  }

  /** Free blocks (O(1)). */
  numFree(): number {
    this.enter();
    return this.slots[this.slot0 + FREE];
  }

  /**
   * The free runs, one line each, like stalloc's `Debug` output:
   *
   *     BlockAllocator: 8 blocks of 4 bytes at 120, 3 free in 2 runs
   *       index 2: 2 free blocks
   *       index 7: 1 free block
   */
  override dump(): string {
    this.enter();
    const B = this.blockSize;
    const lines: string[] = [];
    for (let r = this.firstRun(), min = 0; r !== this.none; r = this.runNext(r)) {
      const n = this.checkedRunLen(r, min);
      lines.push(`  index ${r}: ${n} free block${n === 1 ? "" : "s"}`);
      min = r + n + 1;
    }
    const free = this.slots[this.slot0 + FREE];
    const head =
      `BlockAllocator: ${this.blockCount} blocks of ${B} bytes at ${this.blocksAt}, ` +
      `${free} free in ${lines.length} run${lines.length === 1 ? "" : "s"}`;
    return [head, ...lines].join("\n");
  }

  /** The header, then every free run's header bytes in list order (the whole metadata). */
  override metadataBytes(): Uint8Array {
    const header = super.metadataBytes();
    const w = this.wide ? 4 : 2;
    const runs: number[] = [];
    for (let r = this.firstRun(), min = 0; r !== this.none; r = this.runNext(r)) {
      const n = this.checkedRunLen(r, min);
      runs.push(r);
      min = r + n + 1;
    }
    const out = new Uint8Array(header.length + runs.length * RUN_FIELDS * w);
    out.set(header, 0);
    const u8 = this.memory.u8;
    runs.forEach((r, i) => {
      const at = this.blocksAt + r * this.blockSize;
      out.set(u8.subarray(at, at + RUN_FIELDS * w), header.length + i * RUN_FIELDS * w);
    });
    return out;
  }
}
