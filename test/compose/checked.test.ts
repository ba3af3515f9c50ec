import { describe, expect, it } from "vitest";
import { CheckedAllocator } from "../../src/compose/checked.js";
import { HeapCorruptedError, HeapPoisonedError } from "../../src/core/errors.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";

describe("CheckedAllocator", () => {
  it("passes calls through while the heap is sound", () => {
    const a = new CheckedAllocator(new TlsfAllocator(1 << 16));
    const p = a.alloc(100);
    const q = a.realloc(p, 200);
    expect(a.usableSize(q)).toBeGreaterThanOrEqual(200);
    a.dealloc(q);
    expect(a.stats().liveBlocks).toBe(0);
  });

  it("reports corruption at the next call, then the heap stays poisoned", () => {
    const inner = new TlsfAllocator(1 << 16);
    const a = new CheckedAllocator(inner);
    const p = a.alloc(64);
    // Overflow the block: write over the size word of the block after it.
    inner.memory.u8.fill(0xff, p, p + 80);
    expect(() => a.alloc(8)).toThrow(HeapCorruptedError);
    expect(() => inner.alloc(8)).toThrow(HeapPoisonedError);
  });
});
