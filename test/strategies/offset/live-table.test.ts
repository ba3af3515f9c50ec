/** The live table: offset → used node, through chains that double when full. */

import { describe, expect, it } from "vitest";
import { LiveTable } from "../../../src/strategies/offset/live-table.js";
import { NODE_SHIFT, NONE, NodePool, OFFSET } from "../../../src/strategies/offset/nodes.js";

function nodesAt(offsets: number[]): NodePool {
  const pool = new NodePool(offsets.length);
  pool.reserve(offsets.length);
  for (const o of offsets) pool.words[(pool.acquire() << NODE_SHIFT) + OFFSET] = o;
  return pool;
}

describe("LiveTable", () => {
  it("finds every inserted node by its offset and forgets removed ones, across growth", () => {
    const offsets = Array.from({ length: 5000 }, (_, i) => 3 + i * 7);
    const pool = nodesAt(offsets);
    const t = new LiveTable();
    for (let n = 1; n <= offsets.length; n++) t.insert(pool.words, n);
    expect(t.count).toBe(offsets.length);
    expect(t.heads.length).toBeGreaterThanOrEqual(offsets.length);
    for (let n = 1; n <= offsets.length; n++) expect(t.find(pool.words, offsets[n - 1])).toBe(n);
    expect(t.find(pool.words, 4)).toBe(NONE);
    for (let n = 1; n <= offsets.length; n += 2) expect(t.remove(pool.words, n)).toBe(true);
    for (let n = 1; n <= offsets.length; n++) {
      expect(t.find(pool.words, offsets[n - 1])).toBe(n % 2 === 1 ? NONE : n);
    }
    expect(t.count).toBe(offsets.length / 2);
  });

  it("spreads blocks of one size side by side over the chains (no chain longer than 4)", () => {
    for (const stride of [1, 2, 16, 512, 8192]) {
      const offsets = Array.from({ length: 4096 }, (_, i) => 2 + i * stride);
      const pool = nodesAt(offsets);
      const t = new LiveTable();
      for (let n = 1; n <= offsets.length; n++) t.insert(pool.words, n);
      const lengths = new Int32Array(t.heads.length);
      for (const o of offsets) lengths[t.chainOf(o)]++;
      expect(Math.max(...lengths)).toBeLessThanOrEqual(4);
    }
  });

  it("remove answers false, changing nothing, for a node its chain does not hold", () => {
    const pool = nodesAt([10, 20]);
    const t = new LiveTable();
    t.insert(pool.words, 1);
    const before = [...t.heads];
    expect(t.remove(pool.words, 2)).toBe(false);
    expect([...t.heads]).toEqual(before);
    expect(t.count).toBe(1);
  });
});
