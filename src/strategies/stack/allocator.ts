/**
 * StackAllocator: blocks come and go in LIFO order. Allocation moves the top up; `pop` (or
 * `dealloc` of the newest block) moves it back down to the end of the block below, and
 * `rollback(mark)` or `reset` free many blocks at once.
 *
 * Choose it for memory whose lifetimes nest: function call frames, expression evaluation,
 * recursive descent, scratch buffers inside a scope. It is nearly as fast as a bump and,
 * unlike a bump, gives every freed block back (as long as frees come newest first).
 * From the seeds: Vais Stack (`new`, `alloc`, `pop`, `reset`, `remaining`, `drop`, an 8-byte
 * header per allocation). The seed's `pop` restored a single saved `prev_offset`, so a second
 * `pop` left the top where it was; here every block's header links to the block below, so
 * each `pop` restores the previous top exactly.
 *
 * ## Memory picture (layout.ts has the slots and the block header)
 *
 *     | header | hdr | block a | pad | hdr | block b | hdr | block c |      free ...      | END
 *              ^ dataStart                             ^ LAST      ^ TOP
 *
 * ## Cost
 * | operation            | best | worst | notes                                                 |
 * | -------------------- | ---- | ----- | ----------------------------------------------------- |
 * | alloc                | O(1) | O(1)  | + memory growth, amortised O(1) (geometric)            |
 * | pop / dealloc(top)   | O(1) | O(1)  |                                                       |
 * | dealloc(other)       | O(1) | O(k)  | an error; walks the k blocks above ptr to tell          |
 * |                      |      |       | ERR_NOT_TOP (a live block) from ERR_INVALID_POINTER    |
 * | realloc              | O(1) | O(n)  | top block in place; copies n bytes only to re-align it  |
 * | usableSize           | O(1) | O(k)  | O(1) for the top block, else walks the k blocks above  |
 * | rollback             | O(k) | O(k)  | k = blocks freed (validated before anything changes)   |
 * | reset                | O(1) | O(1)  |                                                       |
 * | allocZeroed          | O(1) | O(n)  | no fill at all for bytes never handed out              |
 *
 * Fragmentation: none beyond headers and alignment padding, as long as frees are LIFO (any
 * other order is refused). A block below the top that is shrunk by `realloc` leaves a gap
 * that comes back when the block is popped.
 *
 * Per-block overhead: the 8-byte header plus alignment padding before it: 0 … 7 bytes at the
 * default alignment (the previous block's size rounded up to 8), up to align − 1 for larger
 * alignments. `stats().overhead` counts both (and the 120-byte allocator header).
 *
 * ## Invariants (`check()`, check.ts)
 * TOP and END inside the region; the chain of blocks from LAST down holds exactly LIVE
 * blocks whose sizes sum to INUSE, each ending at or below the header of the one above.
 *
 * ## Rules where the contract leaves a choice
 * - `dealloc(ptr)` frees only the top block. A live block below it → `InvalidPointerError`
 *   `ERR_NOT_TOP`; anything that is not a live block start (out of range, interior,
 *   misaligned, popped already, freed by reset or rollback) → `InvalidPointerError`
 *   `ERR_INVALID_POINTER`. A double free is therefore an `InvalidPointerError`, never a
 *   `DoubleFreeError` (a popped block's pointer is at or above TOP, like a never-used one),
 *   unless the pointer was reused by a later block, which cannot be told apart.
 * - `dealloc(ptr, size)`: `size` must equal the block's size (`LayoutMismatchError`).
 * - `pop()` returns the popped block's pointer; on an empty stack it does nothing and
 *   returns 0 (the seed's `pop` does nothing on an empty stack too).
 * - `realloc` of the top block grows or shrinks it in place (moving it up only when a
 *   stricter alignment is asked for); of a block below the top, it shrinks in place when it
 *   can, and otherwise throws `ERR_NOT_TOP` before changing anything: a move would leave the
 *   old block live, since only the top can be freed.
 * - `rollback(mark)` with a mark above TOP (its blocks were popped) or not at a block
 *   boundary throws `InvalidPointerError` `ERR_STALE_POINTER` and changes nothing. A mark
 *   is an offset, so one whose offset is a block boundary again (the stack was popped below
 *   it and rebuilt to end exactly there) is accepted; the rollback then frees only blocks
 *   above it, all of which were allocated after the mark was taken.
 * - No offset-only memories: the headers need bytes.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import {
  ArgumentTypeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../core/errors.js";
import { H_CONFIG, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import {
  checkAlign,
  checkDeallocSize,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { FixedMemory, ownedMemory } from "../../memory/memory.js";
import { checkStack } from "./check.js";
import * as layout from "./layout.js";
import { headerWord } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { BLOCK_ALIGN, BLOCK_HEADER_BYTES, HDR_PREV, HDR_SIZE, STACK_HEADER } = layout;

const { TOP, END, HIGH_WATER, LAST, LIVE, INUSE, PEAK } = STACK_HEADER.slot;

export interface StackOptions extends AllocatorOptions {
  /** Grow the memory when the stack is full (default: whenever the memory can grow). */
  grow?: boolean;
}

