/**
 * What is special to StackAllocator (the shared kit covers the contract), part 1: the seeds'
 * example with the seed's second-pop bug fixed, LIFO-only freeing with ERR_NOT_TOP vs
 * ERR_INVALID_POINTER, pop, the top-aware realloc and markers. heap.test.ts: zeroing above
 * the high-water mark, the heap walker, growth, attaching and stats.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../../src/core/errors.js";
import { Layout } from "../../../src/core/layout.js";
import { StackAllocator } from "../../../src/strategies/stack/index.js";
import { DS, expectRejected, HDR, headerWords, snapshot } from "./helpers.js";

describe("the seeds' example (Vais docs, example 5)", () => {
  it("places a1, a2, a3 after 8-byte headers, pops them one by one, and resets", () => {
    const stack = new StackAllocator(2048);
    const a1 = stack.allocate(Layout.i64)!;
    const a2 = stack.allocate(Layout.i32)!;
    const a3 = stack.allocate(Layout.ptr)!; // our pointers are 4 bytes (wasm32)
    expect([a1.ptr - DS, a2.ptr - DS, a3.ptr - DS]).toEqual([8, 24, 40]);
    expect([a1.size, a2.size, a3.size]).toEqual([8, 4, 4]);
    expect(stack.marker() - DS).toBe(44);
    expect(stack.remaining()).toBe(2004);
    expect(headerWords(stack, a3.ptr)).toEqual({ prev: a2.ptr, size: 4 });
    expect(headerWords(stack, a1.ptr)).toEqual({ prev: 0, size: 8 });

    expect(stack.pop()).toBe(a3.ptr); // "Pop most recent (a3)"
    expect(stack.marker() - DS).toBe(28); // end of a2
    expect(stack.pop()).toBe(a2.ptr); // "Pop next (a2)": the seed's pop left the top at 28
    expect(stack.marker() - DS).toBe(16); // end of a1
    expect(stack.remaining()).toBe(2032);
    expect(stack.stats().liveBlocks).toBe(1);
    stack.check();

    stack.reset(); // "Or reset all"
    expect(stack.marker()).toBe(DS);
    expect(stack.remaining()).toBe(2048);
    expect(stack.stats()).toMatchObject({ liveBlocks: 0, inUse: 0, peakInUse: 0 });
    stack.check();
  });

  it("gives the seed's derived numbers with 8-byte pointers (Layout.u64 as the seed's ptr)", () => {
    const stack = new StackAllocator(2048);
    const ptrs = [Layout.i64, Layout.i32, Layout.u64].map((l) => stack.allocate(l)!.ptr - DS);
    expect(ptrs).toEqual([8, 24, 40]);
    expect(stack.marker() - DS).toBe(48);
    expect(stack.remaining()).toBe(2000);
    stack.pop();
    expect(stack.marker() - DS).toBe(28);
    stack.pop();
    expect(stack.marker() - DS).toBe(16);
  });
});

describe("pop and LIFO dealloc", () => {
  it("pop on an empty stack does nothing and returns 0", () => {
    const stack = new StackAllocator(256);
    const before = stack.metadataBytes();
    expect(stack.pop()).toBe(0);
    expect(stack.metadataBytes()).toEqual(before);
    const p = stack.alloc(8);
    expect(stack.pop()).toBe(p);
    expect(stack.pop()).toBe(0);
    stack.check();
  });

  it("every pop restores the top exactly as it was before that block was pushed", () => {
    const stack = new StackAllocator(4096);
    const sizes = [1, 0, 13, 64, 7, 0, 100, 3];
    const aligns = [8, 16, 1, 64, 8, 256, 32, 8];
    const tops: number[] = [];
    const ptrs: number[] = [];
    for (let i = 0; i < sizes.length; i++) {
      tops.push(stack.marker());
      const p = stack.alloc(sizes[i], aligns[i]);
      expect(p % Math.max(aligns[i], 8)).toBe(0);
      expect(p - HDR).toBeGreaterThanOrEqual(tops[i]);
      ptrs.push(p);
    }
    for (let i = sizes.length - 1; i >= 0; i--) {
      expect(stack.pop()).toBe(ptrs[i]);
      expect(stack.marker()).toBe(tops[i]);
      stack.check();
    }
  });

  it("alloc(0) gives distinct pointers, each with its own header", () => {
    const stack = new StackAllocator(64);
    const p = stack.alloc(0);
    const q = stack.alloc(0);
    expect(q).toBe(p + HDR);
    expect(stack.usableSize(p)).toBe(0);
    expect(stack.usableSize(q)).toBe(0);
    stack.dealloc(q);
    stack.dealloc(p);
    expect(stack.marker()).toBe(DS);
  });

  it("an empty block never starts at the end of the region", () => {
    const stack = new StackAllocator(16);
    expect(stack.alloc(0)).toBe(DS + 8);
    expect(stack.alloc(0)).toBe(0); // would start at END: not owned, so out of memory
    expect(stack.alloc(8)).toBe(0);
    stack.check();
  });

  it("dealloc of a live block below the top throws ERR_NOT_TOP and changes nothing", () => {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(32);
    const b = stack.alloc(32);
    const c = stack.alloc(32);
    expectRejected(stack, () => stack.dealloc(a), InvalidPointerError, "ERR_NOT_TOP");
    expectRejected(stack, () => stack.dealloc(b, 32), InvalidPointerError, "ERR_NOT_TOP");
    stack.dealloc(c);
    stack.dealloc(b, 32);
    stack.dealloc(a);
    expect(stack.stats().liveBlocks).toBe(0);
  });

  it("a pointer that is not a live block start is ERR_INVALID_POINTER", () => {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(32);
    const b = stack.alloc(32);
    const bad = [
      a + 8, // interior of a block below the top
      b + 8, // interior of the top block
      b + 1, // misaligned
      b + 64, // above the top
      DS, // the first block's header
      DS - 8, // the allocator's header
      8,
      stack.memory.end + 8,
      -8,
      Number.NaN,
      1.5,
      2 ** 32 + b,
    ];
    for (const p of bad) {
      expectRejected(stack, () => stack.dealloc(p), InvalidPointerError, "ERR_INVALID_POINTER");
      expectRejected(stack, () => stack.usableSize(p), InvalidPointerError, "ERR_INVALID_POINTER");
      expectRejected(stack, () => stack.realloc(p, 8), InvalidPointerError, "ERR_INVALID_POINTER");
    }
    expectRejected(stack, () => stack.dealloc("40" as unknown as number), ArgumentTypeError);
    expectRejected(stack, () => stack.dealloc(40n as unknown as number), ArgumentTypeError);
    stack.check();
  });

  it("freeing a popped block again is InvalidPointerError, not DoubleFreeError", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(8);
    const b = stack.alloc(8);
    stack.dealloc(b);
    expectRejected(stack, () => stack.dealloc(b), InvalidPointerError, "ERR_INVALID_POINTER");
    // Still caught after a later block (with a stricter alignment) moved the top above it.
    const c = stack.alloc(8, 64);
    expect(c).toBeGreaterThan(b);
    let thrown: unknown;
    try {
      stack.dealloc(b);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(InvalidPointerError);
    expect(thrown).not.toBeInstanceOf(DoubleFreeError);
    expect((thrown as InvalidPointerError).code).toBe("ERR_INVALID_POINTER");
    // After a reset every old pointer is above the top.
    stack.reset();
    expectRejected(stack, () => stack.dealloc(c), InvalidPointerError, "ERR_INVALID_POINTER");
  });

  it("dealloc(ptr, size) checks the size against the block", () => {
    const stack = new StackAllocator(1024);
    const p = stack.alloc(24);
    expectRejected(stack, () => stack.dealloc(p, 16), LayoutMismatchError);
    expectRejected(stack, () => stack.dealloc(p, 32), LayoutMismatchError);
    expectRejected(stack, () => stack.deallocate(p, Layout.of(25, 8)), LayoutMismatchError);
    stack.deallocate(p, Layout.of(24, 8));
    expect(stack.stats().liveBlocks).toBe(0);
  });
});

describe("realloc", () => {
  it("grows and shrinks the top block in place, keeping its bytes", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(16);
    const p = stack.alloc(8);
    stack.memory.u8.set([1, 2, 3, 4, 5, 6, 7, 8], p);
    expect(stack.realloc(p, 200)).toBe(p);
    expect(stack.marker()).toBe(p + 200);
    expect(stack.usableSize(p)).toBe(200);
    expect([...stack.memory.u8.subarray(p, p + 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(stack.realloc(p, 3)).toBe(p);
    expect(stack.marker()).toBe(p + 3);
    expect(stack.stats().inUse).toBe(16 + 3);
    expect(stack.stats().peakInUse).toBe(16 + 200);
    stack.check();
  });

  it("returns 0 and changes nothing when the top block cannot grow", () => {
    const stack = new StackAllocator(256);
    const p = stack.alloc(100);
    const before = snapshot(stack);
    expect(stack.realloc(p, 249)).toBe(0); // p + 249 > END (p = DS + 8, END = DS + 256)
    expect(Buffer.compare(snapshot(stack).bytes, before.bytes)).toBe(0);
    expect(stack.realloc(p, 248)).toBe(p);
    expect(stack.remaining()).toBe(0);
  });

  it("moves the top block up when a stricter alignment is asked for", () => {
    const stack = new StackAllocator(4096);
    const a = stack.alloc(5);
    const p = stack.alloc(40);
    expect(p % 64).not.toBe(0);
    for (let i = 0; i < 40; i++) stack.memory.u8[p + i] = i + 1;
    const q = stack.realloc(p, 60, 64);
    expect(q % 64).toBe(0);
    expect(q).toBeGreaterThan(p);
    for (let i = 0; i < 40; i++) expect(stack.memory.u8[q + i]).toBe(i + 1);
    expect(headerWords(stack, q)).toEqual({ prev: a, size: 60 });
    expect(stack.stats().liveBlocks).toBe(2);
    stack.check();
    expect(stack.pop()).toBe(q);
    expect(stack.marker()).toBe(a + 5); // the block below is the top again
  });

  it("a block below the top shrinks in place, and any other resize throws ERR_NOT_TOP", () => {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(64);
    const b = stack.alloc(16);
    expectRejected(stack, () => stack.realloc(a, 65), InvalidPointerError, "ERR_NOT_TOP");
    expectRejected(stack, () => stack.realloc(a, 32, 4096), InvalidPointerError, "ERR_NOT_TOP");
    expect(stack.realloc(a, 64)).toBe(a);
    expect(stack.realloc(a, 10)).toBe(a);
    expect(stack.usableSize(a)).toBe(10);
    expect(stack.stats().inUse).toBe(26);
    stack.check();
    stack.dealloc(b);
    expect(stack.marker()).toBe(a + 10); // popping b goes back to a's new end
    stack.check();
  });
});

describe("markers", () => {
  it("rollback frees everything allocated after the marker, in O(blocks freed)", () => {
    const stack = new StackAllocator(2048);
    const a = stack.alloc(24);
    const m1 = stack.marker();
    stack.alloc(8);
    const m2 = stack.marker();
    stack.alloc(100, 64);
    stack.alloc(0);
    stack.rollback(m2);
    expect(stack.marker()).toBe(m2);
    expect(stack.stats().liveBlocks).toBe(2);
    stack.check();
    stack.rollback(m1);
    expect(stack.stats()).toMatchObject({ liveBlocks: 1, inUse: 24 });
    expect(stack.pop()).toBe(a);
    stack.rollback(DS); // the empty stack's marker
    stack.check();
  });

  it("a marker taken right after alloc(0) keeps that empty block", () => {
    const stack = new StackAllocator(256);
    const z = stack.alloc(0);
    const m = stack.marker();
    expect(m).toBe(z);
    stack.alloc(8);
    stack.rollback(m);
    expect(stack.stats().liveBlocks).toBe(1);
    expect(stack.pop()).toBe(z);
  });

  it("a stale or invalid marker throws ERR_STALE_POINTER and changes nothing", () => {
    const stack = new StackAllocator(2048);
    stack.alloc(8);
    const m = stack.marker();
    stack.alloc(16);
    const m2 = stack.marker();
    stack.alloc(32);
    stack.alloc(8);
    // Not a block boundary: the walk frees two blocks in its head before finding out.
    expectRejected(stack, () => stack.rollback(m + 1), InvalidPointerError, "ERR_STALE_POINTER");
    expectRejected(stack, () => stack.rollback(m + 8), InvalidPointerError, "ERR_STALE_POINTER");
    expectRejected(stack, () => stack.rollback(DS - 8), InvalidPointerError, "ERR_STALE_POINTER");
    expectRejected(
      stack,
      () => stack.rollback(stack.marker() + 8),
      InvalidPointerError,
      "ERR_STALE_POINTER",
    );
    stack.rollback(m);
    // m2's blocks were freed: it is above the top now.
    expectRejected(stack, () => stack.rollback(m2), InvalidPointerError, "ERR_STALE_POINTER");
    stack.reset();
    expectRejected(stack, () => stack.rollback(m), InvalidPointerError, "ERR_STALE_POINTER");
    expectRejected(stack, () => stack.rollback(Number.NaN), InvalidPointerError);
    expectRejected(stack, () => stack.rollback("1" as unknown as number), ArgumentTypeError);
    stack.check();
  });

  it("a marker whose offset is a block boundary again is accepted (documented limit)", () => {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(8);
    stack.alloc(8);
    const m = stack.marker();
    stack.pop(); // the top goes below m: m is stale now...
    const c = stack.alloc(8); // ...until a block of the same shape ends exactly at m again
    expect(c + 8).toBe(m);
    stack.rollback(m); // accepted: frees nothing, since nothing lies above m
    expect(stack.stats().liveBlocks).toBe(2);
    const d = stack.alloc(40);
    stack.rollback(m); // frees only d, which is younger than the marker
    expect(stack.stats().liveBlocks).toBe(2);
    expect(stack.marker()).toBe(m);
    expect(() => stack.usableSize(d)).toThrow(InvalidPointerError);
    expect(stack.pop()).toBe(c);
    expect(stack.pop()).toBe(a);
  });

  it("random programs of alloc, pop, marker and rollback follow the model", () => {
    type Op =
      | { op: "alloc"; size: number; align: number }
      | { op: "pop" }
      | { op: "mark" }
      | { op: "rollback"; pick: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant("alloc" as const),
        // Mostly a few sizes, so a stack popped below a marker is often rebuilt to end
        // exactly at it again (the case an offset marker cannot tell from a genuine one).
        size: fc.oneof(fc.constantFrom(0, 8, 16), fc.integer({ min: 0, max: 80 })),
        align: fc.constantFrom(1, 8, 8, 16, 64),
      }),
      fc.record({ op: fc.constant("pop" as const) }),
      fc.record({ op: fc.constant("pop" as const) }),
      fc.record({ op: fc.constant("mark" as const) }),
      fc.record({ op: fc.constant("rollback" as const), pick: fc.nat({ max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const stack = new StackAllocator(4096);
        const live: { ptr: number; size: number; seq: number }[] = [];
        /** A marker, the blocks live when it was taken, and whether the top went below it. */
        const marks: { m: number; seq: number; below: boolean }[] = [];
        let seq = 0;
        const top = () =>
          live.length === 0 ? DS : live[live.length - 1].ptr + live[live.length - 1].size;
        const lowered = () => {
          for (const k of marks) if (top() < k.m) k.below = true;
        };
        for (const o of ops) {
          if (o.op === "alloc") {
            const p = stack.alloc(o.size, o.align);
            if (p !== 0) live.push({ ptr: p, size: o.size, seq: seq++ });
          } else if (o.op === "pop") {
            expect(stack.pop()).toBe(live.pop()?.ptr ?? 0);
            lowered();
          } else if (o.op === "mark") {
            marks.push({ m: stack.marker(), seq, below: false });
          } else if (marks.length > 0) {
            const k = marks[o.pick % marks.length];
            const boundary = k.m === DS || live.some((b) => b.ptr + b.size === k.m);
            if (!k.below) {
              // A genuine marker: exactly the blocks from before it survive.
              stack.rollback(k.m);
              while (live.length > 0 && live[live.length - 1].seq >= k.seq) live.pop();
            } else if (!boundary || k.m > top()) {
              expectRejected(
                stack,
                () => stack.rollback(k.m),
                InvalidPointerError,
                "ERR_STALE_POINTER",
              );
            } else {
              // Popped below, then rebuilt to end exactly there: only blocks above it go,
              // and every one of them is younger than the marker.
              const before = live.length;
              stack.rollback(k.m);
              while (live.length > 0 && live[live.length - 1].ptr - HDR >= k.m) {
                expect(live.pop()!.seq).toBeGreaterThanOrEqual(k.seq);
              }
              expect(live.length).toBeLessThanOrEqual(before);
            }
            lowered();
          }
          expect(stack.marker()).toBe(top());
          expect(stack.stats().liveBlocks).toBe(live.length);
          stack.check();
        }
      }),
      { numRuns: 500, seed: 424242 },
    );
  });
});
