// The benchmark suite: WORKLOADS.md's W1-W4, the three traces in traces/ and a growth trace
// made at bench time, for every memkit strategy they apply to and, in the same run, the peers
// a user would pick instead: @thi.ng/malloc, codemix's malloc, AssemblyScript's TLSF in wasm,
// the C library's malloc, and the garbage collector; with the empty-loop baseline and minimal
// JS references. It prints a short summary; the details go to the results files.
//
//   npm run bench                  W1-W4 (1 warm-up + 5 timed runs per row and process), the
//                                  traces (1 + 3), the growth trace, the shared heap, the
//                                  record workload (bench/records.mjs) and the Heap's W1
//                                  profile
//   npm run bench -- --publish     the same, and publishes the results: bench/results/latest.*
//                                  (committed) and the README's part they fill (publish.mjs)
//   npm run bench -- --quick       W1-W4 (3 timed runs, one process per row), the sqlite3
//                                  trace (1) and the record workload's --quick form
//   npm run bench -- --only W1,sqlite3   some workloads and traces only (also: growth, shared,
//                                  records)
//   npm run bench -- --rows heap,as      some rows only (the baselines always run)
//   npm run bench -- --no-native   skip the C rows (they are skipped anyway without `cc`)
//   npm run profile                CPU profile of the Heap on W1 (--profile W2:pool: another)
//   node bench/run.mjs --render [FILE.json]   rewrite a results file's .md (targets recomputed)
//
// Results: bench/out/latest.{md,json} (quick.* with --quick, partial.* with --only or --rows);
// bench/out/ is not tracked. `--publish` also writes bench/results/latest.{md,json} and the
// README's bench:published part.
//
// The method (runner.mjs, workloads.mjs, render.mjs say more):
// - Every row runs in a process of its own (child.mjs), so call sites see one allocator class,
//   and one row's type feedback, compiled code and garbage cannot disturb another's. In it: one
//   warm-up run, then the timed runs. Rows under 0.5 s per run get three such processes one
//   after the other (one with --quick); the median is over all their runs.
// - Rows are interleaved: run 1 of every row of a workload, then run 2, … Time is the process's
//   CPU time (C: CLOCK_PROCESS_CPUTIME_ID); the wall time is kept in the JSON.
// - Every row reports its median net ns/op with min, max and quartiles over its runs, and the
//   1-minute load average at its first and last timed run; targets are decided on the 95%
//   bootstrap interval of the figure they compare (targets.mjs, stats.mjs).
// - Op counts, draws and peak live bytes of every row are checked against what WORKLOADS.md
//   implies (and against the trace); a mismatch is printed as a warning row.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { GROWTH_ID, GROWTH_NOTE, growthBinary } from "./growth.mjs";
import { prepareNative, runNative } from "./native.mjs";
import { HERE, TRACE_DIR, TRACE_NAMES } from "./paths.mjs";
import { buildAssemblyScript } from "./peers/adapters.mjs";
import { profileRow } from "./profile.mjs";
import { Progress } from "./progress.mjs";
import { publish } from "./publish.mjs";
import { renderMarkdown, renderSummary, wrap } from "./render.mjs";
import { nativeResult, recordsResults, rowResults, sharedResults } from "./results.mjs";
import { NOT_BENCHED, versionOf } from "./rows.mjs";
import { measure } from "./runner.mjs";
import { computeTargets } from "./targets.mjs";
import { loadTraceBinary, traceBinary, traceFloors } from "./traces.mjs";
import { expected } from "./workloads.mjs";

const OUT_DIR = join(HERE, "out");
const SHARED_NOTE =
  "## Shared heap (bench/shared.mjs)\n\n" +
  "W1 on one SharedHeap of 64 MiB by 1, 2 and 4 worker threads, each running the whole W1 with " +
  'its own slots and seed, next to the single-threaded TlsfAllocator; wall time from "go" to ' +
  "the last worker's end (threads share the process's CPU time), no baseline subtracted. The " +
  "footprint is from one more 2-worker run that counts both workers' live bytes (untimed). " +
  "Read the scaling against the machine's own 2-thread ceiling and the load average.";

