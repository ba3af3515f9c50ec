import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  InvalidPointerError,
  StaleViewError,
} from "../src/core/errors.js";
import {
  Layout,
  layoutArray,
  layoutExtend,
  layoutForI32,
  layoutForI64,
} from "../src/core/layout.js";
import { byteLengthUtf8, getDefaultHeap, Heap } from "../src/heap/index.js";
import { FixedMemory, SharedMemory } from "../src/memory/memory.js";
import { TLSF_HEADER } from "../src/strategies/tlsf/layout.js";
import { instantiateGrowModule } from "./helpers/wasm.js";

describe("Heap: the seeds' Global allocator examples", () => {
  it("global_alloc(layout_for_i64) then global_dealloc", () => {
    const heap = new Heap();
    const a = heap.allocate(layoutForI64());
    expect(a).not.toBeNull();
    expect(a!.ptr % 8).toBe(0);
    expect(a!.size).toBeGreaterThanOrEqual(8);
    heap.deallocate(a!.ptr, layoutForI64());
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("global_alloc_zeroed(layout_array(8, 8, 100)) gives 800 zero bytes", () => {
    const heap = new Heap();
    // Dirty the memory first so the zero fill is really tested.
    const dirty = heap.malloc(2000);
    heap.u8.fill(0xee, dirty, dirty + 2000);
    heap.free(dirty);
    const a = heap.allocateZeroed(layoutArray(8, 8, 100));
    expect(a!.size).toBeGreaterThanOrEqual(800);
    expect(heap.u8.subarray(a!.ptr, a!.ptr + 800).every((b) => b === 0)).toBe(true);
  });

  it("the Layout Extension struct { i64, i32, ptr } allocates with its padding", () => {
    const heap = new Heap();
    const two = layoutExtend(layoutForI64(), layoutForI32());
    const three = layoutExtend(two.layout, Layout.ptr);
    expect([two.offset, three.offset, three.layout.size, three.layout.align]).toEqual([
      8, 12, 16, 8,
    ]);
    const a = heap.allocate(three.layout.padToAlign())!;
    heap.dataView.setBigInt64(a.ptr, -5n, true);
    heap.dataView.setInt32(a.ptr + two.offset, 7, true);
    heap.dataView.setUint32(a.ptr + three.offset, a.ptr, true);
    expect(heap.dataView.getBigInt64(a.ptr, true)).toBe(-5n);
    expect(heap.dataView.getUint32(a.ptr + 12, true)).toBe(a.ptr);
    heap.deallocate(a.ptr);
  });
});

describe("Heap: C names", () => {
  it("malloc, realloc keeps contents, free; realloc(0, n) is malloc; free(0) is a no-op", () => {
    const heap = new Heap();
    const p = heap.malloc(100);
    heap.u8.fill(9, p, p + 100);
    const q = heap.realloc(p, 10_000);
    expect(heap.u8.subarray(q, q + 100).every((b) => b === 9)).toBe(true);
    heap.free(q);
    heap.free(0);
    const r = heap.realloc(0, 16);
    expect(r).not.toBe(0);
    expect(() => heap.realloc(r, 0)).toThrow(ArgumentRangeError);
    heap.check();
  });

  it("calloc zeroes, and answers 0 when count × size passes 4 GiB (no wrap-around)", () => {
    const heap = new Heap();
    const p = heap.calloc(10, 10);
    expect(heap.u8.subarray(p, p + 100).every((b) => b === 0)).toBe(true);
    const before = heap.stats();
    expect(heap.calloc(2 ** 16, 2 ** 16)).toBe(0); // 2^32: would wrap to 0 in 32-bit math
    expect(heap.calloc(2 ** 31, 3)).toBe(0);
    expect(heap.stats()).toEqual(before);
    expect(() => heap.calloc(-1, 8)).toThrow(ArgumentRangeError);
    expect(() => heap.calloc(1, "8" as unknown as number)).toThrow(ArgumentTypeError);
  });

  it("memalign honours alignments up to 64 KiB", () => {
    const heap = new Heap({ maxBytes: 16 << 20 });
    for (let k = 3; k <= 16; k++) {
      const p = heap.memalign(2 ** k, 100);
      expect(p % 2 ** k).toBe(0);
    }
    heap.check();
  });

  it("grows from 64 KiB as needed and says 0 at its maximum", () => {
    const heap = new Heap({ initialBytes: 65536, maxBytes: 1 << 20 });
    const ptrs: number[] = [];
    for (;;) {
      const p = heap.malloc(50_000);
      if (p === 0) break;
      ptrs.push(p);
    }
    expect(ptrs.length).toBeGreaterThan(15);
    expect(heap.memory.end).toBeLessThanOrEqual(1 << 20);
    for (const p of ptrs) heap.free(p);
    heap.check();
    expect(heap.stats().largestFree).toBe(heap.stats().free);
  });
});

describe("Heap: typed arrays and strings", () => {
  it("allocArray gives a zeroed view that stays valid across wasm memory growth", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const heap = Heap.inWasmMemory(memory, 1024);
    const arr = heap.allocArray(Float64Array, 16)!;
    expect(arr.view.every((x) => x === 0)).toBe(true);
    arr.view[3] = 2.5;
    const before = arr.view;
    // Force growth: the old ArrayBuffer is detached.
    const big = heap.malloc(200_000);
    expect(big).not.toBe(0);
    expect(before.length).toBe(0); // the stale view is detached...
    expect(arr.view[3]).toBe(2.5); // ...the HeapArray re-derives its view
    arr.view[4] = 7;
    expect(heap.f64[arr.ptr / 8 + 4]).toBe(7);
    arr.free();
    heap.check();
  });

  it("a wasm module reads what JS wrote through the heap, after growing memory itself", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    const mod = instantiateGrowModule(memory, { minPages: 1, maxPages: 16 });
    const heap = Heap.inWasmMemory(memory, 4096);
    const s = heap.writeString("héllo, wasm");
    expect(mod.load(s) & 0xff).toBe("h".charCodeAt(0));
    mod.grow(2); // the module grows the memory; JS views of the old buffer are detached
    const arr = heap.allocArray(Int32Array, 4)!;
    arr.view[0] = 123456;
    expect(mod.load(arr.ptr)).toBe(123456);
    expect(heap.readString(s)).toBe("héllo, wasm");
    heap.check();
  });

  it("UTF-8 strings round-trip, with and without a length", () => {
    const heap = new Heap();
    for (const text of ["", "a", "żółw 🐢", "x".repeat(10_000)]) {
      const p = heap.writeString(text);
      expect(heap.readString(p)).toBe(text);
      expect(heap.readString(p, byteLengthUtf8(text))).toBe(text);
      heap.free(p);
    }
    expect(() => heap.readString(12345)).toThrow(InvalidPointerError);
    expect(() => heap.writeString(5 as unknown as string)).toThrow(ArgumentTypeError);
  });

  it("arrayAt checks the block is big enough", () => {
    const heap = new Heap();
    const p = heap.malloc(16);
    expect(heap.arrayAt(Uint32Array, p, 4).view.length).toBe(4);
    expect(() => heap.arrayAt(Float64Array, p, 100)).toThrow(RangeError);
  });

  it("the default heap is one shared instance", () => {
    expect(getDefaultHeap()).toBe(getDefaultHeap());
    const p = getDefaultHeap().malloc(8);
    expect(p).not.toBe(0);
    getDefaultHeap().free(p);
  });
});

