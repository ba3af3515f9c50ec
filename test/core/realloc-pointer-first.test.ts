/**
 * `realloc` validates the pointer before the size (RELIABILITY.md §2.1 P1): a freed,
 * interior or foreign pointer is a caller error even when the new size is one no heap can
 * hold (which alone answers 0, "out of memory, the block is still yours"). Every byte of
 * memory and metadata and `stats()` stay as they were. On every registered strategy and
 * variant, on its first memory kind.
 */

import { describe, expect, it } from "vitest";
import { ChainAllocator } from "../../src/compose/chain.js";
import type { Allocator } from "../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
} from "../../src/core/errors.js";
import type { Capabilities, Configuration } from "../../src/core/registration.js";
import { REGISTRY } from "../../src/registry.js";
import { SharedHeap } from "../../src/shared/shared-heap.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { makeMemory } from "../conformance/memories.js";

function snapshot(a: Allocator): string {
  a.memory.refresh();
  const m = a.memory;
  const bytes = m.hasBytes ? Buffer.from(m.u8.subarray(m.start, m.end)).toString("base64") : "";
  const withMeta = a as unknown as { metadataBytes?: () => Uint8Array };
  const meta = withMeta.metadataBytes ? Buffer.from(withMeta.metadataBytes()).toString("hex") : "";
  return `${bytes}|${meta}|${JSON.stringify(a.stats())}`;
}

function expectRejected(
  a: Allocator,
  what: string,
  fn: () => unknown,
  classes: ReadonlyArray<abstract new (...args: never[]) => Error>,
): void {
  const before = snapshot(a);
  let thrown: unknown;
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `${what} returned ${String(result)} instead of throwing`).toBeDefined();
  expect(
    classes.some((c) => thrown instanceof c),
    `${what}: ${String(thrown)}`,
  ).toBe(true);
  expect(snapshot(a) === before, `${what} changed the heap`).toBe(true);
}

const SUBJECTS: Array<[Configuration, Capabilities, string]> = REGISTRY.flatMap((r) =>
  [r, ...(r.variants ?? [])].map((c): [Configuration, Capabilities, string] => [
    c,
    r.capabilities,
    r.memories[0],
  ]),
);

const HUGE = [2 ** 32, 2 ** 40, 2 ** 53 - 1];

function resize(caps: Capabilities, a: Allocator, ptr: number, old: number, n: number): number {
  return caps.realloc ? caps.realloc(a, ptr, old, n, 8) : a.realloc(ptr, n, 8);
}

describe("realloc checks the pointer before the size", () => {
  for (const [config, caps, kind] of SUBJECTS) {
    const make = () => config.make(makeMemory(kind as Parameters<typeof makeMemory>[0]));
    // Blocks of 32 or more bytes (so p + 16 is inside one), within the sizes it serves.
    const size = Math.min(64, caps.sizes.max);

    it(`${config.label}: a freed pointer with a size too large for any heap throws`, () => {
      if (!caps.detectsDoubleFree || caps.freeOrder === "none") return;
      const a = make();
      const keep = a.alloc(size);
      const p = a.alloc(size);
      const q = a.alloc(size);
      expect(keep * p * q).not.toBe(0);
      // LIFO strategies free the newest block; the others a block between two live ones.
      const freed = caps.freeOrder === "lifo" ? q : p;
      a.dealloc(freed, size);
      for (const n of HUGE) {
        expectRejected(a, `realloc(freed, ${n})`, () => resize(caps, a, freed, size, n), [
          DoubleFreeError,
          InvalidPointerError,
        ]);
      }
      // An invalid size does not hide the freed pointer either.
      expectRejected(a, "realloc(freed, NaN)", () => resize(caps, a, freed, size, Number.NaN), [
        DoubleFreeError,
        InvalidPointerError,
      ]);
      a.check();
    });

    it(`${config.label}: an interior or foreign pointer with a huge size throws`, () => {
      const a = make();
      const p = a.alloc(size);
      expect(p).not.toBe(0);
      if (caps.detectsInteriorPointers) {
        for (const n of HUGE) {
          expectRejected(a, `realloc(p + 16, ${n})`, () => resize(caps, a, p + 16, size, n), [
            InvalidPointerError,
          ]);
        }
      }
      const past = a.memory.end + 64;
      for (const n of HUGE) {
        expectRejected(a, `realloc(end + 64, ${n})`, () => resize(caps, a, past, size, n), [
          InvalidPointerError,
          AllocatorError,
        ]);
      }
      // A live block with a huge size is out of memory (0), the block untouched.
      const before = snapshot(a);
      expect(resize(caps, a, p, size, 2 ** 40)).toBe(0);
      expect(snapshot(a) === before).toBe(true);
      // And size 0 stays a RangeError.
      expectRejected(a, "realloc(p, 0)", () => resize(caps, a, p, size, 0), [ArgumentRangeError]);
      a.check();
    });
  }
});

