/**
 * The benchmark's results file (bench/run.mjs writes it) and its summary: for each workload
 * and trace, memkit's fastest allocator, the fastest peer a user would pick instead, and the C
 * library's malloc, with the ratios; and one line that concludes. The summary opens what
 * `npm start`, `npm run bench` and the HTML report show. Pure functions.
 */

import { textTable } from "./format.js";
import type { Spread } from "./stats.js";

/** One row of the results file (bench/results.mjs describes every field). */
export interface BenchRow {
  readonly workload: string;
  /** workload | trace | growth | shared */
  readonly suite?: string;
  readonly key?: string;
  readonly row: string;
  /** A few words for the summary. */
  readonly short?: string;
  /** memkit, peer, reference or baseline. */
  readonly group?: string;
  /** The C library's malloc. */
  readonly native?: boolean;
  readonly rawNsPerOp?: number;
  readonly netNsPerOp?: number;
  readonly spread?: Spread | null;
  /** 1-minute load average at the row's first and last timed run. */
  readonly load?: readonly number[] | null;
  readonly ops?: number;
  readonly failures?: number;
  readonly peakLiveBytes?: number;
  readonly footprint?: number | null;
  readonly footprintRatio?: number | null;
  readonly error?: string;
  readonly note?: string;
  /** The run met its deadline before the end: the figures are of the ops it did. */
  readonly stopped?: boolean;
}

/** A performance target checked by the run (bench/targets.mjs). */
export interface BenchTarget {
  readonly what?: string;
  readonly value?: number | null;
  /** The 95% interval of the value, for speed comparisons. */
  readonly interval?: readonly number[] | null;
  readonly goal?: string;
  /** met | missed | noise | unmeasured */
  readonly verdict?: string;
  readonly met?: boolean | null;
  readonly missedBy?: string | null;
  /** x (ratio), ns (difference), r (footprint ratio), n (a count) */
  readonly fmt?: string;
  readonly why?: string;
}

export interface BenchFile {
  readonly meta: {
    readonly command?: string;
    readonly date?: string;
    readonly node?: string;
    readonly cpu?: string;
    readonly cores?: number;
    readonly runs?: number;
    readonly loadavgStart?: readonly number[];
    readonly loadavgEnd?: readonly number[];
    readonly targets?: readonly BenchTarget[];
    readonly notes?: readonly string[];
    readonly warnings?: readonly string[];
  };
  readonly results: readonly BenchRow[];
}

/** What the summary calls each workload. */
export const WORKLOAD_TITLES: Record<string, string> = {
  W1: "W1 churn-small",
  W2: "W2 fixed-64",
  W3: "W3 arena",
  W4: "W4 large",
};

export interface SummaryLine {
  readonly workload: string;
  readonly best: BenchRow | null;
  readonly peer: BenchRow | null;
  readonly c: BenchRow | null;
  /** memkit's best net / the best peer's net: below 1, memkit is faster. */
  readonly vsPeer: number | null;
  /** memkit's best net / C malloc's net. */
  readonly vsC: number | null;
}

const usable = (r: BenchRow): boolean =>
  r.error === undefined &&
  r.stopped !== true &&
  (r.failures ?? 0) === 0 &&
  typeof r.netNsPerOp === "number" &&
  r.netNsPerOp > 0;

const fastest = (rows: readonly BenchRow[]): BenchRow | null =>
  [...rows].sort((a, b) => (a.netNsPerOp ?? 0) - (b.netNsPerOp ?? 0))[0] ?? null;

/** Rows whose footprint is more than this × the tightest row's are not a workload's best. */
export const FOOTPRINT_BOUND = 1.25;

/**
 * The fastest of `rows` among those whose footprint is within FOOTPRINT_BOUND of `tightest`
 * (rows without a footprint, such as the garbage collector's, count as within); the tightest
 * of them when none is.
 */
function best(rows: readonly BenchRow[], tightest: number): BenchRow | null {
  const within = rows.filter(
    (r) => r.footprintRatio == null || r.footprintRatio <= FOOTPRINT_BOUND * tightest,
  );
  if (within.length > 0) return fastest(within);
  return [...rows].sort((a, b) => (a.footprintRatio ?? 0) - (b.footprintRatio ?? 0))[0] ?? null;
}

