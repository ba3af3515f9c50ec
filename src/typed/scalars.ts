/**
 * The element types of the typed layer: their names, sizes and value checks.
 *
 * | name  | bytes | JS value | typed array        | accepts                          |
 * | ----- | ----- | -------- | ------------------ | -------------------------------- |
 * | `i8`  | 1     | number   | Int8Array          | integers −128 … 127              |
 * | `u8`  | 1     | number   | Uint8Array         | integers 0 … 255                 |
 * | `i16` | 2     | number   | Int16Array         | integers −32768 … 32767          |
 * | `u16` | 2     | number   | Uint16Array        | integers 0 … 65535               |
 * | `i32` | 4     | number   | Int32Array         | integers −2^31 … 2^31−1          |
 * | `u32` | 4     | number   | Uint32Array        | integers 0 … 2^32−1              |
 * | `ptr` | 4     | number   | Uint32Array        | as u32: a wasm32 pointer         |
 * | `f32` | 4     | number   | Float32Array       | any number (rounded to float32)  |
 * | `f64` | 8     | number   | Float64Array       | any number                       |
 * | `i64` | 8     | bigint   | BigInt64Array      | bigints −2^63 … 2^63−1           |
 * | `u64` | 8     | bigint   | BigUint64Array     | bigints 0 … 2^64−1               |
 * | (`Uint8ClampedArray` vectors) | 1 | number | Uint8ClampedArray | any number (clamped) |
 *
 * Each type is aligned to its size. Values are checked, never coerced (RELIABILITY.md §2.1
 * P2): a string, `undefined` or a bigint where a number belongs is `ArgumentTypeError`
 * ERR_ELEMENT_TYPE; a fraction or an out-of-range integer for an integer type is
 * `ArgumentRangeError` ERR_ELEMENT_RANGE. The integer checks are a `typeof`, one bit
 * operation and one comparison (`(x & 0xff) === x` is true exactly for the integers 0 … 255,
 * and false for NaN and fractions).
 */

import { ArgumentRangeError, ArgumentTypeError } from "../core/errors.js";
import type { TypedArray, TypedArrayConstructor } from "../memory/views.js";

/** A scalar field or element type. */
export type Scalar =
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "ptr"
  | "f32"
  | "f64"
  | "i64"
  | "u64";

/** The JS value of a scalar: a bigint for the 64-bit integers, else a number. */
export type ScalarValue<S extends Scalar> = S extends "i64" | "u64" ? bigint : number;

/** The typed array over elements of a scalar type. */
export type ScalarArray<S extends Scalar> = S extends "i8"
  ? Int8Array
  : S extends "u8"
    ? Uint8Array
    : S extends "i16"
      ? Int16Array
      : S extends "u16"
        ? Uint16Array
        : S extends "i32"
          ? Int32Array
          : S extends "u32" | "ptr"
            ? Uint32Array
            : S extends "f32"
              ? Float32Array
              : S extends "f64"
                ? Float64Array
                : S extends "i64"
                  ? BigInt64Array
                  : BigUint64Array;

/** The element value of a typed array: a bigint for the 64-bit arrays, else a number. */
export type ElementOf<A extends TypedArray> = A extends BigInt64Array | BigUint64Array
  ? bigint
  : number;

/**
 * The element kinds as small integers: which check a value goes through and which view reads
 * it (monomorphic `switch`es on the hot path). U8C is Uint8ClampedArray's (vectors only).
 */
