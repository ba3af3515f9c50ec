// Runs the rows of one workload or trace, each in a process of its own (child.mjs), and
// collects their samples.
//
// A pass: one process per row, a warm-up run of every row, then `runs` rounds of one run of
// every row (interleaved: run 1 of every row, then run 2, …, so drift in machine speed hits
// all rows alike). Rows whose warm-up took under `fastMs` get `passes` passes, each in fresh
// processes, and their samples are kept per process (see stats.mjs). The 1-minute load
// average is read at the start of every round and kept per row (at its first and last timed
// run) and per round.

import { fork } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { HERE } from "./paths.mjs";
import { rowsFor } from "./rows.mjs";

const CHILD = join(HERE, "child.mjs");

/**
 * A forked row process and a promise-based request/reply over its IPC channel. `execArgv`
 * adds Node options (the profiler's).
 */
export function spawnRow(setup, execArgv = [], wrap = {}) {
  // `wrap` runs node under another program (bench/instructions.mjs: valgrind): its path, the
  // arguments before node's own, and more environment.
  const cp = fork(CHILD, [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execPath: wrap.execPath ?? process.execPath,
    execArgv: [...(wrap.prefix ?? []), "--max-old-space-size=4096", ...execArgv],
    env: { ...process.env, ...wrap.env },
  });
  let pending = null;
  cp.on("message", (m) => {
    const p = pending;
    pending = null;
    p?.resolve(m);
  });
  const exited = new Promise((resolve) => {
    cp.on("exit", (code, signal) => {
      const p = pending;
      pending = null;
      p?.resolve({ type: "error", error: `row process exited (${signal ?? code})` });
      resolve(code);
    });
  });
  const ask = (msg) =>
    new Promise((resolve) => {
      pending = { resolve };
      cp.send(msg);
    });
  return {
    ready: ask({ type: "setup", ...setup }),
    ask,
    /** Asks the process to exit; resolves when it has (a profile is written by then). */
    close: () => {
      if (cp.connected) cp.send({ type: "exit" });
      return exited;
    },
  };
}

const load1 = () => loadavg()[0];

/**
 * Measures the rows of `id`. Options: runs, passes, deadlineMs (a run stops there), slowMs (a
 * warm-up slower than this gets one timed run), fastMs (faster: `passes` processes), setup
 * (extra setup fields: the trace file), keys (only these rows), progress(text).
 * Returns { rows, rounds } where every row has samples, groups (samples per process),
 * wallSamples, first and last run results, error, load: [at its first, at its last run]; and
 * rounds lists { pass, run, load } for every round.
 */
export async function measure(id, options) {
  const { runs, passes, deadlineMs, slowMs, fastMs, setup = {}, keys = null } = options;
  const progress = options.progress ?? (() => {});
  const rows = rowsFor(id)
    .filter((r) => keys === null || keys.includes(r.key) || r.group === "baseline")
    .map((r) => ({
      ...r,
      samples: [],
      groups: [],
      wallSamples: [],
      first: null,
      last: null,
      error: null,
      load: null,
      maxRuns: runs,
      passes: 1,
    }));
  const rounds = [];
  const runOne = async (r) => {
    const t0 = Date.now();
    const m = await r.proc.ask({ type: "run", deadline: t0 + deadlineMs });
    if (m.type !== "result") {
      r.error = m.error;
      return;
    }
    r.last = m.result;
    r.wallMs = Date.now() - t0;
  };
  for (let pass = 0; pass < passes; pass++) {
    const active = rows.filter((r) => !r.error && (pass === 0 || r.passes > pass));
    if (active.length === 0) break;
    const passText = passes > 1 ? `pass ${pass + 1} of ${passes}, ` : "";
    for (const r of active) {
      r.proc = spawnRow({ id, key: r.key, ...setup });
      const m = await r.proc.ready;
      if (m.type !== "ready") r.error = m.error;
      r.current = [];
    }
    for (const r of active) {
      if (r.error) continue;
      progress(`${passText}warm-up, ${r.short}`);
      await runOne(r);
      if (r.error || pass > 0) continue;
      r.first = r.last; // the footprint is the fresh allocator's, in the first warm-up
      if (r.last.stopped) {
        // Past the deadline in the warm-up: no timed runs; report what it did.
        const ns = r.last.ns / Math.max(1, r.last.ops);
        r.samples.push(ns);
        r.current.push(ns);
        r.maxRuns = 0;
      } else {
        if (r.wallMs > slowMs) r.maxRuns = 1;
        if (r.wallMs < fastMs) r.passes = passes;
      }
    }
    for (let run = 1; run <= runs; run++) {
      const load = load1();
      rounds.push({ pass: pass + 1, run, load });
      for (const r of active) {
        if (r.error || r.current.length >= r.maxRuns || r.last?.stopped) continue;
        progress(`${passText}run ${run} of ${runs}, ${r.short}`);
        await runOne(r);
        if (r.error) continue;
        const ns = r.last.ns / Math.max(1, r.last.ops);
        r.samples.push(ns);
        r.current.push(ns);
        r.load = [r.load?.[0] ?? load, load1()];
        if (r.last.wallNs !== undefined)
          r.wallSamples.push(r.last.wallNs / Math.max(1, r.last.ops));
      }
    }
    for (const r of active) {
      await r.proc.close();
      if (r.current.length > 0) r.groups.push(r.current);
    }
  }
  for (const r of rows) {
    delete r.proc;
    delete r.current;
  }
  return { rows, rounds };
}
