/**
 * `Vec`: a growable vector of numbers (or bigints) of one typed-array type, in a block of any
 * allocator (stalloc's `Vec::new_in(&alloc)`, Rust's `Vec<T, A>`).
 *
 *     const v = new Vec(Uint32Array, blocks);   // or no allocator: the default one
 *     v.push(25);                               // false when out of memory, v unchanged
 *     v.view;                                   // a Uint32Array over the elements, valid now
 *
 * ## Memory picture
 * One block of `capacity × BYTES_PER_ELEMENT` bytes (none while the capacity is 0), aligned
 * to the element size and at least 8; the elements `[0, length)` at its start, the rest
 * unused. Nothing else lives in the allocator: length, capacity and the pointer are fields
 * of the JS object.
 *
 *     ptr                                          ptr + capacity × size
 *     | e0 | e1 | … | e(length−1) |   room to grow  |
 *
 * ## Rules
 * - Values are checked, never coerced (scalars.ts): `push("5")` on a Float64 vector is
 *   `ArgumentTypeError` ERR_ELEMENT_TYPE, `push(300)` on a Uint8 one `ArgumentRangeError`
 *   ERR_ELEMENT_RANGE; indices are integers (ERR_INDEX). A rejected call changes nothing.
 * - Out of memory is an answer: `push`, `extend` and `reserve` return false and leave the
 *   vector (and the allocator) exactly as they were; `Vec.from`/`withCapacity`/`filled`
 *   return null. Growth is raw.ts's: in place where the strategy can.
 * - `view` is a typed array of the elements, made again whenever the block moved or the
 *   memory's buffer changed, so reading `v.view` is always valid; a typed array taken from it
 *   is valid until the next call that can grow the vector or the memory. Keep the `Vec`.
 * - `free()` gives the block back; every later use of the vector throws `StaleViewError`
 *   ERR_FREED, and a second `free()` `DoubleFreeError`. `using v = new Vec(…)` frees it at the
 *   end of the scope (disposing a vector freed already does nothing).
 * - The allocator must outlive the vector; after its `reset()` the vector's block is gone
 *   (the allocator reports the stale pointer when the vector next grows or is freed).
 *
 * ## Cost
 * `push`, `pop`, `at`, `set`: O(1) (push amortised: capacity doubles, one `realloc` per
 * doubling, O(n) bytes copied over n pushes, none when growing in place). No JS object is
 * allocated per element; the element is read and written through one typed array over the
 * whole memory, re-made only when the index passes its end (after growth).
 */

import type { Allocator } from "../core/allocator.js";
import { INSPECT } from "../core/describe.js";
import { ArgumentRangeError, ArgumentTypeError } from "../core/errors.js";
import { checkSize32, isUint32 } from "../core/validate.js";
import { type TypedArray, type TypedArrayConstructor, viewAt } from "../memory/views.js";
import { allocatorOr } from "./global.js";
import { freedError, RawBlock, VecBase } from "./raw.js";
import {
  describe,
  type ElementOf,
  isValue,
  type Kind,
  kindOfCtor,
  rejectValue,
} from "./scalars.js";

/** What indexing a typed array of unknown kind gives and takes. */
type Indexable<E> = { [i: number]: E; readonly length: number };

/** At most this many elements are shown by `console.log`. */
const INSPECT_ELEMENTS = 20;

/**
 * A growable vector of numbers (or bigints) of one typed-array type, in a block of any
 * allocator (the default heap when none is given): Rust's `Vec<T, A>`. The elements sit at
 * `ptr` as a C array, where wasm code can read them; `view` is a typed array over them that
 * is made again whenever the block moved or the memory grew, so `v.view` is always valid.
 *
 * Values are checked, never coerced: `push("5")` on a Float64 vector throws
 * `ERR_ELEMENT_TYPE`, `push(300)` on a Uint8 one `ERR_ELEMENT_RANGE`. Out of memory is an
 * answer: `push`, `extend` and `reserve` return false and change nothing. After `free()`,
 * every use throws `StaleViewError` `ERR_FREED`.
 *
 * @example
 * ```ts
 * import { BumpAllocator, Vec } from "memkit";
 *
 * const arena = new BumpAllocator(64 * 1024);
 * const v = new Vec(Int32Array, arena);
 * v.push(25); // true; false when out of memory, and then v is exactly as it was
 * v.extend([1, 2, 3]);
 * console.log(v.length, v.at(-1), [...v]); // 4 3 [ 25, 1, 2, 3 ]
 * console.log(v.view); // Int32Array(4) [ 25, 1, 2, 3 ], over the arena's bytes
 *
 * {
 *   using tmp = Vec.from(Float64Array, [0.5, 1.5])!; // in the default heap, freed at the block's end
 *   console.log(tmp.ptr > 0);
 * }
 * v.free(); // every later use of v throws StaleViewError ERR_FREED
 * ```
 */
