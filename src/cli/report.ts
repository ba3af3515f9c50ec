/**
 * `memkit report`: one self-contained HTML file (inline CSS and SVG, no script, nothing
 * fetched) that shows
 * - the benchmark results (bench/results/*.json): per workload, bar charts of net ns/op and
 *   of footprint / peak live bytes per allocator, and the full table;
 * - each replayed trace: the same two charts across allocators, the recommendation, the
 *   table;
 * - a heap map per allocator of the replay at its live-bytes peak (see heapmap.ts).
 * Pure: the caller reads the files and runs the replays.
 */

import type { ReplayResult } from "../trace/replay.js";
import { advise } from "./advice.js";
import { fmtBytes, fmtInt, fmtMs, type ReplayRow } from "./format.js";
import {
  type HeapMap,
  heapMapSvg,
  KIND_COLORS,
  KIND_MEANING,
  KINDS,
  mapCells,
  type TraceStats,
} from "./heapmap.js";
import {
  type BenchFile,
  type BenchTarget,
  conclusion,
  summarize,
  summaryCells,
} from "./summary.js";

export type { BenchFile, BenchRow, BenchTarget } from "./summary.js";

export interface TraceReplay {
  readonly name: string;
  readonly stats: TraceStats;
  readonly comments: readonly string[];
  readonly rows: readonly ReplayRow[];
  readonly maps: readonly HeapMap[];
}

export interface ReportInput {
  /** ISO date of generation. */
  readonly generated: string;
  /** The command that made the report. */
  readonly command: string;
  /** The benchmark results and the file they came from, or null with `benchNote` saying why. */
  readonly bench: { readonly file: string; readonly data: BenchFile } | null;
  readonly benchNote?: string;
  readonly traces: readonly TraceReplay[];
}

const WORKLOAD_NAMES: Record<string, string> = {
  W1: "W1 churn-small: 10,000 slots, 8-512 bytes, random alloc/free",
  W2: "W2 fixed-64: 1,000 slots of 64 bytes",
  W3: "W3 arena: 1,000 rounds of 1,000 blocks of 16-64 bytes, then all released",
  W4: "W4 large: 100 slots of 4 KiB-1 MiB",
};

const C_MEMKIT = "#2f6fdf";
const C_PEER = "#e07b39";
const C_REFERENCE = "#9aa3ad";

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function rowColor(label: string, group?: string): string {
  if (group === "memkit") return C_MEMKIT;
  if (group === "peer") return C_PEER;
  if (group === "reference" || group === "baseline") return C_REFERENCE;
  if (label.startsWith("memkit")) return C_MEMKIT;
  if (label.startsWith("baseline") || label.startsWith("reference")) return C_REFERENCE;
  return C_PEER;
}

interface Bar {
  readonly label: string;
  readonly value: number | null;
  readonly color: string;
}

const PLOT_W = 420;
const VALUE_W = 130;
const BAR_H = 16;
const ROW_H = 22;
/** A generous width per character of a 12 px label, so no label is cut off. */
const CHAR_W = 7.2;

/**
 * A horizontal bar chart. Values far above the others (more than 5× the median) are drawn
 * cut at the right edge, marked, so one outlier does not flatten every other bar.
 */
