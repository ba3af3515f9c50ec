/**
 * `StructVec`: a growable array of struct values stored contiguously (an array of structs),
 * in any allocator. Growth, out of memory, `free` and `using` work as for `Vec` (vec.ts,
 * raw.ts); elements are read and written as whole values, through accessor objects, or
 * through per-field functions for hot loops.
 *
 *     const ps = new StructVec(Particle, heap);
 *     ps.push({ x: 1, vx: 0.5 });              // false when out of memory; unset fields are 0
 *     ps.at(0)!.x += ps.at(0)!.vx;             // accessor of element 0
 *     const x = ps.reader("x"), setX = ps.writer("x");
 *     for (let i = 0; i < ps.length; i++) setX(i, x(i) + 1);
 *
 * ## Memory picture
 * One block of `capacity × size` bytes, aligned to the struct: element i at
 * `ptr + i × size` (the struct's size is a multiple of its alignment, so every element is
 * aligned), the same bytes an array of the C struct would have, for wasm code.
 *
 * ## Rules
 * An accessor of element i (`at(i)`, iteration) follows the vector when it grows and moves;
 * using it after the vector shrank below i + 1 throws `StaleViewError` ERR_STALE_VIEW, and
 * after `free()` ERR_FREED. Index errors are ERR_INDEX, values are checked as for `write`
 * (struct.ts) before anything changes.
 */

import type { Allocator } from "../core/allocator.js";
import { INSPECT } from "../core/describe.js";
import { StaleViewError } from "../core/errors.js";
import { isUint32 } from "../core/validate.js";
import { type MemoryViews, viewsOf } from "../memory/views.js";
import { fieldReader, fieldWriter } from "./fields.js";
import { allocatorOr } from "./global.js";
import { freedError, RawBlock, VecBase } from "./raw.js";
import { checkInit, makeRef, type Owner, readValue, type StructRef, writeInit } from "./ref.js";
import type { Scalar, ScalarValue } from "./scalars.js";
import {
  type Fields,
  type ScalarKeys,
  type StructInit,
  type StructType,
  type StructValue,
  scalarField,
} from "./struct.js";
import { rejectIndex } from "./vec.js";

/**
 * A growable array of struct values stored contiguously, as a C array of structs, in any
 * allocator (the default heap when none is given). Growth, out of memory, `free` and `using`
 * work as for {@link Vec}. Elements are read and written as whole values (`get`, `set`),
 * through accessor objects (`at`, iteration) that follow the vector when it moves, or through
 * per-field functions (`reader`, `writer`) for hot loops.
 *
 * @example
 * ```ts
 * import { StructVec, struct } from "memkit";
 *
 * const Particle = struct({ x: "f64", vx: "f64", id: "u32" }, "Particle");
 * const ps = new StructVec(Particle);
 * for (let i = 0; i < 100; i++) ps.push({ x: i, vx: 0.5, id: i }); // false when out of memory
 * ps.at(0)!.x += 10; // an accessor of element 0
 * const x = ps.reader("x");
 * const vx = ps.reader("vx");
 * const setX = ps.writer("x");
 * for (let i = 0; i < ps.length; i++) setX(i, x(i) + vx(i));
 * console.log(ps.get(0)); // { x: 10.5, vx: 0.5, id: 0 }
 * ps.free();
 * ```
 */
export class StructVec<F extends Fields> extends VecBase implements Owner, Iterable<StructRef<F>> {
  /** The element type. */
  readonly type: StructType<F>;
  private readonly views: MemoryViews;
  private readonly size: number;

  /**
   * An empty array of struct values; it takes no block until the first element.
   *
   * @param type - the element type, made by {@link struct}
   * @param allocator - where the elements live (default: the default allocator)
   */
  constructor(type: StructType<F>, allocator?: Allocator) {
    const a = allocatorOr(allocator);
    super(new RawBlock(a, type.size, type.align, `StructVec<${type.name}>`));
    this.type = type;
    this.size = type.size;
    this.views = viewsOf(a.memory);
  }

  /** Appends a value (fields not given are 0); false, nothing changed, when out of memory. */
  push(value: StructInit<F> = {}): boolean {
    const raw = this.raw;
    raw.live();
    checkInit(this.type, value);
    const n = this.len;
    if (n === raw.capacity && !raw.grow(n + 1)) return false;
    const a = raw.ptr + n * this.size;
    this.zero(a);
    writeInit(this.type, this.views, a, value);
    this.len = n + 1;
    return true;
  }

