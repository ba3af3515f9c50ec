/**
 * The hardening ladder (compose/hardened.ts): each level catches what it promises, on every
 * registered strategy, and a caller's mistake stays a typed error that changes nothing.
 */

import { describe, expect, it } from "vitest";
import {
  CANARY_BYTES,
  FREED_FILL,
  HardenedAllocator,
  type HardeningLevel,
} from "../../src/compose/hardened.js";
import type { Allocator } from "../../src/core/allocator.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { configurations, REGISTRY } from "../../src/registry.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { makeMemory } from "../conformance/memories.js";
import { thrown } from "../helpers/thrown.js";

function expectCorrupted(fn: () => unknown, what: string): void {
  const e = thrown(fn);
  expect(e, what).toBeInstanceOf(HeapCorruptedError);
  expect((e as HeapCorruptedError).code, what).toBe("ERR_HEAP_CORRUPTED");
}

/** Each registered strategy on a memory with bytes, its flags, and its size limit. */
const STRATEGIES = REGISTRY.map((r) => ({
  label: r.label,
  name: r.name,
  bytes: r.memories.includes("fixed"),
  lifo: r.capabilities.freeOrder === "lifo",
  // Room for the canary inside what the strategy serves (a pool of 48-byte blocks).
  size: Math.min(40, r.capabilities.sizes.max - CANARY_BYTES),
  make: () => r.make(makeMemory(r.memories.includes("fixed") ? "fixed" : r.memories[0])),
}));

describe("canary: an overflow is caught on free and by check()", () => {
  for (const s of STRATEGIES) {
    if (!s.bytes) continue;
    it(`${s.label}`, () => {
      for (const overflowBy of [1, CANARY_BYTES]) {
        const a = new HardenedAllocator(s.make(), { level: "canary" });
        const p = a.alloc(s.size);
        const q = a.alloc(s.size);
        expect(p * q).not.toBe(0);
        expect(a.usableSize(p)).toBe(s.size); // a byte more is the canary's
        a.check();
        a.memory.u8[q + s.size + overflowBy - 1] ^= 0xff; // one byte past the block
        expectCorrupted(() => a.check(), `${s.label}: check after +${overflowBy}`);
        expect(a.poisoned).toBe(true);
        expect(thrown(() => a.alloc(8))).toBeInstanceOf(HeapPoisonedError);

        // The same overflow found by dealloc, before the block goes back.
        const b = new HardenedAllocator(s.make(), { level: "canary" });
        const r = b.alloc(s.size);
        b.memory.u8[r + s.size + overflowBy - 1] ^= 0xff;
        const liveBefore = b.inner.stats().liveBlocks;
        expectCorrupted(() => b.dealloc(r, s.size), `${s.label}: dealloc after +${overflowBy}`);
        expect(b.inner.stats().liveBlocks).toBe(liveBefore);
      }
    });
  }
});

describe("quarantine: use after free and double free are caught", () => {
  for (const s of STRATEGIES) {
    if (s.lifo) continue;
    it(`${s.label}: a freed block is filled and held; a write into it is caught`, () => {
      const a = new HardenedAllocator(s.make(), { level: "quarantine", quarantineBlocks: 4 });
      const p = a.alloc(s.size);
      expect(p).not.toBe(0);
      a.dealloc(p);
      expect(a.quarantined.blocks).toBe(1);
      if (!s.bytes) return;
      const u8 = a.memory.u8;
      for (let i = 0; i < s.size + CANARY_BYTES; i++) expect(u8[p + i]).toBe(FREED_FILL);
      a.check();
      u8[p + 3] = 0; // a write through the stale pointer
      expectCorrupted(() => a.check(), `${s.label}: check`);

      // Found when the block leaves the quarantine, before it can be handed out again.
      const b = new HardenedAllocator(s.make(), { level: "quarantine", quarantineBlocks: 2 });
      const first = b.alloc(s.size);
      b.dealloc(first);
      b.memory.u8[first] = 1;
      const others = [b.alloc(s.size), b.alloc(s.size)];
      b.dealloc(others[0]);
      expectCorrupted(() => b.dealloc(others[1]), `${s.label}: eviction`);
    });

    it(`${s.label}: freeing a block again is DoubleFreeError, even after allocations`, () => {
      const a = new HardenedAllocator(s.make(), { level: "quarantine", quarantineBlocks: 16 });
      const p = a.alloc(s.size);
      a.dealloc(p);
      // Without the quarantine these could hand out p again, and the second free below
      // would free someone else's block.
      const q = a.alloc(s.size);
      expect(q).not.toBe(p);
      const before = JSON.stringify(a.stats());
      const e = thrown(() => a.dealloc(p));
      expect(e).toBeInstanceOf(DoubleFreeError);
      expect(JSON.stringify(a.stats())).toBe(before);
      expect(thrown(() => a.realloc(p, 2 ** 40))).toBeInstanceOf(DoubleFreeError);
      a.dealloc(q);
      a.flush();
      expect(a.quarantined).toEqual({ blocks: 0, bytes: 0 });
      a.check();
    });
  }

  it("the plain strategy hands a freed block out again, and then a second free hits the new owner", () => {
    // Why the quarantine exists (RELIABILITY.md §0 lesson 7).
    const t = new TlsfAllocator(1 << 16);
    const p = t.alloc(40);
    t.dealloc(p);
    const q = t.alloc(40);
    expect(q).toBe(p);
    t.dealloc(p); // accepted: it is q now
    expect(t.stats().liveBlocks).toBe(0);
  });

  it("the quarantine is bounded in blocks and in bytes", () => {
    const a = new HardenedAllocator(new TlsfAllocator(1 << 20), {
      quarantineBlocks: 3,
      quarantineBytes: 1000,
    });
    const ps = Array.from({ length: 6 }, () => a.alloc(100));
    for (const p of ps.slice(0, 4)) a.dealloc(p);
    expect(a.quarantined.blocks).toBe(3);
    const big = a.alloc(900);
    a.dealloc(big);
    expect(a.quarantined.bytes).toBeLessThanOrEqual(1000);
    expect(a.quarantined.blocks).toBe(1);
    a.check();
  });

  it("realloc moves the block, so the old address is held like a freed one", () => {
    const a = new HardenedAllocator(new TlsfAllocator(1 << 16));
    const p = a.alloc(24);
    a.memory.u8.fill(7, p, p + 24);
    const q = a.realloc(p, 24);
    expect(q).not.toBe(p);
    expect(a.memory.u8.subarray(q, q + 24).every((b) => b === 7)).toBe(true);
    expect(thrown(() => a.dealloc(p))).toBeInstanceOf(DoubleFreeError);
    a.memory.u8[p] = 0; // write through the stale pointer
    expectCorrupted(() => a.check(), "stale realloc pointer");
  });
});

