/**
 * Text output of the `memkit` command: numbers, aligned tables, the trace summary and the
 * table of a replay against several allocators. Pure functions.
 */

import type { FootprintFloor } from "../trace/floor.js";
import type { ReplayResult } from "../trace/replay.js";
import type { TraceStats } from "./heapmap.js";
import type { Spread } from "./stats.js";

/** One allocator's replay of one trace: its result, or why it has none. */
export interface ReplayRow {
  readonly name: string;
  readonly label: string;
  readonly result: ReplayResult | null;
  readonly error?: string;
  /** Timed runs (0 when verifying: no time is reported); `result.nsPerOp` is their median. */
  readonly runs?: number;
  /** ns/op of every timed run. */
  readonly samples?: readonly number[];
  readonly spread?: Spread | null;
  /** 1-minute load average before and after the allocator's runs. */
  readonly load?: readonly number[];
  /** It replayed in a process of its own (else in the command's process). */
  readonly ownProcess?: boolean;
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

/** `text` broken at spaces into lines of at most `width` columns (a longer word stays whole). */
export function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join("\n");
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

/**
 * The least footprint two block layouts allow on the trace, whatever the placement
 * (trace/floor.ts): `sized` for a 4-byte size word per block (TLSF, the Heap), `bare` for
 * blocks with no header.
 */
export function floorLine(sized: FootprintFloor, bare: FootprintFloor): string {
  return (
    `Footprint floor, whatever the placement: ${fmtInt(sized.floorBytes)} bytes ` +
    `(${sized.ratio.toFixed(3)}× the peak live bytes) for blocks with a 4-byte size word ` +
    `(TLSF, the Heap), ${fmtInt(bare.floorBytes)} (${bare.ratio.toFixed(3)}×) for blocks with ` +
    "no header; each block rounded up to the alignment asked."
  );
}

const time = (v: number, f: (v: number) => string): string => (Number.isNaN(v) ? "—" : f(v));

/**
 * The per-allocator table of `memkit replay` (at most 100 columns): median ns/op with the
 * runs' min–max, the peak footprint and footprint / peak live bytes, failed allocations.
 */
export function replayTable(rows: readonly ReplayRow[]): string {
  const body = rows.map((row) => {
    const r = row.result;
    if (r === null) return [row.name, row.label, `error: ${row.error ?? "?"}`, "", "", "", ""];
    const s = row.spread;
    return [
      row.name,
      row.label,
      time(r.nsPerOp, (v) => v.toFixed(1)),
      s && s.max > s.min ? `${s.min.toFixed(1)}–${s.max.toFixed(1)}` : "—",
      fmtInt(r.peakFootprint),
      r.footprintRatio.toFixed(3),
      fmtInt(r.failures),
    ];
  });
  return textTable(["allocator", "", "ns/op", "min–max", "footprint", "fp/live", "fails"], body, [
    false,
    false,
    true,
    true,
    true,
    true,
    true,
  ]);
}