describe("Heap: minAlign, the alignment of the C names, strings and arrays", () => {
  /** Every way a Heap hands out a block without an explicit alignment, many sizes each. */
  function blocksOf(heap: Heap): number[] {
    const out: number[] = [];
    let x = 12345;
    const size = () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % 700;
    };
    for (let i = 0; i < 200; i++) {
      out.push(heap.malloc(size()));
      out.push(heap.calloc(1 + (i % 5), size()));
      out.push(heap.writeString("x".repeat(size())));
      out.push(heap.allocArray(Uint8Array, size())!.ptr);
      out.push(heap.memalign(8, size()));
      // realloc: in place (shrinking) and moved (growing past its neighbour)
      const p = heap.malloc(size() + 32);
      out.push(heap.realloc(p, 16));
      out.push(heap.realloc(out[out.length - 1], 2000 + size()));
      out.push(heap.realloc(0, size()));
    }
    return out;
  }

  it("a heap in a wasm module's memory gives 16-aligned blocks (C's max_align_t there)", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256 });
    const heap = Heap.inWasmMemory(memory, 1024);
    expect(heap.minAlign).toBe(16);
    const blocks = blocksOf(heap);
    expect(blocks.filter((p) => p === 0 || p % 16 !== 0)).toEqual([]);
    expect(heap.memalign(4096, 10) % 4096).toBe(0); // larger alignments still work
    heap.check();
  });

  it("new Heap() keeps 8; minAlign 64 gives 64-aligned blocks; alloc takes what it is given", () => {
    expect(new Heap().minAlign).toBe(8);
    const heap = new Heap({ minAlign: 64 });
    expect(blocksOf(heap).filter((p) => p === 0 || p % 64 !== 0)).toEqual([]);
    heap.check();
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    expect(Heap.inWasmMemory(memory, 0, undefined, { minAlign: 8 }).minAlign).toBe(8);
  });

  it("a bad minAlign is a typed error, and the module's memory is left as it was", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    new Uint8Array(memory.buffer).fill(0xa5);
    for (const [align, type, code] of [
      [3, ArgumentRangeError, "ERR_ALLOC_ALIGN"],
      [4, ArgumentRangeError, "ERR_ALLOC_ALIGN"], // below 8
      [1 << 17, ArgumentRangeError, "ERR_ALLOC_ALIGN"],
      ["16", ArgumentTypeError, "ERR_ALLOC_ARG_TYPE"],
    ] as const) {
      const make = () =>
        Heap.inWasmMemory(memory, 1024, undefined, { minAlign: align as unknown as number });
      expect(make).toThrow(type);
      expect(make).toThrow(expect.objectContaining({ code }));
      expect(() => new Heap({ minAlign: align as unknown as number })).toThrow(type);
    }
    expect(new Uint8Array(memory.buffer).every((b) => b === 0xa5)).toBe(true);
  });
});

