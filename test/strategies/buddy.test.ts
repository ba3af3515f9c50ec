/**
 * What is special to the BuddyAllocator (the conformance kit covers the contract): the
 * size-to-order mapping, splitting and full coalescing into the canonical tiling, alignment
 * by order, the exact dealloc checks (double free after a merge, interior pointers, the size
 * rule), in-place realloc, non-power-of-two regions and top-level blocks, growth of growable
 * memories, offset-only memories, attach, and corruption detection by `check()`.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { COMMON_SLOTS } from "../../src/core/header.js";
import {
  FixedMemory,
  GrowableMemory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import { BuddyAllocator, buddyOrder } from "../../src/strategies/buddy/index.js";
import { expectRejected, metadataState } from "../helpers/rejected.js";

const KIB = 1024;
/** Header bytes of a buddy heap: 8 common + 8 buddy float64 slots. */
const HEADER_BYTES = (COMMON_SLOTS + 8) * 8;

/** The metadata words (after the header): equal words mean the same blocks. */
function words(a: BuddyAllocator): Uint8Array {
  return a.metadataBytes().slice(HEADER_BYTES);
}

describe("buddyOrder", () => {
  it("is the smallest order whose block holds the bytes, for every unit size", () => {
    const wrong: string[] = [];
    for (let log2Unit = 3; log2Unit <= 8; log2Unit++) {
      const unit = 2 ** log2Unit;
      let order = 0;
      for (let bytes = 0; bytes <= 1 << 16; bytes++) {
        if (bytes > unit * 2 ** order) order++;
        const got = buddyOrder(bytes, log2Unit);
        if (got !== order) wrong.push(`buddyOrder(${bytes}, ${log2Unit}) = ${got}, not ${order}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("is exact up to 2^32 - 1", () => {
    expect(buddyOrder(2 ** 31, 3)).toBe(28);
    expect(buddyOrder(2 ** 31 + 1, 3)).toBe(29);
    expect(buddyOrder(2 ** 32 - 1, 3)).toBe(29);
    expect(buddyOrder(2 ** 32 - 1, 4)).toBe(28);
  });
});

describe("layout of the span", () => {
  it("a power-of-two capacity is one top-level block, aligned to its size", () => {
    const a = new BuddyAllocator(64 * KIB);
    expect(a.minBlockSize).toBe(16);
    expect(a.maxBlockSize).toBe(64 * KIB);
    expect(a.orders).toBe(13);
    const s = a.stats();
    expect(s.free).toBe(64 * KIB);
    expect(s.largestFree).toBe(64 * KIB);
    const p = a.alloc(64 * KIB, 1);
    expect(p % (64 * KIB)).toBe(0);
    expect(a.alloc(0)).toBe(0);
    a.dealloc(p);
    a.check();
  });

  it("tiles a region that is not a power of two with the largest aligned blocks", () => {
    // 100 KiB at an odd offset: the blocks cover everything after the metadata.
    const mem = new FixedMemory(new ArrayBuffer(200 * KIB), 4100, 100 * KIB);
    const a = new BuddyAllocator(mem, { minBlockSize: 16 });
    const s = a.stats();
    // Every byte from the first whole unit after the metadata to the last whole unit is free.
    const dataStart = 4104 + BuddyAllocator.metadataSize(100 * KIB, { minBlockSize: 16 });
    const first = Math.ceil(dataStart / 16) * 16;
    const last = Math.floor(mem.end / 16) * 16;
    expect(s.free).toBe(last - first);
    // every free block is aligned to its size (up to 64 KiB)
    const taken: number[] = [];
    for (let n = s.largestFree; n > 0; n = a.stats().largestFree) {
      const p = a.alloc(n, 1);
      expect(p % Math.min(n, 64 * KIB)).toBe(0);
      taken.push(p);
    }
    expect(a.stats().free).toBe(0);
    for (const p of taken) a.dealloc(p);
    expect({ ...a.stats(), peakInUse: 0 }).toEqual(s);
    a.check();
  });

  it("maxBlockSize makes several top-level blocks that never merge", () => {
    const a = new BuddyAllocator(64 * KIB, { maxBlockSize: 8 * KIB });
    expect(a.maxBlockSize).toBe(8 * KIB);
    expect(a.orders).toBe(10);
    expect(a.freeBlockCount(9)).toBe(8);
    expect(a.stats().largestFree).toBe(8 * KIB);
    expect(a.alloc(8 * KIB + 1)).toBe(0);
    const ps = Array.from({ length: 8 }, () => a.alloc(8 * KIB));
    expect(new Set(ps).size).toBe(8);
    for (const p of ps) a.dealloc(p);
    expect(a.freeBlockCount(9)).toBe(8);
    a.check();
  });

  it("rejects bad options", () => {
    expect(() => new BuddyAllocator(4096, { minBlockSize: 4 })).toThrow(ArgumentRangeError);
    expect(() => new BuddyAllocator(4096, { minBlockSize: 24 })).toThrow(ArgumentRangeError);
    expect(() => new BuddyAllocator(4096, { minBlockSize: 64, maxBlockSize: 32 })).toThrow(
      ArgumentRangeError,
    );
    const tiny = new FixedMemory(new ArrayBuffer(200), 0, 200);
    expect(() => new BuddyAllocator(tiny, { minBlockSize: 256 })).toThrow(ArgumentRangeError);
  });

  it("metadata is about half a byte per smallest block", () => {
    const per16 = BuddyAllocator.metadataSize(1 << 20, { minBlockSize: 16 });
    expect(per16).toBeLessThan(((1 << 20) / 16) * 0.55 + 1024);
    expect(BuddyAllocator.metadataSize(1 << 20, { minBlockSize: 8 })).toBeGreaterThan(per16);
  });
});

describe("splitting and coalescing", () => {
  it("a smallest block splits the span once per order and merges back", () => {
    const a = new BuddyAllocator(64 * KIB, { minBlockSize: 16 });
    const fresh = words(a);
    const p = a.alloc(1);
    expect(a.usableSize(p)).toBe(16);
    for (let k = 0; k < 12; k++) expect(a.freeBlockCount(k)).toBe(1);
    expect(a.freeBlockCount(12)).toBe(0);
    a.check();
    a.dealloc(p);
    expect(words(a)).toEqual(fresh);
  });

  it("takes the lowest free block first", () => {
    const a = new BuddyAllocator(4 * KIB, { minBlockSize: 16 });
    const ps = Array.from({ length: 8 }, () => a.alloc(16));
    for (let i = 1; i < ps.length; i++) expect(ps[i]).toBe(ps[0] + 16 * i);
    a.dealloc(ps[2]);
    expect(a.alloc(16)).toBe(ps[2]);
  });

  it("freeing everything in any order gives back the fresh tiling", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 9 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.func(fc.integer()),
        (reqs, key) => {
          const a = new BuddyAllocator(64 * KIB, { minBlockSize: 16 });
          const fresh = words(a);
          const live: number[] = [];
          for (const [size, alignLog] of reqs) {
            const p = a.alloc(size, 2 ** alignLog);
            if (p !== 0) {
              expect(p % 2 ** alignLog).toBe(0);
              live.push(p);
            }
          }
          a.check();
          live.sort((x, y) => key(x) - key(y));
          for (const p of live) a.dealloc(p);
          a.check();
          expect(words(a)).toEqual(fresh);
          expect(a.stats().largestFree).toBe(64 * KIB);
        },
      ),
      { numRuns: 300, seed: 4242 },
    );
  });

  it("reset gives the same tiling as freeing everything", () => {
    const a = new BuddyAllocator(64 * KIB);
    const fresh = words(a);
    for (let i = 0; i < 50; i++) a.alloc(i * 37);
    a.reset();
    expect(words(a)).toEqual(fresh);
    expect(a.stats().liveBlocks).toBe(0);
    expect(a.stats().peakInUse).toBe(0);
  });
});

describe("alignment", () => {
  it("serves an alignment with the order whose blocks are that aligned", () => {
    const a = new BuddyAllocator(256 * KIB, { minBlockSize: 16 });
    const small = a.alloc(16); // makes the lowest blocks of every order unaligned to 64 KiB
    for (let align = 8; align <= 65536; align *= 2) {
      const p = a.alloc(8, align);
      expect(p).not.toBe(0);
      expect(p % align).toBe(0);
      expect(a.usableSize(p)).toBe(Math.max(16, align));
      a.dealloc(p, 8); // the order was raised by the alignment: size 8 is accepted
    }
    a.dealloc(small);
    a.check();
  });

  it("blocks are aligned to their size in absolute addresses, wherever the region starts", () => {
    const mem = new FixedMemory(new ArrayBuffer(300 * KIB), 1000, 260 * KIB);
    const a = new BuddyAllocator(mem, { minBlockSize: 8 });
    const p = a.alloc(64 * KIB, 1);
    expect(p % (64 * KIB)).toBe(0);
    const q = a.alloc(3000, 1);
    expect(q % 4096).toBe(0);
  });
});

describe("dealloc checks", () => {
  it("a double free is detected also after the block merged with its buddy", () => {
    const a = new BuddyAllocator(4 * KIB);
    const x = a.alloc(16);
    const y = a.alloc(16);
    expect(y).toBe(x + 16);
    a.dealloc(y);
    expectRejected(a, () => a.dealloc(y), DoubleFreeError);
    a.dealloc(x); // merges x and y, and on up
    expectRejected(a, () => a.dealloc(y), DoubleFreeError);
    expectRejected(a, () => a.dealloc(x), DoubleFreeError);
    expectRejected(a, () => a.realloc(x, 32), DoubleFreeError);
    expectRejected(a, () => a.usableSize(x), DoubleFreeError);
  });

  it("rejects interior, misaligned and out-of-range pointers, changing nothing", () => {
    const mem = new FixedMemory(new ArrayBuffer(16 * KIB), 0, 16 * KIB);
    const a = new BuddyAllocator(mem, { minBlockSize: 16 });
    const p = a.alloc(256);
    expectRejected(a, () => a.dealloc(p + 16), InvalidPointerError); // a unit inside a live block
    expectRejected(a, () => a.dealloc(p + 128), InvalidPointerError);
    expectRejected(a, () => a.dealloc(p + 8), InvalidPointerError); // not on a unit boundary
    expectRejected(a, () => a.dealloc(16), InvalidPointerError); // the header
    expectRejected(a, () => a.dealloc(mem.end), InvalidPointerError);
    expectRejected(a, () => a.dealloc(-16), InvalidPointerError);
    expectRejected(a, () => a.dealloc(p + 0.5), InvalidPointerError);
    expect(a.usableSize(p)).toBe(256);
  });

  it("checks the size: not larger than the block, not a smaller order", () => {
    const a = new BuddyAllocator(4 * KIB, { minBlockSize: 16 });
    const p = a.alloc(100); // a 128-byte block: sizes 65 … 128 map to it
    expectRejected(a, () => a.dealloc(p, 129), LayoutMismatchError);
    expectRejected(a, () => a.dealloc(p, 64), LayoutMismatchError);
    expectRejected(a, () => a.dealloc(p, 0), LayoutMismatchError);
    expectRejected(a, () => a.dealloc(p, 2 ** 32), LayoutMismatchError);
    a.dealloc(p, 65);
    const q = a.alloc(0); // one unit: sizes 0 … 16
    a.dealloc(q, 0);
    const r = a.alloc(16);
    a.dealloc(r, 16);
    const s = a.alloc(100, 512); // raised by its alignment: any size ≤ 512
    a.dealloc(s, 1);
    a.check();
  });
});

describe("realloc", () => {
  it("shrinks in place, freeing the upper halves", () => {
    const a = new BuddyAllocator(4 * KIB, { minBlockSize: 16 });
    const p = a.alloc(1024);
    a.memory.u8.fill(7, p, p + 1024);
    const free = a.stats().free;
    expect(a.realloc(p, 100)).toBe(p);
    expect(a.usableSize(p)).toBe(128);
    expect(a.stats().free).toBe(free + 1024 - 128);
    expect(a.memory.u8[p + 99]).toBe(7);
    a.dealloc(p, 100);
    a.check();
  });

  it("grows in place while the upper buddies are free", () => {
    const a = new BuddyAllocator(4 * KIB, { minBlockSize: 16 });
    const p = a.alloc(16);
    expect(a.realloc(p, 1000)).toBe(p);
    expect(a.usableSize(p)).toBe(1024);
    a.check();
    const q = a.alloc(1024); // the next 1024 block: p's buddy at order 6 is now live
    expect(q).toBe(p + 1024);
    a.memory.u8.fill(9, p, p + 1024);
    const moved = a.realloc(p, 2048);
    expect(moved).not.toBe(p);
    expect(moved).not.toBe(0);
    expect(a.memory.u8.subarray(moved, moved + 1024).every((b) => b === 9)).toBe(true);
    expect(() => a.usableSize(p)).toThrow(DoubleFreeError);
    a.check();
  });

  it("moves a block whose address lacks the new alignment", () => {
    const a = new BuddyAllocator(8 * KIB, { minBlockSize: 16 });
    a.alloc(16);
    const p = a.alloc(16);
    expect(p % 32).not.toBe(0);
    const q = a.realloc(p, 16, 1024);
    expect(q % 1024).toBe(0);
    a.check();
  });

  it("returns 0 and keeps the block when nothing fits", () => {
    const a = new BuddyAllocator(4 * KIB);
    const p = a.alloc(16);
    a.alloc(2048);
    const before = metadataState(a);
    expect(a.realloc(p, 4096)).toBe(0);
    expect(a.realloc(p, 2 ** 32 - 1)).toBe(0);
    expect(metadataState(a)).toBe(before);
  });
});

describe("memories", () => {
  it("works on an offset-only memory: nothing is stored in the blocks", () => {
    const mem = new OffsetMemory(0, 1 << 20);
    const a = new BuddyAllocator(mem, { minBlockSize: 64 });
    const p = a.alloc(1);
    expect(p).toBe(64); // unit 0 holds the null pointer, so it is a hole
    const q = a.alloc(512 * KIB, 1);
    expect(q).toBe(512 * KIB);
    expect(a.stats().free).toBe((1 << 20) - 64 - 64 - 512 * KIB);
    a.dealloc(p);
    a.dealloc(q);
    expect(a.stats().largestFree).toBe(512 * KIB);
    a.check();
  });

  it("grows a growable memory only when the new span is sure to hold the block", () => {
    const mem = new GrowableMemory(16 * KIB, 1 << 20);
    const a = new BuddyAllocator(mem, { maxCapacity: 1 << 20 });
    expect(a.maxBlockSize).toBe(512 * KIB);
    // The metadata for 1 MiB (about 34 KiB) did not fit in 16 KiB: the memory grew for it.
    expect(a.stats().capacity).toBe(64 * KIB);
    const big = a.alloc(256 * KIB);
    expect(big).not.toBe(0);
    expect(mem.end).toBeGreaterThanOrEqual(big + 256 * KIB);
    a.check();
    // Impossible requests change nothing, memory included.
    const before = metadataState(a);
    const end = mem.end;
    expect(a.alloc(1 << 20)).toBe(0);
    expect(mem.end).toBe(end);
    expect(metadataState(a)).toBe(before);
    // Filling the rest grows up to the maximum; freeing all gives the canonical tiling.
    const ps = [big];
    for (let p = a.alloc(8 * KIB); p !== 0; p = a.alloc(8 * KIB)) ps.push(p);
    expect(mem.end).toBe(1 << 20);
    for (const p of ps) a.dealloc(p);
    a.check();
    const grown = words(a);
    a.reset();
    expect(words(a)).toEqual(grown);
  });

  it("merges the blocks below the old end with the new ones", () => {
    const mem = new GrowableMemory(96 * KIB, 256 * KIB);
    const a = new BuddyAllocator(mem, { maxCapacity: 256 * KIB, minBlockSize: 16 });
    // [64K, 96K) is one free 32 KiB block below the end; a 64 KiB request takes
    // [64K, 128K) once the memory grows past 128 KiB.
    const lowest = a.alloc(32 * KIB);
    expect(lowest).toBe(32 * KIB);
    const p = a.alloc(64 * KIB, 1);
    expect(p).toBe(64 * KIB);
    a.check();
  });

  it("keeps a live block below the old end whole when new blocks are added above it", () => {
    const mem = new GrowableMemory(96 * KIB, 256 * KIB);
    const a = new BuddyAllocator(mem, { maxCapacity: 256 * KIB, minBlockSize: 16 });
    const low = a.alloc(32 * KIB);
    const high = a.alloc(32 * KIB); // [64K, 96K): live, right below the end
    expect(high).toBe(64 * KIB);
    // [64K, 128K) cannot become one block: a new 64 KiB block at 128K, the memory grows to it.
    const p = a.alloc(64 * KIB, 1);
    expect(p).toBe(128 * KIB);
    a.check();
    expect(a.usableSize(high)).toBe(32 * KIB);
    expect(a.alloc(32 * KIB)).toBe(96 * KIB); // the new block beside `high`
    a.check();
    a.dealloc(high);
    a.dealloc(96 * KIB);
    a.dealloc(low);
    a.dealloc(p);
    a.check();
    const grown = words(a);
    a.reset();
    expect(words(a)).toEqual(grown);
  });

  it("does not grow when even the grown span could not hold the block", () => {
    const mem = new GrowableMemory(96 * KIB, 128 * KIB);
    const a = new BuddyAllocator(mem, { maxCapacity: 128 * KIB });
    a.alloc(32 * KIB);
    expect(a.alloc(32 * KIB)).toBe(64 * KIB);
    const before = metadataState(a);
    expect(a.alloc(64 * KIB, 1)).toBe(0);
    expect(mem.end).toBe(96 * KIB);
    expect(metadataState(a)).toBe(before);
  });

  it("without maxCapacity the span is the memory at creation", () => {
    const mem = new GrowableMemory(16 * KIB, 1 << 20);
    const a = new BuddyAllocator(mem);
    expect(a.alloc(64 * KIB)).toBe(0);
    expect(mem.end).toBe(16 * KIB);
  });

  it("adopts memory grown by someone else at the next allocation that does not fit", () => {
    const mem = new SharedMemory(64 * KIB, 256 * KIB);
    const a = new BuddyAllocator(mem, { maxCapacity: 256 * KIB });
    mem.grow(256 * KIB);
    expect(a.stats().free).toBeLessThan(64 * KIB);
    const p = a.alloc(128 * KIB);
    expect(p).toBe(128 * KIB);
    a.check();
  });

  it("grows a WebAssembly.Memory and follows its new buffer", () => {
    const mem = WasmMemory.create(1, 8);
    const a = new BuddyAllocator(mem, { maxCapacity: 8 * 65536 });
    const p = a.alloc(100);
    const big = a.alloc(256 * KIB);
    expect(big).not.toBe(0);
    expect(mem.end).toBeGreaterThanOrEqual(big + 256 * KIB);
    a.memory.u8.fill(1, big, big + 256 * KIB);
    a.dealloc(p);
    a.dealloc(big);
    a.check();
    expect(a.stats().liveBlocks).toBe(0);
  });
});

describe("attach", () => {
  it("a second handle sees and changes the same heap", () => {
    const mem = new FixedMemory(new SharedArrayBuffer(64 * KIB), 0, 64 * KIB);
    const a = new BuddyAllocator(mem, { minBlockSize: 32 });
    const p = a.alloc(200);
    const b = BuddyAllocator.attach(mem, { minBlockSize: 32 });
    expect(b.usableSize(p)).toBe(256);
    b.dealloc(p);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.check();
  });

  it("refuses other options and bytes that are no buddy heap", () => {
    const mem = new FixedMemory(new ArrayBuffer(64 * KIB), 0, 64 * KIB);
    new BuddyAllocator(mem, { minBlockSize: 32 });
    expect(() => BuddyAllocator.attach(mem, { minBlockSize: 16 })).toThrow(HeapIncompatibleError);
    expect(() => BuddyAllocator.attach(mem, { minBlockSize: 32, maxBlockSize: 1024 })).toThrow(
      HeapIncompatibleError,
    );
    const other = new FixedMemory(new ArrayBuffer(64 * KIB), 0, 64 * KIB);
    expect(() => BuddyAllocator.attach(other)).toThrow(HeapIncompatibleError);
  });
});

describe("check() finds corrupt metadata", () => {
  /** A fresh heap with some blocks, and a view of its metadata words. */
  function heap() {
    const mem = new FixedMemory(new ArrayBuffer(64 * KIB), 0, 64 * KIB);
    const a = new BuddyAllocator(mem, { minBlockSize: 16 });
    const ps = [a.alloc(16), a.alloc(100), a.alloc(3000)];
    a.dealloc(ps[0]);
    const w = new Uint32Array(mem.buffer, HEADER_BYTES, 64);
    const f = new Float64Array(mem.buffer, 0, COMMON_SLOTS + 8);
    return { a, w, f, ps };
  }

  const corruptions: [string, (x: ReturnType<typeof heap>) => void, RegExp][] = [
    ["an order bit", ({ w }) => (w[0] ^= 1 << 11), /summary bit|ORDER_MASK/],
    ["a free bit", ({ w }) => (w[1] ^= 1 << 3), /free|summary/],
    ["the free-bytes counter", ({ f }) => (f[COMMON_SLOTS + 5] += 16), /FREE_BYTES/],
    ["the live counter", ({ f }) => (f[COMMON_SLOTS + 6] = 7), /LIVE/],
    ["HI", ({ f }) => (f[COMMON_SLOTS + 2] = 1e9), /HI/],
    ["every word", ({ w }) => w.fill(0xffffffff), /./],
  ];
  for (const [what, corrupt, message] of corruptions) {
    it(`${what}: HeapCorruptedError, then poisoned`, () => {
      const x = heap();
      x.a.check();
      corrupt(x);
      expect(() => x.a.check()).toThrow(HeapCorruptedError);
      try {
        x.a.check();
      } catch (e) {
        expect(e).toBeInstanceOf(HeapPoisonedError);
      }
      expect(() => x.a.alloc(16)).toThrow(HeapPoisonedError);
      // the first report names the problem
      const y = heap();
      corrupt(y);
      expect(() => y.a.check()).toThrow(message);
    });
  }
});

describe("a long random run", () => {
  // No timing assertion (the bench measures speed); a slow path that went quadratic would
  // still show as the test's timeout.
  it("250,000 mixed alloc/free operations leave the heap checked and whole", () => {
    const a = new BuddyAllocator(16 << 20, { minBlockSize: 16 });
    const live = new Uint32Array(4096);
    let n = 0;
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let op = 0; op < 250_000; op++) {
      const r = rnd();
      if (n < live.length && (n === 0 || (r & 1) === 0)) {
        const p = a.alloc(1 + ((r >>> 8) % (r & 2 ? 256 : 8192)));
        if (p !== 0) live[n++] = p;
      } else {
        const i = (r >>> 4) % n;
        a.dealloc(live[i]);
        live[i] = live[--n];
      }
    }
    a.check();
    for (let i = 0; i < n; i++) a.dealloc(live[i]);
    expect(a.stats().largestFree).toBe(16 << 20);
  });
});

describe("BuddyAllocator: peakInUse", () => {
  it("remembers the most in use after the blocks are freed", () => {
    const a = new BuddyAllocator(64 * KIB);
    const p = a.alloc(3000);
    const q = a.alloc(100);
    const most = a.stats().inUse;
    a.dealloc(p);
    a.dealloc(q);
    a.alloc(8);
    expect(a.stats().peakInUse).toBe(most);
  });
});
