/**
 * TLSF's search (src/strategies/tlsf/search.ts), observed through the blocks it hands out:
 * the good fit over both bitmaps, the bounded fallback over the exact list, the split of a
 * rest of exactly one minimal block, and the front end given back (or kept) before a
 * request is cut from the heap's end.
 */

import { describe, expect, it } from "vitest";
import { FixedMemory, GROW_DOUBLING_LIMIT, GrowableMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { blockSizeFor, MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { FALLBACK_SCAN } from "../../../src/strategies/tlsf/search.js";
import { expectPoisons, SW, tlsf, u32, W } from "./helpers.js";

/** Bytes the front end holds (state word CACHED). */
function cached(a: TlsfAllocator): number {
  return u32(a)[SW + W.CACHED];
}

/** How many bytes differ between two arrays of the same length (a whole-array toEqual is slow). */
function differing(x: Uint8Array, y: Uint8Array): number {
  expect(x.length).toBe(y.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

/**
 * On a heap with the front end: h1 | y (2,008 bytes, too large to be held) | h2 | separator,
 * with `fill` run before they are freed: h1 and h2 are held (their neighbours are used), y is
 * listed alone (its neighbours are held, so used). The three merge into 2,104 bytes only
 * when the front end gives h1 and h2 back.
 */
function heldAroundFree(
  a: TlsfAllocator,
  fill: () => void = () => {},
): { h1: number; y: number; h2: number } {
  const h1 = a.alloc(40);
  const y = a.alloc(2000);
  const h2 = a.alloc(40);
  a.alloc(8);
  fill();
  a.dealloc(h1);
  a.dealloc(h2);
  a.dealloc(y);
  expect(cached(a)).toBe(96);
  return { h1, y, h2 };
}

/**
 * Allocates blocks of `sizes` (requests), each followed by an 8-byte separator so that no
 * two of them merge when freed; returns their pointers.
 */
function separated(a: TlsfAllocator, sizes: readonly number[]): number[] {
  return sizes.map((n) => {
    const p = a.alloc(n);
    expect(p).not.toBe(0);
    expect(a.alloc(8)).not.toBe(0);
    return p;
  });
}

describe("TLSF search: good fit over the bitmaps", () => {
  it("takes the lowest list that fits, in the request's first level and above it", () => {
    const a = tlsf(1 << 20);
    // Blocks of 104 and 200 bytes (first level 0, lists 13 and 25), 608 (level 2) and
    // 5,008 (level 5), all free, and the rest of the heap free at its end (level 12).
    const [p104, p200, p608, p5008] = separated(a, [100, 196, 604, 5004]);
    for (const p of [p5008, p608, p200, p104]) a.dealloc(p);
    // 100 bytes: lists 13 and 25 of level 0 both fit; the lower one is the better fit.
    expect(a.alloc(100)).toBe(p104);
    // 300 bytes (a 304-byte block, level 1, empty): the lowest level above with a block.
    expect(a.alloc(300)).toBe(p608);
    expect(a.alloc(196)).toBe(p200);
    expect(a.alloc(4000)).toBe(p5008);
    a.check();
  });
});

describe("TLSF search: the fallback over the exact list", () => {
  /**
   * A fixed heap whose every byte is in use but for free blocks of `sizes` (block sizes in
   * [512, 528), one list whose search for 520 rounds up past it), freed in the order given:
   * the list holds them last freed first. Returns the heap and the blocks' pointers.
   */
  function exactList(sizes: readonly number[]): { a: TlsfAllocator; ps: number[] } {
    const a = tlsf(1 << 16);
    const ps = separated(
      a,
      sizes.map((s) => s - 4),
    );
    expect(a.alloc(a.stats().largestFree)).not.toBe(0); // the rest of the heap
    expect(a.stats().largestFree).toBe(0);
    for (const p of ps) a.dealloc(p);
    return { a, ps };
  }

  it("finds a block of exactly the size asked in a list the rounded search skips", () => {
    const { a, ps } = exactList([520]);
    expect(a.alloc(516)).toBe(ps[0]);
    expect(a.usableSize(ps[0])).toBe(516);
    a.check();
  });

  it("follows the list past blocks too small, up to FALLBACK_SCAN blocks", () => {
    // The 520-byte block is freed first, so it is last in its list, behind 512-byte ones.
    const sizes = [520, ...new Array<number>(FALLBACK_SCAN - 1).fill(512)];
    const { a, ps } = exactList(sizes);
    expect(a.stats().largestFree).toBe(516);
    expect(a.alloc(516)).toBe(ps[0]);
    // Every block left is too small, and nothing grows: 0, and the heap as it was.
    const before = a.stats();
    expect(a.alloc(516)).toBe(0);
    expect(a.stats()).toEqual(before);
    a.check();
  });

  it("looks at no more than FALLBACK_SCAN blocks: a fitting block behind them is not found", () => {
    const sizes = [520, ...new Array<number>(FALLBACK_SCAN).fill(512)];
    const { a, ps } = exactList(sizes);
    const before = a.stats();
    // stats() agrees: the largest request that succeeds is one of the 512-byte blocks.
    expect(before.largestFree).toBe(508);
    expect(a.alloc(516)).toBe(0);
    expect(a.stats()).toEqual(before);
    // Once one of the blocks in front of it is taken, it is within reach.
    expect(a.alloc(508)).toBe(ps[FALLBACK_SCAN]);
    expect(a.alloc(516)).toBe(ps[0]);
    a.check();
  });

  it("reads no list past its end: words below the heap's region are never taken for blocks", () => {
    const whole = new FixedMemory(new ArrayBuffer(1 << 16));
    // Below the region, words shaped like a chain of blocks: at 0 a size too small, at 8 a
    // link to 16, at 16 a free block claiming almost 4 GiB.
    const below = whole.u32;
    below[0] = 8;
    below[2] = 16;
    below[4] = 0xfffffff9;
    const before = whole.u8.slice(0, 4096);
    const a = new TlsfAllocator(whole.region(4096, 1 << 16));
    expect(a.alloc(a.stats().largestFree)).not.toBe(0); // the heap is full
    const stats = a.stats();
    expect(a.alloc(516)).toBe(0); // every list, the exact one too, is empty
    expect(a.stats()).toEqual(stats);
    expect(differing(whole.u8.subarray(0, 4096), before)).toBe(0);
    a.check();
  });
});

describe("TLSF take: the rest of a block", () => {
  it("splits off a rest of exactly one minimal block", () => {
    const a = tlsf(1 << 16);
    const [p] = separated(a, [100]); // a 104-byte block
    a.dealloc(p);
    const before = a.stats();
    // An 88-byte block from the 104-byte one leaves 16 bytes: a free block of its own.
    expect(a.alloc(84)).toBe(p);
    expect(a.usableSize(p)).toBe(84);
    expect(a.stats().free).toBe(before.free - 88);
    expect(a.alloc(0)).toBe(p + 88);
    expect(a.usableSize(p + 88)).toBe(MIN_BLOCK - 4);
    a.check();
  });
});

describe("TLSF search: the front end and the heap's end", () => {
  it("gives the front end's blocks back before cutting the heap's end when they hold more than PEAK / 32", () => {
    const a = tlsf(1 << 16, true);
    const { h1 } = heldAroundFree(a); // 96 bytes held: more than the peak (2,104) / 32 = 65
    // A 2,048-byte block fits only the free end, or h1 + y + h2 (2,104) once they merge.
    expect(a.alloc(2044)).toBe(h1);
    expect(cached(a)).toBe(0);
    a.check();
  });

  it("keeps the front end's blocks when they hold at most PEAK / 32", () => {
    const a = tlsf(1 << 16, true);
    const [big, h] = separated(a, [10_000, 40]);
    a.dealloc(h); // held: 48 bytes, under the peak (10,008) / 32
    expect(cached(a)).toBe(48);
    const p = a.alloc(100); // cut from the heap's end
    expect(p).toBeGreaterThan(h);
    expect(cached(a)).toBe(48);
    // An aligned request cut from the end keeps them too.
    expect(a.alloc(100, 64)).not.toBe(0);
    expect(cached(a)).toBe(48);
    expect(a.alloc(40)).toBe(h);
    a.dealloc(big);
    a.check();
  });

  it("keeps the front end's blocks, however many, when the block found is not at the heap's end", () => {
    const a = tlsf(1 << 16, true);
    const { y } = heldAroundFree(a); // 96 bytes held, over the peak / 32; y is free
    expect(a.alloc(1000)).toBe(y); // from y (2,008 bytes), not the end
    expect(cached(a)).toBe(96);
    a.check();
  });
});

describe("TLSF allocAligned: where an aligned block starts", () => {
  it("at the lowest aligned pointer that leaves no gap or a gap of at least 16 bytes", () => {
    // The gap before a 32-aligned pointer, for each start of the free block (mod 32) of its
    // pointer: 0 and 16 are kept, 24 is split off, 8 is too small for a block: 8 + 32.
    const gapFor = new Map([
      [0, 0],
      [8, 24],
      [16, 16],
      [24, 40],
    ]);
    const seen = new Set<number>();
    for (const prefix of [8, 16, 24, 32]) {
      const a = tlsf(1 << 16);
      const p = a.alloc(prefix);
      const free = p + a.usableSize(p) + 4; // the pointer of the free block after p
      const q = a.alloc(8, 32);
      seen.add(free & 31);
      expect(q - free).toBe(gapFor.get(free & 31));
      // The block is as small as without alignment: the gap is not part of it.
      expect(a.usableSize(q)).toBe(blockSizeFor(8) - 4);
      a.dealloc(q);
      a.dealloc(p);
      a.check();
    }
    expect(seen.size).toBe(4);
  });

  it("gives the front end's blocks back when nothing else fits, on a memory that cannot grow", () => {
    const a = tlsf(1 << 16, true);
    const { h1, h2 } = heldAroundFree(a, () => {
      expect(a.alloc(a.stats().largestFree)).not.toBe(0); // the rest of the heap
    });
    // 2,000 bytes aligned to 64 fit only h1 + y + h2 (2,104 bytes) once merged.
    const q = a.alloc(2000, 64);
    expect(q).not.toBe(0);
    expect(q % 64).toBe(0);
    expect(q).toBeGreaterThanOrEqual(h1);
    expect(q + 2000).toBeLessThanOrEqual(h2 + 44);
    expect(cached(a)).toBe(0);
    a.check();
  });
});

describe("TLSF allocSlow and growth", () => {
  it("a request no heap can hold answers 0 at once: the front end keeps its blocks", () => {
    const a = tlsf(1 << 16, true);
    const [h] = separated(a, [40]);
    a.dealloc(h);
    for (const n of [2 ** 32 - 1, 2 ** 32 - 8]) {
      expect(a.alloc(n)).toBe(0);
      expect(cached(a)).toBe(48);
    }
    expect(a.alloc(40)).toBe(h);
    a.check();
  });

  it("grows when the front end's blocks, given back, still leave nothing large enough", () => {
    const m = new GrowableMemory(1 << 16, 1 << 20);
    const a = new TlsfAllocator(m, { frontEnd: true });
    const [h] = separated(a, [40]);
    a.dealloc(h);
    const q = a.alloc(100_000);
    expect(q).not.toBe(0);
    expect(m.end).toBeGreaterThan(1 << 16);
    expect(cached(a)).toBe(0);
    a.check();
  });

  it("asks the memory only for what is missing: the free last block counts, and no more", () => {
    // The free last block's size after a 1,000-byte block, on a heap of 8 KiB.
    const probe = new TlsfAllocator(new GrowableMemory(8192, 8192));
    const p0 = probe.alloc(1000);
    const last = probe.stats().largestFree + 4;
    // A block 1,000 bytes larger than the free last block needs the memory to end 1,000
    // bytes further: a memory that may grow exactly that far serves it.
    const m = new GrowableMemory(8192, 8192 + 1000);
    const a = new TlsfAllocator(m);
    const p = a.alloc(1000);
    expect(p).toBe(p0);
    const q = a.alloc(last + 1000 - 4);
    expect(q).toBe(p + a.usableSize(p) + 4);
    expect(m.end).toBe(8192 + 1000);
    a.check();
    // One granule short: 0, and the memory as it was.
    const short = new GrowableMemory(8192, 8192 + 1000 - 8);
    const b = new TlsfAllocator(short);
    b.alloc(1000);
    const stats = b.stats();
    expect(b.alloc(last + 1000 - 4)).toBe(0);
    expect(short.end).toBe(8192);
    expect(b.stats()).toEqual(stats);
    b.check();
  });

  it("grows whatever a used last block holds in its last bytes", () => {
    const m = new GrowableMemory(8192, 1 << 20);
    const a = new TlsfAllocator(m);
    const p = a.alloc(a.stats().largestFree); // the last block, used
    m.u8.fill(0xff, p, p + a.usableSize(p));
    const q = a.alloc(1000);
    expect(q).toBe(p + a.usableSize(p) + 4);
    a.check();
  });

  it("doubles the live map when it grows, so that its copies cost O(1) amortised", () => {
    // Past GROW_DOUBLING_LIMIT the memory grows by an eighth at a time; the map doubles, and
    // the next growth fits in it. The map follows the heap, not the memory's maximum.
    const m = new GrowableMemory(GROW_DOUBLING_LIMIT, 8 * GROW_DOUBLING_LIMIT);
    const a = new TlsfAllocator(m);
    const before = a.liveMapBuffer.byteLength;
    expect(a.alloc(a.stats().largestFree + 8)).not.toBe(0); // just past the free end: it grows
    expect(m.end).toBeGreaterThan(GROW_DOUBLING_LIMIT);
    expect(m.end).toBeLessThan(2 * GROW_DOUBLING_LIMIT);
    const doubled = a.liveMapBuffer.byteLength;
    expect(doubled).toBeGreaterThanOrEqual(2 * before);
    expect(doubled).toBeLessThan(4 * before);
    const end = m.end;
    expect(a.alloc(a.stats().largestFree + 8)).not.toBe(0);
    expect(m.end).toBeGreaterThan(end);
    expect(a.liveMapBuffer.byteLength).toBe(doubled);
    a.check();
  });

  it("past pages someone else grew: when the memory cannot grow past them, 0 and nothing changed", () => {
    const m = new GrowableMemory(8192, 16384);
    const a = new TlsfAllocator(m);
    const p = a.alloc(1000);
    (m.buffer as ArrayBuffer).resize(16384); // someone else's pages, up to the maximum
    new Uint8Array(m.buffer).fill(7, 8192);
    const bytes = new Uint8Array(m.buffer).slice();
    const stats = a.stats();
    expect(a.alloc(10_000)).toBe(0);
    expect(differing(new Uint8Array(m.buffer), bytes)).toBe(0);
    expect(a.stats()).toEqual(stats);
    expect(m.end).toBe(8192);
    a.dealloc(p);
    a.check();
  });
});

describe("TLSF growth past pages someone else grew", () => {
  /**
   * A heap of 8 KiB, full, in a memory someone else resized to 12 KiB; the memory may grow
   * to `max`. A request for a block of `bsize` needs memkit's own bytes after 12 KiB.
   */
  function pastForeign(max: number): { a: TlsfAllocator; m: GrowableMemory } {
    const m = new GrowableMemory(8192, max);
    const a = new TlsfAllocator(m);
    expect(a.alloc(a.stats().largestFree)).not.toBe(0);
    (m.buffer as ArrayBuffer).resize(12288);
    new Uint8Array(m.buffer).fill(7, 8192);
    return { a, m };
  }

  it("asks for exactly what the block needs after them: its size, the sentinel, alignment", () => {
    const bsize = blockSizeFor(1000);
    const { a, m } = pastForeign(12288 + bsize + 15);
    const q = a.alloc(1000);
    expect(q).toBe(12288 + 8); // the hole ends at 12,292: the block's pointer 4 past it
    expect(a.usableSize(q)).toBe(bsize - 4);
    expect(m.end).toBe(12288 + bsize + 15);
    expect(new Uint8Array(m.buffer)[12287]).toBe(7); // someone else's bytes, untouched
    a.check();
  });

  it("one granule short: 0, and the memory and the heap as they were", () => {
    const bsize = blockSizeFor(1000);
    const { a, m } = pastForeign(12288 + bsize + 7);
    const stats = a.stats();
    expect(a.alloc(1000)).toBe(0);
    expect(m.buffer.byteLength).toBe(12288);
    expect(m.end).toBe(8192);
    expect(a.stats()).toEqual(stats);
    a.check();
  });
});

describe("TLSF allocAligned: the block found is checked before it is split", () => {
  /** A heap whose free 608-byte block F is what an aligned 100-byte request finds. */
  function freeF(): { a: TlsfAllocator; f: number } {
    const a = tlsf(1 << 16);
    const [F] = separated(a, [600]);
    a.dealloc(F);
    return { a, f: F - 4 };
  }

  it("a listed block whose free bit was cleared (a write past the block before it) poisons", () => {
    const { a, f } = freeF();
    u32(a)[f >>> 2] = 608;
    expectPoisons(a, () => a.alloc(100, 64));
  });

  it("a listed block whose size word and footer claim less than its list holds poisons, and says so", () => {
    const { a, f } = freeF();
    const w = u32(a);
    w[f >>> 2] = 176 | 1; // under the 184 bytes an aligned 100-byte block may need
    w[(f + 176 - 4) >>> 2] = f;
    expect(() => a.alloc(100, 64)).toThrow(
      /on a free list has size word 177, not a free block that fits/,
    );
    expect(a.poisoned).toBe(true);
  });
});
