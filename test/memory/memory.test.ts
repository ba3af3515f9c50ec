/**
 * The memory kinds (src/memory/memory.ts): construction and its validation, growth (doubling
 * in 64 KiB pages below 8 MiB, an eighth more above, never past the maximum, "out of memory is an answer, not an exception"),
 * views that stay valid (length-tracking) or are re-derived (`refresh()` after a wasm grow),
 * regions that follow their parent, and an allocator (BumpAllocator) on each kind running
 * into the maximum and staying usable.
 */

import { describe, expect, it } from "vitest";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  StaleViewError,
} from "../../src/core/errors.js";
import { MAGIC } from "../../src/core/header.js";
import {
  FixedMemory,
  GROW_DOUBLING_LIMIT,
  GrowableMemory,
  growTarget,
  MAX_MEMORY_BYTES,
  type Memory,
  OffsetMemory,
  PAGE_BYTES,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";

const PAGE = 65536;
const alignUpPage = (n: number) => Math.ceil(n / PAGE) * PAGE;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

function expectMemoryRangeError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ArgumentRangeError);
  expect((e as ArgumentRangeError).code).toBe("ERR_MEMORY");
}

function expectArgTypeError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ArgumentTypeError);
}

/** What a memory looks like from outside, to prove a refused grow changed nothing. */
function snapshot(m: Memory) {
  return {
    end: m.end,
    maxEnd: m.maxEnd,
    generation: m.generation,
    bufferBytes: m.buffer.byteLength,
    u8: m.u8.length,
    f64: m.f64.length,
  };
}

/** Detaches an ArrayBuffer (as a postMessage transfer would). */
function detach(ab: ArrayBuffer): void {
  structuredClone(ab, { transfer: [ab] });
}

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

