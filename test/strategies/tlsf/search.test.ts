/**
 * TLSF's search (src/strategies/tlsf/search.ts), observed through the blocks it hands out:
 * the good fit over both bitmaps, the bounded fallback over the exact list, the split of a
 * rest of exactly one minimal block, and the front end given back (or kept) before a
 * request is cut from the heap's end.
 */

import { describe, expect, it } from "vitest";
import { FixedMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { TLSF_HEADER } from "../../../src/strategies/tlsf/layout.js";
import { MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { FALLBACK_SCAN } from "../../../src/strategies/tlsf/search.js";

/** u32 index of the state words in an owned heap (region at 0). */
const SW = TLSF_HEADER.wordsAt / 4;
const W = TLSF_HEADER.word;

function tlsf(capacity: number, frontEnd = false): TlsfAllocator {
  return new TlsfAllocator(new FixedMemory(new ArrayBuffer(capacity)), { frontEnd });
}

/** Bytes the front end holds (state word CACHED). */
function cached(a: TlsfAllocator): number {
  a.memory.refresh();
  return a.memory.u32[SW + W.CACHED];
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
    expect(whole.u8.slice(0, 4096)).toEqual(before);
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
    // h1 | y (2,008 bytes, too large to be held) | h2 | separator | the free end
    const h1 = a.alloc(40);
    const y = a.alloc(2000);
    const h2 = a.alloc(40);
    a.alloc(8);
    a.dealloc(h1); // held: both neighbours used
    a.dealloc(h2); // held
    a.dealloc(y); // listed alone: its neighbours are held, so used
    expect(cached(a)).toBe(96); // more than the peak (2,104) / 32 = 65
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
    expect(a.alloc(40)).toBe(h);
    a.dealloc(big);
    a.check();
  });
});
