/**
 * The OffsetAllocator replaying the three real traces offset-only (a 4 GiB `OffsetMemory`):
 * no failure, everything reclaimed into one free block, and the footprint (the highest
 * offset reached over the peak of live requested bytes; deterministic) at its targets.
 *
 * python-json and sqlite3 are within 1.10. gcc-lvm is not: a 3.2 MB request near the end of
 * the trace finds no hole that large among ~3.5 MB of free blocks and goes on top. Bin
 * precision is not the cause: an exact best fit and an address-ordered first fit over
 * out-of-line blocks with the same rounding to 16 bytes reach 1.135 on it
 * (`node bench/offset-fit.mjs`), and the bound asserted here is that.
 */

import { describe, expect, it } from "vitest";
import { OffsetMemory } from "../../../src/memory/memory.js";
import { OffsetAllocator } from "../../../src/strategies/offset/offset-allocator.js";
import { replay } from "../../../src/trace/replay.js";
import { loadTrace } from "../../traces/load.js";

const TARGETS: Record<string, number> = {
  "python-json": 1.1,
  "gcc-lvm": 1.135,
  sqlite3: 1.1,
};

describe("OffsetAllocator replays the real traces offset-only", () => {
  for (const [name, target] of Object.entries(TARGETS)) {
    it(`${name}: footprint ≤ ${target}, everything reclaimed`, () => {
      const a = new OffsetAllocator(new OffsetMemory(0, 2 ** 32));
      const r = replay(loadTrace(name), a);
      expect(r.failures).toBe(0);
      console.log(`OffsetAllocator ${name}: footprint ${r.footprintRatio.toFixed(4)}`);
      expect(r.footprintRatio).toBeLessThanOrEqual(target);
      a.check();
      const s = a.stats();
      expect(s.liveBlocks).toBe(0);
      expect(s.largestFree).toBe(2 ** 32 - 16);
      expect(a.freeSpaceReport().freeBlocks).toBe(1);
    });
  }
});
