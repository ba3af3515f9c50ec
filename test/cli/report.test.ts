import { describe, expect, it } from "vitest";
import { advise } from "../../src/cli/advice.js";
import { ALLOCATORS, GENERAL_NAMES } from "../../src/cli/allocators.js";
import type { ReplayRow } from "../../src/cli/format.js";
import {
  bytesPerCell,
  type HeapMap,
  heapMapSvg,
  MAP_COLUMNS,
  mapCells,
  snapshotAtPeak,
  traceStats,
} from "../../src/cli/heapmap.js";
import { runReplays, runsFor, warmupsFor } from "../../src/cli/replays.js";
import { type BenchFile, barChart, renderReport, type TraceReplay } from "../../src/cli/report.js";
import { FixedMemory } from "../../src/memory/memory.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import type { ReplayResult } from "../../src/trace/replay.js";
import { parseTrace } from "../../src/trace/trace.js";
import { smallTraceText } from "./helpers.js";

const HAND = parseTrace(
  ["a 0 100 8", "a 1 200 8", "a 2 50 8", "f 1", "a 1 30 8", "r 0 120", "f 2"].join("\n"),
  "hand",
);
const fixedTlsf = (): TlsfAllocator => new TlsfAllocator(new FixedMemory(new ArrayBuffer(65536)));

describe("traceStats", () => {
  it("counts the ops and finds where the live bytes peak", () => {
    expect(traceStats(HAND)).toEqual({
      ops: 7,
      allocs: 4,
      frees: 2,
      reallocs: 1,
      peakLiveBytes: 350, // after op 3: 100 + 200 + 50
      peakLiveBlocks: 3,
      peakOps: 3,
    });
  });
});

describe("snapshotAtPeak", () => {
  it("classes every byte of a TLSF at the peak: metadata, then live blocks with 4-byte headers", () => {
    const m = snapshotAtPeak(HAND, fixedTlsf, "tlsf", "TLSF");
    // The same blocks a replay of the first three ops makes.
    const a = fixedTlsf();
    const ptrs = [a.alloc(100, 8), a.alloc(200, 8), a.alloc(50, 8)];
    expect(m.ops).toBe(3);
    expect(m.liveBlocks).toBe(3);
    expect(m.headerBytes).toBe(4);
    expect(m.bytes.live).toBe(350);
    // Runs are contiguous from the region start to the end, and their sums are the totals.
    expect(m.from[0]).toBe(m.start);
    for (let i = 1; i < m.kinds.length; i++) expect(m.from[i]).toBe(m.to[i - 1]);
    expect(m.to[m.to.length - 1]).toBe(m.end);
    const sum = m.bytes.live + m.bytes.overhead + m.bytes.free + m.bytes.metadata;
    expect(sum).toBe(m.end - m.start);
    // metadata, then for each block: overhead (header) · live · overhead (rounding)
    const live = [...m.kinds.keys()].filter((i) => m.kinds[i] === 0);
    expect(live.map((i) => [m.from[i], m.to[i]])).toEqual(
      ptrs.map((p, j) => [p, p + [100, 200, 50][j]]),
    );
    expect(m.kinds[0]).toBe(3); // metadata first
    expect(m.to[0]).toBe(ptrs[0] - 4);
    expect(m.end).toBe(ptrs[2] + a.usableSize(ptrs[2]));
  });

  it("finds the free hole a freed block leaves", () => {
    // Peak after the 4th op: the hole of block 1 (200 bytes) lies between blocks 0 and 2.
    const t = parseTrace("a 0 1000 8\na 1 200 8\na 2 1000 8\nf 1\na 3 1500 8\n", "hole");
    const m = snapshotAtPeak(t, fixedTlsf, "tlsf", "TLSF");
    expect(m.ops).toBe(5);
    expect(m.liveBlocks).toBe(3);
    expect(m.bytes.free).toBeGreaterThanOrEqual(200);
    const free = [...m.kinds.keys()].filter((i) => m.kinds[i] === 2);
    expect(free.length).toBeGreaterThanOrEqual(1);
  });

  it("works for every general-purpose allocator on a recorded trace", () => {
    const t = parseTrace(smallTraceText(3000));
    const stats = traceStats(t);
    for (const c of ALLOCATORS.filter((x) => x.general)) {
      const m = snapshotAtPeak(t, () => c.make(), c.name, c.label, stats);
      expect(m.bytes.live, c.name).toBe(stats.peakLiveBytes);
      expect(m.failures, c.name).toBe(0);
      const sum = m.bytes.live + m.bytes.overhead + m.bytes.free + m.bytes.metadata;
      expect(sum, c.name).toBe(m.end - m.start);
    }
  });
});

