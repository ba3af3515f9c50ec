/**
 * The memory a strategy's registered trace configuration (`Registration.forTrace`) runs on, in
 * `memkit replay` and in the benchmark's trace rows alike, so that both report the same
 * footprint and failures for the same trace: one fixed buffer sized to the trace.
 *
 * Its size: the power of two at or above 8× the trace's peak of live bytes, at least 128 MiB
 * (the trace memory of the benchmark's workload definitions) and at most 4 GiB. Eight times
 * the peak leaves room for any fragmentation the strategies here show on real programs'
 * traces (their footprints stay under 2× the peak, Buddy's under 4×); the pages of the buffer
 * an allocator never touches cost nothing.
 */

import type { Sizing } from "../core/registration.js";
import { FixedMemory, MAX_MEMORY_BYTES } from "./memory.js";

/** The least a trace memory holds: 128 MiB. */
export const TRACE_MEMORY_MIN = 128 * 2 ** 20;

/** The byte size of the trace memory for `sizing` (the least when the peak is unknown). */
export function traceMemoryBytes(sizing?: Sizing): number {
  const want = 8 * (sizing?.peakLiveBytes ?? 0);
  if (want <= TRACE_MEMORY_MIN) return TRACE_MEMORY_MIN;
  return Math.min(MAX_MEMORY_BYTES, 2 ** Math.ceil(Math.log2(want)));
}

/** A fresh fixed memory of `traceMemoryBytes(sizing)` bytes. */
export function traceMemory(sizing?: Sizing): FixedMemory {
  return new FixedMemory(new ArrayBuffer(traceMemoryBytes(sizing)));
}
