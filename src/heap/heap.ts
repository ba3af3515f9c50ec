/**
 * `Heap`: memkit's default allocator, the seeds' global allocator. A `TlsfAllocator` with its
 * front end (freed blocks under 512 bytes kept per size for the next request of that size,
 * strategies/tlsf/layout.ts) over a memory that starts small and grows (a
 * `WebAssembly.Memory` of its own by default, or a wasm module's memory so JS can place data
 * where the module reads it), with the C names (`malloc`, `calloc`, `realloc`, `free`,
 * `memalign`, `usableSize`), typed arrays and UTF-8 strings.
 *
 * Views and growth: growing a `WebAssembly.Memory` detaches every view over its old buffer
 * (reads give `undefined`, writes are dropped silently). So the heap never hands out a
 * long-lived typed array: `heap.u8`, `heap.f64`, … are getters that re-derive their view when
 * the memory changed, and `allocArray` returns a `HeapArray` whose `view` getter does the same.
 *
 * Choices: `malloc(0)` returns a unique minimal block; `realloc(p, 0)` throws `RangeError`
 * (free the block instead); `calloc(n, size)` whose product exceeds 4 GiB returns 0, like C.
 * The C names, the strings and the arrays give blocks aligned to `minAlign` (8, or 16 in a
 * wasm module's memory, as C there expects of malloc); `memalign` up to 64 KiB.
 */

import { ArgumentRangeError } from "../core/errors.js";
import type { Memory } from "../core/memory.js";
import {
  checkSize32,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  MAX_ALLOC_SIZE,
  rejectAlign,
  rejectSize,
} from "../core/validate.js";
import { PAGE_BYTES, WasmMemory } from "../memory/memory.js";
import { readString, writeString } from "../memory/strings.js";
import { TlsfAllocator, type TlsfOptions } from "../strategies/tlsf/index.js";
import { checkArrayCtor, HeapArray, type TypedArray, type TypedArrayConstructor } from "./array.js";

/** Options of {@link Heap}. */
export interface HeapOptions extends TlsfOptions {
  /** Bytes the heap starts with (default 64 KiB, rounded up to whole 64 KiB pages). */
  initialBytes?: number;
  /** The most it may grow to (default 1 GiB; at most 4 GiB). */
  maxBytes?: number;
  /** Run on this memory instead of a new `WebAssembly.Memory`. */
  memory?: Memory;
  /**
   * The alignment of every block `malloc`, `calloc`, `realloc`, `memalign`, `writeString` and
   * `allocArray` return: a power of two, 8 … 65536 (default 8; 16 for `inWasmMemory`, C's
   * `max_align_t` on wasm32). `alloc` and `allocZeroed` take the alignment they are given.
   */
  minAlign?: number;
}

export { byteLengthUtf8 } from "../memory/strings.js";

/**
 * memkit's default allocator: a general-purpose heap for blocks of any size freed in any
 * order (a TLSF allocator that also keeps recently freed small blocks per size), over a
 * `WebAssembly.Memory` that starts at 64 KiB and grows. It has C's names (`malloc`,
 * `calloc`, `realloc`, `free`, `memalign`), typed arrays that stay valid across growth, and
 * UTF-8 strings; `Heap.inWasmMemory` runs it inside a wasm module's memory, so JS places data
 * where the module reads it. `malloc` returns 0 when out of memory, never throws for it.
 *
 * @example
 * ```ts
 * import { Heap } from "memkit";
 *
 * const heap = new Heap();
 * const p = heap.malloc(100); // 0 means out of memory
 * heap.u8.fill(7, p, p + 100);
 * const q = heap.realloc(p, 10_000); // keeps the first 100 bytes
 * console.log(heap.u8[q + 99]); // 7
 * heap.free(q);
 *
 * const v = heap.allocArray(Float64Array, 1000)!; // v.view stays valid when the heap grows
 * v.view[0] = 1.5;
 * const s = heap.writeString("héllo"); // UTF-8, 0-terminated: a char* for C code
 * console.log(heap.readString(s), v.view[0]); // héllo 1.5
 * heap.free(s);
 * v.free();
 * ```
 */
export class Heap extends TlsfAllocator {
  override readonly name = "Heap";
  /** The alignment the C names, strings and arrays give at least (`HeapOptions.minAlign`). */
  readonly minAlign: number;

  /**
   * @param options - start and maximum size, the memory, `minAlign`
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE`, `ERR_ALLOC_ALIGN` or `ERR_MEMORY`
   *   for a bad size, `minAlign` or memory
   */
  constructor(options: HeapOptions = {}) {
    super(heapMemory(options), { frontEnd: true, ...options });
    this.minAlign = options.minAlign ?? DEFAULT_ALIGN;
  }