describe("the heap map picture", () => {
  const map = (runs: [number, number, number][], end: number): HeapMap => ({
    allocator: "x",
    label: "X <&>",
    ops: 1,
    totalOps: 1,
    start: 0,
    end,
    memoryBytes: end,
    liveBlocks: 1,
    failures: 0,
    headerBytes: 0,
    bytes: { live: 0, overhead: 0, free: 0, metadata: 0 },
    kinds: Uint8Array.from(runs.map((r) => r[0])),
    from: Float64Array.from(runs.map((r) => r[1])),
    to: Float64Array.from(runs.map((r) => r[2])),
  });

  it("each cell shows the class holding most of its bytes", () => {
    // metadata [0, 100), live [100, 3000), free [3000, 4096): 8-byte cells, 2 rows of 256
    const m = map(
      [
        [3, 0, 100],
        [0, 100, 3000],
        [2, 3000, 4096],
      ],
      4096,
    );
    const { cells, rows, cellBytes } = mapCells(m);
    expect(cellBytes).toBe(8);
    expect(rows).toBe(2);
    expect(cells[11]).toBe(3); // bytes 88 … 96: metadata
    expect(cells[12]).toBe(0); // bytes 96 … 104: 4 metadata, 4 live: a tie goes to live
    expect(cells[374]).toBe(0); // 2992 … 3000
    expect(cells[375]).toBe(2); // 3000 … 3008
    expect(cells[511]).toBe(2);
    const svg = heapMapSvg(m);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("X &#60;&#38;&#62;"); // the label is escaped
    expect(svg).not.toContain("NaN");
  });

  it("keeps large heaps within 64 rows by making cells larger", () => {
    expect(bytesPerCell(4096)).toBe(8);
    expect(bytesPerCell(16 << 20)).toBe(1024);
    for (const span of [1, 1000, 1 << 20, 3e8, 2 ** 32]) {
      expect(Math.ceil(span / (bytesPerCell(span) * MAP_COLUMNS))).toBeLessThanOrEqual(64);
    }
  });
});

const result = (nsPerOp: number, footprintRatio: number, failures = 0): ReplayResult => ({
  trace: "t",
  ops: 1000,
  failures,
  elapsedMs: nsPerOp / 1000,
  nsPerOp,
  peakLiveBytes: 1000,
  peakFootprint: 1000 * footprintRatio,
  footprintRatio,
});

