// Instructions and cache misses per operation of a few rows, counted by valgrind's cachegrind:
// a measure of speed that the machine's load does not move (on the shared 2-core machines the
// same row's ns/op varies by ±20% from one process to the next; its instruction count by ~1%).
// It does not replace the timed benchmark (instructions are not time: a miss to memory costs
// far more than an add), but it shows whether a change to a hot path did less work.
//
//   npm run build && node bench/instructions.mjs                 Heap, TLSF, pool, minimal pool on W1, W2
//   node bench/instructions.mjs --only W1,python-json --rows heap,tlsf
//   node bench/instructions.mjs --dist /some/other/dist          another build (an A/B of two builds)
//   node bench/instructions.mjs --publish                        also bench/results/instructions.*
//
// Results: bench/out/instructions.{md,json}; with --publish also bench/results/ (committed),
// which the full benchmark's notes cite beside the Heap's speed targets (notes.mjs).
//
// How: each row runs twice in a row process (bench/child.mjs, as `npm run bench` runs it)
// under `valgrind --tool=cachegrind --cache-sim=yes` (32 KiB L1 caches and an 8 MiB last
// level, simulated alike on every machine) and `node --single-threaded` (no
// concurrent compiler or GC threads, whose work would be counted too): once with a warm-up and
// 1 timed run, once with the same warm-up and 1 + k (k = 2, or more for a workload whose runs
// are short: enough that the k runs make at least MIN_COUNTED_OPS operations, so W4's 40,000
// operations per run get k = 25). The difference of the two totals is the work of k timed
// runs, start-up and warm-up cancelled; divided by their operations it gives
// instructions (I), first-level data-cache misses (D1) and last-level misses (LL) per op, the
// loop's own work included (the `baseline` row counts the empty loop). Needs valgrind (Debian's
// `valgrind` package); a row takes about a minute.

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HERE, ROOT, TRACE_NAMES } from "./paths.mjs";

/**
 * The totals of a cachegrind output file: { I, D1, LL } (instructions, D1 misses, LL misses),
 * from its `summary:` line and the `events:` line that names its columns.
 */
export function cachegrindTotals(text) {
  const events = /^events:\s*(.+)$/m.exec(text)?.[1].trim().split(/\s+/);
  const summary = /^summary:\s*(.+)$/m.exec(text)?.[1].trim().split(/\s+/).map(Number);
  if (!events || !summary || events.length !== summary.length) {
    throw new Error("not a cachegrind output file (no events: and summary: lines that agree)");
  }
  const at = (name) => {
    const i = events.indexOf(name);
    return i < 0 ? 0 : summary[i];
  };
  return {
    I: at("Ir"),
    D1: at("D1mr") + at("D1mw"),
    LL: at("DLmr") + at("DLmw"),
  };
}

/**
 * The operations the difference of two counts covers at least: fewer leave per-run costs (the
 * run's own set-up, the clock reads) a visible share of a short run's count (W4, 40,000 ops a
 * run: 555 instructions per op for the empty loop counted over 2 runs, 198 over 8).
 */
export const MIN_COUNTED_OPS = 1_000_000;

/** How many runs more the second count makes: 2, or enough for MIN_COUNTED_OPS operations. */
export function extraRunsFor(opsPerRun) {
  return Math.max(2, Math.ceil(MIN_COUNTED_OPS / opsPerRun));
}

/** Per-op figures from two counts' totals: `few` (1 timed run) and `many` (1 + extraRuns). */
export function perOp(few, many, opsPerRun, extraRuns = 2) {
  const ops = opsPerRun * extraRuns;
  return {
    I: (many.I - few.I) / ops,
    D1: (many.D1 - few.D1) / ops,
    LL: (many.LL - few.LL) / ops,
  };
}

