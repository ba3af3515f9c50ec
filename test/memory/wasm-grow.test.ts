/**
 * A real wasm module grows the memory an allocator manages (`memory.grow` inside the module,
 * not through `WasmMemory.grow`). Growth of a non-shared `WebAssembly.Memory` detaches the old
 * ArrayBuffer: cached views read `undefined` and drop writes (RELIABILITY.md §0 lesson 6, E1).
 * The allocator must notice on its next call, re-derive its views, and keep working.
 */

import { describe, expect, it } from "vitest";
import { InvalidPointerError } from "../../src/core/errors.js";
import { MAGIC } from "../../src/core/header.js";
import { Heap } from "../../src/heap/index.js";
import { WasmMemory } from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import {
  type GrowModule,
  growModuleBytes,
  instantiateGrowModule,
  uleb128,
} from "../helpers/wasm.js";

const PAGE = 65536;
/** The allocator's region starts here (the module's "heap base"). */
const HEAP_BASE = 1024;
const MAX_PAGES = 16;

function setup(initialPages = 1) {
  const memory = new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES });
  const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: MAX_PAGES });
  const wm = new WasmMemory(memory, HEAP_BASE);
  const bump = new BumpAllocator(wm);
  return { memory, mod, wm, bump };
}

/** How many words of `[from, to)` the module no longer reads as `value`. */
function changedWords(mod: GrowModule, from: number, to: number, value: number): number {
  let n = 0;
  for (let a = from; a < to; a += 4) if (mod.load(a) !== value) n++;
  return n;
}

/** The header's magic, read through the memory's current views. */
function headerMagic(wm: WasmMemory): number {
  return wm.f64[HEAP_BASE / 8];
}

describe("the test module (hand-assembled)", () => {
  it("validates and encodes LEB128 as the spec says", () => {
    expect(uleb128(0)).toEqual([0]);
    expect(uleb128(127)).toEqual([0x7f]);
    expect(uleb128(128)).toEqual([0x80, 0x01]);
    expect(uleb128(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(WebAssembly.validate(growModuleBytes({ minPages: 1 }))).toBe(true);
    expect(WebAssembly.validate(growModuleBytes({ minPages: 1, maxPages: 4 }))).toBe(true);
    expect(WebAssembly.validate(growModuleBytes({ minPages: 1, maxPages: 4, shared: true }))).toBe(
      true,
    );
  });

  it("stores, loads, reports its size and grows", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: 3 });
    mod.store(8, -2);
    expect(mod.load(8)).toBe(-2);
    expect(new Int32Array(memory.buffer)[2]).toBe(-2);
    expect(mod.size()).toBe(1);
    expect(mod.grow(1)).toBe(1); // returns the old size
    expect(mod.size()).toBe(2);
    expect(memory.buffer.byteLength).toBe(2 * PAGE);
    expect(mod.grow(5)).toBe(-1); // past the maximum: refused, nothing changes
    expect(mod.size()).toBe(2);
    expect(() => mod.load(2 * PAGE)).toThrow(WebAssembly.RuntimeError);
  });
});