describe("check: the strategy's own walk on every call", () => {
  it("metadata broken between two calls is reported by the next call", () => {
    const inner = new TlsfAllocator(1 << 16);
    const a = new HardenedAllocator(inner, { level: "check" });
    const p = a.alloc(64);
    a.alloc(64);
    // A stray write over p's block header (4 bytes before it).
    new Uint32Array(a.memory.buffer)[(p - 4) >>> 2] = 0x12345;
    expect(thrown(() => a.stats())).toBeInstanceOf(HeapCorruptedError);
  });
});

describe("caller errors stay typed errors that change nothing", () => {
  const levels: HardeningLevel[] = ["canary", "quarantine", "check"];
  for (const level of levels) {
    it(`level ${level}`, () => {
      const a = new HardenedAllocator(new TlsfAllocator(1 << 16), { level });
      const p = a.alloc(32);
      const snap = () =>
        `${Buffer.from(a.memory.u8).toString("base64")}|${JSON.stringify(a.stats())}|${a.quarantined.blocks}`;
      const before = snap();
      const cases: Array<[() => unknown, abstract new (...x: never[]) => Error]> = [
        [() => a.alloc(Number.NaN), ArgumentRangeError],
        [() => a.alloc("8" as unknown as number), ArgumentTypeError],
        [() => a.alloc(8, 3), ArgumentRangeError],
        [() => a.dealloc(p + 8), InvalidPointerError],
        [() => a.dealloc(p, 33), LayoutMismatchError],
        [() => a.dealloc(p, Number.NaN), ArgumentRangeError],
        [() => a.dealloc(a.memory.end), InvalidPointerError],
        [() => a.realloc(p + 8, 2 ** 40), InvalidPointerError],
        [() => a.realloc(p, 0), ArgumentRangeError],
        [() => a.usableSize(-1), InvalidPointerError],
      ];
      for (const [call, cls] of cases) {
        expect(thrown(call)).toBeInstanceOf(cls);
        expect(snap() === before).toBe(true);
      }
      expect(a.alloc(2 ** 40)).toBe(0);
      a.check();
    });
  }

  it("refuses a level it does not know, and a quarantine over a StackAllocator", () => {
    const t = new TlsfAllocator(1 << 16);
    expect(
      thrown(() => new HardenedAllocator(t, { level: "max" as HardeningLevel })),
    ).toBeInstanceOf(ArgumentRangeError);
    expect(thrown(() => new HardenedAllocator(t, { quarantineBlocks: -1 }))).toBeInstanceOf(
      ArgumentRangeError,
    );
    const stack = new StackAllocator(1 << 16);
    expect(thrown(() => new HardenedAllocator(stack))).toBeInstanceOf(ArgumentTypeError);
    expect(new HardenedAllocator(stack, { level: "canary" }).alloc(8)).not.toBe(0);
  });

  it("every registered configuration can be wrapped at the level its free order allows", () => {
    for (const c of configurations()) {
      const r = REGISTRY.find((x) => x === c || x.variants?.includes(c))!;
      const level: HardeningLevel = r.capabilities.freeOrder === "lifo" ? "canary" : "quarantine";
      const a: Allocator = new HardenedAllocator(c.make(makeMemory(r.memories[0])), { level });
      const p = a.alloc(16);
      expect(p, c.name).not.toBe(0);
      a.dealloc(p, 16);
      a.check();
    }
  });
});

describe("HardenedAllocator: corruption the wrapped allocator found poisons the wrapper", () => {
  for (const level of ["canary", "quarantine"] as const) {
    it(`${level}: the inner heap poisoned, every call of the wrapper throws HeapPoisonedError`, () => {
      const inner = new TlsfAllocator(makeMemory("fixed"));
      const h = new HardenedAllocator(inner, { level });
      const p = h.alloc(64);
      h.alloc(64);
      const u32 = inner.memory.u32;
      // The inner size word of the next block, past the canary.
      const next = p + inner.usableSize(p);
      u32[next >>> 2] ^= 0x100;
      expect(() => inner.check()).toThrow(HeapCorruptedError);
      for (const call of [() => h.dealloc(p), () => h.alloc(8), () => h.stats(), () => h.check()]) {
        expect(call).toThrow(HeapPoisonedError);
      }
      expect(h.poisoned).toBe(true);
    });
  }
});
