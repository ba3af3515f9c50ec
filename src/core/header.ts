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
 *     slot  0 MAGIC       0x4d454d4b ("MEMK"); 0x4d454d50 ("MEMP") once poisoned
 *     slot  1 VERSION     major × 65536 + minor
 *     slot  2 KIND        which strategy (StrategyKind)
 *     slot  3 STATE       0 = in order, 1 = poisoned
 *     slot  4 META_BYTES  bytes of header + out-of-line metadata
 *     slot  5 DATA_START  first byte blocks may occupy
 *     slot  6 CONFIG      a strategy-defined configuration word (block size, …)
 *     slot  7 (reserved)
 *     slot  8…            the strategy's own float64 slots (COMMON_SLOTS + i)
 *     then                the strategy's int32 state words, if it declares any
 *
 * A strategy declares its slots and words once, by name, with `declareHeader`; the header
 * takes `layout.bytes` bytes and the strategy's other metadata follows it.
 *
 * Poisoning writes both STATE and MAGIC: every call's entry guard reads the MAGIC slot only
 * (one load), so a poisoned heap, a detached view (it reads `undefined`), a dropped handle
 * and a damaged magic all take the slow path, which tells them apart and compares the
 * whole common header with what the handle was made with (`BaseAllocator.enterSlow`).
 * VERSION 1.1: minor 1 added the poisoned magic; a 1.0 reader sees a poisoned heap as no heap.
 */

import { alignUp } from "./bits.js";
import { ArgumentRangeError, HeapIncompatibleError, HeapPoisonedError } from "./errors.js";

/** The first header slot of every live memkit heap ("MEMK"), checked when a handle attaches. */
export const MAGIC = 0x4d454d4b;
/** The MAGIC slot of a poisoned heap ("MEMP"): the entry guard's one load then fails. */
export const POISONED_MAGIC = 0x4d454d50;
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 1;
/** The header format's version (major × 65536 + minor); attaching to another major fails. */
export const VERSION = VERSION_MAJOR * 65536 + VERSION_MINOR;

export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_KIND = 2;
export const H_STATE = 3;
export const H_META_BYTES = 4;
export const H_DATA_START = 5;
export const H_CONFIG = 6;
/** The reserved common slot, always 0. */
export const H_RESERVED = 7;
/** Slots every header begins with; a strategy's own fields start here. */
export const COMMON_SLOTS = 8;
export const SLOT_BYTES = 8;

export const STATE_OK = 0;
export const STATE_POISONED = 1;

/** Strategy identifiers stored in the header's KIND slot. */
export const StrategyKind = {
  /** `BumpAllocator`. */
  bump: 1,
  /** `StackAllocator`. */
  stack: 2,
  /** `PoolAllocator`. */
  pool: 3,
  /** `SlabAllocator`. */
  slab: 4,
  /** `BlockAllocator`. */
  block: 5,
  /** `FreeListAllocator`. */
  freeList: 6,
  /** `BuddyAllocator`. */
  buddy: 7,
  /** `TlsfAllocator` (and the `Heap`). */
  tlsf: 8,
  /** `OffsetAllocator`. */
  offset: 9,
} as const;

/**
 * A strategy's part of the header: named float64 slots after the common ones, then named
 * int32 state words. Slots hold exact integers up to 2^53 (counters, 4 GiB offsets); words
 * are what a hot path reads and writes on every call (an int32 load and store are cheaper
 * than float64 ones), holding offsets below 2^32 as int32 (read back with `>>> 0`).
 */
export interface HeaderLayout<S extends string = string, W extends string = string> {
  /** Each slot's index from the header's slot 0: COMMON_SLOTS, COMMON_SLOTS + 1, … */
  readonly slot: { readonly [K in S]: number };
  /** Each word's index from the first state word: 0, 1, … */
  readonly word: { readonly [K in W]: number };
  readonly slotCount: number;
  readonly wordCount: number;
  /** Byte offset of the first state word from the header's start. */
  readonly wordsAt: number;
  /** Bytes of the whole header (common slots, strategy slots, words), a multiple of 8. */
  readonly bytes: number;
}

/**
 * Declares a strategy's header: `slots` float64 slots and `words` int32 state words, in
 * this order. Read the indices into module-local constants, which the engine folds:
 * `const { END, LIVE } = TLSF_HEADER.slot;` then `slots[slot0 + END]`.
 */
