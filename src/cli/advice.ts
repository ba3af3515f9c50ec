/**
 * The advice after a replay against several allocators: which one to choose for this trace,
 * weighing time and footprint together, never naming a winner that is within noise.
 *
 * - Only allocators that replayed the whole trace without a failed allocation count.
 * - Memory first as a bound: allocators whose footprint is more than 1.25× the tightest's are
 *   set aside (said, with how much faster they are, if they are faster beyond noise).
 * - Among the rest, the fastest and every allocator within noise of it in time form the
 *   front; the one with the smallest footprint there is the choice. Allocators within 1% of
 *   its footprint and within noise in time are a tie: the advice names them all, no winner,
 *   and says why: the slowest's time over the fastest's, the 95% interval of that ratio, and
 *   that more runs are needed to tell them apart.
 * - The tightest allocator, if it is not the choice, is offered for when memory matters more,
 *   with what it saves and what it costs in time.
 * - "Within noise": the 95% bootstrap interval of the ratio of the two medians (stats.ts)
 *   holds 1. With one timed run each there is no interval, and time differences under 10% are
 *   not told apart.
 * - Under --verify the times are the painting's and checking's, not the allocators': the
 *   advice is on footprint alone.
 */

import type { ReplayRow } from "./format.js";
import { fmtBytes } from "./format.js";
import { bootstrap } from "./stats.js";

/** A footprint bound: more than this × the tightest is set aside. */
const MEMORY_BOUND = 1.25;
/** Footprints within this fraction of each other are equal for the advice. */
const SAME_FOOTPRINT = 0.01;
/** Without an interval (one run each), time ratios within this of 1 are noise. */
const ONE_RUN_NOISE = 0.1;

export interface Advice {
  /** The allocator to choose, or null (a tie, or none replayed the trace). */
  readonly choice: ReplayRow | null;
  readonly lines: readonly string[];
}

interface Ok {
  readonly row: ReplayRow;
  readonly ns: number;
  readonly fp: number;
  readonly bytes: number;
  readonly samples: readonly number[];
}

/**
 * `a`'s median time over `b`'s, and the 95% interval of that ratio (null with fewer than two
 * runs of either: then there is no interval).
 */
function timeRatio(a: Ok, b: Ok): { ratio: number; interval: [number, number] | null } {
  const interval =
    a.samples.length >= 2 && b.samples.length >= 2
      ? bootstrap([[a.samples], [b.samples]], (x, y) => x / y)
      : null;
  return { ratio: a.ns / b.ns, interval };
}

/** How `a`'s time compares with `b`'s: "faster", "slower" or "noise". */
export function compareTime(a: Ok, b: Ok): "faster" | "slower" | "noise" {
  const { ratio, interval } = timeRatio(a, b);
  const [lo, hi] = interval ?? [ratio, ratio];
  const slack = interval === null ? ONE_RUN_NOISE : 0;
  if (hi < 1 - slack) return "faster";
  if (lo > 1 + slack) return "slower";
  return "noise";
}

/**
 * Why `slow` and `fast` (the slower and the faster by median) are not told apart in time:
 * their ratio with its interval, and what would settle it.
 */
function untold(slow: Ok, fast: Ok): string {
  const { ratio, interval } = timeRatio(slow, fast);
  const runs = Math.min(slow.samples.length, fast.samples.length);
  const what = `${slow.row.name} took ${ratio.toFixed(2)}× ${fast.row.name}'s time`;
  if (interval === null) {
    return `${what} in one timed run each, which cannot tell a difference under 10% from noise`;
  }
  const [lo, hi] = interval;
  return (
    `${what}, but from ${runs} timed runs each the 95% interval of that ratio is ` +
    `${lo.toFixed(2)}–${hi.toFixed(2)}, which holds 1: more runs are needed to tell them apart`
  );
}

const ns = (o: Ok): string => `${o.ns.toFixed(1)} ns/op`;
const fpText = (o: Ok): string => `footprint ${o.fp.toFixed(3)}× the peak live bytes`;
const names = (os: readonly Ok[]): string => os.map((o) => o.row.name).join(", ");

