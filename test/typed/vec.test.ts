/**
 * `Vec` over every allocator: the seeds' examples, growth (in place where the strategy can),
 * views across growth of the vector and of the memory, out of memory, and bad input.
 */

import { describe, expect, expectTypeOf, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  StaleViewError,
} from "../../src/core/errors.js";
import { getDefaultHeap, Heap } from "../../src/heap/index.js";
import { SharedMemory, WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { Vec } from "../../src/typed/vec.js";
import { FailingAllocator, SUBJECTS, snapshot, unchanged } from "./subjects.js";

describe("Vec: the seeds' examples", () => {
  it("stalloc: v.push(25) in a BlockAllocator of 200 blocks of 4 bytes", () => {
    const alloc = new BlockAllocator(200, 4); // Stalloc::<200, 4>
    const v = new Vec(Int32Array, alloc); // Vec::new_in(&alloc)
    expect(v.push(25)).toBe(true);
    expect(v.length).toBe(1);
    expect(v.at(0)).toBe(25);
    expect(alloc.memory.i32[v.ptr >> 2]).toBe(25); // in the allocator's bytes, where wasm reads it
    expect(alloc.numFree()).toBe(200 - 4); // the first growth takes 4 elements: 4 blocks
    v.free();
    expect(alloc.isEmpty()).toBe(true);
    alloc.check();
  });

  it("stalloc's global allocator: vec![1, 2, 3, 4, 5] in the default heap", () => {
    const v = Vec.from(Float64Array, [1, 2, 3, 4, 5])!;
    expect(v.allocator).toBe(getDefaultHeap());
    expect([...v]).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(v.view)).toEqual([1, 2, 3, 4, 5]);
    v.free();
  });

  it("static-alloc: vec![0xdeadbeef; 32] in a 64 KiB bump", () => {
    const bump = new BumpAllocator(64 * 1024);
    const v = Vec.filled(Uint32Array, 0xdeadbeef, 32, bump)!;
    expect(v.length).toBe(32);
    expect(v.capacity).toBe(32);
    expect(v.toArray()).toEqual(new Array(32).fill(0xdeadbeef));
    expect(bump.stats().inUse).toBe(32 * 4);
  });
});

describe.each(SUBJECTS)("Vec over $name", (subject) => {
  it("pushes, reads, writes, pops, and frees everything it took", () => {
    const a = subject.make();
    const before = a.stats();
    const v = new Vec(Uint16Array, a);
    const n = subject.maxBlock === undefined ? 500 : subject.maxBlock / 2;
    for (let i = 0; i < n; i++) expect(v.push(i * 3)).toBe(true);
    expect(v.length).toBe(n);
    expect(v.capacity).toBeGreaterThanOrEqual(n);
    for (let i = 0; i < n; i++) expect(v.at(i)).toBe(i * 3);
    v.set(7, 65535);
    expect(v.view[7]).toBe(65535);
    expect(v.at(-1)).toBe((n - 1) * 3);
    expect(v.pop()).toBe((n - 1) * 3);
    expect(v.length).toBe(n - 1);
    v.shrinkToFit();
    expect(v.capacity).toBeGreaterThanOrEqual(n - 1);
    expect(v.at(7)).toBe(65535);
    a.check();
    v.free();
    expect(a.stats().liveBlocks).toBe(before.liveBlocks);
    if (subject.name !== "Bump") expect(a.stats().inUse).toBe(before.inUse);
    a.check();
  });

  it("keeps every element through growth, and says false (unchanged) when it cannot grow", () => {
    const f = new FailingAllocator(subject.make());
    const v = new Vec(Float64Array, f);
    for (let i = 0; i < 4; i++) v.push(i + 0.5);
    const ptr = v.ptr;
    const cap = v.capacity;
    const before = snapshot(f);
    f.fail = () => true;
    expect(v.push(99)).toBe(false);
    expect(v.reserve(100)).toBe(false);
    expect(v.extend([1, 2])).toBe(false);
    expect(unchanged(f, before)).toBe(true);
    expect([v.length, v.capacity, v.ptr]).toEqual([4, cap, ptr]);
    expect(v.toArray()).toEqual([0.5, 1.5, 2.5, 3.5]);
    f.fail = () => false;
    expect(v.push(4.5)).toBe(true);
    expect(v.toArray()).toEqual([0.5, 1.5, 2.5, 3.5, 4.5]);
    v.free();
    f.check();
  });

  it("grows by alloc-copy-free when realloc answers 0", () => {
    const f = new FailingAllocator(subject.make());
    f.fail = (op) => op === "realloc";
    const v = Vec.from(Int32Array, [1, 2, 3, 4])!;
    const w = Vec.from(Int32Array, [1, 2, 3, 4], f)!;
    expect(w.push(5)).toBe(true);
    expect(f.failures).toBe(1);
    expect(w.toArray()).toEqual([1, 2, 3, 4, 5]);
    w.free();
    v.free();
    f.check();
  });
});

