import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs module of the benchmark, without types
import { cachegrindTotals, perOp } from "../../bench/instructions.mjs";

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
  });
});
