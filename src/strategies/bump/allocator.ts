/**
 * BumpAllocator: an arena. Allocation moves a pointer up; memory comes back all at once
 * (`reset`), by rolling back to a mark, or when the newest block is freed.
 *
 * Choose it for frame or request scratch memory, parsers, and anything freed together:
 * it is the fastest allocator there is, and zeroed allocation is free on fresh memory.
 * From the seeds: Vais Bump (`new`, `from_buffer`, `remaining`, `total_allocated`, `reset`,
 * `drop`), acid_alloc Bump, static-alloc (a bump over memory it does not own) and mini-alloc
 * (grows a wasm memory; zeroed allocation skips the fill on pages never handed out).
 *
 * ## Memory picture (layout.ts has the slots and words)
 *
 *     | header + state words | block | pad | block | mark record | block |  free ...  | END
 *                            ^ dataStart                                  ^ TOP
 *
 * No per-block header: a block is exactly its bytes plus alignment padding before it.
 *
 * ## Cost
 * | operation        | best | worst | notes                                             |
 * | ---------------- | ---- | ----- | ------------------------------------------------- |
 * | alloc            | O(1) | O(1)  | + memory growth, amortised O(1) (geometric)        |
 * | dealloc          | O(1) | O(1)  | gives memory back only for the newest block         |
 * | realloc          | O(1) | O(n)  | in place for the newest block, else move and copy   |
 * | reset / rollback | O(1) | O(1)  |                                                   |
 * | allocZeroed      | O(1) | O(n)  | no fill at all for bytes never handed out           |
 *
 * Fragmentation: none inside the arena except alignment padding; freed blocks other than
 * the newest stay unusable until `reset` or a rollback below them.
 *
 * ## Invariants (`check()`)
 * dataStart ≤ TOP ≤ END ≤ memory end; LAST is 0 or an 8-aligned block start in
 * [dataStart, TOP); LIVE, PEAK, EPOCH, TOTAL_LO and TOTAL_HI are non-negative integers; HIGH_WATER ≥ dataStart.
 *
 * ## dealloc and realloc
 * Validates the pointer (inside [dataStart, TOP), 8-aligned; else `InvalidPointerError`,
 * which is also what a block freed by `reset` gets). Freeing the newest block rolls TOP back
 * to it and counts it freed. Any other pointer may be a live block, a freed one or an
 * interior pointer: a bump keeps no per-block state to tell, so freeing it changes nothing
 * (its bytes come back on reset or rollback), and `realloc` of it answers 0 and changes
 * nothing. So no sequence of such calls can break an invariant; LIVE counts the blocks
 * handed out since the last reset or rollback, less the newest ones freed.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { AllocatorError, InvalidPointerError, OutOfMemoryError } from "../../core/errors.js";
import { expectSlots, H_CONFIG, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  checkSizeFits,
  DEFAULT_ALIGN as IMPORTED_DEFAULT_ALIGN,
  isUint32 as importedIsUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { FixedMemory, ownedMemory } from "../../memory/memory.js";
import * as layout from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  BUMP_HEADER,
  BUMP_LAYOUT,
  MARK_BYTES,
  MARK_EPOCH,
  MARK_LAST,
  MARK_LIVE,
  MARK_SELF,
  MAX_END,
  TOTAL_UNIT,
} = layout;

const DEFAULT_ALIGN = IMPORTED_DEFAULT_ALIGN;
const isUint32 = importedIsUint32;

const { HIGH_WATER, PEAK, EPOCH } = BUMP_HEADER.slot;
const { TOP, END, LAST, LIVE, TOTAL_LO, TOTAL_HI } = BUMP_HEADER.word;

export interface BumpOptions extends AllocatorOptions {
  /** Grow the memory when the arena is full (default: whenever the memory can grow). */
  grow?: boolean;
}

/**
 * An arena: each allocation moves a pointer up, and memory comes back all at once (`reset`),
 * by rolling back to a mark, or when the newest block is freed. The fastest allocator there
 * is; zeroed allocation is free on fresh memory. Use it for frame or request scratch memory,
 * parsers, and anything freed together.
 *
 * @example
 * ```ts
 * import { BumpAllocator, Layout } from "memkit";
 *
 * const arena = new BumpAllocator(4096); // owns a zeroed 4 KiB buffer
 * const a = arena.alloc(100);
 * arena.allocate(Layout.array(Layout.f64, 10)); // 80 bytes, 8-aligned
 * const mark = arena.mark();
 * arena.alloc(1000);
 * arena.rollback(mark); // frees everything allocated after the mark
 * console.log(arena.totalAllocated() >= 180, arena.owns(a)); // true true
 * arena.reset(); // frees everything at once
 * ```
 */
