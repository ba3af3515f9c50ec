/** The live table: offset → used node, by linear probing, doubling before half full. */

import { describe, expect, it } from "vitest";
import { LiveTable } from "../../../src/strategies/offset/live-table.js";

function filled(offsets: number[]): LiveTable {
  const t = new LiveTable();
  offsets.forEach((o, i) => {
    expect(t.reserve()).toBe(true);
    t.insert(o, i + 1);
  });
  return t;
}

describe("LiveTable", () => {
  it("finds every inserted block by its offset and forgets removed ones, across growth", () => {
    const offsets = Array.from({ length: 3000 }, (_, i) => 3 + i * 7);
    const t = filled(offsets);
    expect(t.count).toBe(offsets.length);
    expect(t.capacity).toBeGreaterThan(offsets.length * 2);
    expect(offsets.map((o) => t.find(o))).toEqual(offsets.map((_, i) => i + 1));
    expect(t.find(4)).toBe(0);
    // Remove every other one: the keys probed past them must still be found.
    offsets.forEach((o, i) => {
      if (i % 2 === 0) expect(t.remove(o)).toBe(true);
    });
    expect(offsets.map((o) => t.find(o))).toEqual(offsets.map((_, i) => (i % 2 === 0 ? 0 : i + 1)));
    expect(t.count).toBe(offsets.length / 2);
  });

  it("keeps every key findable when removals shift clusters back (random order)", () => {
    let seed = 9;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const t = new LiveTable();
    const live = new Map<number, number>();
    for (let step = 0; step < 20_000; step++) {
      const o = 1 + rnd(4000);
      if (live.has(o)) {
        expect(t.remove(o)).toBe(true);
        live.delete(o);
      } else {
        expect(t.reserve()).toBe(true);
        t.insert(o, step + 1);
        live.set(o, step + 1);
      }
    }
    expect(t.count).toBe(live.size);
    for (let o = 1; o <= 4000; o++) expect(t.find(o)).toBe(live.get(o) ?? 0);
  });

  it("spreads blocks of one size side by side over the slots (short probes)", () => {
    for (const stride of [1, 2, 16, 512, 8192]) {
      const offsets = Array.from({ length: 4096 }, (_, i) => 2 + i * stride);
      const t = filled(offsets);
      const mask = t.capacity - 1;
      let longest = 0;
      t.forEach((o, _n, slot) => {
        longest = Math.max(longest, (slot - t.homeOf(o)) & mask);
      });
      expect(longest).toBeLessThanOrEqual(8);
    }
  });

  it("remove answers false, changing nothing, for an offset it does not hold", () => {
    const t = filled([10, 20]);
    const before = [...t.slots];
    expect(t.remove(30)).toBe(false);
    expect([...t.slots]).toEqual(before);
    expect(t.count).toBe(2);
  });
});
