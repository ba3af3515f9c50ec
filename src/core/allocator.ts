/**
 * `BaseAllocator`, the part every strategy shares (the `Allocator` contract it implements,
 * DESIGN.md "The contract", is contract.ts): where its metadata lives, entering a call
 * (stale views, poison, drop), the Layout forms, the generic move-and-copy `realloc`, and
 * the throwing conveniences.
 *
 * Hot-path rules: `alloc`, `dealloc` and `realloc` take and return numbers and allocate no
 * JS object; a rejected call throws before any state changes; out of memory returns 0.
 *
 * Choices every strategy follows (RELIABILITY.md §2.3):
 * - `alloc(0)` returns a unique, non-zero pointer to a minimal block, which must be freed
 *   like any other (C semantics: two `alloc(0)` never return the same pointer).
 * - `realloc(p, 0)` throws `RangeError` (`ERR_ALLOC_SIZE`): in C it frees and returns NULL,
 *   which callers confuse with failure (jemalloc's `opt.zero_realloc` note). Free instead.
 * - `realloc(0, n)` is `alloc(n)`; `dealloc(0)` does nothing.
 * - An alignment below 8 is raised to 8 (B4); above `MAX_ALIGN` (64 KiB) it is a RangeError.
 * - A size that is a valid integer but larger than any heap (≥ 2^32) returns 0.
 */

import type { Memory } from "../core/memory.js";
import { alignUp } from "./bits.js";
import { dependentsOf } from "./children.js";
import type { Allocator, AllocatorStats } from "./contract.js";
import { dumpState, INSPECT, summarize } from "./describe.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  HeapCorruptedError,
  HeapPoisonedError,
  OutOfMemoryError,
} from "./errors.js";
import {
  COMMON_SLOTS,
  H_MAGIC,
  H_STATE,
  type HeaderLayout,
  headerOffset,
  MAGIC,
  POISONED_MAGIC,
  SLOT_BYTES,
  STATE_OK,
  STATE_POISONED,
  validateHeader,
  writeHeader,
} from "./header.js";
import { type Allocation, Layout } from "./layout.js";

export type { Allocator, AllocatorOptions, AllocatorStats } from "./contract.js";

import {
  checkAlign,
  checkReallocSize,
  DEFAULT_ALIGN,
  isUint32,
  rejectPointer,
} from "./validate.js";

/** Whether `x` has the contract's methods and a memory (a duck-typed `Allocator`). */
export function isAllocator(x: unknown): x is Allocator {
  const a = x as Allocator | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.alloc === "function" &&
    typeof a.dealloc === "function" &&
    typeof a.usableSize === "function" &&
    typeof a.owns === "function" &&
    typeof a.stats === "function" &&
    typeof a.memory === "object" &&
    a.memory !== null
  );
}

/**
 * `allocate` and `allocateZeroed` over `alloc` and `allocZeroed`, as every allocator
 * implements them: a `Layout` or a typed error, null when out of memory; the allocation's
 * size is the block's `usableSize` when `usable`, else the layout's.
 */
export function allocateLayout(
  a: Allocator,
  layout: Layout,
  zeroed: boolean,
  usable: boolean,
): Allocation | null {
  if (!(layout instanceof Layout)) {
    throw new ArgumentTypeError(`${zeroed ? "allocateZeroed" : "allocate"} takes a Layout`);
  }
  const ptr = zeroed
    ? a.allocZeroed(layout.size, layout.align)
    : a.alloc(layout.size, layout.align);
  return ptr === 0 ? null : { ptr, size: usable ? a.usableSize(ptr) : layout.size };
}

/** `deallocate` over `dealloc`: the layout, when given, must be a `Layout`. */
export function deallocateLayout(a: Allocator, ptr: number, layout: Layout | undefined): void {
  if (layout !== undefined && !(layout instanceof Layout)) {
    throw new ArgumentTypeError("deallocate takes a Layout");
  }
  a.dealloc(ptr, layout?.size);
}

/**
 * `allocOrThrow`'s second half: `ptr`, or `OutOfMemoryError` ("`what` for N bytes aligned
 * to A") when it is 0.
 */
export function orOutOfMemory(
  ptr: number,
  what: string,
  size: number,
  align: number = DEFAULT_ALIGN,
): number {
  if (ptr === 0) throw new OutOfMemoryError(`${what} for ${size} bytes aligned to ${align}`);
  return ptr;
}

