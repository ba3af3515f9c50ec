// The targets of issues 9, 10 and 14, each a comparison of rows measured in the same run,
// and their verdicts.
//
// A speed target compares net ns/op of two rows (a ratio or a difference); its interval is
// the 95% bootstrap interval of that figure (stats.mjs), and a target whose interval holds
// values on both sides of the goal is "within noise": neither met nor missed. Footprints are
// deterministic (the same operations give the same addresses), so they have no interval.
// A target whose rows did not run (skipped with --only, no `cc`, a strategy not built yet) is
// listed as "not measured", never dropped.
//
// A target: { id, family, what, value, interval, goal, goalValue, better, fmt, verdict,
//             missedBy, rows }
//   verdict   met | missed | noise | unmeasured
//   fmt       x (a ratio), ns (a difference), r (a footprint ratio)
//   rows      the keys of the rows it compares (for the obstacle notes)

import { baselineGroups } from "./results.mjs";
import { bootstrap, verdict } from "./stats.mjs";

const ok = (r) => r !== undefined && r.error === undefined && !r.stopped;

/** The rows of one results file, looked up by workload and key. */
function lookup(results) {
  return (workload, key) => results.find((r) => r.workload === workload && r.key === key);
}

/**
 * The interval of f(net of each row), resampling each row's runs and its baseline's; a
 * baseline shared by two rows is resampled once per round.
 */
function netInterval(results, rows, f) {
  const inputs = [];
  const index = (groups) => {
    const i = inputs.indexOf(groups);
    if (i >= 0) return i;
    inputs.push(groups);
    return inputs.length - 1;
  };
  const pairs = rows.map((r) => [
    index(r.groups ?? [r.samples]),
    index(baselineGroups(results, r)),
  ]);
  return bootstrap(inputs, (...m) => f(...pairs.map(([a, b]) => m[a] - m[b])));
}

const FAMILY_TEXT = {
  "heap-c": "Heap ≤ 1.0× C malloc",
  "heap-as": "Heap ≥ 2× faster than AssemblyScript's TLSF",
  "heap-footprint": "Heap footprint ≤ 1.10",
  growth: "growth reserve ≤ 1.25× peak footprint",
  pool: "Pool within 1 ns of the minimal pool",
  bump: "Bump within 0.5 ns of the minimal bump",
  "slab-speed": "Slab faster than TLSF",
  "slab-footprint": "Slab footprint",
  offset: "offset-only allocator footprint ≤ 1.10",
  shared: "shared heap",
  records: "records",
};
export const FAMILIES = FAMILY_TEXT;

const fmtX = (v) => `${v.toFixed(2)}×`;

