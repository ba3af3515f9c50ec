// A row process: runs one row of one workload or trace for the parent (runner.mjs), which
// forks this file once per row and pass. Messages from the parent:
//   { type: "setup", id, key, file? }  make the row's allocator (file: the trace binary)
//   { type: "run", deadline }          one run; replies { type: "result", result }
//   { type: "exit" }
// Errors reply { type: "error", error } with the first line of the message.
//
// One allocator per row process, made before anything is timed and used by the warm-up and
// every timed run (each run frees everything it allocated), as the C rows use one malloc
// heap per process: every row runs on warm memory.
//
// A run's result: { ns, wallNs, ops, failures, peakLive, footprint, reserved, draws, stopped }
// (workloads.mjs for the fields; footprint is from the allocator's region start; reserved is
// the bytes the allocator's memory holds after the run, for growable memories).

import { mk } from "./lib.mjs";
import { dist } from "./paths.mjs";
import { rowsFor, traceRowAllocator } from "./rows.mjs";
import { loadTraceBinary } from "./traces.mjs";
import { compile, draws, WORKLOADS } from "./workloads.mjs";

/** What the allocator's memory holds now (growable memories grow; others report null). */
function reservedBytes(a) {
  const m = a?.memory;
  return m && typeof m.byteLength === "number" && m.maxEnd > m.byteLength ? m.byteLength : null;
}

async function workloadRun(mk, id, row) {
  const w = WORKLOADS[id];
  const D = draws(id);
  const fn = compile(id, row);
  const a = row.kind === "gc" ? null : await row.make(mk, w.heap, id);
  const start = a?.memory ? a.memory.start : 0;
  return async (deadline) => {
    const out = fn(a, D, process, deadline);
    return {
      ...out,
      footprint: row.kind === "gc" || out.top === 0 ? null : out.top - start,
      reserved: reservedBytes(a),
    };
  };
}

async function traceRun(mk, id, row, file) {
  const trace = loadTraceBinary(file, id);
  const { timedReplay } = await import(dist("cli/timed-replay.js"));
  const { replayGc } = await import("./peers/gc.mjs");
  const a = await traceRowAllocator(mk, row, trace);
  return async (deadline) => {
    if (row.kind === "gc") {
      const r = replayGc(trace, deadline);
      return { ...r, peakLive: r.peakLiveBytes, footprint: null };
    }
    // The same timed replay as `memkit replay`: CPU time, the trace's live blocks freed at
    // the end inside the clock (one op each).
    return { ...timedReplay(trace, a, { deadline }), reserved: reservedBytes(a) };
  };
}

let run = null;
process.on("message", async (m) => {
  try {
    if (m.type === "setup") {
      const row = rowsFor(m.id).find((r) => r.key === m.key);
      if (row === undefined) throw new Error(`no row ${m.key} in ${m.id}`);
      run = m.id.startsWith("W")
        ? await workloadRun(mk, m.id, row)
        : await traceRun(mk, m.id, row, m.file);
      process.send({ type: "ready" });
    } else if (m.type === "run") {
      process.send({ type: "result", result: await run(m.deadline) });
    } else if (m.type === "exit") {
      process.exit(0);
    }
  } catch (e) {
    process.send({ type: "error", error: String(e?.stack ?? e).split("\n")[0] });
  }
});