/** One row process under cachegrind: warm-up + `runs` timed runs; its totals and ops per run. */
async function counted(id, key, runs, setup, distDir) {
  // Loaded here, not at the top: they load the build, which the tests of this file need not.
  const { spawnRow } = await import("./runner.mjs");
  const dir = mkdtempSync(join(tmpdir(), "memkit-cg-"));
  const out = join(dir, "cachegrind.out");
  try {
    const env = distDir ? { MEMKIT_DIST: distDir } : {};
    const proc = spawnRow({ id, key, ...setup }, ["--single-threaded"], {
      execPath: "valgrind",
      prefix: [
        "--tool=cachegrind",
        "--cache-sim=yes",
        // The same simulated caches on every machine (32 KiB L1s, an 8 MiB last level), so
        // that counts from two machines compare and valgrind does not warn about odd L3s.
        "--I1=32768,8,64",
        "--D1=32768,8,64",
        "--LL=8388608,16,64",
        `--cachegrind-out-file=${out}`,
        `--log-file=${join(dir, "valgrind.log")}`, // its notes on the simulated caches
        process.execPath,
      ],
      env,
    });
    const ready = await proc.ready;
    if (ready.type !== "ready") throw new Error(ready.error);
    let ops = 0;
    for (let i = 0; i <= runs; i++) {
      const m = await proc.ask({ type: "run", deadline: Date.now() + 600_000 });
      if (m.type !== "result") throw new Error(m.error);
      ops = m.result.ops;
    }
    await proc.close();
    return { totals: cachegrindTotals(readFileSync(out, "utf8")), ops };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Instructions and misses per op of row `key` on workload or trace `id`. */
export async function countRow(id, key, distDir) {
  const { traceBinary } = await import("./traces.mjs");
  const setup = TRACE_NAMES.includes(id) ? { file: await traceBinary(id) } : {};
  const few = await counted(id, key, 1, setup, distDir);
  const extra = extraRunsFor(few.ops);
  const many = await counted(id, key, 1 + extra, setup, distDir);
  if (few.ops !== many.ops) throw new Error(`${id}/${key}: runs of ${few.ops} and ${many.ops} ops`);
  return {
    id,
    key,
    ops: few.ops,
    extraRuns: extra,
    ...perOp(few.totals, many.totals, few.ops, extra),
  };
}

/** The results as a Markdown table, with how and on what they were counted. */
export function instructionsMarkdown(r) {
  const lines = [
    "# Instructions per operation",
    "",
    `Counted by \`node bench/instructions.mjs\` (valgrind ${r.valgrind}, Node ${r.node}, commit ${r.commit}, ${r.date}): ` +
      "instructions and simulated cache misses (32 KiB L1, 8 MiB last level) per alloc or free, " +
      "the workload's loop included (the baseline row is the empty loop), over the timed runs " +
      "in the last column (a count with 1 timed run taken from one with that many more). The machine's load " +
      "does not enter these counts; they are work, not time (a miss to memory costs more than many instructions).",
    "",
    "| workload | row | instructions / op | D1 misses / op | LL misses / op | runs counted |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
    ...r.rows.map(
      (x) =>
        `| ${x.id} | ${x.label} | ${x.I.toFixed(0)} | ${x.D1.toFixed(2)} | ${x.LL.toFixed(3)} | ${x.extraRuns ?? 2} |`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      only: { type: "string", default: "W1,W2" },
      rows: { type: "string", default: "baseline,heap,tlsf,pool,minpool" },
      dist: { type: "string" },
      publish: { type: "boolean", default: false },
    },
  });
  let valgrind;
  try {
    valgrind = execFileSync("valgrind", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    console.error("bench/instructions.mjs needs valgrind (Debian: apt-get install valgrind)");
    process.exit(1);
  }
  const { rowsFor } = await import("./rows.mjs");
  const rows = [];
  console.log("workload      row          I/op   D1 miss/op   LL miss/op");
  for (const id of values.only.split(",")) {
    const byKey = new Map(rowsFor(id).map((r) => [r.key, r]));
    for (const key of values.rows.split(",")) {
      if (!byKey.has(key)) continue;
      const r = await countRow(id, key, values.dist);
      rows.push({ ...r, label: byKey.get(key).label });
      console.log(
        `${id.padEnd(13)} ${key.padEnd(10)} ${r.I.toFixed(0).padStart(6)} ` +
          `${r.D1.toFixed(2).padStart(12)} ${r.LL.toFixed(3).padStart(12)}`,
      );
    }
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
  } catch {}
  const result = {
    date: new Date().toISOString(),
    node: process.versions.node,
    valgrind: valgrind.replace(/^valgrind-/, ""),
    commit: values.dist ? `${commit} (dist: ${values.dist})` : commit,
    rows,
  };
  const out = join(HERE, "out");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "instructions.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(out, "instructions.md"), instructionsMarkdown(result));
  console.log("Results: bench/out/instructions.md, bench/out/instructions.json");
  if (values.publish) {
    for (const f of ["instructions.json", "instructions.md"]) {
      copyFileSync(join(out, f), join(HERE, "results", f));
    }
    console.log("Published: bench/results/instructions.md, bench/results/instructions.json");
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