describe("advise", () => {
  /** A row whose runs took `ns` ns/op (several runs: a spread for the noise test). */
  const row = (name: string, r: ReplayResult | null, ns?: number[]): ReplayRow => ({
    name,
    label: name.toUpperCase(),
    result: r,
    error: r === null ? "boom" : undefined,
    samples: ns ?? (r === null ? [] : [0.99, 1, 1.01, 1, 1.02].map((f) => f * r.nsPerOp)),
  });

  it("weighs time and footprint: a much looser allocator does not win on speed alone", () => {
    const adv = advise([
      row("a", result(50, 1.3)),
      row("b", result(80, 1.05)),
      row("buddy", result(30, 3.0)), // faster, 3× the footprint: set aside, and said so
      row("c", result(10, 1.0, 3)), // failed allocations: not considered
      row("d", null),
    ]);
    expect(adv.choice?.name).toBe("a"); // within 1.25× the tightest's footprint, and faster
    expect(adv.lines[0]).toMatch(/^Choose a \(A\): 50\.0 ns\/op, footprint 1\.300×/);
    expect(adv.lines[1]).toMatch(/^buddy is faster \(30\.0 ns\/op\) but its footprint is 2\.86×/);
    expect(adv.lines[2]).toMatch(
      /^When memory matters more: b .* saves 250 B at the peak at 1\.60× the time/,
    );
    expect(adv.lines.at(-1)).toBe("Not considered (failed allocations or errors): c, d.");
  });

  it("names no winner within noise", () => {
    const noisy = [40, 52, 47, 60, 45];
    const adv = advise([
      row("x", result(47, 1.1), noisy),
      row(
        "y",
        result(49, 1.1),
        noisy.map((v) => v + 2),
      ),
      row(
        "z",
        result(45, 3.0),
        noisy.map((v) => v - 2),
      ), // looser, and not faster beyond noise
    ]);
    expect(adv.choice).toBeNull();
    expect(adv.lines.join(" ")).not.toContain("z is faster");
    const three = advise(["p", "q", "r"].map((n) => row(n, result(47, 1.1), noisy)));
    expect(three.lines[0]).toMatch(/^No winner between p, q, r: .*any of them serves this trace/);
    expect(adv.lines[0]).toMatch(/^No winner between x, y: .*either serves/);
    // the tighter of two allocators within noise in time is the choice
    const tighter = advise([row("x", result(47, 1.2), noisy), row("y", result(49, 1.1), noisy)]);
    expect(tighter.choice?.name).toBe("y");
    expect(tighter.lines[0]).toMatch(/x is as fast within noise with a larger footprint/);
  });

  it("says why a tie in time is one: the ratio, its interval, and that more runs are needed", () => {
    // Medians 632.8 and 354.8 ns/op (1.78×), but five runs each that spread widely (a short
    // trace timed while V8 was still compiling): the interval of the ratio holds 1.
    const slow = [300, 1100, 632.8, 900, 420];
    const fast = [120, 354.8, 583, 150, 500];
    const adv = advise([
      row("freelist", result(632.8, 1.05), slow),
      row("offset", result(354.8, 1.05), fast),
    ]);
    expect(adv.choice).toBeNull();
    const text = adv.lines[0];
    expect(text).toMatch(/^No winner between freelist, offset: their footprints are within 1%/);
    expect(text).toMatch(/\(632\.8 ns\/op, 354\.8 ns\/op\) are within noise/);
    const m =
      /freelist took 1\.78× offset's time, but from 5 timed runs each the 95% interval of that ratio is ([\d.]+)–([\d.]+), which holds 1: more runs are needed/.exec(
        text,
      );
    expect(m).not.toBeNull();
    expect(Number(m?.[1])).toBeLessThanOrEqual(1);
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(1);
    // The same medians from nine settled runs each: told apart, and the faster is the choice.
    const settled = (ns: number) =>
      [0.97, 0.99, 1, 1.01, 1.03, 0.98, 1, 1.02, 1].map((f) => f * ns);
    const told = advise([
      row("freelist", result(632.8, 1.05), settled(632.8)),
      row("offset", result(354.8, 1.05), settled(354.8)),
    ]);
    expect(told.choice?.name).toBe("offset");
    expect(told.lines[0]).toMatch(/^Choose offset \(OFFSET\): 354\.8 ns\/op/);
    // One run each: no interval, and it says so.
    const one = advise([row("a", result(100, 1.05), [100]), row("b", result(105, 1.05), [105])]);
    expect(one.choice).toBeNull();
    expect(one.lines[0]).toMatch(
      /b took 1\.05× a's time in one timed run each, which cannot tell a difference under 10% from noise/,
    );
  });

  it("times short traces enough to tell 1.8× apart: more runs, and warm-up replays", () => {
    expect(runsFor(100_000, false)).toBe(9);
    expect(warmupsFor(100_000)).toBe(4);
    expect(runsFor(400_000, false)).toBe(5);
    expect(runsFor(3_000_000, false)).toBe(1);
    expect(warmupsFor(3_000_000)).toBe(1);
    expect(runsFor(100_000, true)).toBe(1);
  });

  it("makes no speed claim under --verify, and says when nothing replayed", () => {
    const adv = advise([row("a", result(5, 1.1)), row("b", result(9, 1.2))], true);
    expect(adv.lines.join(" ")).not.toMatch(/faster|fastest|ns\/op/);
    expect(adv.lines[1]).toMatch(/^Tightest: a \(A\), footprint 1\.100×/);
    expect(advise([row("d", null)]).lines).toEqual([
      "No allocator replayed the whole trace.",
      "Not considered (failed allocations or errors): d.",
    ]);
  });
});

