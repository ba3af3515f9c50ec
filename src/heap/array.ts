/**
 * `HeapArray`: a typed array living in a heap block, whose view is re-made when growth
 * replaced the heap's memory; and the typed-array types a heap can lay out.
 */

import { ArgumentTypeError } from "../core/errors.js";
import type { Heap } from "./heap.js";

/** A typed-array constructor memkit can lay out in a heap. */
export type TypedArrayConstructor<T extends TypedArray> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A typed array living in a heap block. `view` is always valid: it is re-made when the heap's
 * memory was replaced by growth. Keep the `HeapArray`, not the view.
 */
export class HeapArray<T extends TypedArray> {
  private cached: T;
  private generation: number;

  constructor(
    readonly heap: Heap,
    readonly ctor: TypedArrayConstructor<T>,
    readonly ptr: number,
    readonly length: number,
  ) {
    this.generation = heap.memory.generation;
    this.cached = new ctor(heap.memory.buffer, ptr, length);
  }

  /** The typed array over the block, valid now. */
  get view(): T {
    const m = this.heap.memory;
    if (this.cached.length !== this.length || this.generation !== m.generation) {
      m.refresh();
      this.cached = new this.ctor(m.buffer, this.ptr, this.length);
      this.generation = m.generation;
    }
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
