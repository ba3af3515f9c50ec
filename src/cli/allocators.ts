/**
 * The allocators `memkit replay --allocator NAME` and the report can run: every
 * configuration in the registry (src/registry.ts), each built as it is for a trace replay
 * (`forTrace`: the Heap growing from 64 KiB; the strategies on a fixed memory sized to the
 * trace, memory/trace-memory.ts, with metadata sized to the trace's peak where it is sized up
 * front). The benchmark's trace rows build memkit's allocators with `traceAllocator` too, so
 * both report the same footprint and failures (test/bench/trace-rows.test.ts).
 */

import type { Allocator } from "../core/allocator.js";
import { configurations, type Sizing } from "../registry.js";
import type { Trace } from "../trace/trace.js";
import { traceStats } from "./heapmap.js";

export type { Sizing } from "../registry.js";

export interface AllocatorChoice {
  /** The name on the command line. */
  readonly name: string;
  /** What it is, in tables and the report. */
  readonly label: string;
  /** Part of `--allocator all`: handles any size freed in any order. */
  readonly general: boolean;
  /** A fresh allocator; `sizing` says what the work needs, for allocators sized up front. */
  make(sizing?: Sizing): Allocator;
}

export const ALLOCATORS: readonly AllocatorChoice[] = configurations().map((c) => ({
  name: c.name,
  label: c.label,
  general: c.general,
  make: (sizing?: Sizing) => c.forTrace(sizing),
}));

/** Names accepted by `--allocator`, in table order. */
export const ALLOCATOR_NAMES: readonly string[] = ALLOCATORS.map((a) => a.name);
/** What `--allocator all` means. */
export const GENERAL_NAMES: readonly string[] = ALLOCATORS.filter((a) => a.general).map(
  (a) => a.name,
);

export function allocatorChoice(name: string): AllocatorChoice {
  const c = ALLOCATORS.find((a) => a.name === name);
  if (c === undefined) throw new Error(`unknown allocator ${name}`);
  return c;
}

/** What an allocator replaying `trace` is sized for: the trace's peak of live bytes. */
export function sizingOf(trace: Trace): Sizing {
  return { peakLiveBytes: traceStats(trace).peakLiveBytes };
}

/** Allocator `name` as `memkit replay` and the benchmark's trace rows build it for `trace`. */
export function traceAllocator(name: string, trace: Trace): Allocator {
  return allocatorChoice(name).make(sizingOf(trace));
}