describe("Vec: growth in place", () => {
  it("Bump: the newest block grows where it is", () => {
    const bump = new BumpAllocator(64 * 1024);
    const v = new Vec(Uint8Array, bump);
    v.push(1);
    const ptr = v.ptr;
    for (let i = 0; i < 1000; i++) v.push(i & 0xff);
    expect(v.ptr).toBe(ptr);
    expect(bump.stats().liveBlocks).toBe(1);
  });

  it("TLSF: a block followed by a free one grows into it", () => {
    const tlsf = new TlsfAllocator(64 * 1024);
    const v = Vec.from(Float64Array, [1, 2, 3, 4], tlsf)!;
    const ptr = v.ptr;
    v.reserve(400);
    expect(v.ptr).toBe(ptr);
    expect(v.capacity).toBeGreaterThanOrEqual(404);
    expect(v.toArray()).toEqual([1, 2, 3, 4]);
  });

  it("TLSF: a block followed by a live one moves, keeping its elements", () => {
    const tlsf = new TlsfAllocator(64 * 1024);
    const v = Vec.from(Float64Array, [1, 2, 3, 4], tlsf)!;
    const blocker = tlsf.alloc(64);
    const ptr = v.ptr;
    v.push(5);
    expect(v.ptr).not.toBe(ptr);
    expect(v.toArray()).toEqual([1, 2, 3, 4, 5]);
    tlsf.dealloc(blocker);
    tlsf.check();
  });

  it("Block: blocks followed by a free run grow without moving", () => {
    const blocks = new BlockAllocator(64, 8);
    const v = Vec.from(Uint32Array, [1, 2], blocks)!;
    const ptr = v.ptr;
    for (let i = 0; i < 50; i++) v.push(i);
    expect(v.ptr).toBe(ptr);
    expect(blocks.numFree()).toBe(64 - Math.ceil((v.capacity * 4) / 8));
  });

  it("Pool: grows in place up to the block size, then says out of memory", () => {
    const pool = new PoolAllocator(64, 4);
    const v = new Vec(Float64Array, pool);
    for (let i = 0; i < 8; i++) expect(v.push(i)).toBe(true);
    const ptr = v.ptr;
    expect(v.push(8)).toBe(false);
    expect([v.length, v.ptr]).toEqual([8, ptr]);
    expect(pool.numAllocated()).toBe(1);
  });

  it("Stack: a vector below the top cannot grow; the stack's ERR_NOT_TOP goes through, nothing changed", () => {
    const stack = new StackAllocator(4096);
    const v = Vec.from(Uint8Array, [1, 2, 3, 4], stack)!;
    const top = stack.alloc(16);
    const before = snapshot(stack);
    expect(() => v.push(5)).toThrow(expect.objectContaining({ code: "ERR_NOT_TOP" }));
    expect(unchanged(stack, before)).toBe(true);
    expect(v.toArray()).toEqual([1, 2, 3, 4]);
    stack.dealloc(top);
    expect(v.push(5)).toBe(true);
  });
});