describe("WasmMemory", () => {
  it("create: a new WebAssembly.Memory of whole pages, zero-filled", () => {
    const m = WasmMemory.create(2, 10);
    expect(m.kind).toBe("wasm");
    expect(m.memory).toBeInstanceOf(WebAssembly.Memory);
    expect([m.start, m.end, m.maxEnd]).toEqual([0, 2 * PAGE, 10 * PAGE]);
    expect(m.freshZero).toBe(true);
    expect(m.shared).toBe(false);
    expect(m.buffer).toBe(m.memory.buffer);
    expect(m.u8.length).toBe(2 * PAGE);
    expect(m.generation).toBe(1);
  });

  it("grow doubles in whole pages, replaces the buffer and bumps the generation", () => {
    const m = WasmMemory.create(1, 10);
    m.i32[5] = 55;
    const old = { u8: m.u8, f64: m.f64, buffer: m.buffer, generation: m.generation };
    expect(m.grow(PAGE + 1)).toBe(true);
    expect(m.end).toBe(2 * PAGE);
    expect(m.generation).toBe(old.generation + 1);
    expect(m.buffer).toBe(m.memory.buffer);
    expect(m.buffer === old.buffer).toBe(false);
    // The old buffer was detached by the grow; the new views cover the new size.
    expect(old.u8.length).toBe(0);
    expect(old.f64.length).toBe(0);
    expect(old.buffer.byteLength).toBe(0);
    expect(m.u8.length).toBe(2 * PAGE);
    expect(m.i32[5]).toBe(55);
    expect(m.grow(5 * PAGE + 1)).toBe(true);
    expect(m.end).toBe(6 * PAGE);
  });

  it("cannot pass the maximum: grow returns false and changes nothing", () => {
    const m = WasmMemory.create(1, 3);
    expect(m.grow(3 * PAGE)).toBe(true);
    const before = snapshot(m);
    const views = m.u8;
    expect(m.grow(3 * PAGE + 1)).toBe(false);
    expect(m.grow(2 ** 32)).toBe(false);
    expect(snapshot(m)).toEqual(before);
    expect(m.u8 === views).toBe(true); // nothing detached
    expect(views.length).toBe(3 * PAGE);
  });

  it("when the engine's own maximum is lower, falls back to the minimum, then answers false", () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 3 });
    const m = new WasmMemory(memory, 0, 8);
    // Doubling would ask for 2 more pages (refused); the minimum, 1 page, is allowed.
    expect(m.grow(2 * PAGE + 1)).toBe(true);
    expect(m.end).toBe(3 * PAGE);
    const before = snapshot(m);
    expect(m.grow(3 * PAGE + 1)).toBe(false);
    expect(snapshot(m)).toEqual(before);
  });

  it("refresh() after someone else grew the memory (even by 0 pages) re-derives the views", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const m = new WasmMemory(memory);
    m.u8[3] = 3;
    const stale = m.u8;
    const g = m.generation;
    expect(m.refresh()).toBe(false);

    memory.grow(1);
    expect(stale.length).toBe(0);
    expect(m.refresh()).toBe(true);
    expect(m.generation).toBe(g + 1);
    expect(m.end).toBe(2 * PAGE);
    expect(m.u8.length).toBe(2 * PAGE);
    expect(m.u8[3]).toBe(3);

    // grow(0) also detaches (MDN; RELIABILITY.md E1): the size is the same, the buffer is not.
    const beforeZero = m.u8;
    memory.grow(0);
    expect(beforeZero.length).toBe(0);
    expect(m.refresh()).toBe(true);
    expect(m.generation).toBe(g + 2);
    expect(m.end).toBe(2 * PAGE);
    expect(m.u8[3]).toBe(3);
    expect(m.refresh()).toBe(false);
  });

  it("starts at a heap base inside the memory", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const m = new WasmMemory(memory, 1024);
    expect([m.start, m.end, m.byteLength]).toEqual([1024, PAGE, PAGE - 1024]);
    expect(m.maxEnd).toBe(2 ** 32); // no maximum given: 65536 pages
    expectMemoryRangeError(() => new WasmMemory(memory, PAGE + 1));
    expectMemoryRangeError(() => new WasmMemory(memory, -8));
    expectMemoryRangeError(() => new WasmMemory(memory, 0, 65537));
  });

  it("validates its arguments", () => {
    const anyWasm = WasmMemory as unknown as new (...args: unknown[]) => WasmMemory;
    expectArgTypeError(() => new anyWasm(new ArrayBuffer(PAGE)));
    expectArgTypeError(() => new anyWasm({ buffer: new ArrayBuffer(PAGE) }));
    expectMemoryRangeError(() => WasmMemory.create(1.5));
    expectMemoryRangeError(() => WasmMemory.create(-1));
    expectMemoryRangeError(() => WasmMemory.create(1, 65537));
  });

  // Regression (src/memory/memory.ts WasmMemory.create, fixed): initialPages > maximumPages reaches
  // `new WebAssembly.Memory`, whose native RangeError has no `code` (every error memkit throws
  // has one, errors.ts). GrowableMemory and SharedMemory check this case themselves.
  // The fix, in create() after the two checkByteCount calls:
  //     if (initialPages > maximumPages) throw new ArgumentRangeError(
  //       `initialPages ${initialPages} > maximumPages ${maximumPages}`, "ERR_MEMORY");
  it("create(initial > maximum) is ArgumentRangeError ERR_MEMORY", () => {
    expectMemoryRangeError(() => WasmMemory.create(4, 2));
  });

  // Regression (src/memory/memory.ts WasmMemory constructor, fixed): a `maximumPages` below the memory's
  // current size is accepted, leaving `end > maxEnd` (here end 4 pages, maxEnd 2), which breaks
  // the documented `end` ≤ `maxEnd` ("the highest end growth can reach").
  // The fix, after computing maxPages: `if (maxPages * PAGE_BYTES < buffer.byteLength)
  // throw new ArgumentRangeError(`maximumPages ${maxPages} is below the memory's current
  // ${buffer.byteLength / PAGE_BYTES} pages`, "ERR_MEMORY");` (or clamp maxEnd up to end).
  it("maximumPages below the memory's current size is rejected (or end ≤ maxEnd holds)", () => {
    const memory = new WebAssembly.Memory({ initial: 4 });
    let m: WasmMemory | undefined;
    try {
      m = new WasmMemory(memory, 0, 2);
    } catch (e) {
      expect(e).toBeInstanceOf(ArgumentRangeError);
      return;
    }
    expect(m.end).toBeLessThanOrEqual(m.maxEnd);
  });

  it("a shared WebAssembly.Memory: growth gives a new SAB object, old views stay readable", () => {
    const m = WasmMemory.create(1, 4, true);
    expect(m.shared).toBe(true);
    expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
    const old = m.u8;
    old[1] = 1;
    expect(m.grow(PAGE + 1)).toBe(true);
    expect(m.end).toBe(2 * PAGE);
    expect(old.length).toBe(PAGE); // shared buffers are never detached
    expect(m.u8.length).toBe(2 * PAGE);
    expect(m.u8[1]).toBe(1);
    m.u8[2] = 2;
    expect(old[2]).toBe(2); // same bytes
  });
});

