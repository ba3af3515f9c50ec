/**
 * A heap whose common header no longer says what its handle was made with is corrupt
 * (RELIABILITY.md §2.1 P3, §3.1 layer 3): `check()` and the next call throw
 * `HeapCorruptedError` (ERR_HEAP_CORRUPTED, never the attach error `HeapIncompatibleError`)
 * and poison the heap, so every call after that throws `HeapPoisonedError`. On every
 * registered strategy, on a memory with bytes and (where it runs there) an offset-only one.
 */

import { describe, expect, it } from "vitest";
import type { Allocator } from "../../src/core/allocator.js";
import {
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
} from "../../src/core/errors.js";
import {
  COMMON_SLOTS,
  H_CONFIG,
  H_DATA_START,
  H_KIND,
  H_MAGIC,
  H_META_BYTES,
  H_RESERVED,
  H_STATE,
  H_VERSION,
  MAGIC,
  POISONED_MAGIC,
  StrategyKind,
} from "../../src/core/header.js";
import type { Memory } from "../../src/core/memory.js";
import { configurations, REGISTRY } from "../../src/registry.js";
import { makeMemory } from "../conformance/memories.js";
import { thrown } from "../helpers/thrown.js";

/** The header slots of a BaseAllocator handle (protected fields, read for the test). */
function header(a: Allocator): { slots: Float64Array; slot0: number } {
  const h = a as unknown as { slots: Float64Array; slot0: number };
  a.stats(); // the entry check re-derives stale views
  return { slots: h.slots, slot0: h.slot0 };
}

/** Every registered configuration on each memory kind it declares, as (label, make). */
const SUBJECTS: Array<[string, () => Allocator]> = REGISTRY.flatMap((r) =>
  [r, ...(r.variants ?? [])].flatMap((c) =>
    r.memories
      .filter((k) => k === "fixed" || k === "offset")
      .map((k): [string, () => Allocator] => [`${c.label} on ${k}`, () => c.make(makeMemory(k))]),
  ),
);

type Damage = [what: string, damage: (slots: Float64Array, slot0: number) => void];

const otherKind = (k: number) => (k === StrategyKind.tlsf ? StrategyKind.bump : StrategyKind.tlsf);

/** Each common slot changed to a value another heap could hold, or to garbage. */
const DAMAGE: Damage[] = [
  ["MAGIC zeroed", (s, o) => (s[o + H_MAGIC] = 0)],
  ["VERSION 2.0", (s, o) => (s[o + H_VERSION] = 2 * 65536)],
  ["VERSION minor 0 → 7", (s, o) => (s[o + H_VERSION] += 7)],
  ["KIND another strategy's", (s, o) => (s[o + H_KIND] = otherKind(s[o + H_KIND]))],
  ["STATE 7", (s, o) => (s[o + H_STATE] = 7)],
  ["META_BYTES + 8", (s, o) => (s[o + H_META_BYTES] += 8)],
  ["DATA_START + 8", (s, o) => (s[o + H_DATA_START] += 8)],
  ["CONFIG + 1", (s, o) => (s[o + H_CONFIG] += 1)],
  ["RESERVED 1", (s, o) => (s[o + H_RESERVED] = 1)],
];

/** The first detection: HeapCorruptedError itself, not its Poisoned subclass. */
function expectFirstDetection(e: unknown, what: string): void {
  expect(e, what).toBeInstanceOf(HeapCorruptedError);
  expect(e, what).not.toBeInstanceOf(HeapIncompatibleError);
  expect((e as HeapCorruptedError).code, what).toBe("ERR_HEAP_CORRUPTED");
}

function expectPoisoned(a: Allocator, what: string): void {
  expect((a as unknown as { poisoned: boolean }).poisoned, what).toBe(true);
  for (const call of [() => a.alloc(8), () => a.stats(), () => a.check()]) {
    const e = thrown(call);
    expect(e, what).toBeInstanceOf(HeapPoisonedError);
    expect((e as HeapPoisonedError).code, what).toBe("ERR_HEAP_POISONED");
  }
  // The poison is in the header itself, for every handle: both slots say so.
  const { slots, slot0 } = header2(a);
  expect(slots[slot0 + H_STATE], what).toBe(1);
  expect(slots[slot0 + H_MAGIC], what).toBe(POISONED_MAGIC);
}