export function barChart(
  title: string,
  bars: readonly Bar[],
  fmt: (v: number) => string,
  reference?: { value: number; label: string },
): string {
  const values = bars.map((b) => b.value).filter((v): v is number => v !== null && v > 0);
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length > 0 ? sorted[sorted.length >> 1] : 1;
  const inScale = sorted.filter((v) => sorted.length < 3 || v <= 5 * median);
  let max = inScale.length > 0 ? inScale[inScale.length - 1] : 1;
  if (reference !== undefined) max = Math.max(max, reference.value);
  max *= 1.05;
  // The label column is as wide as the longest label: labels are never cut off.
  const LABEL_W = Math.ceil(Math.max(10, ...bars.map((b) => b.label.length)) * CHAR_W) + 12;
  const plotW = PLOT_W;
  const CHART_W = LABEL_W + PLOT_W + VALUE_W;
  const height = bars.length * ROW_H + 24;
  const parts: string[] = [
    `<figure class="chart"><figcaption>${esc(title)}</figcaption>`,
    `<svg viewBox="0 0 ${CHART_W} ${height}" width="${CHART_W}" height="${height}" role="img" ` +
      `aria-label="${esc(title)}">`,
  ];
  bars.forEach((b, i) => {
    const y = i * ROW_H + 4;
    parts.push(
      `<text x="${LABEL_W - 8}" y="${y + BAR_H - 4}" text-anchor="end" font-size="12" fill="#222">` +
        `<title>${esc(b.label)}</title>${esc(b.label)}</text>`,
    );
    if (b.value === null || !Number.isFinite(b.value)) {
      parts.push(
        `<text x="${LABEL_W + 4}" y="${y + BAR_H - 4}" font-size="12" fill="#888">n/a</text>`,
      );
      return;
    }
    const cut = b.value > max;
    const w = Math.max(0, Math.min(b.value, max) / max) * plotW;
    parts.push(
      `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`,
    );
    if (cut) {
      const x = LABEL_W + plotW;
      parts.push(
        `<path d="M${x - 14} ${y - 1} l6 ${BAR_H + 2} M${x - 8} ${y - 1} l6 ${BAR_H + 2}" ` +
          `stroke="#fff" stroke-width="3"/>`,
      );
    }
    parts.push(
      `<text x="${LABEL_W + Math.max(w, 0) + 6}" y="${y + BAR_H - 4}" font-size="12" ` +
        `fill="#222">${esc(fmt(b.value))}${cut ? " (cut)" : ""}</text>`,
    );
  });
  const axisY = bars.length * ROW_H + 6;
  parts.push(
    `<line x1="${LABEL_W}" y1="0" x2="${LABEL_W}" y2="${axisY}" stroke="#444" stroke-width="1"/>`,
  );
  if (reference !== undefined) {
    const x = LABEL_W + (reference.value / max) * plotW;
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="0" x2="${x.toFixed(1)}" y2="${axisY}" stroke="#c0392b" ` +
        `stroke-dasharray="4 3"/>`,
      `<text x="${x.toFixed(1)}" y="${axisY + 14}" text-anchor="middle" font-size="11" ` +
        `fill="#c0392b">${esc(reference.label)}</text>`,
    );
  }
  parts.push("</svg></figure>");
  return parts.join("\n");
}

function fmtNum(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);
}

/** A table; `right` marks numeric columns (default: every column but the first). */
function htmlTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right?: readonly boolean[],
): string {
  const head = headers.map((h) => `<th>${esc(h)}</th>`).join("");
  const isRight = (i: number): boolean => right?.[i] ?? i > 0;
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${isRight(i) ? ' class="n"' : ""}>${esc(c)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function benchSection(input: ReportInput): string {
  const out: string[] = ['<section id="bench"><h2>Benchmarks</h2>'];
  if (input.bench === null) {
    out.push(`<p class="note">${esc(input.benchNote ?? "No benchmark results.")}</p></section>`);
    return out.join("\n");
  }
  const { file, data } = input.bench;
  const m = data.meta ?? {};
  if (input.benchNote) out.push(`<p class="note">${esc(input.benchNote)}</p>`);
  out.push(
    `<p class="meta">From <code>${esc(file)}</code>: <code>${esc(m.command ?? "?")}</code> · ` +
      `${esc(m.date ?? "?")} · Node ${esc(m.node ?? "?")} · ${esc(m.cpu ?? "?")}` +
      `${m.cores ? ` (${m.cores} cores)` : ""}${m.runs ? ` · median of ${m.runs} runs` : ""}</p>`,
    `<p>Net ns/op is the median time per operation minus the empty loop's (the PRNG and slot ` +
      `bookkeeping). Footprint / peak live is the highest heap byte used over the most bytes ` +
      `alive at once: 1.0 wastes nothing. <span class="sw" style="background:${C_MEMKIT}"></span>` +
      ` memkit <span class="sw" style="background:${C_PEER}"></span> peers ` +
      `<span class="sw" style="background:${C_REFERENCE}"></span> references.</p>`,
  );
  for (const line of [...(m.warnings ?? []), ...(m.notes ?? [])]) {
    out.push(`<p class="note">${esc(String(line))}</p>`);
  }
  const workloads: string[] = [];
  for (const r of data.results) if (!workloads.includes(r.workload)) workloads.push(r.workload);
  for (const w of workloads) {
    const rows = data.results.filter((r) => r.workload === w);
    const baseline = rows.find((r) => r.row.startsWith("baseline"));
    const measured = rows.filter((r) => r !== baseline && r.error === undefined);
    out.push(`<h3>${esc(WORKLOAD_NAMES[w] ?? w)}</h3>`);
    if (baseline?.rawNsPerOp !== undefined) {
      out.push(
        `<p class="meta">Baseline (empty loop): ${baseline.rawNsPerOp.toFixed(1)} ns/op, ` +
          `subtracted from every row. ${fmtInt(baseline.ops ?? 0)} ops.</p>`,
      );
    }
    out.push('<div class="charts">');
    out.push(
      barChart(
        `${w}: net ns/op (lower is faster)`,
        measured.map((r) => ({
          label: r.row,
          value: r.netNsPerOp ?? null,
          color: rowColor(r.row, r.group),
        })),
        (v) => `${v.toFixed(1)} ns`,
      ),
    );
    const withFootprint = measured.filter(
      (r) => r.footprintRatio !== null && r.footprintRatio !== undefined,
    );
    if (withFootprint.length > 0) {
      out.push(
        barChart(
          `${w}: footprint / peak live bytes (lower is tighter)`,
          withFootprint.map((r) => ({
            label: r.row,
            value: r.footprintRatio ?? null,
            color: rowColor(r.row, r.group),
          })),
          (v) => `${v.toFixed(3)}×`,
          { value: 1, label: "1.0" },
        ),
      );
    }
    out.push("</div>");
    const errors = rows.filter((r) => r.error !== undefined);
    for (const e of errors) {
      out.push(`<p class="note">${esc(e.row)}: not measured: ${esc(e.error ?? "")}</p>`);
    }
    out.push(
      `<details><summary>${esc(w)} table</summary>`,
      htmlTable(
        [
          "allocator",
          "ns/op raw",
          "ns/op net",
          "ops",
          "failures",
          "peak live",
          "footprint / live",
          "note",
        ],
        rows
          .filter((r) => r.error === undefined)
          .map((r) => [
            r.row,
            fmtNum(r.rawNsPerOp, 1),
            fmtNum(r.netNsPerOp, 1),
            r.ops === undefined ? "—" : fmtInt(r.ops),
            r.failures === undefined ? "—" : fmtInt(r.failures),
            r.peakLiveBytes === undefined ? "—" : fmtInt(r.peakLiveBytes),
            fmtNum(r.footprintRatio, 3),
            [r.stopped ? "stopped at the deadline" : "", r.note ?? ""].filter((x) => x).join("; "),
          ]),
      ),
      "</details>",
    );
  }
  out.push(targetsTable(m.targets ?? []), "</section>");
  return out.join("\n");
}

