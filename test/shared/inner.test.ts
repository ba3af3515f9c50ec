/**
 * SharedHeap wraps its allocator through the contract of shared/inner.ts: whatever strategy
 * it is given makes and attaches the heap, and one whose block header would not leave room
 * for the cache pages is refused.
 */

import { describe, expect, it } from "vitest";
import type { Allocator } from "../../src/core/allocator.js";
import { ArgumentTypeError } from "../../src/core/errors.js";
import type { Memory } from "../../src/core/memory.js";
import { type SharedStrategy, TLSF_SHARED } from "../../src/shared/inner.js";
import { SharedHeap } from "../../src/shared/shared-heap.js";

describe("SharedHeap over the inner-allocator contract", () => {
  it("makes and attaches its heap through the strategy it is given", () => {
    const calls: string[] = [];
    const counting: SharedStrategy = {
      ...TLSF_SHARED,
      name: "counting TLSF",
      create(memory: Memory): Allocator {
        calls.push("create");
        return TLSF_SHARED.create(memory);
      },
      attach(memory: Memory, side: SharedArrayBuffer): Allocator {
        calls.push("attach");
        return TLSF_SHARED.attach(memory, side);
      },
    };
    const a = SharedHeap.create({ initialBytes: 1 << 20, strategy: counting });
    const p = a.alloc(4000);
    expect(p).not.toBe(0);
    const b = SharedHeap.attach(a.share(), { strategy: counting });
    expect(b.usableSize(p)).toBeGreaterThanOrEqual(4000);
    b.dealloc(p);
    a.check();
    expect(calls).toEqual(["create", "attach"]);
  });

  it("refuses a strategy whose block header leaves no room for the cache pages", () => {
    const wide: SharedStrategy = { ...TLSF_SHARED, name: "wide", blockHeaderBytes: 16 };
    expect(() => SharedHeap.create({ initialBytes: 1 << 20, strategy: wide })).toThrow(
      ArgumentTypeError,
    );
  });
});
