/**
 * The memory kinds: the implementations of core's `Memory` contract (core/memory.ts), which
 * says what a memory is; this module says how each kind gets, grows and re-views its bytes.
 *
 * Kinds (DESIGN.md "Memories"):
 * | kind       | bytes | grows            | fresh bytes are zero | views on growth               |
 * | ---------- | ----- | ---------------- | -------------------- | ----------------------------- |
 * | `fixed`    | yes   | no               | only if told so      | never change                  |
 * | `growable` | yes   | `resize()`       | yes                  | kept (length-tracking)        |
 * | `shared`   | yes   | `grow()`         | yes                  | re-made by `refresh()`        |
 * | `wasm`     | yes   | `memory.grow()`  | yes                  | re-made: any grow detaches    |
 * | `offset`   | no    | no               | —                    | —                             |
 *
 * The growable kinds grow to `growTarget`: at least double below GROW_DOUBLING_LIMIT (8 MiB),
 * then at least an eighth more, so a large heap reserves at most about 1.125× what it last
 * needed instead of up to 2×.
 *
 * A shared memory's views have a fixed length and are re-made when the buffer grew (by this
 * agent or another one); the old views stay valid for the bytes they cover. A
 * `WebAssembly.Memory` grown by a wasm module's own `memory.grow` detaches the old
 * `ArrayBuffer`: its views read `undefined` and drop writes. An allocator notices on entry,
 * because it reads its header's magic slot through such a view: `undefined` is not "in
 * order", so the call takes the slow way, which calls `refresh()`. `generation` counts the
 * buffer replacements.
 *
 * Growth by someone else (core/memory.ts): pages a wasm module or other code added to a
 * growable or wasm memory are in the views but not in the region (`end` stays); `grow`
 * refuses while they sit past `end`, and `growPast` grows after them, recording the pages
 * it skipped in `foreign`. The agents of a shared heap (a `SharedMemory`, a shared
 * `WebAssembly.Memory`) grow it together: there `refresh()` takes any growth as the heap's.
 */

import { alignUp } from "../core/bits.js";
import { ArgumentRangeError, ArgumentTypeError, StaleViewError } from "../core/errors.js";
import type { Memory as MemoryContract, MemoryKind } from "../core/memory.js";
import { checkSize32 } from "../core/validate.js";

export type { MemoryKind } from "../core/memory.js";

/** Largest region a memory may span: offsets are 32-bit, so 4 GiB. */
export const MAX_MEMORY_BYTES = 2 ** 32;
/** Growth granule of the growable kinds: one wasm page, 64 KiB. */
export const PAGE_BYTES = 65536;
/** Below this end a growable memory at least doubles when it grows. */
export const GROW_DOUBLING_LIMIT = 8 * 2 ** 20;
/** At or above GROW_DOUBLING_LIMIT it grows by at least end >> GROW_STEP_SHIFT (an eighth). */
export const GROW_STEP_SHIFT = 3;

/**
 * The end a growable memory asks for when it must reach `minEnd` from `end`: at least double
 * while small, then at least an eighth more, in whole pages, never past `maxEnd`. Geometric
 * either way, so growing to n bytes takes O(log n) steps (amortised O(1) per byte); past the
 * doubling limit a memory holds at most about 1/8 more than the end it last needed.
 */
export function growTarget(end: number, minEnd: number, maxEnd: number): number {
  const step = end < GROW_DOUBLING_LIMIT ? end : Math.floor(end / 2 ** GROW_STEP_SHIFT);
  return Math.min(maxEnd, alignUp(Math.max(minEnd, end + step), PAGE_BYTES));
}

const EMPTY = new ArrayBuffer(0);

/** Each memory's `foreign` ranges, kept off the class so memories stay structurally typed. */
const skippedOf = new WeakMap<object, Array<readonly [start: number, end: number]>>();
const NONE_SKIPPED: readonly (readonly [number, number])[] = Object.freeze([]);

