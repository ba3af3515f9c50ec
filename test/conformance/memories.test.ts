/**
 * The kit's memories (memories.ts) are what they say: each growable kind can grow to the
 * `maxEnd` it declares, so an allocator that grows its memory to the maximum first (the
 * slab's block parent) manages the whole region, not only the first few KiB.
 */

import { describe, expect, it } from "vitest";
import { slabRegistration } from "../../src/strategies/slab/registration.js";
import { KIT_BYTES, makeMemory } from "./memories.js";
import { subjectOf } from "./subject.js";

const GROWING = [
  ["growable", false],
  ["shared", false],
  ["wasm", false],
  ["wasm", true],
] as const;

describe("the kit's memories", () => {
  for (const [kind, shared] of GROWING) {
    it(`${kind}${shared ? " (shared)" : ""} grows to the maxEnd it declares`, () => {
      const m = makeMemory(kind, undefined, shared);
      expect(m.shared).toBe(shared || kind === "shared");
      expect(m.end).toBeLessThan(m.maxEnd);
      expect(m.maxEnd - m.start).toBeGreaterThanOrEqual(KIT_BYTES);
      expect(m.grow(m.maxEnd)).toBe(true);
      expect(m.end).toBe(m.maxEnd);
    });
  }

  it("the registry's slab gets the whole region on every memory it runs on", () => {
    const slab = subjectOf(slabRegistration);
    for (const kind of slab.kinds) {
      const a = slab.make(makeMemory(kind));
      expect(a.stats().capacity, kind).toBeGreaterThanOrEqual(KIT_BYTES);
    }
  });
});
