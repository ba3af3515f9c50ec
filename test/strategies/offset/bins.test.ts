/**
 * The OffsetAllocator's bin mapping, checked for every size up to 2^18 granules (2 MiB) and
 * around every bin boundary up to the largest block: each size lies in the range of the bin
 * it is kept in, the search bin is the first whose every block fits, and bins are narrow.
 */

import { describe, expect, it } from "vitest";
import {
  BIN_COUNT,
  BINS_PER_LEVEL,
  binMinGranules,
  binOf,
  FIRST_LEVELS,
  MAX_GRANULES,
  searchBinOf,
} from "../../../src/strategies/offset/bins.js";

const EXHAUSTIVE = 2 ** 18;

/** Every size worth checking: all up to 2^18, and each bin boundary ± 2 above that. */
function sizes(): number[] {
  const out: number[] = [];
  for (let g = 1; g <= EXHAUSTIVE; g++) out.push(g);
  for (let b = 1; b < BIN_COUNT; b++) {
    const m = binMinGranules(b);
    if (m <= EXHAUSTIVE) continue;
    for (let d = -2; d <= 2; d++) if (m + d <= MAX_GRANULES) out.push(m + d);
  }
  out.push(MAX_GRANULES - 1, MAX_GRANULES);
  return out;
}

const ALL = sizes();

describe("bins", () => {
  it("has one bin per (first level, second level) pair, with increasing smallest sizes", () => {
    expect(BIN_COUNT).toBe(FIRST_LEVELS * BINS_PER_LEVEL);
    for (let b = 1; b < BIN_COUNT; b++) {
      expect(binMinGranules(b)).toBeGreaterThanOrEqual(binMinGranules(b - 1));
    }
    // Bins above the first (bin 0 holds size 0, which no block has) have distinct ranges.
    for (let b = 2; b < BIN_COUNT; b++) {
      expect(binMinGranules(b)).toBeGreaterThan(binMinGranules(b - 1));
    }
  });

  it("keeps every free block in the bin whose range holds its size", () => {
    const wrong: number[] = [];
    for (const g of ALL) {
      const b = binOf(g);
      const hi = b + 1 < BIN_COUNT ? binMinGranules(b + 1) : MAX_GRANULES + 1;
      if (!(b >= 1 && b < BIN_COUNT && binMinGranules(b) <= g && g < hi)) wrong.push(g);
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it("searches from the first bin whose every block fits the request", () => {
    const wrong: number[] = [];
    for (const g of ALL) {
      const b = searchBinOf(g);
      if (b === BIN_COUNT) {
        // Only when no bin's smallest block holds g.
        if (binMinGranules(BIN_COUNT - 1) >= g) wrong.push(g);
        continue;
      }
      const firstFitting = binMinGranules(b) >= g;
      const previousMayNot = b === 0 || binMinGranules(b - 1) < g;
      if (!(firstFitting && previousMayNot && b >= binOf(g))) wrong.push(g);
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it("bins are exact below 64 granules and at most 1/32 of their size wide above", () => {
    for (let b = 1; b + 1 < BIN_COUNT; b++) {
      const lo = binMinGranules(b);
      const width = binMinGranules(b + 1) - lo;
      if (lo < 64) expect(width).toBe(1);
      else expect(width * 32).toBeLessThanOrEqual(lo);
    }
  });

  it("maps the largest block of a 4 GiB region", () => {
    expect(MAX_GRANULES).toBe(2 ** 29 - 1);
    expect(binOf(MAX_GRANULES)).toBe(BIN_COUNT - 1);
    expect(searchBinOf(binMinGranules(BIN_COUNT - 1))).toBe(BIN_COUNT - 1);
    expect(searchBinOf(binMinGranules(BIN_COUNT - 1) + 1)).toBe(BIN_COUNT);
  });
});
