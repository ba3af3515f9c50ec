/**
 * The common heap header: the first slots of every allocator's metadata, so a second handle
 * (another worker, or the same bytes saved and loaded) can recognise the heap, and so a
 * heap found corrupt stays poisoned for every handle.
 *
 * The header is an array of float64 slots (exact integers up to 2^53, so 4 GiB offsets and
 * 2^53 counters fit). It sits at the start of the allocator's region, 8-aligned, below every
 * block: a block overflowing forwards never reaches it, and offset 0 of a memory that starts
 * at 0 is the header, never a block, so 0 can mean "null". For an offset-only memory (no
 * bytes) it lives in a small metadata buffer of its own.
 *
 *     slot  0 MAGIC       0x4d454d4b ("MEMK")
 *     slot  1 VERSION     major × 65536 + minor
 *     slot  2 KIND        which strategy (StrategyKind)
 *     slot  3 STATE       0 = in order, 1 = poisoned
 *     slot  4 META_BYTES  bytes of header + out-of-line metadata
 *     slot  5 DATA_START  first byte blocks may occupy
 *     slot  6 CONFIG      a strategy-defined configuration word (block size, …)
 *     slot  7 (reserved)
 *     slot  8…            the strategy's own fields (COMMON_SLOTS + i)
 */

import { alignUp } from "./bits.js";
import { HeapIncompatibleError } from "./errors.js";

export const MAGIC = 0x4d454d4b;
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 0;
export const VERSION = VERSION_MAJOR * 65536 + VERSION_MINOR;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_KIND = 2;
export const H_STATE = 3;
export const H_META_BYTES = 4;
export const H_DATA_START = 5;
export const H_CONFIG = 6;
/** Slots every header begins with; a strategy's own fields start here. */
export const COMMON_SLOTS = 8;
export const SLOT_BYTES = 8;

export const STATE_OK = 0;
export const STATE_POISONED = 1;

/** Strategy identifiers stored in the header's KIND slot. */
export const StrategyKind = {
  bump: 1,
  stack: 2,
  pool: 3,
  slab: 4,
  block: 5,
  freeList: 6,
  buddy: 7,
  tlsf: 8,
  offset: 9,
} as const;

/** Bytes a header of `slots` strategy fields takes. */
export function headerBytes(strategySlots: number): number {
  return (COMMON_SLOTS + strategySlots) * SLOT_BYTES;
}

/** Where a header goes in a byte memory: the region start rounded up to 8. */
export function headerOffset(regionStart: number): number {
  return alignUp(regionStart, SLOT_BYTES);
}

/** Writes the common header slots. */
export function writeHeader(
  h: Float64Array,
  base: number,
  kind: number,
  metaBytes: number,
  dataStart: number,
  config: number,
): void {
  h[base + H_MAGIC] = MAGIC;
  h[base + H_VERSION] = VERSION;
  h[base + H_KIND] = kind;
  h[base + H_STATE] = STATE_OK;
  h[base + H_META_BYTES] = metaBytes;
  h[base + H_DATA_START] = dataStart;
  h[base + H_CONFIG] = config;
  h[base + 7] = 0;
}

/**
 * Validates a header read-only before a handle attaches to it. Throws
 * `HeapIncompatibleError` with a code that says what differs; never writes.
 */
export function validateHeader(h: Float64Array, base: number, kind: number, name: string): void {
  if (base + COMMON_SLOTS > h.length) {
    throw new HeapIncompatibleError(`${name}: memory too small to hold a heap header`);
  }
  if (h[base + H_MAGIC] !== MAGIC) {
    throw new HeapIncompatibleError(`${name}: no memkit heap here (bad magic)`, "ERR_HEAP_MAGIC");
  }
  const v = h[base + H_VERSION];
  if (Math.floor(v / 65536) !== VERSION_MAJOR) {
    throw new HeapIncompatibleError(
      `${name}: heap format version ${Math.floor(v / 65536)}.${v % 65536} is not ${VERSION_MAJOR}.x`,
      "ERR_HEAP_VERSION",
    );
  }
  if (h[base + H_KIND] !== kind) {
    throw new HeapIncompatibleError(
      `${name}: the heap here is of another strategy (kind ${h[base + H_KIND]})`,
      "ERR_HEAP_CONFIG",
    );
  }
}
