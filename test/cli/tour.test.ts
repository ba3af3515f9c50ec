import { describe, expect, it } from "vitest";
import { main, PACKAGE_ROOT } from "../../src/cli/main.js";
import { tour } from "../../src/cli/tour.js";
import { REGISTRY } from "../../src/registry.js";
import { captureIo } from "./helpers.js";

describe("memkit tour", () => {
  const lines = tour();
  const sections = lines.filter((l) => l.startsWith("== ")).map((l) => l.slice(3));

  it("has a section for every strategy of the registry", () => {
    const classes = REGISTRY.map((r) => r.strategy);
    expect(classes).toContain("Heap");
    const missing = classes.filter(
      (c) => !sections.some((s) => s.startsWith(`${c}:`) || s.startsWith(`${c} `)),
    );
    expect(missing).toEqual([]);
  });

  it("every section prints what it did, and misuse is always refused", () => {
    const text = lines.join("\n");
    for (const block of text.split("\n\n")) {
      expect(block.split("\n").length, block).toBeGreaterThanOrEqual(2);
    }
    expect(text).not.toContain("no error?");
    expect(text).toContain("free twice: DoubleFreeError ERR_DOUBLE_FREE");
    expect(text).toMatch(/the 101st: 0 \(full\)/);
    expect(text).toMatch(/best fit put 250 bytes in the 300-byte hole \(same address\)/);
  });

  it("is what the command prints", async () => {
    const io = captureIo(PACKAGE_ROOT, PACKAGE_ROOT);
    expect(await main(["tour"], io)).toBe(0);
    expect(io.out()).toBe(`${tour().join("\n")}\n`);
  });
});