describe("renderReport", async () => {
  const bench: BenchFile = {
    meta: { command: "npm run bench -- --quick", date: "2026-01-01", node: "v20", cpu: "CPU" },
    results: [
      {
        workload: "W1",
        row: "baseline (empty loop)",
        rawNsPerOp: 3,
        netNsPerOp: 0,
        ops: 10,
        footprintRatio: null,
      },
      {
        workload: "W1",
        row: "memkit Heap",
        short: "Heap",
        group: "memkit",
        rawNsPerOp: 20,
        netNsPerOp: 17,
        ops: 10,
        failures: 0,
        peakLiveBytes: 100,
        footprint: 105,
        footprintRatio: 1.05,
      },
      {
        workload: "W1",
        row: "peer <b>bold</b>",
        group: "peer",
        rawNsPerOp: 300,
        netNsPerOp: 297,
        ops: 10,
        failures: 0,
        peakLiveBytes: 100,
        footprint: 150,
        footprintRatio: 1.5,
      },
      { workload: "W1", row: "C malloc", error: "no C compiler" },
      {
        workload: "sqlite3",
        row: "memkit Heap",
        rawNsPerOp: 40,
        netNsPerOp: 40,
        footprintRatio: 1.1,
      },
    ],
  };
  const trace = parseTrace(smallTraceText(2000), "recorded");
  const stats = traceStats(trace);
  const rows = await runReplays(trace, GENERAL_NAMES);
  const replay: TraceReplay = {
    name: "recorded",
    stats,
    comments: trace.comments,
    rows,
    maps: ALLOCATORS.filter((c) => c.name === "heap" || c.name === "tlsf").map((c) =>
      snapshotAtPeak(trace, () => c.make(), c.name, c.label, stats),
    ),
  };
  const html = renderReport({
    generated: "2026-01-02T00:00:00Z",
    command: "memkit report",
    bench: { file: "bench/results/quick.json", data: bench },
    traces: [replay],
  });

  it("has the benchmark charts per workload, the replay comparison and the heap maps", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<h2>Benchmarks</h2>");
    expect(html).toContain("W1 churn-small");
    expect(html).toContain("W1: net ns/op (lower is faster)");
    expect(html).toContain("W1: footprint / peak live bytes (lower is tighter)");
    expect(html).toContain("<h3>sqlite3</h3>"); // a workload it has no name for
    expect(html).toContain("C malloc: not measured: no C compiler");
    expect(html).toContain("Baseline (empty loop): 3.0 ns/op");
    expect(html).toContain("<h2>Trace replay: recorded</h2>");
    expect(html).toContain("a test program"); // the trace's description
    expect(html).toMatch(/Choose \w+|(either|any of them) serves this trace/);
    expect(html).toContain("<h3>Heap maps at the peak</h3>");
    expect(html.match(/<svg class="heapmap"/g)).toHaveLength(2);
    // 2 charts for W1, 2 for sqlite3 (ns/op, footprint), 2 for the trace, 2 heap maps
    expect((html.match(/<svg /g) ?? []).length).toBe(2 + 2 + 2 + 2);
    for (const c of rows) expect(html).toContain(c.label);
  });

  it("opens with the summary, not the targets, and never cuts a label", () => {
    expect(html.indexOf("<h2>Summary</h2>")).toBeGreaterThan(0);
    expect(html.indexOf("<h2>Summary</h2>")).toBeLessThan(html.indexOf("<h2>Benchmarks</h2>"));
    expect(html).toContain(
      "Medians of net ns/op: memkit&#39;s best beats the best JS/wasm peer on 1 of 1",
    );
    const long =
      "a very long allocator label that goes on and on, well past forty-eight characters";
    const svg = barChart("t", [{ label: long, value: 1, color: "#000" }], (v) => v.toFixed(1));
    expect(svg).toContain(`</title>${long}</text>`);
    const width = Number(svg.match(/width="(\d+)"/)?.[1]);
    expect(width).toBeGreaterThan(long.length * 7 + 420);
  });

  it("is self-contained: no script, no external stylesheet, image, font or URL", () => {
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/\bsrc=/i);
    // the only links are to anchors in the page
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1].startsWith("#")).toBe(true);
  });

  it("escapes text from the results and the trace", () => {
    expect(html).not.toContain("<b>bold</b>");
    expect(html).toContain("peer &#60;b&#62;bold&#60;/b&#62;");
  });

  it("says where benchmark results are missing", () => {
    const bare = renderReport({
      generated: "now",
      command: "memkit report",
      bench: null,
      benchNote: "No results: run memkit bench.",
      traces: [],
    });
    expect(bare).toContain("No results: run memkit bench.");
    expect(bare).not.toContain("<svg");
  });

  it("bars far above the rest are cut and marked, so the others stay readable", () => {
    const svg = barChart(
      "t",
      [1, 1.1, 1.2, 50].map((v, i) => ({ label: `r${i}`, value: v, color: "#000" })),
      (v) => v.toFixed(1),
    );
    expect(svg).toContain("50.0 (cut)");
    expect(svg).not.toContain("1.2 (cut)");
  });
});
