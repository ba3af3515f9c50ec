/**
 * `RawBlock`: the one block behind a growable vector (Rust's `RawVec`): where it is, how
 * many elements it has room for, and how it grows, shrinks and is freed, over any allocator.
 *
 * Growth asks the allocator's `realloc` first, with the block's size as the fourth argument
 * (BlockAllocator keeps no sizes and needs it; the others ignore it), so it happens in place
 * where the strategy can: a bump's newest block, a TLSF block followed by a free one, a
 * block allocator's blocks followed by a free run. When `realloc` answers 0 (out of memory,
 * or a strategy that does not move blocks), a new block is allocated, the bytes copied and
 * the old block freed. When that fails too the block is unchanged and `grow` answers false:
 * the caller reports out of memory and is exactly as before. Errors the allocator throws
 * (a stack's block that is not on top cannot grow: ERR_NOT_TOP) are thrown before anything
 * changed and go through.
 *
 * Capacity doubles (at least 4 elements), so n pushes cost O(n) copying in all; when the
 * doubled size cannot be had, the exact size asked for is tried before answering false.
 * Sizes are the bytes asked for (`capacity × element size`), and `dealloc` is told them.
 */

// The declarations name Symbol.dispose: this makes a consumer's TypeScript load its types
// (TypeScript 5.2+) whatever `lib` the consumer's tsconfig lists.
/// <reference lib="esnext.disposable" preserve="true" />

import type { Allocator } from "../core/allocator.js";
import { DoubleFreeError, StaleViewError } from "../core/errors.js";
import { checkSize32, MAX_ALLOC_SIZE } from "../core/validate.js";

/**
 * The key `using` calls on leaving a block: `Symbol.dispose` where the engine has it (Node 20
 * and later, recent browsers), else the symbol Node 20 registers for it,
 * `Symbol.for("nodejs.dispose")`, so that a later polyfill using that key finds the method.
 */
export const DISPOSE: typeof Symbol.dispose =
  typeof Symbol.dispose === "symbol"
    ? Symbol.dispose
    : (Symbol.for("nodejs.dispose") as typeof Symbol.dispose);

/** The smallest capacity a growing vector takes. */
const MIN_CAPACITY = 4;

export class RawBlock {
  /** The block, 0 while there is none (capacity 0) and after `free`. */
  ptr = 0;
  /** Elements the block has room for. */
  capacity = 0;
  freed = false;

  constructor(
    readonly allocator: Allocator,
    /** Bytes per element (≥ 1). */
    readonly elemSize: number,
    /** Alignment of the block. */
    readonly align: number,
    /** The vector's name in messages. */
    readonly what: string,
  ) {}

  /** Throws ERR_FREED when the vector was freed. */
  live(): void {
    if (this.freed) throw freedError(this.what);
  }

  /**
   * Room for at least `minCapacity` elements: doubling the capacity (`exact`: exactly
   * `minCapacity`). False, nothing changed, when the allocator has no memory for it.
   */
  grow(minCapacity: number, exact = false): boolean {
    if (minCapacity <= this.capacity) return true;
    let cap = minCapacity;
    if (!exact) cap = Math.max(cap, this.capacity * 2, MIN_CAPACITY);
    if (cap * this.elemSize > MAX_ALLOC_SIZE) {
      if (minCapacity * this.elemSize > MAX_ALLOC_SIZE) return false;
      cap = Math.floor(MAX_ALLOC_SIZE / this.elemSize);
    }
    // Near the end of the memory (or a pool's block size) the doubled size may not fit where
    // the exact one does.
    return this.resize(cap) || (cap > minCapacity && this.resize(minCapacity));
  }

  /** Gives back room above `capacity` elements (0 frees the block). Never fails. */
  shrink(capacity: number): void {
    if (capacity >= this.capacity) return;
    if (capacity === 0) {
      this.release();
      return;
    }
    // A strategy that cannot shrink (answers 0) keeps the bigger block, which is still valid.
    this.resize(capacity);
  }

  /** Frees the block (the vector stays usable, empty). */
  release(): void {
    if (this.ptr !== 0) this.allocator.dealloc(this.ptr, this.capacity * this.elemSize);
    this.ptr = 0;
    this.capacity = 0;
  }

  /** Frees the block; the vector is finished. A second call is a double free. */
  free(): void {
    if (this.freed) throw new DoubleFreeError(`${this.what} was freed already`);
    this.release();
    this.freed = true;
  }

  private resize(cap: number): boolean {
    const a = this.allocator;
    const bytes = cap * this.elemSize;
    const old = this.ptr;
    if (old === 0) {
      const p = a.alloc(bytes, this.align);
      if (p === 0) return false;
      this.ptr = p;
      this.capacity = cap;
      return true;
    }
    const oldBytes = this.capacity * this.elemSize;
    let p = a.realloc(old, bytes, this.align, oldBytes);
    if (p === 0) {
      p = a.alloc(bytes, this.align);
      if (p === 0) return false;
      const m = a.memory;
      m.refresh();
      m.u8.copyWithin(p, old, old + Math.min(oldBytes, bytes));
      a.dealloc(old, oldBytes);
    }
    this.ptr = p;
    this.capacity = cap;
    return true;
  }
}

/**
 * What `Vec` and `StructVec` share: the block, the length, and the calls that only move
 * them (capacity, length, freeing). Element access is the subclasses'.
 */
export abstract class VecBase {
  /** @internal */
  protected readonly raw: RawBlock;
  protected len = 0;

  protected constructor(raw: RawBlock) {
    this.raw = raw;
  }

  /** The allocator holding the block. */
  get allocator(): Allocator {
    return this.raw.allocator;
  }

  /** Elements in the vector. */
  get length(): number {
    return this.len;
  }

  /** Elements the block has room for without growing. */
  get capacity(): number {
    return this.raw.capacity;
  }

  /** The block's address (0 while the capacity is 0): pass it, with `length`, to wasm code. */
  get ptr(): number {
    this.raw.live();
    return this.raw.ptr;
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.raw.freed;
  }

  /** Room for at least `additional` more elements; false, nothing changed, when out of memory. */
  reserve(additional: number): boolean {
    this.raw.live();
    checkSize32(additional, "additional");
    const want = this.len + additional;
    if (want * this.raw.elemSize > MAX_ALLOC_SIZE) return false;
    return this.raw.grow(want);
  }

  /** Gives back the room above `length` (all of the block when empty). */
  shrinkToFit(): void {
    this.raw.live();
    this.raw.shrink(this.len);
  }

  /** Keeps the first `length` elements (no-op when already shorter); capacity unchanged. */
  truncate(length: number): void {
    this.raw.live();
    checkSize32(length, "length");
    if (length < this.len) this.len = length;
  }

  /** Removes every element; capacity unchanged. */
  clear(): void {
    this.raw.live();
    this.len = 0;
  }

  /** Gives the block back; the vector can no longer be used (a second call: DoubleFreeError). */
  free(): void {
    this.raw.free();
    this.len = 0;
  }

  /** `using v = …` frees the vector at the end of the scope (nothing if freed already). */
  [DISPOSE](): void {
    if (!this.raw.freed) this.free();
  }
}

/** The error for anything done with a vector, box or slice after `free()`. */
export function freedError(what: string): StaleViewError {
  return new StaleViewError(`${what} was freed; it can no longer be used`, "ERR_FREED");
}