export const Kind = {
  I8: 0,
  U8: 1,
  I16: 2,
  U16: 3,
  I32: 4,
  U32: 5,
  F32: 6,
  F64: 7,
  I64: 8,
  U64: 9,
  U8C: 10,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface ScalarInfo {
  readonly name: Scalar;
  readonly size: number;
  readonly kind: Kind;
  readonly ctor: TypedArrayConstructor<TypedArray>;
}

function info(
  name: Scalar,
  size: number,
  kind: Kind,
  ctor: TypedArrayConstructor<TypedArray>,
): ScalarInfo {
  return Object.freeze({ name, size, kind, ctor });
}

export const SCALARS: Readonly<Record<Scalar, ScalarInfo>> = Object.freeze({
  i8: info("i8", 1, Kind.I8, Int8Array),
  u8: info("u8", 1, Kind.U8, Uint8Array),
  i16: info("i16", 2, Kind.I16, Int16Array),
  u16: info("u16", 2, Kind.U16, Uint16Array),
  i32: info("i32", 4, Kind.I32, Int32Array),
  u32: info("u32", 4, Kind.U32, Uint32Array),
  ptr: info("ptr", 4, Kind.U32, Uint32Array),
  f32: info("f32", 4, Kind.F32, Float32Array),
  f64: info("f64", 8, Kind.F64, Float64Array),
  i64: info("i64", 8, Kind.I64, BigInt64Array),
  u64: info("u64", 8, Kind.U64, BigUint64Array),
});

/** Whether `x` names a scalar type. */
export function isScalar(x: unknown): x is Scalar {
  return typeof x === "string" && Object.hasOwn(SCALARS, x);
}

/** The kind of each typed-array constructor (anything else is not an element type). */
const KIND_OF_CTOR = new Map<unknown, Kind>([
  ...Object.values(SCALARS).map((s) => [s.ctor, s.kind] as const),
  [Uint8ClampedArray, Kind.U8C],
]);

/** The kind of a typed-array constructor; `ERR_ELEMENT_TYPE` for anything else. */
export function kindOfCtor(ctor: unknown): Kind {
  const k = KIND_OF_CTOR.get(ctor);
  if (k === undefined) {
    throw new ArgumentTypeError(
      `expected a typed-array constructor (Int8Array … BigUint64Array), got ${describe(ctor)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  return k;
}

/** Whether `x` is a value of `kind` (no exception: the hot path calls this, then `rejectValue`). */
export function isValue(kind: Kind, x: unknown): boolean {
  // `typeof` first: a bit operation on a bigint throws the engine's own TypeError.
  if (kind <= Kind.U32) {
    if (typeof x !== "number") return false;
    switch (kind) {
      case Kind.I8:
        return (x << 24) >> 24 === x;
      case Kind.U8:
        return (x & 0xff) === x;
      case Kind.I16:
        return (x << 16) >> 16 === x;
      case Kind.U16:
        return (x & 0xffff) === x;
      case Kind.I32:
        return (x | 0) === x;
      default:
        return x >>> 0 === x;
    }
  }
  if (kind === Kind.I64 || kind === Kind.U64) {
    if (typeof x !== "bigint") return false;
    return kind === Kind.I64 ? BigInt.asIntN(64, x) === x : BigInt.asUintN(64, x) === x;
  }
  return typeof x === "number"; // f32, f64, and Uint8ClampedArray (which clamps by design)
}

const RANGES: Record<Kind, string> = {
  [Kind.I8]: "an integer −128 … 127",
  [Kind.U8]: "an integer 0 … 255",
  [Kind.I16]: "an integer −32768 … 32767",
  [Kind.U16]: "an integer 0 … 65535",
  [Kind.I32]: "an integer −2^31 … 2^31−1",
  [Kind.U32]: "an integer 0 … 2^32−1",
  [Kind.F32]: "a number",
  [Kind.F64]: "a number",
  [Kind.I64]: "a bigint −2^63 … 2^63−1",
  [Kind.U64]: "a bigint 0 … 2^64−1",
  [Kind.U8C]: "a number",
};

/** Throws the error for a value that failed `isValue(kind, x)`; `what` names the slot. */
export function rejectValue(kind: Kind, x: unknown, what: string): never {
  const big = kind === Kind.I64 || kind === Kind.U64;
  const want = RANGES[kind];
  if (typeof x !== (big ? "bigint" : "number")) {
    throw new ArgumentTypeError(`${what} must be ${want}, got ${describe(x)}`, "ERR_ELEMENT_TYPE");
  }
  throw new ArgumentRangeError(`${what} must be ${want}, got ${describe(x)}`, "ERR_ELEMENT_RANGE");
}

/** Throws unless `x` is a value of `kind`. */
export function checkValue(kind: Kind, x: unknown, what: string): void {
  if (!isValue(kind, x)) rejectValue(kind, x, what);
}

/** A value in an error message. */
export function describe(x: unknown): string {
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "function") return x.name === "" ? "a function" : x.name;
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  if (typeof x === "object") return "an object";
  return Object.is(x, -0) ? "-0" : String(x);
}
