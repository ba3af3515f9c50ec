// The benchmark suite: shared/WORKLOADS.md W1-W4 for every memkit strategy they apply to,
// with the empty-loop baseline and minimal JS references, in one process.
//
//   npm run bench                 all workloads, 1 warm-up + 5 timed runs per row
//   npm run bench -- --quick      1 warm-up + 3 timed runs
//   npm run bench -- --only W1,W3
//
// Rows are interleaved (run 1 of every row, then run 2 of every row, ...) so that drift in
// machine speed hits all rows alike. Reported per row: median ns/op raw, net of the baseline
// (raw − baseline), failures, and peak footprint / peak live bytes. Results are written to
// bench/results/latest.md and latest.json with the command, date, Node version and CPU.

import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { MinimalBump, MinimalPool } from "./reference.mjs";
import { compile, WORKLOADS } from "./workloads.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const mk = await import(pathToFileURL(join(here, "..", "dist", "index.js")).href);

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only = onlyArg
  ? (onlyArg.includes("=") ? onlyArg.split("=")[1] : args[args.indexOf(onlyArg) + 1]).split(",")
  : ["W1", "W2", "W3", "W4"];
const RUNS = quick ? 3 : 5;

const fixed = (bytes) => new mk.FixedMemory(new ArrayBuffer(bytes));

/** The rows of each workload: [label, kind, make(heapBytes), passSize?]. */
function rowsFor(id) {
  const rows = [{ label: "baseline (empty loop)", kind: "baseline", make: () => null }];
  const general = [
    { label: "memkit TlsfAllocator", make: (n) => new mk.TlsfAllocator(fixed(n)) },
    {
      label: "memkit Heap (grows from 64 KiB)",
      make: (n) => new mk.Heap({ initialBytes: 65536, maxBytes: n }),
    },
  ];
  if (mk.FreeListAllocator) {
    general.push({
      label: "memkit FreeListAllocator",
      make: (n) => new mk.FreeListAllocator(fixed(n)),
    });
  }
  general.push({
    label: "memkit BuddyAllocator",
    make: (n) => new mk.BuddyAllocator(fixed(n), { minBlockSize: 16 }),
  });
  if (id === "W1") {
    rows.push(...general);
    rows.push({
      label: "memkit BlockAllocator (16-byte blocks)",
      make: (n) => new mk.BlockAllocator(16, Math.floor(n / 16) - 64, {}),
      passSize: true,
    });
  } else if (id === "W2") {
    rows.push({
      label: "reference: minimal JS pool (no checks)",
      make: () => new MinimalPool(64, 1 << 20),
    });
    if (mk.PoolAllocator) {
      rows.push({
        label: "memkit PoolAllocator (64 B)",
        make: () => new mk.PoolAllocator(64, 1 << 20),
      });
    }
    rows.push(...general);
  } else if (id === "W3") {
    rows.push({
      label: "reference: minimal JS bump (no checks)",
      kind: "reset",
      make: (n) => new MinimalBump(n),
    });
    rows.push({
      label: "memkit BumpAllocator (reset)",
      kind: "reset",
      make: (n) => new mk.BumpAllocator(n),
    });
    rows.push({
      label: "memkit StackAllocator (reset)",
      kind: "reset",
      make: (n) => new mk.StackAllocator(n),
    });
    rows.push(...general);
  } else {
    rows.push(...general);
  }
  return rows;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const results = [];
for (const id of only) {
  const w = WORKLOADS[id];
  const rows = rowsFor(id).map((r) => ({
    ...r,
    kind: r.kind ?? "alloc",
    fn: null,
    samples: [],
    last: null,
  }));
  for (const r of rows) {
    try {
      r.fn = compile(id, r);
    } catch (e) {
      r.error = String(e);
    }
  }
  const runOne = (r) => {
    const a = r.make(w.heap);
    const out = r.fn(a, process);
    const base = a?.memory ? a.memory.start : 0;
    r.last = { ...out, footprint: out.top === 0 ? 0 : out.top - base };
    return out.ns / out.ops;
  };
  process.stderr.write(`${w.name}: warm-up`);
  for (const r of rows) if (!r.error) runOne(r);
  for (let run = 1; run <= RUNS; run++) {
    process.stderr.write(` ${run}`);
    for (const r of rows) if (!r.error) r.samples.push(runOne(r));
  }
  process.stderr.write("\n");
  const baseline = median(rows[0].samples);
  for (const r of rows) {
    if (r.error) {
      results.push({ workload: id, row: r.label, error: r.error });
      continue;
    }
    const raw = median(r.samples);
    results.push({
      workload: id,
      row: r.label,
      rawNsPerOp: raw,
      netNsPerOp: r.kind === "baseline" ? 0 : raw - baseline,
      samples: r.samples,
      ops: r.last.ops,
      failures: r.last.failures,
      peakLiveBytes: r.last.peakLive,
      footprint: r.kind === "baseline" ? null : r.last.footprint,
      footprintRatio: r.kind === "baseline" ? null : r.last.footprint / r.last.peakLive,
    });
  }
}

const command = `npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}`;
const meta = {
  command,
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  runs: RUNS,
};
const fmt = (x, d = 1) => (x === null || x === undefined ? "—" : x.toFixed(d));
const lines = [
  `Command: \`${meta.command}\` · ${meta.date} · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · median of ${RUNS} runs after a warm-up`,
  "",
];
for (const id of only) {
  lines.push(`### ${WORKLOADS[id].name}`, "");
  lines.push(
    "| allocator | ns/op raw | ns/op net | ops | failures | peak live | footprint / live |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of results.filter((x) => x.workload === id)) {
    if (r.error) {
      lines.push(`| ${r.row} | error: ${r.error} | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.row} | ${fmt(r.rawNsPerOp)} | ${fmt(r.netNsPerOp)} | ${r.ops.toLocaleString("en-US")} | ${r.failures} | ${r.peakLiveBytes.toLocaleString("en-US")} | ${fmt(r.footprintRatio, 3)} |`,
    );
  }
  lines.push("");
}
const md = lines.join("\n");
console.log(md);
const outDir = join(here, "results");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, quick ? "quick.md" : "latest.md"), `${md}\n`);
writeFileSync(
  join(outDir, quick ? "quick.json" : "latest.json"),
  `${JSON.stringify({ meta, results }, null, 2)}\n`,
);
