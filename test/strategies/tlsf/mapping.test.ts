/**
 * TLSF's size classes, exhaustively: every list's boundaries, every block size up to 1 MiB,
 * and the sizes next to every power of two up to 4 GiB.
 */

import { describe, expect, it } from "vitest";
import {
  BLOCK_OVERHEAD,
  blockSizeFor,
  GRANULE,
  LIST_COUNT,
  listMinSize,
  listOf,
  MAX_BLOCK,
  MIN_BLOCK,
  SL_COUNT,
  SMALL_LIMIT,
  sameList,
  searchListOf,
} from "../../../src/strategies/tlsf/mapping.js";

/** Block sizes to try: every multiple of 8 below 1 MiB, and both sides of 2^k and 2^k × 1.5. */
function sizes(): number[] {
  const out: number[] = [];
  for (let s = 0; s < 1 << 20; s += GRANULE) out.push(s);
  for (let k = 20; k < 32; k++) {
    for (const base of [2 ** k, 1.5 * 2 ** k]) {
      for (let d = -64; d <= 64; d += GRANULE) {
        const s = base + d;
        if (s <= MAX_BLOCK) out.push(s);
      }
    }
  }
  out.push(MAX_BLOCK - GRANULE, MAX_BLOCK);
  return out;
}

/** Collects what fails instead of calling `expect` a million times (each call is slow). */
function failures(check: (fail: (what: string) => void) => void): string[] {
  const out: string[] = [];
  check((what) => {
    if (out.length < 10) out.push(what);
  });
  return out;
}

describe("TLSF size classes", () => {
  it("every list's smallest size maps back to it, and the size below it to the list before", () => {
    expect(listMinSize(0)).toBe(0);
    for (let li = 1; li < LIST_COUNT; li++) {
      const min = listMinSize(li);
      expect(min % GRANULE).toBe(0);
      expect(min).toBeGreaterThan(listMinSize(li - 1));
      expect(listOf(min)).toBe(li);
      expect(listOf(min - GRANULE)).toBe(li - 1);
    }
    // The last list holds every size up to the largest block.
    expect(listOf(MAX_BLOCK)).toBe(LIST_COUNT - 1);
  });

  it("lists below SMALL_LIMIT are one granule wide; above, 32 slices per power of two", () => {
    for (let s = 0; s < SMALL_LIMIT; s += GRANULE) expect(listOf(s)).toBe(s / GRANULE);
    for (let k = 8; k < 32; k++) {
      const first = listOf(2 ** k);
      expect(first % SL_COUNT).toBe(0);
      expect(listOf(2 ** k - GRANULE)).toBe(first - 1);
      const slice = 2 ** (k - 5);
      for (let sl = 0; sl < SL_COUNT; sl++)
        expect(listMinSize(first + sl)).toBe(2 ** k + sl * slice);
    }
  });

  it("listOf puts every size in the list whose range holds it", () => {
    const bad = failures((fail) => {
      for (const s of sizes()) {
        const li = listOf(s);
        const inRange = li >= 0 && li < LIST_COUNT && listMinSize(li) <= s;
        if (!inRange || (li + 1 < LIST_COUNT && listMinSize(li + 1) <= s)) {
          fail(`listOf(${s}) = ${li}`);
        }
      }
    });
    expect(bad).toEqual([]);
  });

  it("searchListOf is the first list whose every block holds the size", () => {
    const bad = failures((fail) => {
      for (const s of sizes()) {
        const li = searchListOf(s);
        // LIST_COUNT: no list is wholly above s, so s lies inside the last list's range.
        if (li === LIST_COUNT) {
          if (!(s > listMinSize(LIST_COUNT - 1))) fail(`searchListOf(${s}) = LIST_COUNT`);
        } else if (listMinSize(li) < s || (li > 0 && listMinSize(li - 1) >= s)) {
          fail(`searchListOf(${s}) = ${li}`);
        }
      }
    });
    expect(bad).toEqual([]);
  });

  it("sameList says whether two sizes map to one list, as comparing their listOf does", () => {
    const bad = failures((fail) => {
      for (const s of sizes()) {
        if (s < MIN_BLOCK + GRANULE) continue;
        const li = listOf(s);
        // Smaller sizes near s, near its list's boundaries, and far below it.
        const others = new Set<number>([MIN_BLOCK, Math.floor(s / 16) * 8]);
        for (let d = GRANULE; d <= 256; d += GRANULE) others.add(s - d);
        for (const edge of [listMinSize(li), li > 0 ? listMinSize(li - 1) : 0]) {
          for (let d = -2 * GRANULE; d <= 2 * GRANULE; d += GRANULE) others.add(edge + d);
        }
        for (const t of others) {
          if (t < MIN_BLOCK || t >= s) continue;
          if (sameList(s, t) !== (listOf(t) === li)) fail(`sameList(${s}, ${t})`);
        }
      }
    });
    expect(bad).toEqual([]);
  });

  it("blockSizeFor adds the size word and rounds up to the granule, at least MIN_BLOCK", () => {
    const bad = failures((fail) => {
      for (let n = 0; n < 1 << 20; n++) {
        const b = blockSizeFor(n);
        const least = Math.max(n + BLOCK_OVERHEAD, MIN_BLOCK);
        if (b % GRANULE !== 0 || b < least || b >= least + GRANULE)
          fail(`blockSizeFor(${n}) = ${b}`);
      }
    });
    expect(bad).toEqual([]);
    expect(blockSizeFor(MAX_BLOCK - BLOCK_OVERHEAD)).toBe(MAX_BLOCK);
  });
});