describe("Heap: the memory it makes for itself", () => {
  it("starts at whole 64 KiB pages (64 KiB by default) and may grow to maxBytes (1 GiB by default)", () => {
    const d = new Heap();
    expect(d.memory.kind).toBe("wasm");
    expect([d.memory.start, d.memory.end, d.memory.maxEnd]).toEqual([0, 65536, 2 ** 30]);
    const h = new Heap({ initialBytes: 65537, maxBytes: 300_000 });
    expect([h.memory.end, h.memory.maxEnd]).toEqual([131072, 262144]);
    // Too small for TLSF's metadata and a block: one page all the same.
    expect(new Heap({ initialBytes: 1 }).memory.end).toBe(65536);
    // maxBytes under a page still lets the heap have its first page.
    const tiny = new Heap({ initialBytes: 1, maxBytes: 65536 });
    expect(tiny.memory.maxEnd).toBe(65536);
    expect(tiny.malloc(70_000)).toBe(0);
    expect(new Heap({ maxBytes: 2 ** 32 }).memory.maxEnd).toBe(2 ** 32);
  });

  it("refuses a maxBytes below initialBytes, past 4 GiB or not an integer", () => {
    for (const max of [65535, 2 ** 32 + 65536, 100_000.5, Number.NaN]) {
      let e: unknown;
      try {
        new Heap({ maxBytes: max });
      } catch (x) {
        e = x;
      }
      expect(e, String(max)).toBeInstanceOf(ArgumentRangeError);
      expect((e as ArgumentRangeError).code).toBe("ERR_MEMORY");
      expect((e as Error).message).toBe(`maxBytes must be an integer 65536 … 2^32, got ${max}`);
    }
    expect(() => new Heap({ initialBytes: 2 ** 32 })).toThrow(ArgumentRangeError);
    for (const bad of [-1, 0.5, Number.NaN]) {
      expect(() => new Heap({ initialBytes: bad }), String(bad)).toThrow(ArgumentRangeError);
    }
  });
});

