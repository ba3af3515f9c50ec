/**
 * Structs: a record type declared once from field names and field types, laid out in memory
 * by the seeds' `Layout` rules, and typed in TypeScript from the declaration alone.
 *
 *     const Particle = struct({ x: "f64", y: "f64", vx: "f64", vy: "f64", id: "u32", alive: "u8" });
 *     Particle.layout;                        // Layout(40, 8): what to allocate, for wasm code too
 *     const b = box(Particle, { x: 1, id: 7 }); // one in the default allocator (box.ts)
 *     b.value.x += 2;                         // accessor object: fields typed number / bigint
 *     const x = Particle.reader("x");         // plain functions, for hot loops over pointers
 *
 * ## Field types
 * A scalar name (`"u8"` … `"f64"`, `"i64"`/`"u64"` as bigint, `"ptr"` a 32-bit offset; see
 * scalars.ts), a fixed array of scalars (`array("f32", 4)`), or another struct (nested by
 * value). Field names are identifiers (`[A-Za-z_$][A-Za-z0-9_$]*`) and none of the names of
 * `Object.prototype` (`constructor`, `toString`, …); every name once. Anything else is
 * `ArgumentTypeError` ERR_STRUCT_DEFINITION when the struct is declared. Declare from an
 * object (fields in its key order) or from `[name, type]` entries (the order given; a name
 * given twice is an error).
 *
 * ## Layout (Rust's `repr(C)`, the seeds' `Layout::extend`)
 * Fields in declaration order; each starts at the first multiple of its alignment after the
 * previous one (scalars are aligned to their size, arrays to their element, structs to their
 * largest field); the size is rounded up to the alignment, so an array of the struct keeps
 * every element aligned. `{ a: "u8", b: "f64", c: "u16" }` is a at 0, b at 8, c at 16, size
 * 24, align 8.
 *
 * ## Access
 * By pointer (a block the caller allocated with `layout`): `read`/`write` copy whole values
 * (`write` takes a partial one; every field is checked before any byte is written), `at`
 * gives an accessor object whose properties are the fields, and `reader`/`writer` give a
 * plain function per scalar field. Pointers are checked: an integer aligned to the struct,
 * inside the allocator's region (`owns`) and memory; `reader`/`writer` check the integer,
 * the alignment and the memory's end (not ownership: they are the hot path).
 * A field name the struct does not have is `ArgumentTypeError` ERR_UNKNOWN_FIELD (TypeScript
 * rejects it at compile time already).
 */

import type { Allocator } from "../core/allocator.js";
import { INSPECT } from "../core/describe.js";
import { ArgumentTypeError, InvalidPointerError } from "../core/errors.js";
import { Layout } from "../core/layout.js";
import { isUint32, rejectPointer } from "../core/validate.js";
import { viewsOf } from "../memory/views.js";
import { badPointer } from "./access.js";
import { fieldReader, fieldWriter } from "./fields.js";
import { allocatorOr } from "./global.js";
import { checkInit, makeRef, readValue, type StructRef, writeInit } from "./ref.js";
import {
  describe,
  isScalar,
  SCALARS,
  type Scalar,
  type ScalarArray,
  type ScalarInfo,
  type ScalarValue,
} from "./scalars.js";

// ---- types ---------------------------------------------------------------------------------

/** A fixed array of `count` scalars, as a field type (`array("f32", 4)`). */
export interface ArrayType<S extends Scalar = Scalar, N extends number = number> {
  /** `"array"`. */
  readonly kind: "array";
  /** The element type. */
  readonly of: S;
  /** How many elements. */
  readonly count: N;
  /** The array's size and alignment (the element's). */
  readonly layout: Layout;
}

/** What a field can be: a scalar, a fixed array of scalars, or a struct. */
export type FieldType = Scalar | ArrayType | AnyStruct;

