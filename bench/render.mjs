// The results as Markdown (bench/out/*.md, and bench/results/latest.md when published): the
// summary first, then how it was measured, the targets and what stands in the way, the notes,
// and one table per workload and trace with every row's spread and load average.

import { CFLAGS } from "./native.mjs";
import { FOOTPRINT_NOTES, obstacle, PEER_NOTES } from "./notes.mjs";
import { dist } from "./paths.mjs";
import { WORKLOADS } from "./workloads.mjs";

const { conclusion, summarize, summaryTable } = await import(dist("cli/summary.js"));
const { wrap } = await import(dist("cli/format.js"));

const fmt = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? "—" : x.toFixed(d));
const int = (x) => (x === null || x === undefined ? "—" : x.toLocaleString("en-US"));
const la = (l) => l.map((x) => x.toFixed(2)).join(" / ");

export { wrap };

/** The short summary: the table and the one-line conclusion, at most 100 columns. */
export function renderSummary(results) {
  const lines = summarize(results);
  if (lines.length === 0) return "No workload or trace ran.";
  return `${summaryTable(lines)}\n\n${wrap(conclusion(lines))}`;
}

const VERDICT = {
  met: "met",
  missed: "**missed**",
  noise: "within noise",
  unmeasured: "not measured",
};

function targetValue(t) {
  if (t.value === undefined || t.value === null) return "—";
  if (t.fmt === "x") return `${t.value.toFixed(2)}×`;
  if (t.fmt === "ns") return `${t.value.toFixed(2)} ns`;
  if (t.fmt === "n") return String(t.value);
  if (t.fmt === "B") return `${t.value.toFixed(1)} B`;
  if (t.fmt === "ms") return `${t.value.toFixed(2)} ms`;
  return t.value.toFixed(3);
}

function targetInterval(t) {
  if (!t.interval) return "";
  const [lo, hi] = t.interval;
  return t.fmt === "ns"
    ? `${lo.toFixed(2)} … ${hi.toFixed(2)}`
    : `${lo.toFixed(2)} … ${hi.toFixed(2)}`;
}

/** The targets table's lines. */
export function targetTable(targets) {
  const L = [
    "| target | measured | 95% interval | goal | verdict | by how much |",
    "| --- | ---: | ---: | --- | --- | --- |",
  ];
  for (const t of targets) {
    const by = t.verdict === "unmeasured" ? (t.why ?? "") : (t.missedBy ?? "");
    L.push(
      `| ${t.what} | ${targetValue(t)} | ${targetInterval(t)} | ${t.goal} | ${VERDICT[t.verdict]} | ${by} |`,
    );
  }
  return L;
}

function targetsSection(meta, results, L) {
  L.push(
    "## Targets",
    "",
    "Each speed target compares two rows of this run; its interval is the 95% bootstrap " +
      "interval of the figure (runs resampled within processes, processes resampled), and a " +
      "target whose interval holds the goal is *within noise*: neither met nor missed. " +
      "Footprints are exact (the same operations give the same addresses).",
    "",
    ...targetTable(meta.targets),
    "",
  );
  const open = meta.targets.filter((t) => t.verdict === "missed" || t.verdict === "noise");
  if (open.length > 0) {
    L.push("### What stands in the way", "");
    // Targets held up by the same thing share one explanation.
    const groups = new Map();
    for (const t of open) {
      const why = obstacle(t, results, meta);
      if (why) groups.set(why, [...(groups.get(why) ?? []), t.what]);
    }
    for (const [why, whats] of groups) L.push(`- **${whats.join("; ")}**: ${why}`);
    L.push("");
  }
}

const loadText = (l) => (l ? `${l[0].toFixed(1)}→${l[1].toFixed(1)}` : "—");

