/**
 * The BlockAllocator's kernel: its state, the free runs (read, written, linked in address
 * order, taken first fit, released with coalescing), growth in place, pointer validation
 * and the attach check.
 */

import { BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../core/errors.js";
import { headerOffset, SLOT_BYTES, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { checkDeallocSize, isUint32, rejectPointer } from "../../core/validate.js";
import { FixedMemory } from "../../memory/memory.js";
import * as layout from "./layout.js";
import {
  type BlockOptions,
  blockAlignOf,
  checkBlockCount,
  checkBlockSize,
  maxBlocks,
  startBitsBytes,
} from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  BLOCK_COUNT,
  BLOCK_HEADER,
  BLOCK_SIZE,
  BLOCKS_AT,
  F_LEN,
  F_NEXT,
  FIRST,
  FREE,
  LIVE,
  MAX_REGION_BYTES,
  NARROW_NONE,
  PEAK,
  WIDE_BLOCK_SIZE,
  WIDE_NONE,
} = layout;

export abstract class BlockKernel extends BaseAllocator {
  /** B: bytes per block. */
  readonly blockSize: number;
  /** L: number of blocks. */
  readonly blockCount: number;
  /** Byte offset of block 0 (a multiple of B). */
  readonly blocksAt: number;

  /** Run-header fields over the blocks: field i of block k is `link[k * stride + i]`. */
  protected link: Uint16Array | Uint32Array;
  protected readonly wide: boolean;
  protected readonly stride: number;
  protected readonly none: number;
  /** `blocksAt / B`: block k's absolute block number is firstBlockNumber + k (alignment). */
  protected readonly firstBlockNumber: number;
  /** Scratch results of `locateLive` (not state: rewritten by every walk). */
  protected wPrev = 0;
  protected wNext = 0;

  protected constructor(
    memoryOrBlockCount: Memory | number,
    blockSize: number,
    options: BlockOptions,
  ) {
    checkBlockSize(blockSize);
    const firstAlign = blockAlignOf(options.align, blockSize);
    let memory: Memory;
    let count = options.blockCount;
    if (typeof memoryOrBlockCount === "number") {
      checkBlockCount(memoryOrBlockCount, blockSize);
      count = memoryOrBlockCount;
      const blocksAt = blocksAtFor(0, count, firstAlign);
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
    // The start bits' size depends on L, which must be known before the header is placed:
    // the header's (attach; validated after), the caller's, or as many blocks as fit.
    let bitsFor: number;
    if (attach) {
      const stored = memory.f64[headerOffset(memory.start) / SLOT_BYTES + BLOCK_COUNT];
      bitsFor =
        Number.isSafeInteger(stored) && stored >= 1 && stored <= maxBlocks(blockSize) ? stored : 1;
    } else {
      count ??= fitCount(memory, blockSize, firstAlign);
      bitsFor = Math.max(count, 1);
    }
    super(
      memory,
      StrategyKind.block,
      BLOCK_HEADER,
      startBitsBytes(bitsFor),
      blockSize,
      attach,
      "BlockAllocator",
    );
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
      count ??= 0;
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

  protected override onViews(): void {
    // Wasm growth replaces the buffer (the old one is detached); the others keep it.
    if (this.link !== undefined && this.link.buffer !== this.memory.buffer) {
      this.link = this.makeLinkView();
    }
  }

  // ---- run headers -----------------------------------------------------------------------

  protected runNext(k: number): number {
    return this.link[k * this.stride + F_NEXT];
  }

  protected runLen(k: number): number {
    return this.link[k * this.stride + F_LEN];
  }

  /** Makes block `k` the head of a free run of `len` blocks followed by run `next`. */
  protected writeRun(k: number, len: number, next: number): void {
    const i = k * this.stride;
    this.link[i + F_NEXT] = next;
    this.link[i + F_LEN] = len;
  }

  protected firstRun(): number {
    return this.slots[this.slot0 + FIRST];
  }

  /** Points run `prev` (or FIRST, when `prev` is NONE) at run `next`. */
  protected linkAfter(prev: number, next: number): void {
    if (prev === this.none) this.slots[this.slot0 + FIRST] = next;
    else this.link[prev * this.stride + F_NEXT] = next;
  }

  /**
   * The length of run `r`, after checking it against the invariants: inside the blocks, at
   * or after `minStart` (the previous run's end + 1), LEN ≥ 1. A broken run is corruption.
   */
  protected checkedRunLen(r: number, minStart: number): number {
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
  protected brokenRun(r: number, minStart: number): never {
    this.checkedRunLen(r, minStart);
    return this.corrupt(`free run at index ${r} failed the walk's check`);
  }

  // ---- the algorithm ---------------------------------------------------------------------

  // ---- start bits (`words`: the metadata after the header) -------------------------------

  protected isStart(k: number): boolean {
    return (this.words[k >>> 5] & (1 << (k & 31))) !== 0;
  }

  protected setStart(k: number): void {
    this.words[k >>> 5] |= 1 << (k & 31);
  }

  protected clearStart(k: number): void {
    this.words[k >>> 5] &= ~(1 << (k & 31));
  }

  /** Whether any start bit is set in blocks [from, to). O((to − from) / 32). */
  protected anyStart(from: number, to: number): boolean {
    const w = this.words;
    for (let k = from; k < to; ) {
      const bits = w[k >>> 5] >>> (k & 31);
      const n = Math.min(32 - (k & 31), to - k);
      if ((n === 32 ? bits : bits & ((1 << n) - 1)) !== 0) return true;
      k += n;
    }
    return false;
  }

  /**
   * After `locateLive(ptr, k, count)` of an allocation starting at k: no other allocation
   * starts inside [k, k + count), and the allocation does not go on past it (else
   * `LayoutMismatchError`: a size smaller or larger than the block's). Reads only.
   */
  protected checkExact(ptr: number, k: number, count: number): void {
    const end = k + count;
    const goesOn = end < this.blockCount && end !== this.wNext && !this.isStart(end);
    if (goesOn || this.anyStart(k + 1, end)) {
      throw new LayoutMismatchError(
        `${this.name}: the block at ${ptr} is not ${count} blocks of ${this.blockSize} bytes ` +
          `long: ${goesOn ? "it is longer (the rest would leak)" : "another block starts inside that range"} (wrong size?)`,
      );
    }
  }

  /**
   * Validates that blocks [k, k + count) are exactly one live allocation, and finds its
   * place among the runs (`wPrev`, `wNext`): a free block k is `DoubleFreeError`, a block k
   * inside an allocation `InvalidPointerError`, a wrong length `LayoutMismatchError`.
   */
  protected locateExact(ptr: number, k: number, count: number): void {
    if (!this.isStart(k)) {
      this.locateLive(ptr, k, 1); // throws DoubleFreeError when block k is free
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: block index ${k} is inside a live block, not its start`,
      );
    }
    this.locateLive(ptr, k, count);
    this.checkExact(ptr, k, count);
  }

  // ---- the algorithm ---------------------------------------------------------------------

  /** One free run of all L blocks; no start bits; counters back to a fresh heap's. */
  protected clearBlocks(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.words.fill(0, 0, startBitsBytes(this.blockCount) >>> 2);
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
  protected takeFirstFit(count: number, alignBlocks: number): number {
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
  protected carve(prev: number, r: number, end: number, s: number, count: number): void {
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

  protected takeCounted(count: number): void {
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
  protected locateLive(ptr: number, k: number, count: number): void {
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

  /** Frees the allocation [k, k + count) (after `locateExact`) and counts the free. */
  protected release(k: number, count: number): void {
    this.insertFree(this.wPrev, k, count, this.wNext);
    this.clearStart(k);
    this.slots[this.slot0 + LIVE]--;
  }

  /**
   * Makes blocks [k, k + count) a free run between runs `prev` (ends at or before k) and
   * `next` (starts at or after k + count), merging with either when they touch.
   */
  protected insertFree(prev: number, k: number, count: number, next: number): void {
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
  protected growInto(k: number, oldCount: number, newCount: number): boolean {
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
  protected resize(
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
    this.clearStart(k);
    this.setStart(to);
    return at;
  }

  /** Validates a block pointer and returns its index. Reads no memory. */
  protected blockIndexOf(ptr: number): number {
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
  protected blocksForSize(size: number | undefined, method: string, what: string): number {
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

  protected roundedSize(size: number): number {
    const B = this.blockSize;
    return size <= B ? B : Math.ceil(size / B) * B;
  }

  protected makeLinkView(): Uint16Array | Uint32Array {
    const buffer = this.memory.buffer;
    const bytes = this.blockCount * this.blockSize;
    return this.wide
      ? new Uint32Array(buffer, this.blocksAt, bytes / 4)
      : new Uint16Array(buffer, this.blocksAt, bytes / 2);
  }

  /** Attach: the header's configuration must describe blocks that fit this memory. */
  protected validateAttached(count: number | undefined): void {
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
      this.metaBytes === alignUp(BLOCK_HEADER.bytes + startBitsBytes(L), 8) &&
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

/** Block 0's offset for L blocks after a header at `headerAt`: header, start bits, pad. */
function blocksAtFor(headerAt: number, blockCount: number, firstAlign: number): number {
  const dataStart = headerAt + alignUp(BLOCK_HEADER.bytes + startBitsBytes(blockCount), 8);
  return alignUp(dataStart, firstAlign);
}

/** As many blocks as fit `memory` after the header and their start bits (0: none fit). */
function fitCount(memory: Memory, blockSize: number, firstAlign: number): number {
  const at = headerOffset(memory.start);
  let n = Math.min(maxBlocks(blockSize), Math.floor((memory.end - at) / blockSize));
  while (n > 0) {
    const over = blocksAtFor(at, n, firstAlign) + n * blockSize - memory.end;
    if (over <= 0) return n;
    n -= Math.max(1, Math.ceil(over / blockSize));
  }
  return 0;
}
