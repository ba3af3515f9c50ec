import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { Layout } from "../../src/core/layout.js";
import { FixedMemory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";

const HEADER = 120; // 8 common + 7 block slots, float64
/** The header and the start bits of up to 64 blocks (one u32, padded to 8 bytes). */
const META = 128;

/** Everything a rejected call must leave as it was. */
function snapshot(a: BlockAllocator) {
  return {
    meta: Array.from(a.metadataBytes()),
    bytes: Array.from(a.memory.u8),
    stats: a.stats(),
  };
}

function expectUnchanged(
  a: BlockAllocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
) {
  const before = snapshot(a);
  expect(fn).toThrow(cls);
  expect(snapshot(a)).toEqual(before);
}

/** The free runs as [index, length] pairs, parsed from `dump()`. */
function runs(a: BlockAllocator): [number, number][] {
  return a
    .dump()
    .split("\n")
    .slice(1)
    .map((line) => {
      const m = /^ {2}index (\d+): (\d+) free blocks?$/.exec(line);
      if (!m) throw new Error(`unexpected dump line ${JSON.stringify(line)}`);
      return [Number(m[1]), Number(m[2])] as [number, number];
    });
}

describe("BlockAllocator: stalloc's example", () => {
  it("a 32-byte heap of 4-byte blocks holds eight 4-byte values, then four 8-byte, then two 16-byte", () => {
    const a = new BlockAllocator(8, 4); // Stalloc::<8, 4>
    expect(a.memory.end).toBe(META + 32); // L·B bytes of blocks + header and start bits

    const fours: number[] = [];
    for (let i = 0; i < 8; i++) {
      const p = a.allocateBlocks(1, 1);
      expect(p).not.toBe(0);
      a.memory.u32[p >> 2] = 0xc0de0000 + i;
      fours.push(p);
    }
    expect(new Set(fours).size).toBe(8);
    expect(a.isOom()).toBe(true);
    expect(a.allocateBlocks(1, 1)).toBe(0);
    expect(a.alloc(4, 4)).toBe(0);
    fours.forEach((p, i) => {
      expect(a.memory.u32[p >> 2]).toBe(0xc0de0000 + i);
    });
    for (const p of fours) a.dealloc(p, 4);
    expect(a.isEmpty()).toBe(true);

    const eights: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = a.alloc(8, 8);
      expect(p).not.toBe(0);
      expect(p % 8).toBe(0);
      a.memory.f64[p >> 3] = i + 0.5;
      eights.push(p);
    }
    expect(a.alloc(8, 8)).toBe(0);
    expect(a.isOom()).toBe(true);
    eights.forEach((p, i) => {
      expect(a.memory.f64[p >> 3]).toBe(i + 0.5);
    });
    for (const p of eights) a.dealloc(p, 8);

    const sixteens = [a.alloc(16), a.alloc(16)];
    expect(sixteens).not.toContain(0);
    expect(a.alloc(16)).toBe(0);
    expect(a.alloc(1)).toBe(0);
    for (const p of sixteens) a.dealloc(p, 16);
    expect(runs(a)).toEqual([[0, 8]]);
    a.check();
  });

  it("the contract's alloc raises alignment to 8, so with B = 4 only four alloc(4) fit", () => {
    const a = new BlockAllocator(8, 4);
    const ps = [a.alloc(4, 4), a.alloc(4, 4), a.alloc(4, 4), a.alloc(4, 4)];
    for (const p of ps) expect(p % 8).toBe(0);
    expect(a.alloc(4, 4)).toBe(0);
    expect(a.numFree()).toBe(4); // the odd blocks, each too misaligned for the contract
    expect(a.isOom()).toBe(false);
    expect(a.allocateBlocks(1)).not.toBe(0); // the block API still gets them
  });
});