export function rowTable(L, rows, title) {
  L.push(`### ${title}`, "");
  L.push(
    "| allocator | net ns/op | min – max | q1 – q3 | raw | runs | load | ops | failures | peak live | footprint | fp / live |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of rows) {
    if (r.error) {
      L.push(`| ${r.row} | error: ${r.error} | | | | | | | | | | |`);
      continue;
    }
    const s = r.spread;
    const range = s ? `${fmt(s.min)} – ${fmt(s.max)}` : "—";
    const iqr = s ? `${fmt(s.q1)} – ${fmt(s.q3)}` : "—";
    const label = `${r.row}${r.native ? ` [C empty loop ${fmt(r.baselineNsPerOp)}]` : ""}`;
    L.push(
      `| ${label} | ${fmt(r.netNsPerOp)}${r.stopped ? " (stopped)" : ""} | ${range} | ${iqr} | ${fmt(r.rawNsPerOp)} | ${r.samples?.length ?? "—"} | ${loadText(r.load)} | ${int(r.ops)} | ${int(r.failures)} | ${int(r.peakLiveBytes)} | ${int(r.footprint)} | ${fmt(r.footprintRatio, 3)} |`,
    );
    if (r.warning) L.push(`| ⚠ ${r.row}: ${r.warning} | | | | | | | | | | | |`);
  }
  L.push("");
  const noted = rows.filter((r) => r.note && !r.error);
  for (const r of noted) L.push(`- ${r.row}: ${r.note}`);
  if (noted.length > 0) L.push("");
}

const METHOD =
  "How it was measured: every row runs in a process of its own, so its call sites stay " +
  "monomorphic and no other row's compiled code or garbage disturbs it; rows are interleaved " +
  "(run 1 of every row, then run 2, …). Each row process makes one allocator and uses it for " +
  "the warm-up and every run (each run frees all it allocated), as the C program uses one " +
  "malloc heap: every row runs on warm memory; the footprint is the warm-up's, on the fresh " +
  "allocator. Time is the process's CPU time (user + system), so that other processes on a " +
  "shared machine count less (they still share caches and cores: the load column shows the " +
  "1-minute load average at each row's first and last timed run). The PRNG draws of " +
  "WORKLOADS.md (xorshift32 from 2463534242) are computed before the clock starts and consumed " +
  "in the order rand() would be. Net ns/op = raw − the median of the empty loop (the same loop " +
  "with a fake pointer and no calls); the C rows use the C empty loop; min – max and q1 – q3 " +
  "are the net figures of single runs. Footprint = the highest end of any block above the " +
  "allocator's region start (its header included); for C malloc, the highest byte of the brk " +
  "heap plus the mmapped chunks live at that moment. An op is one alloc or free call (W3: a " +
  "reset stands for the 1,000 frees it replaces).";

const TRACE_METHOD =
  "src/trace/replay.ts from dist, not verifying (no painting), on one allocator per row " +
  "process; each replay ends by freeing the blocks the trace leaves live (inside the clock, " +
  "one op each, for every row, C included), so the next run starts from an empty heap. The " +
  "footprint is the first replay's, on the fresh allocator. memkit's allocators are built as " +
  "`memkit replay` builds them (src/cli/allocators.ts's traceAllocator): the Heap growing " +
  "from 64 KiB, the other strategies on a fixed memory of 8× the trace's peak live bytes, at " +
  "least 128 MiB (128 MiB for these three traces), the buddy's metadata sized to 4× the peak; " +
  "peers over 128 MiB (AssemblyScript grows its own). Every allocation asks for the " +
  "alignment the trace gives. " +
  "Baseline: the same replay loop against a fake allocator. The garbage collector replays in " +
  "its own loop (bench/peers/gc.mjs) with the same semantics.";