const VERDICTS: Record<string, string> = {
  met: "met",
  missed: "missed",
  noise: "within noise",
  unmeasured: "not measured",
};

/** The issue's targets: value, 95% interval, goal, verdict and by how much (or why not). */
function targetsTable(targets: readonly BenchTarget[]): string {
  if (targets.length === 0) return "";
  const value = (t: BenchTarget): string => {
    if (t.value === null || t.value === undefined) return "—";
    if (t.fmt === "x") return `${t.value.toFixed(2)}×`;
    if (t.fmt === "ns") return `${t.value.toFixed(2)} ns`;
    return t.fmt === "n" ? String(t.value) : t.value.toFixed(3);
  };
  const verdict = (t: BenchTarget): string =>
    VERDICTS[t.verdict ?? ""] ?? (t.met === true ? "met" : t.met === false ? "missed" : "—");
  return [
    "<h3>Targets</h3>",
    "<p>Each speed target compares two rows of the same run; the interval is the 95% bootstrap " +
      "interval of the figure, and a target whose interval holds the goal is within noise: " +
      "neither met nor missed.</p>",
    htmlTable(
      ["target", "value", "95% interval", "goal", "verdict", "by how much"],
      targets.map((t) => [
        t.what ?? "?",
        value(t),
        t.interval ? `${t.interval[0].toFixed(2)} … ${t.interval[1].toFixed(2)}` : "",
        t.goal ?? "",
        verdict(t),
        (t.verdict === "unmeasured" ? t.why : t.missedBy) ?? "",
      ]),
    ),
  ].join("\n");
}