describe("BlockAllocator: block 0 at the alignment asked for", () => {
  it("stalloc's 32-byte heap holds two 16-aligned u128s when its blocks start at 16", () => {
    const a = new BlockAllocator(8, 4, { align: 16 }); // Stalloc::<8, 4>, 16-aligned
    expect(a.blocksAt % 16).toBe(0);
    expect(a.memory.end - a.blocksAt).toBe(32);
    const u128s = [a.alloc(16, 16), a.alloc(16, 16)];
    for (const p of u128s) expect(p !== 0 && p % 16 === 0).toBe(true);
    expect(a.isOom()).toBe(true);
    for (const p of u128s) a.dealloc(p, 16);
    // Without the option block 0 follows the header and start bits (136 bytes for 72 blocks):
    // the first 16-aligned block is block 2.
    const b = new BlockAllocator(72, 4);
    expect(b.blocksAt % 16).toBe(8);
    expect(b.alloc(16, 16)).toBe(b.blocksAt + 8);
    a.check();
  });

  it("on a caller's memory too; align below B is B; a bad align is ERR_ALLOC_ALIGN", () => {
    const m = new FixedMemory(new ArrayBuffer(4096), 8);
    const a = new BlockAllocator(m, 8, { align: 64 });
    expect(a.blocksAt % 64).toBe(0);
    expect(BlockAllocator.attach(m).blocksAt).toBe(a.blocksAt);
    expect(new BlockAllocator(8, 32, { align: 8 }).blocksAt % 32).toBe(0);
    for (const bad of [3, 0, 2 ** 17, 1.5, Number.NaN]) {
      expect(() => new BlockAllocator(8, 4, { align: bad })).toThrow(ArgumentRangeError);
    }
    expect(() => new BlockAllocator(8, 4, { align: "16" as unknown as number })).toThrow(
      ArgumentTypeError,
    );
  });
});

describe("BlockAllocator: layout and overhead", () => {
  it("keeps a free run's header in its first block and nothing per block", () => {
    const a = new BlockAllocator(8, 4);
    const u16 = new Uint16Array(a.memory.buffer);
    const at = a.blocksAt >> 1;
    expect(a.blocksAt).toBe(META);
    expect([u16[at], u16[at + 1]]).toEqual([0xffff, 8]); // NEXT = NONE, LEN = 8

    const p = a.allocateBlocks(3);
    const q = a.allocateBlocks(2);
    a.dealloc(p, 12);
    // run 0 (3 blocks) → run 5 (3 blocks) → none
    expect([u16[at], u16[at + 1]]).toEqual([5, 3]);
    const r5 = (a.blocksAt + 5 * 4) >> 1;
    expect([u16[r5], u16[r5 + 1]]).toEqual([0xffff, 3]);
    expect(q).toBe(a.blocksAt + 12);

    const s = a.stats();
    expect(s.capacity).toBe(META + 32);
    expect(s.inUse).toBe(8);
    expect(s.free).toBe(24);
    expect(s.overhead).toBe(META);
    expect(BlockAllocator.metadataSize).toBe(HEADER);
    expect(BlockAllocator.metadataBytesFor(8)).toBe(META);
    expect(BlockAllocator.metadataBytesFor(65)).toBe(HEADER + 16);
  });

  it("uses u32 run headers from B = 8 on, so L may pass 65535", () => {
    const a = new BlockAllocator(70_000, 8);
    const u32 = a.memory.u32;
    expect([u32[a.blocksAt >> 2], u32[(a.blocksAt >> 2) + 1]]).toEqual([0xffffffff, 70_000]);
    const big = a.allocateBlocks(69_990);
    const tail = a.allocateBlocks(3);
    expect(tail).toBe(a.blocksAt + 69_990 * 8);
    a.deallocateBlocks(big, 69_990);
    expect(runs(a)).toEqual([
      [0, 69_990],
      [69_993, 7],
    ]);
    a.deallocateBlocks(tail, 3);
    expect(runs(a)).toEqual([[0, 70_000]]);
    a.check();
  });

  it("puts block 0 on a multiple of B and aligns larger requests by absolute address", () => {
    const buf = new ArrayBuffer(4096);
    // Header at 40, its 120 bytes and 16 of start bits: blocks after 176, at 192.
    const m = new FixedMemory(buf, 36, 4000, false);
    const a = new BlockAllocator(m, 32);
    expect(a.blocksAt).toBe(192);
    expect(a.blocksAt % 32).toBe(0);
    const p = a.alloc(8, 256);
    expect(p % 256).toBe(0);
    expect(p).toBe(256);
    expect(runs(a)[0]).toEqual([0, 2]); // the blocks skipped for alignment stay free
    const q = a.allocateBlocks(1, 4); // aligned to 4 blocks = 128 bytes
    expect(q % 128).toBe(0);
    expect(q).toBe(384);
  });

  it("enforces its limits", () => {
    for (const b of [0, 1, 2, 3, 12, 131072, 1.5, Number.NaN]) {
      expect(() => new BlockAllocator(8, b)).toThrow(ArgumentRangeError);
    }
    expect(() => new BlockAllocator(8, "8" as unknown as number)).toThrow(ArgumentTypeError);
    expect(() => new BlockAllocator(65_536, 4)).toThrow(ArgumentRangeError); // u16 indices
    expect(new BlockAllocator(65_535, 4).blockCount).toBe(65_535);
    expect(() => new BlockAllocator(0, 8)).toThrow(ArgumentRangeError);
    expect(() => new BlockAllocator(new OffsetMemory(0, 4096), 8)).toThrow(ArgumentTypeError);
    // By default a memory gets as many blocks as fit after the header.
    const m = new FixedMemory(new ArrayBuffer(1000));
    expect(new BlockAllocator(m, 16).blockCount).toBe(Math.floor((1000 - 128) / 16));
    expect(() => new BlockAllocator(new FixedMemory(new ArrayBuffer(100)), 8)).toThrow(
      ArgumentRangeError,
    );
  });
});