/** The issue's targets for this run's results. `traceIds`: the traces the run replayed. */
export function computeTargets(results, traceIds, options = {}) {
  const find = lookup(results);
  const out = [];
  const ran = (w) => results.some((r) => r.workload === w);
  const add = (t) => {
    let v = "unmeasured";
    if (t.value !== undefined && Number.isFinite(t.value)) {
      v = verdict(t.value, t.interval ?? null, t.goalValue, t.better);
    }
    const { by, ...rest } = t;
    // A speed figure from single runs has no interval: say so beside the verdict.
    const single = v !== "unmeasured" && !["r", "n", "B", "ms"].includes(t.fmt) && !t.interval;
    const said = v === "missed" ? by(t.value) : v === "noise" ? noiseText(t) : null;
    out.push({
      interval: null,
      ...rest,
      verdict: v,
      met: v === "met" ? true : v === "missed" ? false : null,
      missedBy: single ? `${said ? `${said}; ` : ""}one run: no interval` : said,
    });
  };
  const unmeasured = (t, why) => add({ ...t, value: undefined, why, by: () => "" });

  // A ratio of two rows' net ns/op: `num` over `den`.
  const ratio = (family, workload, num, den, goalValue, better, what, by) => {
    const t = { id: `${workload}-${family}`, family, what, goalValue, better, fmt: "x" };
    t.goal = `${better === "lower" ? "≤" : "≥"} ${goalValue.toFixed(1)}×`;
    t.rows = [num, den];
    if (!ran(workload)) return unmeasured(t, `${workload} not run`);
    const a = find(workload, num);
    const b = find(workload, den);
    if (!ok(a) || !ok(b)) {
      return unmeasured(
        t,
        `${[a, b].filter((r) => !ok(r)).length === 2 ? "rows" : "a row"} missing or stopped`,
      );
    }
    add({
      ...t,
      value: a.netNsPerOp / b.netNsPerOp,
      interval: netInterval(results, [a, b], (x, y) => x / y),
      by: (v) => by(v, a, b),
    });
  };
  // A difference of two rows' net ns/op.
  const diff = (family, workload, row, ref, goalValue, what) => {
    const t = { id: `${workload}-${family}`, family, what, goalValue, better: "lower", fmt: "ns" };
    t.goal = `≤ ${goalValue} ns`;
    t.rows = [row, ref];
    const a = find(workload, row);
    const b = find(workload, ref);
    if (!ok(a) || !ok(b))
      return unmeasured(t, ran(workload) ? "a row missing" : `${workload} not run`);
    add({
      ...t,
      value: a.netNsPerOp - b.netNsPerOp,
      interval: netInterval(results, [a, b], (x, y) => x - y),
      by: (v) => `${(v - goalValue).toFixed(2)} ns over`,
    });
  };
  const footprint = (family, workload, key, goalValue, what) => {
    const t = { id: `${workload}-${family}`, family, what, goalValue, better: "lower", fmt: "r" };
    t.goal = `≤ ${goalValue.toFixed(2)}`;
    t.rows = [key];
    const r = find(workload, key);
    if (r?.footprintRatio == null)
      return unmeasured(t, ran(workload) ? "no such row" : `${workload} not run`);
    add({ ...t, value: r.footprintRatio, by: (v) => `${(v - goalValue).toFixed(3)} over` });
  };
  const faster = (v, a, b) =>
    `${a.short} needs ${(1 / v).toFixed(2)}× less time (net ${b.netNsPerOp.toFixed(1)} → ${(b.netNsPerOp * v).toFixed(1)} ns)`;

  const traces = traceIds.map((n) => `trace ${n}`);
  // Issue 9: the Heap.
  for (const w of ["W1", "W2", "W3"]) {
    ratio(
      "heap-c",
      w,
      "heap",
      "c",
      1,
      "lower",
      `${w}: Heap net / C malloc net`,
      (v, a) =>
        `Heap ${v.toFixed(2)}× C's time (net ${a.netNsPerOp.toFixed(1)} ns; needs ${(a.netNsPerOp / v).toFixed(1)})`,
    );
  }
  for (const w of ["W1", "W2", "W3", ...traces]) {
    ratio(
      "heap-as",
      w,
      "as",
      "heap",
      2,
      "higher",
      `${w}: AssemblyScript TLSF net / Heap net`,
      (v, a, b) =>
        `Heap needs ${(2 / v).toFixed(2)}× less time (net ${b.netNsPerOp.toFixed(1)} → ${(a.netNsPerOp / 2).toFixed(1)} ns)`,
    );
  }
  ratio(
    "heap-as",
    "W4",
    "as",
    "heap",
    1,
    "higher",
    "W4: AssemblyScript TLSF net / Heap net (no slower)",
    (v, a, b) =>
      `Heap needs ${(1 / v).toFixed(2)}× less time (net ${b.netNsPerOp.toFixed(1)} → ${a.netNsPerOp.toFixed(1)} ns)`,
  );
  for (const w of ["W1", ...traces]) {
    footprint("heap-footprint", w, "heap", 1.1, `${w}: Heap footprint / peak live`);
  }
  growthTarget(results, add, unmeasured, options.growth);
  diff("pool", "W2", "pool", "minpool", 1, "W2: PoolAllocator net − minimal JS pool net");
  diff("bump", "W3", "bump", "minbump", 0.5, "W3: BumpAllocator net − minimal JS bump net");

  // Issue 14: the slab, the offset-only allocator, the shared heap.
  for (const w of ["W1", "W2", ...traces]) {
    ratio("slab-speed", w, "tlsf", "slab", 1, "higher", `${w}: TLSF net / Slab net`, faster);
  }
  footprint("slab-footprint", "W1", "slab", 1.5, "W1: Slab footprint / peak live");
  for (const w of traces)
    footprint("slab-footprint", w, "slab", 1.25, `${w}: Slab footprint / peak live`);
  for (const w of traces) {
    footprint("offset", w, "offset", 1.1, `${w}: offset-only allocator footprint / peak live`);
  }
  sharedTargets(results, add, unmeasured);

  // Issue 10: the record workload.
  recordsTargets(results, add, unmeasured);
  return out;
}

function noiseText(t) {
  const [lo, hi] = t.interval;
  const f = t.fmt === "ns" ? (v) => `${v.toFixed(2)} ns` : fmtX;
  return `within noise: 95% interval ${f(lo)} … ${f(hi)} holds the goal`;
}

