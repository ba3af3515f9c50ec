/**
 * Property test: a `Vec` against a plain array model, over every allocator, with the
 * allocator failing at random (fault injection: its `realloc` alone, so growth must fall back
 * to alloc-copy-free, or every allocation). After every step the vector holds exactly
 * the model's elements; a call that answered false (out of memory) changed neither the
 * vector nor a byte of the allocator; the allocator's own `check()` passes; and at the end
 * freeing the vector gives back every block it took.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Vec } from "../../src/typed/vec.js";
import { FailingAllocator, SUBJECTS, sameSnapshot, snapshot } from "./subjects.js";

type Op =
  | { op: "push"; x: number; fail: Fail }
  | { op: "pop" }
  | { op: "set"; at: number; x: number }
  | { op: "reserve"; n: number; fail: Fail }
  | { op: "extend"; xs: number[]; fail: Fail }
  | { op: "shrinkToFit"; fail: Fail }
  | { op: "truncate"; at: number }
  | { op: "clear" };

const value = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
/** How the allocator fails during the call: not at all, its `realloc` only, or every allocation. */
type Fail = "none" | "realloc" | "all";
const fail = fc.constantFrom<Fail>("none", "none", "realloc", "all");
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant("push" as const), x: value, fail }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant("pop" as const) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("set" as const), at: fc.nat(), x: value }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant("reserve" as const), n: fc.nat(40), fail }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("extend" as const),
      xs: fc.array(value, { maxLength: 12 }),
      fail,
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant("shrinkToFit" as const), fail }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("truncate" as const), at: fc.nat(40) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("clear" as const) }), weight: 1 },
);

const RUNS = Number(process.env.MEMKIT_RUNS ?? 60);

describe.each(SUBJECTS)("Vec model over $name", (subject) => {
  it("matches a plain array, and a failed growth changes nothing", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const f = new FailingAllocator(subject.make());
        const base = f.stats().liveBlocks;
        const v = new Vec(Int32Array, f);
        const model: number[] = [];
        for (const o of ops) {
          const failing: Fail = "fail" in o ? o.fail : "none";
          f.fail = (kind) => failing === "all" || (failing === "realloc" && kind === "realloc");
          const before = failing === "all" ? snapshot(f) : null;
          const was = { ptr: v.ptr, capacity: v.capacity };
          let ok = true;
          switch (o.op) {
            case "push":
              ok = v.push(o.x);
              if (ok) model.push(o.x);
              break;
            case "pop":
              expect(v.pop()).toBe(model.pop());
              break;
            case "set":
              if (model.length > 0) {
                v.set(o.at % model.length, o.x);
                model[o.at % model.length] = o.x;
              }
              break;
            case "reserve":
              ok = v.reserve(o.n);
              if (ok) expect(v.capacity).toBeGreaterThanOrEqual(model.length + o.n);
              break;
            case "extend":
              ok = v.extend(o.xs);
              if (ok) model.push(...o.xs);
              break;
            case "shrinkToFit":
              v.shrinkToFit();
              expect(v.capacity).toBeGreaterThanOrEqual(model.length);
              break;
            case "truncate":
              v.truncate(o.at);
              model.length = Math.min(model.length, o.at);
              break;
            case "clear":
              v.clear();
              model.length = 0;
              break;
          }
          if (!ok) {
            // Out of memory: only a growth that was needed can fail, and it changed nothing.
            // (Or the block reached a pool's block size: then nothing failed on purpose.)
            if (subject.maxBlock === undefined) expect(failing).toBe("all");
            if (before !== null) expect(sameSnapshot(snapshot(f), before)).toBe(true);
            expect({ ptr: v.ptr, capacity: v.capacity }).toEqual(was);
          }
          f.failures = 0;
          expect(v.length).toBe(model.length);
          expect(v.capacity).toBeGreaterThanOrEqual(v.length);
          expect(v.toArray()).toEqual(model);
          expect(Array.from(v.view)).toEqual(model);
          f.check();
        }
        f.fail = () => false;
        v.free();
        if (subject.freesOnlyNewest) expect(f.stats().liveBlocks).toBeGreaterThanOrEqual(base);
        else expect(f.stats().liveBlocks).toBe(base);
        f.check();
      }),
      { numRuns: RUNS },
    );
  });
});
