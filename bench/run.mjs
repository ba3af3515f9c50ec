// The benchmark suite: shared/WORKLOADS.md W1-W4 and the three shared traces, for every
// memkit strategy they apply to and, in the same run, the peers a user would pick instead:
// @thi.ng/malloc, codemix's malloc, AssemblyScript's TLSF in wasm, the C library's malloc,
// and the garbage collector; with the empty-loop baseline and minimal JS references.
//
//   npm run bench                  W1-W4 (1 warm-up + 5 timed runs per row and process) and the
//                                  traces (1 + 3): about 6 minutes on a 2-core machine
//   npm run bench -- --quick       W1-W4 (3 timed runs, one process per row) and the sqlite3
//                                  trace (1): under a minute
//   npm run bench -- --only W1,sqlite3   some workloads and traces only
//   npm run bench -- --no-native   skip the C rows (they are skipped anyway without `cc`)
//   node bench/run.mjs --render [bench/results/latest.json]   rewrite the .md from a .json
//
// Method (see also bench/workloads.mjs):
// - Every row runs in a process of its own (this file, forked with --child), so call sites
//   see one allocator class, and one row's type feedback, compiled code and garbage cannot
//   disturb another's. In it: one warm-up run, then the timed runs. Rows under 0.5 s per run
//   get three such processes one after the other (passes; one with --quick), and the median
//   is over all their runs: the code V8 compiles differs a little from process to process.
// - Rows are interleaved: run 1 of every row of a workload, then run 2 of every row, ... so
//   that drift in machine speed hits all rows alike. Each row process makes one allocator
//   before anything is timed and uses it for the warm-up and every run (each run frees all it
//   allocated), as the C program uses one malloc heap: all rows run on warm memory. The
//   footprint is the warm-up's, on the fresh allocator.
// - Time is the process's CPU time (user + system; C: CLOCK_PROCESS_CPUTIME_ID), so that other
//   processes on a shared machine do not count; the wall time is kept in the JSON.
// - Reported per row: median ns/op raw, net of the baseline (raw − the empty loop's median),
//   failures, and peak footprint (highest block end above the allocator's region start)
//   against peak live bytes (the highest sum of requested sizes alive at once).
// - A run stops at a deadline (30 s; 3 s with --quick) and is then reported as stopped with
//   the ns/op of the operations it did; a row whose warm-up took over 8 s (1.5 s with --quick)
//   gets one timed run instead of five. Only very slow peers meet either.
// - The C rows: bench/native/*.c, compiled here with `cc -O2` and run right after the JS rows
//   of each workload or trace, with their own empty loop (same method, in C).
// - Op counts, draws and peak live bytes of every row are checked against what WORKLOADS.md
//   implies (and against the trace); a mismatch is printed as a warning row.
//
// Results: bench/results/latest.md and latest.json (quick.md / quick.json with --quick,
// partial.md / partial.json with --only).

import { execFileSync, fork } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { asTlsf, buildAssemblyScript, codemixMalloc, thingMalloc } from "./peers/adapters.mjs";
import { MinimalBump, MinimalPool } from "./reference.mjs";
import { compile, draws, expected, WORKLOADS } from "./workloads.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const self = fileURLToPath(import.meta.url);
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;

const TRACE_DIR = join(root, "traces");
const TRACE_NAMES = ["python-json", "gcc-lvm", "sqlite3"];
const NATIVE_DIR = join(here, "native");
const NATIVE_BUILD = join(NATIVE_DIR, "build");
const CFLAGS = ["-O2", "-fno-builtin-malloc", "-fno-builtin-free"];

const args = process.argv.slice(2);
const isChild = args[0] === "--child";
const quick = args.includes("--quick");
const noNative = args.includes("--no-native");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only = onlyArg
  ? (onlyArg.includes("=") ? onlyArg.split("=")[1] : args[args.indexOf(onlyArg) + 1]).split(",")
  : null;
const RUNS = quick ? 3 : 5;
const TRACE_RUNS = quick ? 1 : 3;
const DEADLINE_MS = quick ? 3_000 : 30_000;
const SLOW_MS = quick ? 1_500 : 8_000;
const FAST_MS = 500;
const PASSES = quick ? 1 : 3;

const mib = (n) => n * 1024 * 1024;
const versionOf = (name) => {
  try {
    return JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8"))
      .version;
  } catch {
    return "?";
  }
};

// ---- the rows ---------------------------------------------------------------------------

/**
 * The rows of a workload or a trace. A row: key, label, group (memkit | peer | reference |
 * baseline), kind (alloc | reset | gc | baseline), make(mk, heapBytes) -> allocator/adapter,
 * passSize (dealloc(p, size)), note.
 */
