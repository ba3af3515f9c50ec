/**
 * What is special to StackAllocator (the shared kit covers the contract): the seeds' example
 * with the seed's second-pop bug fixed, LIFO-only freeing with ERR_NOT_TOP vs
 * ERR_INVALID_POINTER, pop, markers, the top-aware realloc, zeroing above the high-water
 * mark, the heap walker, growth and attaching.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { COMMON_SLOTS, H_CONFIG } from "../../src/core/header.js";
import { Layout } from "../../src/core/layout.js";
import {
  FixedMemory,
  GrowableMemory,
  type Memory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { instantiateGrowModule } from "../helpers/wasm.js";

/** dataStart of a stack made with `new StackAllocator(capacity)`: right after its header. */
const DS = StackAllocator.metadataSize;
const HDR = StackAllocator.blockHeaderSize;
/** Header slots LIVE and INUSE, and the words PREV/SIZE inside a block header (white-box corruption tests). */
const LIVE_SLOT = COMMON_SLOTS + 4;
const INUSE_SLOT = COMMON_SLOTS + 5;
const PREV_WORD = 0;
const SIZE_WORD = 1;

function snapshot(a: StackAllocator): { bytes: Uint8Array; stats: string } {
  const m = a.memory;
  return { bytes: m.u8.slice(m.start, m.end), stats: JSON.stringify(a.stats()) };
}

/** `fn` must throw `cls` with `code`, and leave every byte and the stats as they were. */
function expectRejected(
  a: StackAllocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  code?: string,
): void {
  const before = snapshot(a);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  if (code !== undefined) expect((thrown as { code: string }).code).toBe(code);
  const after = snapshot(a);
  expect(Buffer.compare(before.bytes, after.bytes)).toBe(0);
  expect(after.stats).toBe(before.stats);
}

function headerWords(a: StackAllocator, ptr: number): { prev: number; size: number } {
  const w = (ptr - HDR) / 4;
  return { prev: a.memory.u32[w + PREV_WORD], size: a.memory.u32[w + SIZE_WORD] };
}

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

describe("allocZeroed", () => {
  it("zeroes reused bytes on an owned buffer and skips bytes never handed out", () => {
    const stack = new StackAllocator(1024);
    const p = stack.alloc(64);
    stack.memory.u8.fill(0xee, p, p + 64);
    stack.pop();
    const high = p + 64;
    // White box: a byte above the high-water mark is assumed zero on a fresh buffer, so
    // planting one there proves allocZeroed did not spend time filling it.
    stack.memory.u8[high + 8] = 0x55;
    const q = stack.allocZeroed(128);
    expect(q).toBe(p);
    expect(stack.memory.u8.subarray(q, high).every((x) => x === 0)).toBe(true);
    expect(stack.memory.u8[high + 8]).toBe(0x55);
  });

  it("zeroes everything on a caller's buffer (not assumed zero)", () => {
    const buf = new ArrayBuffer(1024);
    new Uint8Array(buf).fill(0xaa);
    const stack = StackAllocator.fromBuffer(buf, 8, 512);
    const p = stack.allocZeroed(100, 32);
    expect(p % 32).toBe(0);
    expect(stack.memory.u8.subarray(p, p + 100).every((x) => x === 0)).toBe(true);
    expect(stack.memory.u8[p + 100]).toBe(0xaa);
    expect(headerWords(stack, p)).toEqual({ prev: 0, size: 100 });
  });
});

describe("check() finds corruption and poisons the heap", () => {
  function threeBlocks() {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(16);
    const b = stack.alloc(16);
    const c = stack.alloc(16);
    return { stack, a, b, c, u32: stack.memory.u32 };
  }

  it("a top block whose size no longer reaches TOP", () => {
    const { stack, c, u32 } = threeBlocks();
    u32[(c - HDR) / 4 + SIZE_WORD] = 15;
    expect(() => stack.check()).toThrow(/top block .* ends at .* not at TOP/);
    expect(() => stack.alloc(8)).toThrow(HeapPoisonedError);
  });

  it("a PREV link that points up (a cycle) is caught by a bounded walk", () => {
    const { stack, b, c, u32 } = threeBlocks();
    u32[(b - HDR) / 4 + PREV_WORD] = c;
    expect(() => stack.check()).toThrow(HeapCorruptedError);
  });

  it("a block overflowing into the header above it", () => {
    const { stack, a, b, u32 } = threeBlocks();
    u32[(a - HDR) / 4 + SIZE_WORD] = b - a; // a now ends past b's header
    expect(() => stack.check()).toThrow(/past the header/);
  });

  it("LIVE or INUSE out of step with the chain", () => {
    const fewer = threeBlocks().stack;
    fewer.memory.f64[LIVE_SLOT] = 2;
    expect(() => fewer.check()).toThrow(/more than LIVE = 2/);
    const more = threeBlocks().stack;
    more.memory.f64[LIVE_SLOT] = 4;
    expect(() => more.check()).toThrow(/chain holds 3 blocks, LIVE says 4/);
    const bytes = threeBlocks().stack;
    bytes.memory.f64[INUSE_SLOT] = 47;
    expect(() => bytes.check()).toThrow(/sum to 48, INUSE says 47/);
  });

  it("pop checks the top header before moving the top", () => {
    const { stack, c, u32 } = threeBlocks();
    u32[(c - HDR) / 4 + PREV_WORD] = c + 8; // a block below cannot lie above
    expect(() => stack.pop()).toThrow(HeapCorruptedError);
    expect(stack.poisoned).toBe(true);
  });
});