describe("realloc checks the pointer before the size: compositions", () => {
  it("a chain of two TLSF regions", () => {
    const memory = makeMemory("fixed");
    const cut = memory.start + 32 * 1024;
    const chain = new ChainAllocator(
      [
        new TlsfAllocator(memory.region(memory.start, cut)),
        new TlsfAllocator(memory.region(cut, memory.end)),
      ],
      { memory },
    );
    const keep = chain.alloc(20_000);
    const p = chain.alloc(20_000); // in the second member
    const q = chain.alloc(64);
    expect(keep * p * q).not.toBe(0);
    for (const freed of [p, q]) {
      chain.dealloc(freed);
      for (const n of HUGE) {
        expectRejected(chain, `realloc(freed ${freed}, ${n})`, () => chain.realloc(freed, n), [
          DoubleFreeError,
        ]);
      }
      expectRejected(chain, "realloc(freed, NaN)", () => chain.realloc(freed, Number.NaN), [
        DoubleFreeError,
      ]);
    }
    expectRejected(chain, "realloc(interior)", () => chain.realloc(keep + 16, 2 ** 40), [
      InvalidPointerError,
    ]);
    chain.check();
  });

  it("a SharedHeap: a cached small block and a TLSF block", () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20 });
    const small = heap.alloc(32); // from this agent's cache page
    const large = heap.alloc(8192); // from the TLSF under the lock
    const keep = heap.alloc(8192);
    expect(small * large * keep).not.toBe(0);
    heap.dealloc(small);
    heap.dealloc(large);
    for (const freed of [small, large]) {
      for (const n of [...HUGE, Number.NaN]) {
        let e: unknown;
        try {
          heap.realloc(freed, n);
        } catch (x) {
          e = x;
        }
        expect(e, `realloc(freed ${freed}, ${n})`).toBeInstanceOf(DoubleFreeError);
      }
    }
    heap.check();
  });
});

describe("dealloc(p, NaN) and pointers at the region's end, on every strategy", () => {
  for (const [config, caps, kind] of SUBJECTS) {
    it(`${config.label}`, () => {
      const a = config.make(makeMemory(kind as Parameters<typeof makeMemory>[0]));
      const size = Math.min(64, caps.sizes.max);
      const p = a.alloc(size);
      expect(p).not.toBe(0);
      // NaN passes every `size > most` guard: it must be the argument's error, heap unchanged.
      for (const bad of [Number.NaN, 1.5, -8, Number.POSITIVE_INFINITY]) {
        expectRejected(a, `dealloc(p, ${bad})`, () => a.dealloc(p, bad), [ArgumentRangeError]);
      }
      expectRejected(a, "dealloc(p, '8')", () => a.dealloc(p, "8" as unknown as number), [
        ArgumentTypeError,
      ]);
      // Exactly at the region's end, and the last 8-aligned address before it.
      const end = a.memory.end;
      for (const at of [end, end - 8, end + 8]) {
        expectRejected(a, `dealloc(${at})`, () => a.dealloc(at, size), [
          InvalidPointerError,
          DoubleFreeError,
        ]);
        expectRejected(a, `realloc(${at})`, () => resize(caps, a, at, size, 16), [
          InvalidPointerError,
          DoubleFreeError,
        ]);
      }
      a.dealloc(p, size);
      a.check();
    });
  }
});