export class BumpAllocator extends BaseAllocator {
  readonly name = "BumpAllocator";
  private readonly growable: boolean;

  /** Bytes of metadata a BumpAllocator places at the start of its region. */
  static readonly metadataSize: number = BUMP_HEADER.bytes;

  /**
   * `new BumpAllocator(capacity)` owns a fresh, zeroed buffer with `capacity` usable bytes;
   * `new BumpAllocator(memory)` manages any `Memory` (fixed, growable, shared, wasm, offset).
   *
   * @param memoryOrCapacity - usable bytes of a new buffer, or the memory to manage
   * @param options - `attach` to a bump already in the memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: BumpOptions = {}) {
    const memory =
      typeof memoryOrCapacity === "number"
        ? ownedMemory(memoryOrCapacity, BumpAllocator.metadataSize)
        : memoryOrCapacity;
    const attach = options.attach === true;
    super(memory, StrategyKind.bump, BUMP_HEADER, 0, BUMP_LAYOUT, attach, "BumpAllocator");
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    if (attach) {
      expectSlots(this.slots, this.slot0, "BumpAllocator", [[H_CONFIG, BUMP_LAYOUT, "layout"]]);
    } else {
      const slots = this.slots;
      const slot0 = this.slot0;
      this.setTop(this.dataStart);
      this.setEnd(memory.end);
      slots[slot0 + HIGH_WATER] = this.dataStart;
      this.setLast(0);
      this.words[LIVE] = 0;
      this.words[TOTAL_LO] = 0;
      this.words[TOTAL_HI] = 0;
      slots[slot0 + PEAK] = 0;
      slots[slot0 + EPOCH] = 0;
    }
  }

  /**
   * The seeds' `from_buffer`: a bump over `[byteOffset, byteOffset + byteLength)` of a
   * caller's buffer. Non-owning, and the bytes are not assumed to be zero.
   */
  static fromBuffer(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    byteLength?: number,
    options: BumpOptions = {},
  ): BumpAllocator {
    return new BumpAllocator(new FixedMemory(buffer, byteOffset, byteLength, false), options);
  }