function rowsFor(id) {
  const trace = !id.startsWith("W");
  const baseline = {
    key: "baseline",
    label: "baseline (empty loop)",
    group: "baseline",
    kind: "baseline",
    make: () => fakeAllocator(),
  };
  const fixed = (mk, n) => new mk.FixedMemory(new ArrayBuffer(n));
  const general = [
    {
      key: "heap",
      label: "memkit Heap (default: TLSF, grows from 64 KiB)",
      make: (mk) => new mk.Heap(),
    },
    {
      key: "tlsf",
      label: "memkit TlsfAllocator",
      make: (mk, n) => new mk.TlsfAllocator(fixed(mk, n)),
    },
    {
      key: "freelist",
      label: "memkit FreeListAllocator (first fit)",
      make: (mk, n) => new mk.FreeListAllocator(fixed(mk, n)),
    },
    {
      key: "buddy",
      label: "memkit BuddyAllocator (16-byte blocks)",
      make: (mk, n) => new mk.BuddyAllocator(fixed(mk, n), { minBlockSize: 16 }),
    },
  ];
  const slab = {
    key: "slab",
    label: "memkit SlabAllocator (over TlsfAllocator)",
    make: (mk, n) => new mk.SlabAllocator(new mk.TlsfAllocator(fixed(mk, n))),
  };
  const peers = [
    {
      key: "thing",
      label: `@thi.ng/malloc ${versionOf("@thi.ng/malloc")} MemPool`,
      make: (_mk, n) => thingMalloc(n, trace ? 16 : 8),
    },
    {
      key: "codemix",
      label: `malloc ${versionOf("malloc")} (codemix)`,
      make: (_mk, n) => codemixMalloc(n),
      note: trace ? "8-byte alignment only (the traces ask for 16); realloc emulated" : undefined,
    },
    {
      key: "as",
      label: `AssemblyScript ${versionOf("assemblyscript")} TLSF (wasm, called per op)`,
      make: () => asTlsf(),
    },
    {
      key: "gc",
      label: "garbage collector (new Uint8Array)",
      kind: "gc",
      make: () => null,
      note: "zero-fills every block; no footprint (the engine places the bytes)",
    },
  ];
  if (trace) return [baseline, ...general, slab, ...peers];
  const rows = [baseline];
  if (id === "W1") {
    rows.push(...general, slab, {
      key: "block",
      label: "memkit BlockAllocator (16-byte blocks)",
      make: (mk, n) => new mk.BlockAllocator(Math.floor(n / 16) - 64, 16),
      passSize: true,
    });
  } else if (id === "W2") {
    rows.push(
      {
        key: "minpool",
        label: "reference: minimal JS pool (no checks)",
        group: "reference",
        make: () => new MinimalPool(64, 1 << 20),
      },
      {
        key: "pool",
        label: "memkit PoolAllocator (64 B)",
        make: (mk) => new mk.PoolAllocator(64, 1 << 20),
      },
      ...general,
      slab,
    );
  } else if (id === "W3") {
    rows.push(
      {
        key: "baseline-reset",
        label: "baseline (empty loop without the free pass: for the reset rows)",
        group: "baseline",
        kind: "baseline",
        reset: true,
        make: () => fakeAllocator(),
      },
      {
        key: "minbump",
        label: "reference: minimal JS bump (no checks)",
        group: "reference",
        kind: "reset",
        make: (_mk, n) => new MinimalBump(n),
      },
      {
        key: "bump",
        label: "memkit BumpAllocator (reset)",
        kind: "reset",
        make: (mk, n) => new mk.BumpAllocator(n),
      },
      {
        key: "stack",
        label: "memkit StackAllocator (reset)",
        kind: "reset",
        make: (mk, n) => new mk.StackAllocator(n),
      },
      ...general,
      slab,
    );
  } else {
    rows.push(...general);
  }
  rows.push(...peers);
  return rows.map((r) => ({
    group: r.key === "baseline" ? "baseline" : peers.includes(r) ? "peer" : "memkit",
    kind: "alloc",
    ...r,
  }));
}

/** The empty loop's allocator (for trace replays): a fake pointer, nothing freed. */
function fakeAllocator() {
  return {
    memory: { start: 0, hasBytes: false },
    alloc: (n) => 64 + (n & 0),
    allocZeroed: (n) => 64 + (n & 0),
    realloc: (_p, n) => 64 + (n & 0),
    dealloc() {},
  };
}

// ---- traces: parsed once, cached as binary for the children and the C replayer -----------

