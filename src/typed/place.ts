/**
 * Placing values in an allocator: copies of typed arrays (bumpalo's `alloc_slice_copy`),
 * UTF-8 strings (`alloc_str`, and C strings for wasm code), and static-alloc's `leak`, which
 * copies a value in and hands back its living view, never to be freed.
 *
 *     const s = allocSliceCopy(new Float64Array([1, 2, 3]), bump); // Slice<Float64Array>
 *     s.view[0];                                  // 1: a typed array over the copy, valid now
 *     const hello = allocStr("héllo", bump);      // the UTF-8 bytes (no 0 byte); hello.text()
 *     const p = writeString("héllo");             // C string (0-terminated) for wasm: a pointer
 *     readString(p);                              // "héllo"
 *     const v = leak(Particle, { x: 1 }, arena);  // an accessor of the struct in the arena
 *
 * Out of memory answers null (0 for `writeString`); arguments are checked before anything is
 * allocated. A slice's `view` is made again whenever the memory's buffer changed, as a
 * vector's is; after `free()` it throws `StaleViewError` ERR_FREED.
 */

import type { Allocator } from "../core/allocator.js";
import { INSPECT } from "../core/describe.js";
import { ArgumentTypeError, DoubleFreeError } from "../core/errors.js";
import { DEFAULT_ALIGN } from "../core/validate.js";
import {
  decodeUtf8,
  encodeUtf8,
  readString as readStringIn,
  writeString as writeStringIn,
} from "../memory/strings.js";
import { type TypedArray, type TypedArrayConstructor, viewAt, viewsOf } from "../memory/views.js";
import { allocatorOr } from "./global.js";
import { DISPOSE, freedError } from "./raw.js";
import { checkInit, makeRef, type StructRef, writeInit } from "./ref.js";
import { describe, kindOfCtor } from "./scalars.js";
import { type Fields, type StructInit, StructType } from "./struct.js";

/** A fixed-length typed array in a block of an allocator (what `allocSliceCopy` makes). */
export class Slice<A extends TypedArray> {
  private p: number;
  private cached: A | null = null;

  /**
   * Use `allocSliceCopy`, `allocStr` or `leak`.
   *
   * @param allocator - the allocator the block is in
   * @param type - the element type
   * @param ptr - the block's address
   * @param length - elements
   */
  constructor(
    /** The allocator the block is in. */
    readonly allocator: Allocator,
    /** The element type. */
    readonly type: TypedArrayConstructor<A>,
    ptr: number,
    /** Elements: fixed for the slice's life. */
    readonly length: number,
  ) {
    this.p = ptr;
  }

  /** The block's address. */
  get ptr(): number {
    if (this.p === 0) throw freedError("this slice");
    return this.p;
  }

  /** Bytes the elements take. */
  get byteLength(): number {
    return this.length * this.type.BYTES_PER_ELEMENT;
  }

  /** Whether `free()` was called. */
  get freed(): boolean {
    return this.p === 0;
  }

  /** A typed array over the elements, valid now. */
  get view(): A {
    this.cached = viewAt(this.allocator.memory, this.type, this.ptr, this.length, this.cached);
    return this.cached;
  }

  /** The bytes as UTF-8 text (for slices made by `allocStr`). */
  text(): string {
    const v = this.view;
    return decodeUtf8(new Uint8Array(v.buffer, v.byteOffset, this.byteLength));
  }

  /**
   * Gives the block back; the slice can no longer be used.
   *
   * @throws {@link DoubleFreeError} `ERR_DOUBLE_FREE` when it was freed already
   */
  free(): void {
    if (this.p === 0) throw new DoubleFreeError("this slice was freed already");
    this.allocator.dealloc(this.p, blockBytes(this.byteLength));
    this.p = 0;
    this.cached = null;
  }