/** `header` without the entry check (which throws on a poisoned heap). */
function header2(a: Allocator): { slots: Float64Array; slot0: number } {
  a.memory.refresh();
  const h = a as unknown as { slots: Float64Array; slot0: number; refreshViews(): void };
  h.refreshViews();
  return { slots: h.slots, slot0: h.slot0 };
}

describe("a damaged common header is corruption, on every strategy", () => {
  it("covers every registered strategy", () => {
    const labels = SUBJECTS.map(([l]) => l);
    for (const c of configurations()) expect(labels.some((l) => l.startsWith(c.label))).toBe(true);
  });

  for (const [label, make] of SUBJECTS) {
    it(`${label}: check() throws HeapCorruptedError and poisons, for each slot`, () => {
      for (const [what, damage] of DAMAGE) {
        const a = make();
        const p = a.alloc(24);
        expect(p).not.toBe(0);
        a.check();
        const { slots, slot0 } = header(a);
        damage(slots, slot0);
        expectFirstDetection(
          thrown(() => a.check()),
          `${label}, ${what}`,
        );
        expectPoisoned(a, `${label}, ${what}`);
      }
    });

    it(`${label}: a flipped byte of the magic fails the very next call`, () => {
      const calls: Array<[string, (a: Allocator, p: number) => unknown]> = [
        ["alloc", (a) => a.alloc(16)],
        ["dealloc", (a, p) => a.dealloc(p, 24)],
        ["usableSize", (a, p) => a.usableSize(p)],
        ["stats", (a) => a.stats()],
      ];
      for (let byte = 0; byte < 8; byte++) {
        for (const [name, call] of calls) {
          const a = make();
          const p = a.alloc(24);
          const { slots, slot0 } = header(a);
          const bytes = new Uint8Array(slots.buffer, slots.byteOffset + (slot0 + H_MAGIC) * 8, 8);
          bytes[byte] ^= 0x10;
          expect(slots[slot0 + H_MAGIC]).not.toBe(MAGIC);
          const what = `${label}, magic byte ${byte}, then ${name}`;
          const e = thrown(() => call(a, p));
          // usableSize of a strategy that keeps no sizes may refuse for its own reason first.
          if (name === "usableSize" && !(e instanceof HeapCorruptedError)) continue;
          expectFirstDetection(e, what);
          expectPoisoned(a, what);
        }
      }
    });

    it(`${label}: an intact header passes check() unchanged`, () => {
      const a = make();
      a.check();
      const { slots, slot0 } = header(a);
      const before = slots.slice(slot0, slot0 + COMMON_SLOTS);
      a.check();
      expect(slots.slice(slot0, slot0 + COMMON_SLOTS)).toEqual(before);
      expect((a as unknown as { poisoned: boolean }).poisoned).toBe(false);
    });
  }

  it("a second handle attached to a heap poisoned by the first one reports the poison", async () => {
    const { TlsfAllocator } = await import("../../src/strategies/tlsf/index.js");
    const memory: Memory = makeMemory("fixed");
    const a = new TlsfAllocator(memory);
    const b = TlsfAllocator.attach(memory, a.liveMapBuffer);
    const { slots, slot0 } = header(a);
    slots[slot0 + H_CONFIG] += 1;
    expectFirstDetection(
      thrown(() => a.check()),
      "first handle",
    );
    expect(thrown(() => b.alloc(8))).toBeInstanceOf(HeapPoisonedError);
    // Attaching reads only, and refuses a poisoned heap.
    const bytes = memory.u8.slice();
    expect(thrown(() => TlsfAllocator.attach(memory, a.liveMapBuffer))).toBeInstanceOf(
      HeapPoisonedError,
    );
    expect(Buffer.compare(memory.u8, bytes)).toBe(0);
  });
});