/** Writes `name`'s parsed trace as u32 count, u32 idCount, count × [op|z<<8, id, size, align]. */
async function traceBinary(name) {
  const src = join(TRACE_DIR, `${name}.trace.gz`);
  const st = statSync(src);
  const dir = join(tmpdir(), "memkit-bench");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${st.size}-${Math.floor(st.mtimeMs)}.bin`);
  if (existsSync(file)) return file;
  const { parseTrace } = await import(dist("trace/trace.js"));
  const t = parseTrace(gunzipSync(readFileSync(src)).toString("latin1"), name);
  const out = new Uint32Array(2 + 4 * t.count);
  out[0] = t.count;
  out[1] = t.idCount;
  for (let i = 0; i < t.count; i++) {
    const o = 2 + 4 * i;
    out[o] = t.op[i] | (t.zeroed[i] << 8);
    out[o + 1] = t.id[i];
    out[o + 2] = t.size[i];
    out[o + 3] = t.align[i];
  }
  writeFileSync(file, out);
  return file;
}

/** Reads a trace binary back into the columns of src/trace/trace.ts's `Trace`. */
function loadTraceBinary(file, name) {
  const buf = readFileSync(file);
  const u = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const count = u[0];
  const t = {
    name,
    count,
    idCount: u[1],
    op: new Uint8Array(count),
    id: new Uint32Array(count),
    size: new Float64Array(count),
    align: new Uint32Array(count),
    zeroed: new Uint8Array(count),
    comments: [],
  };
  for (let i = 0; i < count; i++) {
    const o = 2 + 4 * i;
    t.op[i] = u[o] & 0xff;
    t.zeroed[i] = u[o] >>> 8;
    t.id[i] = u[o + 1];
    t.size[i] = u[o + 2];
    t.align[i] = u[o + 3];
  }
  const st = traceStats(t);
  t.peakLive = st.peakLive;
  t.liveAtEnd = st.liveAtEnd;
  return t;
}

/**
 * The peak live bytes a replay must report (requested sizes; a realloc counts its new size),
 * and the blocks still live at the end of the trace (a replay frees them: one op each).
 */
function traceStats(t) {
  const live = new Uint8Array(t.idCount);
  const sizes = new Float64Array(t.idCount);
  let bytes = 0;
  let peak = 0;
  for (let i = 0; i < t.count; i++) {
    const b = t.id[i];
    if (t.op[i] === 1) {
      bytes -= sizes[b];
      sizes[b] = 0;
      live[b] = 0;
    } else {
      bytes += t.size[i] - sizes[b];
      sizes[b] = t.size[i];
      live[b] = 1;
      if (bytes > peak) peak = bytes;
    }
  }
  let liveAtEnd = 0;
  for (let b = 0; b < t.idCount; b++) liveAtEnd += live[b];
  return { peakLive: peak, liveAtEnd };
}

// ---- the child: one row of one workload or trace ----------------------------------------

class Stop extends Error {}

async function child() {
  const index = await import(dist("index.js"));
  // PoolAllocator is not exported from the package entry (yet): take it from its module.
  const mk = {
    ...index,
    PoolAllocator: index.PoolAllocator ?? (await import(dist("strategies/pool.js"))).PoolAllocator,
  };
  let row = null;
  let run = null;
  process.on("message", async (m) => {
    try {
      if (m.type === "setup") {
        row = rowsFor(m.id).find((r) => r.key === m.key);
        // One allocator per row process, made before anything is timed and used by the
        // warm-up and every timed run (each run frees everything it allocated), as the C
        // rows use one malloc heap per process: every row runs on warm memory.
        if (m.id.startsWith("W")) {
          const w = WORKLOADS[m.id];
          const D = draws(m.id);
          const fn = compile(m.id, row);
          const a = row.kind === "gc" ? null : await row.make(mk, w.heap);
          const start = a?.memory ? a.memory.start : 0;
          run = async (deadline) => {
            const out = fn(a, D, process, deadline);
            return {
              ...out,
              footprint: row.kind === "gc" || out.top === 0 ? null : out.top - start,
            };
          };
        } else {
          const trace = loadTraceBinary(m.file, m.id);
          const { replay } = await import(dist("trace/replay.js"));
          const { replayGc } = await import("./peers/gc.mjs");
          const a = row.kind === "gc" ? null : await row.make(mk, mib(128));
          run = async (deadline) => {
            if (row.kind === "gc") {
              const r = replayGc(trace, deadline);
              return { ...r, peakLive: r.peakLiveBytes, footprint: null };
            }
            let done = 0;
            const onProgress = (n) => {
              done = n;
              if (Date.now() > deadline) throw new Stop();
            };
            // CPU time of the process around the replay, which frees the blocks the trace
            // leaves live (so the allocator is empty for the next run): those frees count
            // as operations too (replay.ts's own figure is wall time over the trace's ops).
            const c0 = process.cpuUsage();
            const cpuNs = () => {
              const c = process.cpuUsage(c0);
              return (c.user + c.system) * 1000;
            };
            try {
              const r = replay(trace, a, { onProgress, progressEvery: 65536, freeAtEnd: true });
              return {
                ns: cpuNs(),
                wallNs: r.elapsedMs * 1e6,
                ops: r.ops + trace.liveAtEnd,
                failures: r.failures,
                peakLive: r.peakLiveBytes,
                footprint: r.peakFootprint,
                stopped: false,
              };
            } catch (e) {
              if (!(e instanceof Stop)) throw e;
              return {
                ns: cpuNs(),
                ops: done,
                failures: 0,
                peakLive: null,
                footprint: null,
                stopped: true,
              };
            }
          };
        }
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
}

/** A forked row process and a promise-based request/reply over its IPC channel. */
function spawnRow(setup) {
  const cp = fork(self, ["--child"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: ["--max-old-space-size=4096"],
  });
  let pending = null;
  cp.on("message", (m) => {
    const p = pending;
    pending = null;
    p?.resolve(m);
  });
  cp.on("exit", (code, signal) => {
    const p = pending;
    pending = null;
    p?.resolve({ type: "error", error: `row process exited (${signal ?? code})` });
  });
  const ask = (msg) =>
    new Promise((resolve) => {
      pending = { resolve };
      cp.send(msg);
    });
  return {
    ready: ask({ type: "setup", ...setup }),
    ask,
    close: () => {
      if (cp.connected) cp.send({ type: "exit" });
    },
  };
}

// ---- the parent ---------------------------------------------------------------------------

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Runs the rows of one workload or trace. A pass: one process per row, a warm-up run of
 * every row, then `runs` rounds of one run of every row (interleaved). Rows whose warm-up
 * took under FAST_MS get `passes` passes, each in fresh processes, and their median is over
 * all the passes' runs: the code V8 compiles for a loop differs a little from one process
 * to the next, and one process would carry its luck into every sample.
 */
async function measure(id, runs, passes, setupExtra = {}) {
  const rows = rowsFor(id).map((r) => ({
    ...r,
    samples: [],
    wallSamples: [],
    processMedians: [],
    first: null,
    last: null,
    error: null,
    maxRuns: runs,
    passes: 1,
  }));
  const runOne = async (r) => {
    const t0 = Date.now();
    const m = await r.proc.ask({ type: "run", deadline: t0 + DEADLINE_MS });
    if (m.type !== "result") {
      r.error = m.error;
      return;
    }
    r.last = m.result;
    r.wallMs = Date.now() - t0;
  };
  process.stderr.write(`${id}:`);
  for (let pass = 0; pass < passes; pass++) {
    const active = rows.filter((r) => !r.error && (pass === 0 || r.passes > pass));
    if (active.length === 0) break;
    if (passes > 1) process.stderr.write(` [pass ${pass + 1}]`);
    for (const r of active) {
      r.proc = spawnRow({ id, key: r.key, ...setupExtra });
      const m = await r.proc.ready;
      if (m.type !== "ready") r.error = m.error;
      r.passSamples = [];
    }
    process.stderr.write(" warm-up");
    for (const r of active) {
      if (r.error) continue;
      await runOne(r);
      if (r.error || pass > 0) continue;
      r.first = r.last; // the footprint is the fresh allocator's, in the first warm-up
      if (r.last.stopped) {
        // Past the deadline in the warm-up: no timed runs; report what it did.
        r.samples.push(r.last.ns / Math.max(1, r.last.ops));
        r.maxRuns = 0;
      } else {
        if (r.wallMs > SLOW_MS) r.maxRuns = 1;
        if (r.wallMs < FAST_MS) r.passes = passes;
      }
    }
    for (let run = 1; run <= runs; run++) {
      process.stderr.write(` ${run}`);
      for (const r of active) {
        if (r.error || r.passSamples.length >= r.maxRuns || r.last?.stopped) continue;
        await runOne(r);
        if (r.error) continue;
        const ns = r.last.ns / Math.max(1, r.last.ops);
        r.samples.push(ns);
        r.passSamples.push(ns);
        if (r.last.wallNs !== undefined)
          r.wallSamples.push(r.last.wallNs / Math.max(1, r.last.ops));
      }
    }
    for (const r of active) {
      r.proc.close();
      if (r.passSamples.length > 0) r.processMedians.push(median(r.passSamples));
    }
  }
  process.stderr.write("\n");
  return rows;
}

function have(cmd) {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Compiles bench/native/NAME.c; returns the binary's path, or a note saying why not. */
function buildNative(name) {
  const src = join(NATIVE_DIR, `${name}.c`);
  const bin = join(NATIVE_BUILD, name);
  try {
    if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return { bin };
    mkdirSync(NATIVE_BUILD, { recursive: true });
    execFileSync("cc", [...CFLAGS, "-o", bin, src], { stdio: ["ignore", "pipe", "pipe"] });
    return { bin };
  } catch (e) {
    return {
      note: `cc failed on ${name}.c: ${
        String(e.stderr ?? e)
          .trim()
          .split("\n")[0]
      }`,
    };
  }
}

function runNative(bin, argv) {
  try {
    const out = execFileSync(bin, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out);
  } catch (e) {
    return {
      error: String(e.stderr ?? e)
        .trim()
        .split("\n")[0],
    };
  }
}

async function main() {
  const t0 = Date.now();
  const load0 = loadavg();
  const workloadIds = ["W1", "W2", "W3", "W4"].filter((w) => !only || only.includes(w));
  let traceIds = TRACE_NAMES.filter((t) => (only ? only.includes(t) : !quick || t === "sqlite3"));
  const notes = [];

  const asNote = buildAssemblyScript();
  if (asNote) notes.push(asNote);
  let native = { workloads: null, replay: null, cc: null };
  if (noNative) notes.push("C rows skipped (--no-native).");
  else if (!have("cc")) notes.push("C rows skipped: no `cc` on this machine.");
  else {
    native = {
      workloads: buildNative("workloads"),
      replay: buildNative("replay"),
      cc: execFileSync("cc", ["--version"], { encoding: "utf8" }).split("\n")[0],
    };
    for (const n of [native.workloads, native.replay]) if (n.note) notes.push(n.note);
  }
  if (traceIds.length > 0 && !existsSync(TRACE_DIR)) {
    notes.push(`Trace replays skipped: ${TRACE_DIR} not found.`);
    traceIds = [];
  }

  const results = [];
  const warnings = [];
  let libc = null;

  for (const id of workloadIds) {
    const exp = expected(id);
    const rows = await measure(id, RUNS, PASSES);
    const baseOf = (key) => {
      const b = rows.find((r) => r.key === key);
      return !b || b.error ? Number.NaN : median(b.samples);
    };
    const base = baseOf("baseline");
    const baseReset = baseOf("baseline-reset");
    for (const r of rows) {
      if (r.error) {
        results.push({ workload: id, row: r.label, group: r.group, error: r.error });
        continue;
      }
      const raw = median(r.samples);
      const o = r.last;
      const res = {
        workload: id,
        suite: "workload",
        row: r.label,
        group: r.group,
        rawNsPerOp: raw,
        netNsPerOp: r.kind === "baseline" ? 0 : raw - (r.kind === "reset" ? baseReset : base),
        samples: r.samples,
        processMedians: r.processMedians,
        wallNsPerOp: r.wallSamples.length > 0 ? median(r.wallSamples) : null,
        ops: o.ops,
        failures: o.failures,
        peakLiveBytes: o.peakLive ?? r.first.peakLive,
        footprint: r.kind === "baseline" ? null : r.first.footprint,
        footprintRatio:
          r.kind === "baseline" || r.first.footprint === null
            ? null
            : r.first.footprint / r.first.peakLive,
      };
      if (r.kind === "reset") res.baseline = "baseline-reset";
      if (o.stopped) res.stopped = true;
      if (r.note) res.note = r.note;
      const bad = [];
      if (o.ops !== exp.ops) bad.push(`ops ${o.ops} ≠ ${exp.ops}`);
      if (o.peakLive !== exp.peakLive) bad.push(`peak live ${o.peakLive} ≠ ${exp.peakLive}`);
      if (o.draws !== exp.draws) bad.push(`draws ${o.draws} ≠ ${exp.draws}`);
      if (o.stopped) {
        res.warning = `stopped at the ${DEADLINE_MS / 1000} s deadline after ${o.ops.toLocaleString("en-US")} of ${exp.ops.toLocaleString("en-US")} ops: ns/op over the ops done`;
      } else if (bad.length > 0) {
        res.warning = `${bad.join(", ")}${o.failures ? ` (${o.failures} failures)` : ""}`;
        warnings.push(`${id} ${r.label}: ${res.warning}`);
      }
      results.push(res);
    }
    if (native.workloads?.bin) {
      process.stderr.write(`${id}: C malloc\n`);
      const c = runNative(native.workloads.bin, [id, String(RUNS)]);
      const label = `C malloc/free (${c.libc ?? "libc"}, cc -O2)`;
      if (c.error) {
        results.push({ workload: id, row: label, group: "peer", error: c.error });
      } else {
        libc = c.libc;
        const m = c.malloc;
        const res = {
          workload: id,
          suite: "workload",
          row: label,
          group: "peer",
          native: true,
          rawNsPerOp: m.rawNsPerOp,
          netNsPerOp: m.netNsPerOp,
          baselineNsPerOp: c.baseline.rawNsPerOp,
          samples: m.samples,
          ops: m.ops,
          failures: m.failures,
          peakLiveBytes: m.peakLiveBytes,
          footprint: m.footprint,
          footprintRatio: m.footprint === null ? null : m.footprint / m.peakLiveBytes,
          note: "net of the C empty loop",
        };
        const bad = [];
        if (m.ops !== exp.ops) bad.push(`ops ${m.ops} ≠ ${exp.ops}`);
        if (m.peakLiveBytes !== exp.peakLive)
          bad.push(`peak live ${m.peakLiveBytes} ≠ ${exp.peakLive}`);
        if (m.draws !== exp.draws) bad.push(`draws ${m.draws} ≠ ${exp.draws}`);
        if (bad.length > 0) {
          res.warning = bad.join(", ");
          warnings.push(`${id} ${label}: ${res.warning}`);
        }
        results.push(res);
      }
    }
  }

  for (const name of traceIds) {
    const file = await traceBinary(name);
    const t = loadTraceBinary(file, name);
    const expPeak = t.peakLive;
    const expOps = t.count + t.liveAtEnd;
    const wl = `trace ${name}`;
    const rows = await measure(name, TRACE_RUNS, PASSES, { file });
    const base = rows[0].error ? Number.NaN : median(rows[0].samples);
    for (const r of rows) {
      if (r.error) {
        results.push({ workload: wl, row: r.label, group: r.group, error: r.error });
        continue;
      }
      const raw = median(r.samples);
      const o = r.last;
      const res = {
        workload: wl,
        suite: "trace",
        row: r.label,
        group: r.group,
        rawNsPerOp: raw,
        netNsPerOp: r.kind === "baseline" ? 0 : raw - base,
        samples: r.samples,
        processMedians: r.processMedians,
        wallNsPerOp: r.wallSamples.length > 0 ? median(r.wallSamples) : null,
        ops: o.ops,
        failures: o.failures,
        peakLiveBytes: o.peakLive ?? r.first.peakLive,
        footprint: r.kind === "baseline" ? null : r.first.footprint,
        footprintRatio:
          r.kind === "baseline" || r.first.footprint === null || r.first.peakLive === null
            ? null
            : r.first.footprint / r.first.peakLive,
      };
      if (r.note) res.note = r.note;
      if (o.stopped) {
        res.stopped = true;
        res.warning = `stopped at the ${DEADLINE_MS / 1000} s deadline after ${o.ops.toLocaleString("en-US")} of ${expOps.toLocaleString("en-US")} ops: ns/op over the ops done`;
      } else if (o.ops !== expOps || o.peakLive !== expPeak) {
        res.warning = `ops ${o.ops} / peak live ${o.peakLive}, the trace has ${expOps} / ${expPeak}${o.failures ? ` (${o.failures} failures)` : ""}`;
        warnings.push(`${wl} ${r.label}: ${res.warning}`);
      }
      results.push(res);
    }
    if (native.replay?.bin) {
      process.stderr.write(`${name}: C malloc\n`);
      const c = runNative(native.replay.bin, [file, String(TRACE_RUNS)]);
      const label = `C malloc/free (${libc ?? "libc"}, cc -O2)`;
      if (c.error) {
        results.push({ workload: wl, row: label, group: "peer", error: c.error });
      } else {
        const m = c.malloc;
        const res = {
          workload: wl,
          suite: "trace",
          row: label,
          group: "peer",
          native: true,
          rawNsPerOp: m.rawNsPerOp,
          netNsPerOp: m.netNsPerOp,
          baselineNsPerOp: c.baseline.rawNsPerOp,
          samples: m.samples,
          ops: c.ops,
          failures: m.failures,
          peakLiveBytes: m.peakLiveBytes,
          footprint: m.footprint,
          footprintRatio: m.footprint === null ? null : m.footprint / m.peakLiveBytes,
          note: "net of the C empty loop",
        };
        if (c.ops !== expOps || m.peakLiveBytes !== expPeak) {
          res.warning = `ops ${c.ops} / peak live ${m.peakLiveBytes}, the trace has ${expOps} / ${expPeak}`;
          warnings.push(`${wl} ${label}: ${res.warning}`);
        }
        results.push(res);
      }
    }
  }

  const targets = computeTargets(results, traceIds);
  const command = `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`;
  const meta = {
    command,
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    runs: RUNS,
    traceRuns: TRACE_RUNS,
    passes: PASSES,
    quick,
    loadavgStart: load0,
    loadavgEnd: loadavg(),
    seconds: Math.round((Date.now() - t0) / 1000),
    deadlineSeconds: DEADLINE_MS / 1000,
    cc: native.cc,
    libc,
    peers: {
      "@thi.ng/malloc": versionOf("@thi.ng/malloc"),
      malloc: versionOf("malloc"),
      assemblyscript: versionOf("assemblyscript"),
    },
    notes,
    warnings,
    targets,
  };
  const md = renderMarkdown(meta, results, workloadIds, traceIds);
  console.log(md);
  const outDir = join(here, "results");
  mkdirSync(outDir, { recursive: true });
  // A run of some workloads only must not replace the complete results.
  const stem = only ? "partial" : quick ? "quick" : "latest";
  writeFileSync(join(outDir, `${stem}.md`), `${md}\n`);
  writeFileSync(join(outDir, `${stem}.json`), `${JSON.stringify({ meta, results }, null, 2)}\n`);
  process.stderr.write(`wrote bench/results/${stem}.md and ${stem}.json\n`);
}

// ---- targets ------------------------------------------------------------------------------

/** The issue's targets, each a ratio or difference of two rows of this run. */
function computeTargets(results, traceIds) {
  const find = (w, prefix) =>
    results.find((r) => r.workload === w && r.row.startsWith(prefix) && r.error === undefined);
  const net = (w, prefix) => find(w, prefix)?.netNsPerOp;
  const HEAP = "memkit Heap";
  const out = [];
  const add = (t) => {
    const ok = t.value === undefined || Number.isNaN(t.value) ? null : t.met(t.value);
    const { by, met, ...rest } = t;
    out.push({ ...rest, met: ok, missedBy: ok === false ? by(t.value) : null });
  };
  // W1 speed against the pure-JS peers and AssemblyScript.
  const jsPeers = results.filter(
    (r) =>
      r.workload === "W1" &&
      (r.row.startsWith("@thi.ng/malloc") || r.row.startsWith("malloc ")) &&
      r.error === undefined,
  );
  const fastestJs = jsPeers.sort((a, b) => a.netNsPerOp - b.netNsPerOp)[0];
  const heapW1 = net("W1", HEAP);
  if (fastestJs && heapW1 !== undefined) {
    add({
      id: "W1-js",
      what: `W1: fastest pure-JS peer (${fastestJs.row}) net / Heap net`,
      value: fastestJs.netNsPerOp / heapW1,
      goal: "≥ 10×",
      met: (v) => v >= 10,
      by: (v) =>
        `needs ${(10 / v).toFixed(2)}× faster (Heap net ${heapW1.toFixed(1)} ns → ${(fastestJs.netNsPerOp / 10).toFixed(1)} ns)`,
      fmt: "x",
    });
  }
  const asW1 = find("W1", "AssemblyScript");
  if (asW1 && heapW1 !== undefined) {
    add({
      id: "W1-as",
      what: "W1: AssemblyScript TLSF (wasm) net / Heap net",
      value: asW1.netNsPerOp / heapW1,
      goal: "≥ 1.5×",
      met: (v) => v >= 1.5,
      by: (v) =>
        `needs ${(1.5 / v).toFixed(2)}× faster (Heap net ${heapW1.toFixed(1)} ns → ${(asW1.netNsPerOp / 1.5).toFixed(1)} ns)`,
      fmt: "x",
    });
  }
  // The difference in each pass (process medians of the same time window): its spread
  // shows how much of a difference of a few ns is the machine's noise.
  const perPass = (w, a, b) => {
    const x = find(w, a)?.processMedians ?? [];
    const y = find(w, b)?.processMedians ?? [];
    return x.length > 1 && x.length === y.length ? x.map((v, i) => v - y[i]) : undefined;
  };
  const pool = net("W2", "memkit PoolAllocator");
  const minPool = net("W2", "reference: minimal JS pool");
  if (pool !== undefined && minPool !== undefined) {
    add({
      id: "W2-pool",
      what: "W2: PoolAllocator net − minimal JS pool net",
      perPass: perPass("W2", "memkit PoolAllocator", "reference: minimal JS pool"),
      value: pool - minPool,
      goal: "≤ 2 ns",
      met: (v) => v <= 2,
      by: (v) => `${(v - 2).toFixed(2)} ns over`,
      fmt: "ns",
    });
  }
  const bump = net("W3", "memkit BumpAllocator");
  const minBump = net("W3", "reference: minimal JS bump");
  if (bump !== undefined && minBump !== undefined) {
    add({
      id: "W3-bump",
      what: "W3: BumpAllocator net − minimal JS bump net",
      perPass: perPass("W3", "memkit BumpAllocator", "reference: minimal JS bump"),
      value: bump - minBump,
      goal: "≤ 1 ns",
      met: (v) => v <= 1,
      by: (v) => `${(v - 1).toFixed(2)} ns over`,
      fmt: "ns",
    });
  }
  const heapRowW1 = find("W1", HEAP);
  if (heapRowW1?.footprintRatio != null) {
    add({
      id: "W1-footprint",
      what: "W1: Heap footprint / peak live",
      value: heapRowW1.footprintRatio,
      goal: "≤ 1.10",
      met: (v) => v <= 1.1,
      by: (v) => `${(v - 1.1).toFixed(3)} over`,
      fmt: "r",
    });
  }
  for (const w of ["W1", "W2", "W3"]) {
    const h = net(w, HEAP);
    const c = results.find((r) => r.workload === w && r.native && r.error === undefined);
    if (h !== undefined && c) {
      add({
        id: `${w}-c`,
        what: `${w}: Heap net / C malloc net (direction)`,
        value: h / c.netNsPerOp,
        goal: "≤ 1.0",
        met: (v) => v <= 1,
        by: (v) => `Heap ${v.toFixed(2)}× C's time per op`,
        fmt: "r",
      });
    }
  }
  for (const name of traceIds) {
    const h = find(`trace ${name}`, HEAP);
    if (h?.footprintRatio != null) {
      add({
        id: `trace-${name}`,
        what: `trace ${name}: Heap footprint / peak live`,
        value: h.footprintRatio,
        goal: "≤ 1.10",
        met: (v) => v <= 1.1,
        by: (v) => `${(v - 1.1).toFixed(3)} over`,
        fmt: "r",
      });
    }
  }
  return out;
}