/** What every struct type has, whatever its fields (how the layer's internals see one). */
export interface AnyStruct {
  /** The struct's name, as messages and `console.log` show it. */
  readonly name: string;
  /** Its size and alignment: what to allocate for one value. */
  readonly layout: Layout;
  /** Its fields as laid out, in declaration order. */
  readonly fields: readonly FieldInfo[];
  /**
   * A field by name.
   *
   * @param name - the field's name
   * @returns how it is laid out
   * @throws {@link ArgumentTypeError} `ERR_UNKNOWN_FIELD` when the struct has no such field
   */
  field(name: string): FieldInfo;
}

/** A struct's declaration: field name → field type. */
export type Fields = { readonly [name: string]: FieldType };

/** The plain JS value of a field type (what `read` returns). */
export type ValueOf<T> = T extends Scalar
  ? ScalarValue<T>
  : T extends ArrayType<infer S>
    ? ScalarValue<S>[]
    : T extends StructType<infer F>
      ? StructValue<F>
      : never;

/** What a field type accepts when written (structs partially, arrays as any array-like). */
export type InitOf<T> = T extends Scalar
  ? ScalarValue<T>
  : T extends ArrayType<infer S>
    ? ArrayLike<ScalarValue<S>>
    : T extends StructType<infer F>
      ? StructInit<F>
      : never;

/** What an accessor's property gives: the value of a scalar, a live view of an array, an accessor of a struct. */
export type RefOf<T> = T extends Scalar
  ? ScalarValue<T>
  : T extends ArrayType<infer S>
    ? ScalarArray<S>
    : T extends StructType<infer F>
      ? StructRef<F>
      : never;

/** A struct value as a plain object. */
export type StructValue<F extends Fields> = { -readonly [K in keyof F]: ValueOf<F[K]> };

/** A partial struct value: the fields given are written, the others left as they are. */
export type StructInit<F extends Fields> = { [K in keyof F]?: InitOf<F[K]> };

/** The names of a struct's scalar fields (the ones with readers and writers). */
export type ScalarKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends Scalar ? K : never;
}[keyof F] &
  string;

/** The fields of `[name, type]` entries (what {@link struct} declares from entries). */
export type FieldsOf<E extends readonly (readonly [string, FieldType])[]> = {
  [P in E[number] as P[0]]: P[1];
};

/** One field as laid out. */
export interface FieldInfo {
  /** The field's name. */
  readonly name: string;
  /** What the field holds. */
  readonly kind: "scalar" | "array" | "struct";
  /** The field's type, as declared. */
  readonly type: FieldType;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  /** The field's size and alignment. */
  readonly layout: Layout;
  /**
   * The scalar, or the array's element; null for a nested struct.
   * @internal
   */
  readonly scalar: ScalarInfo | null;
  /** Elements of an array field, 1 for a scalar, 0 for a struct. */
  readonly count: number;
  /** The nested struct, or null. */
  readonly struct: AnyStruct | null;
}

// ---- declaring -----------------------------------------------------------------------------

/**
 * A fixed array of `count` elements of scalar type `of`, as a struct field (C's `float v[4]`).
 *
 * @param of - the element type: `"u8"` … `"f64"`, `"i64"`, `"u64"`, `"ptr"`
 * @param count - how many elements, an integer ≥ 1
 * @returns the field type
 * @throws {@link ArgumentTypeError} `ERR_STRUCT_DEFINITION` for a bad element type or count
 */
export function array<const S extends Scalar, const N extends number>(
  of: S,
  count: N,
): ArrayType<S, N> {
  if (!isScalar(of)) {
    throw new ArgumentTypeError(
      `array elements must be a scalar type name ("u8" … "f64"), got ${describe(of)}`,
      "ERR_STRUCT_DEFINITION",
    );
  }
  if (!(isUint32(count) && count >= 1)) {
    throw new ArgumentTypeError(
      `array count must be an integer ≥ 1, got ${describe(count)}`,
      "ERR_STRUCT_DEFINITION",
    );
  }
  const s = SCALARS[of];
  const layout = Layout.array(Layout.of(s.size, s.size), count);
  return Object.freeze({ kind: "array", of, count, layout });
}

