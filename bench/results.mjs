// From measured rows to the records of the results file (bench/out/*.json), one per row:
//
//   workload, suite (workload | trace | growth | shared | records), key, row (label), short,
//   group, kind (the records suite has its own figures: see recordsResults)
//   rawNsPerOp    median raw ns/op over all runs of all the row's processes
//   netNsPerOp    raw − the median of its baseline (the empty loop; W3's reset rows: the loop
//                 without the free pass; C rows: the C empty loop)
//   spread        net ns/op: min, q1, median, q3, max over the same runs
//   samples       raw ns/op of every run; groups: the same, one array per process
//   baseline      the key of the baseline row (C rows: baselineGroups, their own)
//   load          1-minute load average at the row's first and last timed run
//   ops, failures, peakLiveBytes, footprint, footprintRatio, reserved (growable memories)
//   stopped, note, warning, error
//
// Every row is checked against what the workload implies (op count, peak live bytes, PRNG
// draws) or the trace holds; a mismatch becomes the row's warning and a run warning.

import { bootstrap, median, shift, spread } from "./stats.mjs";

const int = (n) => n.toLocaleString("en-US");

/** The record of a row that ran (`r` from runner.mjs), or of one that failed. */
function record(workload, suite, r, base) {
  const head = { workload, suite, key: r.key, row: r.label, short: r.short, group: r.group };
  if (r.error) return { ...head, error: r.error };
  const raw = median(r.samples);
  const isBase = r.kind === "baseline";
  const o = r.last;
  const f = r.first;
  const res = {
    ...head,
    kind: r.kind,
    rawNsPerOp: raw,
    netNsPerOp: isBase ? 0 : raw - base.value,
    spread: shift(spread(r.samples), isBase ? raw : base.value),
    samples: r.samples,
    groups: r.groups,
    baseline: isBase ? null : base.key,
    wallNsPerOp: r.wallSamples.length > 0 ? median(r.wallSamples) : null,
    load: r.load,
    ops: o.ops,
    failures: o.failures,
    peakLiveBytes: o.peakLive ?? f.peakLive,
    footprint: isBase ? null : f.footprint,
    footprintRatio:
      isBase || f.footprint == null || f.peakLive == null ? null : f.footprint / f.peakLive,
  };
  if (f.reserved != null && !isBase) res.reserved = f.reserved;
  if (o.stopped) res.stopped = true;
  if (r.note) res.note = r.note;
  return res;
}

/**
 * The records of one workload or trace's measured rows. `expect`: { ops, peakLive, draws? }
 * that every complete row must report; `deadlineMs` for the warning of a stopped row.
 */
export function rowResults(workload, suite, measured, expect, deadlineMs, warnings) {
  const baseOf = (key) => {
    const b = measured.find((r) => r.key === key);
    return { key, value: !b || b.error ? Number.NaN : median(b.samples) };
  };
  const base = baseOf("baseline");
  const baseReset = measured.some((r) => r.key === "baseline-reset")
    ? baseOf("baseline-reset")
    : base;
  return measured.map((r) => {
    const res = record(workload, suite, r, r.kind === "reset" ? baseReset : base);
    if (res.error) return res;
    const o = r.last;
    if (o.stopped) {
      res.warning = `stopped at the ${deadlineMs / 1000} s deadline after ${int(o.ops)} of ${int(expect.ops)} ops: ns/op over the ops done`;
      return res;
    }
    const bad = mismatches(o.ops, o.peakLive, o.draws, expect);
    if (bad.length > 0) {
      res.warning = `${bad.join(", ")}${o.failures ? ` (${o.failures} failures)` : ""}`;
      warnings.push(`${workload} ${r.label}: ${res.warning}`);
    }
    return res;
  });
}

function mismatches(ops, peakLive, draws, expect) {
  const bad = [];
  if (ops !== expect.ops) bad.push(`ops ${ops} ≠ ${expect.ops}`);
  if (peakLive !== expect.peakLive) bad.push(`peak live ${peakLive} ≠ ${expect.peakLive}`);
  if (expect.draws !== undefined && draws !== expect.draws)
    bad.push(`draws ${draws} ≠ ${expect.draws}`);
  return bad;
}

/** The record of a C program's output (native/workloads.c or replay.c). */
export function nativeResult(workload, suite, c, expect, warnings) {
  const label = `C malloc/free (${c.libc ?? "libc"}, cc -O2)`;
  const head = { workload, suite, key: "c", row: label, short: "C malloc", group: "peer" };
  if (c.error) return { ...head, error: c.error };
  const m = c.malloc;
  const base = median(c.baseline.samples);
  const ops = m.ops ?? c.ops;
  const res = {
    ...head,
    native: true,
    kind: "alloc",
    rawNsPerOp: m.rawNsPerOp,
    netNsPerOp: m.netNsPerOp,
    spread: shift(spread(m.samples), base),
    baselineNsPerOp: c.baseline.rawNsPerOp,
    samples: m.samples,
    groups: [m.samples],
    baselineGroups: [c.baseline.samples],
    load: c.load ?? null,
    ops,
    failures: m.failures,
    peakLiveBytes: m.peakLiveBytes,
    footprint: m.footprint,
    footprintRatio: m.footprint === null ? null : m.footprint / m.peakLiveBytes,
    note: "net of the C empty loop",
  };
  const bad = mismatches(ops, m.peakLiveBytes, m.draws, expect);
  if (bad.length > 0) {
    res.warning = bad.join(", ");
    warnings.push(`${workload} ${label}: ${res.warning}`);
  }
  return res;
}