// ---- what the results file says about the peers and the missed targets ---------------------

const PEER_NOTES = [
  `@thi.ng/malloc ${versionOf("@thi.ng/malloc")} (Apache-2.0) \`MemPool\`: first fit over an ` +
    "address-ordered free list; the used blocks are on a list too, which `free` walks to find " +
    "the block, and `compact` (on by default) walks the free list on every free. So free is " +
    "O(live + free blocks): fine for a few hundred blocks, tens of µs per op with thousands " +
    "(W1, the traces). Pool-wide alignment: 8 for the workloads, 16 for the traces.",
  `malloc ${versionOf("malloc")} (codemix, MIT): best fit over a skip list of free blocks keyed ` +
    "by size, boundary tags, coalescing on free; 8-byte alignment only; no realloc (emulated " +
    "here with alloc + copy + free). Removing a free block walks the free blocks of the same " +
    "size in turn (`remove` in its source), which degrades when thousands of free blocks share " +
    "a size (python-json).",
  `AssemblyScript ${versionOf("assemblyscript")} (Apache-2.0): the runtime's TLSF ` +
    "(std/assembly/rt/tlsf.ts) compiled from bench/wasm/tlsf.ts at bench time (`asc -O3 " +
    "--runtime minimal`, assertions kept as in AssemblyScript's default release build), one " +
    "wasm call per operation from JS. 16-byte granules, 4-byte block header; its memory grows " +
    "by itself.",
  "C malloc/free: the C library's allocator (glibc's ptmalloc2 with its per-thread cache) from " +
    "bench/native/*.c, the same workloads in C; its timing is net of the C empty loop, which " +
    "has the same bookkeeping as the JS one but is compiled ahead of time (faster), so compare " +
    "net figures. Large blocks (≥ 128 KiB at first) are mmapped and unmapped on free, which is " +
    "what W4 mostly measures for it.",
  "The garbage collector: `new Uint8Array(size)` and dropping the reference. Typed arrays up " +
    "to 64 bytes live on the V8 heap (W2, W3: cheap); larger ones get a separately allocated, " +
    "zeroed backing store that the collector must finalize (W1, W4: expensive). No footprint: " +
    "the engine decides where the bytes go.",
];