  /** Attaches a second handle to a bump heap already in `memory` (validated read-only). */
  static attach(memory: Memory): BumpAllocator {
    return new BumpAllocator(memory, { attach: true });
  }

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    // The common case only: a heap in order, a uint32 size, the default alignment, room
    // before END. Everything else takes `allocSlow`, which makes every check again, so this
    // function stays small enough for the engine to inline into the caller.
    if (this.blocked() || !isUint32(size) || align !== DEFAULT_ALIGN) {
      return this.allocSlow(size, align);
    }
    const w = this.words;
    // TOP ≤ END ≤ 2^32 − 8, so rounding it up to 8 cannot pass 2^32.
    const ptr = ((w[TOP] + 7) & -8) >>> 0;
    const top = ptr + (size === 0 ? 1 : size); // alloc(0) still takes a byte: pointers stay unique
    if (top > w[END] >>> 0) return this.allocSlow(size, align);
    w[TOP] = top;
    w[LAST] = ptr;
    w[LIVE]++;
    const total = w[TOTAL_LO] + size;
    if (total < TOTAL_UNIT) w[TOTAL_LO] = total;
    else this.carryTotal(total);
    return ptr;
  }

  /** alloc's general path: the entry guard's slow half, every check, growth, foreign pages. */
  private allocSlow(size: number, align: number): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== DEFAULT_ALIGN) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align < DEFAULT_ALIGN) align = DEFAULT_ALIGN;
    }
    const ptr = alignUp(this.top(), align);
    const top = ptr + (size === 0 ? 1 : size); // alloc(0) still takes a byte: pointers stay unique
    if (top > this.end() && !this.growTo(top)) {
      return this.skipForeign(top - this.top() + align) ? this.alloc(size, align) : 0;
    }
    const w = this.words; // growth may have replaced the views
    w[TOP] = top;
    w[LAST] = ptr;
    w[LIVE]++;
    const total = w[TOTAL_LO] + size;
    if (total < TOTAL_UNIT) w[TOTAL_LO] = total;
    else this.carryTotal(total);
    return ptr;
  }

  /** @inheritDoc Allocator.allocZeroed */
  override allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const zeroFrom = Math.max(slots[slot0 + HIGH_WATER], this.top());
    const ptr = this.alloc(size, align);
    if (ptr !== 0 && ptr < zeroFrom && this.memory.hasBytes) {
      this.memory.u8.fill(0, ptr, Math.min(ptr + size, zeroFrom));
    }
    // Bytes at or above zeroFrom are zero already when the memory started zeroed.
    if (ptr !== 0 && !this.memory.freshZero && this.memory.hasBytes && ptr + size > zeroFrom) {
      this.memory.u8.fill(0, Math.max(ptr, zeroFrom), ptr + size);
    }
    return ptr;
  }

  /** @inheritDoc Allocator.dealloc */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const top = this.checkLivePointer(ptr);
    if (size !== undefined) checkSizeFits(ptr, size, top - ptr, "the block cannot be larger than");
    // Only the newest block is known; any other pointer may be live, freed or interior, so
    // freeing it changes nothing (its bytes come back on reset or rollback).
    if (ptr === this.last()) {
      this.lowerTop(ptr, 0);
      this.words[LIVE]--;
    }
  }

  /** @inheritDoc Allocator.realloc */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const top = this.checkLivePointer(ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const last = this.last();
    if (ptr === last && ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      const oldSize = top - ptr;
      const newTop = ptr + newSize;
      if (newTop <= oldSize + ptr) {
        this.lowerTop(newTop, ptr); // shrink in place
        return ptr;
      }
      if (newTop <= this.end() || this.growTo(newTop)) {
        this.setTop(newTop);
        this.carryTotal(this.words[TOTAL_LO] + (newSize - oldSize));
        return ptr;
      }
      // No room after it (out of memory, or someone else's pages next): move it.
    }
    if (ptr !== last) {
      // Any other pointer may be live, freed or interior, and its size is unknown: the
      // call changes nothing (0: not resized, the block as it was). Move it yourself:
      // alloc, copy the bytes you know it holds, dealloc.
      return 0;
    }
    // The newest block, misaligned for `align` or out of room after it: move it.
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    // `to` ≥ top, so copying min(newSize, top − ptr) bytes keeps the whole block.
    if (this.memory.hasBytes) {
      this.memory.u8.copyWithin(to, ptr, ptr + Math.min(newSize, top - ptr));
    }
    this.words[LIVE]--; // the old block, known live, is freed (its bytes until reset)
    return to;
  }

  /**
   * Only the newest block's size is known (TOP − ptr); a bump keeps no per-block sizes, so
   * for any other live block this throws `AllocatorError` `ERR_UNSUPPORTED`.
   */
  usableSize(ptr: number): number {
    this.enter();
    const top = this.checkLivePointer(ptr);
    if (ptr !== this.last()) {
      throw new AllocatorError(
        `BumpAllocator keeps no per-block sizes: only the newest block's size is known (${ptr} is not it)`,
        "ERR_UNSUPPORTED",
      );
    }
    return top - ptr;
  }

  /** Releases every block; all earlier pointers and marks become invalid. */
  reset(): void {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    this.lowerTop(this.dataStart, 0);
    this.endRunAt(this.dataStart);
    this.words[LIVE] = 0;
    this.words[TOTAL_LO] = 0;
    this.words[TOTAL_HI] = 0;
    slots[slot0 + PEAK] = 0;
    slots[slot0 + EPOCH]++;
  }

  /**
   * Records the arena's state and returns a mark to roll back to (a 32-byte record placed
   * in the arena itself). Throws `OutOfMemoryError` when not even the record fits.
   */
  mark(): number {
    this.enter();
    if (!this.memory.hasBytes) {
      throw new AllocatorError(
        "marks live in the arena's bytes; an offset-only memory has none",
        "ERR_UNSUPPORTED",
      );
    }
    const slot0 = this.slot0;
    let at = alignUp(this.top(), 8);
    if (at + MARK_BYTES > this.end() && !this.growTo(at + MARK_BYTES)) {
      if (!this.skipForeign(MARK_BYTES + 8)) {
        throw new OutOfMemoryError("BumpAllocator: no room for a 32-byte mark record");
      }
      at = alignUp(this.top(), 8);
    }
    const f = this.memory.f64;
    const r = at / 8;
    const g = this.slots;
    f[r + MARK_SELF] = at;
    f[r + MARK_LIVE] = this.live();
    f[r + MARK_EPOCH] = g[slot0 + EPOCH];
    f[r + MARK_LAST] = this.last();
    this.setTop(at + MARK_BYTES);
    this.setLast(0);
    return at;
  }

  /**
   * Frees every block allocated after `mark` was taken (and later marks with them). A mark
   * from before a reset or an earlier rollback below it throws `InvalidPointerError`
   * (`ERR_STALE_POINTER`) and changes nothing.
   */
  rollback(mark: number): void {
    this.enter();
    if (!isUint32(mark)) rejectPointer(mark);
    const slots = this.slots;
    const slot0 = this.slot0;
    const f = this.memory.f64;
    const r = mark / 8;
    if (
      !this.memory.hasBytes ||
      mark % 8 !== 0 ||
      mark < this.dataStart ||
      mark + MARK_BYTES > this.top() ||
      f[r + MARK_SELF] !== mark ||
      f[r + MARK_EPOCH] !== slots[slot0 + EPOCH]
    ) {
      throw new InvalidPointerError(
        `${mark} is not a live mark of this BumpAllocator (stale after a reset or rollback?)`,
        "ERR_STALE_POINTER",
      );
    }
    const live = f[r + MARK_LIVE];
    const last = f[r + MARK_LAST];
    this.lowerTop(mark, last);
    this.endRunAt(mark + MARK_BYTES);
    this.words[LIVE] = live;
  }

  /** Bytes that can still be allocated (up to the memory's maximum for a growing bump). */
  remaining(): number {
    this.enter();
    const end = this.growable ? this.memory.maxEnd : this.end();
    return end - this.top();
  }

  /** Bytes requested since the last reset (the seeds' `total_allocated`). */
  totalAllocated(): number {
    this.enter();
    return this.words[TOTAL_HI] * TOTAL_UNIT + this.words[TOTAL_LO];
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const top = this.top();
    const inUse = top - this.dataStart - foreignBelow(this.memory, top);
    const free = this.end() - top + runsAbove(this.memory, this.end());
    const capacity = this.memory.end - this.memory.start;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: this.live(),
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: Math.max(this.end() - top, largestRunAbove(this.memory, this.end())),
    };
  }

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const top = this.top();
    const end = this.end();
    const last = this.last();
    const ds = this.dataStart;
    if (this.live() < 0) this.corrupt(`LIVE word holds ${this.live()}, below 0`);
    const lo = this.words[TOTAL_LO];
    if (lo < 0 || this.words[TOTAL_HI] < 0) {
      this.corrupt(`TOTAL words hold ${lo} and ${this.words[TOTAL_HI]}, not a total`);
    }
    const intSlots = [HIGH_WATER, PEAK, EPOCH];
    for (const s of intSlots) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (!(ds <= top && top <= end && end <= this.memory.end)) {
      this.corrupt(
        `expected dataStart ${ds} <= TOP ${top} <= END ${end} <= memory end ${this.memory.end}`,
      );
    }
    if (last !== 0 && !(last >= ds && last < top && last % 8 === 0)) {
      this.corrupt(`LAST ${last} is not an 8-aligned block start in [${ds}, ${top})`);
    }
    if (slots[slot0 + HIGH_WATER] < ds)
      this.corrupt(`HIGH_WATER ${slots[slot0 + HIGH_WATER]} is below dataStart ${ds}`);
    for (const [from, to] of this.memory.foreign) {
      if (top < to && end > from) {
        this.corrupt(`[TOP ${top}, END ${end}) reaches into someone else's pages [${from}, ${to})`);
      }
    }
  }

  // ---- the hot words ---------------------------------------------------------------------

  /** Stores `total` (TOTAL_LO plus bytes just requested, ≥ 0) as TOTAL_LO, carrying the rest. */
  private carryTotal(total: number): void {
    const carry = Math.floor(total / TOTAL_UNIT);
    this.words[TOTAL_HI] += carry;
    this.words[TOTAL_LO] = total - carry * TOTAL_UNIT;
  }

  private top(): number {
    return this.words[TOP] >>> 0;
  }
  private setTop(v: number): void {
    this.words[TOP] = v;
  }
  private end(): number {
    return this.words[END] >>> 0;
  }
  private setEnd(v: number): void {
    this.words[END] = Math.min(v, MAX_END);
  }
  private last(): number {
    return this.words[LAST] >>> 0;
  }
  private setLast(v: number): void {
    this.words[LAST] = v;
  }
  private live(): number {
    return this.words[LIVE];
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Validates a pointer to a live block; returns TOP. Throws before any change. */
  private checkLivePointer(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const top = this.top();
    if (ptr < this.dataStart || ptr >= top) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not in this BumpAllocator's live range [${this.dataStart}, ${top})` +
          " (freed by reset or rollback, or never handed out)",
      );
    }
    if (ptr % DEFAULT_ALIGN !== 0) {
      throw new InvalidPointerError(`invalid pointer ${ptr}: every block starts 8-aligned`);
    }
    return top;
  }

  /** Moves TOP down to `to` (folding the high-water marks first) and sets LAST. */
  private lowerTop(to: number, last: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const top = this.top();
    if (top > slots[slot0 + HIGH_WATER]) slots[slot0 + HIGH_WATER] = top;
    const used = top - this.dataStart;
    if (used > slots[slot0 + PEAK]) slots[slot0 + PEAK] = used;
    this.setTop(to);
    this.setLast(last);
  }

  /**
   * Grows a growable memory so END ≥ `top`. False when it cannot (nothing changed but END,
   * raised to the end of the run TOP is in), or when someone else's pages lie before `top`.
   */
  private growTo(top: number): boolean {
    if (!this.growable || !this.memory.grow(top)) return false;
    this.syncViews();
    this.endRunAt(this.top());
    return top <= this.end();
  }

  /**
   * alloc's way past pages that are not the arena's (core/memory.ts: a wasm module grew the
   * memory): when END is where such pages start, the arena continues after them; else it
   * grows the memory past them (`growPast`, by at least `bytes`). TOP moves past the pages,
   * which are never handed out, and the newest block can no longer roll TOP back across
   * them (LAST = 0). False, nothing changed, when neither is possible.
   */
  private skipForeign(bytes: number): boolean {
    const memory = this.memory;
    const end = this.end();
    let to = -1;
    for (const [from, upTo] of memory.foreign) if (from === end) to = upTo;
    if (to < 0) {
      if (!this.growable) return false;
      memory.refresh();
      if (memory.buffer.byteLength === memory.end) return false; // nobody else grew it
      // The pages from END (the old memory end) to `at` are recorded as someone else's.
      if (memory.growPast(bytes) < 0) return false;
      this.syncViews();
      return this.skipForeign(bytes);
    }
    this.lowerTop(to, 0);
    this.endRunAt(to);
    return true;
  }

  /** END for an arena whose TOP is at `top`: the next pages that are not its own, if any. */
  private endRunAt(top: number): void {
    let end = this.memory.end;
    for (const [from] of this.memory.foreign) if (from >= top && from < end) end = from;
    this.setEnd(end);
  }
}

/** Bytes of `memory`'s foreign pages below `at`. */
function foreignBelow(memory: Memory, at: number): number {
  let n = 0;
  for (const [from, to] of memory.foreign) if (from < at) n += Math.min(to, at) - from;
  return n;
}

/** Bytes of the arena's own runs past `end` (between and after foreign pages). */
function runsAbove(memory: Memory, end: number): number {
  let n = 0;
  let at = memory.end;
  for (let i = memory.foreign.length - 1; i >= 0; i--) {
    const [from, to] = memory.foreign[i];
    if (to <= end) break;
    n += at - to;
    at = from;
  }
  return n;
}

/** The largest of the arena's own runs past `end`. */
function largestRunAbove(memory: Memory, end: number): number {
  let most = 0;
  let at = memory.end;
  for (let i = memory.foreign.length - 1; i >= 0; i--) {
    const [from, to] = memory.foreign[i];
    if (to <= end) break;
    most = Math.max(most, at - to);
    at = from;
  }
  return most;
}
