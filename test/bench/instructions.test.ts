import { describe, expect, it, vi } from "vitest";
// @ts-expect-error: a plain .mjs module of the benchmark, without types
import * as instructions from "../../bench/instructions.mjs";
// @ts-expect-error: a plain .mjs module of the benchmark, without types
import { countedClause, floorClause } from "../../bench/notes.mjs";

const { cachegrindTotals, extraRunsFor, MIN_COUNTED_OPS, perOp } = instructions;

// bench/notes.mjs loads the bench's rows, which load the library from the build (dist/); here,
// from the sources.
vi.mock("../../bench/lib.mjs", async () => ({
  mk: await import("../../src/index.js"),
  configurations: (await import("../../src/registry.js")).configurations,
  traceAllocator: (await import("../../src/cli/allocators.js")).traceAllocator,
}));

const OUT = `desc: I1 cache:         32768 B, 64 B, 8-way associative
cmd: node child.mjs
events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw
fl=x.js
fn=f
1 5 0 0 2 1 0 1 0 0
summary: 1000 10 2 400 30 5 200 20 3
`;

describe("bench/instructions.mjs", () => {
  it("reads cachegrind's totals by the names of its columns", () => {
    expect(cachegrindTotals(OUT)).toEqual({ I: 1000, D1: 50, LL: 8 });
  });

  it("refuses a file without an events line that matches the summary", () => {
    expect(() => cachegrindTotals("summary: 1 2 3\n")).toThrow(/not a cachegrind output/);
    expect(() => cachegrindTotals("events: Ir D1mr\nsummary: 1\n")).toThrow(/not a cachegrind/);
  });

  it("counts only the work of the extra runs, per op", () => {
    const few = { I: 5_000, D1: 100, LL: 10 };
    const many = { I: 9_000, D1: 300, LL: 14 };
    expect(perOp(few, many, 100)).toEqual({ I: 20, D1: 1, LL: 0.02 });
    expect(perOp(few, many, 100, 4)).toEqual({ I: 10, D1: 0.5, LL: 0.01 });
  });

  it("counts at least a million operations: 2 runs more, or more for short runs", () => {
    expect(extraRunsFor(2_000_000)).toBe(2); // W1, W2
    expect(extraRunsFor(976_402)).toBe(2); // a trace just under a million: 2 runs are enough
    expect(extraRunsFor(400_000)).toBe(3);
    expect(extraRunsFor(40_000)).toBe(25); // W4
    expect(extraRunsFor(40_000) * 40_000).toBeGreaterThanOrEqual(MIN_COUNTED_OPS);
  });
});

describe("bench/notes.mjs: the counts beside the Heap's speed targets", () => {
  const counts = {
    commit: "abc1234",
    rows: [
      { id: "W1", key: "heap", I: 499.4, D1: 3.22 },
      { id: "W1", key: "as", I: 301, D1: 2.5 },
      { id: "W1", key: "baseline", I: 82, D1: 1.89 },
      { id: "W2", key: "heap", I: 361, D1: 0.36 },
    ],
  };

  it("names the Heap's figures and, where counted, AssemblyScript's and the empty loop's", () => {
    expect(countedClause("W1", counts)).toBe(
      " Counted under valgrind (bench/results/instructions.md, commit abc1234): on W1 the Heap " +
        "executes 499 instructions and takes 3.2 L1 data misses per op, AssemblyScript's TLSF " +
        "301 and 2.5, the empty loop 82 and 1.9.",
    );
    expect(countedClause("W2", counts)).toMatch(
      /on W2 the Heap executes 361 instructions and takes 0.4 L1 data misses per op\.$/,
    );
  });

  it("says nothing for a workload without a count of the Heap", () => {
    expect(countedClause("W3", counts)).toBe("");
    expect(countedClause("W1", null)).toBe("");
  });
});

describe("bench/notes.mjs: the floor beside a missed footprint target", () => {
  const floors = { sizeWord: 1.137, bare: 1.063 };

  it("says when the goal is under the floor of the allocator's block layout", () => {
    const t = { value: 1.271, goalValue: 1.1 };
    const text = floorClause(t, floors, false, "the Heap's");
    expect(text).toMatch(
      /^the Heap's blocks \(a 4-byte size word each, rounded up to its alignment\)/,
    );
    expect(text).toContain("cannot end below 1.137× the peak live bytes");
    expect(text).toContain(
      "out of reach for this block layout, and 0.134 of the 1.271 is placement",
    );
    expect(text).toContain("have a floor of 1.063 here");
  });

  it("otherwise splits the goal's room between the layout and the placement", () => {
    const t = { value: 1.125, goalValue: 1.1 };
    const text = floorClause(
      t,
      { sizeWord: 1.017, bare: 1.008 },
      true,
      "the offset-only allocator's",
    );
    expect(text).toContain("(no header, each rounded up to its alignment) cannot end below 1.008×");
    expect(text).toContain("so 0.092 of the goal is left to the placement; 0.117 of the 1.125");
    expect(text).not.toContain("out of reach");
  });
});