/**
 * Declares a struct: a record type laid out in memory as C lays out a struct (each field at
 * the next multiple of its alignment, the size rounded up to the largest alignment), typed in
 * TypeScript from the declaration alone. Fields are scalars (`"u8"` … `"f64"`, `"i64"` and
 * `"u64"` as bigints, `"ptr"` a 32-bit offset), fixed arrays (`array("f32", 4)`) or other
 * structs, nested by value.
 *
 * @param entries - `[name, type]` pairs, in memory order (or an object of fields, in key order)
 * @param name - the struct's name in messages (default `"struct"`)
 * @returns the struct type: its `layout`, field offsets, and ways to read and write values
 * @throws {@link ArgumentTypeError} `ERR_STRUCT_DEFINITION` for no fields, a duplicate or
 *   invalid field name, or an invalid field type
 *
 * @example
 * ```ts
 * import { array, box, PoolAllocator, struct } from "memkit";
 *
 * const Vec3 = struct({ x: "f32", y: "f32", z: "f32" }, "Vec3");
 * const Body = struct({ pos: Vec3, mass: "f64", tags: array("u8", 4), id: "u64" }, "Body");
 * console.log(Body.layout.size, Body.offsetOf("mass")); // 40 16
 *
 * // One value in a block of its own, read and written through an accessor object:
 * const b = box(Body, { pos: { x: 1 }, mass: 80, id: 7n })!;
 * b.value.mass += 1;
 * console.log(b.get().mass); // 81
 * b.free();
 *
 * // By pointer, with no JS object per record: plain functions for hot loops.
 * const pool = new PoolAllocator(Body.size, 100);
 * const p = Body.alloc({ mass: 2 }, pool);
 * const mass = Body.reader("mass", pool);
 * console.log(mass(p)); // 2
 * Body.free(p, pool);
 * ```
 */
export function struct<const E extends readonly (readonly [string, FieldType])[]>(
  entries: E,
  name?: string,
): StructType<FieldsOf<E>>;
export function struct<const F extends Fields>(fields: F, name?: string): StructType<F>;
export function struct(
  fields: Fields | readonly (readonly [string, FieldType])[],
  name = "struct",
) {
  if (typeof name !== "string") {
    throw new ArgumentTypeError("a struct's name must be a string", "ERR_STRUCT_DEFINITION");
  }
  let entries: readonly (readonly [string, FieldType])[];
  if (Array.isArray(fields)) {
    entries = fields;
  } else if (fields !== null && typeof fields === "object") {
    entries = Object.entries(fields);
  } else {
    throw new ArgumentTypeError(
      `struct takes an object of fields or [name, type] entries, got ${describe(fields)}`,
      "ERR_STRUCT_DEFINITION",
    );
  }
  const { fields: laid, layout } = declare(entries, name);
  return new StructType(laid, layout, name);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Validates the entries and lays the fields out; the layout is padded to its alignment. */
function declare(
  entries: readonly (readonly [string, FieldType])[],
  name: string,
): { fields: FieldInfo[]; layout: Layout } {
  if (entries.length === 0) {
    throw new ArgumentTypeError(`struct ${name} has no fields`, "ERR_STRUCT_DEFINITION");
  }
  const seen = new Set<string>();
  const out: FieldInfo[] = [];
  let layout = Layout.of(0, 1);
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new ArgumentTypeError(
        `struct ${name}: each entry must be [name, type], got ${describe(entry)}`,
        "ERR_STRUCT_DEFINITION",
      );
    }
    const [field, type] = entry as [unknown, unknown];
    if (typeof field !== "string" || !IDENTIFIER.test(field) || field in Object.prototype) {
      throw new ArgumentTypeError(
        `struct ${name}: invalid field name ${describe(field)} (an identifier, not a name ` +
          "Object.prototype has)",
        "ERR_STRUCT_DEFINITION",
      );
    }
    if (seen.has(field)) {
      throw new ArgumentTypeError(
        `struct ${name}: field ${field} is declared twice`,
        "ERR_STRUCT_DEFINITION",
      );
    }
    seen.add(field);
    const info = fieldInfo(field, type, name);
    const next = layout.extend(info.layout);
    layout = next.layout;
    out.push({ ...info, offset: next.offset });
  }
  return { fields: out, layout: layout.padToAlign() };
}

