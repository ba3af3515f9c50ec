/**
 * What is special to StackAllocator, part 2 (part 1: stack.test.ts): zeroing above the
 * high-water mark, the heap walker finding corruption, the memories it runs on and grows,
 * attaching, and stats.
 */

import { describe, expect, it } from "vitest";
import {
  ArgumentTypeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
} from "../../../src/core/errors.js";
import { H_CONFIG } from "../../../src/core/header.js";
import {
  FixedMemory,
  GrowableMemory,
  type Memory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import { BumpAllocator } from "../../../src/strategies/bump/index.js";
import { StackAllocator } from "../../../src/strategies/stack/index.js";
import { instantiateGrowModule } from "../../helpers/wasm.js";
import {
  DS,
  expectRejected,
  HDR,
  headerWords,
  INUSE_SLOT,
  LIVE_SLOT,
  PREV_WORD,
  SIZE_WORD,
} from "./helpers.js";

describe("allocZeroed", () => {
  it("zeroes reused bytes on an owned buffer and skips bytes never handed out", () => {
    const stack = new StackAllocator(1024);
    const p = stack.alloc(64);
    stack.memory.u8.fill(0xee, p, p + 64);
    stack.pop();
    const high = p + 64;
    // White box: a byte above the high-water mark is assumed zero on a fresh buffer, so
    // planting one there proves allocZeroed did not spend time filling it.
    stack.memory.u8[high + 8] = 0x55;
    const q = stack.allocZeroed(128);
    expect(q).toBe(p);
    expect(stack.memory.u8.subarray(q, high).every((x) => x === 0)).toBe(true);
    expect(stack.memory.u8[high + 8]).toBe(0x55);
  });

  it("zeroes everything on a caller's buffer (not assumed zero)", () => {
    const buf = new ArrayBuffer(1024);
    new Uint8Array(buf).fill(0xaa);
    const stack = StackAllocator.fromBuffer(buf, 8, 512);
    const p = stack.allocZeroed(100, 32);
    expect(p % 32).toBe(0);
    expect(stack.memory.u8.subarray(p, p + 100).every((x) => x === 0)).toBe(true);
    expect(stack.memory.u8[p + 100]).toBe(0xaa);
    expect(headerWords(stack, p)).toEqual({ prev: 0, size: 100 });
  });
});

describe("check() finds corruption and poisons the heap", () => {
  function threeBlocks() {
    const stack = new StackAllocator(1024);
    const a = stack.alloc(16);
    const b = stack.alloc(16);
    const c = stack.alloc(16);
    return { stack, a, b, c, u32: stack.memory.u32 };
  }

  it("a top block whose size no longer reaches TOP", () => {
    const { stack, c, u32 } = threeBlocks();
    u32[(c - HDR) / 4 + SIZE_WORD] = 15;
    expect(() => stack.check()).toThrow(/top block .* ends at .* not at TOP/);
    expect(() => stack.alloc(8)).toThrow(HeapPoisonedError);
  });

  it("a PREV link that points up (a cycle) is caught by a bounded walk", () => {
    const { stack, b, c, u32 } = threeBlocks();
    u32[(b - HDR) / 4 + PREV_WORD] = c;
    expect(() => stack.check()).toThrow(HeapCorruptedError);
  });

  it("a block overflowing into the header above it", () => {
    const { stack, a, b, u32 } = threeBlocks();
    u32[(a - HDR) / 4 + SIZE_WORD] = b - a; // a now ends past b's header
    expect(() => stack.check()).toThrow(/past the header/);
  });

  it("LIVE or INUSE out of step with the chain", () => {
    const fewer = threeBlocks().stack;
    fewer.memory.f64[LIVE_SLOT] = 2;
    expect(() => fewer.check()).toThrow(/more than LIVE = 2/);
    const more = threeBlocks().stack;
    more.memory.f64[LIVE_SLOT] = 4;
    expect(() => more.check()).toThrow(/chain holds 3 blocks, LIVE says 4/);
    const bytes = threeBlocks().stack;
    bytes.memory.f64[INUSE_SLOT] = 47;
    expect(() => bytes.check()).toThrow(/sum to 48, INUSE says 47/);
  });

  it("pop refuses a top header whose size no longer reaches TOP (smaller or larger)", () => {
    for (const delta of [-8, -1, 8]) {
      const { stack, c, u32 } = threeBlocks();
      u32[(c - HDR) / 4 + SIZE_WORD] += delta;
      expect(() => stack.pop()).toThrow(HeapCorruptedError);
      expect(stack.poisoned).toBe(true);
    }
  });

  it("pop checks the top header before moving the top", () => {
    const { stack, c, u32 } = threeBlocks();
    u32[(c - HDR) / 4 + PREV_WORD] = c + 8; // a block below cannot lie above
    expect(() => stack.pop()).toThrow(HeapCorruptedError);
    expect(stack.poisoned).toBe(true);
  });
});

describe("memories", () => {
  it("refuses an offset-only memory", () => {
    let thrown: unknown;
    try {
      new StackAllocator(new OffsetMemory(0, 4096));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ArgumentTypeError);
    expect((thrown as ArgumentTypeError).code).toBe("ERR_UNSUPPORTED");
  });

  it.each([
    ["growable", () => new GrowableMemory(1024, 256 * 1024)],
    ["shared", () => new SharedMemory(1024, 256 * 1024)],
  ] as [string, () => Memory][])("grows a %s memory when full", (_kind, make) => {
    const stack = new StackAllocator(make());
    expect(stack.remaining()).toBe(256 * 1024 - DS);
    const ptrs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const p = stack.alloc(1000);
      expect(p).not.toBe(0);
      stack.memory.u8.fill(i, p, p + 1000);
      ptrs.push(p);
    }
    expect(stack.memory.end).toBeGreaterThan(50 * 1000);
    stack.check();
    for (let i = 49; i >= 0; i--) {
      expect(stack.memory.u8[ptrs[i] + 999]).toBe(i);
      expect(stack.pop()).toBe(ptrs[i]);
    }
    expect(stack.alloc(256 * 1024)).toBe(0); // past the maximum
    stack.check();
  });

  it("keeps working after a wasm module grows the memory behind its back", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: 4 });
    const stack = new StackAllocator(new WasmMemory(memory, 1024));
    const a = stack.alloc(100);
    const b = stack.alloc(200, 64);
    expect(mod.grow(1)).toBe(1); // detaches the old ArrayBuffer
    expect(stack.pop()).toBe(b); // reads b's header through fresh views
    expect(stack.marker()).toBe(a + 100);
    // The module's page is not the stack's: a block that needs more room than the first page
    // is out of memory (the stack does not grow past someone else's pages).
    expect(stack.alloc(100_000)).toBe(0);
    expect(stack.memory.end).toBe(65536);
    const c = stack.alloc(1000);
    expect(c + 1000).toBeLessThanOrEqual(65536);
    expect(headerWords(stack, c)).toEqual({ prev: a, size: 1000 });
    stack.check();
  });

  it("a fixed memory does not grow: remaining() is what is left of it", () => {
    const stack = StackAllocator.fromBuffer(new ArrayBuffer(4096), 0, 1024);
    expect(stack.remaining()).toBe(1024 - DS);
    expect(stack.alloc(1024)).toBe(0);
    expect(stack.alloc(1024 - DS - HDR)).toBe(DS + HDR);
    expect(stack.remaining()).toBe(0);
  });
});

