/// <reference types="node" />
/**
 * The `memkit` command: `bench`, `replay`, `report`, `tour` (see args.ts for the options).
 * `main(argv, io)` runs one command and returns the exit status (0 done, 1 failed, 2 bad
 * command line); `memkit.ts` is the executable that calls it. Output goes through `io` so
 * tests run commands in-process.
 */

import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TlsfAllocator } from "../strategies/tlsf/index.js";
import { footprintFloor, NO_HEADER_LAYOUT } from "../trace/floor.js";
import type { Trace } from "../trace/trace.js";
import { advise } from "./advice.js";
import { ALLOCATORS, GENERAL_NAMES, traceAllocator } from "./allocators.js";
import { CliError, helpText, type Invocation, parseArgs, UsageError, usageText } from "./args.js";
import {
  floorLine,
  fmtBytes,
  fmtInt,
  type ReplayRow,
  replayTable,
  traceSummaryLine,
  wrap,
} from "./format.js";
import { snapshotAtPeak, type TraceStats, traceStats } from "./heapmap.js";
import { runReplays, runsFor, warmupsFor } from "./replays.js";
import { type BenchFile, renderReport, type TraceReplay } from "./report.js";
import { tour } from "./tour.js";
import { readTraceFile } from "./trace-file.js";

/** Where output goes, and where the package lives (bench/, traces/). */
export interface Io {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown; readonly isTTY?: boolean };
  /** The package root: bench/run.mjs and traces/ are found from here. */
  readonly root: string;
  /** Relative paths on the command line are resolved from here. */
  readonly cwd: string;
}

/** The package root of this file: dist/cli/ (or src/cli/) → two levels up. */
export const PACKAGE_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The small trace that ships with memkit (the first 100,000 ops of the sqlite3 trace). */
export const BUNDLED_TRACE = join("traces", "sqlite3-100k.trace.gz");

export function defaultIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, root: PACKAGE_ROOT, cwd: process.cwd() };
}

// ---- progress ------------------------------------------------------------------------------

/**
 * A progress bar on stderr, only when stderr is a terminal (redrawn in place with `\r`);
 * silent otherwise, so logs and pipes get only the results.
 */
class Progress {
  private shown = false;
  private lastPct = -1;

  constructor(
    private readonly err: Io["stderr"],
    private readonly enabled: boolean,
  ) {}

  update(label: string, done: number, total: number, unit: string): void {
    if (!this.enabled || total <= 0) return;
    const pct = Math.min(100, Math.floor((100 * done) / total));
    if (pct === this.lastPct) return;
    this.lastPct = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    this.err.write(
      `\r${label.padEnd(16)} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(pct).padStart(3)}% ` +
        `${unit === "bytes" ? fmtBytes(done) : fmtInt(done)} / ${unit === "bytes" ? fmtBytes(total) : `${fmtInt(total)} ops`}`,
    );
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.err.write("\r\x1b[K");
    this.shown = false;
    this.lastPct = -1;
  }
}

// ---- shared steps --------------------------------------------------------------------------

async function loadTrace(path: string, io: Io): Promise<Trace> {
  const progress = new Progress(io.stderr, io.stderr.isTTY === true);
  try {
    return await readTraceFile(resolve(io.cwd, path), (done, total) =>
      progress.update("reading", done, total, "bytes"),
    );
  } finally {
    progress.clear();
  }
}

/** Reads `path` (relative to the working directory); an empty trace is an error. */
async function loadNonEmptyTrace(path: string, io: Io): Promise<Trace> {
  const trace = await loadTrace(path, io);
  if (trace.count === 0) throw new CliError(`${path}: the trace has no operations`);
  return trace;
}

/**
 * Replays the trace in `path` on each named allocator (replays.ts: a process per allocator,
 * CPU time), with a progress bar on a terminal.
 */
async function replayAll(
  io: Io,
  path: string,
  trace: Trace,
  names: readonly string[],
  verify = false,
): Promise<ReplayRow[]> {
  // A bar only where there is time to watch it.
  const long = trace.count * runsFor(trace.count, verify) >= 200_000;
  const progress = new Progress(io.stderr, io.stderr.isTTY === true && long);
  try {
    return await runReplays(trace, names, {
      verify,
      path: resolve(io.cwd, path),
      onProgress: (name, run, runs, done, total) =>
        progress.update(run === 0 ? `${name} first` : `${name} ${run}/${runs}`, done, total, "ops"),
    });
  } finally {
    progress.clear();
  }
}

