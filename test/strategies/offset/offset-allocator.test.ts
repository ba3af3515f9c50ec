/**
 * What is special to the OffsetAllocator (the conformance kit covers the contract): it never
 * writes the bytes it manages, splits exactly and coalesces fully, aligns by leaving the
 * padding free, grows its node pool and a growable memory, spans a whole 4 GiB region,
 * reports free space, names misuse exactly without changing anything, and `check()` finds
 * corruption of each of its structures.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../../src/core/errors.js";
import {
  FixedMemory,
  GrowableMemory,
  OffsetMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import {
  BIN_HEAD,
  FL_MAP,
  FREE_GRANULES,
  type OffsetKernel,
} from "../../../src/strategies/offset/kernel.js";
import {
  BIN,
  BIN_NEXT,
  NEIGHBOR_PREV,
  NODE_SHIFT,
  OFFSET,
  SIZE,
  STATE,
  USED,
} from "../../../src/strategies/offset/nodes.js";
import { OffsetAllocator } from "../../../src/strategies/offset/offset-allocator.js";
import { expectRejected, metadataState } from "../../helpers/rejected.js";

const KIB = 1024;
const MIB = 1024 * KIB;

function kernel(a: OffsetAllocator): OffsetKernel {
  return (a as unknown as { k: OffsetKernel }).k;
}

describe("OffsetAllocator on an offset-only range", () => {
  it("new OffsetAllocator(capacity) hands out offsets in [16, capacity), exactly tiled", () => {
    const a = new OffsetAllocator(1 * MIB);
    expect(a.memory.kind).toBe("offset");
    const p = a.alloc(100);
    const q = a.alloc(1);
    const r = a.alloc(0);
    expect([p, q, r]).toEqual([16, 16 + 104, 16 + 112]);
    expect(a.usableSize(p)).toBe(104);
    expect(a.usableSize(r)).toBe(8);
    const s = a.stats();
    expect(s.inUse).toBe(120);
    expect(s.free).toBe(1 * MIB - 16 - 120);
    expect(s.overhead).toBe(16);
    a.check();
  });

  it("frees in any order back to one free block of the whole range", () => {
    const a = new OffsetAllocator(64 * KIB);
    const fresh = a.stats();
    const ptrs = [a.alloc(40), a.alloc(500), a.alloc(3000), a.alloc(8), a.alloc(1234)];
    for (const i of [1, 3, 0, 4, 2]) {
      a.dealloc(ptrs[i]);
      a.check();
    }
    expect({ ...a.stats(), peakInUse: 0 }).toEqual({ ...fresh, peakInUse: 0 });
    const report = a.freeSpaceReport();
    expect(report.freeBlocks).toBe(1);
    expect(report.largestFreeBlock).toBe(64 * KIB - 16);
    expect(a.alloc(64 * KIB - 16)).toBe(16);
  });

  it("serves a 4 GiB range: offsets above 2^31, a block of 4 GiB − 16 bytes", () => {
    const a = new OffsetAllocator(2 ** 32);
    expect(a.stats().largestFree).toBe(2 ** 32 - 16);
    const big = a.alloc(3 * 2 ** 30);
    const high = a.alloc(512 * MIB);
    expect(big).toBe(16);
    expect(high).toBe(16 + 3 * 2 ** 30);
    expect(high).toBeGreaterThan(2 ** 31);
    expect(a.alloc(512 * MIB)).toBe(0); // 16 bytes short
    expect(a.usableSize(high)).toBe(512 * MIB);
    a.dealloc(big);
    a.dealloc(high);
    expect(a.alloc(2 ** 32 - 16)).toBe(16);
    expect(a.alloc(8)).toBe(0);
    a.check();
  });

  it("aligns by leaving the padding as a free block, merged back on free", () => {
    const a = new OffsetAllocator(1 * MIB);
    const p = a.alloc(24);
    const q = a.alloc(100, 4096);
    expect(q % 4096).toBe(0);
    expect(q).toBe(4096);
    const report = a.freeSpaceReport();
    // [40, 4096) before q and the rest after it.
    expect(report.freeBlocks).toBe(2);
    expect(report.bins.map((b) => b.bytes).sort((x, y) => x - y)).toEqual([
      4096 - 40,
      1 * MIB - 4096 - 104,
    ]);
    a.dealloc(q);
    a.dealloc(p);
    expect(a.freeSpaceReport().freeBlocks).toBe(1);
    a.check();
  });

  it("keeps every block 16-aligned without padding when every request asks for 16", () => {
    const a = new OffsetAllocator(1 * MIB);
    const rng = fc.sample(fc.integer({ min: 1, max: 300 }), { numRuns: 400, seed: 7 });
    const live: number[] = [];
    for (const [i, n] of rng.entries()) {
      const p = a.alloc(n, 16);
      expect(p % 16).toBe(0);
      expect(a.usableSize(p) % 16).toBe(0);
      live.push(p);
      if (i % 3 === 2) a.dealloc(live.splice((i * 7) % live.length, 1)[0]);
    }
    const w = kernel(a).pool.words;
    for (let n = 1; n <= kernel(a).pool.top; n++) {
      if (w[(n << NODE_SHIFT) + STATE] !== 0) expect(w[(n << NODE_SHIFT) + OFFSET] % 2).toBe(0);
    }
    a.check();
  });

  it("grows its node pool from one node as blocks are made", () => {
    const a = new OffsetAllocator(1 * MIB, { nodeCapacity: 1 });
    expect(a.nodeCapacity).toBe(1);
    const ptrs: number[] = [];
    for (let i = 0; i < 1000; i++) ptrs.push(a.alloc(16));
    expect(ptrs.every((p) => p !== 0)).toBe(true);
    expect(a.nodeCapacity).toBeGreaterThanOrEqual(1001);
    for (const p of ptrs) a.dealloc(p);
    a.check();
    expect(a.freeSpaceReport().freeBlocks).toBe(1);
  });

  it("answers 0, changing nothing, when no free block fits", () => {
    const a = new OffsetAllocator(4 * KIB);
    const p = a.alloc(2000);
    const before = metadataState(a);
    expect(a.alloc(4 * KIB)).toBe(0);
    expect(a.alloc(2 ** 32 - 1)).toBe(0);
    expect(a.alloc(2 ** 40)).toBe(0);
    expect(a.alloc(3000, 4096)).toBe(0);
    expect(metadataState(a)).toBe(before);
    expect(a.allocOrThrow(8)).not.toBe(0);
    a.dealloc(p);
  });

  it("reset frees every block at once", () => {
    const a = new OffsetAllocator(64 * KIB);
    const fresh = a.stats();
    for (let i = 0; i < 50; i++) a.alloc(i * 13);
    a.reset();
    a.check();
    expect({ ...a.stats(), peakInUse: 0 }).toEqual({ ...fresh, peakInUse: 0 });
    expect(a.alloc(64 * KIB - 16)).toBe(16);
  });
});

describe("realloc", () => {
  it("shrinks in place, the tail joining the free block after it", () => {
    const a = new OffsetAllocator(64 * KIB);
    const p = a.alloc(1000);
    const q = a.alloc(100);
    a.dealloc(q);
    expect(a.realloc(p, 200)).toBe(p);
    expect(a.usableSize(p)).toBe(200);
    expect(a.freeSpaceReport().freeBlocks).toBe(1);
    a.check();
  });

  it("grows in place into the free block after it, else moves and copies the bytes", () => {
    const buf = new ArrayBuffer(64 * KIB);
    const a = new OffsetAllocator(new FixedMemory(buf));
    const u8 = new Uint8Array(buf);
    const p = a.alloc(100);
    u8.fill(7, p, p + 100);
    expect(a.realloc(p, 3000)).toBe(p);
    const fence = a.alloc(8);
    const q = a.realloc(p, 5000);
    expect(q).not.toBe(p);
    expect(q).toBeGreaterThan(fence);
    expect(u8.subarray(q, q + 100).every((x) => x === 7)).toBe(true);
    expectRejected(a, () => a.dealloc(p), DoubleFreeError);
    a.check();
  });

  it("grows the last block in place by growing a growable memory", () => {
    const memory = new GrowableMemory(64 * KIB, 4 * MIB);
    const a = new OffsetAllocator(memory);
    a.alloc(1000);
    const p = a.alloc(60 * KIB);
    expect(a.realloc(p, 1 * MIB)).toBe(p);
    expect(memory.end).toBeGreaterThanOrEqual(p + 1 * MIB);
    expect(a.usableSize(p)).toBe(1 * MIB);
    // A block that ends the heap exactly, too.
    const q = a.alloc(a.stats().largestFree);
    expect(a.stats().largestFree).toBe(0);
    expect(a.realloc(q, a.usableSize(q) + 8)).toBe(q);
    a.check();
  });

  it("moves a block that is not aligned as asked", () => {
    const a = new OffsetAllocator(64 * KIB);
    a.alloc(8);
    const p = a.alloc(8);
    expect(p % 64).not.toBe(0);
    const q = a.realloc(p, 8, 64);
    expect(q % 64).toBe(0);
    expectRejected(a, () => a.usableSize(p), DoubleFreeError);
  });
});

describe("memories", () => {
  it("never writes the bytes of a memory it manages (its header aside)", () => {
    const buf = new ArrayBuffer(256 * KIB);
    const u8 = new Uint8Array(buf);
    u8.fill(0xa5);
    const a = new OffsetAllocator(new FixedMemory(buf, 40, 200 * KIB));
    const header = 40 + 64; // the common header, 64 bytes at the region's start
    const before = u8.slice(header);
    const live: number[] = [];
    const ops = fc.sample(fc.tuple(fc.nat(4000), fc.nat(7), fc.nat(999)), {
      numRuns: 2000,
      seed: 11,
    });
    for (const [size, alignLog, pick] of ops) {
      if (pick % 3 === 0 && live.length > 0) {
        const i = pick % live.length;
        const p = live[i];
        if (pick % 2 === 0) {
          a.dealloc(p);
          live.splice(i, 1);
        } else {
          // In place nothing is written; a move copies the old block's bytes, nothing else.
          const old = a.usableSize(p);
          const newSize = pick % 4 === 1 ? Math.max(1, old >> 1) : old + size;
          const q = a.realloc(p, newSize);
          if (q === 0) continue;
          if (newSize <= old) expect(q).toBe(p);
          if (q !== p) before.copyWithin(q - header, p - header, p - header + old);
          live[i] = q;
        }
      } else {
        const p = a.alloc(size, 2 ** alignLog);
        if (p !== 0) live.push(p);
      }
    }
    a.check();
    expect(Buffer.compare(Buffer.from(u8.subarray(header)), Buffer.from(before))).toBe(0);
  });

  it("grows a growable memory when no block fits, joining the free end", () => {
    const memory = new GrowableMemory(64 * KIB, 4 * MIB);
    const a = new OffsetAllocator(memory);
    const p = a.alloc(60 * KIB);
    const q = a.alloc(100 * KIB);
    expect(q).not.toBe(0);
    expect(memory.end).toBeGreaterThanOrEqual(q + 100 * KIB);
    a.dealloc(p);
    a.dealloc(q);
    expect(a.freeSpaceReport().freeBlocks).toBe(1);
    expect(a.alloc(5 * MIB)).toBe(0);
    a.check();
  });

  it("grows a WebAssembly.Memory and keeps its header in band", () => {
    const memory = WasmMemory.create(1, 64);
    const a = new OffsetAllocator(memory);
    const p = a.alloc(200 * KIB, 4096);
    expect(p % 4096).toBe(0);
    expect(memory.end).toBeGreaterThanOrEqual(p + 200 * KIB);
    a.check();
  });

  it("does not grow with grow: false", () => {
    const memory = new GrowableMemory(64 * KIB, 4 * MIB);
    const a = new OffsetAllocator(memory, { grow: false });
    expect(a.alloc(100 * KIB)).toBe(0);
    expect(memory.end).toBe(64 * KIB);
  });

  it("ignores the bytes past the last whole granule of an odd-sized region", () => {
    const a = new OffsetAllocator(new OffsetMemory(3, 1003));
    expect(a.stats().largestFree).toBe(1000 - 16);
    expect(a.alloc(984)).toBe(16);
  });

  it("rejects options it cannot honour", () => {
    expect(() => new OffsetAllocator(new OffsetMemory(0, 8))).toThrow(ArgumentRangeError);
    expect(() => new OffsetAllocator(1024, { attach: true })).toThrow(ArgumentTypeError);
    expect(() => new OffsetAllocator(1024, { nodeCapacity: 0 })).toThrow(ArgumentRangeError);
    expect(() => new OffsetAllocator(1024, { nodeCapacity: 1.5 })).toThrow(ArgumentRangeError);
    expect(() => new OffsetAllocator(2 ** 32 + 8)).toThrow(ArgumentRangeError);
  });
});

describe("misuse", () => {
  it("names a double free even after the block merged into a neighbour", () => {
    const a = new OffsetAllocator(64 * KIB);
    const p = a.alloc(100);
    const q = a.alloc(100);
    a.alloc(100);
    a.dealloc(p);
    a.dealloc(q); // q merges into p's free block
    expectRejected(a, () => a.dealloc(q), DoubleFreeError);
    expectRejected(a, () => a.dealloc(p), DoubleFreeError);
    expectRejected(a, () => a.realloc(q, 10), DoubleFreeError);
  });

  it("rejects interior, misaligned and outside pointers and wrong sizes", () => {
    const a = new OffsetAllocator(64 * KIB);
    const p = a.alloc(100);
    expectRejected(a, () => a.dealloc(p + 8), InvalidPointerError);
    expectRejected(a, () => a.dealloc(p + 1), InvalidPointerError);
    expectRejected(a, () => a.dealloc(8), InvalidPointerError);
    expectRejected(a, () => a.dealloc(64 * KIB), InvalidPointerError);
    expectRejected(a, () => a.dealloc(-16), InvalidPointerError);
    expectRejected(a, () => a.dealloc(p, 105), LayoutMismatchError);
    expectRejected(a, () => a.dealloc(p, -1), ArgumentRangeError);
    expectRejected(a, () => a.alloc(8, 3), ArgumentRangeError);
    a.dealloc(p, 104);
  });
});

describe("stats().largestFree", () => {
  it("is exactly the largest request alloc serves, whatever the free blocks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()), {
          maxLength: 60,
        }),
        (ops) => {
          const a = new OffsetAllocator(256 * KIB);
          const live: number[] = [];
          for (const [n, free] of ops) {
            if (free && live.length > 0) a.dealloc(live.splice(n % live.length, 1)[0]);
            else {
              const p = a.alloc(n);
              if (p !== 0) live.push(p);
            }
          }
          const largest = a.stats().largestFree;
          const report = a.freeSpaceReport();
          expect(report.largestFreeBlock).toBeGreaterThanOrEqual(largest);
          expect(report.totalFree).toBe(a.stats().free);
          expect(report.bins.reduce((s, b) => s + b.blocks, 0)).toBe(report.freeBlocks);
          for (const b of report.bins) {
            expect(b.bytes).toBeGreaterThanOrEqual(b.blocks * b.minSize);
            expect(b.bytes).toBeLessThanOrEqual(b.blocks * b.maxSize);
          }
          if (largest > 0) {
            const before = metadataState(a);
            expect(a.alloc(largest + 8)).toBe(0);
            expect(metadataState(a)).toBe(before);
            expect(a.alloc(largest)).not.toBe(0);
          }
          a.check();
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });
});

describe("check()", () => {
  /** A heap with used and free blocks of several bins, and the kernel to break. */
  function heap(): { a: OffsetAllocator; k: OffsetKernel; used: number; free: number } {
    const a = new OffsetAllocator(64 * KIB);
    const ptrs = [40, 300, 2000, 16, 700, 5000].map((n) => a.alloc(n));
    a.dealloc(ptrs[1]);
    a.dealloc(ptrs[4]);
    const k = kernel(a);
    const used = k.usedBlockAt(ptrs[2] / 8);
    const free = k.s[BIN_HEAD + 0] || findFree(k);
    a.check();
    return { a, k, used, free };
  }

  function findFree(k: OffsetKernel): number {
    for (let n = 1; n <= k.pool.top; n++)
      if (k.pool.words[(n << NODE_SHIFT) + STATE] === 1) return n;
    throw new Error("no free node");
  }

  const corruptions: [string, (h: ReturnType<typeof heap>) => void][] = [
    ["a used block's size", (h) => h.k.pool.words[(h.used << NODE_SHIFT) + SIZE]++],
    ["a neighbour link", (h) => (h.k.pool.words[(h.used << NODE_SHIFT) + NEIGHBOR_PREV] = 0)],
    ["a free block marked used", (h) => (h.k.pool.words[(h.free << NODE_SHIFT) + STATE] = USED)],
    ["a bin link", (h) => (h.k.pool.words[(h.free << NODE_SHIFT) + BIN_NEXT] = h.used)],
    ["the first-level bitmap", (h) => (h.k.s[FL_MAP] ^= 1 << 20)],
    ["the free counter", (h) => h.k.s[FREE_GRANULES]--],
    [
      "a live-table slot",
      (h) => {
        const slots = h.k.table.slots; // (offset, node) pairs
        for (let i = 0; i < slots.length; i += 2)
          if (slots[i + 1] === h.used) slots[i + 1] = h.free;
      },
    ],
    ["a free block's bin", (h) => h.k.pool.words[(h.free << NODE_SHIFT) + BIN]++],
    ["a lost node", (h) => h.k.pool.counts[0]++],
  ];

  for (const [what, breakIt] of corruptions) {
    it(`finds ${what} broken, and poisons the heap`, () => {
      const h = heap();
      h.k.pool.reserve(1); // room for the lost node
      breakIt(h);
      expect(() => h.a.check()).toThrow(HeapCorruptedError);
      expect(h.a.poisoned).toBe(true);
      expect(() => h.a.alloc(8)).toThrow(HeapPoisonedError);
    });
  }
});
