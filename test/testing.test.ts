/**
 * Test hooks live behind `memkit/testing`, not the public entry point: the pause points a
 * SharedHeap test arms and the cache's per-agent handle.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as memkit from "../src/index.js";
import * as testing from "../src/testing.js";

describe("memkit/testing", () => {
  it("holds the test hooks, which the public entry point does not export", () => {
    expect(Object.keys(testing).sort()).toEqual(["PAUSE_POINTS", "PageCache"]);
    expect(Object.keys(testing.PAUSE_POINTS).length).toBeGreaterThan(3);
    for (const name of Object.keys(testing)) expect(name in memkit, name).toBe(false);
  });

  it("is an entry of package.json's exports, ES module and CommonJS, types first", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    const entry = pkg.exports["./testing"];
    expect(entry).toEqual({
      import: { types: "./dist/testing.d.ts", default: "./dist/testing.js" },
      require: { types: "./dist/cjs/testing.d.ts", default: "./dist/cjs/testing.js" },
    });
  });
});