const FOOTPRINT_NOTES = [
  "PoolAllocator (W2): its out-of-line free stack (4 bytes per block) and live bitmap are " +
    "sized for all 1,048,576 blocks of the 64 MiB heap and sit before the first block, so the " +
    "highest block end is ~4.2 MiB up although 36 KB are live; a pool sized to the work would " +
    "not show this.",
  "BuddyAllocator: blocks are powers of two (16 bytes up), so live bytes round up to as much " +
    "as twice; on the traces its blocks reach the end of its fixed 128 MiB region.",
  "SlabAllocator: whole pages per size class (16 KiB by default), so a few partly used pages " +
    "per class dominate when little is live (W2, W3).",
  "C malloc: measured in a first, untimed pass on the fresh heap, from the start of the brk " +
    "heap (glibc's chunk headers and 16-byte granules included); mmapped chunks count at their " +
    "mapped size.",
];

/** Why a missed target is missed: the measured obstacle, with numbers from this run. */
function obstacle(t, results) {
  const net = (w, prefix) =>
    results.find((r) => r.workload === w && r.row.startsWith(prefix) && r.error === undefined)
      ?.netNsPerOp;
  const f = (x) => (x === undefined ? "—" : `${x.toFixed(1)} ns`);
  const heap = net("W1", "memkit Heap");
  const as = net("W1", "AssemblyScript");
  const c = results.find((r) => r.workload === "W1" && r.native)?.netNsPerOp;
  switch (t.id) {
    case "W1-js":
      return (
        `the pure-JS peers are faster than a 10× target assumes: 10× the fastest of them asks ` +
        `for the Heap at ${f(heap === undefined ? undefined : (t.value * heap) / 10)} net, against C ` +
        `malloc's ${f(c)} on this machine. The Heap's own time is what stands in the way (next ` +
        "line)."
      );
    case "W1-as":
      return (
        `the same algorithm (TLSF: two-level bitmaps, boundary tags) runs at ${f(as)} net in ` +
        `AssemblyScript's wasm against the Heap's ${f(heap)}. A CPU profile of TlsfAllocator ` +
        "on this W1 loop (node --cpu-prof) put ~24% of the time in `release` (free and merging " +
        "with neighbours), ~19% in `alloc` (bitmap search and split), ~10% in " +
        "`removeFree`/`insertFree`, the rest in the loop. Per call the JS version also does what " +
        "the wasm build does not: the contract's checks (size a uint32, align valid, on free " +
        "the pointer in range, aligned, a live block, not freed twice), the header's state " +
        "check, and bounds-checked typed-array accesses. (The Heap is TlsfAllocator on a " +
        "WebAssembly.Memory that grows from 64 KiB; compare the TlsfAllocator row, on a fixed " +
        "buffer.)"
      );
    case "W2-pool":
      return (
        "beyond the minimal pool's stack pop and push, PoolAllocator checks the header's state, " +
        "the size and alignment on alloc, and on free the pointer's range and block alignment " +
        "and the live bitmap (double free, foreign pointers), setting and clearing a bit. " +
        "bench/pool-w2.mjs isolates this workload (and shows `allocBlock()`, which skips the " +
        "size check)."
      );
    case "W3-bump":
      return (
        "BumpAllocator.alloc does, beyond the minimal bump's align-add-compare-store: the " +
        "header's state check (a float64 read), the size check, the overflow-safe alignUp, and " +
        "four header updates (top, last and live in int32 words, total bytes as a float64 " +
        "read-modify-write). A side experiment with this W3 loop on a quiet machine (raw ns/op, " +
        "medians of 9 runs): minimal bump 1.6–2.1, BumpAllocator 3.8–4.3, the same alloc without " +
        "the float64 total 2.6, int-only alignment and no checks 2.1–2.4. So the float64 total " +
        "(and state) accesses are most of the gap, the checks the rest. The gap also grows on a " +
        "loaded machine (2 vCPUs: a neighbour's process slows the longer path more)."
      );
    case "W1-c":
    case "W2-c":
    case "W3-c":
      return (
        "glibc serves these sizes from its per-thread cache (tcache: a few instructions per " +
        "malloc/free, no boundary-tag merging, no checks beyond a few integrity tests), compiled " +
        "ahead of time. The Heap does TLSF's full work per call (see the W1 lines) in JIT-compiled " +
        "JS; a size-class front end (the SlabAllocator row) is the nearest memkit answer."
      );
    default:
      if (t.id.startsWith("trace-")) {
        return (
          "all three traces ask for 16-byte alignment (glibc's). memkit's TLSF has 8-byte " +
          "granules and a 4-byte size word; it serves 16 by rounding block sizes to 16 (the " +
          "first block's pointer is 16-aligned, so blocks stay aligned), falling back to " +
          "splitting a gap off when the block found is not aligned. Before that rounding the " +
          "footprints were python-json 1.311, gcc-lvm 1.226, sqlite3 1.119; what is left is " +
          "TLSF's own fragmentation on these traces (good fit, no size classes for small " +
          "blocks: the free list's first fit is tighter on python-json, see the table)."
        );
      }
      return "";
  }
}

