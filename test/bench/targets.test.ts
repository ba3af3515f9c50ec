// The statistics (src/cli/stats.ts, which the benchmark and `memkit replay` share) and the
// benchmark's target verdicts (bench/targets.mjs) on made-up samples: nothing is timed here.

import { describe, expect, it, vi } from "vitest";
// @ts-expect-error plain JS module without types
import { computeTargets } from "../../bench/targets.mjs";
import { bootstrap, spread, verdict } from "../../src/cli/stats.js";

// bench/stats.mjs loads the statistics from the build (dist/); here, from the sources.
vi.mock("../../bench/stats.mjs", () => import("../../src/cli/stats.js"));

/** A results row with runs around `ns` (raw ns/op), as bench/results.mjs writes it. */
function row(workload: string, key: string, ns: number[], extra: object = {}) {
  const med = [...ns].sort((a, b) => a - b)[ns.length >> 1];
  return {
    workload,
    suite: "workload",
    key,
    row: key,
    short: key,
    group: key === "baseline" ? "baseline" : "memkit",
    rawNsPerOp: med,
    netNsPerOp: med - 10,
    samples: ns,
    groups: [ns],
    baseline: key === "baseline" ? null : "baseline",
    ...extra,
  };
}

describe("bench statistics", () => {
  it("spread gives min, quartiles, median, max", () => {
    expect(spread([5, 1, 3, 2, 4])).toEqual({ min: 1, q1: 2, median: 3, q3: 4, max: 5 });
    expect(spread([])).toBeNull();
  });

  it("a verdict is noise when the interval holds the goal", () => {
    expect(verdict(0.95, [0.9, 1.1], 1, "lower")).toBe("noise");
    expect(verdict(0.7, [0.5, 0.8], 1, "lower")).toBe("met");
    expect(verdict(1.3, [1.2, 1.5], 1, "lower")).toBe("missed");
    expect(verdict(2.5, [2.1, 2.9], 2, "higher")).toBe("met");
    expect(verdict(1.3, null, 1, "lower")).toBe("missed");
  });

  it("the bootstrap interval holds the ratio of medians and widens with the spread", () => {
    const ratio = (a: number, b: number) => a / b;
    const tight = bootstrap([[[20, 20.1, 19.9, 20, 20.2]], [[10, 10.1, 9.9, 10, 10]]], ratio);
    const wide = bootstrap([[[12, 20, 30, 16, 25]], [[10, 10.1, 9.9, 10, 10]]], ratio);
    if (tight === null || wide === null) throw new Error("no interval");
    expect(tight[0]).toBeLessThanOrEqual(2);
    expect(tight[1]).toBeGreaterThanOrEqual(2);
    expect(tight[1] - tight[0]).toBeLessThan(0.1);
    expect(wide[1] - wide[0]).toBeGreaterThan(0.5);
    expect(bootstrap([[[20]], [[10, 11]]], ratio)).toBeNull();
  });
});

describe("bench targets", () => {
  const base = row("W1", "baseline", [10, 10, 10, 10, 10]);
  const find = (ts: { id: string }[], id: string) =>
    ts.find((t) => t.id === id) as never as {
      verdict: string;
      value: number;
      missedBy: string | null;
    };

  it("decides a clear ratio, calls an overlapping one noise, and lists what did not run", () => {
    const clear = computeTargets(
      [
        base,
        row("W1", "heap", [30, 31, 29, 30, 30]), // net 20
        row("W1", "as", [60, 61, 59, 60, 62], { group: "peer" }), // net 50: 2.5× the Heap
        row("W1", "tlsf", [30, 30, 30, 31, 30]),
        row("W1", "slab", [29, 31, 30, 30, 31]), // as fast as TLSF: within noise of 1.0
      ],
      [],
    );
    expect(find(clear, "W1-heap-as").verdict).toBe("met");
    expect(find(clear, "W1-heap-as").value).toBeCloseTo(2.5, 5);
    expect(find(clear, "W1-slab-speed").verdict).toBe("noise");
    expect(find(clear, "W1-slab-speed").missedBy).toMatch(/within noise/);
    expect(find(clear, "W2-pool").verdict).toBe("unmeasured");
    expect(find(clear, "shared-2v1").verdict).toBe("unmeasured");
  });

  it("says by how much a footprint misses", () => {
    const t = computeTargets(
      [base, row("W1", "heap", [30, 30, 30], { footprintRatio: 1.152 })],
      [],
    );
    expect(find(t, "W1-heap-footprint").verdict).toBe("missed");
    expect(find(t, "W1-heap-footprint").missedBy).toBe("0.052 over");
  });
});