describe("BumpAllocator over a WasmMemory the module grows", () => {
  it("keeps working across the module's memory.grow; writes land on both sides", () => {
    const { memory, mod, wm, bump } = setup();
    const p1 = bump.alloc(16);
    expect(p1).toBeGreaterThanOrEqual(HEAP_BASE);
    wm.i32[p1 >> 2] = 0x11223344;
    expect(mod.load(p1)).toBe(0x11223344);

    const staleU8 = wm.u8;
    const staleI32 = wm.i32;
    const staleBuffer = wm.buffer;
    const staleGeneration = wm.generation;
    expect(mod.grow(2)).toBe(1);

    // Detachment really happened: the old views are empty, reads give undefined.
    expect(staleU8.length).toBe(0);
    expect(staleBuffer.byteLength).toBe(0);
    expect(staleI32[p1 >> 2]).toBeUndefined();
    // The memory object itself has not looked yet.
    expect(wm.generation).toBe(staleGeneration);
    expect(wm.u8 === staleU8).toBe(true);

    // The allocator's next call notices and refreshes.
    const p2 = bump.alloc(32);
    expect(p2).toBeGreaterThan(p1);
    expect(wm.generation).toBeGreaterThan(staleGeneration);
    expect(wm.u8 === staleU8).toBe(false); // (toBe would try to print a detached array)
    expect(wm.u8.length).toBe(3 * PAGE);
    expect(wm.end).toBe(PAGE); // the module's pages are in the views, not in the region
    expect(wm.buffer).toBe(memory.buffer);

    // Writes through the refreshed views land where the module reads them, and vice versa.
    wm.i32[p2 >> 2] = 42;
    expect(mod.load(p2)).toBe(42);
    expect(mod.load(p1)).toBe(0x11223344); // the old block's contents survived the grow
    mod.store(p1 + 4, 777);
    expect(wm.i32[(p1 + 4) >> 2]).toBe(777);

    expect(bump.usableSize(p2)).toBe(32);
    bump.dealloc(p2); // the newest block: TOP rolls back
    expect(bump.alloc(32)).toBe(p2);

    // Header intact.
    expect(headerMagic(wm)).toBe(MAGIC);
    expect(() => bump.check()).not.toThrow();
    expect(bump.stats().capacity).toBe(PAGE - HEAP_BASE);
  });

  it("the first call after the grow may be alloc, dealloc, usableSize or stats", () => {
    const ops: Array<(bump: BumpAllocator, p: number) => unknown> = [
      (b) => b.alloc(8),
      (b, p) => b.dealloc(p),
      (b, p) => b.usableSize(p),
      (b) => b.stats(),
      (b) => b.check(),
      (b) => b.remaining(),
      (b, p) => b.realloc(p, 64),
      (b) => b.allocZeroed(24),
      (b) => b.mark(),
    ];
    for (const op of ops) {
      const { mod, wm, bump } = setup();
      const p = bump.alloc(16);
      wm.u8.fill(0xab, p, p + 16);
      const stale = wm.u8;
      expect(mod.grow(1)).toBe(1);
      expect(stale.length).toBe(0);
      expect(() => op(bump, p)).not.toThrow();
      expect(wm.u8.length).toBe(2 * PAGE);
      expect(headerMagic(wm)).toBe(MAGIC);
      expect(() => bump.check()).not.toThrow();
      // The block's bytes survived the grow (a bump never clears freed bytes either).
      expect(mod.load(p)).toBe(0xabababab | 0);
      expect(wm.u8[p + 15]).toBe(0xab);
    }
  });

  it("a write through a view cached before the grow is silently dropped (why views are re-read)", () => {
    const { mod, wm, bump } = setup();
    const p = bump.alloc(8);
    const cached = wm.u8;
    mod.grow(1);
    cached[p] = 99; // detached: no error, no effect
    expect(cached[p]).toBeUndefined();
    expect(mod.load(p)).toBe(0);
    wm.refresh();
    expect(wm.u8[p]).toBe(0);
  });

  it("memory.refresh() after the module's grow shows the allocator's and the module's writes", () => {
    const { memory, mod, wm, bump } = setup();
    const ptrs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const p = bump.alloc(4 + i);
      ptrs.push(p);
      wm.u32[p >> 2] = 0xc0de0000 + i;
    }
    const gen = wm.generation;
    mod.grow(3);
    expect(wm.refresh()).toBe(true);
    expect(wm.generation).toBe(gen + 1);
    expect(wm.u8.length).toBe(memory.buffer.byteLength);
    expect(wm.end).toBe(PAGE);
    expect(wm.refresh()).toBe(false); // nothing changed since
    expect(wm.generation).toBe(gen + 1);
    ptrs.forEach((p, i) => {
      expect(wm.u32[p >> 2]).toBe(0xc0de0000 + i);
    });
    // The module writes into new pages; the refreshed views see it.
    mod.store(3 * PAGE + 16, 123456);
    expect(wm.i32[(3 * PAGE + 16) >> 2]).toBe(123456);
    // The allocator (its views were refreshed by someone else) still works.
    const q = bump.alloc(8);
    expect(q).toBeGreaterThan(ptrs[9]!);
    wm.i32[q >> 2] = -7;
    expect(mod.load(q)).toBe(-7);
  });

  it("never hands out the module's pages: its own growth continues after them", () => {
    const { memory, mod, wm, bump } = setup();
    const p = bump.alloc(1000);
    mod.grow(3); // now 4 pages; pages 1-3 are the module's
    for (let a = PAGE; a < 4 * PAGE; a += 4) mod.store(a, 0x5a5a5a5a);
    // Larger than what is left of the first page: the arena grows past the module's pages.
    const q = bump.allocZeroed(2 * PAGE);
    expect(q).toBeGreaterThanOrEqual(4 * PAGE);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(q + 2 * PAGE);
    expect(wm.foreign).toEqual([[PAGE, 4 * PAGE]]);
    expect(wm.u8.subarray(q, q + 2 * PAGE).every((b) => b === 0)).toBe(true);
    // The module's pages are as it left them.
    expect(changedWords(mod, PAGE, 4 * PAGE, 0x5a5a5a5a)).toBe(0);
    expect(() => bump.check()).not.toThrow();
    expect(bump.usableSize(q)).toBe(2 * PAGE);
    // The stats count the module's pages as overhead, not as the arena's bytes.
    const s = bump.stats();
    expect(s.capacity).toBe(wm.end - HEAP_BASE);
    expect(s.inUse).toBe(q + 2 * PAGE - 3 * PAGE - p); // p is the arena's first byte
    expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
    expect(s.overhead).toBeGreaterThanOrEqual(3 * PAGE);
    // After a reset, blocks fill the first page, then jump the module's pages again.
    bump.reset();
    const blocks: number[] = [];
    for (let i = 0; i < 200; i++) {
      const b = bump.allocZeroed(1000);
      expect(b).not.toBe(0);
      expect(b + 1000 <= PAGE || b >= 4 * PAGE, `block ${b}`).toBe(true);
      expect(wm.u8.subarray(b, b + 1000).every((x) => x === 0)).toBe(true);
      wm.u8.fill(0xee, b, b + 1000);
      blocks.push(b);
    }
    expect(changedWords(mod, PAGE, 4 * PAGE, 0x5a5a5a5a)).toBe(0);
    expect(() => bump.check()).not.toThrow();
    expect(p).toBeLessThan(PAGE);
  });

  it("zeroed blocks never hold the module's bytes (issue 13: 31,576 of 96,000 were not 0)", () => {
    const { mod, wm, bump } = setup();
    mod.grow(2);
    for (let a = PAGE; a < 3 * PAGE; a += 4) mod.store(a, -1);
    let nonZero = 0;
    for (let i = 0; i < 96; i++) {
      const b = bump.allocZeroed(1000);
      expect(b).not.toBe(0);
      for (let k = 0; k < 1000; k++) if (wm.u8[b + k] !== 0) nonZero++;
    }
    expect(nonZero).toBe(0);
    expect(changedWords(mod, PAGE, 3 * PAGE, -1)).toBe(0);
  });

  it("grows past the module's pages up to the memory's maximum, then is out of memory", () => {
    const { memory, mod, wm, bump } = setup();
    mod.grow(1);
    const p = bump.alloc(3 * PAGE);
    expect(p).toBeGreaterThanOrEqual(2 * PAGE);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(p + 3 * PAGE);
    expect(mod.size() * PAGE).toBe(memory.buffer.byteLength);
    wm.i32[(p + 3 * PAGE - 4) >> 2] = 5;
    expect(mod.load(p + 3 * PAGE - 4)).toBe(5);

    // The engine's maximum is 16 pages (WasmMemory was told 65536): out of memory is 0.
    const before = bump.metadataBytes();
    expect(bump.alloc(MAX_PAGES * PAGE)).toBe(0);
    expect(bump.metadataBytes()).toEqual(before);
    expect(memory.buffer.byteLength).toBeLessThanOrEqual(MAX_PAGES * PAGE);
    // Still usable, and the module can still use its memory.
    const q = bump.alloc(16);
    expect(q).not.toBe(0);
    mod.store(q, 1);
    expect(wm.i32[q >> 2]).toBe(1);
    expect(() => bump.check()).not.toThrow();
  });

  it("survives many interleaved module grows (each detaching the buffer)", () => {
    const { memory, mod, wm, bump } = setup();
    const blocks: Array<{ p: number; v: number }> = [];
    let generations = wm.generation;
    for (let round = 0; round < MAX_PAGES - 1; round++) {
      const p = bump.alloc(64);
      expect(p).not.toBe(0);
      const v = (round * 2654435761) | 0;
      wm.i32[p >> 2] = v;
      blocks.push({ p, v });
      const stale = wm.u8;
      expect(mod.grow(1)).toBe(round + 1);
      expect(stale.length).toBe(0);
      // The allocator's next entry refreshes; usableSize of the newest block is known.
      expect(bump.usableSize(p)).toBe(64);
      expect(wm.generation).toBe(generations + 1);
      generations = wm.generation;
      for (const b of blocks) expect(mod.load(b.p)).toBe(b.v);
    }
    expect(memory.buffer.byteLength).toBe(MAX_PAGES * PAGE);
    expect(mod.grow(1)).toBe(-1);
    expect(() => bump.check()).not.toThrow();
  });

  it("a shared wasm memory grown by the module: new SAB object, old one not detached", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: 4, shared: true });
    const wm = new WasmMemory(memory, HEAP_BASE, 4);
    expect(wm.shared).toBe(true);
    const bump = new BumpAllocator(wm);
    const p = bump.alloc(16);
    const old = wm.u8;
    mod.grow(1);
    expect(old.length).toBe(PAGE); // shared buffers are never detached
    expect(wm.refresh()).toBe(true);
    expect(wm.end).toBe(2 * PAGE);
    // Past the allocator's END: it must pick up the module's page without growing again.
    const q = bump.alloc(PAGE);
    expect(q).not.toBe(0);
    expect(memory.buffer.byteLength).toBe(2 * PAGE);
    wm.i32[q >> 2] = 31337;
    expect(mod.load(q)).toBe(31337);
    expect(mod.load(p)).toBe(0);
    expect(() => bump.check()).not.toThrow();
  });
});

