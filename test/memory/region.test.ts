/**
 * The memory kinds, part 3 (part 1: memory.test.ts): `region()`, a sub-range that follows
 * its parent's growth, and growing past the maximum, which is out of memory (0) for an
 * allocator on each growing kind, never an exception, with the allocator still usable.
 */

import { describe, expect, it } from "vitest";
import { MAGIC } from "../../src/core/header.js";
import {
  FixedMemory,
  GrowableMemory,
  type Memory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { expectArgTypeError, expectMemoryRangeError, PAGE, snapshot } from "./helpers.js";

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
    expect(parent.end).toBe(PAGE); // the new page is not the parent's
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
