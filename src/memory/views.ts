/**
 * Typed arrays over a `Memory` that stay right when it grows.
 *
 * Growth changes views in three ways (memory.ts has the table): a `WebAssembly.Memory`
 * detaches every view of its old buffer (length 0: reads give `undefined`, writes are
 * dropped), a shared memory keeps its old fixed-length views valid for the bytes they
 * covered and makes new ones for the rest, and a resizable `ArrayBuffer` keeps them all. One
 * test covers every case: a view is current when it is over the memory's buffer now and
 * still has the length it was made with (a detached view reads length 0).
 *
 * - `viewAt` gives a block's typed array, reusing the one it gave before while it is
 *   current (`HeapArray`, the typed layer's vectors and slices).
 * - `MemoryViews` holds one fixed-length view per element type over a whole memory, for
 *   code that reads fields at computed addresses (struct accessors). Its users check the
 *   index against the view's length, which the engine's bounds check does anyway, and call
 *   `sync()` only when it fails: after growth, or when a wasm module or another agent grew
 *   the memory behind the allocator's back.
 */

import type { Memory } from "../core/memory.js";

/** A typed-array constructor memkit can lay out in a memory. */
export type TypedArrayConstructor<T extends TypedArray> = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  /** Bytes per element: 1, 2, 4 or 8. */
  readonly BYTES_PER_ELEMENT: number;
};
/** Any of JavaScript's typed arrays (the 64-bit ones hold bigints). */
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
 * The typed array of `length` elements at byte `ptr` of `memory`: `cached` when it is still
 * current (same buffer, same place, not detached), else a new one over the buffer now.
 */
export function viewAt<T extends TypedArray>(
  memory: Memory,
  ctor: TypedArrayConstructor<T>,
  ptr: number,
  length: number,
  cached: T | null,
): T {
  if (
    cached !== null &&
    cached.length === length &&
    cached.byteOffset === ptr &&
    cached.buffer === memory.buffer
  ) {
    return cached;
  }
  memory.refresh();
  return new ctor(memory.buffer, ptr, length);
}

/** One fixed-length view per element type over the whole of a memory's buffer. */
export class MemoryViews {
  i8: Int8Array = new Int8Array(0);
  u8: Uint8Array = new Uint8Array(0);
  i16: Int16Array = new Int16Array(0);
  u16: Uint16Array = new Uint16Array(0);
  i32: Int32Array = new Int32Array(0);
  u32: Uint32Array = new Uint32Array(0);
  f32: Float32Array = new Float32Array(0);
  f64: Float64Array = new Float64Array(0);
  i64: BigInt64Array = new BigInt64Array(0);
  u64: BigUint64Array = new BigUint64Array(0);
  private buffer: ArrayBufferLike | null = null;
  private byteLength = -1;

  constructor(readonly memory: Memory) {
    this.sync();
  }

  /** Re-derives the views when the memory's buffer was replaced or grew. */
  sync(): void {
    const m = this.memory;
    m.refresh();
    const b = m.buffer;
    const n = b.byteLength;
    if (b === this.buffer && n === this.byteLength) return;
    this.buffer = b;
    this.byteLength = n;
    this.i8 = new Int8Array(b, 0, n);
    this.u8 = new Uint8Array(b, 0, n);
    this.i16 = new Int16Array(b, 0, n >>> 1);
    this.u16 = new Uint16Array(b, 0, n >>> 1);
    this.i32 = new Int32Array(b, 0, n >>> 2);
    this.u32 = new Uint32Array(b, 0, n >>> 2);
    this.f32 = new Float32Array(b, 0, n >>> 2);
    this.f64 = new Float64Array(b, 0, Math.floor(n / 8));
    this.i64 = new BigInt64Array(b, 0, Math.floor(n / 8));
    this.u64 = new BigUint64Array(b, 0, Math.floor(n / 8));
  }
}

const cache = new WeakMap<Memory, MemoryViews>();

/** The `MemoryViews` of `memory`, made once and shared by everything reading it. */
export function viewsOf(memory: Memory): MemoryViews {
  let v = cache.get(memory);
  if (v === undefined) {
    v = new MemoryViews(memory);
    cache.set(memory, v);
  }
  return v;
}