/** Records `[start, end)` as pages of `mem`'s region that are someone else's. */
function skip(mem: object, range: readonly [start: number, end: number]): void {
  const list = skippedOf.get(mem);
  if (list === undefined) skippedOf.set(mem, [range]);
  else list.push(range);
}

function checkByteCount(n: unknown, what: string, max = MAX_MEMORY_BYTES): number {
  if (typeof n !== "number") throw new ArgumentTypeError(`${what} must be a number`);
  if (!(Number.isSafeInteger(n) && n >= 0 && n <= max)) {
    throw new ArgumentRangeError(`${what} must be an integer 0 … ${max}, got ${n}`, "ERR_MEMORY");
  }
  return n;
}

/**
 * The bytes an allocator hands out, and typed views over them that stay current when the
 * buffer grows or is replaced. A pointer is a byte offset into `buffer`: read a block through
 * `u8[ptr]`, `f64[ptr >> 3]`, or pass it to a wasm function sharing the memory. An allocator
 * manages the region `[start, end)`; `end` moves up when a growable memory grows, never past
 * `maxEnd`. Make one of the kinds: {@link FixedMemory}, {@link GrowableMemory},
 * {@link SharedMemory}, {@link WasmMemory}, {@link OffsetMemory}.
 */
export abstract class Memory implements MemoryContract {
  /** Which kind of memory this is. */
  abstract readonly kind: MemoryKind;
  /** Whether the memory has bytes (every kind but `offset`). */
  readonly hasBytes: boolean;
  /** Whether the bytes are a `SharedArrayBuffer` other agents may see. */
  readonly shared: boolean;
  /** Whether bytes never written since the memory was made read as zero. */
  readonly freshZero: boolean;
  /** First byte of the region. */
  readonly start: number;
  /** One past the last byte of the region now. */
  end: number;
  /** The highest `end` growth can reach. */
  readonly maxEnd: number;
  /** Counts buffer replacements; views taken at an older generation are stale. */
  generation = 0;

  /** The buffer under the views now (replaced when a `WebAssembly.Memory` grows). */
  buffer: ArrayBufferLike = EMPTY;
  /** The bytes, current as of the last call into an allocator or `refresh()`. */
  u8: Uint8Array = new Uint8Array(0);
  /** The bytes as int32 words: index `ptr >> 2`. */
  i32: Int32Array = new Int32Array(0);
  /** The bytes as uint32 words: index `ptr >> 2`. */
  u32: Uint32Array = new Uint32Array(0);
  /** The bytes as float64s: index `ptr >> 3`. */
  f64: Float64Array = new Float64Array(0);

  protected constructor(
    hasBytes: boolean,
    shared: boolean,
    freshZero: boolean,
    start: number,
    end: number,
    maxEnd: number,
  ) {
    this.hasBytes = hasBytes;
    this.shared = shared;
    this.freshZero = freshZero;
    this.start = start;
    this.end = end;
    this.maxEnd = maxEnd;
  }

  /** Bytes in the region now. */
  get byteLength(): number {
    return this.end - this.start;
  }

  /** Ranges inside the region that are not memkit's (see core/memory.ts). */
  get foreign(): readonly (readonly [start: number, end: number])[] {
    return skippedOf.get(this) ?? NONE_SKIPPED;
  }

  /**
   * Re-derives the views if the underlying buffer was replaced or grew (by this agent, another
   * worker, or a wasm module). Cheap when nothing did.
   *
   * @returns true when anything changed
   * @throws {@link StaleViewError} `ERR_DETACHED` when the caller's buffer was detached
   */
  refresh(): boolean {
    return false;
  }

  /**
   * Grows the region so that `end >= minEnd` (doubling, in whole 64 KiB pages).
   *
   * @param _minEnd - the lowest `end` wanted
   * @returns true when `end >= minEnd` now; false, changing nothing, when this kind cannot
   *   grow or `minEnd` is past `maxEnd` (out of memory is an answer, not an exception)
   */
  grow(_minEnd: number): boolean {
    return false;
  }