const RECORDS_NOTE =
  "## Records (bench/records.mjs)\n\n" +
  "The record workload: records { x, y, vx, vy: f64; id: u32; alive: u8 } created, " +
  "updated (x += vx, y += vy) in rounds, a random 10% freed and re-created each round (a full " +
  "run: 1,000,000 records, 100 rounds; --quick: 100,000 and 20), " +
  "the same xorshift32 stream for every variant (the final sum of x + y is checked to agree). " +
  "Each run of a variant is a process of its own, the variants alternate; CPU time is the " +
  "process's (garbage collector threads included). Bytes per record: the engine's own count " +
  "of memory in use (heapUsed + external, after two forced collections) once every record " +
  "exists, less the same before, over the record count; it includes what holds the records " +
  "(the array of objects, the Uint32Array of pointers) and what an allocator reserved but has " +
  "not handed out. GC pauses: the PerformanceObserver `gc` entries of the workload (the forced " +
  "collections left out); the longest is over every run, the others are medians.";

const { values: opt, positionals } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "no-native": { type: "boolean", default: false },
    only: { type: "string" },
    rows: { type: "string" },
    publish: { type: "boolean", default: false },
    profile: { type: "string" },
    render: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: true,
});
if (opt.help) {
  // The usage is this file's opening comment, up to the method.
  const own = readFileSync(new URL(import.meta.url), "utf8").split("\n");
  const end = own.findIndex((l) => l.startsWith("// The method"));
  console.log(
    own
      .slice(0, end)
      .filter((l) => l.startsWith("//"))
      .map((l) => l.replace(/^\/\/ ?/, ""))
      .join("\n"),
  );
  process.exit(0);
}
const list = (s) => (s === undefined ? null : s.split(",").filter((x) => x !== ""));
const only = list(opt.only);
const keys = list(opt.rows);
const quick = opt.quick;

const RUNS = quick ? 3 : 5;
const TRACE_RUNS = quick ? 1 : 3;
const DEADLINE_MS = quick ? 3_000 : 30_000;
const SLOW_MS = quick ? 1_500 : 8_000;
const FAST_MS = 500;
const PASSES = quick ? 1 : 3;
const rel = (f) => relative(process.cwd(), f) || f;

/** The measuring options every workload and trace shares. */
const measuring = (runs, progress, setup) => ({
  runs,
  passes: PASSES,
  deadlineMs: DEADLINE_MS,
  slowMs: SLOW_MS,
  fastMs: FAST_MS,
  keys,
  setup,
  progress: (text) => progress.step(text),
});

