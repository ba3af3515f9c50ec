/**
 * The bad-input probe (scripts/probe.mjs, `npm run probe`) over the sources: every row of
 * bad input against every registered allocator (SharedHeap's SHARED_REGISTRY included) on
 * every memory kind it runs on must throw a
 * typed error (or answer 0 for a size no heap holds) and change no byte of the memory, the
 * metadata or the stats.
 */

import { expect, it } from "vitest";
import * as lib from "../src/index.js";
import { checkedConfigurations, REGISTRY, SHARED_REGISTRY } from "../src/registry.js";

interface ProbeResult {
  rows: number;
  passed: number;
  failed: number;
  failures: Array<{ allocator: string; kind: string; row: string; why: string }>;
  unprobed: string[];
}

it("every bad-input row holds on every registered allocator and memory kind", async () => {
  const path = "../scripts/probe.mjs";
  const { probe } = (await import(path)) as {
    probe(l: unknown, c: unknown, r: unknown): ProbeResult;
  };
  const configurations = checkedConfigurations();
  const result = probe(lib, configurations, [...REGISTRY, ...SHARED_REGISTRY]);
  expect(result.failures.map((f) => `${f.allocator} on ${f.kind}: ${f.row}: ${f.why}`)).toEqual([]);
  expect(result.unprobed).toEqual([]);
  // Every row ran somewhere (a row that never applies proves nothing).
  expect(result.rows).toBeGreaterThanOrEqual(90);
  expect(result.passed).toBeGreaterThan(result.rows * configurations.length * 3);
  // SharedHeap (SHARED_REGISTRY) is probed, on both its memories (one passes < rows each).
  const shared = SHARED_REGISTRY[0];
  const only = probe(lib, [shared], [shared]);
  expect(only.failures).toEqual([]);
  expect(only.passed).toBeGreaterThan(only.rows * 1.5);
});