export function declareHeader<const S extends string, const W extends string = never>(
  slots: readonly S[],
  words: readonly W[] = [],
): HeaderLayout<S, W> {
  const slot = {} as { [K in S]: number };
  slots.forEach((name, i) => {
    slot[name] = COMMON_SLOTS + i;
  });
  const word = {} as { [K in W]: number };
  words.forEach((name, i) => {
    word[name] = i;
  });
  const wordsAt = headerBytes(slots.length);
  return Object.freeze({
    slot: Object.freeze(slot),
    word: Object.freeze(word),
    slotCount: slots.length,
    wordCount: words.length,
    wordsAt,
    bytes: alignUp(wordsAt + words.length * 4, SLOT_BYTES),
  });
}

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
  slots: Float64Array,
  slot0: number,
  kind: number,
  metaBytes: number,
  dataStart: number,
  config: number,
): void {
  slots[slot0 + H_MAGIC] = MAGIC;
  slots[slot0 + H_VERSION] = VERSION;
  slots[slot0 + H_KIND] = kind;
  slots[slot0 + H_STATE] = STATE_OK;
  slots[slot0 + H_META_BYTES] = metaBytes;
  slots[slot0 + H_DATA_START] = dataStart;
  slots[slot0 + H_CONFIG] = config;
  slots[slot0 + H_RESERVED] = 0;
}

/** The error for a heap a handle cannot attach to: its header describes another heap. */
export function cannotAttach(name: string, what: string): never {
  throw new HeapIncompatibleError(`${name}: cannot attach: ${what}`, "ERR_HEAP_CONFIG");
}

/**
 * On attach, after `validateHeader`: each listed slot must hold exactly the value this handle
 * computed for the memory (configuration word, metadata size, data start, …). Reads only;
 * throws `HeapIncompatibleError` (`ERR_HEAP_CONFIG`) naming the first slot that differs.
 */
export function expectSlots(
  slots: Float64Array,
  slot0: number,
  name: string,
  expected: readonly (readonly [slot: number, value: number, what: string])[],
): void {
  for (const [slot, value, what] of expected) {
    const v = slots[slot0 + slot];
    if (v !== value) cannotAttach(name, `${what} ${v} is not ${value}`);
  }
}

/**
 * On attach: each listed slot must hold an integer in [0, max] (counters and offsets that
 * garbage would put anywhere). Reads only; throws like `expectSlots`.
 */
export function expectCounters(
  slots: Float64Array,
  slot0: number,
  name: string,
  counters: readonly number[],
  max: number,
): void {
  for (const slot of counters) {
    const v = slots[slot0 + slot];
    if (!(Number.isSafeInteger(v) && v >= 0 && v <= max)) {
      cannotAttach(name, `header slot ${slot} holds ${v}`);
    }
  }
}

/**
 * Validates a header read-only before a handle attaches to it. Throws
 * `HeapIncompatibleError` with a code that says what differs, `HeapPoisonedError` for a
 * memkit heap found corrupt earlier (no handle may use it again), and `ArgumentRangeError`
 * (`ERR_MEMORY`) for a memory too small to hold a header; never writes.
 */
export function validateHeader(
  slots: Float64Array,
  slot0: number,
  kind: number,
  name: string,
): void {
  if (slot0 + COMMON_SLOTS > slots.length) {
    // Nothing to read: a bad memory argument (as in the allocator base), not a bad magic.
    throw new ArgumentRangeError(`${name}: memory too small to hold a heap header`, "ERR_MEMORY");
  }
  const magic = slots[slot0 + H_MAGIC];
  // A poisoned heap is still a memkit heap: the handle's first call reports the poison.
  if (magic !== MAGIC && magic !== POISONED_MAGIC) {
    throw new HeapIncompatibleError(`${name}: no memkit heap here (bad magic)`, "ERR_HEAP_MAGIC");
  }
  if (magic === POISONED_MAGIC || slots[slot0 + H_STATE] === STATE_POISONED) {
    throw new HeapPoisonedError(
      `${name}: cannot attach: the heap here is poisoned (corruption was detected earlier)`,
    );
  }
  const v = slots[slot0 + H_VERSION];
  if (Math.floor(v / 65536) !== VERSION_MAJOR) {
    throw new HeapIncompatibleError(
      `${name}: heap format version ${Math.floor(v / 65536)}.${v % 65536} is not ${VERSION_MAJOR}.x`,
      "ERR_HEAP_VERSION",
    );
  }
  if (slots[slot0 + H_KIND] !== kind) {
    throw new HeapIncompatibleError(
      `${name}: the heap here is of another strategy (kind ${slots[slot0 + H_KIND]})`,
      "ERR_HEAP_CONFIG",
    );
  }
}