export class Vec<A extends TypedArray> extends VecBase implements Iterable<ElementOf<A>> {
  /** The element type (the typed-array constructor). */
  readonly type: TypedArrayConstructor<A>;
  private readonly kind: Kind;
  /** log2(BYTES_PER_ELEMENT): element i of the block is whole[(ptr >>> shift) + i]. */
  private readonly shift: number;
  /** A typed array of this element type over the memory's whole buffer. */
  private whole: Indexable<ElementOf<A>>;
  private cached: A | null = null;

  /**
   * An empty vector; it takes no block until the first element.
   *
   * @param type - the element type: a typed-array constructor (`Float64Array`, …)
   * @param allocator - where the elements live (default: the default allocator)
   * @throws {@link ArgumentTypeError} `ERR_ELEMENT_TYPE` when `type` is not a typed-array type
   */
  constructor(type: TypedArrayConstructor<A>, allocator?: Allocator) {
    const kind = kindOfCtor(type);
    const size = type.BYTES_PER_ELEMENT;
    super(new RawBlock(allocatorOr(allocator), size, Math.max(size, 8), `Vec<${type.name}>`));
    this.kind = kind;
    this.type = type;
    this.shift = Math.log2(size);
    this.whole = this.wholeView();
  }

  /**
   * A vector with room for `capacity` elements.
   *
   * @param type - the element type
   * @param capacity - elements to make room for
   * @param allocator - where the elements live (default: the default allocator)
   * @returns the empty vector, or null when out of memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` for a bad capacity
   */
  static withCapacity<A extends TypedArray>(
    type: TypedArrayConstructor<A>,
    capacity: number,
    allocator?: Allocator,
  ): Vec<A> | null {
    checkSize32(capacity, "capacity");
    const v = new Vec(type, allocator);
    return v.raw.grow(capacity, true) ? v : null;
  }

  /**
   * A vector holding `values`.
   *
   * @param type - the element type
   * @param values - the elements: an array, array-like or iterable (checked first)
   * @param allocator - where the elements live (default: the default allocator)
   * @returns the vector, or null when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ELEMENT_TYPE` for a value of the wrong type
   * @throws {@link ArgumentRangeError} `ERR_ELEMENT_RANGE` for a number the type cannot hold
   */
  static from<A extends TypedArray>(
    type: TypedArrayConstructor<A>,
    values: ArrayLike<ElementOf<A>> | Iterable<ElementOf<A>>,
    allocator?: Allocator,
  ): Vec<A> | null {
    const v = new Vec(type, allocator);
    return v.extend(values) ? v : null;
  }

  /**
   * `count` copies of `value` (Rust's `vec![value; count]`).
   *
   * @param type - the element type
   * @param value - the element to repeat (checked first)
   * @param count - how many
   * @param allocator - where the elements live (default: the default allocator)
   * @returns the vector, or null when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ELEMENT_TYPE` for a value of the wrong type
   * @throws {@link ArgumentRangeError} `ERR_ELEMENT_RANGE` for a number the type cannot hold
   */
  static filled<A extends TypedArray>(
    type: TypedArrayConstructor<A>,
    value: ElementOf<A>,
    count: number,
    allocator?: Allocator,
  ): Vec<A> | null {
    checkSize32(count, "count");
    const v = new Vec(type, allocator);
    if (!isValue(v.kind, value)) rejectValue(v.kind, value, `${v.raw.what} element`);
    if (!v.raw.grow(count, true)) return null;
    v.len = count;
    if (count > 0) v.view.fill(value as never);
    return v;
  }

  /** Bytes the elements take: `length × BYTES_PER_ELEMENT`. */
  get byteLength(): number {
    return this.len << this.shift;
  }

  /** A typed array over the `length` elements, valid now (see the module comment). */
  get view(): A {
    this.raw.live();
    const m = this.raw.allocator.memory;
    this.cached = viewAt(m, this.type, this.raw.ptr, this.len, this.cached);
    return this.cached;
  }

  /** Appends `value`; false (nothing changed) when the allocator is out of memory. */
  push(value: ElementOf<A>): boolean {
    const raw = this.raw;
    if (raw.freed) throw freedError(raw.what);
    if (!isValue(this.kind, value)) rejectValue(this.kind, value, `${raw.what} element`);
    const n = this.len;
    if (n === raw.capacity && !raw.grow(n + 1)) return false;
    this.write(n, value);
    this.len = n + 1;
    return true;
  }

  /** Removes and returns the last element; undefined when empty. */
  pop(): ElementOf<A> | undefined {
    this.raw.live();
    if (this.len === 0) return undefined;
    const v = this.read(this.len - 1);
    this.len--;
    return v;
  }