describe("OffsetMemory", () => {
  it("has no bytes: empty views, no growth, nothing to refresh", () => {
    const m = new OffsetMemory(4096, 1 << 20);
    expect(m.kind).toBe("offset");
    expect(m.hasBytes).toBe(false);
    expect(m.shared).toBe(false);
    expect(m.freshZero).toBe(false);
    expect([m.start, m.end, m.maxEnd, m.byteLength]).toEqual([
      4096,
      1 << 20,
      1 << 20,
      (1 << 20) - 4096,
    ]);
    expect(m.buffer.byteLength).toBe(0);
    expect([m.u8.length, m.i32.length, m.u32.length, m.f64.length]).toEqual([0, 0, 0, 0]);
    expect(m.grow((1 << 20) + 1)).toBe(false);
    expect(m.refresh()).toBe(false);
    expect(m.generation).toBe(0);
  });

  it("may span the whole 4 GiB offset space, not more", () => {
    expect(new OffsetMemory(0, 2 ** 32).byteLength).toBe(2 ** 32);
    expectMemoryRangeError(() => new OffsetMemory(0, 2 ** 32 + 1));
    expectMemoryRangeError(() => new OffsetMemory(10, 9));
    expectMemoryRangeError(() => new OffsetMemory(-1, 9));
    expectMemoryRangeError(() => new OffsetMemory(0, 1.5));
    const anyOffset = OffsetMemory as unknown as new (...args: unknown[]) => OffsetMemory;
    expectArgTypeError(() => new anyOffset("0", 8));
  });

  it("an allocator over it hands out offsets in [start, end) and keeps its books elsewhere", () => {
    const m = new OffsetMemory(1 << 20, (1 << 20) + 4096);
    const bump = new BumpAllocator(m);
    const ptrs: number[] = [];
    for (;;) {
      const p = bump.alloc(100);
      if (p === 0) break;
      ptrs.push(p);
    }
    expect(ptrs.length).toBe(Math.floor(4096 / 104));
    for (const p of ptrs) {
      expect(p).toBeGreaterThanOrEqual(m.start);
      expect(p + 100).toBeLessThanOrEqual(m.end);
      expect(p % 8).toBe(0);
    }
    expect(m.buffer.byteLength).toBe(0); // nothing was written into a buffer it does not have
    expect(() => bump.check()).not.toThrow();
  });

  it("a region starting at 0 never hands out the null pointer", () => {
    const bump = new BumpAllocator(new OffsetMemory(0, 64));
    const p = bump.alloc(8);
    expect(p).not.toBe(0);
    expect(p).toBeGreaterThanOrEqual(8);
  });
});

