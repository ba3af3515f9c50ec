// One row of a workload from two builds (or two rows), in alternating processes: the quick
// local check of a hot-path change against the build before it and the minimal JS references,
// without the whole suite. Not the benchmark; no targets decided here.
//
//   node bench/ab.mjs W3 new=dist:bump old=/tmp/dist-main:bump minbump=dist:minbump
//   ROUNDS=8 RUNS=5 node bench/ab.mjs W2 new=dist:pool minpool=dist:minpool
//
// Each argument after the workload is label=DIR:ROW: a build directory (what `npm run build`
// writes to dist/; copy it aside to keep the build before a change) and a row key of
// bench/rows.mjs for that workload (bump, pool, minbump, minpool, baseline, ...). Every round
// starts one process per argument, in turn (the order reversed every other round), each making
// its allocator, running one untimed warm-up and then RUNS timed runs of the bench's own loop
// (workloads.mjs: the same draws, the same CPU-time clock). Printed: per label, the median over
// rounds of each process's median raw ns/op, with the min and max; for every label against the
// first label whose name starts with "min" (a minimal reference), the median, min and max of
// the per-round differences (raw, so the empty loop cancels); and the 1-minute load average at
// the start and the end.

import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { rowsFor } from "./rows.mjs";
import { compile, draws, WORKLOADS } from "./workloads.mjs";

const SELF = fileURLToPath(import.meta.url);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** The child: one row from one build, RUNS timed runs after a warm-up; prints their ns/op. */
async function child(dir, id, key, runs) {
  const mk = await import(pathToFileURL(resolve(dir, "index.js")).href);
  const row = rowsFor(id).find((r) => r.key === key);
  if (row === undefined) throw new Error(`no row ${key} in ${id}`);
  const fn = compile(id, row);
  const D = draws(id);
  const a = await row.make(mk, WORKLOADS[id].heap, id);
  const far = Date.now() + 3_600_000;
  fn(a, D, process, far);
  const out = [];
  for (let i = 0; i < runs; i++) {
    const r = fn(a, D, process, far);
    out.push(r.ns / r.ops);
  }
  console.log(JSON.stringify(out));
}

const fmt = (x) => x.toFixed(2);

async function parent(id, specs) {
  const rounds = Number(process.env.ROUNDS ?? 6);
  const runs = Number(process.env.RUNS ?? 5);
  const vs = specs.map((s) => {
    const m = /^([^=]+)=(.+):([\w-]+)$/.exec(s);
    if (m === null) throw new Error(`expected label=DIR:ROW, got ${s}`);
    return { label: m[1], dir: m[2], key: m[3], meds: [] };
  });
  const load0 = loadavg()[0];
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? vs : [...vs].reverse()) {
      const args = [SELF, "--child", v.dir, id, v.key, String(runs)];
      v.meds.push(median(JSON.parse(execFileSync(process.execPath, args).toString())));
    }
  }
  const load1 = loadavg()[0];
  console.log(`${id}: raw ns/op, ${rounds} rounds of alternating processes x ${runs} runs`);
  for (const v of vs) {
    const spread = `${fmt(Math.min(...v.meds))} … ${fmt(Math.max(...v.meds))}`;
    console.log(`${v.label.padEnd(10)} median ${fmt(median(v.meds))}  (${spread})`);
  }
  const ref = vs.find((v) => v.label.startsWith("min"));
  for (const v of ref === undefined ? [] : vs) {
    if (v === ref) continue;
    const d = v.meds.map((x, i) => x - ref.meds[i]);
    const spread = `${fmt(Math.min(...d))} … ${fmt(Math.max(...d))}`;
    console.log(`${v.label} − ${ref.label}: median ${fmt(median(d))} ns  (${spread})`);
  }
  console.log(`load average (1 min): ${fmt(load0)} at the start, ${fmt(load1)} at the end`);
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") await child(argv[1], argv[2], argv[3], Number(argv[4]));
else if (argv.length < 2 || !(argv[0] in WORKLOADS)) {
  console.error("usage: node bench/ab.mjs W1|W2|W3|W4 label=DIR:ROW ... (see the comment)");
  process.exit(2);
} else await parent(argv[0], argv.slice(1));
