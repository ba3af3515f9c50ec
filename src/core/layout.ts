/**
 * `Layout`: a size and an alignment, the seeds' description of what to allocate.
 *
 * A layout is immutable. `Layout.of` validates (RELIABILITY.md §2.2 A–B): the size is a
 * non-negative safe integer below 2^32, the alignment a power of two 1 … MAX_ALIGN, and the
 * size rounded up to the alignment still fits below 2^32 (the overflow glibc got wrong).
 * Anything else throws `LayoutError` (a `RangeError`), or `ArgumentTypeError` for non-numbers.
 *
 * Pointers are 32-bit offsets (wasm32), so `Layout.ptr` is 4 bytes aligned to 4.
 */

import { alignUp } from "./bits.js";
import { ArgumentTypeError, LayoutError } from "./errors.js";
import { MAX_ALIGN, MAX_ALLOC_SIZE } from "./validate.js";

export class Layout {
  readonly size: number;
  readonly align: number;

  private constructor(size: number, align: number) {
    this.size = size;
    this.align = align;
    Object.freeze(this);
  }

  /** A validated layout of `size` bytes aligned to `align` (default 1). */
  static of(size: number, align = 1): Layout {
    if (typeof size !== "number") throw new ArgumentTypeError(`layout size must be a number`);
    if (typeof align !== "number") throw new ArgumentTypeError(`layout align must be a number`);
    if (!(Number.isSafeInteger(size) && size >= 0 && size <= MAX_ALLOC_SIZE)) {
      throw new LayoutError(`layout size must be an integer 0 … 2^32-1, got ${size}`);
    }
    if (
      !(Number.isInteger(align) && align >= 1 && align <= MAX_ALIGN && (align & (align - 1)) === 0)
    ) {
      throw new LayoutError(`layout align must be a power of two 1 … ${MAX_ALIGN}, got ${align}`);
    }
    if (!(alignUp(size, align) <= MAX_ALLOC_SIZE)) {
      throw new LayoutError(`layout size ${size} padded to align ${align} overflows 2^32`);
    }
    return new Layout(size === 0 ? 0 : size, align); // folds -0 into 0
  }

  static readonly i8: Layout = new Layout(1, 1);
  static readonly u8: Layout = new Layout(1, 1);
  static readonly i16: Layout = new Layout(2, 2);
  static readonly u16: Layout = new Layout(2, 2);
  static readonly i32: Layout = new Layout(4, 4);
  static readonly u32: Layout = new Layout(4, 4);
  static readonly f32: Layout = new Layout(4, 4);
  static readonly i64: Layout = new Layout(8, 8);
  static readonly u64: Layout = new Layout(8, 8);
  static readonly f64: Layout = new Layout(8, 8);
  /** A pointer: a 32-bit offset into linear memory. */
  static readonly ptr: Layout = new Layout(4, 4);

  /** `count` elements of `elem`, each padded to its alignment (Rust's `Layout::array`). */
  static array(elem: Layout, count: number): Layout {
    if (!(elem instanceof Layout)) throw new ArgumentTypeError("array element must be a Layout");
    if (typeof count !== "number") throw new ArgumentTypeError(`array count must be a number`);
    if (!(Number.isSafeInteger(count) && count >= 0)) {
      throw new LayoutError(`array count must be a non-negative integer, got ${count}`);
    }
    const stride = alignUp(elem.size, elem.align);
    const size = stride * count; // float64: exact while below 2^53, compared before use
    if (!(size <= MAX_ALLOC_SIZE)) {
      throw new LayoutError(`array of ${count} × ${stride} bytes overflows 2^32`);
    }
    return Layout.of(size, elem.align);
  }

  /**
   * The layout of a struct whose fields are `this` then `next`: `next` starts at `offset`,
   * the first multiple of `next.align` at or after `this.size`. The result is not padded at
   * its end; call `padToAlign()` for that (as Rust's `Layout::extend`).
   */
  extend(next: Layout): { layout: Layout; offset: number } {
    if (!(next instanceof Layout)) throw new ArgumentTypeError("extend takes a Layout");
    const offset = alignUp(this.size, next.align);
    const size = offset + next.size;
    if (!(size <= MAX_ALLOC_SIZE)) throw new LayoutError(`extended layout overflows 2^32`);
    return { layout: Layout.of(size, Math.max(this.align, next.align)), offset };
  }

  /** This layout with its size rounded up to its alignment (the size of an array element). */
  padToAlign(): Layout {
    return Layout.of(alignUp(this.size, this.align), this.align);
  }

  toString(): string {
    return `Layout(${this.size}, ${this.align})`;
  }
}

/** The result of `allocate(layout)`: where the block is and how many bytes it really has. */
export interface Allocation {
  readonly ptr: number;
  /** The usable size: at least the layout's size, possibly more. */
  readonly size: number;
}

// The seeds' function names, for readers porting code that uses them.

/** `layout_new(size, align)`. */
export const layoutNew = (size: number, align: number): Layout => Layout.of(size, align);
/** `layout_for_i64()`: 8 bytes, aligned to 8. */
export const layoutForI64 = (): Layout => Layout.i64;
/** `layout_for_i32()`: 4 bytes, aligned to 4. */
export const layoutForI32 = (): Layout => Layout.i32;
/** `layout_for_ptr()`: 4 bytes, aligned to 4 (a wasm32 pointer). */
export const layoutForPtr = (): Layout => Layout.ptr;
/** `layout_array(elem_size, elem_align, count)`. */
export const layoutArray = (elemSize: number, elemAlign: number, count: number): Layout =>
  Layout.array(Layout.of(elemSize, elemAlign), count);
/** `layout_extend(a, b)`: the combined layout and the offset of `b`. */
export const layoutExtend = (a: Layout, b: Layout): { layout: Layout; offset: number } =>
  a.extend(b);
