/**
 * The memory kinds (src/memory/memory.ts), part 1: the constants, FixedMemory, GrowableMemory
 * (growth doubling in 64 KiB pages below 8 MiB, an eighth more above, never past the
 * maximum; length-tracking views) and SharedMemory. kinds.test.ts: WasmMemory (views
 * re-derived after a grow) and OffsetMemory; region.test.ts: regions that follow their
 * parent, and an allocator on each growing kind running into the maximum and staying usable.
 */

import { describe, expect, it } from "vitest";
import { AllocatorError, StaleViewError } from "../../src/core/errors.js";
import {
  FixedMemory,
  GROW_DOUBLING_LIMIT,
  GrowableMemory,
  growTarget,
  MAX_MEMORY_BYTES,
  type Memory,
  PAGE_BYTES,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import {
  alignUpPage,
  detach,
  expectArgTypeError,
  expectMemoryRangeError,
  PAGE,
  snapshot,
  thrown,
} from "./helpers.js";

describe("constants", () => {
  it("pages are 64 KiB; a memory spans at most 4 GiB", () => {
    expect(PAGE_BYTES).toBe(PAGE);
    expect(MAX_MEMORY_BYTES).toBe(2 ** 32);
  });
});

describe("FixedMemory", () => {
  it("is a region of a caller's ArrayBuffer; views cover the whole buffer", () => {
    const ab = new ArrayBuffer(256);
    const m = new FixedMemory(ab, 16, 64);
    expect(m.kind).toBe("fixed");
    expect([m.start, m.end, m.maxEnd, m.byteLength]).toEqual([16, 80, 80, 64]);
    expect(m.hasBytes).toBe(true);
    expect(m.shared).toBe(false);
    expect(m.freshZero).toBe(false); // a caller's bytes are not assumed zero
    expect(m.buffer).toBe(ab);
    expect(m.u8.buffer).toBe(ab);
    expect([m.u8.length, m.i32.length, m.u32.length, m.f64.length]).toEqual([256, 64, 64, 32]);
    expect(m.generation).toBe(1);
    // Pointers are offsets into the whole buffer.
    m.u8[16] = 0xaa;
    expect(new Uint8Array(ab)[16]).toBe(0xaa);
  });

  it("defaults: the whole buffer; byteLength defaults to the rest after byteOffset", () => {
    const ab = new ArrayBuffer(100);
    expect([new FixedMemory(ab).start, new FixedMemory(ab).end]).toEqual([0, 100]);
    expect([new FixedMemory(ab, 40).start, new FixedMemory(ab, 40).end]).toEqual([40, 100]);
    expect(new FixedMemory(ab, 100).byteLength).toBe(0);
    expect(new FixedMemory(ab, 0, 0).byteLength).toBe(0);
  });

  it("views of a length that is not a multiple of 8 round down per element size", () => {
    const m = new FixedMemory(new ArrayBuffer(13));
    expect([m.u8.length, m.i32.length, m.f64.length]).toEqual([13, 3, 1]);
  });

  it("the zeroed flag says whether never-written bytes may be assumed zero", () => {
    expect(new FixedMemory(new ArrayBuffer(8), 0, 8, true).freshZero).toBe(true);
    expect(new FixedMemory(new ArrayBuffer(8), 0, 8, false).freshZero).toBe(false);
  });

  it("over a SharedArrayBuffer it is shared, and another view sees its writes", () => {
    const sab = new SharedArrayBuffer(128);
    const m = new FixedMemory(sab, 8, 64);
    expect(m.shared).toBe(true);
    expect(m.buffer).toBe(sab);
    m.i32[4] = 1234;
    expect(new Int32Array(sab)[4]).toBe(1234);
  });

  it("never grows, and refresh() reports no change", () => {
    const m = new FixedMemory(new ArrayBuffer(64));
    const before = snapshot(m);
    expect(m.grow(65)).toBe(false);
    expect(m.grow(64)).toBe(false); // a fixed memory answers false whatever the request
    expect(m.refresh()).toBe(false);
    expect(snapshot(m)).toEqual(before);
  });

  it.each([
    ["offset past the end", 65, undefined],
    ["length past the end", 0, 65],
    ["offset + length past the end", 32, 33],
    ["negative offset", -1, undefined],
    ["fractional offset", 1.5, undefined],
    ["NaN offset", Number.NaN, undefined],
    ["negative length", 0, -1],
    ["fractional length", 0, 2.5],
    ["Infinity length", 0, Number.POSITIVE_INFINITY],
  ])("rejects %s (RangeError ERR_MEMORY)", (_, offset, length) => {
    expectMemoryRangeError(() => new FixedMemory(new ArrayBuffer(64), offset, length));
  });

  it("rejects what is not a buffer, and non-number offsets (TypeError)", () => {
    const anyFixed = FixedMemory as unknown as new (...args: unknown[]) => FixedMemory;
    for (const b of [new Uint8Array(8), {}, null, 64, "buffer"]) {
      expectArgTypeError(() => new anyFixed(b));
    }
    expectArgTypeError(() => new anyFixed(new ArrayBuffer(8), "0"));
    expectArgTypeError(() => new anyFixed(new ArrayBuffer(8), 0, 8n));
  });

  it("refresh() throws ERR_DETACHED once the caller's buffer was transferred away", () => {
    const ab = new ArrayBuffer(64);
    const m = new FixedMemory(ab);
    detach(ab);
    const e = thrown(() => m.refresh());
    expect(e).toBeInstanceOf(AllocatorError);
    expect((e as AllocatorError).code).toBe("ERR_DETACHED");
  });

  // Regression (src/memory/memory.ts FixedMemory.refresh, fixed): the detached-buffer error is a plain
  // `AllocatorError`, but errors.ts defines `StaleViewError` ("A view over memory that was
  // detached or replaced by growth") and RELIABILITY.md §2.1 / E1 assign `ERR_DETACHED` to it.
  // The fix: `throw new StaleViewError("the buffer under this FixedMemory was detached",
  // "ERR_DETACHED");` (StaleViewError extends AllocatorError, so existing catches still work).
  it("the detached-buffer error is a StaleViewError", () => {
    const ab = new ArrayBuffer(64);
    const m = new FixedMemory(ab);
    detach(ab);
    expect(thrown(() => m.refresh())).toBeInstanceOf(StaleViewError);
  });

  it("an allocator over a detached FixedMemory fails loudly, never silently", () => {
    const ab = new ArrayBuffer(1024);
    const bump = new BumpAllocator(new FixedMemory(ab));
    expect(bump.alloc(8)).not.toBe(0);
    detach(ab);
    const e = thrown(() => bump.alloc(8));
    expect(e).toBeInstanceOf(AllocatorError);
    expect((e as AllocatorError).code).toBe("ERR_DETACHED");
  });
});

describe("GrowableMemory", () => {
  it("owns a resizable ArrayBuffer; fresh bytes are zero", () => {
    const m = new GrowableMemory(PAGE, 8 * PAGE);
    expect(m.kind).toBe("growable");
    expect([m.start, m.end, m.maxEnd]).toEqual([0, PAGE, 8 * PAGE]);
    expect(m.freshZero).toBe(true);
    expect(m.shared).toBe(false);
    const ab = m.buffer as ArrayBuffer;
    expect(ab.resizable).toBe(true);
    expect(ab.maxByteLength).toBe(8 * PAGE);
    expect(m.u8.every((b) => b === 0)).toBe(true);
  });

  it("grow doubles, in 64 KiB steps; views are the same objects and track the length", () => {
    const m = new GrowableMemory(PAGE, 16 * PAGE);
    const { u8, i32, u32, f64 } = m;
    u8[PAGE - 1] = 0x5a;
    const g = m.generation;

    expect(m.grow(PAGE + 1)).toBe(true);
    expect(m.end).toBe(2 * PAGE); // doubled, not just one byte more
    expect(m.generation).toBe(g + 1);
    expect(m.u8).toBe(u8);
    expect(m.i32).toBe(i32);
    expect(m.u32).toBe(u32);
    expect(m.f64).toBe(f64);
    expect([u8.length, i32.length, f64.length]).toEqual([2 * PAGE, PAGE / 2, PAGE / 4]);
    expect(u8[PAGE - 1]).toBe(0x5a); // contents kept
    expect(u8.subarray(PAGE).every((b) => b === 0)).toBe(true); // fresh bytes zero

    expect(m.grow(2 * PAGE + 1)).toBe(true);
    expect(m.end).toBe(4 * PAGE);
    // A request past the doubling is rounded up to whole pages.
    expect(m.grow(10 * PAGE + 3)).toBe(true);
    expect(m.end).toBe(11 * PAGE);
    expect(m.end % PAGE).toBe(0);
  });

  it("past 8 MiB grows by an eighth (whole pages), not by doubling; every kind alike", () => {
    const MiB = 2 ** 20;
    expect(GROW_DOUBLING_LIMIT).toBe(8 * MiB);
    expect(growTarget(8 * MiB - PAGE, 8 * MiB - PAGE + 1, 4096 * MiB)).toBe(16 * MiB - 2 * PAGE);
    expect(growTarget(8 * MiB, 8 * MiB + 1, 4096 * MiB)).toBe(9 * MiB);
    expect(growTarget(100 * MiB, 100 * MiB + 1, 4096 * MiB)).toBe(alignUpPage(112.5 * MiB));
    expect(growTarget(100 * MiB, 130 * MiB + 3, 4096 * MiB)).toBe(130 * MiB + PAGE);
    expect(growTarget(100 * MiB, 100 * MiB + 1, 105 * MiB)).toBe(105 * MiB);
    const mems: Memory[] = [
      new GrowableMemory(8 * MiB, 64 * MiB),
      new SharedMemory(8 * MiB, 64 * MiB),
      WasmMemory.create((8 * MiB) / PAGE, (64 * MiB) / PAGE),
    ];
    for (const m of mems) {
      expect(m.grow(8 * MiB + 1), m.kind).toBe(true);
      expect(m.end, m.kind).toBe(9 * MiB);
      expect(m.u8.length, m.kind).toBe(9 * MiB);
    }
  });

  it("grow to a size it already has returns true and changes nothing", () => {
    const m = new GrowableMemory(2 * PAGE, 4 * PAGE);
    const before = snapshot(m);
    expect(m.grow(0)).toBe(true);
    expect(m.grow(2 * PAGE)).toBe(true);
    expect(snapshot(m)).toEqual(before);
  });

  it("cannot pass the maximum: grow returns false and changes nothing", () => {
    const m = new GrowableMemory(PAGE, 4 * PAGE);
    m.u8[10] = 1;
    const before = snapshot(m);
    expect(m.grow(4 * PAGE + 1)).toBe(false);
    expect(m.grow(2 ** 32)).toBe(false);
    expect(m.grow(Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(m.grow(Number.NaN)).toBe(false);
    expect(snapshot(m)).toEqual(before);
    expect(m.u8[10]).toBe(1);
  });

  it("doubling stops at the maximum, also when the maximum is not a whole page", () => {
    const m = new GrowableMemory(3 * PAGE, 5 * PAGE);
    expect(m.grow(3 * PAGE + 1)).toBe(true);
    expect(m.end).toBe(5 * PAGE);
    expect(m.grow(5 * PAGE)).toBe(true);
    expect(m.grow(5 * PAGE + 1)).toBe(false);

    const odd = new GrowableMemory(1000, 100_000);
    expect(odd.grow(1001)).toBe(true);
    expect(odd.end).toBe(PAGE);
    expect(odd.grow(PAGE + 1)).toBe(true);
    expect(odd.end).toBe(100_000);
    expect(odd.u8.length).toBe(100_000);
    expect(odd.grow(100_001)).toBe(false);
    expect(odd.end).toBe(100_000);
  });

  it("may start empty", () => {
    const m = new GrowableMemory(0, 2 * PAGE);
    expect(m.end).toBe(0);
    expect(m.u8.length).toBe(0);
    expect(m.grow(1)).toBe(true);
    expect(m.end).toBe(PAGE);
    expect(m.u8.length).toBe(PAGE);
  });

  it("validates its arguments", () => {
    expectMemoryRangeError(() => new GrowableMemory(2 * PAGE, PAGE)); // initial > max
    expectMemoryRangeError(() => new GrowableMemory(-1, PAGE));
    expectMemoryRangeError(() => new GrowableMemory(1.5, PAGE));
    expectMemoryRangeError(() => new GrowableMemory(0, 2 ** 32 + 1));
    expectMemoryRangeError(() => new GrowableMemory(0, Number.NaN));
    const anyGrowable = GrowableMemory as unknown as new (...args: unknown[]) => GrowableMemory;
    expectArgTypeError(() => new anyGrowable("1", PAGE));
    expectArgTypeError(() => new anyGrowable(0, undefined));
    expectArgTypeError(() => new anyGrowable(0, 8n));
  });
});

describe("SharedMemory", () => {
  it("owns a growable SharedArrayBuffer and grows like GrowableMemory", () => {
    const m = new SharedMemory(PAGE, 8 * PAGE);
    expect(m.kind).toBe("shared");
    expect(m.shared).toBe(true);
    expect(m.freshZero).toBe(true);
    const sab = m.buffer as SharedArrayBuffer;
    expect(sab).toBeInstanceOf(SharedArrayBuffer);
    expect(sab.growable).toBe(true);
    expect(sab.maxByteLength).toBe(8 * PAGE);
    const u8 = m.u8;
    u8[7] = 7;
    expect(m.grow(PAGE + 1)).toBe(true);
    expect(m.end).toBe(2 * PAGE);
    // Fixed-length views (faster than length-tracking ones), re-made on growth; the old
    // view still sees the same bytes, the new one covers the grown buffer.
    expect(m.u8).not.toBe(u8);
    expect(m.u8.length).toBe(2 * PAGE);
    expect(u8.length).toBe(PAGE);
    expect(m.u8[7]).toBe(7);
    u8[9] = 9;
    expect(m.u8[9]).toBe(9);
    expect(m.buffer).toBe(sab); // a SAB grows in place, never replaced
  });

  it("cannot pass the maximum: grow returns false and changes nothing", () => {
    const m = new SharedMemory(PAGE, 2 * PAGE);
    expect(m.grow(2 * PAGE)).toBe(true);
    const before = snapshot(m);
    expect(m.grow(2 * PAGE + 1)).toBe(false);
    expect(snapshot(m)).toEqual(before);
  });

  it("without maxBytes it cannot grow at all", () => {
    const m = new SharedMemory(PAGE);
    expect(m.maxEnd).toBe(PAGE);
    expect(m.grow(PAGE + 1)).toBe(false);
    expect(m.end).toBe(PAGE);
  });

  it("a second SharedMemory over the same SAB sees growth after refresh()", () => {
    const a = new SharedMemory(PAGE, 8 * PAGE);
    const b = new SharedMemory(a.buffer as SharedArrayBuffer);
    expect(b.buffer).toBe(a.buffer);
    expect([b.start, b.end, b.maxEnd]).toEqual([0, PAGE, 8 * PAGE]);
    a.u8[100] = 42;
    expect(b.u8[100]).toBe(42);

    expect(a.grow(3 * PAGE)).toBe(true);
    expect(a.end).toBe(3 * PAGE);
    // b has not looked yet: its region end is stale, its (length-tracking) views are not.
    expect(b.end).toBe(PAGE);
    const g = b.generation;
    expect(b.refresh()).toBe(true);
    expect(b.end).toBe(3 * PAGE);
    expect(b.generation).toBe(g + 1);
    expect(b.u8.length).toBe(3 * PAGE);
    expect(b.refresh()).toBe(false);
    expect(b.generation).toBe(g + 1);

    b.u8[3 * PAGE - 1] = 9;
    expect(a.u8[3 * PAGE - 1]).toBe(9);
    // b can grow it further, and a sees that.
    expect(b.grow(5 * PAGE)).toBe(true);
    expect(a.refresh()).toBe(true);
    expect(a.end).toBe(b.end);
  });

  it("grow on a second handle first picks up the other's growth", () => {
    const a = new SharedMemory(PAGE, 8 * PAGE);
    const b = new SharedMemory(a.buffer as SharedArrayBuffer);
    a.grow(4 * PAGE);
    expect(b.grow(3 * PAGE)).toBe(true); // already big enough: no resize needed
    expect(b.end).toBe(4 * PAGE);
    expect((a.buffer as SharedArrayBuffer).byteLength).toBe(4 * PAGE);
  });

  it("accepts a fixed-length SharedArrayBuffer (cannot grow)", () => {
    const sab = new SharedArrayBuffer(4096);
    const m = new SharedMemory(sab);
    expect([m.end, m.maxEnd]).toEqual([4096, 4096]);
    expect(m.grow(4097)).toBe(false);
    expect(m.refresh()).toBe(false);
  });

  it("validates its arguments", () => {
    const anyShared = SharedMemory as unknown as new (...args: unknown[]) => SharedMemory;
    expectArgTypeError(() => new anyShared(new ArrayBuffer(8)));
    expectArgTypeError(() => new anyShared("8"));
    expectArgTypeError(() => new anyShared(null));
    expectMemoryRangeError(() => new SharedMemory(2 * PAGE, PAGE));
    expectMemoryRangeError(() => new SharedMemory(-1, PAGE));
    expectMemoryRangeError(() => new SharedMemory(PAGE, 2 ** 32 + 1));
  });
});
