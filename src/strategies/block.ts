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
 * ## Memory picture
 *
 *     region.start (8-aligned)
 *     | header: 8 common + 7 block slots, float64 (120 bytes) | pad | block 0 | … | block L−1 | tail |
 *                                                                   ^ BLOCKS_AT (a multiple of B)
 *     pad  < max(B, align) bytes, so that block k starts at BLOCKS_AT + k·B, B-aligned, and
 *          block 0 at a multiple of `options.align` (default B; 0 pad when both are ≤ 8)
 *     tail bytes of the region after the last whole block (unused)
 *
 *     slot  8 FIRST        index of the first free run (the lowest), NONE when no block is free
 *     slot  9 FREE         free blocks (the sum of the runs' lengths)
 *     slot 10 LIVE         allocations not yet freed (stats; see "Counting" below)
 *     slot 11 PEAK         most blocks in use at once since creation or the last reset
 *     slot 12 BLOCK_SIZE   B, a power of two 4 … 65536 (also the common CONFIG slot)
 *     slot 13 BLOCK_COUNT  L
 *     slot 14 BLOCKS_AT    byte offset of block 0
 *
 *     free run header: the first block of every run of free blocks (stalloc's layout)
 *       B = 4 (narrow, u16 fields)       B ≥ 8 (wide, u32 fields)
 *       byte 0      2       4            byte 0      4       8
 *       | NEXT u16 | LEN u16 |           | NEXT u32 | LEN u32 | … rest of the block unused
 *     NEXT  index of the next free run, always higher; NONE (all ones: 0xFFFF or 0xFFFFFFFF)
 *           after the last run
 *     LEN   blocks in the run, ≥ 1
 *     Every other block of a free run, and every allocated block, holds no metadata at all.
 *
 *     example, L = 8:  index  0   1   2   3   4   5   6   7
 *                           | A | A |3→6|   |   | B |2→∅|   |     FIRST = 2, FREE = 5
 *     A = allocateBlocks(2), B = allocateBlocks(1); `dump()` prints "index 2: 3 free blocks"
 *     and "index 6: 2 free blocks".
 *
 * ## Limits
 * B is a power of two from 4 to 65536 (a free run's header must fit in its first block).
 * L is at least 1 and at most 65535 when B = 4 (u16 indices, as in stalloc, whose L is below
 * 65536), or 2^32 / B when B ≥ 8 (u32 indices); the blocks must fit the memory (≤ 4 GiB). L is
 * fixed at creation: a growable memory is grown once if needed to hold the L blocks, never
 * after. Offset-only memories are not supported: the free runs' headers live in the blocks.
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
 * Overhead: per block and per allocation, zero bytes (a free run's header lives in its own
 * free block). The allocator's state beside the blocks is the header: 64 common bytes + 7
 * slots = 120 bytes, plus the pad before block 0 (< max(B, align)) and the tail (< B).
 * stalloc's state is the 4 bytes of its first-run index; FIRST is ours, and FREE, LIVE, PEAK
 * are counters for O(1) `numFree`/`isEmpty` and for `stats()`, and B, L, BLOCKS_AT the
 * configuration.
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
 * - Checks (all before any change, O(1) or one walk of the runs, no per-block state):
 *   the pointer is an integer at a block boundary inside the blocks (else
 *   `InvalidPointerError`); its first block is not free (else `DoubleFreeError`: freed twice,
 *   or never handed out); its whole range lies in the heap and overlaps no free run (else
 *   `LayoutMismatchError`: the size is larger than the block's). A second free is caught as
 *   long as the blocks were not handed out again; a pointer into the middle of a live block,
 *   at a block boundary, is not detected, nor is a size that is too small (the rest leaks).
 *
 * ## Counting
 * LIVE counts allocations minus frees. The block API can free part of an allocation or two
 * at once, so a free also clamps LIVE to the blocks in use (it stays exact for the contract).
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

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import { alignUp } from "../core/bits.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import {
  declareHeader,
  H_CONFIG,
  headerOffset,
  SLOT_BYTES,
  StrategyKind,
  validateHeader,
} from "../core/header.js";
import { type Allocation, Layout } from "../core/layout.js";
import type { Memory } from "../core/memory.js";
import {
  checkAlign,
  checkDeallocSize,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  MAX_ALIGN,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { FixedMemory } from "../memory/memory.js";

// ---- header slots ------------------------------------------------------------------------

const BLOCK_HEADER = declareHeader([
  "FIRST",
  "FREE",
  "LIVE",
  "PEAK",
  "BLOCK_SIZE",
  "BLOCK_COUNT",
  "BLOCKS_AT",
]);
const { FIRST, FREE, LIVE, PEAK, BLOCK_SIZE, BLOCK_COUNT, BLOCKS_AT } = BLOCK_HEADER.slot;

// ---- the free run header (in the first block of a run) ------------------------------------

/** Field numbers inside a run header; a field is a u16 (narrow) or a u32 (wide). */
const F_NEXT = 0;
const F_LEN = 1;
const RUN_FIELDS = 2;
/** Narrow headers (two u16) fit the smallest block; from 8 bytes on, headers are two u32. */
const MIN_BLOCK_SIZE = 2 * RUN_FIELDS;
const WIDE_BLOCK_SIZE = 4 * RUN_FIELDS;
const MAX_BLOCK_SIZE = MAX_ALIGN;
const NARROW_NONE = 0xffff;
const WIDE_NONE = 0xffffffff;
/** Indices 0 … L−1 must differ from NONE; a run's length (≤ L) must fit its field. */
const MAX_NARROW_BLOCKS = NARROW_NONE;
/** The largest alignment in blocks `allocateBlocks` takes. */
const MAX_ALIGN_BLOCKS = 65536;
const MAX_REGION_BYTES = 2 ** 32;

export interface BlockOptions extends AllocatorOptions {
  /** Number of blocks L (default: as many as fit the memory, up to the format's limit). */
  blockCount?: number;
  /**
   * Block 0's address is a multiple of this power of two (default B). With B = 4 and
   * `align: 16`, the 8 blocks of a 32-byte heap hold two 16-aligned 16-byte values.
   */
  align?: number;
}

export class BlockAllocator extends BaseAllocator {
  readonly name = "BlockAllocator";
  /** B: bytes per block. */
  readonly blockSize: number;
  /** L: number of blocks. */
  readonly blockCount: number;
  /** Byte offset of block 0 (a multiple of B). */
  readonly blocksAt: number;

  /** Run-header fields over the blocks: field i of block k is `link[k * stride + i]`. */
  private link: Uint16Array | Uint32Array;
  private readonly wide: boolean;
  private readonly stride: number;
  private readonly none: number;
  /** `blocksAt / B`: block k's absolute block number is firstBlockNumber + k (alignment). */
  private readonly firstBlockNumber: number;
  /** Scratch results of `locateLive` (not state: rewritten by every walk). */
  private wPrev = 0;
  private wNext = 0;

  /** Bytes of header a BlockAllocator places at the start of its region. */
  static readonly metadataSize: number = BLOCK_HEADER.bytes;

  /**
   * `new BlockAllocator(L, B)` owns a fresh, zeroed buffer of L blocks of B bytes (stalloc's
   * `Stalloc::<L, B>::new()`); `new BlockAllocator(memory, B, { blockCount })` manages a
   * `Memory` (fixed, growable, shared or wasm; not offset-only).
   */
  constructor(memoryOrBlockCount: Memory | number, blockSize: number, options: BlockOptions = {}) {
    checkBlockSize(blockSize);
    const firstAlign = blockAlignOf(options.align, blockSize);
    let memory: Memory;
    let count = options.blockCount;
    if (typeof memoryOrBlockCount === "number") {
      checkBlockCount(memoryOrBlockCount, blockSize);
      count = memoryOrBlockCount;
      const blocksAt = alignUp(BlockAllocator.metadataSize, firstAlign);
      const bytes = blocksAt + count * blockSize;
      if (!(bytes <= MAX_REGION_BYTES)) {
        throw new ArgumentRangeError(
          `BlockAllocator: ${count} blocks of ${blockSize} bytes do not fit a 4 GiB memory`,
          "ERR_MEMORY",
        );
      }
      memory = new FixedMemory(new ArrayBuffer(bytes), 0, undefined, true);
    } else {
      memory = memoryOrBlockCount;
      if (count !== undefined) checkBlockCount(count, blockSize);
    }
    if (!memory.hasBytes) {
      throw new ArgumentTypeError(
        "BlockAllocator keeps its free runs' headers inside the free blocks; an offset-only " +
          "memory has no bytes",
        "ERR_UNSUPPORTED",
      );
    }
    const attach = options.attach === true;
    super(memory, StrategyKind.block, BLOCK_HEADER, 0, blockSize, attach, "BlockAllocator");
    const slots = this.slots;
    const slot0 = this.slot0;
    this.blockSize = blockSize;
    this.wide = blockSize >= WIDE_BLOCK_SIZE;
    this.none = this.wide ? WIDE_NONE : NARROW_NONE;
    this.stride = blockSize / (this.wide ? 4 : 2);
    if (attach) {
      this.blocksAt = slots[slot0 + BLOCKS_AT];
      this.blockCount = slots[slot0 + BLOCK_COUNT];
      this.validateAttached(count);
    } else {
      this.blocksAt = alignUp(this.dataStart, firstAlign);
      const room = Math.floor((memory.end - this.blocksAt) / blockSize);
      if (count === undefined) count = Math.max(0, Math.min(room, maxBlocks(blockSize)));
      const end = this.blocksAt + count * blockSize;
      if (count === 0 || (end > memory.end && !memory.grow(end))) {
        throw new ArgumentRangeError(
          `BlockAllocator: memory region [${memory.start}, ${memory.end}) has no room for ` +
            `${count || 1} blocks of ${blockSize} bytes after its ${this.blocksAt - memory.start} ` +
            "bytes of header",
          "ERR_MEMORY",
        );
      }
      this.blockCount = count;
      this.syncViews();
    }
    this.firstBlockNumber = this.blocksAt / blockSize;
    this.link = this.makeLinkView();
    if (!attach) {
      const g = this.slots;
      g[slot0 + BLOCK_SIZE] = blockSize;
      g[slot0 + BLOCK_COUNT] = this.blockCount;
      g[slot0 + BLOCKS_AT] = this.blocksAt;
      this.clearBlocks();
    }
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

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
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
    const B = this.blockSize;
    const count = size <= B ? 1 : Math.ceil(size / B);
    if (count > this.blockCount) return 0;
    const k = this.takeFirstFit(count, align <= B ? 1 : align / B);
    if (k < 0) return 0;
    this.slots[this.slot0 + LIVE]++;
    return this.blocksAt + k * B;
  }

  /** `size` must round to the block's number of blocks (there is no header to check it). */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.enterSlow();
      this.dealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const k = this.blockIndexOf(ptr);
    const count = this.blocksForSize(size, "dealloc", "size");
    this.locateLive(ptr, k, count);
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
    this.locateLive(ptr, k, oldCount);
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
    this.locateLive(ptr, this.blockIndexOf(ptr), 1);
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

  override allocateZeroed(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocateZeroed takes a Layout");
    const ptr = this.allocZeroed(layout.size, layout.align);
    return ptr === 0 ? null : { ptr, size: this.roundedSize(layout.size) };
  }

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
    this.slots[this.slot0 + LIVE]++;
    return this.blocksAt + k * this.blockSize;
  }

  /** Frees `count` blocks at `ptr` (validated as `dealloc` does). `ptr` 0 does nothing. */
  deallocateBlocks(ptr: number, count: number): void {
    this.enter();
    if (ptr === 0) return;
    const k = this.blockIndexOf(ptr);
    checkCount(count, "count");
    this.locateLive(ptr, k, count);
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
    this.locateLive(ptr, k, oldCount);
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
    this.locateLive(ptr, k, oldCount);
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
    this.locateLive(ptr, k, oldCount);
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

  // ---- invariants ------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const B = this.blockSize;
    const L = this.blockCount;
    for (const s of [FIRST, FREE, LIVE, PEAK, BLOCK_SIZE, BLOCK_COUNT, BLOCKS_AT]) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (
      slots[slot0 + BLOCK_SIZE] !== B ||
      slots[slot0 + BLOCK_COUNT] !== L ||
      slots[slot0 + BLOCKS_AT] !== this.blocksAt
    ) {
      this.corrupt(
        `configuration slots (B ${slots[slot0 + BLOCK_SIZE]}, L ${slots[slot0 + BLOCK_COUNT]}, blocks at ` +
          `${slots[slot0 + BLOCKS_AT]}) differ from the heap's (${B}, ${L}, ${this.blocksAt})`,
      );
    }
    if (this.blocksAt + L * B > this.memory.end) {
      this.corrupt(`blocks [${this.blocksAt}, +${L * B}) pass memory end ${this.memory.end}`);
    }
    let sum = 0;
    let runs = 0;
    for (let r = this.firstRun(), min = 0; r !== this.none; r = this.runNext(r)) {
      const n = this.checkedRunLen(r, min);
      sum += n;
      min = r + n + 1;
      if (++runs > L) this.corrupt(`free-run walk from FIRST did not end after ${L} runs`);
    }
    const free = slots[slot0 + FREE];
    if (sum !== free) this.corrupt(`free runs hold ${sum} blocks, FREE says ${free}`);
    if ((slots[slot0 + FIRST] === this.none) !== (free === 0)) {
      this.corrupt(`FIRST is ${slots[slot0 + FIRST]} while FREE is ${free}`);
    }
    const used = L - free;
    if (!(slots[slot0 + LIVE] <= used && used <= slots[slot0 + PEAK] && slots[slot0 + PEAK] <= L)) {
      this.corrupt(
        `expected LIVE ${slots[slot0 + LIVE]} <= blocks in use ${used} <= PEAK ${slots[slot0 + PEAK]} <= L ${L}`,
      );
    }
  }

  protected override onViews(): void {
    // Wasm growth replaces the buffer (the old one is detached); the others keep it.
    if (this.link !== undefined && this.link.buffer !== this.memory.buffer) {
      this.link = this.makeLinkView();
    }
  }

  // ---- run headers -----------------------------------------------------------------------

  private runNext(k: number): number {
    return this.link[k * this.stride + F_NEXT];
  }

  private runLen(k: number): number {
    return this.link[k * this.stride + F_LEN];
  }

  /** Makes block `k` the head of a free run of `len` blocks followed by run `next`. */
  private writeRun(k: number, len: number, next: number): void {
    const i = k * this.stride;
    this.link[i + F_NEXT] = next;
    this.link[i + F_LEN] = len;
  }

  private firstRun(): number {
    return this.slots[this.slot0 + FIRST];
  }

  /** Points run `prev` (or FIRST, when `prev` is NONE) at run `next`. */
  private linkAfter(prev: number, next: number): void {
    if (prev === this.none) this.slots[this.slot0 + FIRST] = next;
    else this.link[prev * this.stride + F_NEXT] = next;
  }

  /**
   * The length of run `r`, after checking it against the invariants: inside the blocks, at
   * or after `minStart` (the previous run's end + 1), LEN ≥ 1. A broken run is corruption.
   */
  private checkedRunLen(r: number, minStart: number): number {
    const L = this.blockCount;
    if (!(r >= minStart && r < L)) {
      this.corrupt(
        `free run index ${r} is out of order or out of range (expected ${minStart} … ${L - 1})`,
      );
    }
    const n = this.runLen(r);
    if (!(n >= 1 && r + n <= L)) {
      this.corrupt(
        `free run at index ${r} (byte ${this.blocksAt + r * this.blockSize}) has length ${n}, ` +
          `outside 1 … ${L - r}`,
      );
    }
    return n;
  }

  /** Reports run `r`, which failed a walk's inlined check, with `checkedRunLen`'s message. */
  private brokenRun(r: number, minStart: number): never {
    this.checkedRunLen(r, minStart);
    return this.corrupt(`free run at index ${r} failed the walk's check`);
  }

  // ---- the algorithm ---------------------------------------------------------------------

  /** One free run of all L blocks; counters back to a fresh heap's. */
  private clearBlocks(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.writeRun(0, this.blockCount, this.none);
    slots[slot0 + FIRST] = 0;
    slots[slot0 + FREE] = this.blockCount;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + PEAK] = 0;
  }

  /**
   * First fit: the first run holding `count` blocks from an index whose absolute block number
   * is a multiple of `alignBlocks`. Carves them out and returns the index, or −1.
   */
  private takeFirstFit(count: number, alignBlocks: number): number {
    const link = this.link;
    const stride = this.stride;
    const L = this.blockCount;
    const none = this.none;
    const mask = alignBlocks - 1;
    const g0 = this.firstBlockNumber;
    let prev = none;
    let min = 0;
    for (let r = this.slots[this.slot0 + FIRST]; r !== none; ) {
      const i = r * stride;
      const end = r + link[i + F_LEN];
      // In order, LEN ≥ 1, inside the blocks (as `checkedRunLen`, inlined for speed).
      if (!(r >= min && end > r && end <= L)) this.brokenRun(r, min);
      const s = r + (-(g0 + r) & mask); // the first aligned index in the run
      if (s + count <= end) {
        this.carve(prev, r, end, s, count);
        return s;
      }
      prev = r;
      min = end + 1;
      r = link[i + F_NEXT];
    }
    return -1;
  }

  /** Takes blocks [s, s + count) out of run [r, end) (whose predecessor is `prev`). */
  private carve(prev: number, r: number, end: number, s: number, count: number): void {
    let after = this.runNext(r);
    const tail = s + count;
    if (tail < end) {
      this.writeRun(tail, end - tail, after);
      after = tail;
    }
    if (s > r) this.writeRun(r, s - r, after);
    else this.linkAfter(prev, after);
    this.takeCounted(count);
  }

  private takeCounted(count: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const free = slots[slot0 + FREE] - count;
    slots[slot0 + FREE] = free;
    if (this.blockCount - free > slots[slot0 + PEAK]) slots[slot0 + PEAK] = this.blockCount - free;
  }

  /**
   * Validates that blocks [k, k + count) are all allocated, with one walk and no change:
   * block k free → DoubleFreeError; past the heap or over a free run → LayoutMismatchError.
   * Leaves the run before k in `wPrev` and the first run after the range in `wNext`.
   */
  private locateLive(ptr: number, k: number, count: number): void {
    const link = this.link;
    const stride = this.stride;
    const L = this.blockCount;
    const none = this.none;
    let prev = none;
    let prevEnd = 0;
    let min = 0;
    let r = this.slots[this.slot0 + FIRST];
    while (r !== none) {
      const i = r * stride;
      const end = r + link[i + F_LEN];
      if (!(r >= min && end > r && end <= L)) this.brokenRun(r, min);
      if (r >= k) break;
      prev = r;
      prevEnd = end;
      min = end + 1;
      r = link[i + F_NEXT];
    }
    if ((prev !== none && prevEnd > k) || r === k) {
      throw new DoubleFreeError(
        `${this.name}: block ${ptr} (index ${k}) is free: freed already, or never handed out`,
      );
    }
    if (count > L - k || (r !== none && r < k + count)) {
      const why =
        count > L - k
          ? `the heap ends ${L - k} blocks after it`
          : `block index ${r} (byte ${this.blocksAt + r * this.blockSize}) inside it is free`;
      throw new LayoutMismatchError(
        `${this.name}: the block at ${ptr} cannot be ${count} blocks of ${this.blockSize} ` +
          `bytes long: ${why} (wrong size?)`,
      );
    }
    this.wPrev = prev;
    this.wNext = r;
  }

  /** Frees validated blocks [k, k + count) (after `locateLive`) and counts the free. */
  private release(k: number, count: number): void {
    this.insertFree(this.wPrev, k, count, this.wNext);
    const slots = this.slots;
    const slot0 = this.slot0;
    const live = Math.min(slots[slot0 + LIVE] - 1, this.blockCount - slots[slot0 + FREE]);
    slots[slot0 + LIVE] = Math.max(live, 0);
  }

  /**
   * Makes blocks [k, k + count) a free run between runs `prev` (ends at or before k) and
   * `next` (starts at or after k + count), merging with either when they touch.
   */
  private insertFree(prev: number, k: number, count: number, next: number): void {
    const none = this.none;
    let len = count;
    let after = next;
    if (next !== none && next === k + count) {
      len += this.runLen(next);
      after = this.runNext(next);
    }
    if (prev !== none && prev + this.runLen(prev) === k) {
      this.writeRun(prev, this.runLen(prev) + len, after);
    } else {
      this.writeRun(k, len, after);
      this.linkAfter(prev, k);
    }
    this.slots[this.slot0 + FREE] += count;
  }

  /**
   * Grows validated blocks [k, k + oldCount) to newCount from the run right after them
   * (`wNext`). False, nothing changed, when that run does not touch them or is too short.
   */
  private growInto(k: number, oldCount: number, newCount: number): boolean {
    const r = this.wNext;
    const delta = newCount - oldCount;
    if (r !== k + oldCount) return false;
    const n = this.runLen(r);
    if (n < delta) return false;
    const after = this.runNext(r);
    if (n === delta) {
      this.linkAfter(this.wPrev, after);
    } else {
      this.writeRun(r + delta, n - delta, after);
      this.linkAfter(this.wPrev, r + delta);
    }
    this.takeCounted(delta);
    return true;
  }

  /** The resize behind `realloc` and `reallocBlocks` (after `locateLive`). */
  private resize(
    ptr: number,
    k: number,
    oldCount: number,
    newCount: number,
    alignBlocks: number,
  ): number {
    if (((this.firstBlockNumber + k) & (alignBlocks - 1)) === 0) {
      if (newCount <= oldCount) {
        if (newCount < oldCount) {
          this.insertFree(this.wPrev, k + newCount, oldCount - newCount, this.wNext);
        }
        return ptr;
      }
      if (this.growInto(k, oldCount, newCount)) return ptr;
    }
    const to = this.takeFirstFit(newCount, alignBlocks);
    if (to < 0) return 0;
    const B = this.blockSize;
    const at = this.blocksAt + to * B;
    this.memory.u8.copyWithin(at, ptr, ptr + Math.min(oldCount, newCount) * B);
    this.locateLive(ptr, k, oldCount); // the list changed: find the old block's place again
    this.insertFree(this.wPrev, k, oldCount, this.wNext);
    return at;
  }

  /** Validates a block pointer and returns its index. Reads no memory. */
  private blockIndexOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const B = this.blockSize;
    const end = this.blocksAt + this.blockCount * B;
    if (ptr < this.blocksAt || ptr >= end) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not in this BlockAllocator's blocks [${this.blocksAt}, ${end})`,
      );
    }
    const off = ptr - this.blocksAt;
    if ((off & (B - 1)) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not at a block boundary (blocks of ${B} bytes from ${this.blocksAt})`,
      );
    }
    return off / B;
  }

  /** The block count of a caller-given size; the size is required. */
  private blocksForSize(size: number | undefined, method: string, what: string): number {
    if (size === undefined) {
      throw new ArgumentTypeError(
        `BlockAllocator.${method} needs the block's ${what}: a BlockAllocator keeps no ` +
          "per-block header to look it up",
      );
    }
    checkDeallocSize(size);
    const B = this.blockSize;
    return size <= B ? 1 : Math.ceil(size / B);
  }

  private roundedSize(size: number): number {
    const B = this.blockSize;
    return size <= B ? B : Math.ceil(size / B) * B;
  }

  private makeLinkView(): Uint16Array | Uint32Array {
    const buffer = this.memory.buffer;
    const bytes = this.blockCount * this.blockSize;
    return this.wide
      ? new Uint32Array(buffer, this.blocksAt, bytes / 4)
      : new Uint16Array(buffer, this.blocksAt, bytes / 2);
  }

  /** Attach: the header's configuration must describe blocks that fit this memory. */
  private validateAttached(count: number | undefined): void {
    const B = this.blockSize;
    const L = this.blockCount;
    const at = this.blocksAt;
    const ok =
      this.slots[this.slot0 + BLOCK_SIZE] === B &&
      Number.isSafeInteger(L) &&
      L >= 1 &&
      L <= maxBlocks(B) &&
      (count === undefined || count === L) &&
      Number.isSafeInteger(at) &&
      at >= this.dataStart &&
      at % B === 0 &&
      at + L * B <= this.memory.end;
    if (!ok) {
      throw new HeapIncompatibleError(
        `BlockAllocator: the header's configuration (B ${this.slots[this.slot0 + BLOCK_SIZE]}, L ${L}, ` +
          `blocks at ${at}) does not describe blocks of ${B} bytes inside ` +
          `[${this.memory.start}, ${this.memory.end})`,
        "ERR_HEAP_CONFIG",
      );
    }
  }
}