describe("Vec: views stay valid", () => {
  it("after the vector moved and after a WebAssembly.Memory grew (old buffers detached)", () => {
    const heap = new Heap({ initialBytes: 65536 });
    const v = new Vec(Float64Array, heap);
    v.push(1.5);
    const old = v.view;
    const buffer = heap.memory.buffer;
    for (let i = 0; i < 20_000; i++) v.push(i); // 160 KB: the memory grows
    expect(heap.memory.buffer).not.toBe(buffer);
    expect(old.length).toBe(0); // detached, as RELIABILITY.md E1 says
    expect(v.view.length).toBe(20_001);
    expect(v.view[0]).toBe(1.5);
    expect(v.at(20_000)).toBe(19_999);
  });

  it("after a wasm module grew the memory behind the allocator's back", () => {
    const wasm = WasmMemory.create(1, 8);
    const tlsf = new TlsfAllocator(wasm);
    const v = Vec.from(Int32Array, [7, 8, 9], tlsf)!;
    expect(v.at(1)).toBe(8);
    wasm.memory.grow(1); // the module's own memory.grow: every view detached
    expect(v.at(1)).toBe(8);
    v.set(2, 10);
    expect(Array.from(v.view)).toEqual([7, 8, 10]);
    expect(v.push(11)).toBe(true);
    expect(v.toArray()).toEqual([7, 8, 10, 11]);
  });

  it("after a shared memory grew (fixed-length views re-made)", () => {
    const tlsf = new TlsfAllocator(new SharedMemory(65536, 1 << 20));
    const v = new Vec(Uint32Array, tlsf);
    for (let i = 0; i < 100_000; i++) v.push(i);
    expect(tlsf.memory.end).toBeGreaterThan(65536);
    expect(v.at(99_999)).toBe(99_999);
    expect(v.view[50_000]).toBe(50_000);
  });

  it("extend with the vector's own view copies it before growing", () => {
    const heap = new Heap();
    const v = Vec.from(Uint8Array, [1, 2, 3, 4])!;
    const w = Vec.from(Uint8Array, [9], heap)!;
    expect(v.extend(v.view)).toBe(true);
    expect(v.toArray()).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    expect(w.extend(w.view)).toBe(true);
    expect(w.toArray()).toEqual([9, 9]);
  });
});

describe("Vec: every element type", () => {
  const rows = [
    [Int8Array, -128, 127],
    [Uint8Array, 0, 255],
    [Uint8ClampedArray, 0, 255],
    [Int16Array, -32768, 32767],
    [Uint16Array, 0, 65535],
    [Int32Array, -(2 ** 31), 2 ** 31 - 1],
    [Uint32Array, 0, 2 ** 32 - 1],
    [Float32Array, -1.5, 3.25],
    [Float64Array, -Number.MAX_VALUE, Math.PI],
    [BigInt64Array, -(2n ** 63n), 2n ** 63n - 1n],
    [BigUint64Array, 0n, 2n ** 64n - 1n],
  ] as const;
  it.each(rows)("%o holds its extremes", (ctor, lo, hi) => {
    const v = new Vec(ctor as never);
    v.push(lo as never);
    v.push(hi as never);
    expect(v.toArray()).toEqual([lo, hi]);
    expect(v.view).toBeInstanceOf(ctor);
    expect(v.byteLength).toBe(2 * ctor.BYTES_PER_ELEMENT);
    v.free();
  });

  it("is typed from its constructor", () => {
    const a = new Vec(Float64Array);
    const b = new Vec(BigUint64Array);
    expectTypeOf(a.at(0)).toEqualTypeOf<number | undefined>();
    expectTypeOf(b.pop()).toEqualTypeOf<bigint | undefined>();
    expectTypeOf(a.view).toMatchTypeOf<Float64Array>();
    expectTypeOf(a.push).parameter(0).toEqualTypeOf<number>();
    expectTypeOf(b.push).parameter(0).toEqualTypeOf<bigint>();
    a.free();
    b.free();
  });
});