  /** Element `index` (negative counts from the end, as `Array.prototype.at`); undefined outside. */
  at(index: number): ElementOf<A> | undefined {
    this.raw.live();
    if (!Number.isInteger(index)) rejectIndex(index);
    const i = index < 0 ? this.len + index : index;
    return i >= 0 && i < this.len ? this.read(i) : undefined;
  }

  /** Writes element `index` (0 … length − 1, else `ArgumentRangeError` ERR_INDEX). */
  set(index: number, value: ElementOf<A>): void {
    const raw = this.raw;
    if (raw.freed) throw freedError(raw.what);
    if (!(isUint32(index) && index < this.len)) rejectIndex(index, this.len);
    if (!isValue(this.kind, value)) rejectValue(this.kind, value, `${raw.what} element`);
    this.write(index, value);
  }

  /** Appends every value (all checked first); false, nothing changed, when out of memory. */
  extend(values: ArrayLike<ElementOf<A>> | Iterable<ElementOf<A>>): boolean {
    const raw = this.raw;
    raw.live();
    let list = toList(values);
    // Values read from this memory (this vector's own view) could move or be overwritten
    // when the block grows: copy them first.
    if (ArrayBuffer.isView(list) && list.buffer === raw.allocator.memory.buffer) {
      list = Array.from(list);
    }
    for (let i = 0; i < list.length; i++) {
      if (!isValue(this.kind, list[i])) rejectValue(this.kind, list[i], `${raw.what} element`);
    }
    const n = this.len;
    if (n + list.length > raw.capacity && !raw.grow(n + list.length)) return false;
    for (let i = 0; i < list.length; i++) this.write(n + i, list[i]);
    this.len = n + list.length;
    return true;
  }

  /** The elements as a plain array. */
  toArray(): ElementOf<A>[] {
    this.raw.live();
    const out: ElementOf<A>[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.read(i));
    return out;
  }

  /** The elements in order (`[...v]`, `for … of`). */
  *[Symbol.iterator](): IterableIterator<ElementOf<A>> {
    this.raw.live();
    for (let i = 0; i < this.len; i++) {
      this.raw.live();
      yield this.read(i);
    }
  }

  override free(): void {
    super.free();
    this.cached = null;
  }

  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): string {
    const name = this.raw.what;
    if (this.raw.freed) return `${name} <freed>`;
    const shown = this.toArray().slice(0, INSPECT_ELEMENTS).map(describe);
    if (this.len > INSPECT_ELEMENTS) shown.push(`… ${this.len - INSPECT_ELEMENTS} more`);
    return `${name}(${this.len}) [${shown.join(", ")}] (capacity ${this.capacity}, at ${this.raw.ptr})`;
  }

  private read(i: number): ElementOf<A> {
    let w = this.whole;
    const k = (this.raw.ptr >>> this.shift) + i;
    if (!(k < w.length)) w = this.sync();
    return w[k];
  }

  private write(i: number, value: ElementOf<A>): void {
    let w = this.whole;
    const k = (this.raw.ptr >>> this.shift) + i;
    if (!(k < w.length)) w = this.sync();
    w[k] = value;
  }

  /** The whole-memory view after the memory's buffer was replaced or grew. */
  private sync(): Indexable<ElementOf<A>> {
    this.raw.allocator.memory.refresh();
    this.whole = this.wholeView();
    return this.whole;
  }

  private wholeView(): Indexable<ElementOf<A>> {
    const b = this.raw.allocator.memory.buffer;
    const n = Math.floor(b.byteLength / this.type.BYTES_PER_ELEMENT);
    return new this.type(b, 0, n) as unknown as Indexable<ElementOf<A>>;
  }
}

/** `values` as something indexable (an array-like as is, an iterable copied). */
export function toList<E>(values: ArrayLike<E> | Iterable<E>): ArrayLike<E> {
  if (values === null || typeof values !== "object") {
    throw new ArgumentTypeError(`expected an array or iterable of values, got ${describe(values)}`);
  }
  if (typeof (values as ArrayLike<E>).length === "number") return values as ArrayLike<E>;
  if (typeof (values as Iterable<E>)[Symbol.iterator] === "function") {
    return Array.from(values as Iterable<E>);
  }
  throw new ArgumentTypeError("expected an array or iterable of values");
}

/** Throws the error for an index that is not an integer, or not in `[0, length)`. */
export function rejectIndex(index: unknown, length?: number): never {
  if (typeof index !== "number") {
    throw new ArgumentTypeError(`index must be a number, got ${describe(index)}`, "ERR_INDEX");
  }
  throw new ArgumentRangeError(
    length === undefined
      ? `index must be an integer, got ${describe(index)}`
      : `index ${describe(index)} is outside [0, ${length})`,
    "ERR_INDEX",
  );
}