describe("memories", () => {
  it("refuses an offset-only memory", () => {
    let thrown: unknown;
    try {
      new StackAllocator(new OffsetMemory(0, 4096));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ArgumentTypeError);
    expect((thrown as ArgumentTypeError).code).toBe("ERR_UNSUPPORTED");
  });

  it.each([
    ["growable", () => new GrowableMemory(1024, 256 * 1024)],
    ["shared", () => new SharedMemory(1024, 256 * 1024)],
  ] as [string, () => Memory][])("grows a %s memory when full", (_kind, make) => {
    const stack = new StackAllocator(make());
    expect(stack.remaining()).toBe(256 * 1024 - DS);
    const ptrs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const p = stack.alloc(1000);
      expect(p).not.toBe(0);
      stack.memory.u8.fill(i, p, p + 1000);
      ptrs.push(p);
    }
    expect(stack.memory.end).toBeGreaterThan(50 * 1000);
    stack.check();
    for (let i = 49; i >= 0; i--) {
      expect(stack.memory.u8[ptrs[i] + 999]).toBe(i);
      expect(stack.pop()).toBe(ptrs[i]);
    }
    expect(stack.alloc(256 * 1024)).toBe(0); // past the maximum
    stack.check();
  });

  it("keeps working after a wasm module grows the memory behind its back", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: 4 });
    const stack = new StackAllocator(new WasmMemory(memory, 1024));
    const a = stack.alloc(100);
    const b = stack.alloc(200, 64);
    expect(mod.grow(1)).toBe(1); // detaches the old ArrayBuffer
    expect(stack.pop()).toBe(b); // reads b's header through fresh views
    expect(stack.marker()).toBe(a + 100);
    const c = stack.alloc(100_000); // grows again, through WasmMemory.grow
    expect(c).not.toBe(0);
    expect(headerWords(stack, c)).toEqual({ prev: a, size: 100_000 });
    stack.check();
  });

  it("a fixed memory does not grow: remaining() is what is left of it", () => {
    const stack = StackAllocator.fromBuffer(new ArrayBuffer(4096), 0, 1024);
    expect(stack.remaining()).toBe(1024 - DS);
    expect(stack.alloc(1024)).toBe(0);
    expect(stack.alloc(1024 - DS - HDR)).toBe(DS + HDR);
    expect(stack.remaining()).toBe(0);
  });
});

describe("attach", () => {
  it("a second handle sees and changes the same stack", () => {
    const mem = new FixedMemory(new ArrayBuffer(4096));
    const one = new StackAllocator(mem);
    const a = one.alloc(32);
    const b = one.alloc(32);
    const two = StackAllocator.attach(mem);
    expect(two.stats()).toEqual(one.stats());
    expect(two.pop()).toBe(b);
    expect(one.marker()).toBe(a + 32);
    expectRejected(one, () => one.dealloc(b), InvalidPointerError, "ERR_INVALID_POINTER");
    two.check();
  });

  it("refuses another strategy's heap, and a stack of another block format", () => {
    const mem = new FixedMemory(new ArrayBuffer(4096));
    new BumpAllocator(mem);
    expect(() => StackAllocator.attach(mem)).toThrow(HeapIncompatibleError);
    const mem2 = new FixedMemory(new ArrayBuffer(4096));
    new StackAllocator(mem2);
    mem2.f64[H_CONFIG] = 16;
    let thrown: unknown;
    try {
      StackAllocator.attach(mem2);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(HeapIncompatibleError);
    expect((thrown as HeapIncompatibleError).code).toBe("ERR_HEAP_CONFIG");
  });
});

describe("stats", () => {
  it("counts the 8-byte headers and the padding as overhead", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(5); // header 8, block 5
    stack.alloc(8); // padding 3, header 8, block 8
    const s = stack.stats();
    expect(s.capacity).toBe(DS + 1024);
    expect(s.inUse).toBe(13);
    expect(s.free).toBe(1024 - (8 + 5 + 3 + 8 + 8));
    expect(s.overhead).toBe(DS + 8 + 3 + 8);
    expect(s.largestFree).toBe(s.free - 8);
    expect(s.liveBlocks).toBe(2);
  });

  it("peakInUse survives pops and is cleared by reset", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(100);
    stack.alloc(50);
    stack.pop();
    stack.pop();
    expect(stack.stats().peakInUse).toBe(150);
    stack.reset();
    expect(stack.stats().peakInUse).toBe(0);
  });

  it("serves the largest alignment (64 KiB)", () => {
    const stack = new StackAllocator(200_000);
    const p = stack.alloc(1, 65536);
    expect(p).not.toBe(0);
    expect(p % 65536).toBe(0);
    stack.check();
  });
});
