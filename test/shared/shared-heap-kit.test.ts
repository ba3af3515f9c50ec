/**
 * What the conformance kit found in SharedHeap (test/conformance: the registry's
 * SHARED_REGISTRY), pinned as plain tests: corruption the wrapped TLSF finds in a locked
 * call poisons the whole shared heap, the lock-free cache paths included; a size no memory
 * can hold fails without giving cache pages back; `metadataBytes` covers the state outside
 * the memory, so the kit can tell a rejected call changed nothing.
 */

import { describe, expect, it } from "vitest";
import { DoubleFreeError, HeapCorruptedError, HeapPoisonedError } from "../../src/core/errors.js";
import { SharedHeap } from "../../src/shared/shared-heap.js";
import { thrown } from "../helpers/thrown.js";

/** A heap with a small block in this agent's cache and two TLSF blocks, A then B. */
function heapWithBlocks() {
  const heap = SharedHeap.create({ initialBytes: 1 << 16 });
  const small = heap.alloc(8);
  const a = heap.alloc(2000);
  const b = heap.alloc(2000);
  expect(heap.cacheStats().liveBlocks).toBe(1);
  return { heap, small, a, b };
}

/** Damages the 8 bytes past A's usable end: B's size word. */
function writePast(heap: SharedHeap, a: number): void {
  const end = a + heap.usableSize(a);
  for (let i = 0; i < 8; i++) heap.memory.u8[end + i] ^= 0x55;
}

describe("SharedHeap: corruption found poisons the shared heap", () => {
  it("found by a locked dealloc: every later call, the cache's too, throws HeapPoisonedError", () => {
    const { heap, small, a, b } = heapWithBlocks();
    writePast(heap, a);
    const e = thrown(() => heap.dealloc(b));
    expect(e).toBeInstanceOf(HeapCorruptedError);
    expect((e as HeapCorruptedError).code).toBe("ERR_HEAP_CORRUPTED");
    expect(heap.poisoned).toBe(true);
    // Small requests are served lock-free from the cache while nothing needs attention.
    expect(() => heap.alloc(8)).toThrow(HeapPoisonedError);
    expect(() => heap.dealloc(small)).toThrow(HeapPoisonedError);
    expect(() => heap.check()).toThrow(HeapPoisonedError);
    // And in every other agent.
    expect(() => SharedHeap.attach(heap.share())).toThrow(HeapPoisonedError);
  });

  it("found by check(): HeapCorruptedError (ERR_HEAP_CORRUPTED) first, then poisoned", () => {
    const { heap, small, a } = heapWithBlocks();
    writePast(heap, a);
    const e = thrown(() => heap.check());
    expect(e).toBeInstanceOf(HeapCorruptedError);
    expect((e as HeapCorruptedError).code).toBe("ERR_HEAP_CORRUPTED");
    expect(heap.poisoned).toBe(true);
    expect(() => heap.alloc(8)).toThrow(HeapPoisonedError);
    expect(() => heap.dealloc(small)).toThrow(HeapPoisonedError);
  });

  it("a caller's mistake does not poison", () => {
    const { heap, small, a } = heapWithBlocks();
    heap.dealloc(a);
    expect(() => heap.dealloc(a)).toThrow(DoubleFreeError);
    heap.dealloc(small);
    expect(() => heap.dealloc(small)).toThrow(DoubleFreeError);
    expect(heap.poisoned).toBe(false);
    heap.check();
  });
});

describe("SharedHeap: a failed allocation changes nothing", () => {
  it("a size no memory can hold keeps the parked cache pages", () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    heap.dealloc(heap.alloc(8)); // the page is empty now, and parked
    expect(heap.cacheStats().pages).toBe(1);
    const meta = heap.metadataBytes();
    const stats = JSON.stringify(heap.stats());
    for (const n of [2 ** 32 - 1, 2 ** 40, heap.memory.maxEnd + 1]) {
      expect(heap.alloc(n)).toBe(0);
      expect(heap.allocZeroed(n)).toBe(0);
    }
    expect(heap.cacheStats().pages).toBe(1);
    expect(Buffer.compare(heap.metadataBytes(), meta)).toBe(0);
    expect(JSON.stringify(heap.stats())).toBe(stats);
  });

  it("a size the memory could hold still gets the parked pages back", () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    heap.dealloc(heap.alloc(8));
    const free = heap.stats().largestFree;
    // Only with the parked page given back does TLSF have a block this large.
    const p = heap.alloc(free + 4096);
    expect(p).not.toBe(0);
    expect(heap.cacheStats().pages).toBe(0);
  });
});

describe("SharedHeap.metadataBytes", () => {
  it("changes with the live map and the cache, not with a rejected call", () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    const m0 = heap.metadataBytes();
    const p = heap.alloc(2000); // a TLSF block: the live map changes
    const m1 = heap.metadataBytes();
    expect(Buffer.compare(m0, m1)).not.toBe(0);
    const q = heap.alloc(8); // a cache block: the cache buffer changes
    const m2 = heap.metadataBytes();
    expect(Buffer.compare(m1, m2)).not.toBe(0);
    expect(() => heap.dealloc(p + 8)).toThrow();
    expect(() => heap.dealloc(q + 1)).toThrow();
    expect(() => heap.realloc(p, Number.NaN)).toThrow();
    expect(Buffer.compare(heap.metadataBytes(), m2)).toBe(0);
  });
});