/** The layout and kind of a field of type `type` (validated; ERR_STRUCT_DEFINITION). */
export function fieldInfo(field: string, type: unknown, name: string): Omit<FieldInfo, "offset"> {
  if (isScalar(type)) {
    const s = SCALARS[type];
    const layout = Layout.of(s.size, s.size);
    return { name: field, kind: "scalar", type, layout, scalar: s, count: 1, struct: null };
  }
  if (type instanceof StructType) {
    const layout = type.layout;
    return { name: field, kind: "struct", type, layout, scalar: null, count: 0, struct: type };
  }
  const a = type as Partial<ArrayType> | null;
  if (a !== null && typeof a === "object" && a.kind === "array" && a.layout instanceof Layout) {
    return {
      name: field,
      kind: "array",
      type: a as ArrayType,
      layout: a.layout,
      scalar: SCALARS[a.of as Scalar],
      count: a.count as number,
      struct: null,
    };
  }
  throw new ArgumentTypeError(
    `struct ${name}: field ${field} has type ${describe(type)}; a field type is a scalar name ` +
      '("u8" … "f64", "i64", "u64", "ptr"), array(scalar, n) or a struct',
    "ERR_STRUCT_DEFINITION",
  );
}

// ---- the struct type -----------------------------------------------------------------------

export class StructType<F extends Fields> implements AnyStruct {
  /** The name given at declaration (in messages and `console.log`). */
  readonly name: string;
  /** Size (a multiple of the alignment) and alignment: allocate with this. */
  readonly layout: Layout;
  /** The fields in memory order, with their offsets. */
  readonly fields: readonly FieldInfo[];
  /** Field name → its info. */
  private readonly byName: ReadonlyMap<string, FieldInfo>;

  /** Use `struct(…)`. */
  constructor(fields: readonly FieldInfo[], layout: Layout, name: string) {
    this.name = name;
    this.fields = Object.freeze(fields.map((f) => Object.freeze({ ...f })));
    this.layout = layout;
    this.byName = new Map(this.fields.map((f) => [f.name, f]));
    Object.freeze(this);
  }

  /** Bytes one value takes (a multiple of `align`: the stride of an array of them). */
  get size(): number {
    return this.layout.size;
  }

  /** The alignment a value needs: its largest field's. */
  get align(): number {
    return this.layout.align;
  }

  /** Byte offset of field `name`. */
  offsetOf(name: keyof F & string): number {
    return this.field(name).offset;
  }

  /** The info of field `name`; ERR_UNKNOWN_FIELD when there is none. */
  field(name: string): FieldInfo {
    const f = typeof name === "string" ? this.byName.get(name) : undefined;
    if (f === undefined) {
      throw new ArgumentTypeError(
        `struct ${this.name} has no field ${describe(name)} (its fields: ` +
          `${this.fields.map((x) => x.name).join(", ")})`,
        "ERR_UNKNOWN_FIELD",
      );
    }
    return f;
  }

  /** The value at `ptr` (a block of `allocator` holding one of these) as a plain object. */
  read(ptr: number, allocator?: Allocator): StructValue<F> {
    const a = allocatorOr(allocator);
    this.checkPlace(a, ptr);
    return readValue(this, viewsOf(a.memory), ptr) as StructValue<F>;
  }

  /** Writes the fields `value` gives (all checked before any is written). */
  write(ptr: number, value: StructInit<F>, allocator?: Allocator): void {
    const a = allocatorOr(allocator);
    this.checkPlace(a, ptr);
    checkInit(this, value);
    writeInit(this, viewsOf(a.memory), ptr, value);
  }