  /**
   * Grow by at least `minBytes` after everything in the buffer, pages someone else added
   * included: returns where memkit's new bytes start (−1, nothing changed, when it cannot).
   */
  growPast(minBytes: number): number {
    const from = this.end;
    return this.grow(from + minBytes) ? from : -1;
  }

  /**
   * A fixed sub-region `[start, end)` of these bytes, for an allocator carved out of a block
   * of another allocator. It shares this memory's buffer and follows its growth (views are
   * taken from the parent), never grows itself, and is not assumed to be zero.
   *
   * @param start - the sub-region's first byte, inside this memory
   * @param end - one past its last byte
   * @returns the sub-region
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when `[start, end)` is not inside this memory
   */
  region(start: number, end: number): Memory {
    checkByteCount(start, "region start");
    checkByteCount(end, "region end");
    if (!(this.start <= start && start <= end && end <= this.end)) {
      throw new ArgumentRangeError(
        `region [${start}, ${end}) is not inside [${this.start}, ${this.end})`,
        "ERR_MEMORY",
      );
    }
    return new RegionMemory(this, start, end);
  }
}

/** Installs views over `buffer` (the whole buffer, not only the region). */
function setViews(mem: Memory, buffer: ArrayBufferLike, lengthTracking: boolean): void {
  mem.buffer = buffer;
  if (lengthTracking) {
    mem.u8 = new Uint8Array(buffer);
    mem.i32 = new Int32Array(buffer);
    mem.u32 = new Uint32Array(buffer);
    mem.f64 = new Float64Array(buffer);
  } else {
    const n = buffer.byteLength;
    mem.u8 = new Uint8Array(buffer, 0, n);
    mem.i32 = new Int32Array(buffer, 0, n >>> 2);
    mem.u32 = new Uint32Array(buffer, 0, n >>> 2);
    mem.f64 = new Float64Array(buffer, 0, Math.floor(n / 8));
  }
  mem.generation++;
}

/**
 * A caller's bytes: `[byteOffset, byteOffset + byteLength)` of an `ArrayBuffer` or
 * `SharedArrayBuffer`. Never grows; the fastest kind to allocate in.
 */
export class FixedMemory extends Memory {
  /** `"fixed"`. */
  readonly kind = "fixed" as const;

  /**
   * @param buffer - the bytes; they stay the caller's
   * @param byteOffset - where the region starts (default 0)
   * @param byteLength - its length (default: to the end of the buffer)
   * @param zeroed - whether the region's bytes are all 0 now, so that zeroed allocations may
   *   skip the fill (default false)
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `buffer` is not a buffer
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when the range is outside the buffer
   */
  constructor(buffer: ArrayBufferLike, byteOffset = 0, byteLength?: number, zeroed = false) {
    if (!(buffer instanceof ArrayBuffer || isSharedArrayBuffer(buffer))) {
      throw new ArgumentTypeError("FixedMemory needs an ArrayBuffer or SharedArrayBuffer");
    }
    const total = buffer.byteLength;
    checkByteCount(byteOffset, "byteOffset", total);
    const length = byteLength === undefined ? total - byteOffset : byteLength;
    checkByteCount(length, "byteLength", total - byteOffset);
    const end = byteOffset + length;
    super(true, isSharedArrayBuffer(buffer), zeroed, byteOffset, end, end);
    setViews(this, buffer, false);
  }

  override refresh(): boolean {
    if (this.u8.length === 0 && this.buffer.byteLength === 0 && this.end > 0) {
      throw new StaleViewError("the buffer under this FixedMemory was detached", "ERR_DETACHED");
    }
    return false;
  }
}

/**
 * A resizable `ArrayBuffer` owned by this memory; length-tracking views follow its growth, so
 * a view kept by a user never goes stale. The price: the engine reloads the buffer's length
 * on every typed-array access (measured: a TLSF on it took ~15 ns more per alloc/free pair
 * on W1 than on a fixed buffer or a `WebAssembly.Memory`).
 */
export class GrowableMemory extends Memory {
  /** `"growable"`. */
  readonly kind = "growable" as const;