describe("region()", () => {
  it("is a fixed sub-memory sharing the parent's buffer and views", () => {
    const parent = new FixedMemory(new ArrayBuffer(1024), 0, undefined, true);
    const r = parent.region(128, 512);
    expect(r.kind).toBe("fixed");
    expect([r.start, r.end, r.maxEnd]).toEqual([128, 512, 512]);
    expect(r.freshZero).toBe(false); // carved from another allocator's block: not assumed zero
    expect(r.hasBytes).toBe(true);
    expect(r.buffer).toBe(parent.buffer);
    expect(r.u8).toBe(parent.u8);
    expect(r.f64).toBe(parent.f64);
    expect(r.grow(513)).toBe(false);
    r.u8[200] = 200;
    expect(parent.u8[200]).toBe(200);
  });

  it("inherits shared and hasBytes from the parent; a region of a region works", () => {
    const shared = new SharedMemory(PAGE, 2 * PAGE).region(64, 256);
    expect(shared.shared).toBe(true);
    const offset = new OffsetMemory(0, 4096).region(1024, 2048);
    expect(offset.hasBytes).toBe(false);
    const inner = new FixedMemory(new ArrayBuffer(512)).region(64, 448).region(128, 256);
    expect([inner.start, inner.end]).toEqual([128, 256]);
    expectMemoryRangeError(() =>
      new FixedMemory(new ArrayBuffer(512)).region(64, 448).region(0, 100),
    );
  });

  it.each([
    ["start before the parent's start", 0, 100],
    ["end past the parent's end", 128, 1025],
    ["start > end", 300, 200],
    ["negative start", -8, 100],
    ["fractional end", 8, 100.5],
    ["NaN start", Number.NaN, 100],
  ])("rejects %s (RangeError ERR_MEMORY)", (_, start, end) => {
    const parent = new FixedMemory(new ArrayBuffer(1024), 8);
    expectMemoryRangeError(() => parent.region(start, end));
  });

  it("rejects non-number bounds (TypeError)", () => {
    const parent = new FixedMemory(new ArrayBuffer(1024));
    const anyRegion = parent.region.bind(parent) as (...args: unknown[]) => Memory;
    expectArgTypeError(() => anyRegion("8", 100));
    expectArgTypeError(() => anyRegion(8, null));
  });

  it("follows a growable parent's growth (same length-tracking views)", () => {
    const parent = new GrowableMemory(PAGE, 4 * PAGE);
    const r = parent.region(1024, 2048);
    const g = r.generation;
    parent.grow(2 * PAGE);
    expect(r.u8.length).toBe(2 * PAGE);
    expect(r.refresh()).toBe(true);
    expect(r.generation).toBe(g + 1);
    expect(r.refresh()).toBe(false);
    expect([r.start, r.end]).toEqual([1024, 2048]); // its own bounds never move
  });

  it("follows a wasm parent's growth: refresh() adopts the parent's new views", () => {
    const parent = WasmMemory.create(1, 8);
    const r = parent.region(4096, 8192);
    r.u8[5000] = 50;
    const stale = r.u8;
    parent.grow(3 * PAGE);
    expect(stale.length).toBe(0);
    expect(r.refresh()).toBe(true);
    expect(r.u8 === parent.u8).toBe(true);
    expect(r.buffer).toBe(parent.buffer);
    expect(r.generation).toBe(parent.generation);
    expect(r.u8[5000]).toBe(50);
  });

  it("refresh() reaches through to a wasm memory grown behind everyone's back", () => {
    const parent = WasmMemory.create(1, 8);
    const r = parent.region(4096, 8192);
    parent.memory.grow(1); // neither the parent nor the region was told
    expect(r.refresh()).toBe(true);
    expect(parent.end).toBe(2 * PAGE);
    expect(r.u8.length).toBe(2 * PAGE);
  });

  it("an allocator inside a region keeps working while the parent memory grows", () => {
    const parent = WasmMemory.create(1, 8);
    const outer = new BumpAllocator(parent);
    const block = outer.alloc(4096);
    const inner = new BumpAllocator(parent.region(block, block + 4096));
    const p = inner.alloc(64);
    parent.u8.fill(0x77, p, p + 64);

    const stale = parent.u8;
    expect(outer.alloc(3 * PAGE)).not.toBe(0); // grows (and detaches) the parent
    expect(stale.length).toBe(0);

    const q = inner.alloc(64);
    expect(q).toBeGreaterThan(p);
    expect(q + 64).toBeLessThanOrEqual(block + 4096);
    parent.u8.fill(0x33, q, q + 64);
    expect(parent.u8[p]).toBe(0x77);
    expect(parent.u8[p + 63]).toBe(0x77);
    expect(inner.memory.u8[q]).toBe(0x33);
    expect(() => inner.check()).not.toThrow();
    expect(() => outer.check()).not.toThrow();
    // The region never grows: past its end the inner allocator is out of memory.
    expect(inner.alloc(4096)).toBe(0);
    expect(inner.alloc(8)).not.toBe(0);
  });
});