  /**
   * A heap inside a wasm module's memory, from `heapBase` (the module's `__heap_base`, above
   * its static data and stack) to the end of the memory, growing it by whole pages. JS then
   * writes strings and arrays where the module reads them, with no copy and no wasm malloc.
   * The heap must be the module's only allocator: link the module without its own malloc.
   *
   * @param memory - the module's exported memory
   * @param heapBase - where the heap starts: the module's `__heap_base`
   * @param maximumPages - the most pages the memory may grow to (default: its limit)
   * @param options - `minAlign` (default 16, C's `max_align_t` on wasm32)
   * @returns the heap, its header written at `heapBase`
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `memory` is not a `WebAssembly.Memory`
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` or `ERR_ALLOC_ALIGN` for a bad base,
   *   page count or alignment (checked before anything is written)
   */
  static inWasmMemory(
    memory: WebAssembly.Memory,
    heapBase: number,
    maximumPages?: number,
    options: { minAlign?: number } = {},
  ): Heap {
    return new Heap({
      memory: new WasmMemory(memory, heapBase, maximumPages),
      minAlign: options.minAlign ?? C_WASM32_ALIGN,
    });
  }

  // ---- the C names -----------------------------------------------------------------------

  /**
   * C's `malloc`.
   *
   * @param size - bytes wanted
   * @returns a block aligned to `minAlign`, or 0 when out of memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` for a negative or fractional size
   */
  malloc(size: number): number {
    return this.alloc(size, this.minAlign);
  }

  /**
   * C's `calloc`.
   *
   * @param count - elements
   * @param size - bytes per element
   * @returns a zeroed block of `count × size` bytes, or 0 when out of memory or when the
   *   product passes 4 GiB
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` for a negative or fractional argument
   */
  calloc(count: number, size: number): number {
    if (!isUint32(count)) rejectSize(count, "count");
    if (!isUint32(size)) rejectSize(size, "size");
    const bytes = count * size; // exact in float64 (< 2^64 is not needed: compared below)
    if (!(bytes <= MAX_ALLOC_SIZE)) return 0;
    return this.allocZeroed(bytes, this.minAlign);
  }

  /**
   * C's `memalign`.
   *
   * @param align - a power of two up to 65536
   * @param size - bytes wanted
   * @returns a block aligned to `align` and to `minAlign`, or 0 when out of memory
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_ALIGN` or `ERR_ALLOC_SIZE`
   */
  memalign(align: number, size: number): number {
    return this.alloc(size, this.atLeastMin(align));
  }

  /**
   * C's `realloc`: in place when the block can grow or shrink where it is, else moved.
   *
   * @param ptr - a live block, or 0 (then it is `malloc`)
   * @param newSize - bytes wanted, ≥ 1 (free a block with `free`, not `realloc(p, 0)`)
   * @param align - the alignment a moved block needs (default `minAlign`)
   * @returns the block's address, or 0 when out of memory (the old block intact)
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` for 0 or a bad size, `ERR_ALLOC_ALIGN`
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER`; {@link DoubleFreeError}
   *   `ERR_DOUBLE_FREE` for a freed block
   */
  override realloc(ptr: number, newSize: number, align: number = this.minAlign): number {
    return super.realloc(ptr, newSize, this.atLeastMin(align));
  }

  /** `align` raised to `minAlign`; an invalid one is passed on for TLSF to reject. */
  private atLeastMin(align: number): number {
    return align < this.minAlign && isValidAlign(align) ? this.minAlign : align;
  }

  /**
   * C's `free`; `free(0)` does nothing.
   *
   * @param ptr - a live block
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER`; {@link DoubleFreeError}
   *   `ERR_DOUBLE_FREE`
   */
  free(ptr: number): void {
    this.dealloc(ptr);
  }

  // ---- typed views -----------------------------------------------------------------------

  /** The memory's bytes, valid now: read it again after a call that may grow the heap. */
  get u8(): Uint8Array {
    return this.freshMemory().u8;
  }
  /** The memory as int32s (index `ptr >> 2`), valid now. */
  get i32(): Int32Array {
    return this.freshMemory().i32;
  }
  /** The memory as uint32s (index `ptr >> 2`), valid now. */
  get u32(): Uint32Array {
    return this.freshMemory().u32;
  }
  /** The memory as float64s (index `ptr >> 3`), valid now. */
  get f64(): Float64Array {
    return this.freshMemory().f64;
  }
  /** A DataView over the whole memory, valid now. */
  get dataView(): DataView {
    const m = this.freshMemory();
    return new DataView(m.buffer);
  }

