/**
 * `HeapArray`: a typed array living in a heap block, whose view is re-made when growth
 * replaced the heap's memory; and the typed-array types a heap can lay out.
 */

import { ArgumentTypeError } from "../core/errors.js";
import { type TypedArray, type TypedArrayConstructor, viewAt } from "../memory/views.js";
import type { Heap } from "./heap.js";

export type { TypedArray, TypedArrayConstructor } from "../memory/views.js";

/**
 * A typed array living in a heap block. `view` is always valid: it is re-made when the heap's
 * memory was replaced by growth. Keep the `HeapArray`, not the view.
 */
export class HeapArray<T extends TypedArray> {
  private cached: T | null = null;

  /**
   * Use `heap.allocArray` or `heap.arrayAt`.
   *
   * @param heap - the heap the block is in
   * @param ctor - the element type
   * @param ptr - the block's address
   * @param length - elements
   */
  constructor(
    /** The heap the block is in. */
    readonly heap: Heap,
    /** The element type. */
    readonly ctor: TypedArrayConstructor<T>,
    /** The block's address: pass it to wasm code. */
    readonly ptr: number,
    /** Elements. */
    readonly length: number,
  ) {}

  /** The typed array over the block, valid now. */
  get view(): T {
    this.cached = viewAt(this.heap.memory, this.ctor, this.ptr, this.length, this.cached);
    return this.cached;
  }

  /** Frees the block; the HeapArray must not be used afterwards. */
  free(): void {
    this.heap.free(this.ptr);
  }
}

/** Throws unless `ctor` is a typed-array constructor. */
export function checkArrayCtor(ctor: unknown): void {
  const c = ctor as { BYTES_PER_ELEMENT?: unknown } | null;
  if (typeof ctor !== "function" || c === null || typeof c.BYTES_PER_ELEMENT !== "number") {
    throw new ArgumentTypeError("expected a typed-array constructor such as Float64Array");
  }
}
