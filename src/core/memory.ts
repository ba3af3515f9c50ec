/**
 * The `Memory` contract: the bytes an allocator hands out, and typed views over them that the
 * memory re-derives when its buffer changes. Every strategy is written against this contract;
 * the kinds that implement it (`FixedMemory`, `GrowableMemory`, `SharedMemory`, `WasmMemory`,
 * `OffsetMemory`, and sub-regions) live in `memory/`.
 *
 * A pointer is a byte offset into `buffer` (so `u8[ptr]`, `f64[ptr >> 3]`, or an argument
 * to a wasm function sharing the memory). An allocator manages the region `[start, end)`;
 * `end` moves up when a growable memory grows, never past `maxEnd`.
 *
 *     buffer:  0 ........ start ===== region ===== end ...... maxEnd
 *                         ^ allocator header sits here (in-band memories)
 */

/**
 * Which kind a memory is: `"fixed"` (a caller's buffer), `"growable"` (a resizable
 * `ArrayBuffer`), `"shared"` (a growable `SharedArrayBuffer`), `"wasm"` (a
 * `WebAssembly.Memory`) or `"offset"` (offsets only, no bytes).
 */
export type MemoryKind = "fixed" | "growable" | "shared" | "wasm" | "offset";

export interface Memory {
  readonly kind: MemoryKind;
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
  generation: number;

  buffer: ArrayBufferLike;
  u8: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
  f64: Float64Array;

  /** Bytes in the region now. */
  readonly byteLength: number;

  /**
   * Re-derive the views if the underlying buffer was replaced or grew (by this agent, another
   * worker, or a wasm module). Returns true when anything changed. Cheap when nothing did.
   */
  refresh(): boolean;

  /**
   * Grow the region so that `end >= minEnd`. Returns false, changing nothing, when this kind
   * cannot grow or `minEnd` is past `maxEnd` (out of memory is an answer, not an exception).
   */
  grow(minEnd: number): boolean;

  /**
   * A fixed sub-region `[start, end)` of these bytes, for an allocator carved out of a block
   * of another allocator. It shares this memory's buffer and follows its growth, never grows
   * itself, and is not assumed to be zero.
   */
  region(start: number, end: number): Memory;
}