/** The samples (groups per process) of `r`'s baseline, from the same results. */
export function baselineGroups(results, r) {
  if (r.baselineGroups) return r.baselineGroups;
  if (!r.baseline) return [[0]];
  const b = results.find((x) => x.workload === r.workload && x.key === r.baseline);
  return b?.groups ?? [];
}

/**
 * The records of the shared-heap run (bench/shared.mjs --json): one row per measured form,
 * ns/op in wall time (threads share the process, so CPU time would add theirs up) with no
 * baseline subtracted; the `shared` row carries the figures the targets read.
 */
export function sharedResults(j, warnings) {
  const workload = "shared W1";
  const head = { workload, suite: "shared", group: "memkit" };
  const nsOf = (opsPerSecond) => opsPerSecond.map((x) => 1e9 / x);
  const row = (key, label, short, samples, extra = {}) => ({
    ...head,
    key,
    row: label,
    short,
    rawNsPerOp: median(samples),
    spread: spread(samples),
    samples,
    groups: [samples],
    load: j.load,
    ...extra,
  });
  const errors = [...j.errors, ...j.four.errors];
  for (const e of errors) warnings.push(`${workload}: ${e}`);
  const faults = j.four.errors.length + (j.four.state?.liveBlocks ?? 1);
  const scaling = median(j.twoOpsPerSecond) / median(j.oneOpsPerSecond);
  const sync = 1e9 / median(j.oneOpsPerSecond) / median(j.singleNsPerOp);
  const fp = j.footprint;
  return [
    row("single", "TlsfAllocator, one thread (64 MiB)", "TLSF, 1 thread", j.singleNsPerOp),
    row("one", "SharedHeap, 1 worker", "SharedHeap ×1", nsOf(j.oneOpsPerSecond)),
    row(
      "shared",
      "SharedHeap, 2 workers (ns per op of both)",
      "SharedHeap ×2",
      nsOf(j.twoOpsPerSecond),
      {
        peakLiveBytes: fp?.peakLive ?? null,
        footprint: fp?.top ?? null,
        footprintRatio: fp ? fp.top / fp.peakLive : null,
        note:
          `2 workers' throughput ${scaling.toFixed(2)}× one worker's; with no heap (W1's PRNG ` +
          `alone) this machine gave 2 threads ${j.ceiling.toFixed(2)}× one just before; 4 workers: ` +
          `${j.four.errors.length} errors, ${j.four.state?.liveBlocks ?? "?"} blocks left live after every free`,
        shared: {
          scaling: {
            value: scaling,
            interval: bootstrap([[j.twoOpsPerSecond], [j.oneOpsPerSecond]], (a, b) => a / b),
          },
          sync: {
            value: sync,
            interval: bootstrap([[j.oneOpsPerSecond], [j.singleNsPerOp]], (o, s) => 1e9 / o / s),
          },
          faults: { value: faults },
          footprint: { value: fp ? fp.top / fp.peakLive : null },
          ceiling: j.ceiling,
        },
      },
    ),
  ];
}

/** What each variant of bench/records.mjs is, in the tables: [label, short]. */
const RECORD_VARIANTS = {
  objects: ["plain JS objects in an Array", "objects"],
  heap: ["memkit struct, one block each in the default heap", "memkit Heap"],
  pool: ["memkit struct, one block each in a PoolAllocator", "memkit Pool"],
  typed: ["hand-written typed-array indexing (floor)", "typed arrays"],
};

/** The rows of the record workload (bench/records.mjs --json), one per variant. */
export function recordsResults(j, warnings) {
  const workload = "records";
  for (const e of j.errors) warnings.push(`${workload}: ${e}`);
  return j.rows.map((r) => {
    const [row, short] = RECORD_VARIANTS[r.variant] ?? [r.variant, r.variant];
    return {
      workload,
      suite: "records",
      key: r.variant,
      row,
      short,
      group: r.variant === "objects" || r.variant === "typed" ? "reference" : "memkit",
      records: j.records,
      rounds: j.rounds,
      runs: r.runs,
      bytesPerRecord: r.bytesPerRecord,
      allocatorBytesPerRecord: r.allocatorBytesPerRecord,
      capacityBytesPerRecord: r.capacityBytesPerRecord,
      createSeconds: r.createSeconds,
      updateSeconds: r.updateSeconds,
      churnSeconds: r.churnSeconds,
      totalSeconds: r.totalSeconds,
      gcCount: r.gcCount,
      gcTotalMs: r.gcTotalMs,
      gcMaxMs: r.gcMaxMs,
      recordSamples: r.samples,
      load: [Math.min(...r.load), Math.max(...r.load)],
    };
  });
}