describe("Vec: bad input changes nothing", () => {
  function errorOf(v: Vec<Uint8Array>, f: () => void): unknown {
    const heap = v.allocator;
    const before = snapshot(heap);
    const items = v.toArray();
    let error: unknown;
    try {
      f();
    } catch (e) {
      error = e;
    }
    expect(unchanged(heap, before)).toBe(true);
    expect(v.toArray()).toEqual(items);
    return error;
  }
  const bad: [string, (v: Vec<Uint8Array>) => void, new (...a: never[]) => Error, string][] = [
    ["a string", (v) => v.push("5" as never), ArgumentTypeError, "ERR_ELEMENT_TYPE"],
    ["a bigint", (v) => v.push(5n as never), ArgumentTypeError, "ERR_ELEMENT_TYPE"],
    ["undefined", (v) => v.push(undefined as never), ArgumentTypeError, "ERR_ELEMENT_TYPE"],
    ["300", (v) => v.push(300), ArgumentRangeError, "ERR_ELEMENT_RANGE"],
    ["-1", (v) => v.push(-1), ArgumentRangeError, "ERR_ELEMENT_RANGE"],
    ["1.5", (v) => v.set(0, 1.5), ArgumentRangeError, "ERR_ELEMENT_RANGE"],
    ["NaN", (v) => v.push(Number.NaN), ArgumentRangeError, "ERR_ELEMENT_RANGE"],
    ["set past the end", (v) => v.set(3, 1), ArgumentRangeError, "ERR_INDEX"],
    ["set at -1", (v) => v.set(-1, 1), ArgumentRangeError, "ERR_INDEX"],
    ["set at '0'", (v) => v.set("0" as never, 1), ArgumentTypeError, "ERR_INDEX"],
    ["at(0.5)", (v) => v.at(0.5), ArgumentRangeError, "ERR_INDEX"],
    [
      "one bad value in extend",
      (v) => v.extend([1, 2, 256]),
      ArgumentRangeError,
      "ERR_ELEMENT_RANGE",
    ],
    ["reserve(-1)", (v) => v.reserve(-1), ArgumentRangeError, "ERR_ALLOC_SIZE"],
    ["extend(5)", (v) => v.extend(5 as never), ArgumentTypeError, "ERR_ALLOC_ARG_TYPE"],
  ];
  it.each(bad)("%s", (_, call, cls, code) => {
    const v = Vec.from(Uint8Array, [1, 2, 3], new TlsfAllocator(4096))!;
    const e = errorOf(v, () => call(v));
    expect(e).toBeInstanceOf(cls);
    expect((e as { code: string }).code).toBe(code);
  });

  it("a wrong element type, and an allocator that is not one", () => {
    for (const t of [Array, Object, "f64", null, DataView]) {
      expect(() => new Vec(t as never)).toThrow(
        expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }),
      );
    }
    expect(() => new Vec(Uint8Array, {} as never)).toThrow(ArgumentTypeError);
  });

  it("used after free, a second free, and using", () => {
    const heap = new TlsfAllocator(4096);
    const v = Vec.from(Uint8Array, [1], heap)!;
    v.free();
    expect(v.freed).toBe(true);
    for (const call of [
      () => v.push(1),
      () => v.pop(),
      () => v.at(0),
      () => v.set(0, 1),
      () => v.view,
      () => v.ptr,
      () => v.reserve(1),
      () => [...v],
    ]) {
      expect(call).toThrow(StaleViewError);
      expect(call).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
    }
    expect(() => v.free()).toThrow(DoubleFreeError);
    expect(heap.stats().liveBlocks).toBe(0);

    {
      using w = Vec.from(Uint8Array, [1, 2], heap)!;
      expect(heap.stats().liveBlocks).toBe(1);
      w.push(3);
    }
    expect(heap.stats().liveBlocks).toBe(0);
    {
      using w = Vec.from(Uint8Array, [1], heap)!;
      w.free(); // disposing a freed vector does nothing
    }
    expect(heap.stats().liveBlocks).toBe(0);
  });
});

describe("Vec: printing", () => {
  it("shows its elements, capacity and address, and says when freed", () => {
    const v = Vec.from(Int16Array, [1, -2, 3], new TlsfAllocator(4096))!;
    const text = (v as unknown as { [k: symbol]: () => string })[
      Symbol.for("nodejs.util.inspect.custom")
    ]();
    expect(text).toBe(`Vec<Int16Array>(3) [1, -2, 3] (capacity 4, at ${v.ptr})`);
    v.free();
    expect(
      (v as unknown as { [k: symbol]: () => string })[Symbol.for("nodejs.util.inspect.custom")](),
    ).toBe("Vec<Int16Array> <freed>");
  });
});
