/** Arrays of structs: contiguous, growable as a vector, accessors that follow the vector. */

import fc from "fast-check";
import { describe, expect, expectTypeOf, it } from "vitest";
import { StaleViewError } from "../../src/core/errors.js";
import { Heap } from "../../src/heap/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import type { StructRef } from "../../src/typed/ref.js";
import { array, type StructType, struct } from "../../src/typed/struct.js";
import { StructVec } from "../../src/typed/struct-vec.js";
import { FailingAllocator, SUBJECTS, sameSnapshot, snapshot, unchanged } from "./subjects.js";

const Point = struct({ x: "f64", y: "f64", tag: "u8" }, "Point");
const Item = struct({ id: "u32", rgba: array("u8", 4), w: "i64" }, "Item");

describe.each(SUBJECTS)("StructVec over $name", (subject) => {
  it("pushes, reads, writes, pops; elements lie contiguously at the struct's stride", () => {
    const a = subject.make();
    const base = a.stats().liveBlocks;
    const v = new StructVec(Point, a);
    const n = subject.maxBlock === undefined ? 100 : Math.floor(subject.maxBlock / Point.size);
    for (let i = 0; i < n; i++) expect(v.push({ x: i, y: -i, tag: i & 0xff })).toBe(true);
    expect(v.length).toBe(n);
    expect(v.get(3)).toEqual({ x: 3, y: -3, tag: 3 });
    // The bytes are an array of the C struct: element i at ptr + i × 24.
    expect(Point.read(v.ptr + 5 * Point.size, a)).toEqual({ x: 5, y: -5, tag: 5 });
    v.set(2, { y: 100 });
    expect(v.get(2)).toEqual({ x: 2, y: 100, tag: 2 });
    v.at(-1)!.x = 0.5;
    expect(v.pop()).toEqual({ x: 0.5, y: -(n - 1), tag: (n - 1) & 0xff });
    const x = v.reader("x");
    const setX = v.writer("x");
    for (let i = 0; i < v.length; i++) setX(i, x(i) * 2);
    expect(v.toArray().map((p) => p.x)).toEqual(Array.from({ length: n - 1 }, (_, i) => i * 2));
    expect([...v].map((r) => r.tag)).toEqual(Array.from({ length: n - 1 }, (_, i) => i & 0xff));
    a.check();
    v.free();
    expect(a.stats().liveBlocks).toBe(base);
  });
});

describe("StructVec", () => {
  it("is typed from its struct", () => {
    const v = new StructVec(Item);
    v.push({ id: 1, rgba: [1, 2, 3, 4], w: -1n });
    expectTypeOf(v.get(0)).toEqualTypeOf<{ id: number; rgba: number[]; w: bigint }>();
    type ItemFields = typeof Item extends StructType<infer F> ? F : never;
    expectTypeOf(v.at(0)).toEqualTypeOf<StructRef<ItemFields> | undefined>();
    expectTypeOf(v.at(0)!.w).toEqualTypeOf<bigint>();
    expectTypeOf(v.at(0)!.rgba).toEqualTypeOf<Uint8Array>();
    expectTypeOf(v.reader("w")).toEqualTypeOf<(index: number) => bigint>();
    expect(v.at(0)!.rgba).toEqual(new Uint8Array([1, 2, 3, 4]));
    v.free();
  });

  it("an accessor follows its element when the vector grows and moves, and knows when it is gone", () => {
    const heap = new Heap({ initialBytes: 65536 });
    const v = new StructVec(Point, heap);
    v.push({ x: 1 });
    const first = v.at(0)!;
    const ptr = v.ptr;
    heap.alloc(64); // a live block right after: growth must move the vector
    for (let i = 0; i < 5000; i++) v.push({ x: i }); // 120 KB: the memory grows too
    expect(v.ptr).not.toBe(ptr);
    expect(first.x).toBe(1);
    first.y = 7;
    expect(v.get(0).y).toBe(7);
    const last = v.at(-1)!;
    v.truncate(10);
    expect(() => last.x).toThrow(StaleViewError);
    expect(() => last.x).toThrow(expect.objectContaining({ code: "ERR_STALE_VIEW" }));
    v.free();
    expect(() => first.x).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
    expect(() => v.push({})).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
  });

  it("bad input changes nothing", () => {
    const tlsf = new TlsfAllocator(8192);
    const v = new StructVec(Item, tlsf);
    v.push({ id: 1 });
    const before = snapshot(tlsf);
    const calls: [() => unknown, string][] = [
      [() => v.push({ id: -1 }), "ERR_ELEMENT_RANGE"],
      [() => v.push({ rgba: [1, 2] }), "ERR_ELEMENT_TYPE"],
      [() => v.push({ idd: 1 } as never), "ERR_UNKNOWN_FIELD"],
      [() => v.extend([{ id: 2 }, { w: 1 as never }]), "ERR_ELEMENT_TYPE"],
      [() => v.set(1, { id: 2 }), "ERR_INDEX"],
      [() => v.get(-1), "ERR_INDEX"],
      [() => v.get("0" as never), "ERR_INDEX"],
      [() => v.at(1.5), "ERR_INDEX"],
      [() => v.writer("id")(0, 1.5), "ERR_ELEMENT_RANGE"],
      [() => v.reader("id")(1), "ERR_INDEX"],
      [() => v.reader("rgba" as never), "ERR_ELEMENT_TYPE"],
    ];
    for (const [call, code] of calls) {
      expect(call, String(call)).toThrow(expect.objectContaining({ code }));
      expect(unchanged(tlsf, before)).toBe(true);
    }
    expect(v.toArray()).toEqual([{ id: 1, rgba: [0, 0, 0, 0], w: 0n }]);
  });

  it("matches an array of plain objects, with the allocator failing at random", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom("push", "pop", "set", "shrink", "reserve"),
            x: fc.double({ noNaN: true }),
            at: fc.nat(),
            fail: fc.constantFrom("none", "realloc", "all"),
          }),
          { maxLength: 30 },
        ),
        fc.constantFrom(...SUBJECTS),
        (ops, subject) => {
          const f = new FailingAllocator(subject.make());
          const v = new StructVec(Point, f);
          const model: { x: number; y: number; tag: number }[] = [];
          for (const o of ops) {
            f.fail = (k) => o.fail === "all" || (o.fail === "realloc" && k === "realloc");
            const before = o.fail === "all" ? snapshot(f) : null;
            let ok = true;
            if (o.op === "push") {
              ok = v.push({ x: o.x, tag: o.at & 0xff });
              if (ok) model.push({ x: o.x, y: 0, tag: o.at & 0xff });
            } else if (o.op === "pop") {
              expect(v.pop()).toEqual(model.pop());
            } else if (o.op === "set" && model.length > 0) {
              v.set(o.at % model.length, { y: o.x });
              model[o.at % model.length].y = o.x;
            } else if (o.op === "shrink") {
              v.shrinkToFit();
            } else if (o.op === "reserve") {
              ok = v.reserve(o.at % 20);
            }
            if (!ok) {
              if (subject.maxBlock === undefined) expect(o.fail).toBe("all");
              if (before !== null) expect(sameSnapshot(snapshot(f), before)).toBe(true);
            }
            expect(v.toArray()).toEqual(model);
            f.check();
          }
          f.fail = () => false;
          v.free();
          f.check();
        },
      ),
      { numRuns: Number(process.env.MEMKIT_RUNS ?? 100) },
    );
  });
});
