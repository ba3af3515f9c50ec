/**
 * What is special to PoolAllocator; the conformance kit covers the contract. Here: the seeds'
 * example, the alignment rule, lazy carving (O(1) creation), LIFO reuse and the rewind when
 * the pool empties, O(1) misuse detection with no header, reset, growth, offset-only memory,
 * regions of a parent, attach, and the corruption the walker finds.
 */

import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { H_CONFIG } from "../../src/core/header.js";
import { FixedMemory, GrowableMemory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import {
  MAX_BLOCK_ALIGN,
  PoolAllocator,
  poolBlockAlign,
  poolBlockSize,
} from "../../src/strategies/pool/index.js";

/** Pool words and where the free stack and bitmap start (see the picture in pool.ts). */
const NFREE = 0;
const CARVED = 1;
const PEAK_CARVED = 3;
const PEAK = 4;
const POOL_WORDS = 5;

/** Int32 indices of a pool's metadata, for an in-band pool whose header is at byte `at`. */
function metaIndex(p: PoolAllocator, at = 0) {
  const words = (at + PoolAllocator.headerSize) / 4;
  const stack = words + POOL_WORDS;
  return { words, stack, bits: stack + p.numBlocks };
}

function unchanged(
  p: PoolAllocator,
  fn: () => unknown,
  cls: abstract new (...a: never[]) => Error,
) {
  const meta = p.metadataBytes();
  const stats = JSON.stringify(p.stats());
  expect(fn).toThrow(cls);
  expect(p.metadataBytes()).toEqual(meta);
  expect(JSON.stringify(p.stats())).toBe(stats);
}

describe("the seeds' Pool example", () => {
  it("64-byte blocks × 100: three allocations, one freed, 98 free", () => {
    const pool = new PoolAllocator(64, 100);
    const ptr1 = pool.alloc(64);
    const ptr2 = pool.alloc(64);
    const ptr3 = pool.alloc(64);
    pool.dealloc(ptr2);
    expect(pool.numFree()).toBe(98);
    expect(pool.numAllocated()).toBe(2);
    const { inUse, free } = pool.stats();
    expect(inUse + free).toBe(6400); // 100 blocks of 64 bytes
    expect(new Set([ptr1, ptr2, ptr3]).size).toBe(3);
    // LIFO, as in Vais: the next block handed out is the one freed last.
    expect(pool.allocBlock()).toBe(ptr2);
    pool.drop();
    expect(() => pool.numFree()).toThrow(/dropped/);
  });
});

describe("block size and alignment", () => {
  it("rounds the block size up to 8 and aligns to its largest power-of-two factor, capped", () => {
    const cases: [number, number, number][] = [
      // requested, block size, alignment
      [1, 8, 8],
      [8, 8, 8],
      [20, 24, 8],
      [48, 48, 16],
      [64, 64, 64],
      [100, 104, 8],
      [96, 96, 32],
      [4096, 4096, 4096],
      [8192, 8192, MAX_BLOCK_ALIGN],
      [12288, 12288, 4096],
    ];
    for (const [req, size, align] of cases) {
      expect([req, poolBlockSize(req)]).toEqual([req, size]);
      expect([req, poolBlockAlign(size)]).toEqual([req, align]);
    }
  });

  it("every block is aligned to the block alignment, even in a region at an odd offset", () => {
    const buf = new ArrayBuffer(8192);
    const pool = PoolAllocator.fromBuffer(buf, 48, undefined, 36);
    expect(pool.blockAlign).toBe(16);
    for (let p = pool.allocBlock(); p !== 0; p = pool.allocBlock()) expect(p % 16).toBe(0);
  });

  it("serves sizes up to the block size and alignments up to the block alignment", () => {
    const pool = new PoolAllocator(48, 4);
    expect(pool.alloc(48, 16)).not.toBe(0);
    expect(pool.alloc(0)).not.toBe(0); // a whole block, unique
    unchanged(pool, () => pool.alloc(8, 32), ArgumentRangeError);
    expect(() => pool.alloc(8, 32)).toThrow(expect.objectContaining({ code: "ERR_ALLOC_ALIGN" }));
    // Larger than any block: out of memory, like C, with nothing changed.
    const before = JSON.stringify(pool.stats());
    expect(pool.alloc(49)).toBe(0);
    expect(JSON.stringify(pool.stats())).toBe(before);
  });
});

describe("carving", () => {
  it("creation writes only the header: free stack, bitmap and blocks are untouched", () => {
    const buf = new ArrayBuffer(64 * 1024);
    new Uint8Array(buf).fill(0xaa);
    const pool = PoolAllocator.fromBuffer(buf, 64, 500);
    const u8 = new Uint8Array(buf);
    for (let i = PoolAllocator.headerSize + POOL_WORDS * 4; i < u8.length; i++) {
      if (u8[i] !== 0xaa) throw new Error(`byte ${i} was written at creation`);
    }
    pool.check();
    expect(pool.numFree()).toBe(500);
  });

  it("hands out blocks in address order, then reuses freed ones last-in first-out", () => {
    const pool = new PoolAllocator(32, 10);
    const a = [pool.allocBlock(), pool.allocBlock(), pool.allocBlock(), pool.allocBlock()];
    expect(a.map((p) => p - a[0])).toEqual([0, 32, 64, 96]);
    pool.dealloc(a[1]);
    pool.dealloc(a[3]);
    expect(pool.allocBlock()).toBe(a[3]);
    expect(pool.allocBlock()).toBe(a[1]);
    expect(pool.allocBlock()).toBe(a[3] + 32); // the free stack is empty: carve the next
    pool.check();
  });

  it("rewinds to a fresh pool when the last live block is freed", () => {
    const pool = new PoolAllocator(64, 8);
    const first = pool.allocBlock();
    const ps = [first, pool.allocBlock(), pool.allocBlock()];
    for (const p of [ps[0], ps[2], ps[1]]) pool.dealloc(p);
    expect(pool.stats().peakInUse).toBe(3 * 64); // the peak outlives the rewind
    expect(pool.allocBlock()).toBe(first); // not the last one freed: back at block 0
    // Blocks released by the rewind are not live: freeing one again is a double free.
    unchanged(pool, () => pool.dealloc(ps[2]), DoubleFreeError);
  });

  it("peakInUse is the most bytes live at once since creation or reset, across rewinds", () => {
    const pool = new PoolAllocator(64, 8);
    const peak = () => pool.stats().peakInUse;
    const three = [pool.allocBlock(), pool.allocBlock(), pool.allocBlock()];
    for (const p of three) pool.dealloc(p); // empties the pool: a rewind
    expect(peak()).toBe(3 * 64);
    const one = pool.allocBlock();
    expect(peak()).toBe(3 * 64); // CARVED is 1, below the peak before the rewind
    pool.dealloc(one);
    expect(peak()).toBe(3 * 64); // a lower peak folded in keeps the higher one
    const four = [1, 2, 3, 4].map(() => pool.allocBlock());
    expect(peak()).toBe(4 * 64);
    pool.dealloc(four[0]);
    expect(peak()).toBe(4 * 64);
    // A second handle reads the same peak from the pool's words.
    const other = PoolAllocator.attach(pool.memory);
    expect(other.stats().peakInUse).toBe(4 * 64);
    pool.reset();
    expect(peak()).toBe(0);
    pool.allocBlock();
    expect(peak()).toBe(64);
    pool.check();
  });

  it("runs dry, answers 0 without changing anything, and serves a freed block again", () => {
    const pool = new PoolAllocator(16, 3);
    const ps = [pool.allocBlock(), pool.alloc(16), pool.alloc(1)];
    const meta = pool.metadataBytes();
    expect(pool.allocBlock()).toBe(0);
    expect(pool.alloc(8)).toBe(0);
    expect(pool.metadataBytes()).toEqual(meta);
    expect(pool.stats().largestFree).toBe(0);
    pool.dealloc(ps[1]);
    expect(pool.stats().largestFree).toBe(16);
    expect(pool.alloc(16)).toBe(ps[1]);
  });
});

describe("misuse is detected in O(1) with no header, before any change", () => {
  it("double free, realloc and usableSize of a freed block throw DoubleFreeError", () => {
    const pool = new PoolAllocator(64, 10);
    const p = pool.allocBlock();
    pool.allocBlock(); // keep one live so the pool does not rewind
    pool.dealloc(p);
    unchanged(pool, () => pool.dealloc(p), DoubleFreeError);
    unchanged(pool, () => pool.realloc(p, 8), DoubleFreeError);
    unchanged(pool, () => pool.usableSize(p), DoubleFreeError);
  });

  it("pointers off a block boundary, outside the blocks, or never handed out are invalid", () => {
    const pool = new PoolAllocator(64, 10);
    const p = pool.allocBlock();
    pool.allocBlock();
    for (const bad of [p + 8, p + 1, p - 64, p + 64 * 10, p + 2 * 64, 8]) {
      unchanged(pool, () => pool.dealloc(bad), InvalidPointerError);
    }
    unchanged(pool, () => pool.dealloc(Number.NaN), InvalidPointerError);
    unchanged(pool, () => pool.dealloc(String(p) as unknown as number), ArgumentTypeError);
    unchanged(pool, () => pool.dealloc(BigInt(p) as unknown as number), ArgumentTypeError);
    expect(() => pool.dealloc(p + 2 * 64)).toThrow(/never handed out/);
  });

  it("both ways to a block number (a shift for 64-byte blocks, a division for 24) refuse the same pointers", () => {
    for (const size of [64, 24]) {
      const pool = new PoolAllocator(size, 10);
      const p = pool.allocBlock();
      pool.allocBlock();
      for (const bad of [p + 8, p + size - 8, p - size, p + size * 10, 2 ** 32 - size]) {
        unchanged(pool, () => pool.dealloc(bad), InvalidPointerError);
      }
      pool.dealloc(p + size);
      unchanged(pool, () => pool.dealloc(p + size), DoubleFreeError);
      pool.dealloc(p);
      expect(pool.stats().liveBlocks).toBe(0);
    }
  });

  it("dealloc checks a given size against the block size", () => {
    const pool = new PoolAllocator(64, 4);
    const p = pool.allocBlock();
    pool.allocBlock();
    unchanged(pool, () => pool.dealloc(p, 65), LayoutMismatchError);
    unchanged(pool, () => pool.dealloc(p, -1), ArgumentRangeError);
    pool.dealloc(p, 64);
    const q = pool.allocBlock();
    pool.dealloc(q, 0);
  });

  it("a pointer from before a reset is a double free", () => {
    const pool = new PoolAllocator(64, 10);
    const ps = [pool.allocBlock(), pool.allocBlock(), pool.allocBlock()];
    pool.reset();
    expect(pool.numFree()).toBe(10);
    const again = pool.allocBlock(); // block 0 again; blocks 1 and 2 are stale
    expect(again).toBe(ps[0]);
    unchanged(pool, () => pool.dealloc(ps[2]), DoubleFreeError);
    pool.check();
  });
});

describe("the rest of the contract", () => {
  it("realloc stays in place up to the block size and answers 0 above it", () => {
    const pool = new PoolAllocator(64, 4);
    const p = pool.alloc(10);
    expect(pool.realloc(p, 64)).toBe(p);
    expect(pool.realloc(p, 1, 64)).toBe(p);
    expect(pool.realloc(p, 65)).toBe(0);
    expect(pool.numAllocated()).toBe(1); // the block is still live
    unchanged(pool, () => pool.realloc(p, 8, 128), ArgumentRangeError);
    expect(pool.usableSize(p)).toBe(64);
  });

  it("allocZeroed zeroes reused blocks and blocks of a memory that was not zero", () => {
    const pool = new PoolAllocator(32, 4);
    const p = pool.allocBlock();
    pool.allocBlock();
    pool.memory.u8.fill(0xff, p, p + 32);
    pool.dealloc(p);
    expect(pool.allocZeroed(32)).toBe(p);
    expect([...pool.memory.u8.subarray(p, p + 32)].every((b) => b === 0)).toBe(true);

    const buf = new ArrayBuffer(4096);
    new Uint8Array(buf).fill(0xaa);
    const dirty = PoolAllocator.fromBuffer(buf, 32, 8);
    const q = dirty.allocZeroed(20);
    expect([...dirty.memory.u8.subarray(q, q + 20)].every((b) => b === 0)).toBe(true);
  });

  it("stats: blocks are the capacity less header, free stack, bitmap and padding", () => {
    const pool = new PoolAllocator(64, 100);
    const meta = PoolAllocator.headerSize + (POOL_WORDS + 100 + 4) * 4; // 4 bitmap words
    const base = Math.ceil(meta / 64) * 64;
    pool.allocBlock();
    pool.allocBlock();
    const s = pool.stats();
    expect(s).toEqual({
      capacity: base + 6400,
      inUse: 128,
      free: 98 * 64,
      overhead: base,
      liveBlocks: 2,
      peakInUse: 128,
      largestFree: 64,
    });
    expect(PoolAllocator.bytesFor(64, 100)).toBe(base + 6400);
  });

  it("rejects bad construction arguments before writing anything", () => {
    expect(() => new PoolAllocator(0, 10)).toThrow(ArgumentRangeError);
    expect(() => new PoolAllocator(1.5, 10)).toThrow(ArgumentRangeError);
    expect(() => new PoolAllocator("64" as unknown as number, 10)).toThrow(ArgumentTypeError);
    expect(() => new PoolAllocator(64, 0)).toThrow(ArgumentRangeError);
    expect(() => new PoolAllocator(64)).toThrow(ArgumentTypeError);
    const buf = new ArrayBuffer(1024);
    new Uint8Array(buf).fill(0xaa);
    expect(() => PoolAllocator.fromBuffer(buf, 64, 100)).toThrow(
      expect.objectContaining({ code: "ERR_MEMORY" }),
    );
    expect(new Uint8Array(buf).every((b) => b === 0xaa)).toBe(true);
  });
});

describe("memories", () => {
  it("numBlocks omitted: as many blocks as fit in the memory", () => {
    for (const bytes of [1000, 4096, 65536, 100_000]) {
      const pool = PoolAllocator.fromBuffer(new ArrayBuffer(bytes), 64);
      const n = pool.numBlocks;
      expect(PoolAllocator.bytesFor(64, n)).toBeLessThanOrEqual(bytes);
      expect(PoolAllocator.bytesFor(64, n + 1)).toBeGreaterThan(bytes);
    }
    expect(() => PoolAllocator.fromBuffer(new ArrayBuffer(190), 64)).toThrow(ArgumentRangeError);
  });

  it("lives in a region of a parent allocator's block, sized by bytesFor", () => {
    const parent = new BumpAllocator(64 * 1024);
    const bytes = PoolAllocator.bytesFor(64, 100);
    const at = parent.alloc(bytes, 64);
    const pool = new PoolAllocator(64, 100, { memory: parent.memory.region(at, at + bytes) });
    const ps: number[] = [];
    for (let p = pool.allocBlock(); p !== 0; p = pool.allocBlock()) ps.push(p);
    expect(ps.length).toBe(100);
    expect(Math.min(...ps)).toBeGreaterThanOrEqual(at);
    expect(Math.max(...ps) + 64).toBe(at + bytes);
    pool.check();
  });

  it("grows a growable memory only as blocks are carved", () => {
    const memory = new GrowableMemory(4096, 1 << 20);
    const pool = new PoolAllocator(256, 4000, { memory });
    expect(memory.end).toBe(65536); // grown for the metadata only, not for ~1 MB of blocks
    const ps = new Set<number>();
    for (let i = 0; i < 1000; i++) ps.add(pool.allocBlock());
    expect(ps.size).toBe(1000);
    expect(ps.has(0)).toBe(false);
    expect(memory.end).toBeGreaterThanOrEqual(Math.max(...ps) + 256);
    expect(memory.end).toBeLessThan(PoolAllocator.bytesFor(256, 4000));
    pool.check();
  });

  it("keeps working when a wasm module grows the memory under it (views replaced)", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const memory = new WasmMemory(wasm, 1024);
    const pool = new PoolAllocator(4096, 40, { memory });
    const ps = [pool.allocBlock(), pool.allocBlock()];
    wasm.grow(1); // as a module's own memory.grow would: every old view is detached now
    // The module's page is not the pool's: it carves only what its own page holds, and
    // does not grow past someone else's pages.
    for (let p = pool.allocBlock(); p !== 0; p = pool.allocBlock()) ps.push(p);
    expect(new Set(ps).size).toBe(ps.length);
    expect(ps.every((p) => p !== 0 && p % 4096 === 0 && p + 4096 <= 65536)).toBe(true);
    expect(memory.end).toBe(65536);
    pool.dealloc(ps[0]);
    expect(pool.numAllocated()).toBe(ps.length - 1);
    pool.check();
  });

  it("serves an offset-only region, keeping its metadata in a side buffer", () => {
    const pool = new PoolAllocator(64, 1000, { memory: new OffsetMemory(0, 1 << 20) });
    const p = pool.allocBlock();
    expect(p).toBe(64); // 0 is null, so block 0 starts at the first 64-aligned offset above it
    expect(pool.allocBlock()).toBe(128);
    unchanged(pool, () => pool.dealloc(p + 8), InvalidPointerError);
    pool.dealloc(p);
    unchanged(pool, () => pool.dealloc(p), DoubleFreeError);
    pool.check();
  });

  it("a second handle attaches to the same bytes and sees the same pool", () => {
    const buf = new SharedArrayBuffer(16 * 1024);
    const a = PoolAllocator.fromBuffer(buf, 64, 100);
    const ps = [a.allocBlock(), a.allocBlock(), a.allocBlock()];
    const b = PoolAllocator.attach(new FixedMemory(buf));
    expect(b.blockSize).toBe(64);
    expect(b.numAllocated()).toBe(3);
    b.dealloc(ps[1]);
    expect(a.numFree()).toBe(98);
    expect(a.allocBlock()).toBe(ps[1]);
    expect(() => b.dealloc(ps[1] + 1)).toThrow(InvalidPointerError);
  });

  it("attach refuses other heaps and other configurations", () => {
    const buf = new ArrayBuffer(16 * 1024);
    BumpAllocator.fromBuffer(buf);
    expect(() => PoolAllocator.attach(new FixedMemory(buf))).toThrow(HeapIncompatibleError);
    const buf2 = new ArrayBuffer(16 * 1024);
    PoolAllocator.fromBuffer(buf2, 64, 100);
    const memory = new FixedMemory(buf2);
    expect(() => new PoolAllocator(64, 99, { memory, attach: true })).toThrow(
      expect.objectContaining({ code: "ERR_HEAP_CONFIG" }),
    );
    expect(() => new PoolAllocator(64, 100, { memory, attach: true })).not.toThrow();
  });

  it("attach refuses a pool whose CONFIG slot names another layout, reading only", () => {
    const buf = new ArrayBuffer(16 * 1024);
    PoolAllocator.fromBuffer(buf, 64, 100);
    const slots = new Float64Array(buf);
    slots[H_CONFIG] = 64; // what a pool laid out without PEAK holds there: its block size
    const before = new Uint8Array(buf).slice();
    const memory = new FixedMemory(buf);
    const refused = expect.objectContaining({
      code: "ERR_HEAP_CONFIG",
      message: expect.stringContaining("header layout 64"),
    });
    expect(() => PoolAllocator.attach(memory)).toThrow(refused);
    expect(() => new PoolAllocator(64, 100, { memory, attach: true })).toThrow(refused);
    expect(Buffer.compare(new Uint8Array(buf), before)).toBe(0);
  });
});