/** The advice for these rows; `verify`: the times are not the allocators'. */
export function advise(rows: readonly ReplayRow[], verify = false): Advice {
  const ok: Ok[] = rows
    .filter((r) => r.result !== null && r.result.failures === 0)
    .map((r) => ({
      row: r,
      ns: r.result?.nsPerOp ?? Number.NaN,
      fp: r.result?.footprintRatio ?? Number.NaN,
      bytes: r.result?.peakFootprint ?? 0,
      samples: r.samples ?? [],
    }));
  const failed = rows.filter((r) => r.result === null || r.result.failures > 0);
  const tail =
    failed.length > 0
      ? [`Not considered (failed allocations or errors): ${failed.map((r) => r.name).join(", ")}.`]
      : [];
  if (ok.length === 0)
    return { choice: null, lines: ["No allocator replayed the whole trace.", ...tail] };
  const byFp = [...ok].sort((a, b) => a.fp - b.fp);
  const tightest = byFp[0];
  const sameFp = (a: Ok, b: Ok): boolean => Math.abs(a.fp - b.fp) <= SAME_FOOTPRINT * b.fp;

  if (verify || ok.some((o) => Number.isNaN(o.ns))) {
    const tied = byFp.filter((o) => sameFp(o, tightest));
    const lines = [
      "--verify paints and checks every block, so the times are not the allocators' own: " +
        "no advice on speed (run without --verify for that).",
      tied.length > 1
        ? `Tightest, tied within 1%: ${names(tied)} (${fpText(tightest)}).`
        : `Tightest: ${tightest.row.name} (${tightest.row.label}), ${fpText(tightest)}.`,
    ];
    return { choice: tied.length > 1 ? null : tightest.row, lines: [...lines, ...tail] };
  }

  const lines: string[] = [];
  const bounded = ok.filter((o) => o.fp <= MEMORY_BOUND * tightest.fp);
  const fastest = [...bounded].sort((a, b) => a.ns - b.ns)[0];
  const front = bounded.filter((o) => o === fastest || compareTime(o, fastest) === "noise");
  const best = [...front].sort((a, b) => a.fp - b.fp)[0];
  const tied = front.filter((o) => sameFp(o, best));
  let choice: ReplayRow | null = null;
  if (tied.length > 1) {
    const byNs = [...tied].sort((a, b) => a.ns - b.ns);
    lines.push(
      `No winner between ${names(tied)}: their footprints are within 1% of each other and ` +
        `their times (${tied.map(ns).join(", ")}) are within noise (${untold(byNs[byNs.length - 1], byNs[0])}). ` +
        `On this evidence ${tied.length > 2 ? "any of them" : "either"} serves this trace.`,
    );
  } else {
    choice = best.row;
    const others = front.filter((o) => o !== best);
    lines.push(
      `Choose ${best.row.name} (${best.row.label}): ${ns(best)}, ${fpText(best)}` +
        (others.length > 0
          ? `; ${names(others)} ${others.length > 1 ? "are" : "is"} as fast within noise with a larger footprint.`
          : tight(best, tightest)
            ? "; the fastest and the tightest."
            : "; the fastest within 1.25× the tightest footprint."),
    );
  }
  const aside = ok.filter((o) => !bounded.includes(o) && compareTime(o, best) === "faster");
  for (const o of aside) {
    lines.push(
      `${o.row.name} is faster (${ns(o)}) but its footprint is ${(o.fp / tightest.fp).toFixed(2)}× ` +
        "the tightest: only where memory is plentiful.",
    );
  }
  if (!tied.includes(tightest) && !sameFp(best, tightest)) {
    const t = compareTime(tightest, best);
    const cost =
      t === "noise"
        ? "in the same time within noise"
        : `at ${(tightest.ns / best.ns).toFixed(2)}× the time`;
    lines.push(
      `When memory matters more: ${tightest.row.name} (${fpText(tightest)}) saves ` +
        `${fmtBytes(Math.max(0, best.bytes - tightest.bytes))} at the peak ${cost}.`,
    );
  }
  if (ok.some((o) => o.samples.length < 2)) {
    lines.push("(One timed run each: time differences under 10% are not told apart.)");
  }
  return { choice, lines: [...lines, ...tail] };
}

function tight(a: Ok, tightest: Ok): boolean {
  return a === tightest || Math.abs(a.fp - tightest.fp) <= SAME_FOOTPRINT * tightest.fp;
}