/** A header of an allocator that was dropped: every call on the handle fails fast. */
const DROPPED = new Float64Array(COMMON_SLOTS).fill(-1);

/**
 * The entry guard's constants, module-local so that the engine folds them into `blocked()`
 * (an imported binding is loaded from its module cell on every use).
 */
const MAGIC_SLOT = 0;
const IN_ORDER = 0x4d454d4b;
if (MAGIC_SLOT !== H_MAGIC || IN_ORDER !== MAGIC) {
  throw new Error("core/allocator.ts: the entry guard's constants disagree with core/header.ts");
}

/** The common header slots in the order `verifyHeader` names them. */
const HEADER_SLOT_NAMES = [
  "MAGIC",
  "VERSION",
  "KIND",
  "STATE",
  "META_BYTES",
  "DATA_START",
  "CONFIG",
  "RESERVED",
] as const;

/**
 * The part every memkit strategy shares: the header in the memory (or beside it, for an
 * offset-only memory), the checks made on entering a call (stale views, poison, a dropped
 * handle), the `Layout` forms, a move-and-copy `realloc`, the throwing forms, `check()`,
 * `drop()` and `dump()`. Use a strategy (`TlsfAllocator`, `PoolAllocator`, …) or `Heap`;
 * `instanceof BaseAllocator` tells a memkit strategy from other {@link Allocator}s.
 */
export abstract class BaseAllocator implements Allocator {
  /** The linear memory the blocks live in. */
  readonly memory: Memory;
  /** The strategy's name in messages. */
  abstract readonly name: string;

  /**
   * The header's float64 slots (common, then the strategy's): in-band, the memory's own
   * `f64` view; else a side buffer. Slot `i` of the header is `slots[slot0 + i]`.
   */
  protected slots: Float64Array;
  /** Index of the header's slot 0 in `slots`. */
  protected slot0: number;
  /**
   * The strategy's int32 words: its state words (`words[0]` is the first one its
   * `HeaderLayout` names), then the rest of its metadata as int32, to the end of
   * `metaBytes`. Re-made when the memory's buffer is replaced.
   */
  protected words: Int32Array;
  /** Byte offset of the header in `metaBuffer`, and the bytes of header + metadata. */
  protected readonly metaAt: number;
  protected readonly metaBytes: number;
  /** Byte offset in `metaBuffer` of the strategy's metadata after its header. */
  protected readonly extraMetaAt: number;
  /** The buffer holding header and metadata: the memory's for in-band, else a side one. */
  protected metaBuffer: ArrayBufferLike;
  protected readonly inBand: boolean;
  /** First byte a block may occupy. */
  protected readonly dataStart: number;
  private readonly wordsByteOffset: number;
  private dropped = false;
  /**
   * The common header as this handle made (or attached to) it: the heap is corrupt when its
   * header says anything else (another kind, version, configuration…).
   */
  private readonly madeHeader: Float64Array;