describe("Heap (TLSF) inside a module's memory that the module grows itself", () => {
  it("never hands out the module's pages nor assumes them zero; grows after them", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: MAX_PAGES });
    const heap = Heap.inWasmMemory(memory, HEAP_BASE);
    const early = heap.calloc(100, 8);
    expect(mod.grow(4)).toBe(1); // the module's own sbrk: pages 1-4 are its
    for (let a = PAGE; a < 5 * PAGE; a += 4) mod.store(a, -1);
    // calloc past the first page (issue 13: a C module's calloc got 139,432 non-zero bytes).
    const blocks: Array<[number, number]> = [];
    let nonZero = 0;
    for (let i = 0; i < 120; i++) {
      const n = 800 + i * 8;
      const p = heap.calloc(1, n);
      expect(p).not.toBe(0);
      for (let k = 0; k < n; k++) if (heap.u8[p + k] !== 0) nonZero++;
      heap.u8.fill(0x11, p, p + n);
      blocks.push([p, n]);
    }
    expect(nonZero).toBe(0);
    for (const [p, n] of blocks) {
      expect(p + n <= PAGE || p >= 5 * PAGE, `block ${p}`).toBe(true);
    }
    expect(changedWords(mod, PAGE, 5 * PAGE, -1)).toBe(0);
    expect(heap.memory.foreign).toEqual([[PAGE, 5 * PAGE]]);
    heap.check();
    const s = heap.stats();
    expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
    expect(s.overhead).toBeGreaterThanOrEqual(4 * PAGE);
    // A pointer into the module's pages is nobody's block.
    expect(() => heap.free(2 * PAGE)).toThrow(InvalidPointerError);
    expect(() => heap.free(PAGE + 8)).toThrow(InvalidPointerError);
    // Everything freed: the module's pages stay out of every free block.
    for (const [p] of blocks) heap.free(p);
    heap.free(early);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
    const big = heap.malloc(heap.stats().largestFree);
    expect(big >= 5 * PAGE || big + heap.usableSize(big) <= PAGE).toBe(true);
    expect(changedWords(mod, PAGE, 5 * PAGE, -1)).toBe(0);
    heap.check();
    // reset lays the heap out again around the module's pages: filled to the last block,
    // nothing lands on them.
    heap.reset();
    heap.check();
    let n = 0;
    for (let p = heap.malloc(48); p !== 0 && n < 100_000; p = heap.malloc(48), n++) {
      expect(p + 48 <= PAGE || p >= 5 * PAGE, `block ${p}`).toBe(true);
      heap.u8.fill(0x22, p, p + 48);
    }
    expect(n).toBeGreaterThan(1000);
    expect(changedWords(mod, PAGE, 5 * PAGE, -1)).toBe(0);
    heap.check();
  });
});