  /**
   * @param initialBytes - bytes now
   * @param maxBytes - the most it may grow to
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when `initialBytes > maxBytes` or a
   *   count is not a byte count below 4 GiB
   */
  constructor(initialBytes: number, maxBytes: number) {
    checkByteCount(initialBytes, "initialBytes");
    checkByteCount(maxBytes, "maxBytes");
    if (initialBytes > maxBytes) {
      throw new ArgumentRangeError(
        `initialBytes ${initialBytes} > maxBytes ${maxBytes}`,
        "ERR_MEMORY",
      );
    }
    super(true, false, true, 0, initialBytes, maxBytes);
    setViews(this, new ArrayBuffer(initialBytes, { maxByteLength: maxBytes }), true);
  }

  override grow(minEnd: number): boolean {
    // Bytes past `end` that code outside memkit resized the buffer to are not memkit's.
    if (this.buffer.byteLength > this.end) return minEnd <= this.end;
    return growResizable(this, minEnd, (n) => (this.buffer as ArrayBuffer).resize(n));
  }

  override growPast(minBytes: number): number {
    const from = this.buffer.byteLength;
    if (from === this.end) return super.growPast(minBytes);
    const least = from + minBytes;
    if (!(Number.isSafeInteger(least) && least <= this.maxEnd)) return -1;
    // The same geometric step as `grow` (growTarget), counted from the buffer's end.
    const want = growTarget(from, least, this.maxEnd);
    try {
      (this.buffer as ArrayBuffer).resize(want);
    } catch {
      try {
        (this.buffer as ArrayBuffer).resize(least);
      } catch {
        return -1;
      }
    }
    skip(this, [this.end, from]);
    this.end = this.buffer.byteLength;
    this.generation++;
    return from;
  }
}

/** A growable `SharedArrayBuffer` (owned, or one handed over by another worker). */
export class SharedMemory extends Memory {
  /** `"shared"`. */
  readonly kind = "shared" as const;

  /**
   * @param initialBytesOrBuffer - bytes of a new growable `SharedArrayBuffer`, or one that
   *   another worker made (its `maxByteLength` is the limit)
   * @param maxBytes - the most a new buffer may grow to
   * @throws {@link AllocatorError} `ERR_SAB_UNAVAILABLE` where `SharedArrayBuffer` is missing (a
   *   browser page that is not cross-origin isolated)
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` for bad byte counts
   */
  constructor(initialBytesOrBuffer: number | SharedArrayBuffer, maxBytes?: number) {
    let sab: SharedArrayBuffer;
    if (typeof initialBytesOrBuffer === "number") {
      if (typeof SharedArrayBuffer !== "function") {
        throw new ArgumentTypeError(
          "SharedArrayBuffer is not available here (a browser page needs cross-origin isolation)",
          "ERR_SAB_UNAVAILABLE",
        );
      }
      checkByteCount(initialBytesOrBuffer, "initialBytes");
      const max = checkByteCount(maxBytes ?? initialBytesOrBuffer, "maxBytes");
      if (initialBytesOrBuffer > max) {
        throw new ArgumentRangeError(`initialBytes > maxBytes`, "ERR_MEMORY");
      }
      sab = new SharedArrayBuffer(initialBytesOrBuffer, { maxByteLength: max });
    } else if (isSharedArrayBuffer(initialBytesOrBuffer)) {
      sab = initialBytesOrBuffer;
    } else {
      throw new ArgumentTypeError("SharedMemory needs a byte count or a SharedArrayBuffer");
    }
    const max = sab.growable ? sab.maxByteLength : sab.byteLength;
    super(true, true, true, 0, sab.byteLength, max);
    // Fixed-length views, re-made when the buffer grew: length-tracking views of a growable
    // SharedArrayBuffer must reload the length on every access (measured: TLSF on W1 ran
    // ~7× slower through them). Old views stay valid for the bytes they cover.
    setViews(this, sab, false);
  }

  override refresh(): boolean {
    const n = this.buffer.byteLength;
    if (n === this.end) return false;
    this.end = n; // this or another agent grew it
    setViews(this, this.buffer, false);
    return true;
  }