/** Growth: the bytes a growing Heap holds against its peak footprint on the growth trace. */
function growthTarget(results, add, unmeasured, growth) {
  const t = {
    id: "growth",
    family: "growth",
    what: "growth trace: Heap reserved / peak footprint",
    goal: "≤ 1.25",
    goalValue: 1.25,
    better: "lower",
    fmt: "r",
    rows: ["heap"],
  };
  const r = results.find((x) => x.suite === "growth" && x.key === "heap");
  if (r?.reserved == null || !r.footprint) {
    return unmeasured(t, growth === false ? "growth trace not run" : "no Heap row");
  }
  add({ ...t, value: r.reserved / r.footprint, by: (v) => `${(v - 1.25).toFixed(3)} over` });
}

/** The shared heap's targets from the `shared` suite (bench/shared.mjs). */
function sharedTargets(results, add, unmeasured) {
  const s = results.find((r) => r.suite === "shared" && r.shared && !r.error)?.shared;
  const base = { family: "shared", rows: ["shared"] };
  const specs = [
    {
      id: "shared-2v1",
      what: "shared W1: 2 workers' throughput / 1 worker's",
      goal: "≥ 1.6×",
      goalValue: 1.6,
      better: "higher",
      fmt: "x",
      key: "scaling",
    },
    {
      id: "shared-sync",
      what: "shared W1: 1 worker's ns/op / the single-threaded TLSF heap's",
      goal: "≤ 1.5×",
      goalValue: 1.5,
      better: "lower",
      fmt: "x",
      key: "sync",
    },
    {
      id: "shared-4",
      what: "shared W1: 4 workers on 2 cores, errors + blocks left live",
      goal: "0",
      goalValue: 0,
      better: "lower",
      fmt: "n",
      key: "faults",
    },
    {
      id: "shared-footprint",
      what: "shared W1 (2 workers): footprint / peak live",
      goal: "≤ 1.25",
      goalValue: 1.25,
      better: "lower",
      fmt: "r",
      key: "footprint",
    },
  ];
  for (const { key, ...t } of specs) {
    const v = s?.[key];
    if (v?.value === undefined || v.value === null) {
      unmeasured({ ...base, ...t }, s ? "not reported" : "shared heap not run");
      continue;
    }
    add({
      ...base,
      ...t,
      value: v.value,
      interval: v.interval ?? null,
      by: (x) =>
        t.fmt === "n"
          ? `${x}`
          : `${Math.abs(x - t.goalValue).toFixed(2)} ${t.better === "lower" ? "over" : "under"}`,
    });
  }
}

/**
 * The record workload's targets (bench/records.mjs): memkit records take at most 48 bytes
 * each; no GC pause over 5 ms with memkit where objects pause longer; the update loop within
 * 1.5× of hand-written typed-array code. Each for the default heap and for the pool.
 */
function recordsTargets(results, add, unmeasured) {
  const row = (key) => results.find((r) => r.suite === "records" && r.key === key && !r.error);
  const ran = results.some((r) => r.suite === "records");
  const objects = row("objects");
  const floor = row("typed");
  const groupsOf = (r, k) => r.recordSamples[k].map((x) => [x]);
  for (const [key, who] of [
    ["heap", "memkit structs in the default heap"],
    ["pool", "memkit structs in a pool"],
  ]) {
    const base = { family: "records", rows: [key] };
    const r = row(key);
    const why = ran ? "row missing" : "records not run";
    const bytes = {
      ...base,
      id: `records-bytes-${key}`,
      what: `records: bytes per record, ${who}`,
      goal: "≤ 48 B",
      goalValue: 48,
      better: "lower",
      fmt: "B",
    };
    if (r) {
      add({ ...bytes, value: r.bytesPerRecord, by: (v) => `${(v - 48).toFixed(1)} B over` });
    } else unmeasured(bytes, why);

    const pause = {
      ...base,
      id: `records-gc-${key}`,
      what: `records: longest GC pause, ${who} (objects: ${objects ? `${objects.gcMaxMs.toFixed(1)} ms` : "—"})`,
      goal: "≤ 5 ms",
      goalValue: 5,
      better: "lower",
      fmt: "ms",
    };
    if (r) add({ ...pause, value: r.gcMaxMs, by: (v) => `${(v - 5).toFixed(2)} ms over` });
    else unmeasured(pause, why);

    const speed = {
      ...base,
      rows: [key, "typed"],
      id: `records-update-${key}`,
      what: `records: update loop, ${who} / hand-written typed arrays`,
      goal: "≤ 1.5×",
      goalValue: 1.5,
      better: "lower",
      fmt: "x",
    };
    if (r && floor) {
      add({
        ...speed,
        value: r.updateSeconds / floor.updateSeconds,
        interval: bootstrap(
          [groupsOf(r, "updateSeconds"), groupsOf(floor, "updateSeconds")],
          (a, b) => a / b,
        ),
        by: (v) => `${v.toFixed(2)}× the floor's time`,
      });
    } else unmeasured(speed, why);
  }
}
