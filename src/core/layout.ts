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

/**
 * A size and an alignment: what to allocate. Immutable; made by {@link Layout.of},
 * {@link Layout.array}, {@link Layout.extend} or one of the scalar layouts (`Layout.i64`, …).
 *
 * @example
 * ```ts
 * import { Layout, TlsfAllocator } from "memkit";
 *
 * // struct { f64 x; u32 id; } laid out as C would: id at offset 8, size 16, align 8.
 * const { layout, offset } = Layout.f64.extend(Layout.u32);
 * const record = layout.padToAlign();
 * console.assert(offset === 8 && record.size === 16 && record.align === 8);
 *
 * const heap = new TlsfAllocator(64 * 1024);
 * const block = heap.allocate(Layout.array(record, 100)); // null when out of memory
 * if (block === null) throw new Error("out of memory");
 * heap.deallocate(block.ptr, Layout.array(record, 100));
 * ```
 */
export class Layout {
  /** Bytes: an integer 0 … 2^32 − 1. */
  readonly size: number;
  /** The alignment: a power of two 1 … 65536. */
  readonly align: number;

  private constructor(size: number, align: number) {
    this.size = size;
    this.align = align;
    Object.freeze(this);
  }

  /**
   * A validated layout of `size` bytes aligned to `align`.
   *
   * @param size - bytes, an integer 0 … 2^32 − 1
   * @param align - a power of two 1 … 65536 (default 1)
   * @returns the layout
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when an argument is not a number
   * @throws {@link LayoutError} `ERR_LAYOUT` when a value is out of range, or the size padded
   *   to the alignment overflows 2^32
   */
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

  /** A 1-byte signed integer. */
  static readonly i8: Layout = new Layout(1, 1);
  /** A 1-byte unsigned integer. */
  static readonly u8: Layout = new Layout(1, 1);
  /** A 2-byte signed integer, aligned to 2. */
  static readonly i16: Layout = new Layout(2, 2);
  /** A 2-byte unsigned integer, aligned to 2. */
  static readonly u16: Layout = new Layout(2, 2);
  /** A 4-byte signed integer, aligned to 4. */
  static readonly i32: Layout = new Layout(4, 4);
  /** A 4-byte unsigned integer, aligned to 4. */
  static readonly u32: Layout = new Layout(4, 4);
  /** A 4-byte float, aligned to 4. */
  static readonly f32: Layout = new Layout(4, 4);
  /** A 8-byte signed integer, aligned to 8. */
  static readonly i64: Layout = new Layout(8, 8);
  /** A 8-byte unsigned integer, aligned to 8. */
  static readonly u64: Layout = new Layout(8, 8);
  /** A 8-byte float, aligned to 8. */
  static readonly f64: Layout = new Layout(8, 8);
  /** A pointer: a 32-bit offset into linear memory. */
  static readonly ptr: Layout = new Layout(4, 4);

  /**
   * `count` elements of `elem`, each padded to its alignment (Rust's `Layout::array`).
   *
   * @param elem - the element's layout
   * @param count - how many elements, a non-negative integer
   * @returns a layout of `count` strides, aligned as `elem`
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `elem` is not a Layout
   * @throws {@link LayoutError} `ERR_LAYOUT` for a bad count or a size past 2^32
   */
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
   *
   * @param next - the next field's layout
   * @returns `layout`, the struct so far, and `offset`, where `next` starts in it
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `next` is not a Layout
   * @throws {@link LayoutError} `ERR_LAYOUT` when the struct would pass 2^32 bytes
   */
  extend(next: Layout): {
    /** The struct's layout with `next` added (not padded at its end). */
    layout: Layout;
    /** The byte offset of `next` in it. */
    offset: number;
  } {
    if (!(next instanceof Layout)) throw new ArgumentTypeError("extend takes a Layout");
    const offset = alignUp(this.size, next.align);
    const size = offset + next.size;
    if (!(size <= MAX_ALLOC_SIZE)) throw new LayoutError(`extended layout overflows 2^32`);
    return { layout: Layout.of(size, Math.max(this.align, next.align)), offset };
  }

  /**
   * This layout with its size rounded up to its alignment (the size of an array element).
   *
   * @returns the padded layout
   */
  padToAlign(): Layout {
    return Layout.of(alignUp(this.size, this.align), this.align);
  }

  /** @returns `Layout(size, align)` */
  toString(): string {
    return `Layout(${this.size}, ${this.align})`;
  }
}

/** The result of `allocate(layout)`: where the block is and how many bytes it really has. */
export interface Allocation {
  /** The block's address: a byte offset into the allocator's memory. */
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
export const layoutExtend = (
  a: Layout,
  b: Layout,
): {
  /** The combined layout (not padded at its end). */
  layout: Layout;
  /** The byte offset of `b` in it. */
  offset: number;
} => a.extend(b);

/**
 * What an allocator's block costs beyond its request (`TlsfAllocator.blockLayout`): the
 * bytes before the pointer and the rounding of its size. `footprintFloor` takes one to give
 * the least footprint such blocks allow on a trace.
 */
export interface BlockLayout {
  /** Bytes kept in the block before the pointer (a size word: 4 for TLSF; 0 for none). */
  readonly header: number;
  /** Every block size is a multiple of this (a power of two; of the alignment when larger). */
  readonly granule: number;
  /** The smallest block (a free block's links need room). */
  readonly minBlock: number;
}