async function main() {
  const t0 = Date.now();
  const load0 = loadavg();
  const workloadIds = ["W1", "W2", "W3", "W4"].filter((w) => !only || only.includes(w));
  let traceIds = TRACE_NAMES.filter((t) => (only ? only.includes(t) : !quick || t === "sqlite3"));
  const growth = only ? only.includes(GROWTH_ID) : !quick;
  const shared = only ? only.includes("shared") : !quick;
  const records = only ? only.includes("records") : true;
  const profile = !quick && !only && !keys;
  const notes = [
    `Registered configurations not benchmarked: ${Object.entries(NOT_BENCHED)
      .map(([name, why]) => `${name} (${why})`)
      .join("; ")}.`,
  ];

  const asNote = buildAssemblyScript();
  if (asNote) notes.push(asNote);
  const native = prepareNative(opt["no-native"]);
  notes.push(...native.notes);
  if (traceIds.length > 0 && !existsSync(TRACE_DIR)) {
    notes.push(`Trace replays skipped: ${TRACE_DIR} not found.`);
    traceIds = [];
  }

  const results = [];
  const warnings = [];
  /** The 1-minute load average at the start of every interleaved round, per workload. */
  const rounds = {};
  let libc = null;
  const sections =
    workloadIds.length +
    traceIds.length +
    (growth ? 1 : 0) +
    (shared ? 1 : 0) +
    (records ? 1 : 0) +
    (profile ? 1 : 0);
  const progress = new Progress(sections);

  for (const id of workloadIds) {
    progress.next(id);
    const exp = expected(id);
    const { rows, rounds: r } = await measure(id, measuring(RUNS, progress, {}));
    rounds[id] = r;
    results.push(...rowResults(id, "workload", rows, exp, DEADLINE_MS, warnings));
    if (native.workloads?.bin && (!keys || keys.includes("c"))) {
      progress.step("C malloc");
      const c = timedNative(native.workloads.bin, [id, String(RUNS)]);
      libc ??= c.libc ?? null;
      results.push(nativeResult(id, "workload", c, exp, warnings));
    }
  }

  const floors = {};
  for (const name of traceIds) {
    progress.next(`trace ${name}`);
    progress.step("reading the trace");
    const file = await traceBinary(name);
    const t = loadTraceBinary(file, name);
    floors[name] = await traceFloors(t);
    const exp = { ops: t.count + t.liveAtEnd, peakLive: t.peakLive };
    const wl = `trace ${name}`;
    const { rows, rounds: r } = await measure(name, measuring(TRACE_RUNS, progress, { file }));
    rounds[wl] = r;
    results.push(...rowResults(wl, "trace", rows, exp, DEADLINE_MS, warnings));
    if (native.replay?.bin && (!keys || keys.includes("c"))) {
      progress.step("C malloc");
      const c = timedNative(native.replay.bin, [file, String(TRACE_RUNS)]);
      results.push(nativeResult(wl, "trace", { libc, ...c }, exp, warnings));
    }
  }

  if (growth) {
    progress.next("growth trace");
    progress.step("making the trace");
    const file = growthBinary();
    const t = loadTraceBinary(file, GROWTH_ID);
    const exp = { ops: t.count + t.liveAtEnd, peakLive: t.peakLive };
    const { rows } = await measure(GROWTH_ID, { ...measuring(1, progress, { file }), passes: 1 });
    const out = rowResults("growth trace", "growth", rows, exp, DEADLINE_MS, warnings);
    for (const r of out) {
      if (r.reserved != null && r.footprint) {
        r.note = `reserved ${r.reserved.toLocaleString("en-US")} bytes: ${(r.reserved / r.footprint).toFixed(3)}× the peak footprint`;
      }
    }
    results.push(...out);
  }

  if (shared) {
    progress.next("shared heap: W1 by 1, 2 and 4 workers");
    progress.step("running bench/shared.mjs");
    results.push(
      ...scriptRows("shared.mjs", [], { RUNS: String(RUNS) }, (j) => sharedResults(j, warnings), {
        workload: "shared W1",
        suite: "shared",
        key: "shared",
        row: "SharedHeap",
      }),
    );
  }

  if (records) {
    progress.next("records: a million records as objects, memkit structs and typed arrays");
    progress.step("running bench/records.mjs");
    results.push(
      ...scriptRows(
        "records.mjs",
        quick ? ["--quick"] : [],
        {},
        (j) => recordsResults(j, warnings),
        {
          workload: "records",
          suite: "records",
          key: "records",
          row: "records",
        },
      ),
    );
  }

  let profiled = null;
  if (profile) {
    progress.next("CPU profile of the Heap on W1");
    mkdirSync(OUT_DIR, { recursive: true });
    profiled = await profileRow("W1", "heap", RUNS, OUT_DIR);
    if (profiled.error) notes.push(`The W1 Heap profile failed: ${profiled.error}`);
  }
  progress.clear();

  const meta = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    runs: RUNS,
    traceRuns: TRACE_RUNS,
    passes: PASSES,
    fastSeconds: FAST_MS / 1000,
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
    profile: profiled?.error ? null : profiled && { file: profiled.file, top: profiled.top },
    sections: { growth: GROWTH_NOTE, shared: SHARED_NOTE, records: RECORDS_NOTE },
    rounds,
    floors,
    notes,
    warnings,
  };
  meta.targets = computeTargets(results, traceIds, { growth });
  const stem = only || keys ? "partial" : quick ? "quick" : "latest";
  const files = save(meta, results, stem);
  const where = `Results: ${files.map(rel).join(", ")}${profiled?.file ? `; profile: ${profiled.file}` : ""}`;
  process.stdout.write(`${renderSummary(results)}\n${targetLine(meta.targets)}\n${wrap(where)}\n`);
}