  /**
   * A zeroed typed array in a new block, whose `view` stays valid when the heap grows.
   *
   * @param ctor - the element type (`Float64Array`, …)
   * @param length - elements
   * @returns the array, or null when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `ctor` is not a typed-array type
   */
  allocArray<T extends TypedArray>(
    ctor: TypedArrayConstructor<T>,
    length: number,
  ): HeapArray<T> | null {
    checkArrayCtor(ctor);
    checkSize32(length, "length");
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    if (!(bytes <= MAX_ALLOC_SIZE)) return null;
    const ptr = this.allocZeroed(bytes, Math.max(this.minAlign, ctor.BYTES_PER_ELEMENT));
    return ptr === 0 ? null : new HeapArray(this, ctor, ptr, length);
  }

  /**
   * A `HeapArray` over `length` elements of a block this heap handed out (one a wasm module
   * allocated, say).
   *
   * @param ctor - the element type
   * @param ptr - a live block
   * @param length - elements; they must fit in the block
   * @returns the array over the block (no copy)
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER` when `ptr` is not a live block
   * @throws `RangeError` when the elements do not fit in the block
   */
  arrayAt<T extends TypedArray>(
    ctor: TypedArrayConstructor<T>,
    ptr: number,
    length: number,
  ): HeapArray<T> {
    checkArrayCtor(ctor);
    checkSize32(length, "length");
    const usable = this.usableSize(ptr); // validates ptr
    if (length * ctor.BYTES_PER_ELEMENT > usable) {
      throw new RangeError(
        `${length} elements of ${ctor.BYTES_PER_ELEMENT} bytes exceed the block's ${usable}`,
      );
    }
    return new HeapArray(this, ctor, ptr, length);
  }

  // ---- strings ---------------------------------------------------------------------------

  /**
   * Writes `text` as UTF-8 followed by a 0 byte (C's convention) into a new block; returns
   * its pointer, or 0 when out of memory. `byteLengthUtf8(text)` tells the length without
   * the 0.
   *
   * @param text - any string
   * @returns the block's address, or 0 when out of memory
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `text` is not a string
   */
  writeString(text: string): number {
    return writeString(this, text, this.minAlign);
  }

  /**
   * Reads UTF-8 text at `ptr`: `byteLength` bytes, or up to the first 0 byte within the
   * block. Invalid UTF-8 becomes U+FFFD.
   *
   * @param ptr - a live block (or an address inside one)
   * @param byteLength - bytes to read (default: up to the first 0 byte in the block)
   * @returns the text
   * @throws {@link InvalidPointerError} `ERR_INVALID_POINTER` when `ptr` is not in a live block
   */
  readString(ptr: number, byteLength?: number): string {
    return readString(this, ptr, byteLength);
  }

  private freshMemory(): Memory {
    const m = this.memory;
    if (m.u8.length === 0 || m.kind === "wasm" || m.kind === "shared") m.refresh();
    return m;
  }
}

/** `_Alignof(max_align_t)` on wasm32: what C code expects of `malloc` there. */
const C_WASM32_ALIGN = 16;

function checkMinAlign(align: number): void {
  if (!isValidAlign(align)) rejectAlign(align);
  if (align < DEFAULT_ALIGN) {
    throw new ArgumentRangeError(
      `minAlign must be at least ${DEFAULT_ALIGN}, got ${align}`,
      "ERR_ALLOC_ALIGN",
    );
  }
}

/** The heap's memory, after checking the options that TLSF does not (before it writes). */
function heapMemory(options: HeapOptions): Memory {
  if (options.minAlign !== undefined) checkMinAlign(options.minAlign);
  return options.memory ?? defaultMemory(options);
}

/**
 * The memory a Heap makes for itself: a `WebAssembly.Memory` of whole 64 KiB pages. It grows
 * like a resizable ArrayBuffer but its views are plain ones, which the engine accesses faster
 * (measured on W1: a TLSF on a resizable ArrayBuffer took ~15 ns more per alloc/free pair).
 * Growth replaces the buffer; the heap's own getters and `HeapArray` follow it.
 */
function defaultMemory(options: HeapOptions): Memory {
  const asked = options.initialBytes ?? 65536;
  checkSize32(asked, "initialBytes");
  const initial = Math.max(asked, TlsfAllocator.metadataSize + 64);
  const max = options.maxBytes ?? 2 ** 30;
  if (!(Number.isSafeInteger(max) && max >= initial && max <= 2 ** 32)) {
    throw new ArgumentRangeError(
      `maxBytes must be an integer ${initial} … 2^32, got ${max}`,
      "ERR_MEMORY",
    );
  }
  const pages = Math.ceil(initial / PAGE_BYTES);
  const maxPages = Math.max(pages, Math.floor(max / PAGE_BYTES));
  return WasmMemory.create(pages, maxPages);
}
