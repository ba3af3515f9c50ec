/**
 * Text output of the `memkit` command: numbers, aligned tables, the trace summary and the
 * recommendation after a replay against several allocators. Pure functions.
 */

import type { ReplayResult } from "../trace/replay.js";
import type { TraceStats } from "./heapmap.js";

/** One allocator's replay of one trace: its result, or why it has none. */
export interface ReplayRow {
  readonly name: string;
  readonly label: string;
  readonly result: ReplayResult | null;
  readonly error?: string;
  /** Timed runs; `result` is the median one by time. */
  readonly runs?: number;
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A plain-text table: columns padded to their widest cell; `right` marks numeric ones. */
export function textTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** One line about the trace: its size and peak. */
export function traceSummaryLine(name: string, s: TraceStats): string {
  return (
    `${name}: ${fmtInt(s.ops)} ops (${fmtInt(s.allocs)} allocs, ${fmtInt(s.frees)} frees, ` +
    `${fmtInt(s.reallocs)} reallocs); peak ${fmtInt(s.peakLiveBytes)} live bytes ` +
    `(${fmtBytes(s.peakLiveBytes)}) in ${fmtInt(s.peakLiveBlocks)} blocks`
  );
}

/** The per-allocator table of `memkit replay`. */
export function replayTable(rows: readonly ReplayRow[]): string {
  const body = rows.map((row) => {
    const r = row.result;
    if (r === null) return [row.name, row.label, `error: ${row.error ?? "?"}`, "", "", "", ""];
    return [
      row.name,
      row.label,
      r.nsPerOp.toFixed(1),
      fmtMs(r.elapsedMs),
      fmtInt(r.peakFootprint),
      r.footprintRatio.toFixed(3),
      fmtInt(r.failures),
    ];
  });
  return textTable(
    ["allocator", "", "ns/op", "time", "peak footprint", "footprint/live", "failures"],
    body,
    [false, false, true, true, true, true, true],
  );
}

export interface Recommendation {
  readonly fastest: ReplayRow | null;
  readonly tightest: ReplayRow | null;
  /** The plain-language lines. */
  readonly lines: readonly string[];
}

/**
 * The fastest (lowest ns/op) and the tightest (lowest footprint / peak live) of the rows
 * that replayed the whole trace without a failure.
 */
export function recommend(rows: readonly ReplayRow[]): Recommendation {
  const ok = rows.filter((r) => r.result !== null && r.result.failures === 0);
  const lines: string[] = [];
  if (ok.length === 0) {
    return { fastest: null, tightest: null, lines: ["No allocator replayed the whole trace."] };
  }
  const res = (r: ReplayRow): ReplayResult => r.result!;
  const byTime = [...ok].sort((a, b) => res(a).nsPerOp - res(b).nsPerOp);
  const bySpace = [...ok].sort((a, b) => res(a).footprintRatio - res(b).footprintRatio);
  const fastest = byTime[0];
  const tightest = bySpace[0];
  const f = res(fastest);
  const t = res(tightest);
  const runnerUp = (list: ReplayRow[], what: (r: ReplayResult) => string): string =>
    list.length > 1 ? `; next: ${list[1].name}, ${what(res(list[1]))}` : "";
  lines.push(
    `Fastest:  ${fastest.name} (${fastest.label}): ${f.nsPerOp.toFixed(1)} ns/op, ` +
      `${fmtMs(f.elapsedMs)} for the trace${runnerUp(byTime, (r) => `${r.nsPerOp.toFixed(1)} ns/op`)}.`,
  );
  lines.push(
    `Tightest: ${tightest.name} (${tightest.label}): peak footprint ${fmtInt(t.peakFootprint)} bytes, ` +
      `${t.footprintRatio.toFixed(3)} × the peak live bytes${runnerUp(
        bySpace,
        (r) => `${r.footprintRatio.toFixed(3)} ×`,
      )}.`,
  );
  if (fastest === tightest) {
    lines.push(`Choose ${fastest.name}: it is both the fastest and the tightest on this trace.`);
  } else {
    lines.push(
      `Choose ${fastest.name} for speed, or ${tightest.name} when memory matters more ` +
        `(it costs ${(t.nsPerOp / f.nsPerOp).toFixed(2)}× the time and saves ` +
        `${fmtBytes(Math.max(0, f.peakFootprint - t.peakFootprint))} at the peak).`,
    );
  }
  const failed = rows.filter((r) => r.result === null || r.result.failures > 0);
  if (failed.length > 0) {
    lines.push(
      `Not considered (failed allocations or errors): ${failed.map((r) => r.name).join(", ")}.`,
    );
  }
  return { fastest, tightest, lines };
}
