/**
 * The memory kinds, part 2 (part 1: memory.test.ts): WasmMemory, whose views are re-derived
 * (`refresh()`) after any grow detaches them, and OffsetMemory, a region with no bytes.
 */

import { describe, expect, it } from "vitest";
import { ArgumentRangeError } from "../../src/core/errors.js";
import { OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { expectArgTypeError, expectMemoryRangeError, PAGE, snapshot } from "./helpers.js";

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
    // The views show the new page; the region does not take it: it is not memkit's.
    expect(m.end).toBe(PAGE);
    expect(m.u8.length).toBe(2 * PAGE);
    expect(m.u8[3]).toBe(3);

    // grow(0) also detaches (MDN; RELIABILITY.md E1): the size is the same, the buffer is not.
    const beforeZero = m.u8;
    memory.grow(0);
    expect(beforeZero.length).toBe(0);
    expect(m.refresh()).toBe(true);
    expect(m.generation).toBe(g + 2);
    expect(m.end).toBe(PAGE);
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
