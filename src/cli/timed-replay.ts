/// <reference types="node" />
/**
 * One replay of a trace timed by the process's CPU time (user + system), as the benchmark
 * times its rows: other processes on a shared machine then count less than in wall time. The
 * replay frees the blocks the trace leaves live, inside the clock, so the allocator is empty
 * for the next run; those frees count as operations. Used by `memkit replay`'s allocator
 * processes and by the benchmark's trace rows (bench/child.mjs), so both report the same
 * figure for the same trace and allocator.
 */

import type { Allocator } from "../core/allocator.js";
import { replay } from "../trace/replay.js";
import { OP_FREE, type Trace } from "../trace/trace.js";

/** What one timed replay did. */
export interface TimedRun {
  /** CPU time of the process over the replay, in ns. */
  readonly ns: number;
  readonly wallNs: number;
  /** The trace's operations plus the frees of the blocks it left live. */
  readonly ops: number;
  readonly failures: number;
  /** The highest sum of requested sizes alive at once (null when stopped). */
  readonly peakLive: number | null;
  /** The highest block end above the allocator's region start (null when stopped). */
  readonly footprint: number | null;
  /** The run passed its deadline and ended early: ns is over the `ops` it did. */
  readonly stopped: boolean;
}

export interface TimedReplayOptions {
  /** A `Date.now()` value past which the run stops (checked every 65,536 ops). */
  readonly deadline?: number;
  /** Paint and verify every block (src/trace/replay.ts); the time then is not the allocator's. */
  readonly verify?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
  /** Operations between two progress calls (and deadline checks); default 65,536. */
  readonly progressEvery?: number;
}

class Stop extends Error {}

const liveAtEndCache = new WeakMap<Trace, number>();

/** The blocks a trace leaves live at its end (a replay frees them: one op each). */
export function blocksLiveAtEnd(trace: Trace): number {
  const cached = liveAtEndCache.get(trace);
  if (cached !== undefined) return cached;
  const live = new Uint8Array(trace.idCount);
  for (let i = 0; i < trace.count; i++) live[trace.id[i]] = trace.op[i] === OP_FREE ? 0 : 1;
  let n = 0;
  for (let b = 0; b < trace.idCount; b++) n += live[b];
  liveAtEndCache.set(trace, n);
  return n;
}

/** Replays `trace` on `a` once, timed by CPU time. */
export function timedReplay(
  trace: Trace,
  a: Allocator,
  options: TimedReplayOptions = {},
): TimedRun {
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const report = options.onProgress;
  let done = 0;
  const onProgress = (n: number, total: number): void => {
    done = n;
    report?.(n, total);
    if (Date.now() > deadline) throw new Stop();
  };
  const extra = blocksLiveAtEnd(trace);
  const c0 = process.cpuUsage();
  const cpuNs = (): number => {
    const c = process.cpuUsage(c0);
    return (c.user + c.system) * 1000;
  };
  try {
    const r = replay(trace, a, {
      onProgress,
      progressEvery: options.progressEvery ?? 65536,
      freeAtEnd: true,
      verify: options.verify === true,
    });
    return {
      ns: cpuNs(),
      wallNs: r.elapsedMs * 1e6,
      ops: r.ops + extra,
      failures: r.failures,
      peakLive: r.peakLiveBytes,
      footprint: r.peakFootprint,
      stopped: false,
    };
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const ns = cpuNs();
    return {
      ns,
      wallNs: ns,
      ops: done,
      failures: 0,
      peakLive: null,
      footprint: null,
      stopped: true,
    };
  }
}
