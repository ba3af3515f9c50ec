/**
 * The BuddyAllocator's kernel: its state, taking and releasing blocks (splitting, merging
 * with buddies), growth, the per-order free bitmaps, pointer validation.
 */

import { BaseAllocator } from "../../core/allocator.js";
import { alignDown, alignUp } from "../../core/bits.js";
import {
  ArgumentRangeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../core/errors.js";
import { H_CONFIG, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { checkDeallocSize, checkSize32, isUint32, rejectPointer } from "../../core/validate.js";
import * as layout from "./layout.js";
import {
  type BuddyOptions,
  buddyOrder,
  type Geometry,
  lowestBit,
  ownedBuddyMemory,
  planGeometry,
  resolveCapacity,
  resolveOrders,
} from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  BIT_MASK,
  BUDDY_HEADER,
  FREE_BYTES,
  HI,
  HI_MAX,
  LEVEL_SHIFT,
  LIVE,
  LO,
  MAX_ORDER,
  ORDER_MASK,
  ORIGIN,
  PEAK,
  WORD_SHIFT,
} = layout;

export abstract class BuddyKernel extends BaseAllocator {
  /** The smallest block (one unit), in bytes. */
  readonly minBlockSize: number;
  /** The largest block (the top order), in bytes. */
  readonly maxBlockSize: number;
  /** Number of orders: maxBlockSize = minBlockSize × 2^(orders − 1). */
  readonly orders: number;

  protected readonly log2Unit: number;
  protected readonly unit: number;
  protected readonly origin: number;
  protected readonly lo: number;
  protected readonly hiMax: number;
  protected readonly maxOrder: number;
  protected readonly geo: Geometry;
  protected readonly freeAt: Int32Array;
  protected readonly levels: Uint8Array;
  protected readonly splitAt: Int32Array;
  protected readonly raisedAt: number;
  /** Byte offset of the metadata words in `metaBuffer`. */
  protected readonly wordsAt: number;
  /** The metadata words (re-created when the memory's buffer is replaced). */
  protected w: Uint32Array;

  protected constructor(memoryOrCapacity: Memory | number, options: BuddyOptions) {
    const { log2Unit, orderCap } = resolveOrders(options);
    let memory: Memory;
    let capacity: number;
    let maxCapacity: number | undefined;
    if (typeof memoryOrCapacity === "number") {
      checkSize32(memoryOrCapacity, "capacity");
      capacity = alignUp(Math.max(memoryOrCapacity, 1), 2 ** log2Unit);
      maxCapacity = capacity;
      memory = ownedBuddyMemory(capacity, planGeometry(capacity, log2Unit, orderCap));
    } else {
      memory = memoryOrCapacity;
      maxCapacity =
        options.maxCapacity === undefined ? undefined : resolveCapacity(options.maxCapacity);
      capacity = maxCapacity ?? memory.end - memory.start;
    }
    const geo = planGeometry(capacity, log2Unit, orderCap);
    const attach = options.attach === true;
    super(
      memory,
      StrategyKind.buddy,
      BUDDY_HEADER,
      geo.words * 4,
      geo.config,
      attach,
      "BuddyAllocator",
    );

    this.geo = geo;
    this.log2Unit = log2Unit;
    this.unit = 2 ** log2Unit;
    this.freeAt = geo.freeAt;
    this.levels = geo.levels;
    this.splitAt = geo.splitAt;
    this.raisedAt = geo.raisedAt;
    this.wordsAt = this.metaAt + BUDDY_HEADER.bytes;
    this.w = new Uint32Array(this.metaBuffer, this.wordsAt, geo.words);

    // The span: origin, holes below LO, growth limit HI_MAX, top order.
    const u = this.unit;
    this.origin = alignDown(this.dataStart, geo.baseAlign);
    this.lo = Math.ceil((this.dataStart - this.origin) / u);
    const lastUnit =
      maxCapacity === undefined
        ? Math.floor((memory.end - this.origin) / u)
        : Math.min(
            Math.floor((memory.maxEnd - this.origin) / u),
            this.lo + Math.floor(maxCapacity / u),
          );
    this.hiMax = Math.max(this.lo, lastUnit);
    let top = -1;
    for (let k = geo.orderBound; k >= 0; k--) {
      if (alignUp(this.lo, 2 ** k) + 2 ** k <= this.hiMax) {
        top = k;
        break;
      }
    }
    if (top < 0) {
      throw new ArgumentRangeError(
        `BuddyAllocator: region [${memory.start}, ${memory.end}) has no room for a ` +
          `${u}-byte block after its ${this.metaBytes} bytes of metadata`,
        "ERR_MEMORY",
      );
    }
    this.maxOrder = top;
    this.orders = top + 1;
    this.minBlockSize = u;
    this.maxBlockSize = u * 2 ** top;

    const slots = this.slots;
    const slot0 = this.slot0;
    if (attach) {
      const expect = [this.origin, this.lo, this.hiMax, top];
      const configSlots = [ORIGIN, LO, HI_MAX, MAX_ORDER];
      for (let s = 0; s < configSlots.length; s++) {
        if (slots[slot0 + H_CONFIG] !== geo.config || slots[slot0 + configSlots[s]] !== expect[s]) {
          throw new HeapIncompatibleError(
            "BuddyAllocator: the heap here was made with other options (minBlockSize, " +
              "maxBlockSize, maxCapacity) or over another region",
            "ERR_HEAP_CONFIG",
          );
        }
      }
      return;
    }
    slots[slot0 + ORIGIN] = this.origin;
    slots[slot0 + LO] = this.lo;
    slots[slot0 + HI] = Math.max(
      this.lo,
      Math.min(this.hiMax, Math.floor((memory.end - this.origin) / u)),
    );
    slots[slot0 + HI_MAX] = this.hiMax;
    slots[slot0 + MAX_ORDER] = top;
    this.clearAndTile();
  }

  // ---- allocation steps ----------------------------------------------------------------------

  /** Takes the lowest free block of the smallest order ≥ t that has one, split down to t. */
  protected takeBlock(t: number, raised: boolean): number {
    const w = this.w;
    const slots = this.slots;
    const slot0 = this.slot0;
    let o = t + lowestBit(w[ORDER_MASK] >>> t);
    const j = this.findFreeBlock(o);
    this.removeFreeBlock(j, o);
    while (o > t) {
      this.setSplit(j, o);
      o--;
      this.insertFreeBlock(j + (1 << o), o);
    }
    if (raised) this.setRaised(j, true);
    const bytes = this.unit * (1 << t);
    const free = slots[slot0 + FREE_BYTES] - bytes;
    slots[slot0 + FREE_BYTES] = free;
    slots[slot0 + LIVE]++;
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    return this.origin + j * this.unit;
  }

  /** Frees the live block (i, k) and merges it with free buddies as far as they go. */
  protected releaseBlock(i: number, k: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.setRaised(i, false);
    slots[slot0 + FREE_BYTES] += this.unit * (1 << k);
    slots[slot0 + LIVE]--;
    this.mergeWithBuddies(i, k, slots[slot0 + HI]);
  }

  /** Inserts (i, k) as free after merging it upwards with every free buddy. */
  protected mergeWithBuddies(i: number, k: number, hi: number): void {
    const lo = this.lo;
    const top = this.maxOrder;
    while (k < top) {
      const size = 1 << k;
      const parent = i & ~(2 * size - 1);
      if (parent < lo || parent + 2 * size > hi) break; // the parent does not exist
      const buddy = i ^ size;
      if (!this.isFree(buddy, k)) break;
      this.removeFreeBlock(buddy, k);
      this.clearSplit(parent, k + 1);
      i = parent;
      k++;
    }
    this.insertFreeBlock(i, k);
  }

  /** Splits the live block (i, k) down to order t, freeing the upper halves. */
  protected shrinkInPlace(i: number, k: number, t: number): void {
    if (t === k) return;
    for (let o = k; o > t; o--) {
      this.setSplit(i, o);
      this.insertFreeBlock(i + (1 << (o - 1)), o - 1);
    }
    this.slots[this.slot0 + FREE_BYTES] += this.unit * ((1 << k) - (1 << t));
  }

  /** Whether (i, k) can become (i, t) by absorbing free upper buddies. */
  protected canGrowInPlace(i: number, k: number, t: number): boolean {
    const hi = this.slots[this.slot0 + HI];
    for (let o = k; o < t; o++) {
      const size = 1 << o;
      if ((i & (2 * size - 1)) !== 0) return false; // (i, o) is an upper half
      if (i < this.lo || i + 2 * size > hi) return false; // the parent does not exist
      if (!this.isFree(i + size, o)) return false;
    }
    return true;
  }

  protected growInPlace(i: number, k: number, t: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    for (let o = k; o < t; o++) {
      this.removeFreeBlock(i + (1 << o), o);
      this.clearSplit(i, o + 1);
    }
    const free = slots[slot0 + FREE_BYTES] - this.unit * ((1 << t) - (1 << k));
    slots[slot0 + FREE_BYTES] = free;
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
  }

  // ---- growth ------------------------------------------------------------------------------

  /**
   * Makes a free block of order ≥ t exist by adopting more of the memory (grown by someone
   * else, or grown here). Changes nothing and returns false unless success is certain.
   */
  protected growFor(t: number): boolean {
    const hi = this.slots[this.slot0 + HI];
    if (hi >= this.hiMax) return false;
    const size = 1 << t;
    const corner = hi & ~(size - 1);
    // The node of order t straddling HI if its part below HI is all free (it merges whole),
    // else the first node of order t wholly above HI.
    const straddles = corner !== hi && corner >= this.lo && this.allFree(corner, hi);
    const need = straddles ? corner + size : alignUp(hi, size) + size;
    if (need > this.hiMax) return false;
    const u = this.unit;
    const m = this.memory;
    m.refresh();
    if (this.origin + need * u > m.end && !m.grow(this.origin + need * u)) return false;
    this.syncViews();
    const newHi = Math.min(this.hiMax, Math.floor((m.end - this.origin) / u));
    if (newHi < need) return false;
    this.adopt(newHi);
    return true;
  }

  /** Whether the leaves tiling [from, to) are all free. */
  protected allFree(from: number, to: number): boolean {
    for (let i = from; i < to; ) {
      const k = this.leafOrder(i);
      if ((i & ((1 << k) - 1)) !== 0 || !this.isFree(i, k)) return false;
      i += 1 << k;
    }
    return true;
  }

  /** Adds units [HI, newHi) to the span as free blocks, merging them with free blocks below. */
  protected adopt(newHi: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const old = slots[slot0 + HI];
    const lo = this.lo;
    // Nodes straddling the old end exist now; they hold old leaves, so they are split.
    for (let k = 1; k <= this.maxOrder; k++) {
      const j = old & ~((1 << k) - 1);
      if (j !== old && j >= lo && j + (1 << k) <= newHi) this.setSplit(j, k);
    }
    slots[slot0 + HI] = newHi;
    slots[slot0 + FREE_BYTES] += (newHi - old) * this.unit;
    for (let i = old; i < newHi; ) {
      const k = this.largestBlockAt(i, newHi);
      this.mergeWithBuddies(i, k, newHi);
      i += 1 << k;
    }
  }

  /** The order of the largest block that can start at unit i and end by `end`. */
  protected largestBlockAt(i: number, end: number): number {
    let k = 0;
    while (k < this.maxOrder && (i & ((2 << k) - 1)) === 0 && i + (2 << k) <= end) k++;
    return k;
  }

  /** Clears every bitmap and tiles [LO, HI) with the largest aligned free blocks. */
  protected clearAndTile(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.w.fill(0);
    const hi = slots[slot0 + HI];
    for (let i = this.lo; i < hi; ) {
      const k = this.largestBlockAt(i, hi);
      this.insertFreeBlock(i, k);
      i += 1 << k;
    }
    slots[slot0 + FREE_BYTES] = (hi - this.lo) * this.unit;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + PEAK] = 0;
  }

  // ---- validation --------------------------------------------------------------------------

  /** The unit a block pointer names; throws InvalidPointerError unless it is a unit start. */
  protected unitOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const u = this.unit;
    const first = this.origin + this.lo * u;
    const end = this.origin + this.slots[this.slot0 + HI] * u;
    if (ptr < first || ptr >= end) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: outside this BuddyAllocator's blocks [${first}, ${end})`,
      );
    }
    const off = ptr - this.origin;
    if ((off & (u - 1)) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not a block start (blocks start at multiples of ${u} bytes ` +
          `from ${this.origin})`,
      );
    }
    return off >>> this.log2Unit;
  }

  /** The order of the live block starting at unit i; throws for anything else. */
  protected liveOrder(i: number, ptr: number): number {
    const k = this.leafOrder(i);
    const start = i & ~((1 << k) - 1);
    if (this.isFree(start, k)) {
      throw new DoubleFreeError(
        `pointer ${ptr} is not allocated: it lies in the free block at ` +
          `${this.origin + start * this.unit} of ${this.unit * (1 << k)} bytes ` +
          "(freed already, or never handed out)",
      );
    }
    if (start !== i) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: inside the live block at ${this.origin + start * this.unit} ` +
          `of ${this.unit * (1 << k)} bytes, not its start`,
      );
    }
    return k;
  }

  protected checkLayout(i: number, k: number, ptr: number, size: number): void {
    checkDeallocSize(size);
    const bytes = this.unit * (1 << k);
    if (size > bytes) {
      throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block holds ${bytes} bytes`);
    }
    if (!this.isRaised(i) && buddyOrder(size, this.log2Unit) < k) {
      throw new LayoutMismatchError(
        `dealloc(${ptr}, ${size}): the block of ${bytes} bytes was made for ` +
          `${bytes / 2 + 1} … ${bytes} bytes`,
      );
    }
  }

  // ---- the tree: nodes, leaves, bitmaps --------------------------------------------------------

  /**
   * The order of the leaf containing unit i (i in [LO, HI)): the first order from the bottom
   * whose parent is split or does not exist. O(that order).
   */
  protected leafOrder(i: number): number {
    const lo = this.lo;
    const hi = this.slots[this.slot0 + HI];
    const top = this.maxOrder;
    for (let k = 0; k < top; k++) {
      const size2 = 2 << k;
      const parent = i & ~(size2 - 1);
      if (parent < lo || parent + size2 > hi || this.isSplit(parent, k + 1)) return k;
    }
    return top;
  }

  /** Bit position of node (j, k) in the order-k bitmaps. */
  protected pos(j: number, k: number): number {
    return (j >> k) - (this.lo >> k);
  }

  protected isFree(j: number, k: number): boolean {
    const p = this.pos(j, k);
    return (
      ((this.w[this.freeAt[k << LEVEL_SHIFT] + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0
    );
  }

  /** Sets node (j, k)'s free bit and the summary bits above it. */
  protected insertFreeBlock(j: number, k: number): void {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    const levels = this.levels[k];
    let p = this.pos(j, k);
    for (let l = 0; ; ) {
      const x = this.freeAt[base | l] + (p >>> WORD_SHIFT);
      const old = w[x];
      w[x] = old | (1 << (p & BIT_MASK));
      if (old !== 0) return;
      if (++l === levels) {
        w[ORDER_MASK] |= 1 << k;
        return;
      }
      p >>>= WORD_SHIFT;
    }
  }

  /** Clears node (j, k)'s free bit and the summary bits that become empty. */
  protected removeFreeBlock(j: number, k: number): void {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    const levels = this.levels[k];
    let p = this.pos(j, k);
    for (let l = 0; ; ) {
      const x = this.freeAt[base | l] + (p >>> WORD_SHIFT);
      const v = w[x] & ~(1 << (p & BIT_MASK));
      w[x] = v;
      if (v !== 0) return;
      if (++l === levels) {
        w[ORDER_MASK] &= ~(1 << k);
        return;
      }
      p >>>= WORD_SHIFT;
    }
  }

  /** The lowest free block of order k (ORDER_MASK bit k must be set): ≤ 6 word reads. */
  protected findFreeBlock(k: number): number {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    let p = 0;
    for (let l = this.levels[k] - 1; l >= 0; l--) {
      p = (p << WORD_SHIFT) | lowestBit(w[this.freeAt[base | l] + p]);
    }
    return (p + (this.lo >> k)) << k;
  }

  protected isSplit(j: number, k: number): boolean {
    const p = this.pos(j, k);
    return ((this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0;
  }

  protected setSplit(j: number, k: number): void {
    const p = this.pos(j, k);
    this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] |= 1 << (p & BIT_MASK);
  }

  protected clearSplit(j: number, k: number): void {
    const p = this.pos(j, k);
    this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] &= ~(1 << (p & BIT_MASK));
  }

  protected isRaised(i: number): boolean {
    const p = i - this.lo;
    return ((this.w[this.raisedAt + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0;
  }

  protected setRaised(i: number, on: boolean): void {
    const p = i - this.lo;
    const x = this.raisedAt + (p >>> WORD_SHIFT);
    if (on) this.w[x] |= 1 << (p & BIT_MASK);
    else this.w[x] &= ~(1 << (p & BIT_MASK));
  }

  protected override onViews(): void {
    if (this.w.buffer !== this.metaBuffer) {
      this.w = new Uint32Array(this.metaBuffer, this.wordsAt, this.geo.words);
    }
  }
}