describe("attach", () => {
  it("a second handle sees and changes the same stack", () => {
    const mem = new FixedMemory(new ArrayBuffer(4096));
    const one = new StackAllocator(mem);
    const a = one.alloc(32);
    const b = one.alloc(32);
    const two = StackAllocator.attach(mem);
    expect(two.stats()).toEqual(one.stats());
    expect(two.pop()).toBe(b);
    expect(one.marker()).toBe(a + 32);
    expectRejected(one, () => one.dealloc(b), InvalidPointerError, "ERR_INVALID_POINTER");
    two.check();
  });

  it("refuses another strategy's heap, and a stack of another block format", () => {
    const mem = new FixedMemory(new ArrayBuffer(4096));
    new BumpAllocator(mem);
    expect(() => StackAllocator.attach(mem)).toThrow(HeapIncompatibleError);
    const mem2 = new FixedMemory(new ArrayBuffer(4096));
    new StackAllocator(mem2);
    mem2.f64[H_CONFIG] = 16;
    let thrown: unknown;
    try {
      StackAllocator.attach(mem2);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(HeapIncompatibleError);
    expect((thrown as HeapIncompatibleError).code).toBe("ERR_HEAP_CONFIG");
  });
});

describe("stats", () => {
  it("counts the 8-byte headers and the padding as overhead", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(5); // header 8, block 5
    stack.alloc(8); // padding 3, header 8, block 8
    const s = stack.stats();
    expect(s.capacity).toBe(DS + 1024);
    expect(s.inUse).toBe(13);
    expect(s.free).toBe(1024 - (8 + 5 + 3 + 8 + 8));
    expect(s.overhead).toBe(DS + 8 + 3 + 8);
    expect(s.largestFree).toBe(s.free - 8);
    expect(s.liveBlocks).toBe(2);
  });

  it("peakInUse survives pops and is cleared by reset", () => {
    const stack = new StackAllocator(1024);
    stack.alloc(100);
    stack.alloc(50);
    stack.pop();
    stack.pop();
    expect(stack.stats().peakInUse).toBe(150);
    stack.reset();
    expect(stack.stats().peakInUse).toBe(0);
  });

  it("serves the largest alignment (64 KiB)", () => {
    const stack = new StackAllocator(200_000);
    const p = stack.alloc(1, 65536);
    expect(p).not.toBe(0);
    expect(p % 65536).toBe(0);
    stack.check();
  });
});