/** The whole results file. `meta` holds the targets, notes and warnings. */
export function renderMarkdown(meta, results) {
  const bySuite = (suite) => [
    ...new Set(results.filter((r) => (r.suite ?? "workload") === suite).map((r) => r.workload)),
  ];
  const L = [
    `Command: \`${meta.command}\` · ${meta.date} · Node ${meta.node} (V8 ${meta.v8}) · ${meta.cpu} (${meta.cores} cores)`,
    "",
    "## Summary",
    "",
    "Net ns/op per workload and trace: memkit's best (its fastest allocator within 1.25× the " +
      "tightest footprint of the workload, so that no row wins on time by holding several " +
      "times the memory; its footprint / peak live bytes beside it), the best JS or wasm peer " +
      "by the same rule, the C library's malloc; ÷ columns are memkit's time over the other's " +
      "(below 1: memkit is faster).",
    "",
    "```",
    renderSummary(results),
    "```",
    "",
    `Load average (1 / 5 / 15 min) at the start ${la(meta.loadavgStart)}, at the end ${la(meta.loadavgEnd)}; the whole run took ${meta.seconds} s.` +
      ` Workloads: ${meta.runs} timed runs after a warm-up in each process; traces: ${meta.traceRuns}` +
      (meta.passes > 1
        ? `; rows under ${meta.fastSeconds} s per run get ${meta.passes} processes one after the other ("runs" counts all their runs).`
        : ".") +
      (meta.cc
        ? ` C rows: \`${meta.cc}\`, ${meta.libc ?? "libc"}, \`cc ${CFLAGS.join(" ")}\`.`
        : ""),
    "",
    METHOD,
    "",
  ];
  targetsSection(meta, results, L);
  if (meta.warnings.length > 0) L.push("Warnings:", "", ...meta.warnings.map((w) => `- ${w}`), "");
  if (meta.notes.length > 0) L.push("Notes:", "", ...meta.notes.map((n) => `- ${n}`), "");
  L.push("### The peers", "", ...PEER_NOTES.map((n) => `- ${n}`), "");
  L.push("### Reading the footprints", "", ...FOOTPRINT_NOTES.map((n) => `- ${n}`), "");
  L.push("## Workloads (WORKLOADS.md)", "");
  for (const id of bySuite("workload")) {
    rowTable(
      L,
      results.filter((r) => r.workload === id),
      WORKLOADS[id]?.name ?? id,
    );
  }
  const traces = bySuite("trace");
  if (traces.length > 0) {
    L.push("## Trace replays (traces/)", "", TRACE_METHOD, "");
    for (const w of traces)
      rowTable(
        L,
        results.filter((r) => r.workload === w),
        w,
      );
  }
  for (const suite of ["growth", "shared"]) {
    for (const w of bySuite(suite)) {
      const rows = results.filter((r) => r.workload === w);
      if (meta.sections?.[suite]) L.push(meta.sections[suite], "");
      rowTable(L, rows, w);
    }
  }
  for (const w of bySuite("records")) {
    if (meta.sections?.records) L.push(meta.sections.records, "");
    recordsTable(
      L,
      results.filter((r) => r.workload === w),
    );
  }
  return L.join("\n");
}

/** The record workload's table: memory, CPU time and GC pauses per variant. */
export function recordsTable(L, rows) {
  const ok = rows.filter((r) => !r.error);
  const floor = ok.find((r) => r.key === "typed");
  const first = ok[0];
  L.push(
    first
      ? `### ${int(first.records)} records, ${first.rounds} rounds, ${first.runs} process${first.runs === 1 ? "" : "es"} per variant`
      : "### records",
    "",
    "| variant | bytes / record | CPU s | update loop s | ÷ floor | create s | churn s | GCs | GC ms | longest GC pause ms | load |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of rows) {
    if (r.error) {
      L.push(`| ${r.row} | error: ${r.error} | | | | | | | | | |`);
      continue;
    }
    const ratio = floor ? r.updateSeconds / floor.updateSeconds : null;
    L.push(
      `| ${r.row} | ${fmt(r.bytesPerRecord)} | ${fmt(r.totalSeconds, 2)} | ${fmt(r.updateSeconds, 3)} | ${fmt(ratio, 2)} | ${fmt(r.createSeconds, 3)} | ${fmt(r.churnSeconds, 3)} | ${fmt(r.gcCount, 0)} | ${fmt(r.gcTotalMs)} | ${fmt(r.gcMaxMs, 2)} | ${loadText(r.load)} |`,
    );
  }
  L.push("");
  for (const r of ok) {
    if (r.allocatorBytesPerRecord != null) {
      L.push(
        `- ${r.row}: the allocator holds ${fmt(r.allocatorBytesPerRecord)} bytes per record ` +
          `(in use + overhead) of ${fmt(r.capacityBytesPerRecord)} bytes of capacity per record.`,
      );
    }
  }
  L.push("");
}
