/** Values placed in allocators (leak, allocSliceCopy, allocStr), strings, the global allocator. */

import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import { ArgumentTypeError, InvalidPointerError } from "../../src/core/errors.js";
import { getDefaultHeap } from "../../src/heap/index.js";
import { WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { box } from "../../src/typed/box.js";
import { getDefaultAllocator, setDefaultAllocator } from "../../src/typed/global.js";
import {
  allocSliceCopy,
  allocStr,
  leak,
  readString,
  type Slice,
  writeString,
} from "../../src/typed/place.js";
import { addressOf } from "../../src/typed/ref.js";
import { struct } from "../../src/typed/struct.js";
import { Vec } from "../../src/typed/vec.js";
import { blockThenTlsf, SUBJECTS, snapshot, unchanged } from "./subjects.js";

const Point = struct({ x: "f64", y: "f64" }, "Point");

afterEach(() => {
  setDefaultAllocator(null);
});

describe.each(SUBJECTS)("placing values in $name", (subject) => {
  it("allocSliceCopy, allocStr, leak, and C strings", () => {
    const a = subject.make();
    const s = allocSliceCopy(new Int16Array([1, -2, 3]), a)!;
    expectTypeOf(s).toEqualTypeOf<Slice<Int16Array<ArrayBuffer>>>();
    expect(Array.from(s.view)).toEqual([1, -2, 3]);
    expect(s.ptr % 8).toBe(0);
    s.view[1] = 20;
    expect(a.memory.u8[s.ptr + 2]).toBe(20);
    const t = allocStr("héllo, wörld", a)!;
    expect(t.length).toBe(14);
    expect(t.text()).toBe("héllo, wörld");
    const p = writeString("wasm ✓", a);
    expect(p).not.toBe(0);
    expect(readString(p, undefined, a)).toBe("wasm ✓");
    expect(readString(p, 4, a)).toBe("wasm");
    expect(a.memory.u8[p + 8]).toBe(0); // 0-terminated: "wasm " + 3 bytes of ✓
    const leaked = leak(Point, { x: 1, y: 2 }, a)!;
    leaked.y *= 10;
    expect(Point.read(addressOf(leaked), a)).toEqual({ x: 1, y: 20 });
    expect(() => addressOf({})).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }));
    const arr = leak(new Float64Array([0.5, 1.5]), a)!;
    expect(Array.from(arr.view)).toEqual([0.5, 1.5]);
    s.free();
    t.free();
    a.check();
  });
});

describe("placing: the rules", () => {
  it("a slice stays valid across growth of a wasm memory, and is ERR_FREED after free", () => {
    const tlsf = new TlsfAllocator(WasmMemory.create(1, 16));
    const s = allocSliceCopy(new Uint32Array([7, 8, 9]), tlsf)!;
    tlsf.alloc(300_000);
    expect(Array.from(s.view)).toEqual([7, 8, 9]);
    s.free();
    expect(() => s.view).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
    expect(() => s.free()).toThrow(expect.objectContaining({ code: "ERR_DOUBLE_FREE" }));
    {
      using u = allocSliceCopy(new Uint8Array(0), tlsf)!;
      expect(u.length).toBe(0);
      expect(tlsf.stats().liveBlocks).toBe(2);
    }
    expect(tlsf.stats().liveBlocks).toBe(1);
  });

  it("copies a source that lives in the same memory before the memory can move", () => {
    const tlsf = new TlsfAllocator(WasmMemory.create(1, 16));
    const first = allocSliceCopy(new Float64Array(7000).fill(2.5), tlsf)!; // 56 KB
    const second = allocSliceCopy(first.view, tlsf)!; // grows the memory: first.view detaches
    expect(second.view.length).toBe(7000);
    expect(second.view.every((x) => x === 2.5)).toBe(true);
  });

  it("bad input and out of memory change nothing", () => {
    const tlsf = new TlsfAllocator(1024);
    const before = snapshot(tlsf);
    expect(() => allocSliceCopy([1, 2] as never, tlsf)).toThrow(ArgumentTypeError);
    expect(() => allocSliceCopy(new DataView(new ArrayBuffer(4)) as never, tlsf)).toThrow(
      expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }),
    );
    expect(() => allocStr(5 as never, tlsf)).toThrow(ArgumentTypeError);
    expect(() => writeString(null as never, tlsf)).toThrow(ArgumentTypeError);
    expect(() => leak({} as never, tlsf)).toThrow(
      expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }),
    );
    expect(() => leak(Point, { z: 1 } as never, tlsf)).toThrow(
      expect.objectContaining({ code: "ERR_UNKNOWN_FIELD" }),
    );
    expect(() => readString(12345, undefined, tlsf)).toThrow(InvalidPointerError);
    expect(unchanged(tlsf, before)).toBe(true);
    expect(allocSliceCopy(new Uint8Array(5000), tlsf)).toBeNull();
    expect(allocStr("x".repeat(5000), tlsf)).toBeNull();
    expect(writeString("x".repeat(5000), tlsf)).toBe(0);
    expect(leak(new Float64Array(1000), tlsf)).toBeNull();
    expect(unchanged(tlsf, before)).toBe(true);
  });

  it("readString finds the end of text in allocators that keep no block sizes", () => {
    const bump = new BumpAllocator(4096);
    const p = writeString("first", bump);
    writeString("second", bump); // p is no longer the newest block: its size is unknown
    expect(readString(p, undefined, bump)).toBe("first");
    const blocks = new BlockAllocator(64, 8);
    const q = writeString("in blocks", blocks);
    expect(readString(q, undefined, blocks)).toBe("in blocks");
    blocks.dealloc(q, 10);
    expect(() => readString(q, undefined, blocks)).toThrow(
      expect.objectContaining({ code: "ERR_DOUBLE_FREE" }),
    );
  });
});

describe("the global allocator", () => {
  it("is the default heap until replaced, and typed values use it when given none", () => {
    expect(getDefaultAllocator()).toBe(getDefaultHeap());
    const chain = blockThenTlsf(); // stalloc's SyncStalloc::new().chain(&System)
    expect(setDefaultAllocator(chain)).toBe(getDefaultHeap());
    const v = Vec.from(Uint8Array, [1, 2, 3])!;
    const b = box("f64", 2.5)!;
    const s = allocStr("chained")!;
    for (const x of [v, b, s]) expect(x.allocator).toBe(chain);
    expect(chain.stats().liveBlocks).toBe(3);
    expect(setDefaultAllocator(null)).toBe(chain);
    expect(getDefaultAllocator()).toBe(getDefaultHeap());
    v.push(4); // still in the chain: a vector keeps the allocator it was made with
    expect(v.allocator).toBe(chain);
    v.free();
    b.free();
    s.free();
    expect(chain.stats().liveBlocks).toBe(0);
    chain.check();
  });

  it("refuses what is not an allocator", () => {
    expect(() => setDefaultAllocator({} as never)).toThrow(ArgumentTypeError);
    expect(() => setDefaultAllocator(undefined as never)).toThrow(ArgumentTypeError);
    expect(getDefaultAllocator()).toBe(getDefaultHeap());
  });
});