// ---- argument checks ---------------------------------------------------------------------

function isBlockSize(b: number): boolean {
  return (b | 0) === b && b >= MIN_BLOCK_SIZE && b <= MAX_BLOCK_SIZE && (b & (b - 1)) === 0;
}

/** The largest L for block size B: u16 indices below NONE, or a 4 GiB region. */
function maxBlocks(blockSize: number): number {
  return blockSize < WIDE_BLOCK_SIZE ? MAX_NARROW_BLOCKS : MAX_REGION_BYTES / blockSize;
}

function checkBlockSize(b: number): void {
  if (typeof b !== "number") throw new ArgumentTypeError(`blockSize must be a number`);
  if (!isBlockSize(b)) {
    throw new ArgumentRangeError(
      `blockSize must be a power of two ${MIN_BLOCK_SIZE} … ${MAX_BLOCK_SIZE}, got ${b}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

function checkBlockCount(n: number, blockSize: number): void {
  if (typeof n !== "number") throw new ArgumentTypeError(`blockCount must be a number`);
  const max = maxBlocks(blockSize);
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= max)) {
    throw new ArgumentRangeError(
      `blockCount must be an integer 1 … ${max} for blocks of ${blockSize} bytes, got ${n}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

/** A block count argument: an integer ≥ 1 (a count ≥ 2^32 is rejected as a size error). */
function checkCount(n: number, what: string): void {
  if (!isUint32(n)) {
    rejectSize(n, what);
    throw new ArgumentRangeError(`${what} must be below 2^32, got ${n}`, "ERR_ALLOC_SIZE");
  }
  if (n === 0) throw new ArgumentRangeError(`${what} must be at least 1 block`, "ERR_ALLOC_SIZE");
}

/** The alignment of block 0: `align` (validated) or B, whichever is larger. */
function blockAlignOf(align: number | undefined, blockSize: number): number {
  if (align === undefined) return blockSize;
  if (!isValidAlign(align)) rejectAlign(align);
  return Math.max(align, blockSize);
}

function checkAlignInBlocks(a: number): void {
  if (typeof a !== "number") throw new ArgumentTypeError(`alignInBlocks must be a number`);
  if (!((a | 0) === a && a >= 1 && a <= MAX_ALIGN_BLOCKS && (a & (a - 1)) === 0)) {
    throw new ArgumentRangeError(
      `alignInBlocks must be a power of two 1 … ${MAX_ALIGN_BLOCKS}, got ${a}`,
      "ERR_ALLOC_ALIGN",
    );
  }
}