describe("check() finds corrupt metadata and poisons the heap", () => {
  function pool3() {
    const pool = new PoolAllocator(64, 100);
    const ps = [pool.allocBlock(), pool.allocBlock(), pool.allocBlock(), pool.allocBlock()];
    pool.dealloc(ps[1]);
    pool.dealloc(ps[2]);
    pool.check();
    return { pool, ps, i32: pool.memory.i32, at: metaIndex(pool) };
  }

  it("a block listed twice on the free stack", () => {
    const { pool, i32, at } = pool3();
    i32[at.stack + 1] = i32[at.stack]; // entry 1 now repeats entry 0
    expect(() => pool.check()).toThrow(HeapCorruptedError);
    expect(() => pool.allocBlock()).toThrow(HeapPoisonedError);
  });

  it("a free block marked live", () => {
    const { pool, i32, at } = pool3();
    i32[at.bits] |= 1 << 1; // block 1 is on the free stack
    expect(() => pool.check()).toThrow(/marked live/);
  });

  it("a live bit lost", () => {
    const { pool, i32, at } = pool3();
    i32[at.bits] &= ~1; // block 0 is live
    expect(() => pool.check()).toThrow(/marked live, but CARVED/);
  });

  it("counters out of order", () => {
    const { pool, i32, at } = pool3();
    i32[at.words + CARVED] = 1; // below NFREE = 2
    expect(() => pool.check()).toThrow(/NFREE 2 <= CARVED 1/);
  });

  it("a peak above the peak since creation", () => {
    const { pool, i32, at } = pool3();
    pool.reset(); // PEAK_CARVED = 4, PEAK = 0
    expect(i32[at.words + PEAK_CARVED]).toBe(4);
    i32[at.words + PEAK] = 5;
    expect(() => pool.check()).toThrow(/PEAK 5 <= PEAK_CARVED 4/);
  });

  it("a free-stack entry above the carved blocks", () => {
    const { pool, i32, at } = pool3();
    expect(i32[at.words + NFREE]).toBe(2);
    i32[at.stack] = 50;
    expect(() => pool.check()).toThrow(/is block 50, not in 0/);
  });
});