describe("BlockAllocator: first fit and coalescing", () => {
  it("dumps the free runs like stalloc's Debug output", () => {
    const a = new BlockAllocator(8, 4);
    a.allocateBlocks(2);
    const x = a.allocateBlocks(3);
    a.allocateBlocks(1);
    a.deallocateBlocks(x, 3);
    expect(a.dump()).toBe(
      [
        "BlockAllocator: 8 blocks of 4 bytes at 128, 5 free in 2 runs",
        "  index 2: 3 free blocks",
        "  index 6: 2 free blocks",
      ].join("\n"),
    );
    a.allocateBlocks(2);
    a.allocateBlocks(2);
    expect(a.dump()).toBe(
      [
        "BlockAllocator: 8 blocks of 4 bytes at 128, 1 free in 1 run",
        "  index 4: 1 free block",
      ].join("\n"),
    );
  });

  it("takes the lowest run that fits and merges freed neighbours both ways", () => {
    const a = new BlockAllocator(16, 8);
    const p = [0, 1, 2, 3, 4, 5].map(() => a.allocateBlocks(2));
    a.deallocateBlocks(p[1], 2);
    a.deallocateBlocks(p[3], 2);
    expect(runs(a)).toEqual([
      [2, 2],
      [6, 2],
      [12, 4],
    ]);
    expect(a.allocateBlocks(3)).toBe(p[0] + 12 * 8); // skips the two holes of 2
    expect(a.allocateBlocks(1)).toBe(p[1]); // the first hole
    a.deallocateBlocks(p[2], 2); // joins the hole before (1 block left of it) and after
    expect(runs(a)).toEqual([
      [3, 5],
      [15, 1],
    ]);
    a.check();
  });

  it("matches a block-by-block model on random programs (first fit, in-place realloc)", () => {
    const L = 48;
    type Op =
      | { op: "alloc"; count: number; align: number }
      | { op: "free"; i: number }
      | { op: "realloc"; i: number; count: number; align: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant("alloc" as const),
        count: fc.integer({ min: 1, max: 9 }),
        align: fc.constantFrom(1, 1, 2, 4),
      }),
      fc.record({ op: fc.constant("free" as const), i: fc.nat() }),
      fc.record({
        op: fc.constant("realloc" as const),
        i: fc.nat(),
        count: fc.integer({ min: 1, max: 9 }),
        align: fc.constantFrom(1, 1, 2),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom(4, 8, 16), (ops, B) => {
        const a = new BlockAllocator(L, B);
        const g0 = a.blocksAt / B;
        const used: boolean[] = new Array(L).fill(false);
        const live: { k: number; n: number }[] = [];
        const fits = (s: number, n: number) => {
          for (let i = s; i < s + n; i++) if (i >= L || used[i]) return false;
          return true;
        };
        const firstFit = (n: number, al: number) => {
          for (let s = 0; s + n <= L; s++) if ((g0 + s) % al === 0 && fits(s, n)) return s;
          return -1;
        };
        const mark = (k: number, n: number, v: boolean) => used.fill(v, k, k + n);
        for (const o of ops) {
          if (o.op === "alloc") {
            const want = firstFit(o.count, o.align);
            const p = a.allocateBlocks(o.count, o.align);
            expect(p === 0 ? -1 : (p - a.blocksAt) / B).toBe(want);
            if (want >= 0) {
              mark(want, o.count, true);
              live.push({ k: want, n: o.count });
            }
          } else if (live.length > 0) {
            const j = o.i % live.length;
            const b = live[j];
            if (o.op === "free") {
              a.deallocateBlocks(a.blocksAt + b.k * B, b.n);
              mark(b.k, b.n, false);
              live.splice(j, 1);
            } else {
              const aligned = (g0 + b.k) % o.align === 0;
              let want: number;
              if (aligned && (o.count <= b.n || fits(b.k + b.n, o.count - b.n))) want = b.k;
              else want = firstFit(o.count, o.align);
              const q = a.reallocBlocks(a.blocksAt + b.k * B, b.n, o.count, o.align);
              expect(q === 0 ? -1 : (q - a.blocksAt) / B).toBe(want);
              if (want >= 0) {
                mark(b.k, b.n, false);
                mark(want, o.count, true);
                live[j] = { k: want, n: o.count };
              }
            }
          }
          a.check();
          // The runs are exactly the maximal stretches of free blocks.
          const modelRuns: [number, number][] = [];
          for (let i = 0; i < L; i++) {
            if (used[i]) continue;
            const last = modelRuns[modelRuns.length - 1];
            if (last && last[0] + last[1] === i) last[1]++;
            else modelRuns.push([i, 1]);
          }
          expect(runs(a)).toEqual(modelRuns);
          expect(a.stats().liveBlocks).toBe(live.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("BlockAllocator: realloc", () => {
  it("grows into the following free run and shrinks by giving back the tail, in place", () => {
    const a = new BlockAllocator(16, 8);
    const p = a.alloc(16); // 2 blocks
    a.memory.u8.fill(7, p, p + 16);
    expect(a.realloc(p, 40, 8, 16)).toBe(p); // 5 blocks: grown into the run after it
    expect(runs(a)).toEqual([[5, 11]]);
    expect(a.realloc(p, 9, 8, 40)).toBe(p); // 2 blocks: 3 given back, merged with the run
    expect(runs(a)).toEqual([[2, 14]]);
    expect(Array.from(a.memory.u8.subarray(p, p + 16))).toEqual(new Array(16).fill(7));
    expect(a.stats().liveBlocks).toBe(1);
  });

  it("moves and copies when the next block is live, and returns 0 with the block intact when nothing fits", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(16);
    const q = a.alloc(8);
    a.memory.u8.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], p);
    const r = a.realloc(p, 24, 8, 16);
    expect(r).toBe(a.blocksAt + 3 * 8);
    expect(Array.from(a.memory.u8.subarray(r, r + 16))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    ]);
    expect(runs(a)).toEqual([
      [0, 2],
      [6, 2],
    ]);
    const before = snapshot(a);
    expect(a.realloc(r, 48, 8, 24)).toBe(0); // 6 blocks: no run that long
    expect(snapshot(a)).toEqual(before);
    a.dealloc(q, 8);
    a.dealloc(r, 24);
    expect(runs(a)).toEqual([[0, 8]]);
  });

  it("needs the old size: the contract form without it throws and changes nothing", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(16);
    expectUnchanged(a, () => a.realloc(p, 32), ArgumentTypeError);
    expectUnchanged(a, () => a.dealloc(p), ArgumentTypeError);
    expect(a.realloc(0, 8)).not.toBe(0); // realloc(0, n) is alloc(n): no old size needed
  });

  it("exposes stalloc's growInPlace and shrinkInPlace", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.allocateBlocks(2);
    const q = a.allocateBlocks(1);
    expect(a.growInPlace(p, 2, 3)).toBe(false); // q is in the way
    a.deallocateBlocks(q, 1);
    expect(a.growInPlace(p, 2, 8)).toBe(true);
    expect(a.isOom()).toBe(true);
    a.shrinkInPlace(p, 8, 1);
    expect(runs(a)).toEqual([[1, 7]]);
    expect(() => a.shrinkInPlace(p, 1, 2)).toThrow(ArgumentRangeError);
    expect(() => a.growInPlace(p, 2, 3)).toThrow(LayoutMismatchError); // it is 1 block now
  });

  it("moves a block whose address does not meet a larger new alignment", () => {
    const a = new BlockAllocator(32, 8);
    const p = a.alloc(8); // block 0, at 128 (after header and start bits): not 256-aligned
    expect(a.realloc(p, 8, 64, 8)).toBe(p);
    const aligned = a.realloc(p, 8, 256, 8);
    expect(aligned).toBe(256);
    expect(runs(a)[0]).toEqual([0, 16]); // the old block went back
  });
});

describe("BlockAllocator: misuse without per-block state", () => {
  it("rejects pointers off a block boundary or outside the blocks", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(16);
    for (const bad of [p + 1, p + 4, a.blocksAt - 8, a.blocksAt + 64, 8, -8, 0.5, Number.NaN]) {
      expectUnchanged(a, () => a.dealloc(bad, 8), InvalidPointerError);
    }
    expectUnchanged(a, () => a.dealloc(8n as unknown as number, 8), ArgumentTypeError);
  });

  it("catches a second free and a free of a block never handed out as DoubleFreeError", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(16);
    const q = a.alloc(8);
    a.dealloc(p, 16);
    expectUnchanged(a, () => a.dealloc(p, 16), DoubleFreeError);
    expectUnchanged(a, () => a.dealloc(p + 8, 8), DoubleFreeError); // inside the freed run
    expectUnchanged(a, () => a.dealloc(q + 8, 8), DoubleFreeError); // never allocated
    expectUnchanged(a, () => a.realloc(p, 32, 8, 16), DoubleFreeError);
    expectUnchanged(a, () => a.usableSize(p), DoubleFreeError);
  });

  it("catches a size that reaches free blocks or past the heap as LayoutMismatchError", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(16);
    const q = a.alloc(8);
    expectUnchanged(a, () => a.dealloc(p, 32), LayoutMismatchError); // spans q and a free block
    expectUnchanged(a, () => a.dealloc(q, 16), LayoutMismatchError); // block after q is free
    a.alloc(40);
    expectUnchanged(a, () => a.dealloc(q, 56), LayoutMismatchError); // past the last block
    expectUnchanged(a, () => a.dealloc(q, 2 ** 32), LayoutMismatchError);
  });

  it("answers usableSize with ERR_UNSUPPORTED and allocate with the rounded size", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(10);
    let err: unknown;
    try {
      a.usableSize(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AllocatorError);
    expect((err as AllocatorError).code).toBe("ERR_UNSUPPORTED");
    expect(a.allocate(Layout.of(10, 8))).toEqual({ ptr: a.blocksAt + 16, size: 16 });
    expect(a.allocate(Layout.of(0, 1))?.size).toBe(8);
  });

  it("validates the block API's counts and alignments", () => {
    const a = new BlockAllocator(8, 8);
    expect(() => a.allocateBlocks(0)).toThrow(ArgumentRangeError);
    expect(() => a.allocateBlocks(1.5)).toThrow(ArgumentRangeError);
    expect(() => a.allocateBlocks(1, 3)).toThrow(ArgumentRangeError);
    expect(() => a.allocateBlocks(1, 0)).toThrow(ArgumentRangeError);
    expect(a.allocateBlocks(9)).toBe(0);
    expect(a.allocateBlocks(2 ** 31)).toBe(0);
    const p = a.allocateBlocks(2);
    expectUnchanged(a, () => a.deallocateBlocks(p, 0), ArgumentRangeError);
    a.deallocateBlocks(0, 1); // null does nothing
    expect(a.numFree()).toBe(6);
  });

  it("refuses a free of part of an allocation, two at once, or from inside one (issue 13)", () => {
    const a = new BlockAllocator(16, 16);
    const A = a.alloc(64); // blocks 0-3
    const B = a.alloc(32); // blocks 4-5
    a.alloc(16); // block 6: B is followed by a live block, not a free run
    // dealloc(A + 16, 64) freed A's tail and B's head, and new blocks overlapped both.
    expectUnchanged(a, () => a.dealloc(A + 16, 64), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(A + 48, 16), InvalidPointerError);
    // dealloc(B, 8) freed a quarter of B (here half: blocks of 16) and leaked the rest.
    expectUnchanged(a, () => a.dealloc(B, 8), LayoutMismatchError);
    expectUnchanged(a, () => a.dealloc(A, 48), LayoutMismatchError);
    expectUnchanged(a, () => a.dealloc(A, 96), LayoutMismatchError); // A and half of B
    expectUnchanged(a, () => a.deallocateBlocks(A, 6), LayoutMismatchError); // A and B at once
    expectUnchanged(a, () => a.realloc(A + 16, 8, 8, 48), InvalidPointerError);
    expectUnchanged(a, () => a.realloc(B, 8, 8, 16), LayoutMismatchError);
    expectUnchanged(a, () => a.shrinkInPlace(A, 2, 1), LayoutMismatchError);
    expectUnchanged(a, () => a.growInPlace(A + 16, 3, 4), InvalidPointerError);
    expectUnchanged(a, () => a.usableSize(A + 16), InvalidPointerError);
    a.check();
    // Any size rounding to the allocation's blocks is accepted.
    a.dealloc(B, 17);
    a.dealloc(A, 64);
    expect(a.stats().liveBlocks).toBe(1);
    a.check();
  });
});

