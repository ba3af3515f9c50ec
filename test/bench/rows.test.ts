// The bench's rows come from the strategy registry: every registered configuration is a row
// (or is left out with a reason), and a strategy the bench has no entry for still gets one.

import { describe, expect, it, vi } from "vitest";
// @ts-expect-error plain JS module without types
import { MEMKIT_ROWS, NOT_BENCHED, rowsFor } from "../../bench/rows.mjs";
import { configurations } from "../../src/registry.js";

// bench/lib.mjs loads the library from the build (dist/); here, from the sources.
vi.mock("../../bench/lib.mjs", async () => ({
  mk: await import("../../src/index.js"),
  configurations: (await import("../../src/registry.js")).configurations,
  traceAllocator: (await import("../../src/cli/allocators.js")).traceAllocator,
}));

interface Row {
  key: string;
  on: string[];
  passSize?: boolean;
}

describe("bench rows", () => {
  it("has a row for every registered configuration, or says why not", () => {
    const keys = (MEMKIT_ROWS as Row[]).map((r) => r.key);
    for (const c of configurations()) {
      expect(keys.includes(c.name) || c.name in NOT_BENCHED, c.name).toBe(true);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("passes the size to dealloc where the registration says the contract needs it", () => {
    const block = (MEMKIT_ROWS as Row[]).find((r) => r.key === "block");
    expect(block?.passSize).toBe(true);
    expect((MEMKIT_ROWS as Row[]).find((r) => r.key === "heap")?.passSize).toBeUndefined();
  });

  it("lists the specialists of a workload first, then the general ones, then the peers", () => {
    const w2 = rowsFor("W2").map((r: Row) => r.key);
    expect(w2.slice(0, 4)).toEqual(["baseline", "minpool", "pool", "heap"]);
    expect(w2.at(-1)).toBe("gc");
    expect(rowsFor("growth").map((r: Row) => r.key)).toEqual(["baseline", "heap"]);
  });
});