/** A C program's results with the 1-minute load average before and after it ran. */
function timedNative(bin, argv) {
  const load = loadavg()[0];
  return { ...runNative(bin, argv), load: [load, loadavg()[0]] };
}

/**
 * Runs a section's own script (`bench/FILE --json ARGS`, in a process of its own) and makes
 * rows of what it prints; when it fails, one row with `errorRow`'s names and the error.
 */
function scriptRows(file, args, env, toRows, errorRow) {
  try {
    const out = execFileSync(process.execPath, [join(HERE, file), "--json", ...args], {
      encoding: "utf8",
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 20,
    });
    return toRows(JSON.parse(out));
  } catch (e) {
    const why = String(e.stderr || e.message)
      .trim()
      .split("\n")
      .pop();
    return [{ ...errorRow, error: why }];
  }
}

/** One line counting the targets by verdict. */
function targetLine(targets) {
  const n = (v) => targets.filter((t) => t.verdict === v).length;
  return (
    `Targets: ${n("met")} met, ${n("missed")} missed, ${n("noise")} within noise, ` +
    `${n("unmeasured")} not measured.`
  );
}

/** Writes OUT/stem.{md,json}; with --publish also bench/results/latest.* and the README. */
function save(meta, results, stem) {
  mkdirSync(OUT_DIR, { recursive: true });
  const md = join(OUT_DIR, `${stem}.md`);
  const json = join(OUT_DIR, `${stem}.json`);
  writeFileSync(md, `${renderMarkdown(meta, results)}\n`);
  writeFileSync(json, `${JSON.stringify({ meta, results }, null, 2)}\n`);
  return opt.publish ? [md, json, ...publish([md, json], meta, results)] : [md, json];
}

/** `--render [FILE.json]`: rewrites the Markdown of saved results (targets recomputed). */
async function renderSaved() {
  const file = positionals[0] ?? join(OUT_DIR, "latest.json");
  const { meta, results } = JSON.parse(readFileSync(file, "utf8"));
  const traceIds = [
    ...new Set(results.filter((r) => r.suite === "trace").map((r) => r.workload)),
  ].map((w) => w.replace(/^trace /, ""));
  // Results saved before the floors were recorded: the traces give them (they are exact).
  meta.floors ??= {};
  for (const name of traceIds) {
    if (meta.floors[name] === undefined && existsSync(join(TRACE_DIR, `${name}.trace.gz`))) {
      meta.floors[name] = await traceFloors(loadTraceBinary(await traceBinary(name), name));
    }
  }
  meta.targets = computeTargets(results, traceIds, {
    growth: results.some((r) => r.suite === "growth"),
  });
  writeFileSync(file.replace(/\.json$/, ".md"), `${renderMarkdown(meta, results)}\n`);
  writeFileSync(file, `${JSON.stringify({ meta, results }, null, 2)}\n`);
}

async function profileOnly() {
  const [id, key = "heap"] = opt.profile.split(":");
  mkdirSync(OUT_DIR, { recursive: true });
  const setup = {};
  if (!id.startsWith("W")) setup.file = id === GROWTH_ID ? growthBinary() : await traceBinary(id);
  process.stderr.write(`Profiling ${key} on ${id} (one warm-up and ${RUNS} runs)…\n`);
  const p = await profileRow(id, key, RUNS, OUT_DIR, setup);
  if (p.error) {
    process.stderr.write(`profile failed: ${p.error}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${p.text}\n\nWritten: ${p.file}\n`);
}

if (opt.publish && (only || keys || quick)) {
  process.stderr.write("--publish writes the committed results: only a full run publishes.\n");
  process.exitCode = 2;
} else if (opt.render) await renderSaved();
else if (opt.profile !== undefined) await profileOnly();
else await main();
