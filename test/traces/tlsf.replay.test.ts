import { describe, expect, it } from "vitest";
import { GrowableMemory } from "../../src/memory/memory.js";
import { TlsfAllocator } from "../../src/strategies/tlsf.js";
import { replay } from "../../src/trace/replay.js";
import { loadTrace, TRACE_NAMES } from "./load.js";

describe("TlsfAllocator replays the real traces", () => {
  for (const name of TRACE_NAMES) {
    it(`${name}: painted, verified, everything freed, whole heap allocatable again`, () => {
      const trace = loadTrace(name);
      const a = new TlsfAllocator(new GrowableMemory(1 << 20, 256 << 20));
      const r = replay(trace, a, { verify: true, checkEvery: 200_000 });
      expect(r.failures).toBe(0);
      expect(r.ops).toBe(trace.count);
      const s = a.stats();
      expect(s.liveBlocks).toBe(0);
      // Fully coalesced: the whole heap is one free block again.
      expect(s.largestFree).toBe(s.free);
      const p = a.alloc(s.largestFree, 1);
      expect(p).not.toBe(0);
      a.dealloc(p);
      a.check();
    });
  }
});
