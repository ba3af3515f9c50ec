/**
 * Statistics of timed runs, shared by the benchmark (bench/) and `memkit replay`: quantiles of
 * a row's runs, and the spread of a ratio or difference of two rows' medians.
 *
 * A row's samples are ns/op of its timed runs, grouped by the process that ran them: the
 * code V8 compiles for a loop differs a little from one process to the next, so runs of one
 * process are not independent draws. The spread of a comparison is a two-level bootstrap of
 * the medians: resample the processes with replacement, then the runs within each; recompute
 * the figure; the interval holds the central 95% of 2,000 resamples. It answers "how far
 * could the figure move if the run were repeated on the same machine", which is what deciding
 * a target (or naming a winner) needs; the min–max shown beside every median answers "how
 * much did single runs vary". Pure functions.
 */

/** The q-quantile of sorted numbers, linearly interpolated (q in 0..1). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

export function median(xs: readonly number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

/** min, q1, median, q3, max of a row's samples. */
export interface Spread {
  readonly min: number;
  readonly q1: number;
  readonly median: number;
  readonly q3: number;
  readonly max: number;
}

/** min, q1, median, q3, max of `xs`; null for no samples. */
export function spread(xs: readonly number[]): Spread | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return {
    min: s[0],
    q1: quantile(s, 0.25),
    median: quantile(s, 0.5),
    q3: quantile(s, 0.75),
    max: s[s.length - 1],
  };
}

/** The same spread moved by `-d` (raw → net: every quantile less the baseline's median). */
export function shift(s: Spread | null, d: number): Spread | null {
  if (s === null) return null;
  return { min: s.min - d, q1: s.q1 - d, median: s.median - d, q3: s.q3 - d, max: s.max - d };
}

/** xorshift32 from a fixed seed: the bootstrap gives the same interval on every render. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** One resample of groups of samples (two levels when there are several groups). */
function resampleMedian(groups: readonly (readonly number[])[], rand: () => number): number {
  const out: number[] = [];
  if (groups.length === 1) {
    const g = groups[0];
    for (let i = 0; i < g.length; i++) out.push(g[Math.floor(rand() * g.length)]);
  } else {
    for (let k = 0; k < groups.length; k++) {
      const g = groups[Math.floor(rand() * groups.length)];
      for (let i = 0; i < g.length; i++) out.push(g[Math.floor(rand() * g.length)]);
    }
  }
  return median(out);
}

const RESAMPLES = 2000;

/**
 * The 95% interval of `f(m1, m2, …)` where m_i is the median of `samples[i]` (each an array
 * of groups of samples, one group per process). Returns [low, high], or null when any input
 * has fewer than two samples.
 */
export function bootstrap(
  samples: readonly (readonly (readonly number[])[])[],
  f: (...medians: number[]) => number,
): [number, number] | null {
  const inputs = samples.map((groups) => groups.filter((g) => g.length > 0));
  // One run says nothing about the spread: no interval.
  if (inputs.some((groups) => groups.reduce((n, g) => n + g.length, 0) < 2)) return null;
  const rand = prng(0x9e3779b9);
  const values: number[] = [];
  for (let r = 0; r < RESAMPLES; r++) {
    const v = f(...inputs.map((g) => resampleMedian(g, rand)));
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length < RESAMPLES / 2) return null;
  values.sort((a, b) => a - b);
  return [quantile(values, 0.025), quantile(values, 0.975)];
}

/**
 * The verdict on a figure with an interval against a goal: met, missed, or "noise" when the
 * interval holds values on both sides of the goal. `better` is "lower" or "higher".
 */
export type Verdict = "met" | "missed" | "noise";

export function verdict(
  value: number,
  interval: readonly number[] | null,
  goal: number,
  better: "lower" | "higher",
): Verdict {
  const ok = (v: number): boolean => (better === "lower" ? v <= goal : v >= goal);
  if (interval === null) return ok(value) ? "met" : "missed";
  const [lo, hi] = interval;
  if (ok(lo) && ok(hi)) return "met";
  if (!ok(lo) && !ok(hi)) return "missed";
  return "noise";
}