  /**
   * Places the header (`header`: the common slots, the strategy's slots and state words)
   * and `extraMetaBytes` of out-of-line metadata, and writes or (with `attach`) validates
   * the common header.
   *
   * By default the metadata goes at the start of the region and blocks follow it. A strategy
   * that reserved room for its metadata elsewhere in a memory with bytes (a slab takes it
   * from its parent) passes that 8-aligned address as `metaAt`; blocks may then start
   * anywhere in the region, and the strategy answers `owns` itself.
   */
  protected constructor(
    memory: Memory,
    kind: number,
    header: HeaderLayout,
    extraMetaBytes: number,
    config: number,
    attach: boolean,
    name: string,
    metaAt?: number,
  ) {
    this.memory = memory;
    this.metaBytes = alignUp(header.bytes + extraMetaBytes, SLOT_BYTES);
    this.inBand = memory.hasBytes;
    if (metaAt !== undefined) {
      if (
        !(
          this.inBand &&
          metaAt % SLOT_BYTES === 0 &&
          metaAt >= memory.start &&
          metaAt + this.metaBytes <= memory.end
        )
      ) {
        throw new ArgumentRangeError(
          `${name}: metadata cannot be placed at ${metaAt}`,
          "ERR_MEMORY",
        );
      }
      this.metaAt = metaAt;
      this.dataStart = memory.start;
      this.metaBuffer = memory.buffer;
      this.slots = memory.f64;
      this.slot0 = metaAt / SLOT_BYTES;
    } else if (this.inBand) {
      this.metaAt = headerOffset(memory.start);
      this.dataStart = this.metaAt + this.metaBytes;
      if (attach && this.dataStart > memory.end) {
        // Attaching only reads and never grows: a memory too small for the header is a bad
        // memory argument (ERR_MEMORY, as creating a heap in it would be), not bytes whose
        // magic was read and found wrong.
        throw new ArgumentRangeError(
          `${name}: memory too small to hold a heap header: region [${memory.start}, ` +
            `${memory.end}) holds no ${this.metaBytes} bytes of metadata to attach to`,
          "ERR_MEMORY",
        );
      }
      if (this.dataStart > memory.end && !memory.grow(this.dataStart)) {
        throw new ArgumentRangeError(
          `${name}: memory region [${memory.start}, ${memory.end}) is too small for its ` +
            `${this.metaBytes} bytes of metadata`,
          "ERR_MEMORY",
        );
      }
      this.metaBuffer = memory.buffer;
      this.slots = memory.f64;
      this.slot0 = this.metaAt / SLOT_BYTES;
    } else {
      this.metaAt = 0;
      // Offset 0 is the null pointer, so a region starting at 0 gives up its first 8 bytes.
      this.dataStart = Math.max(memory.start, DEFAULT_ALIGN);
      this.metaBuffer = memory.shared
        ? new SharedArrayBuffer(this.metaBytes)
        : new ArrayBuffer(this.metaBytes);
      this.slots = new Float64Array(this.metaBuffer);
      this.slot0 = 0;
    }
    this.extraMetaAt = this.metaAt + header.bytes;
    this.wordsByteOffset = this.metaAt + header.wordsAt;
    this.words = this.wordsView();
    if (attach) {
      if (!this.inBand) {
        throw new ArgumentTypeError(`${name}: an offset-only memory has no heap to attach to`);
      }
      validateHeader(this.slots, this.slot0, kind, name);
    } else {
      writeHeader(this.slots, this.slot0, kind, this.metaBytes, this.dataStart, config);
    }
    this.madeHeader = this.slots.slice(this.slot0, this.slot0 + COMMON_SLOTS);
    this.madeHeader[H_MAGIC] = MAGIC;
    this.madeHeader[H_STATE] = STATE_OK;
  }

  // ---- the strategy's part -------------------------------------------------------------

  /** @inheritDoc Allocator.alloc */
  abstract alloc(size: number, align?: number): number;
  /** @inheritDoc Allocator.dealloc */
  abstract dealloc(ptr: number, size?: number): void;
  /** @inheritDoc Allocator.usableSize */
  abstract usableSize(ptr: number): number;
  /** @inheritDoc Allocator.reset */
  abstract reset(): void;
  /**
   * Figures about the allocator now.
   *
   * @returns a fresh {@link AllocatorStats}
   */
  abstract stats(): AllocatorStats;
  /** The strategy's invariants; the common header is checked by `check()` before it. */
  protected abstract checkStrategy(): void;
  /** Re-fetches the strategy's cached views after the memory's buffer changed. */
  protected onViews(): void {}

  // ---- entering a call -------------------------------------------------------------------

  /**
   * The entry guard, the first line of every public method:
   *
   *     if (this.blocked()) return this.reenterAlloc(size, align);
   *
   * (`reenterDealloc` in `dealloc`): the slow way re-derives the views, or throws, and then
   * retries the call.
   *
   * One load of the header's magic slot: anything but the magic of a heap in order is
   * blocked: the view was detached by growth (a detached view reads `undefined`), the heap
   * is poisoned (poisoning rewrites the magic), the magic was damaged, or the handle was
   * dropped (its slots are then a dummy header of −1s).
   */
  protected blocked(): boolean {
    return this.slots[this.slot0 + MAGIC_SLOT] !== IN_ORDER;
  }

  /** `alloc` when the entry guard failed: the slow half of the guard, then `alloc` again. */
  protected reenterAlloc(size: number, align: number): number {
    this.enterSlow();
    return this.alloc(size, align);
  }