/**
 * One line per workload and trace (not the growth or shared suites), in results order. A
 * side's best is its fastest row within 1.25× the tightest footprint of the workload, so a
 * row does not win on time by holding several times the memory.
 */
export function summarize(results: readonly BenchRow[]): SummaryLine[] {
  const workloads: string[] = [];
  for (const r of results) {
    const suite = r.suite ?? "workload";
    if ((suite === "workload" || suite === "trace") && !workloads.includes(r.workload)) {
      workloads.push(r.workload);
    }
  }
  return workloads.map((w) => {
    const rows = results.filter((r) => r.workload === w && usable(r));
    // What a user would pick from: memkit and the peers (C included), not the references.
    const fps = rows
      .filter((r) => r.group === "memkit" || r.group === "peer")
      .map((r) => r.footprintRatio)
      .filter((f): f is number => typeof f === "number");
    const tightest = fps.length > 0 ? Math.min(...fps) : Number.POSITIVE_INFINITY;
    const mine = best(
      rows.filter((r) => r.group === "memkit"),
      tightest,
    );
    const peer = best(
      rows.filter((r) => r.group === "peer" && r.native !== true),
      tightest,
    );
    const c = rows.find((r) => r.native === true) ?? null;
    const ratio = (other: BenchRow | null): number | null =>
      mine === null || other === null ? null : (mine.netNsPerOp ?? 0) / (other.netNsPerOp ?? 1);
    return { workload: w, best: mine, peer, c, vsPeer: ratio(peer), vsC: ratio(c) };
  });
}

const nameOf = (r: BenchRow): string => r.short ?? r.row;
const nsText = (r: BenchRow | null): string => (r === null ? "—" : (r.netNsPerOp ?? 0).toFixed(1));
const xText = (v: number | null): string => (v === null ? "—" : `${v.toFixed(2)}×`);

/** The workload's name in the summary. */
export function workloadTitle(w: string): string {
  return WORKLOAD_TITLES[w] ?? w.replace(/^trace /, "");
}

/** The summary table as rows of cells (for text and HTML). */
export function summaryCells(lines: readonly SummaryLine[]): {
  headers: string[];
  rows: string[][];
  right: boolean[];
} {
  return {
    headers: [
      "workload",
      "memkit best",
      "ns/op",
      "fp/live",
      "best peer",
      "ns/op",
      "C malloc",
      "÷peer",
      "÷C",
    ],
    rows: lines.map((l) => [
      workloadTitle(l.workload),
      l.best === null ? "—" : nameOf(l.best),
      nsText(l.best),
      l.best?.footprintRatio == null ? "—" : l.best.footprintRatio.toFixed(2),
      l.peer === null ? "—" : nameOf(l.peer),
      nsText(l.peer),
      nsText(l.c),
      xText(l.vsPeer),
      xText(l.vsC),
    ]),
    right: [false, false, true, true, false, true, true, true, true],
  };
}

/**
 * The summary table as text: net ns/op (the time per alloc or free call less the empty
 * loop's) of each side's best (its fastest within 1.25× the tightest footprint), memkit's
 * best's footprint / peak live, and in the ÷ columns memkit's time over the other's (below 1:
 * memkit is faster).
 */
export function summaryTable(lines: readonly SummaryLine[]): string {
  const { headers, rows, right } = summaryCells(lines);
  return textTable(headers, rows, right);
}

/** One sentence that sums the table up. */
export function conclusion(lines: readonly SummaryLine[]): string {
  const withPeer = lines.filter((l) => l.vsPeer !== null);
  const wins = withPeer.filter((l) => (l.vsPeer ?? 1) < 1);
  const vsC = lines.map((l) => l.vsC).filter((v): v is number => v !== null);
  const parts: string[] = [];
  if (withPeer.length > 0) {
    parts.push(`memkit's best beats the best JS/wasm peer on ${wins.length} of ${withPeer.length}`);
  }
  if (vsC.length > 0) {
    const lo = Math.min(...vsC);
    const hi = Math.max(...vsC);
    const range = lo === hi ? xText(lo) : `${lo.toFixed(1)}–${hi.toFixed(1)}×`;
    parts.push(`it takes ${range} C malloc's time`);
  }
  if (parts.length === 0) return "No memkit row and peer ran on the same workload.";
  return `Medians of net ns/op: ${parts.join("; ")}.`;
}