/**
 * Blocks that come and go in LIFO order: allocation moves the top up; `pop` (or `dealloc`
 * of the newest block) moves it back to the end of the block below; `rollback(mark)` and
 * `reset` free many blocks at once. Nearly as fast as a bump, and it gives every block back
 * as long as frees come newest first (freeing another block throws `ERR_NOT_TOP`). Use it
 * for lifetimes that nest: call frames, expression evaluation, scratch memory in a scope.
 *
 * @example
 * ```ts
 * import { StackAllocator } from "memkit";
 *
 * const stack = new StackAllocator(2048);
 * const a = stack.alloc(8);
 * stack.alloc(4);
 * stack.pop(); // frees the newest block
 * stack.dealloc(a); // a is the top now
 * console.log(stack.stats().liveBlocks); // 0
 * ```
 */
export class StackAllocator extends BaseAllocator {
  readonly name = "StackAllocator";
  private readonly growable: boolean;
  /** The memory's u32 view (block headers), refreshed with the other views. */
  private u32: Uint32Array;

  /** Bytes of metadata a StackAllocator places at the start of its region. */
  static readonly metadataSize: number = STACK_HEADER.bytes;
  /** Bytes of header below every block (plus alignment padding before it). */
  static readonly blockHeaderSize: number = BLOCK_HEADER_BYTES;

  /**
   * `new StackAllocator(capacity)` owns a fresh, zeroed buffer with `capacity` usable bytes
   * (block headers come out of them, as in the seeds); `new StackAllocator(memory)` manages
   * a fixed, growable, shared or wasm `Memory` (not an offset-only one).
   *
   * @param memoryOrCapacity - usable bytes of a new buffer, or the memory to manage
   * @param options - `attach` to a stack already in the memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: StackOptions = {}) {
    const memory =
      typeof memoryOrCapacity === "number"
        ? ownedMemory(memoryOrCapacity, StackAllocator.metadataSize)
        : memoryOrCapacity;
    if (!memory.hasBytes) {
      throw new ArgumentTypeError(
        "StackAllocator keeps an 8-byte header below every block, so it needs a memory with " +
          "bytes; an offset-only memory has none",
        "ERR_UNSUPPORTED",
      );
    }
    const attach = options.attach === true;
    super(
      memory,
      StrategyKind.stack,
      STACK_HEADER,
      0,
      BLOCK_HEADER_BYTES,
      attach,
      "StackAllocator",
    );
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    this.u32 = memory.u32;
    const slots = this.slots;
    const slot0 = this.slot0;
    if (attach) {
      if (slots[slot0 + H_CONFIG] !== BLOCK_HEADER_BYTES) {
        throw new HeapIncompatibleError(
          `StackAllocator: the heap's block header size is ${slots[slot0 + H_CONFIG]}, not ${BLOCK_HEADER_BYTES}`,
          "ERR_HEAP_CONFIG",
        );
      }
      return;
    }
    slots[slot0 + TOP] = this.dataStart;
    slots[slot0 + END] = memory.end;
    slots[slot0 + HIGH_WATER] = this.dataStart;
    slots[slot0 + LAST] = 0;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + INUSE] = 0;
    slots[slot0 + PEAK] = 0;
  }

  /**
   * The seeds' `from_buffer`: a stack over `[byteOffset, byteOffset + byteLength)` of a
   * caller's buffer. Non-owning, and the bytes are not assumed to be zero.
   */
  static fromBuffer(
    buffer: ArrayBufferLike,
    byteOffset = 0,
    byteLength?: number,
    options: StackOptions = {},
  ): StackAllocator {
    return new StackAllocator(new FixedMemory(buffer, byteOffset, byteLength, false), options);
  }

  /** Attaches a second handle to a stack heap already in `memory` (validated read-only). */
  static attach(memory: Memory): StackAllocator {
    return new StackAllocator(memory, { attach: true });
  }