  /** `dealloc` when the entry guard failed: the slow half of the guard, then `dealloc` again. */
  protected reenterDealloc(ptr: number, size: number | undefined): void {
    this.enterSlow();
    this.dealloc(ptr, size);
  }

  /**
   * The slow half of the entry guard: re-derives the views and returns when the heap is in
   * order after all (the caller then retries); throws when it is poisoned or dropped, and
   * poisons it when its header is not the one this handle was made with.
   */
  protected enterSlow(): void {
    if (this.dropped) {
      throw new AllocatorError(
        `${this.name} was dropped; it can no longer be used`,
        "ERR_DESTROYED",
      );
    }
    this.syncViews();
    if (this.poisonedHeader()) {
      throw new HeapPoisonedError(
        `${this.name}: heap is poisoned (corruption was detected earlier); no call can succeed`,
      );
    }
    this.verifyHeader();
  }

  /**
   * Compares every common header slot with what this handle made (or attached to): a heap
   * whose magic, version, kind, state, sizes or configuration changed under the handle is
   * corrupt, whatever the new values would mean to another handle. O(1).
   */
  private verifyHeader(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const made = this.madeHeader;
    if (slots.length < slot0 + COMMON_SLOTS) this.corrupt("the header is outside the memory");
    for (let i = 0; i < COMMON_SLOTS; i++) {
      const v = slots[slot0 + i];
      if (!Object.is(v, made[i])) {
        this.corrupt(
          `header slot ${HEADER_SLOT_NAMES[i]} holds ${v}; this handle's heap has ${made[i]}`,
        );
      }
    }
  }

  /** Re-derives views after growth; called on entry when stale and after growing. */
  protected syncViews(): void {
    const memory = this.memory;
    memory.refresh();
    if (this.inBand && this.slots !== memory.f64) {
      this.metaBuffer = memory.buffer;
      this.slots = memory.f64;
    }
    if (this.words.buffer !== this.metaBuffer) this.words = this.wordsView();
    this.onViews();
  }

  /** The strategy's int32 words (see `words`) over the current `metaBuffer`. */
  private wordsView(): Int32Array {
    return new Int32Array(
      this.metaBuffer,
      this.wordsByteOffset,
      (this.metaAt + this.metaBytes - this.wordsByteOffset) >>> 2,
    );
  }

  /**
   * Re-derives this handle's views of the memory. Call it after another agent grew a shared
   * memory (a `SharedHeap` does this for you); growth done through this handle, and growth of
   * a `WebAssembly.Memory` (which detaches the old views), is noticed without it.
   */
  refreshViews(): void {
    this.syncViews();
  }

  /** The entry guard of the methods off the hot path. */
  protected enter(): void {
    if (this.blocked()) this.enterSlow();
  }

  /**
   * Reports corruption found in the allocator's own metadata: poisons the heap (every later
   * call, from every handle, throws `HeapPoisonedError`) and throws `HeapCorruptedError`.
   */
  protected corrupt(what: string): never {
    if (!this.dropped && this.slots.length > this.slot0 + H_STATE) {
      this.slots[this.slot0 + H_STATE] = STATE_POISONED;
      this.slots[this.slot0 + H_MAGIC] = POISONED_MAGIC;
    }
    throw new HeapCorruptedError(`${this.name}: heap corrupted: ${what}`);
  }

  // ---- shared members --------------------------------------------------------------------

  /** Whether the heap was found corrupt (and every call now throws `HeapPoisonedError`). */
  get poisoned(): boolean {
    if (this.dropped) return false;
    if (this.blocked()) this.syncViews();
    return this.poisonedHeader();
  }

  /** Whether the header, as the current views show it, says the heap is poisoned. */
  protected poisonedHeader(): boolean {
    const slots = this.slots;
    return (
      slots[this.slot0 + H_STATE] === STATE_POISONED ||
      slots[this.slot0 + H_MAGIC] === POISONED_MAGIC
    );
  }

  /** @inheritDoc Allocator.owns */
  owns(ptr: number): boolean {
    return isUint32(ptr) && ptr >= this.dataStart && ptr < this.memory.end;
  }