describe("BlockAllocator: stats, reset, and state", () => {
  it("reports largestFree as the largest alloc(n, 1) that succeeds (8-aligned with B = 4)", () => {
    const a = new BlockAllocator(8, 4);
    a.allocateBlocks(1); // blocks 1 … 7 free, but block 1 is not 8-aligned
    expect(a.stats().largestFree).toBe(24);
    expect(a.alloc(28, 1)).toBe(0);
    expect(a.alloc(24, 1)).not.toBe(0);
  });

  it("reset makes one run of every block and clears the counters", () => {
    const a = new BlockAllocator(8, 8);
    a.alloc(8);
    a.alloc(24);
    expect(a.stats().peakInUse).toBe(32);
    a.reset();
    expect(runs(a)).toEqual([[0, 8]]);
    expect(a.stats()).toMatchObject({ inUse: 0, liveBlocks: 0, peakInUse: 0, largestFree: 64 });
    expect(a.isEmpty()).toBe(true);
  });

  it("lets a second handle attach to the same heap", () => {
    const m = new FixedMemory(new ArrayBuffer(1024));
    const a = new BlockAllocator(m, 16, { blockCount: 20 });
    const p = a.alloc(40);
    const b = BlockAllocator.attach(m);
    expect(b.blockSize).toBe(16);
    expect(b.blockCount).toBe(20);
    expect(b.dump()).toBe(a.dump());
    b.dealloc(p, 40);
    expect(a.isEmpty()).toBe(true);
    const bump = new FixedMemory(new ArrayBuffer(1024));
    new BumpAllocator(bump);
    expect(() => BlockAllocator.attach(bump)).toThrow(HeapIncompatibleError);
  });

  it("follows a wasm memory grown by someone else", () => {
    const wasm = WasmMemory.create(1, 4);
    const a = new BlockAllocator(wasm, 64, { blockCount: 100 });
    const p = a.alloc(100);
    a.memory.u8.fill(9, p, p + 100);
    wasm.memory.grow(1); // detaches every view over the old buffer
    const q = a.alloc(64);
    expect(q).toBe(p + 128);
    a.dealloc(p, 100);
    expect(runs(a)).toEqual([
      [0, 2],
      [3, 97],
    ]);
    a.check();
  });
});

describe("BlockAllocator: corruption of a free run's header", () => {
  it("is found by check() and poisons the heap", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(8);
    a.alloc(8);
    a.dealloc(p, 8);
    a.memory.u32[(p >> 2) + 1] = 0; // LEN of run 0
    expect(() => a.check()).toThrow(HeapCorruptedError);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
  });

  it("stops a walk on a NEXT that points back instead of looping", () => {
    const a = new BlockAllocator(8, 8);
    const p = a.alloc(8);
    a.alloc(8);
    a.dealloc(p, 8);
    a.memory.u32[p >> 2] = 0; // run 0 → run 0
    expect(() => a.alloc(64)).toThrow(/out of order/);
    expect(a.poisoned).toBe(true);
  });

  it("reports a run running past the last block", () => {
    const a = new BlockAllocator(8, 8);
    a.memory.u32[(a.blocksAt >> 2) + 1] = 9;
    expect(() => a.dump()).toThrow(/length 9/);
  });
});
