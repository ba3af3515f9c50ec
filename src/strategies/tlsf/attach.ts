/**
 * Attaching a second handle to a TLSF heap: what the header, its state words and the live
 * map must hold before a handle may use them. Reads only.
 */

import {
  cannotAttach,
  expectSlots,
  H_CONFIG,
  H_DATA_START,
  H_META_BYTES,
} from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { isSharedArrayBuffer } from "../../memory/memory.js";
import { liveMapBytes, TLSF_HEADER } from "./layout.js";
import { GRANULE, SL_LOG2 } from "./mapping.js";

const { END, USED_COUNT, USED_BYTES, SLACK, PEAK, CLEAN_FROM, CACHED, BUDGET } = TLSF_HEADER.word;
const NAME = "TlsfAllocator";

/** What the attaching handle was given and computed for its memory. */
export interface TlsfAttachExpect {
  readonly liveMap: SharedArrayBuffer | ArrayBuffer | undefined;
  readonly metaBytes: number;
  readonly dataStart: number;
  /** The smallest heap end: room for one minimal block and the sentinel. */
  readonly minEnd: number;
  /** The largest heap end the memory holds now. */
  readonly maxEnd: number;
  readonly memory: Memory;
}

/**
 * After the common header was validated: the configuration, the metadata size, the data
 * start and the heap end must be exactly what the handle computes for its memory, the
 * counters plausible, no front end (its stacks belong to the handle that made the heap:
 * CACHED and BUDGET must be 0), and the live map large enough for the heap.
 * Returns the live map; throws `HeapIncompatibleError` on any mismatch (garbage included).
 */
export function validateTlsfAttach(
  u32: Uint32Array,
  sw: number,
  slots: Float64Array,
  slot0: number,
  expect: TlsfAttachExpect,
): ArrayBuffer | SharedArrayBuffer {
  const memory = expect.memory;
  expectSlots(slots, slot0, NAME, [
    [H_CONFIG, SL_LOG2, "config word"],
    [H_META_BYTES, expect.metaBytes, "metadata size"],
    [H_DATA_START, expect.dataStart, "data start"],
  ]);
  const end = u32[sw + END];
  if (end % GRANULE !== 0 || end < expect.minEnd || end > expect.maxEnd) {
    cannotAttach(NAME, `heap end ${end} does not fit memory [${memory.start}, ${memory.end})`);
  }
  for (const w of [USED_COUNT, USED_BYTES, SLACK, PEAK, CLEAN_FROM]) {
    if (!(u32[sw + w] <= end)) cannotAttach(NAME, `state word ${w} holds ${u32[sw + w]}`);
  }
  if (u32[sw + CACHED] !== 0 || u32[sw + BUDGET] !== 0) {
    cannotAttach(NAME, "the heap has a front end, whose stacks belong to the handle that made it");
  }
  const liveMap = expect.liveMap;
  if (liveMap === undefined) cannotAttach(NAME, "no live map given (options.liveMap)");
  const map = liveMap as ArrayBuffer | SharedArrayBuffer;
  if (!(map instanceof ArrayBuffer || isSharedArrayBuffer(map)))
    cannotAttach(NAME, "the live map is not an ArrayBuffer or SharedArrayBuffer");
  if (memory.shared && !isSharedArrayBuffer(map))
    cannotAttach(NAME, "a shared heap's live map must be a SharedArrayBuffer");
  const need = liveMapBytes(expect.dataStart, end);
  if (map.byteLength < need)
    cannotAttach(NAME, `the live map has ${map.byteLength} bytes, the heap needs ${need}`);
  return map;
}
