/**
 * Argument checks at the API boundary (RELIABILITY.md §2.1 P1, P2).
 *
 * The hot path pays one type check and one comparison per argument (`isUint32`):
 * `(size >>> 0) === size` is true exactly for the integers 0 … 2^32−1 (and −0), and false
 * for NaN, ±Infinity, fractions, negatives, strings and objects; the `typeof` test comes
 * first because `>>>` throws the engine's own TypeError on a bigint. Only when it fails does the slow path find out which error
 * to throw, or that the size is a valid integer too large for any heap (→ out of memory).
 */

import {
  ArgumentRangeError,
  ArgumentTypeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "./errors.js";

/** The largest alignment any allocator accepts: one WebAssembly page. */
export const MAX_ALIGN = 65536;
/** The default and minimum alignment of `alloc`: 8 bytes, enough for every scalar type. */
export const DEFAULT_ALIGN = 8;
/** The largest size a heap can hold: heaps are at most 4 GiB, offsets fit in 32 bits. */
export const MAX_ALLOC_SIZE = 2 ** 32 - 1;

function describe(x: unknown): string {
  if (typeof x === "bigint") return `${x}n`;
  if (typeof x === "string") return JSON.stringify(x);
  if (typeof x === "number") return Object.is(x, -0) ? "-0" : String(x);
  if (x === null) return "null";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? "an object" : String(x);
}

/**
 * Called when `isUint32(size)` is false. Throws for anything that is not a non-negative safe
 * integer; returns normally for a valid integer ≥ 2^32 (the caller then answers out of
 * memory, as C's malloc does for sizes no heap can hold).
 */
export function rejectSize(size: unknown, what = "size"): void {
  if (typeof size !== "number") {
    throw new ArgumentTypeError(`${what} must be a number, got ${describe(size)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new ArgumentRangeError(
      `${what} must be a non-negative safe integer, got ${describe(size)}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

/**
 * `alloc`'s answer for a size that failed `isUint32`: throws for anything that is not a
 * non-negative safe integer, and answers 0 (out of memory) for a valid integer no heap holds.
 */
export function outOfRangeSize(size: unknown): 0 {
  rejectSize(size);
  return 0;
}

/**
 * Validates `realloc`'s new size: false for a valid size too large for any heap (the caller
 * returns 0), throws for anything invalid and for 0 (`realloc(p, 0)` is not a free here).
 */
export function checkReallocSize(newSize: number): boolean {
  if (!isUint32(newSize)) {
    rejectSize(newSize, "newSize");
    return false;
  }
  if (newSize === 0) {
    throw new ArgumentRangeError(
      "realloc to size 0 is not allowed: dealloc the block instead",
      "ERR_ALLOC_SIZE",
    );
  }
  return true;
}

/** Throws the right error for an alignment that failed `isValidAlign`. */
export function rejectAlign(align: unknown): never {
  if (typeof align !== "number") {
    throw new ArgumentTypeError(`align must be a number, got ${describe(align)}`);
  }
  throw new ArgumentRangeError(
    `align must be a power of two from 1 to ${MAX_ALIGN}, got ${describe(align)}`,
    "ERR_ALLOC_ALIGN",
  );
}

/**
 * Whether `x` is an integer 0 … 2^32−1 (a valid size or pointer), and a number: `>>>` on a
 * bigint would throw the engine's own TypeError before our typed one.
 */
export function isUint32(x: number): boolean {
  return typeof x === "number" && x >>> 0 === x;
}

/** Whether `align` is a power of two in 1 … MAX_ALIGN. Written positively: NaN fails. */
export function isValidAlign(align: number): boolean {
  return (
    typeof align === "number" &&
    (align | 0) === align &&
    align > 0 &&
    align <= MAX_ALIGN &&
    (align & (align - 1)) === 0
  );
}

/** Throws unless `align` is a power of two in 1 … MAX_ALIGN. */
export function checkAlign(align: number): void {
  if (!isValidAlign(align)) rejectAlign(align);
}

/** Throws unless `size` is an integer 0 … 2^32−1 (`what` names it in the message). */
export function checkSize32(size: number, what = "size"): void {
  if (!isUint32(size)) {
    rejectSize(size, what);
    throw new ArgumentRangeError(
      `${what} must be below 2^32, got ${describe(size)}`,
      "ERR_ALLOC_SIZE",
    );
  }
}

/** Called when `isUint32(ptr)` is false: a pointer is an integer offset 0 … 2^32−1. */
export function rejectPointer(ptr: unknown): never {
  if (typeof ptr !== "number") {
    throw new ArgumentTypeError(`pointer must be a number, got ${describe(ptr)}`);
  }
  throw new InvalidPointerError(
    `pointer must be an integer offset 0 … 2^32-1, got ${describe(ptr)}`,
  );
}

/** The error for a pointer outside the allocator's region or not at a block start. */
export function invalidPointer(ptr: number, why: string): InvalidPointerError {
  return new InvalidPointerError(`invalid pointer ${ptr}: ${why}`);
}

/** Validates the optional size passed to `dealloc` (undefined means "not given"). */
export function checkDeallocSize(size: number | undefined): void {
  if (size !== undefined && !isUint32(size)) {
    rejectSize(size);
    throw new LayoutMismatchError(`size ${size} is larger than any block can be`);
  }
}

/**
 * `dealloc(ptr, size)`'s size where the strategy knows the most the block can hold: a valid
 * integer no larger than `most`. Throws `LayoutMismatchError` saying `${what} ${most} bytes`
 * ("the block holds only 40 bytes") otherwise, and a range or type error for a size that
 * is not a valid integer.
 */
export function checkSizeFits(
  ptr: number,
  size: number,
  most: number,
  what = "the block holds only",
): void {
  if (!isUint32(size)) rejectSize(size);
  if (size > most) {
    throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): ${what} ${most} bytes`);
  }
}