  override grow(minEnd: number): boolean {
    return growResizable(this, minEnd, (n) => (this.buffer as SharedArrayBuffer).grow(n));
  }
}

/** A `WebAssembly.Memory`, from `start` (the module's heap base) to the end of its pages. */
export class WasmMemory extends Memory {
  /** `"wasm"`. */
  readonly kind = "wasm" as const;
  /** The `WebAssembly.Memory` itself, to pass to a module or grow. */
  readonly memory: WebAssembly.Memory;

  /**
   * @param memory - a module's exported memory, or one made in JS
   * @param start - where the region starts: the module's `__heap_base` (default 0)
   * @param maximumPages - the most pages the region may grow to (default 65536: 4 GiB)
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `memory` is not a `WebAssembly.Memory`
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when `start` or `maximumPages` is out of range
   */
  constructor(memory: WebAssembly.Memory, start = 0, maximumPages?: number) {
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new ArgumentTypeError("WasmMemory needs a WebAssembly.Memory");
    }
    const buffer = memory.buffer;
    checkByteCount(start, "start", buffer.byteLength);
    const maxPages = maximumPages ?? 65536;
    checkByteCount(maxPages, "maximumPages", 65536);
    if (maxPages * PAGE_BYTES < buffer.byteLength) {
      throw new ArgumentRangeError(
        `maximumPages ${maxPages} is below the memory's ${buffer.byteLength / PAGE_BYTES} pages`,
        "ERR_MEMORY",
      );
    }
    super(true, isSharedArrayBuffer(buffer), true, start, buffer.byteLength, maxPages * PAGE_BYTES);
    this.memory = memory;
    setViews(this, buffer, false);
  }

  /**
   * Makes a new `WebAssembly.Memory` of `initialPages` pages (64 KiB each).
   *
   * @param initialPages - pages now
   * @param maximumPages - the most pages it may grow to (default 65536)
   * @param shared - a shared memory, for workers (default false)
   * @returns the memory, its region the whole memory
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` for page counts out of range
   */
  static create(initialPages: number, maximumPages = 65536, shared = false): WasmMemory {
    checkByteCount(initialPages, "initialPages", 65536);
    checkByteCount(maximumPages, "maximumPages", 65536);
    if (initialPages > maximumPages) {
      throw new ArgumentRangeError(
        `initialPages ${initialPages} > maximumPages ${maximumPages}`,
        "ERR_MEMORY",
      );
    }
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared });
    return new WasmMemory(memory, 0, maximumPages);
  }

  /**
   * Re-views the buffer after any growth. A module's own `memory.grow` (or another agent's,
   * for a non-shared memory there is no other) adds pages that are not the region's: `end`
   * stays. A shared memory's growth is its heap's agents' (see the file comment).
   */
  override refresh(): boolean {
    const buffer = this.memory.buffer;
    if (buffer === this.buffer && buffer.byteLength === this.u8.length) return false;
    if (this.shared) this.end = buffer.byteLength;
    setViews(this, buffer, false);
    return true;
  }

  override grow(minEnd: number): boolean {
    this.refresh();
    if (minEnd <= this.end) return true;
    if (!(minEnd <= this.maxEnd)) return false;
    if (this.buffer.byteLength > this.end) return false; // someone else's pages are in the way
    const want = growTarget(this.end, minEnd, this.maxEnd);
    const pages = Math.ceil((want - this.end) / PAGE_BYTES);
    try {
      this.memory.grow(pages);
    } catch {
      // The engine refused (its own limit, or out of address space): try the minimum.
      try {
        this.memory.grow(Math.ceil((minEnd - this.end) / PAGE_BYTES));
      } catch {
        return false;
      }
    }
    this.adoptGrowth();
    return this.end >= minEnd;
  }

  override growPast(minBytes: number): number {
    this.refresh();
    const from = this.buffer.byteLength;
    if (from === this.end) return super.growPast(minBytes);
    if (!(from + minBytes <= this.maxEnd)) return -1;
    // The same geometric step as `grow` (growTarget), counted from the buffer's end.
    const room = Math.floor((this.maxEnd - from) / PAGE_BYTES);
    const least = Math.ceil(minBytes / PAGE_BYTES);
    const step = Math.ceil((growTarget(from, from + minBytes, this.maxEnd) - from) / PAGE_BYTES);
    let old: number;
    try {
      old = this.memory.grow(Math.min(room, Math.max(least, step)));
    } catch {
      try {
        old = this.memory.grow(least);
      } catch {
        return -1;
      }
    }
    // `old` is exact even if the module grew again meanwhile: memkit's pages start there.
    const at = old * PAGE_BYTES;
    skip(this, [this.end, at]);
    setViews(this, this.memory.buffer, false);
    this.end = this.buffer.byteLength;
    return at;
  }

  /** After this memory's own `memory.grow`: the new pages are the region's. */
  private adoptGrowth(): void {
    setViews(this, this.memory.buffer, false);
    this.end = this.buffer.byteLength;
  }
}