  /** Removes the last element and returns its value; undefined when empty. */
  pop(): StructValue<F> | undefined {
    this.raw.live();
    if (this.len === 0) return undefined;
    const v = readValue(this.type, this.views, this.raw.ptr + (this.len - 1) * this.size);
    this.len--;
    return v as StructValue<F>;
  }

  /** A plain copy of element `index` (0 … length − 1). */
  get(index: number): StructValue<F> {
    return readValue(this.type, this.views, this.addressAt(index)) as StructValue<F>;
  }

  /** Writes the fields `value` gives into element `index` (0 … length − 1). */
  set(index: number, value: StructInit<F>): void {
    const a = this.addressAt(index);
    checkInit(this.type, value);
    writeInit(this.type, this.views, a, value);
  }

  /** An accessor of element `index` (negative counts from the end); undefined outside. */
  at(index: number): StructRef<F> | undefined {
    this.raw.live();
    if (!Number.isInteger(index)) rejectIndex(index);
    const i = index < 0 ? this.len + index : index;
    if (!(i >= 0 && i < this.len)) return undefined;
    return makeRef(this.type, this.views, this, i) as StructRef<F>;
  }

  /**
   * A plain function reading scalar field `name` of element i: `(i) => value`, checked
   * against the length now, for hot loops.
   */
  reader<K extends ScalarKeys<F>>(name: K): (index: number) => ScalarValue<Extract<F[K], Scalar>> {
    const f = scalarField(this.type, name);
    const read = fieldReader(this.views, f.scalar.kind, f.offset);
    return (index: number) => read(this.addressAt(index)) as ScalarValue<Extract<F[K], Scalar>>;
  }

  /** A plain function writing scalar field `name` of element i: `(i, value) => void`. */
  writer<K extends ScalarKeys<F>>(
    name: K,
  ): (index: number, value: ScalarValue<Extract<F[K], Scalar>>) => void {
    const f = scalarField(this.type, name);
    const write = fieldWriter(this.views, f.scalar.kind, f.offset, `${this.type.name}.${f.name}`);
    return (index: number, value: ScalarValue<Extract<F[K], Scalar>>) =>
      write(this.addressAt(index), value);
  }

  /** Appends every value (all checked first); false, nothing changed, when out of memory. */
  extend(values: Iterable<StructInit<F>>): boolean {
    this.raw.live();
    const list = Array.from(values);
    for (const v of list) checkInit(this.type, v);
    const n = this.len;
    if (n + list.length > this.raw.capacity && !this.raw.grow(n + list.length)) return false;
    for (let i = 0; i < list.length; i++) {
      const a = this.raw.ptr + (n + i) * this.size;
      this.zero(a);
      writeInit(this.type, this.views, a, list[i]);
    }
    this.len = n + list.length;
    return true;
  }

  /** The values as plain objects. */
  toArray(): StructValue<F>[] {
    this.raw.live();
    const out: StructValue<F>[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.get(i));
    return out;
  }

  /** Accessors of the elements, in order. */
  *[Symbol.iterator](): IterableIterator<StructRef<F>> {
    this.raw.live();
    for (let i = 0; i < this.len; i++)
      yield makeRef(this.type, this.views, this, i) as StructRef<F>;
  }

  /** @internal Where element `index` is now (for accessors); throws when it is gone. */
  addressOf(index: number): number {
    if (this.raw.freed) throw freedError(this.raw.what);
    if (!(index < this.len)) {
      throw new StaleViewError(
        `element ${index} of this ${this.raw.what} is gone (its length is ${this.len} now)`,
        "ERR_STALE_VIEW",
      );
    }
    return this.raw.ptr + index * this.size;
  }

  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): unknown {
    if (this.raw.freed) return `${this.raw.what} <freed>`;
    return { [`${this.raw.what}(${this.len})`]: this.toArray().slice(0, 20) };
  }

  /** The address of element `index`, checked: 0 … length − 1 (ERR_INDEX), not freed. */
  private addressAt(index: number): number {
    if (this.raw.freed) throw freedError(this.raw.what);
    if (!(isUint32(index) && index < this.len)) rejectIndex(index, this.len);
    return this.raw.ptr + index * this.size;
  }

  /** Zeroes one element's bytes at `a`. */
  private zero(a: number): void {
    const m = this.raw.allocator.memory;
    m.refresh();
    m.u8.fill(0, a, a + this.size);
  }
}