/** What the report opens with: memkit's best against the peers and C, and one conclusion. */
function summarySection(input: ReportInput): string {
  if (input.bench === null) return "";
  const lines = summarize(input.bench.data.results);
  if (lines.length === 0) return "";
  const { headers, rows, right } = summaryCells(lines);
  return [
    '<section id="summary"><h2>Summary</h2>',
    `<p class="rec">${esc(conclusion(lines))}</p>`,
    "<p>Net ns/op (time per alloc or free call less the empty loop's) of memkit's best on " +
      "each workload and trace (its fastest allocator within 1.25× the tightest footprint, with " +
      "its footprint / peak live bytes), against the best JS or wasm peer by the same rule and " +
      "the C library's malloc; the ÷ columns are memkit's time over the other's (below 1: " +
      "memkit is faster).</p>",
    htmlTable(headers, rows, right),
    "</section>",
  ].join("\n");
}

function traceSection(t: TraceReplay, index: number): string {
  const s = t.stats;
  const out: string[] = [`<section id="trace-${index}"><h2>Trace replay: ${esc(t.name)}</h2>`];
  const described = t.comments.find((c) => c.startsWith("trace "));
  if (described !== undefined) out.push(`<p class="meta">${esc(described.slice(6))}</p>`);
  out.push(
    `<p>${fmtInt(s.ops)} operations: ${fmtInt(s.allocs)} allocations, ${fmtInt(s.frees)} frees, ` +
      `${fmtInt(s.reallocs)} reallocs. At the peak, ${fmtInt(s.peakLiveBytes)} bytes ` +
      `(${fmtBytes(s.peakLiveBytes)}) are live; at most ${fmtInt(s.peakLiveBlocks)} blocks are ` +
      `live at once.</p>`,
  );
  const ok = t.rows.filter((r) => r.result !== null);
  const res = (r: ReplayRow): ReplayResult => r.result!;
  out.push('<div class="charts">');
  out.push(
    barChart(
      `${t.name}: ns/op (lower is faster)`,
      ok.map((r) => ({ label: r.label, value: res(r).nsPerOp, color: C_MEMKIT })),
      (v) => `${v.toFixed(1)} ns`,
    ),
    barChart(
      `${t.name}: peak footprint / peak live bytes (lower is tighter)`,
      ok.map((r) => ({ label: r.label, value: res(r).footprintRatio, color: C_MEMKIT })),
      (v) => `${v.toFixed(3)}×`,
      { value: 1, label: "1.0" },
    ),
  );
  out.push("</div>");
  const rec = advise(t.rows);
  out.push(`<div class="rec">${rec.lines.map((l) => `<p>${esc(l)}</p>`).join("")}</div>`);
  out.push(
    htmlTable(
      ["allocator", "ns/op", "time", "peak footprint", "footprint / live", "failures"],
      t.rows.map((r) =>
        r.result === null
          ? [r.label, `error: ${r.error ?? "?"}`, "", "", "", ""]
          : [
              r.label,
              r.result.nsPerOp.toFixed(1),
              fmtMs(r.result.elapsedMs),
              fmtInt(r.result.peakFootprint),
              r.result.footprintRatio.toFixed(3),
              fmtInt(r.result.failures),
            ],
      ),
    ),
  );
  if (t.maps.length > 0) {
    const m0 = t.maps[0];
    out.push(
      `<h3>Heap maps at the peak</h3>`,
      `<p>Each allocator's region after op ${fmtInt(m0.ops)} of ${fmtInt(m0.totalOps)}, when ` +
        `the live bytes peak. One cell is a run of bytes, coloured by what most of its bytes ` +
        `are; rows run left to right, from the region's start (offsets on the left) up to the ` +
        `highest block end the replay reached.</p>`,
      legend(),
    );
    for (const m of t.maps) out.push(mapFigure(m));
  }
  out.push("</section>");
  return out.join("\n");
}