/**
 * An offset-only region: `[start, end)` of something whose bytes live elsewhere (a GPU
 * buffer, a file). No bytes: allocators that support it keep all their metadata out of line.
 */
export class OffsetMemory extends Memory {
  /** `"offset"`. */
  readonly kind = "offset" as const;

  /**
   * @param start - the first offset of the range
   * @param end - one past the last
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when `start > end` or a bound is not a byte count
   */
  constructor(start: number, end: number) {
    checkByteCount(start, "start");
    checkByteCount(end, "end");
    if (start > end) throw new ArgumentRangeError(`start ${start} > end ${end}`, "ERR_MEMORY");
    super(false, false, false, start, end, end);
  }
}

/** A sub-region of another memory (see `Memory.region`). */
class RegionMemory extends Memory {
  readonly kind = "fixed" as const;
  readonly parent: Memory;

  constructor(parent: Memory, start: number, end: number) {
    super(parent.hasBytes, parent.shared, false, start, end, end);
    this.parent = parent;
    this.adopt();
  }

  private adopt(): void {
    const p = this.parent;
    this.buffer = p.buffer;
    this.u8 = p.u8;
    this.i32 = p.i32;
    this.u32 = p.u32;
    this.f64 = p.f64;
    this.generation = p.generation;
  }

  override refresh(): boolean {
    this.parent.refresh();
    if (this.generation === this.parent.generation) return false;
    this.adopt();
    return true;
  }
}

function growResizable(mem: Memory, minEnd: number, resize: (n: number) => void): boolean {
  mem.refresh();
  if (minEnd <= mem.end) return true;
  if (!(minEnd <= mem.maxEnd)) return false;
  const want = growTarget(mem.end, minEnd, mem.maxEnd);
  try {
    resize(want);
  } catch {
    try {
      resize(minEnd);
    } catch {
      return false;
    }
  }
  // A shared memory re-makes its fixed-length views in refresh(); a resizable ArrayBuffer's
  // length-tracking views already cover the new bytes.
  if (!mem.refresh()) {
    mem.end = mem.buffer.byteLength;
    mem.generation++;
  }
  return mem.end >= minEnd;
}

export function isSharedArrayBuffer(x: unknown): x is SharedArrayBuffer {
  return typeof SharedArrayBuffer === "function" && x instanceof SharedArrayBuffer;
}

/** A fresh, zeroed ArrayBuffer holding `capacity` usable bytes after `metaBytes`. */
export function ownedMemory(capacity: number, metaBytes: number): FixedMemory {
  checkSize32(capacity, "capacity");
  return new FixedMemory(new ArrayBuffer(capacity + metaBytes), 0, undefined, true);
}

/**
 * A memory for a program whose peak is unknown (a trace replay): 1 MiB that grows as needed,
 * up to `maxBytes` (default 4 GiB, the limit of 32-bit offsets, so any trace fits).
 */
export function growingMemory(maxBytes = MAX_MEMORY_BYTES): GrowableMemory {
  return new GrowableMemory(2 ** 20, maxBytes);
}
