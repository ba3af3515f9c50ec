/**
 * TLSF's free lists when a split or a merge leaves a free block in the list it was in
 * (take's rest, a block merged into its free follower or predecessor): the new block takes
 * the old one's place without the bitmaps changing (kernel.ts `pushFree`, `toHead`;
 * blocks.ts `replaceFree`), and the lists end up exactly as unlinking and inserting would
 * leave them (the new block at the head). Random allocations and frees with sizes that
 * stay in their lists keep `check()` passing.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { LINK_NEXT } from "../../../src/strategies/tlsf/layout.js";
import { FL_COUNT, listOf, sameList } from "../../../src/strategies/tlsf/mapping.js";
import { tlsf, u32 } from "./helpers.js";

interface Lists {
  flMap: number;
  slMap: number;
  heads: number;
}

/** The blocks of list `li`, head first. */
function list(a: TlsfAllocator, li: number): number[] {
  const w = u32(a);
  const out: number[] = [];
  for (let b = w[(a as unknown as Lists).heads + li]; b !== 0 && out.length < 64; ) {
    out.push(b);
    b = w[(b >>> 2) + LINK_NEXT];
  }
  return out;
}

/** The FL bitmap and the SL bitmaps. */
function bitmaps(a: TlsfAllocator): number[] {
  const { flMap, slMap } = a as unknown as Lists;
  return Array.from(u32(a).subarray(flMap, slMap + FL_COUNT));
}

// 8,296-byte blocks (requests of 8,292) are in the list of [8,192, 8,448): 48 bytes less
// (a 40-byte request cut off) and 104 bytes more (a 100-byte block merged) stay in it.
const BIG = 8292;
const BIG_BLOCK = 8296;
const LI = listOf(BIG_BLOCK);

describe("TLSF lists: a block that stays in its list", () => {
  it("the sizes used here stay in the list, and smaller or larger ones leave it", () => {
    expect(sameList(BIG_BLOCK, BIG_BLOCK - 48)).toBe(true);
    expect(sameList(BIG_BLOCK + 104, BIG_BLOCK)).toBe(true);
    expect(sameList(BIG_BLOCK, 8184)).toBe(false);
    expect(sameList(8448, BIG_BLOCK)).toBe(false);
  });

  for (const second of [false, true]) {
    const which = second ? "behind another block" : "alone";
    it(`take: the rest heads the list in its block's place, the bitmaps as they were (${which})`, () => {
      const a = tlsf(1 << 16);
      const F = a.alloc(BIG);
      a.alloc(8);
      const G = a.alloc(BIG);
      a.alloc(8);
      a.dealloc(F);
      if (second) a.dealloc(G); // G heads the list, F is behind it
      const maps = bitmaps(a);
      const head = second ? G : F;
      expect(a.alloc(40)).toBe(head);
      expect(list(a, LI)).toEqual(second ? [G - 4 + 48, F - 4] : [F - 4 + 48]);
      expect(bitmaps(a)).toEqual(maps);
      a.check();
    });

    it(`free: a block merged with its free follower heads the follower's list (follower ${which})`, () => {
      // L (used) | F (free) | sep | G (free, heading the list when `second`) | sep.
      const a = tlsf(1 << 16);
      const L = a.alloc(100);
      const F = a.alloc(BIG);
      a.alloc(8);
      const G = a.alloc(BIG);
      a.alloc(8);
      if (second) {
        a.dealloc(F);
        a.dealloc(G);
        expect(list(a, LI)).toEqual([G - 4, F - 4]);
      } else {
        a.dealloc(G);
        a.dealloc(F);
        expect(list(a, LI)).toEqual([F - 4, G - 4]);
      }
      const maps = bitmaps(a);
      a.dealloc(L);
      expect(list(a, LI)).toEqual([L - 4, G - 4]);
      expect(u32(a)[(L - 4) >>> 2]).toBe((104 + BIG_BLOCK) | 1);
      expect(bitmaps(a)).toEqual(maps);
      a.check();
    });

    it(`free: a free predecessor that grows in its list moves to its head (predecessor ${which})`, () => {
      // F (free) | R (used) | sep | G (free) | sep: freeing R makes F 104 bytes larger.
      const a = tlsf(1 << 16);
      const F = a.alloc(BIG);
      const R = a.alloc(100);
      a.alloc(8);
      const G = a.alloc(BIG);
      a.alloc(8);
      if (second) {
        a.dealloc(F);
        a.dealloc(G);
      } else {
        a.dealloc(G);
        a.dealloc(F);
      }
      const maps = bitmaps(a);
      a.dealloc(R);
      expect(list(a, LI)).toEqual([F - 4, G - 4]);
      expect(u32(a)[(F - 4) >>> 2]).toBe((BIG_BLOCK + 104) | 1);
      expect(bitmaps(a)).toEqual(maps);
      a.check();
    });
  }

  it("free between two free blocks: the predecessor stays in its list, the follower's list empties", () => {
    // X (free, 8,296) | B (used, 24) | Y (free, 72) | sep: X absorbs B and Y (8,392 bytes).
    const a = tlsf(1 << 16);
    const X = a.alloc(BIG);
    const B = a.alloc(16);
    const Y = a.alloc(64);
    a.alloc(8);
    a.dealloc(X);
    a.dealloc(Y);
    expect(list(a, listOf(72))).toEqual([Y - 4]);
    a.dealloc(B);
    expect(list(a, LI)).toEqual([X - 4]);
    expect(list(a, listOf(72))).toEqual([]);
    expect(u32(a)[(X - 4) >>> 2]).toBe((BIG_BLOCK + 24 + 72) | 1);
    a.check();
  });

  it("random allocations and frees, with sizes that mostly stay in their lists, keep check() passing", () => {
    // Small blocks cut from and given back to a few large free ones: most splits and merges
    // keep the large block in its list, some cross a boundary.
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(
          fc.tuple(
            fc.nat(31),
            fc.oneof(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 2000, max: 9000 })),
          ),
          { minLength: 1, maxLength: 300 },
        ),
        (frontEnd, ops) => {
          const a = tlsf(1 << 17, frontEnd);
          const live: number[] = new Array(32).fill(0);
          for (const [slot, size] of ops) {
            if (live[slot] !== 0) {
              a.dealloc(live[slot]);
              live[slot] = 0;
            } else {
              live[slot] = a.alloc(size, slot % 2 === 0 ? 8 : 16);
            }
            a.check();
          }
          for (const p of live) if (p !== 0) a.dealloc(p);
          a.check();
          expect(a.stats().liveBlocks).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