  protected override onViews(): void {
    this.u32 = this.memory.u32;
  }

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    const slots = this.slots;
    const slot0 = this.slot0;
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== DEFAULT_ALIGN) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align < BLOCK_ALIGN) align = BLOCK_ALIGN;
    }
    const ptr = alignUp(slots[slot0 + TOP] + BLOCK_HEADER_BYTES, align);
    const end = ptr + size;
    // An empty block still starts below END, so it is owned and its pointer is < 2^32.
    const need = size === 0 ? ptr + 1 : end;
    if (need > slots[slot0 + END] && !this.growTo(need)) return 0;
    const g = this.slots; // growth may have replaced the views
    const u = this.u32;
    const w = headerWord(ptr);
    u[w + HDR_PREV] = g[slot0 + LAST];
    u[w + HDR_SIZE] = size;
    g[slot0 + TOP] = end;
    g[slot0 + LAST] = ptr;
    g[slot0 + LIVE]++;
    g[slot0 + INUSE] += size;
    return ptr;
  }

  /** @inheritDoc Allocator.allocZeroed */
  override allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const zeroFrom = Math.max(slots[slot0 + HIGH_WATER], slots[slot0 + TOP]);
    const ptr = this.alloc(size, align);
    if (ptr === 0) return 0;
    const u8 = this.memory.u8;
    if (ptr < zeroFrom) u8.fill(0, ptr, Math.min(ptr + size, zeroFrom));
    // Bytes at or above zeroFrom are zero already when the memory started zeroed.
    if (!this.memory.freshZero && ptr + size > zeroFrom) {
      u8.fill(0, Math.max(ptr, zeroFrom), ptr + size);
    }
    return ptr;
  }

  /**
   * Frees the top block. Any other pointer throws `InvalidPointerError`: `ERR_NOT_TOP` for a
   * live block below the top, `ERR_INVALID_POINTER` for anything else (see the header).
   */
  dealloc(ptr: number, size?: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    if (ptr !== slots[slot0 + LAST]) this.rejectNotTop(ptr);
    if (size !== undefined) this.checkSize(ptr, size);
    this.popTop(ptr);
  }

  /**
   * The seeds' `pop`: frees the newest block and returns its pointer; on an empty stack it
   * does nothing and returns 0.
   */
  pop(): number {
    this.enter();
    const ptr = this.slots[this.slot0 + LAST];
    if (ptr !== 0) this.popTop(ptr);
    return ptr;
  }

  /**
   * The top block grows or shrinks in place (it moves up, within the top of the stack, only
   * to meet a stricter alignment). A block below the top shrinks in place when it can; any
   * other resize of it throws `InvalidPointerError` `ERR_NOT_TOP` and changes nothing.
   */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const slots = this.slots;
    const slot0 = this.slot0;
    const isTop = ptr === slots[slot0 + LAST];
    if (!isTop) this.checkLiveBlock(ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    if (align < BLOCK_ALIGN) align = BLOCK_ALIGN;
    const w = headerWord(ptr);
    const oldSize = this.u32[w + HDR_SIZE];
    const aligned = ptr % align === 0;
    if (!isTop) {
      if (!(aligned && newSize <= oldSize)) {
        throw new InvalidPointerError(
          `realloc(${ptr}, ${newSize}): only the top block (${slots[slot0 + LAST]}) can grow or move; ` +
            "a block below it can only shrink in place, since a moved block could not be freed",
          "ERR_NOT_TOP",
        );
      }
      this.foldPeak();
      this.u32[w + HDR_SIZE] = newSize;
      slots[slot0 + INUSE] -= oldSize - newSize;
      return ptr;
    }
    if (aligned) {
      const end = ptr + newSize;
      if (end > slots[slot0 + END] && !this.growTo(end)) return 0;
      this.foldHighWater();
      this.u32[w + HDR_SIZE] = newSize;
      this.slots[slot0 + TOP] = end;
      this.slots[slot0 + INUSE] += newSize - oldSize;
      return ptr;
    }
    // The top block needs a stricter alignment: place it afresh on the block below it.
    const prev = this.u32[w + HDR_PREV];
    const to = alignUp(this.endOfBlockBelow(ptr, prev) + BLOCK_HEADER_BYTES, align);
    const end = to + newSize;
    if (end > slots[slot0 + END] && !this.growTo(end)) return 0;
    this.foldHighWater();
    // Copy first: the new header may land on the old block's bytes (copyWithin is a memmove).
    this.memory.u8.copyWithin(to, ptr, ptr + Math.min(oldSize, newSize));
    const u = this.u32;
    const t = headerWord(to);
    u[t + HDR_PREV] = prev;
    u[t + HDR_SIZE] = newSize;
    const g = this.slots;
    g[slot0 + TOP] = end;
    g[slot0 + LAST] = to;
    g[slot0 + INUSE] += newSize - oldSize;
    return to;
  }

  /** The size of a live block: O(1) for the top block, else a walk down to it. */
  usableSize(ptr: number): number {
    this.enter();
    if (ptr === 0 || ptr !== this.slots[this.slot0 + LAST]) this.checkLiveBlock(ptr);
    return this.u32[headerWord(ptr) + HDR_SIZE];
  }

  /** Frees every block; every earlier pointer and mark becomes invalid. */
  reset(): void {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    this.foldHighWater();
    slots[slot0 + TOP] = this.dataStart;
    slots[slot0 + LAST] = 0;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + INUSE] = 0;
    slots[slot0 + PEAK] = 0;
  }

  /** A mark to roll back to: the current top of the stack (a byte offset). */
  mark(): number {
    this.enter();
    return this.slots[this.slot0 + TOP];
  }

  /** @deprecated Use `mark()` (the name BumpAllocator uses too); kept for one release. */
  marker(): number {
    return this.mark();
  }

  /**
   * Frees every block allocated after `mark` was taken. A mark above the top (its blocks
   * were popped) or not at a block boundary throws `InvalidPointerError`
   * `ERR_STALE_POINTER`; the whole walk is validated before anything changes.
   */
  rollback(mark: number): void {
    this.enter();
    if (!isUint32(mark)) rejectPointer(mark);
    const slots = this.slots;
    const slot0 = this.slot0;
    const top = slots[slot0 + TOP];
    const live = slots[slot0 + LIVE];
    if (!(mark >= this.dataStart && mark <= top)) {
      throw this.staleMark(mark, `outside the stack's range [${this.dataStart}, ${top}]`);
    }
    const u = this.u32;
    let cur = slots[slot0 + LAST];
    let freed = 0;
    let bytes = 0;
    while (cur !== 0 && cur - BLOCK_HEADER_BYTES >= mark) {
      const w = headerWord(cur);
      const prev = u[w + HDR_PREV];
      bytes += u[w + HDR_SIZE];
      if (++freed > live || !(prev < cur)) {
        this.corrupt(`block chain below ${cur} does not descend (PREV ${prev}, LIVE ${live})`);
      }
      cur = prev;
    }
    const boundary = cur === 0 ? this.dataStart : cur + u[headerWord(cur) + HDR_SIZE];
    if (boundary !== mark) {
      throw this.staleMark(mark, "not at a block boundary (popped below and rebuilt?)");
    }
    this.foldHighWater();
    slots[slot0 + TOP] = mark;
    slots[slot0 + LAST] = cur;
    slots[slot0 + LIVE] = live - freed;
    slots[slot0 + INUSE] -= bytes;
  }

  /** Bytes between the top and the end (up to the memory's maximum for a growing stack). */
  remaining(): number {
    this.enter();
    const end = this.growable ? this.memory.maxEnd : this.slots[this.slot0 + END];
    return end - this.slots[this.slot0 + TOP];
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const top = slots[slot0 + TOP];
    const end = slots[slot0 + END];
    const inUse = slots[slot0 + INUSE];
    const free = end - top;
    const capacity = this.memory.end - this.memory.start;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: Math.max(0, end - alignUp(top + BLOCK_HEADER_BYTES, BLOCK_ALIGN)),
    };
  }

  protected checkStrategy(): void {
    checkStack(
      {
        slots: this.slots,
        slot0: this.slot0,
        u32: this.u32,
        dataStart: this.dataStart,
        memoryEnd: this.memory.end,
      },
      (what) => this.corrupt(what),
    );
  }

  // ---- helpers -------------------------------------------------------------------------

  /**
   * Pops the top block `ptr` (= LAST, non-zero). Its header is checked first (O(1)): a
   * header overwritten by the block below overflowing poisons the heap instead of moving
   * TOP to a wrong place.
   */
  private popTop(ptr: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const w = headerWord(ptr);
    const prev = this.u32[w + HDR_PREV];
    const size = this.u32[w + HDR_SIZE];
    if (ptr + size !== slots[slot0 + TOP]) {
      this.corrupt(`the top block ${ptr} has size ${size} but TOP is ${slots[slot0 + TOP]}`);
    }
    const newTop = this.endOfBlockBelow(ptr, prev);
    this.foldHighWater();
    slots[slot0 + TOP] = newTop;
    slots[slot0 + LAST] = prev;
    slots[slot0 + LIVE]--;
    slots[slot0 + INUSE] -= size;
  }

  /**
   * Where the block below `ptr` ends (its PREV is `prev`): the top after popping `ptr`.
   * dataStart when `prev` is 0. Poisons the heap when `prev` cannot be a block below `ptr`.
   */
  private endOfBlockBelow(ptr: number, prev: number): number {
    if (prev === 0) return this.dataStart;
    const ceiling = ptr - BLOCK_HEADER_BYTES;
    if (
      !(prev % BLOCK_ALIGN === 0 && prev >= this.dataStart + BLOCK_HEADER_BYTES && prev <= ceiling)
    ) {
      this.corrupt(`block ${ptr}'s header links to ${prev}, which cannot be a block below it`);
    }
    const end = prev + this.u32[headerWord(prev) + HDR_SIZE];
    if (end > ceiling) {
      this.corrupt(`block ${prev} ends at ${end}, past the header at ${ceiling} of block ${ptr}`);
    }
    return end;
  }

  /** Folds the high-water marks in before TOP or INUSE go down. */
  private foldHighWater(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    if (slots[slot0 + TOP] > slots[slot0 + HIGH_WATER])
      slots[slot0 + HIGH_WATER] = slots[slot0 + TOP];
    this.foldPeak();
  }

  private foldPeak(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    if (slots[slot0 + INUSE] > slots[slot0 + PEAK]) slots[slot0 + PEAK] = slots[slot0 + INUSE];
  }

  /**
   * Throws unless `ptr` is a live block: the top, or one found walking down from it. Reads
   * only; the walk stops at the first block at or below `ptr`.
   */
  private checkLiveBlock(ptr: number): void {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const slots = this.slots;
    const slot0 = this.slot0;
    const last = slots[slot0 + LAST];
    if (ptr === last && ptr !== 0) return;
    const top = slots[slot0 + TOP];
    const lowest = this.dataStart + BLOCK_HEADER_BYTES;
    if (ptr < lowest || ptr >= top) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not in this StackAllocator's live range [${lowest}, ${top})` +
          " (popped already, freed by reset or rollback, or never handed out)",
      );
    }
    if (ptr % BLOCK_ALIGN !== 0) {
      throw new InvalidPointerError(`invalid pointer ${ptr}: every block starts 8-aligned`);
    }
    const u = this.u32;
    const live = slots[slot0 + LIVE];
    let cur = last;
    let steps = 0;
    while (cur > ptr) {
      const prev = u[headerWord(cur) + HDR_PREV];
      if (++steps > live || !(prev < cur)) {
        this.corrupt(`block chain below ${cur} does not descend (PREV ${prev}, LIVE ${live})`);
      }
      cur = prev;
    }
    if (cur !== ptr) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not the start of a live block (an interior pointer, or a block` +
          " popped already)",
      );
    }
  }

  /** `dealloc` of something other than the top: always throws, with the right code. */
  private rejectNotTop(ptr: number): never {
    this.checkLiveBlock(ptr);
    throw new InvalidPointerError(
      `dealloc(${ptr}): not the top block (${this.slots[this.slot0 + LAST]}); a stack frees only its ` +
        "newest block (pop it first, or use rollback/reset)",
      "ERR_NOT_TOP",
    );
  }

  /** `dealloc(ptr, size)` of the top block: `size` must be the block's size. */
  private checkSize(ptr: number, size: number): void {
    checkDeallocSize(size);
    const actual = this.u32[headerWord(ptr) + HDR_SIZE];
    if (size !== actual) {
      throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block's size is ${actual}`);
    }
  }

  private staleMark(mark: number, why: string): InvalidPointerError {
    return new InvalidPointerError(
      `${mark} is not a live mark of this StackAllocator: ${why}`,
      "ERR_STALE_POINTER",
    );
  }

  /** Grows a growable memory so END ≥ `end`. False (nothing changed) when it cannot. */
  private growTo(end: number): boolean {
    if (!this.growable || !this.memory.grow(end)) return false;
    this.syncViews();
    this.slots[this.slot0 + END] = this.memory.end;
    return true;
  }
}