function printReplay(
  io: Io,
  trace: Trace,
  stats: TraceStats,
  rows: readonly ReplayRow[],
  verify: boolean,
): void {
  const runs = rows.find((r) => r.runs !== undefined)?.runs ?? 0;
  const warm = warmupsFor(trace.count);
  const floors = floorLine(
    footprintFloor(trace, TlsfAllocator.blockLayout),
    footprintFloor(trace, NO_HEADER_LAYOUT),
  );
  io.stdout.write(
    `${wrap(traceSummaryLine(trace.name, stats))}\n${wrap(floors)}\n\n${replayTable(rows)}\n`,
  );
  const loads = rows.flatMap((r) => r.load ?? []);
  const load =
    loads.length > 0
      ? ` Load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}.`
      : "";
  const how = verify
    ? "--verify: one painted and checked replay each; its time is not the allocator's, so none is shown."
    : `ns/op: CPU time, the median of ${runs} timed run${runs === 1 ? "" : "s"} (min – max beside ` +
      `it) after ${warm} untimed replay${warm === 1 ? "" : "s"} (the first one's footprint is ` +
      "shown), each allocator in " +
      (rows.every((r) => r.ownProcess === true) ? "a process of its own" : "this process") +
      "; the replay loop's own work is included (the bench's trace tables call this raw).";
  io.stdout.write(`${wrap(`(${how}${load})`)}\n`);
  if (rows.length > 1 || verify) {
    io.stdout.write(
      `\n${advise(rows, verify)
        .lines.map((l) => wrap(l))
        .join("\n")}\n`,
    );
  }
}

function bundledTrace(io: Io): string | null {
  const p = join(io.root, BUNDLED_TRACE);
  return existsSync(p) ? p : null;
}

/**
 * The benchmark results to report: the given file, else the newest of this machine's runs
 * (bench/out/latest.json, quick.json), else the published bench/results/latest.json.
 */