  /** @inheritDoc Allocator.allocZeroed */
  allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    const ptr = this.alloc(size, align);
    if (ptr !== 0 && this.memory.hasBytes) this.memory.u8.fill(0, ptr, ptr + size);
    return ptr;
  }

  // The generic resize: validate the old block, allocate the new one, copy, free the old.
  // Strategies override it to grow or shrink in place first.
  //
  // The pointer is validated before the size (RELIABILITY.md §2.1 P1): a freed or foreign
  // pointer throws even with a size too large for any heap, which alone would answer 0
  // ("out of memory, your block is still yours") about a block that is not the caller's.
  /** @inheritDoc Allocator.realloc */
  realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    if (ptr === 0) return this.alloc(newSize, align);
    if (!isUint32(ptr)) rejectPointer(ptr);
    const oldSize = this.usableSize(ptr); // throws for a pointer that is not a live block
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    if (newSize <= oldSize && ptr % Math.max(align, DEFAULT_ALIGN) === 0) return ptr;
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    if (this.memory.hasBytes) this.memory.u8.copyWithin(to, ptr, ptr + Math.min(oldSize, newSize));
    this.dealloc(ptr);
    return to;
  }

  /**
   * Validates `realloc`'s new size: false for a valid size too large for any heap (the
   * caller returns 0), throws for anything invalid and for 0 (see the header comment).
   */
  protected checkReallocSize(newSize: number): boolean {
    return checkReallocSize(newSize);
  }

  /** @inheritDoc Allocator.allocate */
  allocate(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, false, true);
  }

  /** @inheritDoc Allocator.allocateZeroed */
  allocateZeroed(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, true, true);
  }

  /** @inheritDoc Allocator.deallocate */
  deallocate(ptr: number, layout?: Layout): void {
    deallocateLayout(this, ptr, layout);
  }

  /** @inheritDoc Allocator.allocOrThrow */
  allocOrThrow(size: number, align: number = DEFAULT_ALIGN): number {
    return orOutOfMemory(this.alloc(size, align), `${this.name}: out of memory`, size, align);
  }

  /** @inheritDoc Allocator.check */
  check(): void {
    this.enter();
    this.verifyHeader();
    this.checkStrategy();
  }

  /**
   * Finishes this handle: every later call on it throws `ERR_DESTROYED`. An allocator carved
   * from a parent (`carve`, `childOf`) gives its region back to the parent.
   *
   * @throws {@link AllocatorError} `ERR_DESTROYED` when the handle was dropped already, or
   *   `ERR_LIVE_CHILDREN` while an allocator carved from this one is alive (nothing changes)
   */
  drop(): void {
    // Not `enter()`: a poisoned heap can still be dropped (its parent may take its block back).
    this.checkDroppable();
    this.dropped = true;
    this.slots = DROPPED;
    this.slot0 = 0;
  }

  /** The one-line summary `console.log` and `util.inspect` print (core/describe.ts). */
  [INSPECT](): string {
    return summarize(this.name, this);
  }

  /**
   * The allocator's state for a person to read, one figure a line (a `BlockAllocator` adds
   * its free runs, a chain its members).
   *
   * @returns several lines of text
   */
  dump(): string {
    return dumpState(this.name, this);
  }

  /**
   * Throws unless `drop()` may go ahead: `ERR_DESTROYED` for a handle dropped already,
   * `ERR_LIVE_CHILDREN` while a region carved from this allocator (`carve`, `childOf`) is
   * still in use: drop those children first. Changes nothing.
   */
  protected checkDroppable(): void {
    if (this.dropped) {
      throw new AllocatorError(`${this.name} was dropped already`, "ERR_DESTROYED");
    }
    const children = dependentsOf(this);
    if (children.length > 0) {
      throw new AllocatorError(
        `${this.name} cannot be dropped while ${children.length} region(s) carved from it ` +
          `are alive (${children.map((c) => c.describe()).join("; ")}): drop those first`,
        "ERR_LIVE_CHILDREN",
      );
    }
  }

  /**
   * A copy of the allocator's header and metadata bytes, to compare a heap before and after
   * a call (a rejected call leaves them unchanged).
   *
   * @returns a new `Uint8Array`
   */
  metadataBytes(): Uint8Array {
    this.enter();
    return new Uint8Array(this.metaBuffer, this.metaAt, this.metaBytes).slice();
  }
}
