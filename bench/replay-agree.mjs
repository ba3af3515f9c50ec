// Do `memkit replay` and the benchmark agree? For each bundled trace, `--repeat` times in turn:
// the benchmark's trace rows of memkit's allocators (`node bench/run.mjs --quick --only TRACE
// --rows ... --no-native`: a process per row, one warm-up and one timed run), then `memkit
// replay`'s measurement of the same allocators (src/cli/replays.ts's runReplays, each
// allocator in a process of its own, as the command runs it), so that both see the same load.
// It prints, per trace and allocator, both raw CPU ns/op medians with their min–max and run
// counts, the ratio of the medians with its 95% bootstrap interval over the processes (within
// noise when it holds 1), and whether the footprints and failures are the same; with the
// 1-minute load average at the start and end of each trace.
//
//   npm run build && node bench/replay-agree.mjs [--out FILE] [--repeat N]
//        [--traces python-json,gcc-lvm,sqlite3] [--allocators heap,tlsf,freelist,buddy,offset,slab]
//
// Both figures are raw (the benchmark's net figure subtracts its empty loop, which `memkit
// replay` does not run). Run it at normal priority on an otherwise quiet machine: it measures.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dist, HERE, TRACE_DIR, TRACE_NAMES } from "./paths.mjs";
import { bootstrap, median } from "./stats.mjs";

const { values: opt } = parseArgs({
  options: {
    out: { type: "string" },
    repeat: { type: "string", default: "5" },
    traces: { type: "string", default: TRACE_NAMES.join(",") },
    allocators: { type: "string", default: "heap,tlsf,freelist,buddy,offset,slab" },
  },
});
const traces = opt.traces.split(",");
const names = opt.allocators.split(",");
const repeat = Number(opt.repeat);

const { runReplays } = await import(dist("cli/replays.js"));
const { readTraceFile } = await import(dist("cli/trace-file.js"));

const load1 = () => loadavg()[0].toFixed(2);
const f1 = (x) => x.toFixed(1);
const range = (xs) => `${f1(Math.min(...xs))}–${f1(Math.max(...xs))}`;
const log = (s) => process.stderr.write(`${s}\n`);

/** The benchmark's trace rows of `trace` for `names` (their records in bench/out/partial.json). */
function benchRows(trace) {
  execFileSync(
    process.execPath,
    [join(HERE, "run.mjs"), "--quick", "--only", trace, "--rows", names.join(","), "--no-native"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const { results } = JSON.parse(readFileSync(join(HERE, "out", "partial.json"), "utf8"));
  return new Map(
    results.filter((r) => r.workload === `trace ${trace}` && r.key).map((r) => [r.key, r]),
  );
}

/** `memkit replay`'s rows of `trace` (read from `path`) for `names`. */
async function replayRows(t, path) {
  const out = new Map();
  for (const row of await runReplays(t, names, { path })) {
    if (row.result === null) throw new Error(`memkit replay ${t.name} ${row.name}: ${row.error}`);
    out.set(row.name, row);
  }
  return out;
}

/** Per allocator: the bench's and the replay's samples, one array per process, and the rows. */
async function measure(trace) {
  const path = join(TRACE_DIR, `${trace}.trace.gz`);
  const t = await readTraceFile(path);
  const by = new Map(names.map((n) => [n, { bench: [], replay: [], b: null, r: null }]));
  for (let i = 1; i <= repeat; i++) {
    log(`${trace} ${i}/${repeat}: the benchmark's rows (load ${load1()})`);
    const bench = benchRows(trace);
    log(`${trace} ${i}/${repeat}: memkit replay (load ${load1()})`);
    const replay = await replayRows(t, path);
    for (const n of names) {
      const m = by.get(n);
      const b = bench.get(n);
      if (b === undefined || b.error)
        throw new Error(`bench ${trace} ${n}: ${b?.error ?? "no row"}`);
      m.bench.push(...(b.groups ?? [b.samples]));
      m.replay.push(replay.get(n).samples);
      m.b = b;
      m.r = replay.get(n);
    }
  }
  return by;
}

const lines = [];
const load0 = load1();
for (const trace of traces) {
  const l0 = load1();
  const by = await measure(trace);
  lines.push(
    "",
    `${trace} (load ${l0} → ${load1()})`,
    "",
    "| allocator | replay ns/op (min–max, runs) | bench ns/op (min–max, runs) | replay / bench (95% interval) | agree? | footprint (replay = bench) | failures |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const name of names) {
    const { bench, replay, b, r } = by.get(name);
    const rs = replay.flat();
    const bs = bench.flat();
    const ratio = median(rs) / median(bs);
    const iv = bootstrap([replay, bench], (x, y) => x / y);
    const agree =
      iv === null ? "no interval" : iv[0] <= 1 && 1 <= iv[1] ? "within noise" : "differ";
    const rf = r.result.peakFootprint;
    const fp =
      rf === b.footprint ? `${rf.toLocaleString("en-US")} (same)` : `${rf} ≠ ${b.footprint}`;
    const fails =
      r.result.failures === b.failures
        ? `${b.failures} (same)`
        : `${r.result.failures} ≠ ${b.failures}`;
    lines.push(
      `| ${name} | ${f1(median(rs))} (${range(rs)}, ${rs.length}) | ${f1(median(bs))} (${range(bs)}, ${bs.length}) | ${ratio.toFixed(2)} (${iv ? `${iv[0].toFixed(2)}–${iv[1].toFixed(2)}` : "—"}) | ${agree} | ${fp} | ${fails} |`,
    );
  }
}
const head = [
  "# memkit replay against the benchmark's trace rows",
  "",
  `Command: node bench/replay-agree.mjs --repeat ${repeat} --traces ${traces.join(",")} --allocators ${names.join(",")}`,
  `Date: ${new Date().toISOString()}; Node ${process.version}; load (1 min) ${load0} → ${load1()}.`,
  "Raw CPU ns/op (the benchmark's net figure less its empty loop is not what `memkit replay` shows).",
];
const text = `${[...head, ...lines].join("\n")}\n`;
process.stdout.write(text);
if (opt.out) writeFileSync(opt.out, text);