function findResults(io: Io, given: string | null): { file: string; data: BenchFile } | null {
  const local = ["latest.json", "quick.json"]
    .map((f) => join(io.root, "bench", "out", f))
    .filter((f) => existsSync(f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const candidates =
    given !== null
      ? [resolve(io.cwd, given)]
      : [...local, join(io.root, "bench", "results", "latest.json")].filter((f) => existsSync(f));
  const file = candidates[0];
  if (file === undefined) return null;
  let data: BenchFile;
  try {
    data = JSON.parse(readFileSync(file, "utf8")) as BenchFile;
  } catch (e) {
    throw new CliError(`cannot read the benchmark results ${file}: ${(e as Error).message}`);
  }
  if (data === null || typeof data !== "object" || !Array.isArray(data.results)) {
    throw new CliError(`${file} is not a benchmark results file (no "results" array)`);
  }
  return { file: relative(io.cwd, file) || file, data };
}

/** A trace's replays and heap maps for the report. */
function traceReplay(trace: Trace, stats: TraceStats, rows: readonly ReplayRow[]): TraceReplay {
  const general = ALLOCATORS.filter((c) => c.general);
  return {
    name: trace.name,
    stats,
    comments: trace.comments,
    rows,
    maps: general.map((c) =>
      snapshotAtPeak(trace, () => traceAllocator(c.name, trace), c.name, c.label, stats),
    ),
  };
}

function writeReport(
  io: Io,
  out: string,
  command: string,
  bench: { file: string; data: BenchFile } | null,
  benchNote: string,
  traces: TraceReplay[],
): void {
  const html = renderReport({
    generated: new Date().toISOString(),
    command,
    bench,
    benchNote,
    traces,
  });
  const path = resolve(io.cwd, out);
  try {
    writeFileSync(path, html);
  } catch (e) {
    throw new CliError(`cannot write the report to ${path}: ${(e as Error).message}`);
  }
  io.stdout.write(`\nReport: ${path} (${fmtBytes(Buffer.byteLength(html))})\n`);
}

/**
 * Runs a Node script from the package root. On the real terminal it inherits stdout and
 * stderr (so its own progress display works); otherwise its output is passed on to `io`.
 */
function runNode(io: Io, script: string, args: readonly string[]): Promise<number> {
  const inherit = io.stdout === process.stdout && io.stderr === process.stderr;
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: io.root,
      stdio: inherit ? ["ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => io.stdout.write(d.toString()));
    child.stderr?.on("data", (d: Buffer) => io.stderr.write(d.toString()));
    child.on("error", (e) => {
      io.stderr.write(`memkit: cannot run ${script}: ${e.message}\n`);
      done(127);
    });
    child.on("close", (code, signal) => done(code ?? (signal !== null ? 128 : 1)));
  });
}

// ---- the commands --------------------------------------------------------------------------

async function cmdReplay(inv: Extract<Invocation, { command: "replay" }>, io: Io): Promise<number> {
  const trace = await loadNonEmptyTrace(inv.trace, io);
  const stats = traceStats(trace);
  const rows = await replayAll(io, inv.trace, trace, inv.allocators, inv.verify);
  printReplay(io, trace, stats, rows, inv.verify);
  const failed = rows.filter((r) => r.result === null);
  if (inv.verify && failed.length === 0) {
    const passed = rows.length === 1 ? "passed" : `all ${rows.length} passed`;
    io.stdout.write(
      `\n${wrap(
        "--verify: every block painted and checked before it was freed or resized, zero fills " +
          `checked, check() every 50,000 ops, and the heap empty after freeing the rest: ${passed}.`,
      )}\n`,
    );
  }
  for (const r of failed) io.stderr.write(`memkit: ${r.name}: ${r.error}\n`);
  return failed.length > 0 ? 1 : 0;
}

async function cmdBench(inv: Extract<Invocation, { command: "bench" }>, io: Io): Promise<number> {
  let status = 0;
  let benchNote = "";
  const runner = join(io.root, "bench", "run.mjs");
  if (!existsSync(runner)) {
    benchNote =
      "The benchmark suite (bench/run.mjs) is not here: it ships with the repository, not " +
      "the npm package.";
    io.stderr.write(`memkit: ${benchNote} Skipping the workloads.\n`);
  } else {
    const code = await runNode(io, runner, inv.quick ? ["--quick"] : []);
    if (code !== 0) {
      status = 1;
      benchNote = `The benchmark runner failed (exit ${code}); the results shown are the last ones found.`;
      io.stderr.write(
        `memkit: the benchmark runner failed (exit ${code}); going on with the trace replay.\n`,
      );
    }
  }

  const paths = inv.traces.length > 0 ? inv.traces : [bundledTrace(io)].filter((p) => p !== null);
  if (paths.length === 0)
    io.stderr.write("memkit: no trace to replay (the bundled one is missing).\n");
  const replays: TraceReplay[] = [];
  for (const path of paths) {
    const trace = await loadNonEmptyTrace(path, io);
    const stats = traceStats(trace);
    const rows = await replayAll(io, path, trace, GENERAL_NAMES);
    // The details go to the report; here, one line per trace.
    const first = advise(rows).lines[0] ?? "";
    io.stdout.write(`${wrap(`Trace ${trace.name} (${fmtInt(stats.ops)} ops): ${first}`)}\n`);
    if (inv.out !== null) replays.push(traceReplay(trace, stats, rows));
  }

  if (inv.out !== null) {
    const resultsFile = join(io.root, "bench", "out", inv.quick ? "quick.json" : "latest.json");
    const bench = existsSync(resultsFile) ? findResults(io, resultsFile) : null;
    if (bench === null && benchNote === "") benchNote = `No benchmark results in ${resultsFile}.`;
    writeReport(io, inv.out, commandLine(inv), bench, benchNote, replays);
  }
  return status;
}

async function cmdReport(inv: Extract<Invocation, { command: "report" }>, io: Io): Promise<number> {
  const bench = findResults(io, inv.results);
  const note =
    bench === null
      ? "No benchmark results found in bench/results: run `memkit bench` (or `npm run bench`) first."
      : "";
  const paths = inv.traces.length > 0 ? inv.traces : [bundledTrace(io)].filter((p) => p !== null);
  const replays: TraceReplay[] = [];
  for (const path of paths) {
    const trace = await loadNonEmptyTrace(path, io);
    const stats = traceStats(trace);
    replays.push(traceReplay(trace, stats, await replayAll(io, path, trace, GENERAL_NAMES)));
  }
  writeReport(io, inv.out, commandLine(inv), bench, note, replays);
  return 0;
}

function commandLine(inv: Invocation): string {
  switch (inv.command) {
    case "bench":
      return `memkit bench${inv.quick ? " --quick" : ""}${inv.traces.map((t) => ` --trace ${t}`).join("")}`;
    case "report":
      return `memkit report${inv.results !== null ? ` --results ${inv.results}` : ""}${inv.traces
        .map((t) => ` --trace ${t}`)
        .join("")}`;
    default:
      return `memkit ${inv.command}`;
  }
}

/** Runs one `memkit` command line; returns the exit status. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  let inv: Invocation;
  try {
    inv = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(
      `memkit: ${e.message}\n\n${e.topic === null ? usageText() : helpText(e.topic)}\n`,
    );
    return e.exitCode;
  }
  try {
    switch (inv.command) {
      case "help":
        io.stdout.write(`${helpText(inv.topic)}\n`);
        return 0;
      case "version": {
        const pkg = JSON.parse(readFileSync(join(io.root, "package.json"), "utf8")) as {
          version?: string;
        };
        io.stdout.write(`memkit ${pkg.version ?? "?"}\n`);
        return 0;
      }
      case "replay":
        return await cmdReplay(inv, io);
      case "bench":
        return await cmdBench(inv, io);
      case "report":
        return await cmdReport(inv, io);
      case "tour":
        io.stdout.write(`${tour().join("\n")}\n`);
        return 0;
    }
  } catch (e) {
    if (e instanceof CliError) {
      io.stderr.write(`memkit: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
