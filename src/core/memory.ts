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
 *
 * Bytes memkit did not grow are not memkit's. A wasm module's own `memory.grow`, or code
 * outside memkit resizing the buffer, adds pages past `end` that `refresh()` shows in the
 * views but never adds to the region: no allocator hands them out or assumes them zero.
 * memkit's own next growth continues after them (`growPast`), and the pages it skipped
 * stay someone else's (`foreign`). The agents of one shared heap grow its memory together,
 * so a shared memory's growth by any agent is the heap's (`refresh()` moves `end`).
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
   * Ranges inside `[start, end)` that are not memkit's: pages someone else added to the
   * buffer, which `growPast` grew past. Sorted, disjoint; empty unless that happened.
   */
  readonly foreign: readonly (readonly [start: number, end: number])[];

  /**
   * Re-derive the views if the underlying buffer was replaced or grew (by this agent, another
   * worker, or a wasm module). Returns true when anything changed. Cheap when nothing did.
   * Moves `end` only for a shared memory (another agent of the heap grew it).
   */
  refresh(): boolean;

  /**
   * Grow the region so that `end >= minEnd`, contiguously. Returns false, changing nothing,
   * when this kind cannot grow, `minEnd` is past `maxEnd` (out of memory is an answer, not an
   * exception), or someone else has added bytes past `end` (see `growPast`).
   */
  grow(minEnd: number): boolean;

  /**
   * Grow by at least `minBytes` bytes after everything the buffer holds now, the pages
   * someone else added included. Returns where memkit's new bytes start: the old `end`, or
   * past the other pages, which join `foreign` and must never be handed out; −1 (nothing
   * changed) when it cannot grow.
   */
  growPast(minBytes: number): number;

  /**
   * A fixed sub-region `[start, end)` of these bytes, for an allocator carved out of a block
   * of another allocator. It shares this memory's buffer and follows its growth, never grows
   * itself, and is not assumed to be zero.
   */
  region(start: number, end: number): Memory;
}
