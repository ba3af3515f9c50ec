/** The node pool: spares reused first, room reserved before use, contents kept on growth. */

import { describe, expect, it } from "vitest";
import {
  NODE_SHIFT,
  NodePool,
  OFFSET,
  SIZE,
  SPARE,
  STATE,
  USED,
} from "../../../src/strategies/offset/nodes.js";

describe("NodePool", () => {
  it("hands out 1, 2, 3 … and reuses released nodes last-in first-out", () => {
    const pool = new NodePool(4);
    expect(pool.reserve(3)).toBe(true);
    expect([pool.acquire(), pool.acquire(), pool.acquire()]).toEqual([1, 2, 3]);
    pool.release(2);
    pool.release(1);
    expect(pool.words[(2 << NODE_SHIFT) + STATE]).toBe(SPARE);
    expect(pool.spareCount).toBe(2);
    expect([pool.acquire(), pool.acquire(), pool.acquire()]).toEqual([1, 2, 4]);
    expect(pool.top).toBe(4);
  });

  it("reserve doubles the arrays when full and keeps every node's words", () => {
    const pool = new NodePool(2);
    for (let i = 0; i < 40; i++) {
      expect(pool.reserve(1)).toBe(true);
      const n = pool.acquire();
      const at = n << NODE_SHIFT;
      pool.words[at + OFFSET] = n * 10;
      pool.words[at + SIZE] = n;
      pool.words[at + STATE] = USED;
    }
    expect(pool.capacity).toBe(64);
    for (let n = 1; n <= 40; n++) expect(pool.words[(n << NODE_SHIFT) + OFFSET]).toBe(n * 10);
    pool.release(7);
    expect(pool.reserve(pool.capacity - 40 + 1)).toBe(true); // the spare counts
    expect(pool.capacity).toBe(64);
    expect(pool.reserve(pool.capacity - 40 + 2)).toBe(true);
    expect(pool.capacity).toBe(128);
    expect(pool.spare[0]).toBe(7);
  });

  it("clear forgets every node", () => {
    const pool = new NodePool(4);
    pool.reserve(2);
    pool.words[(pool.acquire() << NODE_SHIFT) + SIZE] = 5;
    pool.release(pool.acquire());
    pool.clear();
    expect([pool.top, pool.spareCount]).toEqual([0, 0]);
    expect(pool.words.every((x) => x === 0)).toBe(true);
  });
});