/** The message of what `f` throws. */
function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("did not throw");
}

describe("Heap: argument errors name the argument", () => {
  it("calloc, allocArray, arrayAt, minAlign and initialBytes say which argument was bad", () => {
    const heap = new Heap();
    expect(messageOf(() => heap.calloc(-1, 8))).toMatch(/^count /);
    expect(messageOf(() => heap.calloc(8, 1.5))).toMatch(/^size /);
    expect(messageOf(() => heap.allocArray(Float64Array, -1))).toMatch(/^length /);
    const p = heap.malloc(16);
    expect(messageOf(() => heap.arrayAt(Uint8Array, p, 0.5))).toMatch(/^length /);
    expect(messageOf(() => heap.arrayAt(Float64Array, p, 100))).toBe(
      `100 elements of 8 bytes exceed the block's ${heap.usableSize(p)}`,
    );
    expect(messageOf(() => new Heap({ minAlign: 4 }))).toBe("minAlign must be at least 8, got 4");
    expect(messageOf(() => new Heap({ initialBytes: -1 }))).toMatch(/^initialBytes /);
  });
});

describe("Heap: arrays at their limits", () => {
  it("allocArray is null when out of memory; arrayAt takes exactly the block's usable bytes", () => {
    const heap = new Heap({ maxBytes: 1 << 20 });
    expect(heap.allocArray(Float64Array, 1 << 20)).toBeNull();
    const p = heap.malloc(20);
    const usable = heap.usableSize(p);
    expect(heap.arrayAt(Uint8Array, p, usable).view.length).toBe(usable);
    expect(() => heap.arrayAt(Uint8Array, p, usable + 1)).toThrow(RangeError);
  });

  it("maxBytes may equal initialBytes", () => {
    const heap = new Heap({ initialBytes: 131072, maxBytes: 131072 });
    expect([heap.memory.end, heap.memory.maxEnd]).toEqual([131072, 131072]);
  });
});

describe("Heap: its views follow the memory", () => {
  it("after a wasm module grew the memory, every view covers the new pages", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const heap = Heap.inWasmMemory(memory, 1024);
    memory.grow(1);
    const n = 2 * 65536;
    expect([heap.u8.length, heap.i32.length, heap.u32.length, heap.f64.length]).toEqual([
      n,
      n / 4,
      n / 4,
      n / 8,
    ]);
    expect(heap.dataView.byteLength).toBe(n);
    expect(heap.u8.buffer).toBe(memory.buffer);
  });

  it("after another agent grew a shared wasm memory (no view detached), every view covers it", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const heap = Heap.inWasmMemory(memory, 1024);
    expect(heap.u8.length).toBe(65536);
    memory.grow(1);
    expect(heap.u8.length).toBe(2 * 65536);
    expect(heap.f64.length).toBe(2 * 8192);
  });

  it("after another agent grew a shared memory, the views cover it", () => {
    const m = new SharedMemory(1 << 16, 1 << 20);
    const heap = new Heap({ memory: m });
    (m.buffer as SharedArrayBuffer).grow(1 << 17);
    expect(heap.u8.length).toBe(1 << 17);
    expect(heap.u32.length).toBe(1 << 15);
  });

  it("a detached buffer is a StaleViewError, not an empty view", () => {
    const buf = new ArrayBuffer(1 << 16);
    const heap = new Heap({ memory: new FixedMemory(buf) });
    structuredClone(buf, { transfer: [buf] });
    expect(() => heap.u8).toThrow(StaleViewError);
  });
});

describe("Heap: the front end", () => {
  it("a freed small block is kept for the next request of its size", () => {
    const cached = (h: { memory: { u32: Uint32Array } }) =>
      h.memory.u32[TLSF_HEADER.wordsAt / 4 + TLSF_HEADER.word.CACHED];
    const heap = new Heap();
    const p = heap.malloc(40);
    heap.malloc(8);
    heap.free(p);
    expect(cached(heap)).toBeGreaterThan(0);
    expect(heap.malloc(40)).toBe(p);
    expect(cached(heap)).toBe(0);
  });
});