function legend(): string {
  return `<p class="legend">${KINDS.map(
    (k) =>
      `<span class="sw" style="background:${KIND_COLORS[k]}"></span><b>${k}</b>: ${esc(KIND_MEANING[k])}`,
  ).join(" &nbsp; ")}</p>`;
}

function mapFigure(m: HeapMap): string {
  const total = m.end - m.start;
  const pct = (n: number): string => (total > 0 ? `${((100 * n) / total).toFixed(1)}%` : "—");
  const { cellBytes } = mapCells(m);
  const figures = KINDS.map(
    (k) =>
      `<span class="sw" style="background:${KIND_COLORS[k]}"></span>${k} ` +
      `${fmtInt(m.bytes[k])} B (${pct(m.bytes[k])})`,
  ).join(" &nbsp; ");
  return (
    `<figure class="map"><figcaption>${esc(m.label)}: ${fmtInt(m.liveBlocks)} live blocks in ` +
    `${fmtBytes(total)} shown (memory ${fmtBytes(m.memoryBytes)}); one cell = ${cellBytes} bytes; ` +
    `header per block taken as ${m.headerBytes} bytes` +
    `${m.failures > 0 ? `; ${fmtInt(m.failures)} failed allocations` : ""}</figcaption>` +
    `${heapMapSvg(m)}<p class="figs">${figures}</p></figure>`
  );
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
  max-width: 1000px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 20px; border-bottom: 1px solid #ddd;
  padding-bottom: 4px; margin-top: 36px; } h3 { font-size: 16px; margin-top: 24px; }
.meta { color: #555; font-size: 13px; } .note { color: #8a5a00; }
figure { margin: 12px 0; overflow-x: auto; } figcaption { font-weight: 600; margin-bottom: 4px; }
.rec { background: #f3f7ff; border-left: 4px solid ${C_MEMKIT}; padding: 4px 12px; }
.rec p { margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.sw { display: inline-block; width: 12px; height: 12px; margin: 0 4px -1px 0;
  border: 1px solid #0002; }
.legend, .figs { font-size: 13px; } code { font-size: 12px; }
nav a { margin-right: 12px; }
`;

/** The whole report. */
export function renderReport(input: ReportInput): string {
  const nav = [
    ...(input.bench === null ? [] : [`<a href="#summary">Summary</a>`]),
    `<a href="#bench">Benchmarks</a>`,
    ...input.traces.map((t, i) => `<a href="#trace-${i}">Trace: ${esc(t.name)}</a>`),
  ].join("");
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>memkit report</title>",
    `<style>${CSS}</style></head><body>`,
    "<h1>memkit report</h1>",
    `<p class="meta">Generated ${esc(input.generated)} by <code>${esc(input.command)}</code>.</p>`,
    `<nav>${nav}</nav>`,
    summarySection(input),
    benchSection(input),
    ...input.traces.map(traceSection),
    "</body></html>",
    "",
  ].join("\n");
}
