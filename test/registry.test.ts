/**
 * The registry is what makes a strategy part of memkit: every entry runs the conformance
 * kit, is offered by the CLI, is a row of the bench, and builds for a trace on the memories
 * it declares.
 */

import { readdirSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
// @ts-expect-error plain JS module without types
import { MEMKIT_ROWS, NOT_BENCHED } from "../bench/rows.mjs";
import { ALLOCATOR_NAMES, allocatorChoice, GENERAL_NAMES } from "../src/cli/allocators.js";
import type { BaseAllocator } from "../src/core/allocator.js";
import { H_KIND } from "../src/core/header.js";
import { TRACE_MEMORY_MIN, traceMemoryBytes } from "../src/memory/trace-memory.js";
import { configurations, REGISTRY } from "../src/registry.js";
import { makeMemory } from "./conformance/memories.js";
import { REGISTRY_PARTS, registeredPart, registeredSubjects } from "./conformance/subject.js";

// bench/lib.mjs loads the library from the build (dist/); here, from the sources.
vi.mock("../bench/lib.mjs", async () => ({
  mk: await import("../src/index.js"),
  configurations: (await import("../src/registry.js")).configurations,
  traceAllocator: (await import("../src/cli/allocators.js")).traceAllocator,
}));

const names = configurations().map((c) => c.name);

describe("the registry", () => {
  it("names every configuration once, and every strategy's kind once", () => {
    expect(new Set(names).size).toBe(names.length);
    const kinds = REGISTRY.filter((r) => r.strategy !== "Heap").map((r) => r.kind);
    expect(new Set(kinds).size).toBe(kinds.length);
  });

  it("every entry and variant runs the conformance kit, on every memory it declares", () => {
    const subjects = registeredSubjects().map((s) => s.name);
    // Each in exactly one of the kit's registry-N files, and each of those files is there.
    const parts = Array.from({ length: REGISTRY_PARTS }, (_, k) => registeredPart(k + 1));
    expect(parts.flat().map((s) => s.name)).toEqual(expect.arrayContaining(subjects));
    expect(parts.flat()).toHaveLength(subjects.length);
    const files = readdirSync(new URL("./conformance/", import.meta.url));
    expect(files.filter((f) => /^registry-\d+\.conformance\.test\.ts$/.test(f)).sort()).toEqual(
      parts.map((_, k) => `registry-${k + 1}.conformance.test.ts`),
    );
    for (const r of REGISTRY) {
      expect(subjects).toContain(`${r.strategy} [${r.name}]`);
      for (const v of r.variants ?? []) expect(subjects).toContain(`${r.strategy} [${v.name}]`);
    }
    for (const s of registeredSubjects()) {
      for (const kind of s.kinds) {
        const a = s.make(makeMemory(kind, undefined, s.sharedMemory));
        const p = a.alloc(16);
        expect(p, `${s.name} on ${kind}`).not.toBe(0);
        a.dealloc(p, 16);
        a.check();
      }
    }
  });

  it("every entry and variant is offered by the CLI, `all` being the general ones", () => {
    expect(ALLOCATOR_NAMES).toEqual(names);
    expect(GENERAL_NAMES).toEqual(
      configurations()
        .filter((c) => c.general)
        .map((c) => c.name),
    );
    for (const name of names) expect(allocatorChoice(name).name).toBe(name);
  });

  it("every entry is a row of the bench; a variant left out says why", () => {
    const keys = (MEMKIT_ROWS as { key: string }[]).map((r) => r.key);
    for (const r of REGISTRY) {
      expect(keys, r.name).toContain(r.name);
      for (const v of r.variants ?? []) {
        expect(keys.includes(v.name) || typeof NOT_BENCHED[v.name] === "string", v.name).toBe(true);
      }
    }
  });

  it("builds every entry for a trace, as a heap of its own kind: the Heap and the specialists growing, the other general strategies on a fixed memory sized to the trace", () => {
    const sizing = { peakLiveBytes: 20 * 2 ** 20 };
    for (const r of REGISTRY) {
      for (const c of [r, ...(r.variants ?? [])]) {
        const a = c.forTrace(sizing);
        const p = a.alloc(64);
        expect(p, c.name).not.toBe(0);
        if (r.general && r.name !== "heap") {
          expect(a.memory.kind, c.name).toBe("fixed");
          expect(a.memory.end - a.memory.start, c.name).toBe(256 * 2 ** 20);
        } else {
          expect(a.memory.maxEnd, c.name).toBeGreaterThan(a.memory.end);
        }
        const header = new Float64Array((a as BaseAllocator).metadataBytes().slice(0, 64).buffer);
        expect(header[H_KIND], c.name).toBe(r.kind);
        a.dealloc(p, 64);
      }
    }
  });

  it("sizes a trace memory at 8× the peak, a power of two, 128 MiB … 4 GiB", () => {
    const MiB = 2 ** 20;
    expect(TRACE_MEMORY_MIN).toBe(128 * MiB);
    expect(traceMemoryBytes()).toBe(128 * MiB);
    expect(traceMemoryBytes({ peakLiveBytes: 0 })).toBe(128 * MiB);
    expect(traceMemoryBytes({ peakLiveBytes: 16 * MiB })).toBe(128 * MiB);
    expect(traceMemoryBytes({ peakLiveBytes: 16 * MiB + 1 })).toBe(256 * MiB);
    expect(traceMemoryBytes({ peakLiveBytes: 100 * MiB })).toBe(1024 * MiB);
    expect(traceMemoryBytes({ peakLiveBytes: 3 * 2 ** 30 })).toBe(4 * 2 ** 30);
  });
});