/** Memories that can grow to a maximum, for the out-of-memory tests. */
const GROWING: Array<[string, () => Memory, number]> = [
  ["GrowableMemory", () => new GrowableMemory(PAGE, 4 * PAGE), 4 * PAGE],
  ["SharedMemory", () => new SharedMemory(PAGE, 4 * PAGE), 4 * PAGE],
  ["WasmMemory", () => WasmMemory.create(1, 4), 4 * PAGE],
  [
    "WasmMemory whose engine maximum (3 pages) is below memkit's (8)",
    () => new WasmMemory(new WebAssembly.Memory({ initial: 1, maximum: 3 }), 0, 8),
    3 * PAGE,
  ],
  [
    "WasmMemory with a heap base",
    () => new WasmMemory(new WebAssembly.Memory({ initial: 1, maximum: 4 }), 1000, 4),
    4 * PAGE,
  ],
];

describe("growing past the maximum is out of memory (0), not an exception", () => {
  it.each(GROWING)("BumpAllocator on %s", (_, make, reachable) => {
    const m = make();
    const bump = new BumpAllocator(m);
    const BLOCK = 10_000;
    const blocks: number[] = [];
    for (;;) {
      const p = bump.alloc(BLOCK);
      if (p === 0) break;
      // Views may have been replaced by the growth: always go through m.u8.
      m.u8.fill(blocks.length & 0xff, p, p + BLOCK);
      blocks.push(p);
      expect(blocks.length).toBeLessThan(1000);
    }
    // It grew as far as it could, and used it.
    expect(m.end).toBe(reachable);
    const ds = blocks[0]!;
    expect(blocks.length).toBe(Math.floor((reachable - ds) / BLOCK));

    // Out of memory changes nothing, whatever the size.
    const meta = bump.metadataBytes();
    const mem = snapshot(m);
    for (const size of [BLOCK, reachable, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
      expect(bump.alloc(size)).toBe(0);
      expect(() => bump.allocOrThrow(size)).toThrow(/out of memory/);
    }
    expect(bump.alloc(64, 65536)).toBe(0);
    expect(bump.metadataBytes()).toEqual(meta);
    expect(snapshot(m)).toEqual(mem);

    // Still usable: what is left can be allocated exactly, then 1 more byte cannot.
    const left = bump.stats().free;
    expect(left).toBeLessThan(BLOCK);
    if (left > 0) {
      const last = bump.alloc(left, 1);
      expect(last).not.toBe(0);
      expect(last + left).toBe(reachable);
      m.u8.fill(0xee, last, last + left);
    }
    expect(bump.alloc(1, 1)).toBe(0);
    expect(() => bump.check()).not.toThrow();
    blocks.forEach((p, i) => {
      expect(m.u8[p]).toBe(i & 0xff);
      expect(m.u8[p + BLOCK - 1]).toBe(i & 0xff);
    });
    expect(m.f64[Math.ceil(m.start / 8)]).toBe(MAGIC);

    // And after a reset the whole memory is available again.
    bump.reset();
    expect(bump.alloc(BLOCK)).toBe(ds);
    expect(() => bump.check()).not.toThrow();
  });

  it("a growing allocator reports what the maximum still allows", () => {
    const m = new GrowableMemory(PAGE, 4 * PAGE);
    const bump = new BumpAllocator(m);
    const r = bump.remaining();
    expect(r).toBe(4 * PAGE - BumpAllocator.metadataSize);
    expect(bump.alloc(r, 1)).not.toBe(0);
    expect(m.end).toBe(4 * PAGE);
    expect(bump.remaining()).toBe(0);
    expect(bump.alloc(1, 1)).toBe(0);
  });

  it("an allocator told not to grow stays inside the initial size", () => {
    const m = new GrowableMemory(PAGE, 4 * PAGE);
    const bump = new BumpAllocator(m, { grow: false });
    expect(bump.alloc(PAGE)).toBe(0);
    expect(m.end).toBe(PAGE);
    expect(bump.alloc(PAGE - BumpAllocator.metadataSize, 1)).not.toBe(0);
  });
});