  /**
   * A new value in `allocator` (zero-filled, then `value`'s fields written: checked first):
   * its pointer, or 0 when out of memory. No JS object is made: for records kept by pointer
   * (in a typed array of pointers, or in other structs), read with `reader`/`at`.
   */
  alloc(value?: StructInit<F>, allocator?: Allocator): number {
    const a = allocatorOr(allocator);
    if (value !== undefined) checkInit(this, value);
    const ptr = a.allocZeroed(this.size, this.align);
    if (ptr !== 0 && value !== undefined) writeInit(this, viewsOf(a.memory), ptr, value);
    return ptr;
  }

  /** Frees a value made by `alloc` (the allocator is told its size). */
  free(ptr: number, allocator?: Allocator): void {
    const a = allocatorOr(allocator);
    this.checkPlace(a, ptr);
    a.dealloc(ptr, this.size);
  }

  /** An accessor object for the value at `ptr`: its properties read and write the fields. */
  at(ptr: number, allocator?: Allocator): StructRef<F> {
    const a = allocatorOr(allocator);
    this.checkPlace(a, ptr);
    return makeRef(this, viewsOf(a.memory), null, ptr) as StructRef<F>;
  }

  /**
   * A plain function reading scalar field `name` of the value at a pointer: monomorphic,
   * allocation-free, for hot loops (checks: see the module comment).
   */
  reader<K extends ScalarKeys<F>>(
    name: K,
    allocator?: Allocator,
  ): (ptr: number) => ScalarValue<Extract<F[K], Scalar>> {
    const f = scalarField(this, name);
    const v = viewsOf(allocatorOr(allocator).memory);
    return fieldReader(v, f.scalar.kind, f.offset) as (
      ptr: number,
    ) => ScalarValue<Extract<F[K], Scalar>>;
  }

  /** A plain function writing scalar field `name` of the value at a pointer (value checked). */
  writer<K extends ScalarKeys<F>>(
    name: K,
    allocator?: Allocator,
  ): (ptr: number, value: ScalarValue<Extract<F[K], Scalar>>) => void {
    const f = scalarField(this, name);
    const v = viewsOf(allocatorOr(allocator).memory);
    return fieldWriter(v, f.scalar.kind, f.offset, `${this.name}.${f.name}`);
  }

  toString(): string {
    const fields = this.fields.map((f) => `${f.name}: ${typeName(f.type)} @${f.offset}`);
    return `struct ${this.name} { ${fields.join(", ")} } (${this.size} bytes, align ${this.align})`;
  }

  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): string {
    return this.toString();
  }

  /** Throws unless `ptr` can hold one of these in `allocator`. */
  checkPlace(allocator: Allocator, ptr: number): void {
    if (!isUint32(ptr)) rejectPointer(ptr);
    if (ptr % this.align !== 0) throw badPointer(ptr, this.align);
    if (!allocator.owns(ptr) || ptr + this.size > allocator.memory.end) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: ${this.size} bytes there are not in this allocator's region`,
        "ERR_FOREIGN_POINTER",
      );
    }
  }
}

/** Scalar field `name` of `type` (ERR_UNKNOWN_FIELD, or ERR_ELEMENT_TYPE for another kind). */
export function scalarField(type: AnyStruct, name: string): FieldInfo & { scalar: ScalarInfo } {
  const f = type.field(name);
  if (f.kind !== "scalar") {
    throw new ArgumentTypeError(
      `${type.name}.${name} is not a scalar field: readers and writers read scalars ` +
        "(use at() or read() for arrays and nested structs)",
      "ERR_ELEMENT_TYPE",
    );
  }
  return f as FieldInfo & { scalar: ScalarInfo };
}

/** A field type as written in a declaration. */
export function typeName(t: FieldType): string {
  if (typeof t === "string") return t;
  if ("of" in t) return `${t.of}[${t.count}]`;
  return t.name;
}