// ---- Markdown -----------------------------------------------------------------------------

function renderMarkdown(meta, results, workloadIds, traceIds) {
  const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(d));
  const int = (x) => (x === null || x === undefined ? "—" : x.toLocaleString("en-US"));
  const la = (l) => l.map((x) => x.toFixed(2)).join(" / ");
  const L = [];
  L.push(
    `Command: \`${meta.command}\` · ${meta.date} · Node ${meta.node} (V8 ${meta.v8}) · ${meta.cpu} (${meta.cores} cores)`,
    "",
    `Load average (1 / 5 / 15 min) at the start ${la(meta.loadavgStart)}, at the end ${la(meta.loadavgEnd)}; the whole run took ${meta.seconds} s.` +
      ` Workloads: ${meta.runs} timed runs after a warm-up in each process; traces: ${meta.traceRuns}` +
      (meta.passes > 1
        ? `; rows under ${FAST_MS / 1000} s per run get ${meta.passes} processes one after the other, and the median is over all their runs ("runs" column).`
        : ".") +
      (meta.cc
        ? ` C rows: \`${meta.cc}\`, ${meta.libc ?? "libc"}, \`cc ${CFLAGS.join(" ")}\`.`
        : ""),
    "",
    "How it was measured: every row runs in a process of its own, so its call sites stay " +
      "monomorphic and no other row's compiled code or garbage disturbs it; rows are " +
      "interleaved (run 1 of every row, then run 2, …). Each row process makes one allocator " +
      "and uses it for the warm-up and every run (each run frees all it allocated), as the C " +
      "program uses one malloc heap: every row runs on warm memory; the footprint is the warm-up's, " +
      "on the fresh allocator. Time is the process's CPU time (user + system), so that other " +
      "processes on a shared machine do not count (wall time is in the JSON). The PRNG draws of WORKLOADS.md " +
      "(xorshift32 from 2463534242) are computed before the clock starts and consumed in the " +
      "same order as rand() would be: the same workload and the same operations for every " +
      "allocator, without the PRNG and `%` in the timed loop (their compiled form varies from " +
      "one process to the next by more than the allocators being measured). Net ns/op = raw − " +
      "the empty loop's raw (the same loop with a fake pointer and no calls); the C rows use the " +
      "C empty loop. Footprint = the highest end of any block above the allocator's region start " +
      "(its header included); for C malloc, the highest byte of the brk heap plus the mmapped " +
      "chunks live at that moment. An op is one alloc or free call (W3: a reset stands for the " +
      "1,000 frees it replaces).",
    "",
  );
  // Targets
  L.push("## Targets", "");
  L.push("| target | measured | goal | met | by how much |", "| --- | ---: | --- | --- | --- |");
  for (const t of meta.targets) {
    const v =
      t.value === undefined
        ? "—"
        : t.fmt === "x"
          ? `${t.value.toFixed(2)}×`
          : t.fmt === "ns"
            ? `${t.value.toFixed(2)} ns${t.perPass ? ` (per process: ${t.perPass.map((d) => d.toFixed(1)).join(", ")})` : ""}`
            : t.value.toFixed(3);
    L.push(
      `| ${t.what} | ${v} | ${t.goal} | ${t.met === null ? "—" : t.met ? "yes" : "**no**"} | ${t.missedBy ?? ""} |`,
    );
  }
  L.push("");
  if (meta.warnings.length > 0) {
    L.push("Warnings:", "", ...meta.warnings.map((w) => `- ${w}`), "");
  }
  if (meta.notes.length > 0) L.push("Notes:", "", ...meta.notes.map((n) => `- ${n}`), "");
  const missed = meta.targets.filter((t) => t.met === false);
  if (missed.length > 0) {
    L.push("### What stands in the way", "");
    // Targets missed for the same reason share one explanation.
    const groups = new Map();
    for (const t of missed) {
      const why = obstacle(t, results);
      groups.set(why, [...(groups.get(why) ?? []), t.what]);
    }
    for (const [why, whats] of groups) L.push(`- **${whats.join("; ")}**: ${why}`);
    L.push("");
  }
  L.push("### The peers", "", ...PEER_NOTES.map((n) => `- ${n}`), "");
  L.push("### Reading the footprints", "", ...FOOTPRINT_NOTES.map((n) => `- ${n}`), "");

  const table = (rows, title) => {
    L.push(`### ${title}`, "");
    L.push(
      "| allocator | ns/op raw | ns/op net | runs | ops | failures | peak live | footprint | footprint / live |",
    );
    L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const r of rows) {
      if (r.error) {
        L.push(`| ${r.row} | error: ${r.error} | | | | | | | |`);
        continue;
      }
      const star = r.stopped ? " (stopped)" : "";
      L.push(
        `| ${r.row}${r.native ? ` [C empty loop ${fmt(r.baselineNsPerOp)}]` : ""} | ${fmt(r.rawNsPerOp)}${star} | ${fmt(r.netNsPerOp)} | ${r.samples?.length ?? "—"} | ${int(r.ops)} | ${int(r.failures)} | ${int(r.peakLiveBytes)} | ${int(r.footprint)} | ${fmt(r.footprintRatio, 3)} |`,
      );
      if (r.warning) L.push(`| ⚠ ${r.row}: ${r.warning} | | | | | | | | |`);
    }
    const noted = rows.filter((r) => r.note && !r.error);
    L.push("");
    for (const r of noted) L.push(`- ${r.row}: ${r.note}`);
    if (noted.length > 0) L.push("");
  };
  L.push("## Workloads (shared/WORKLOADS.md)", "");
  for (const id of workloadIds) {
    table(
      results.filter((r) => r.workload === id),
      WORKLOADS[id].name,
    );
  }
  if (traceIds.length > 0) {
    L.push(
      "## Trace replays (shared/traces)",
      "",
      "src/trace/replay.ts from dist, not verifying (no painting), on one allocator per row " +
        "process; each replay ends by freeing the blocks the trace leaves live (inside the clock, " +
        "one op each, for every row, C included), so the next run starts from an empty heap. The " +
        "footprint is the first replay's, on the fresh allocator. Memory: TLSF, free list, buddy " +
        "and slab's parent over a fixed 128 MiB, the Heap growing from 64 KiB, peers over " +
        "128 MiB (AssemblyScript grows its own). Every allocation asks for 16-byte alignment, as " +
        "the traces say. Baseline: the same replay loop against a fake allocator. The garbage " +
        "collector replays in its own loop " +
        "(bench/peers/gc.mjs) with the same semantics.",
      "",
    );
    for (const name of traceIds) {
      table(
        results.filter((r) => r.workload === `trace ${name}`),
        `trace ${name}`,
      );
    }
  }
  return L.join("\n");
}

/** `--render [FILE.json]`: rewrites the Markdown of saved results (latest.json by default). */
function renderSaved() {
  const file = args[1] ?? join(here, "results", "latest.json");
  const { meta, results } = JSON.parse(readFileSync(file, "utf8"));
  const ids = (suite) => [
    ...new Set(results.filter((r) => r.suite === suite).map((r) => r.workload)),
  ];
  const traceIds = ids("trace").map((w) => w.replace(/^trace /, ""));
  meta.targets = computeTargets(results, traceIds);
  const md = renderMarkdown(meta, results, ids("workload"), traceIds);
  writeFileSync(file.replace(/\.json$/, ".md"), `${md}\n`);
  writeFileSync(file, `${JSON.stringify({ meta, results }, null, 2)}\n`);
}

if (isChild) await child();
else if (args[0] === "--render") renderSaved();
else await main();
