/// <reference types="node" />
/**
 * `memkit replay`'s measurement: each allocator replays the trace in a process of its own
 * (replay-child.ts), so its call sites see one allocator class and no other allocator's
 * compiled code or garbage, as the benchmark's rows do. In the process: one allocator, built
 * for the trace as the benchmark's trace rows build it (allocators.ts's `traceAllocator`),
 * replays the whole trace `warmupsFor(ops)` times untimed (the footprint is taken in the
 * first, on the fresh allocator), then `runsFor(ops)` times, each timed by CPU time
 * (timed-replay.ts) and each ending with the allocator empty. With `verify` there is one run,
 * which paints and checks every block: its time is not the allocator's and is not reported.
 *
 * The allocators run one after the other; the 1-minute load average before and after each is
 * kept beside its figures.
 */

import { fork } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import type { ReplayResult } from "../trace/replay.js";
import type { Trace } from "../trace/trace.js";
import { allocatorChoice, traceAllocator } from "./allocators.js";
import type { ReplayRow } from "./format.js";
import { median, spread } from "./stats.js";
import { type TimedRun, timedReplay } from "./timed-replay.js";

/**
 * Timed runs per allocator: enough for about 2 million ops in all, 1 … 9; 1 when verifying.
 * A short trace gets the most, so that a ratio of two medians has an interval narrow enough
 * to tell a 1.8× difference apart: on the bundled 100,000-op trace (measured once, load ~10),
 * after warming up (warmupsFor) the free list's runs stayed within 6% of each other and the
 * offset allocator's within 2×, where five runs each had left a 1.5× difference within noise.
 */
export function runsFor(ops: number, verify: boolean): number {
  if (verify) return 1;
  return Math.max(1, Math.min(9, Math.ceil(2_000_000 / Math.max(1, ops))));
}

/**
 * Untimed replays before the timed ones: about 400,000 ops, 1 … 4 (the first is the one whose
 * footprint is shown). On the bundled trace the free list's first four replays took up to 2.6×
 * its settled time while V8 was still compiling them.
 */
export function warmupsFor(ops: number): number {
  return Math.max(1, Math.min(4, Math.ceil(400_000 / Math.max(1, ops))));
}

/** What one allocator's process measured. */
export interface Measured {
  /** ns/op of every timed run (none with verify). */
  readonly samples: number[];
  /** CPU ms of every timed run. */
  readonly ms: number[];
  /** The first replay, on the fresh allocator (untimed warm-up, or the verifying run). */
  readonly first: TimedRun;
}

/** Progress of one allocator's replays: `run` 0 is the warm-up. */
export type ReplayProgress = (run: number, runs: number, done: number, total: number) => void;

/** Replays `trace` on allocator `name` as the module header says. Throws on a failure. */
export function measureAllocator(
  trace: Trace,
  name: string,
  verify: boolean,
  onProgress?: ReplayProgress,
): Measured {
  const a = traceAllocator(name, trace);
  const runs = verify ? 0 : runsFor(trace.count, false);
  const at = (run: number) => (done: number, total: number) => onProgress?.(run, runs, done, total);
  const progressEvery = Math.max(10_000, Math.floor(trace.count / 100));
  const first = timedReplay(trace, a, { verify, onProgress: at(0), progressEvery });
  for (let w = verify ? 1 : warmupsFor(trace.count); w > 1; w--) {
    timedReplay(trace, a, { onProgress: at(0), progressEvery });
  }
  const samples: number[] = [];
  const ms: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const r = timedReplay(trace, a, { onProgress: at(run), progressEvery });
    samples.push(r.ns / Math.max(1, r.ops));
    ms.push(r.ns / 1e6);
  }
  return { samples, ms, first };
}

/** The row of one allocator from what its process measured. */
function rowOf(trace: Trace, name: string, m: Measured, load: [number, number]): ReplayRow {
  const c = allocatorChoice(name);
  const f = m.first;
  const peakLive = f.peakLive ?? 0;
  const footprint = f.footprint ?? 0;
  const timed = m.samples.length > 0;
  const result: ReplayResult = {
    trace: trace.name,
    ops: f.ops,
    failures: f.failures,
    elapsedMs: timed ? median(m.ms) : Number.NaN,
    nsPerOp: timed ? median(m.samples) : Number.NaN,
    peakLiveBytes: peakLive,
    peakFootprint: footprint,
    footprintRatio: peakLive > 0 ? footprint / peakLive : Number.NaN,
  };
  return {
    name,
    label: c.label,
    result,
    runs: m.samples.length,
    samples: m.samples,
    spread: spread(m.samples),
    load,
  };
}

/** The compiled child script next to this module (absent when running from the sources). */
const CHILD = fileURLToPath(new URL("./replay-child.js", import.meta.url));

/** Messages from replay-child.ts. */
type ChildMessage =
  | { type: "progress"; run: number; runs: number; done: number; total: number }
  | { type: "result"; measured: Measured }
  | { type: "error"; error: string };

function inChild(
  path: string,
  name: string,
  verify: boolean,
  onProgress: ReplayProgress,
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const cp = fork(CHILD, [], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      execArgv: ["--max-old-space-size=4096"],
    });
    let stderr = "";
    let settled = false;
    cp.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    cp.on("message", (m: ChildMessage) => {
      if (m.type === "progress") onProgress(m.run, m.runs, m.done, m.total);
      else {
        settled = true;
        if (m.type === "result") resolve(m.measured);
        else reject(new Error(m.error));
      }
    });
    cp.on("exit", (code, signal) => {
      if (!settled) {
        const why = stderr.trim().split("\n").pop() ?? "";
        reject(new Error(`its process exited (${signal ?? code})${why ? `: ${why}` : ""}`));
      }
    });
    cp.send({ path, name, verify });
  });
}

export interface ReplayOptions {
  readonly verify?: boolean;
  /** Where the trace was read from (the allocator processes read it again). */
  readonly path?: string;
  /** Replay in this process (no file to hand a process, or no compiled child script). */
  readonly inProcess?: boolean;
  readonly onProgress?: (
    name: string,
    run: number,
    runs: number,
    done: number,
    total: number,
  ) => void;
}

/** Replays `trace` on each named allocator (see the module header). */
export async function runReplays(
  trace: Trace,
  names: readonly string[],
  options: ReplayOptions = {},
): Promise<ReplayRow[]> {
  const verify = options.verify === true;
  const separate = options.inProcess !== true && options.path !== undefined && existsSync(CHILD);
  const rows: ReplayRow[] = [];
  for (const name of names) {
    const progress: ReplayProgress = (run, runs, done, total) =>
      options.onProgress?.(name, run, runs, done, total);
    const load0 = loadavg()[0];
    try {
      const m = separate
        ? await inChild(options.path as string, name, verify, progress)
        : measureAllocator(trace, name, verify, progress);
      rows.push({ ...rowOf(trace, name, m, [load0, loadavg()[0]]), ownProcess: separate });
    } catch (e) {
      rows.push({
        name,
        label: allocatorChoice(name).label,
        result: null,
        error: (e as Error).message,
      });
    }
  }
  return rows;
}
