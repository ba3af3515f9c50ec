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

/** Which check a value goes through (small integers: monomorphic `switch`es on the hot path). */
export const Check = {
  I8: 0,
  U8: 1,
  I16: 2,
  U16: 3,
  I32: 4,
  U32: 5,
  /** Any number: f32, f64, and Uint8ClampedArray (which clamps by design). */
  Number: 6,
  I64: 7,
  U64: 8,
} as const;
export type Check = (typeof Check)[keyof typeof Check];

/** The `MemoryViews` field that reads a scalar. */
export type ViewName = "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "f32" | "f64" | "i64" | "u64";

export interface ScalarInfo {
  readonly name: Scalar;
  readonly size: number;
  /** log2(size): element index = byte address >>> shift. */
  readonly shift: number;
  readonly check: Check;
  readonly view: ViewName;
  readonly ctor: TypedArrayConstructor<TypedArray>;
}

function info(
  name: Scalar,
  size: number,
  check: Check,
  view: ViewName,
  ctor: TypedArrayConstructor<TypedArray>,
): ScalarInfo {
  return Object.freeze({ name, size, shift: Math.log2(size), check, view, ctor });
}

export const SCALARS: Readonly<Record<Scalar, ScalarInfo>> = Object.freeze({
  i8: info("i8", 1, Check.I8, "i8", Int8Array),
  u8: info("u8", 1, Check.U8, "u8", Uint8Array),
  i16: info("i16", 2, Check.I16, "i16", Int16Array),
  u16: info("u16", 2, Check.U16, "u16", Uint16Array),
  i32: info("i32", 4, Check.I32, "i32", Int32Array),
  u32: info("u32", 4, Check.U32, "u32", Uint32Array),
  ptr: info("ptr", 4, Check.U32, "u32", Uint32Array),
  f32: info("f32", 4, Check.Number, "f32", Float32Array),
  f64: info("f64", 8, Check.Number, "f64", Float64Array),
  i64: info("i64", 8, Check.I64, "i64", BigInt64Array),
  u64: info("u64", 8, Check.U64, "u64", BigUint64Array),
});

/** Whether `x` names a scalar type. */
export function isScalar(x: unknown): x is Scalar {
  return typeof x === "string" && Object.hasOwn(SCALARS, x);
}

/** The check of each typed-array constructor (anything else is not an element type). */
const CHECK_OF_CTOR = new Map<unknown, Check>([
  [Int8Array, Check.I8],
  [Uint8Array, Check.U8],
  [Uint8ClampedArray, Check.Number],
  [Int16Array, Check.I16],
  [Uint16Array, Check.U16],
  [Int32Array, Check.I32],
  [Uint32Array, Check.U32],
  [Float32Array, Check.Number],
  [Float64Array, Check.Number],
  [BigInt64Array, Check.I64],
  [BigUint64Array, Check.U64],
]);

/** The value check of a typed-array constructor; `ERR_ELEMENT_TYPE` for anything else. */
export function checkOfCtor(ctor: unknown): Check {
  const c = CHECK_OF_CTOR.get(ctor);
  if (c === undefined) {
    throw new ArgumentTypeError(
      `expected a typed-array constructor (Int8Array … BigUint64Array), got ${describe(ctor)}`,
      "ERR_ELEMENT_TYPE",
    );
  }
  return c;
}

/** Whether `x` passes `check` (no exception: the hot path calls this, then `rejectValue`). */
export function isValue(check: Check, x: unknown): boolean {
  // `typeof` first: a bit operation on a bigint throws the engine's own TypeError.
  if (check < Check.Number) {
    if (typeof x !== "number") return false;
    switch (check) {
      case Check.I8:
        return (x << 24) >> 24 === x;
      case Check.U8:
        return (x & 0xff) === x;
      case Check.I16:
        return (x << 16) >> 16 === x;
      case Check.U16:
        return (x & 0xffff) === x;
      case Check.I32:
        return (x | 0) === x;
      default:
        return x >>> 0 === x;
    }
  }
  if (check === Check.Number) return typeof x === "number";
  if (typeof x !== "bigint") return false;
  return check === Check.I64 ? BigInt.asIntN(64, x) === x : BigInt.asUintN(64, x) === x;
}

const RANGES: Record<number, string> = {
  [Check.I8]: "an integer −128 … 127",
  [Check.U8]: "an integer 0 … 255",
  [Check.I16]: "an integer −32768 … 32767",
  [Check.U16]: "an integer 0 … 65535",
  [Check.I32]: "an integer −2^31 … 2^31−1",
  [Check.U32]: "an integer 0 … 2^32−1",
  [Check.Number]: "a number",
  [Check.I64]: "a bigint −2^63 … 2^63−1",
  [Check.U64]: "a bigint 0 … 2^64−1",
};

/** Throws the error for a value that failed `isValue(check, x)`; `what` names the slot. */
export function rejectValue(check: Check, x: unknown, what: string): never {
  const big = check === Check.I64 || check === Check.U64;
  const want = RANGES[check];
  if (typeof x !== (big ? "bigint" : "number")) {
    throw new ArgumentTypeError(`${what} must be ${want}, got ${describe(x)}`, "ERR_ELEMENT_TYPE");
  }
  throw new ArgumentRangeError(`${what} must be ${want}, got ${describe(x)}`, "ERR_ELEMENT_RANGE");
}

/** Throws unless `x` passes `check`. */
export function checkValue(check: Check, x: unknown, what: string): void {
  if (!isValue(check, x)) rejectValue(check, x, what);
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
