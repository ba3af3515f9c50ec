/**
 * Reading and writing scalars at byte addresses of a memory, for struct fields: `load` and
 * `store` (one `switch` on the view kind, each case a literal view field, so every element
 * access site stays monomorphic), and the checks around them.
 *
 * Address checks are one add and two comparisons: the address is an integer 0 … 2^32−1
 * (`(a >>> 0) === a`: false for NaN, fractions, negatives and strings) aligned to the
 * scalar's size, and its index is below the view's length. The length check is the one the
 * engine makes anyway; when it fails the views are re-derived (`MemoryViews.sync`: the
 * memory grew or its buffer was replaced) and the access is tried once more, and only an
 * address past the end of the memory is then an error.
 */

import { InvalidPointerError } from "../core/errors.js";
import type { MemoryViews } from "../memory/views.js";
import { describe, isValue, Kind, rejectValue } from "./scalars.js";

/** Bytes of a scalar of each kind (its alignment too). */
const SIZE: Record<Kind, number> = {
  [Kind.I8]: 1,
  [Kind.U8]: 1,
  [Kind.I16]: 2,
  [Kind.U16]: 2,
  [Kind.I32]: 4,
  [Kind.U32]: 4,
  [Kind.F32]: 4,
  [Kind.F64]: 8,
  [Kind.I64]: 8,
  [Kind.U64]: 8,
  [Kind.U8C]: 1,
};

/** The scalar at byte address `a` (aligned, checked by the caller), or undefined past the view. */
function tryLoad(v: MemoryViews, kind: Kind, a: number): number | bigint | undefined {
  switch (kind) {
    case Kind.I8:
      return a < v.i8.length ? v.i8[a] : undefined;
    case Kind.U8:
      return a < v.u8.length ? v.u8[a] : undefined;
    case Kind.I16:
      return a >>> 1 < v.i16.length ? v.i16[a >>> 1] : undefined;
    case Kind.U16:
      return a >>> 1 < v.u16.length ? v.u16[a >>> 1] : undefined;
    case Kind.I32:
      return a >>> 2 < v.i32.length ? v.i32[a >>> 2] : undefined;
    case Kind.U32:
      return a >>> 2 < v.u32.length ? v.u32[a >>> 2] : undefined;
    case Kind.F32:
      return a >>> 2 < v.f32.length ? v.f32[a >>> 2] : undefined;
    case Kind.F64:
      return a >>> 3 < v.f64.length ? v.f64[a >>> 3] : undefined;
    case Kind.I64:
      return a >>> 3 < v.i64.length ? v.i64[a >>> 3] : undefined;
    case Kind.U64:
      return a >>> 3 < v.u64.length ? v.u64[a >>> 3] : undefined;
    default:
      return undefined; // U8C: vectors only, never a struct field
  }
}

/** Writes `x` (checked by the caller) at byte address `a`; false when past the view. */
function tryStore(v: MemoryViews, kind: Kind, a: number, x: number | bigint): boolean {
  switch (kind) {
    case Kind.I8:
      if (!(a < v.i8.length)) return false;
      v.i8[a] = x as number;
      return true;
    case Kind.U8:
      if (!(a < v.u8.length)) return false;
      v.u8[a] = x as number;
      return true;
    case Kind.I16:
      if (!(a >>> 1 < v.i16.length)) return false;
      v.i16[a >>> 1] = x as number;
      return true;
    case Kind.U16:
      if (!(a >>> 1 < v.u16.length)) return false;
      v.u16[a >>> 1] = x as number;
      return true;
    case Kind.I32:
      if (!(a >>> 2 < v.i32.length)) return false;
      v.i32[a >>> 2] = x as number;
      return true;
    case Kind.U32:
      if (!(a >>> 2 < v.u32.length)) return false;
      v.u32[a >>> 2] = x as number;
      return true;
    case Kind.F32:
      if (!(a >>> 2 < v.f32.length)) return false;
      v.f32[a >>> 2] = x as number;
      return true;
    case Kind.F64:
      if (!(a >>> 3 < v.f64.length)) return false;
      v.f64[a >>> 3] = x as number;
      return true;
    case Kind.I64:
      if (!(a >>> 3 < v.i64.length)) return false;
      v.i64[a >>> 3] = x as bigint;
      return true;
    case Kind.U64:
      if (!(a >>> 3 < v.u64.length)) return false;
      v.u64[a >>> 3] = x as bigint;
      return true;
    default:
      return false; // U8C: vectors only, never a struct field
  }
}

/** The scalar at byte address `a` (an aligned integer: see `checkAddress`). */
export function load(v: MemoryViews, kind: Kind, a: number): number | bigint {
  const x = tryLoad(v, kind, a);
  if (x !== undefined) return x;
  v.sync();
  const y = tryLoad(v, kind, a);
  if (y === undefined) throw outside(v, a);
  return y;
}

/** Writes `x` (already checked against the field's type) at byte address `a`. */
export function store(v: MemoryViews, kind: Kind, a: number, x: number | bigint): void {
  if (tryStore(v, kind, a, x)) return;
  v.sync();
  if (!tryStore(v, kind, a, x)) throw outside(v, a);
}

/**
 * The slow half of a field reader (fields.ts): `ptr + off` failed the fast checks. Throws
 * for a bad pointer; else the views were stale (growth) and the read is tried once more.
 */
export function slowLoad(v: MemoryViews, kind: Kind, ptr: number, off: number): number | bigint {
  const a = ptr + off;
  if (!(isAddress(ptr, 0) && isAddress(a, SIZE[kind] - 1))) throw badPointer(ptr, SIZE[kind]);
  return load(v, kind, a);
}

/** The slow half of a field writer: checks the value and the pointer, then `store`s. */
export function slowStore(
  v: MemoryViews,
  kind: Kind,
  ptr: number,
  off: number,
  x: unknown,
  what: string,
): void {
  if (!isValue(kind, x)) rejectValue(kind, x, what);
  const a = ptr + off;
  if (!(isAddress(ptr, 0) && isAddress(a, SIZE[kind] - 1))) throw badPointer(ptr, SIZE[kind]);
  store(v, kind, a, x as number | bigint);
}

/** Whether `a` is an integer address 0 … 2^32−1 that is a multiple of `mask + 1`. */
export function isAddress(a: number, mask: number): boolean {
  return a >>> 0 === a && (a & mask) === 0;
}

/** The error for a pointer argument that failed `isAddress(ptr + offset, mask)`. */
export function badPointer(ptr: unknown, align: number): InvalidPointerError {
  return new InvalidPointerError(
    `invalid pointer ${describe(ptr)}: expected an integer offset aligned to ${align}`,
  );
}

function outside(v: MemoryViews, a: number): InvalidPointerError {
  return new InvalidPointerError(
    `invalid pointer: byte ${a} is past the end of the memory (${v.u8.length} bytes)`,
  );
}
