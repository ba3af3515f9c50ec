/**
 * The plain functions that read and write one scalar field at a pointer (`Struct.reader`,
 * `Struct.writer`, and a struct vector's by index): the typed layer's hot path.
 *
 * One function literal per element kind, not one for all with a `switch`: V8 keeps type
 * feedback per literal, so a generic reader used for an f64 field and a u32 field would see
 * two array types and two result types, stop being inlined, and box every float64 it returns
 * (a heap allocation per read: measured, 100,000 records updated 50 times through a generic
 * reader ran ~50 collections, through these ~10). Each literal here sees one typed array and one value type, is small enough
 * to inline into the caller's loop, and returns unboxed numbers.
 *
 * The fast path is one condition: the value has the field's type and range (writers), the
 * pointer and the field's address are integers 0 … 2^32−1 (`(a >>> 0) === a` is false for NaN,
 * fractions, negatives, strings and 2^32 and above), the address is aligned, and its index is
 * below the view's length (the bounds check the engine makes anyway). Anything else goes to `slowLoad`/`slowStore` in access.ts, which throw the right
 * typed error, or re-derive the views after growth and try once more.
 */

import type { MemoryViews } from "../memory/views.js";
import { slowLoad, slowStore } from "./access.js";
import { Kind } from "./scalars.js";

export type FieldReader = (ptr: number) => number | bigint;
export type FieldWriter = (ptr: number, value: number | bigint) => void;

type MakeReader = (v: MemoryViews, off: number) => FieldReader;
type MakeWriter = (v: MemoryViews, off: number, what: string) => FieldWriter;

// `p >>> 0 === p && a >>> 0 === a` tests the address; `(a & m) === 0` its alignment; the rest the bounds.

const READERS: Record<Exclude<Kind, typeof Kind.U8C>, MakeReader> = {
  [Kind.I8]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && a < v.i8.length ? v.i8[a] : slowLoad(v, Kind.I8, p, o);
  },
  [Kind.U8]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && a < v.u8.length ? v.u8[a] : slowLoad(v, Kind.U8, p, o);
  },
  [Kind.I16]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 1) === 0 && a >>> 1 < v.i16.length
      ? v.i16[a >>> 1]
      : slowLoad(v, Kind.I16, p, o);
  },
  [Kind.U16]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 1) === 0 && a >>> 1 < v.u16.length
      ? v.u16[a >>> 1]
      : slowLoad(v, Kind.U16, p, o);
  },
  [Kind.I32]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 3) === 0 && a >>> 2 < v.i32.length
      ? v.i32[a >>> 2]
      : slowLoad(v, Kind.I32, p, o);
  },
  [Kind.U32]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 3) === 0 && a >>> 2 < v.u32.length
      ? v.u32[a >>> 2]
      : slowLoad(v, Kind.U32, p, o);
  },
  [Kind.F32]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 3) === 0 && a >>> 2 < v.f32.length
      ? v.f32[a >>> 2]
      : slowLoad(v, Kind.F32, p, o);
  },
  [Kind.F64]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 7) === 0 && a >>> 3 < v.f64.length
      ? v.f64[a >>> 3]
      : slowLoad(v, Kind.F64, p, o);
  },
  [Kind.I64]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 7) === 0 && a >>> 3 < v.i64.length
      ? v.i64[a >>> 3]
      : slowLoad(v, Kind.I64, p, o);
  },
  [Kind.U64]: (v, o) => (p) => {
    const a = p + o;
    return p >>> 0 === p && a >>> 0 === a && (a & 7) === 0 && a >>> 3 < v.u64.length
      ? v.u64[a >>> 3]
      : slowLoad(v, Kind.U64, p, o);
  },
};

const WRITERS: Record<Exclude<Kind, typeof Kind.U8C>, MakeWriter> = {
  [Kind.I8]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      (x << 24) >> 24 === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      a < v.i8.length
    ) {
      v.i8[a] = x;
    } else slowStore(v, Kind.I8, p, o, x, w);
  },
  [Kind.U8]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      (x & 0xff) === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      a < v.u8.length
    ) {
      v.u8[a] = x;
    } else slowStore(v, Kind.U8, p, o, x, w);
  },
  [Kind.I16]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      (x << 16) >> 16 === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 1) === 0 &&
      a >>> 1 < v.i16.length
    ) {
      v.i16[a >>> 1] = x;
    } else slowStore(v, Kind.I16, p, o, x, w);
  },
  [Kind.U16]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      (x & 0xffff) === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 1) === 0 &&
      a >>> 1 < v.u16.length
    ) {
      v.u16[a >>> 1] = x;
    } else slowStore(v, Kind.U16, p, o, x, w);
  },
  [Kind.I32]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      (x | 0) === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 3) === 0 &&
      a >>> 2 < v.i32.length
    ) {
      v.i32[a >>> 2] = x;
    } else slowStore(v, Kind.I32, p, o, x, w);
  },
  [Kind.U32]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      x >>> 0 === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 3) === 0 &&
      a >>> 2 < v.u32.length
    ) {
      v.u32[a >>> 2] = x;
    } else slowStore(v, Kind.U32, p, o, x, w);
  },
  [Kind.F32]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 3) === 0 &&
      a >>> 2 < v.f32.length
    ) {
      v.f32[a >>> 2] = x;
    } else slowStore(v, Kind.F32, p, o, x, w);
  },
  [Kind.F64]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "number" &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 7) === 0 &&
      a >>> 3 < v.f64.length
    ) {
      v.f64[a >>> 3] = x;
    } else slowStore(v, Kind.F64, p, o, x, w);
  },
  [Kind.I64]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "bigint" &&
      BigInt.asIntN(64, x) === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 7) === 0 &&
      a >>> 3 < v.i64.length
    ) {
      v.i64[a >>> 3] = x;
    } else slowStore(v, Kind.I64, p, o, x, w);
  },
  [Kind.U64]: (v, o, w) => (p, x) => {
    const a = p + o;
    if (
      typeof x === "bigint" &&
      BigInt.asUintN(64, x) === x &&
      p >>> 0 === p &&
      a >>> 0 === a &&
      (a & 7) === 0 &&
      a >>> 3 < v.u64.length
    ) {
      v.u64[a >>> 3] = x;
    } else slowStore(v, Kind.U64, p, o, x, w);
  },
};

/** A function reading the `kind` scalar at `ptr + off` (checked; see the module comment). */
export function fieldReader(v: MemoryViews, kind: Kind, off: number): FieldReader {
  return READERS[kind as Exclude<Kind, typeof Kind.U8C>](v, off);
}

/** A function writing the `kind` scalar at `ptr + off`; `what` names the field in errors. */
export function fieldWriter(v: MemoryViews, kind: Kind, off: number, what: string): FieldWriter {
  return WRITERS[kind as Exclude<Kind, typeof Kind.U8C>](v, off, what);
}