  /** Frees the slice at the end of a `using` scope (nothing when it was freed already). */
  [DISPOSE](): void {
    if (this.p !== 0) this.free();
  }

  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): string {
    if (this.p === 0) return `Slice<${this.type.name}> <freed>`;
    const items = Array.from(this.view as ArrayLike<number | bigint>, describe);
    return `Slice<${this.type.name}>(${this.length}) [${items.join(", ")}] (at ${this.p})`;
  }
}

/** A zero-length slice still takes a (minimal) block, so its pointer is unique and freeable. */
function blockBytes(bytes: number): number {
  return bytes === 0 ? 1 : bytes;
}

/** Copies `values` into a new block of `allocator`: a `Slice` of the same type, or null when out of memory. */
export function allocSliceCopy<A extends TypedArray>(
  values: A,
  allocator?: Allocator,
): Slice<A> | null {
  const type = (values as { constructor?: unknown } | null)?.constructor;
  if (!ArrayBuffer.isView(values)) {
    throw new ArgumentTypeError(
      `allocSliceCopy takes a typed array, got ${describe(values)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  kindOfCtor(type);
  const a = allocatorOr(allocator);
  // Copy first: growing the memory below may detach or reuse the bytes `values` is over.
  const length = values.length;
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  const ptr = placeBytes(a, bytes, Math.max(values.BYTES_PER_ELEMENT, DEFAULT_ALIGN));
  if (ptr === 0) return null;
  return new Slice(a, type as TypedArrayConstructor<A>, ptr, length);
}

/** The UTF-8 bytes of `text` (no 0 byte) in a new block: a `Slice<Uint8Array>`, or null when out of memory. */
export function allocStr(text: string, allocator?: Allocator): Slice<Uint8Array> | null {
  const bytes = encodeUtf8(text);
  const a = allocatorOr(allocator);
  const ptr = placeBytes(a, bytes, DEFAULT_ALIGN);
  return ptr === 0 ? null : new Slice(a, Uint8Array, ptr, bytes.length);
}

/** `text` as a 0-terminated UTF-8 C string in a new block: its pointer, or 0 when out of memory. */
export function writeString(text: string, allocator?: Allocator): number {
  return writeStringIn(allocatorOr(allocator), text);
}

/** The UTF-8 text at `ptr`: `byteLength` bytes, or up to its 0 byte. */
export function readString(ptr: number, byteLength?: number, allocator?: Allocator): string {
  return readStringIn(allocatorOr(allocator), ptr, byteLength);
}

/** A copy of `values` that is never freed: its living view (a `Slice`), or null when out of memory. */
export function leak<A extends TypedArray>(values: A, allocator?: Allocator): Slice<A> | null;
/** A struct value that is never freed: an accessor of it, or null when out of memory. */
export function leak<F extends Fields>(
  type: StructType<F>,
  value: StructInit<F>,
  allocator?: Allocator,
): StructRef<F> | null;
export function leak(
  a: TypedArray | StructType<Fields>,
  b?: Allocator | StructInit<Fields>,
  c?: Allocator,
): unknown {
  if (ArrayBuffer.isView(a)) return allocSliceCopy(a, b as Allocator | undefined);
  const type = a as StructType<Fields>;
  if (!(type instanceof StructType)) {
    throw new ArgumentTypeError(
      `leak takes a typed array, or a struct type and a value; got ${describe(a)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  const alloc = allocatorOr(c);
  checkInit(type, b);
  const ptr = alloc.allocZeroed(type.size, type.align);
  if (ptr === 0) return null;
  const views = viewsOf(alloc.memory);
  writeInit(type, views, ptr, b as StructInit<Fields>);
  return makeRef(type, views, null, ptr);
}

/** `bytes` in a new block aligned to `align`; 0 when out of memory. */
function placeBytes(a: Allocator, bytes: Uint8Array, align: number): number {
  const ptr = a.alloc(blockBytes(bytes.length), align);
  if (ptr === 0) return 0;
  const m = a.memory;
  m.refresh();
  m.u8.set(bytes, ptr);
  return ptr;
}
