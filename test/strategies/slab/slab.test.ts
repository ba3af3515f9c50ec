/**
 * What is special to SlabAllocator (the shared kit covers the contract): the size-class
 * mapping and page geometry, exhaustively, as pure functions; pages carved lazily and given
 * back to the parent (with the one-page cache, `trim`, `reset`, `drop`); the large path;
 * finding a block's page in O(1) and the misuse that it catches with the heap unchanged;
 * corruption of trailers, free lists and large headers; per-class stats; page-table growth
 * and wasm growth; attaching a second handle.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Allocator } from "../../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../../src/core/errors.js";
import { FixedMemory, GrowableMemory, OffsetMemory, WasmMemory } from "../../../src/memory/memory.js";
import { BlockAllocator } from "../../../src/strategies/block/index.js";
import { BumpAllocator } from "../../../src/strategies/bump/index.js";
import {
  CLASS_COUNT,
  classAlign,
  classAtMost,
  classForRequest,
  classSize,
  MAX_CLASS_SIZE,
  pageCapacity,
  sizeToClass,
  TRAILER_FIXED_BYTES,
  trailerBytes,
  trailerOffset,
  worstCaseWaste,
} from "../../../src/strategies/slab/classes.js";
import { SlabAllocator, type SlabOptions } from "../../../src/strategies/slab/index.js";
import { PageParent } from "../../helpers/page-parent.js";

/** The classes and worst-case waste exactly as the header of slab/classes.ts lists them. */
const CLASSES = [
  8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
  896, 1024, 1280, 1536, 1792, 2048,
];
const WORST_WASTE = [
  7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15, 15, 31, 31, 31, 31, 63, 63, 63, 63, 127, 127, 127, 127, 255,
  255, 255, 255,
];
const LARGE_HEADER = 32;
/** Word offsets white-box tests poke at: trailer MAGIC, bitmap; large header NEXT, STATE. */
const T_MAGIC = 0;
const T_BITMAP = TRAILER_FIXED_BYTES / 4;
const L_NEXT = 0;

/** A slab over a BlockAllocator (B = 64) over a fresh 1 MiB buffer. */
function makeSlab(options: SlabOptions = {}, bytes = 1 << 20) {
  const memory = new FixedMemory(new ArrayBuffer(bytes), 0, bytes, true);
  const parent = new BlockAllocator(memory, 64);
  const baseline = parent.stats();
  const slab = new SlabAllocator(parent, options);
  return { memory, parent, slab, baseline };
}

/** The parent's state that must come back when the slab gives everything back (not its peak). */
function parentState(p: Allocator) {
  const { inUse, free, largestFree, liveBlocks } = p.stats();
  return { inUse, free, largestFree, liveBlocks };
}

function snapshot(a: Allocator): { bytes: Uint8Array; stats: string } {
  const m = a.memory;
  return { bytes: m.u8.slice(m.start, m.end), stats: JSON.stringify(a.stats()) };
}

/** `fn` must throw `cls` and leave every byte of the memory and the stats as they were. */
function expectRejected(
  a: Allocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  code?: string,
): void {
  const before = snapshot(a);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  if (code !== undefined) expect((thrown as { code: string }).code).toBe(code);
  const after = snapshot(a);
  expect(Buffer.compare(before.bytes, after.bytes)).toBe(0);
  expect(after.stats).toBe(before.stats);
}

function pageOf(ptr: number, pageSize: number): number {
  return ptr - (ptr % pageSize);
}

/** u32 index of the trailer of the page holding `ptr`, a block of `size` bytes. */
function trailerWord(ptr: number, size: number, pageSize: number): number {
  return (pageOf(ptr, pageSize) + trailerOffset(size, pageSize)) / 4;
}

describe("size classes (pure functions, every size)", () => {
  it("are the 28 classes the header lists, increasing multiples of 8", () => {
    expect(CLASS_COUNT).toBe(28);
    expect(Array.from({ length: CLASS_COUNT }, (_, c) => classSize(c))).toEqual(CLASSES);
    expect(classSize(CLASS_COUNT - 1)).toBe(MAX_CLASS_SIZE);
  });

  it("map every size 0 … 2048 to the smallest class that holds it", () => {
    for (let size = 0; size <= MAX_CLASS_SIZE; size++) {
      const brute = CLASSES.findIndex((s) => s >= size);
      expect(sizeToClass(size), `size ${size}`).toBe(brute);
    }
  });

  it("waste at most the listed bytes per class (< 20 % from 40 bytes up)", () => {
    const worst = new Array<number>(CLASS_COUNT).fill(0);
    for (let size = 1; size <= MAX_CLASS_SIZE; size++) {
      const c = sizeToClass(size);
      worst[c] = Math.max(worst[c], classSize(c) - size);
    }
    expect(worst).toEqual(WORST_WASTE);
    for (let c = 0; c < CLASS_COUNT; c++) {
      expect(worstCaseWaste(c)).toBe(WORST_WASTE[c]);
      if (classSize(c) >= 40) expect(worstCaseWaste(c) / classSize(c)).toBeLessThan(0.2);
    }
  });

  it("serve every (size, align) with the smallest aligned class, within 3 classes", () => {
    for (const count of [CLASS_COUNT, 20, 12, 1]) {
      for (let k = 0; k <= 12; k++) {
        const align = 2 ** k;
        for (let size = 0; size <= MAX_CLASS_SIZE; size++) {
          let brute = -1;
          for (let c = 0; c < count; c++) {
            if (CLASSES[c] >= size && CLASSES[c] % align === 0) {
              brute = c;
              break;
            }
          }
          const got = classForRequest(size, align, count);
          if (got !== brute)
            expect(got, `size ${size} align ${align} classes ${count}`).toBe(brute);
          if (got >= 0) {
            expect(got - sizeToClass(Math.max(size, align))).toBeLessThanOrEqual(3);
            expect(classAlign(got) % align).toBe(0);
          }
        }
      }
    }
  });

  it("classAtMost rounds maxSmall down to a class", () => {
    for (let bytes = 8; bytes <= 4096; bytes++) {
      const c = classAtMost(bytes);
      expect(classSize(c)).toBeLessThanOrEqual(bytes);
      if (c + 1 < CLASS_COUNT) expect(classSize(c + 1)).toBeGreaterThan(bytes);
    }
  });
});

describe("page geometry (pure functions, every class and page size)", () => {
  it("fits the most blocks beside the trailer, which ends the page 8-aligned", () => {
    for (let P = 1024; P <= 65536; P *= 2) {
      for (let c = 0; c < CLASS_COUNT; c++) {
        const size = classSize(c);
        if (size > P / 4) continue;
        const cap = pageCapacity(size, P);
        const at = trailerOffset(size, P);
        expect(cap).toBeGreaterThanOrEqual(3);
        expect(cap * size).toBeLessThanOrEqual(at);
        expect(at % 8).toBe(0);
        expect(at + trailerBytes(cap)).toBe(P);
        expect((cap + 1) * size + trailerBytes(cap + 1)).toBeGreaterThan(P);
        // Block i of a page-aligned page is aligned to the class's alignment.
        expect(P % classAlign(c)).toBe(0);
      }
    }
  });
});

describe("small blocks on pages", () => {
  it("gives every size 0 … 2048 a block of its class, aligned to the class", () => {
    const { slab } = makeSlab({ pageSize: 65536 }, 4 << 20); // 28 classes × 64 KiB pages
    expect(slab.maxSmall).toBe(2048);
    for (let size = 0; size <= 2048; size++) {
      const p = slab.alloc(size);
      expect(slab.usableSize(p)).toBe(classSize(sizeToClass(size)));
      expect(p % classAlign(sizeToClass(size))).toBe(0);
      slab.dealloc(p);
    }
    slab.check();
  });

  it("carves a new page's blocks in address order, from the page start", () => {
    const { slab } = makeSlab({ pageSize: 4096 });
    const ptrs = Array.from({ length: 10 }, () => slab.alloc(40));
    const page = pageOf(ptrs[0], 4096);
    expect(ptrs[0]).toBe(page);
    expect(ptrs).toEqual(ptrs.map((_, i) => page + i * 40));
    const zero = [slab.alloc(0), slab.alloc(0)];
    expect(zero[0]).not.toBe(zero[1]);
    expect(slab.usableSize(zero[0])).toBe(8);
    slab.check();
  });

  it("reuses the most recently freed block first, and fills partial pages before new ones", () => {
    const { slab } = makeSlab({ pageSize: 4096 });
    const cap = pageCapacity(64, 4096);
    const first = Array.from({ length: cap }, () => slab.alloc(64)); // page 1 full
    const second = slab.alloc(64); // page 2
    expect(pageOf(second, 4096)).not.toBe(pageOf(first[0], 4096));
    slab.dealloc(first[5]);
    slab.dealloc(first[9]);
    // Page 1 went back on the partial list, in front of page 2.
    expect(slab.alloc(64)).toBe(first[9]);
    expect(slab.alloc(64)).toBe(first[5]);
    expect(pageOf(slab.alloc(64), 4096)).toBe(pageOf(second, 4096));
    slab.check();
  });

  it("serves alignments above 8 from a class whose blocks are aligned, else from the parent", () => {
    const { slab, parent } = makeSlab({ pageSize: 16384 });
    const p16 = slab.alloc(24, 16);
    expect(p16 % 16).toBe(0);
    expect(slab.usableSize(p16)).toBe(32);
    const p1k = slab.alloc(8, 1024);
    expect(p1k % 1024).toBe(0);
    expect(slab.usableSize(p1k)).toBe(1024);
    const before = parent.stats().inUse;
    const p4k = slab.alloc(100, 4096); // no class is 4096-aligned: the large path
    expect(p4k % 4096).toBe(0);
    expect(slab.usableSize(p4k)).toBe(100);
    expect(parent.stats().inUse).toBeGreaterThan(before);
    // alloc(0) on the large path still owns a byte: the next block cannot share its address.
    const z = slab.alloc(0, 4096);
    expect(slab.usableSize(z)).toBe(8);
    const next = slab.alloc(0, 4096);
    expect(next).not.toBe(z);
    expect(slab.alloc(0)).not.toBe(z);
    slab.check();
  });
});

describe("pages come from the parent and go back to it", () => {
  it("keeps one empty page per class, gives the others back, and trim() returns the last", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 });
    const afterCreate = parentState(parent);
    const cap = pageCapacity(64, 4096);
    const ptrs = Array.from({ length: 3 * cap }, () => slab.alloc(64));
    const c64 = sizeToClass(64);
    expect(slab.classStats()[c64]).toMatchObject({ pages: 3, fullPages: 3, liveBlocks: 3 * cap });
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 3 * 4096);
    for (const p of ptrs) slab.dealloc(p);
    expect(slab.classStats()[c64]).toMatchObject({ pages: 1, emptyPages: 1, liveBlocks: 0 });
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 4096);
    slab.check();
    expect(slab.trim()).toBe(4096);
    expect(slab.classStats()[c64].pages).toBe(0);
    expect(parentState(parent)).toEqual(afterCreate);
    slab.check();
  });

  it("does not thrash: alloc/free of one block takes one page from the parent, once", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 });
    let calls = 0;
    const alloc = parent.alloc.bind(parent);
    parent.alloc = (size: number, align?: number) => {
      calls++;
      return alloc(size, align);
    };
    for (let i = 0; i < 1000; i++) slab.dealloc(slab.alloc(100));
    expect(calls).toBe(1);
  });

  it("with emptyPagesPerClass 0 gives every empty page back at once", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096, emptyPagesPerClass: 0 });
    const afterCreate = parentState(parent);
    const p = slab.alloc(100);
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 4096);
    slab.dealloc(p);
    expect(parentState(parent)).toEqual(afterCreate);
  });

  it("reset() gives every page and large block back; drop() gives back the metadata too", () => {
    const { slab, parent, baseline } = makeSlab({ pageSize: 4096 });
    const afterCreate = parentState(parent);
    for (let i = 0; i < 200; i++) slab.alloc(i * 7);
    const big = slab.alloc(10_000);
    slab.reset();
    expect(parent.stats().inUse).toBe(afterCreate.inUse);
    expect(slab.stats()).toMatchObject({ liveBlocks: 0, inUse: 0, peakInUse: 0 });
    expect(() => slab.dealloc(big)).toThrow(DoubleFreeError);
    slab.check();
    slab.alloc(24);
    slab.alloc(5000);
    slab.drop();
    expect(parent.stats().inUse).toBe(baseline.inUse);
    parent.check();
    expect(() => slab.alloc(8)).toThrow(expect.objectContaining({ code: "ERR_DESTROYED" }));
  });

  it("works over a BumpAllocator parent (pages are never reused by the bump)", () => {
    const bump = new BumpAllocator(1 << 20);
    const slab = new SlabAllocator(bump, { pageSize: 4096, emptyPagesPerClass: 0 });
    const live: number[] = [];
    for (let i = 0; i < 500; i++) {
      live.push(slab.alloc((i * 37) % 3000));
      if (i % 3 === 0) slab.dealloc(live.splice(i % live.length, 1)[0]);
    }
    slab.check();
    for (const p of live) slab.dealloc(p);
    expect(slab.stats().liveBlocks).toBe(0);
    slab.check();
  });
});

describe("large blocks", () => {
  it("go to the parent behind a 32-byte header and come back on dealloc", () => {
    const { slab, parent } = makeSlab({ pageSize: 16384 });
    const afterCreate = parentState(parent);
    const p = slab.alloc(5000);
    expect(slab.usableSize(p)).toBe(5000);
    expect(parent.stats().inUse).toBe(
      afterCreate.inUse + Math.ceil((5000 + LARGE_HEADER) / 64) * 64,
    );
    expect(slab.owns(p)).toBe(true);
    expect(slab.stats()).toMatchObject({ liveBlocks: 1, inUse: 5000 });
    slab.dealloc(p, 5000);
    expect(slab.owns(p)).toBe(false);
    expect(parentState(parent)).toEqual(afterCreate);
    slab.check();
  });

  it("stop pointers into pages given back earlier from being reported as stale", () => {
    // A parent of whole 4 KiB units: the metadata and the table take units 0 and 1, the page 2.
    const memory = new FixedMemory(new ArrayBuffer(1 << 16), 0, 1 << 16, true);
    const slab = new SlabAllocator(new PageParent(memory, 4096), {
      pageSize: 4096,
      emptyPagesPerClass: 0,
    });
    const small = slab.alloc(512);
    slab.dealloc(small); // the page goes back; its table entry remembers it
    expectRejected(slab, () => slab.dealloc(small), DoubleFreeError);
    const big = slab.alloc(3000); // first fit: the parent hands the same memory out again
    expect(pageOf(big, 4096)).toBe(pageOf(small, 4096));
    expectRejected(slab, () => slab.dealloc(big + 512 - (big % 512)), InvalidPointerError);
    slab.dealloc(big);
  });
});

describe("misuse is caught in O(1) and changes nothing", () => {
  const P = 4096;

  it("double free of a small block, of a block whose page went back, and after reset", () => {
    const { slab } = makeSlab({ pageSize: P, emptyPagesPerClass: 0 });
    const a = slab.alloc(48);
    const b = slab.alloc(48);
    slab.dealloc(a);
    expectRejected(slab, () => slab.dealloc(a), DoubleFreeError);
    expectRejected(slab, () => slab.realloc(a, 10), DoubleFreeError);
    expectRejected(slab, () => slab.usableSize(a), DoubleFreeError);
    slab.dealloc(b); // the page is empty and goes back to the parent
    expectRejected(slab, () => slab.dealloc(b), DoubleFreeError);
    const c = slab.alloc(48);
    slab.reset();
    expectRejected(slab, () => slab.dealloc(c), DoubleFreeError);
  });

  it("double free of a large block, also over a parent that writes into freed blocks", () => {
    const { slab } = makeSlab({ pageSize: P }); // BlockAllocator writes run headers there
    const big = slab.alloc(9000);
    slab.dealloc(big);
    expectRejected(slab, () => slab.dealloc(big), DoubleFreeError);
  });

  it("interior pointers, the page tail and trailer, and never-carved blocks", () => {
    const { slab } = makeSlab({ pageSize: P });
    const a = slab.alloc(100); // class 112
    const page = pageOf(a, P);
    expectRejected(slab, () => slab.dealloc(a + 8), InvalidPointerError);
    expectRejected(slab, () => slab.dealloc(a + 112), InvalidPointerError); // not carved yet
    const tail = page + pageCapacity(112, P) * 112;
    expectRejected(slab, () => slab.dealloc(tail), InvalidPointerError);
    expectRejected(slab, () => slab.dealloc(page + trailerOffset(112, P)), InvalidPointerError);
    const big = slab.alloc(4000);
    expectRejected(slab, () => slab.dealloc(big + 64), InvalidPointerError);
    expectRejected(slab, () => slab.dealloc(big - LARGE_HEADER), InvalidPointerError);
  });

  it("pointers the slab never handed out: the parent's own blocks and headers", () => {
    const { slab, parent, memory } = makeSlab({ pageSize: P });
    const foreign = parent.alloc(256, 8);
    expectRejected(slab, () => slab.dealloc(foreign), InvalidPointerError);
    expectRejected(slab, () => slab.dealloc(memory.start + 8), InvalidPointerError);
    expectRejected(slab, () => slab.dealloc(slab.metadataPointer), InvalidPointerError);
    expect(slab.owns(foreign)).toBe(false);
  });

  it("a size larger than the block is a LayoutMismatchError; the class's smaller sizes are fine", () => {
    const { slab } = makeSlab({ pageSize: P });
    const a = slab.alloc(100);
    expectRejected(slab, () => slab.dealloc(a, 113), LayoutMismatchError);
    slab.dealloc(a, 97);
    const big = slab.alloc(3000);
    expectRejected(slab, () => slab.dealloc(big, 3001), LayoutMismatchError);
    slab.dealloc(big, 3000);
    slab.check();
  });
});

describe("corruption is detected and poisons the heap", () => {
  const P = 4096;

  it("an overflow of a page's last block into its trailer", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const cap = pageCapacity(256, P);
    const ptrs = Array.from({ length: cap }, () => slab.alloc(256));
    const last = ptrs[cap - 1];
    memory.u8.fill(0x41, last, pageOf(last, P) + P); // runs over the tail and the trailer
    expect(() => slab.dealloc(ptrs[0])).toThrow(HeapCorruptedError);
    expect(() => slab.alloc(8)).toThrow(HeapPoisonedError);
  });

  it("a write after free that redirects the free list to a live block", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    const b = slab.alloc(32);
    slab.dealloc(a);
    memory.u32[a / 4] = b; // the freed block's link now points at live b
    expect(slab.alloc(32)).toBe(a);
    expect(() => slab.alloc(32)).toThrow(HeapCorruptedError);
  });

  it("check() finds a bitmap that disagrees with the live count", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    slab.alloc(32);
    memory.u32[trailerWord(a, 32, P) + T_BITMAP] ^= 1 << 5; // mark uncarved block 5 live
    expect(() => slab.check()).toThrow(/bitmap/);
  });

  it("check() finds a trailer whose magic was overwritten", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    memory.u32[trailerWord(a, 32, P) + T_MAGIC] = 0;
    expect(() => slab.check()).toThrow(/trailer/);
  });

  it("a large block whose list link was overwritten", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(3000);
    slab.alloc(3000);
    memory.u32[(a - LARGE_HEADER) / 4 + L_NEXT] = 12345 * 8;
    expect(() => slab.dealloc(a)).toThrow(HeapCorruptedError);
  });
});

describe("stats", () => {
  it("count class sizes in use, free blocks of the pages plus the parent's free bytes", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 });
    slab.alloc(10); // 16
    slab.alloc(100); // 112
    slab.alloc(2000); // large: 2000
    const s = slab.stats();
    const ps = parent.stats();
    const pageFree = (pageCapacity(16, 4096) - 1) * 16 + (pageCapacity(112, 4096) - 1) * 112;
    expect(s).toMatchObject({ liveBlocks: 3, inUse: 16 + 112 + 2000, peakInUse: 2128 });
    expect(s.free).toBe(pageFree + ps.free);
    expect(s.capacity).toBe(ps.capacity);
    expect(s.overhead).toBeGreaterThanOrEqual(0);
    expect(s.largestFree).toBe(ps.largestFree - LARGE_HEADER);
    const cs = slab.classStats()[sizeToClass(100)];
    expect(cs).toEqual({
      classSize: 112,
      blocksPerPage: pageCapacity(112, 4096),
      pages: 1,
      partialPages: 1,
      fullPages: 0,
      emptyPages: 0,
      liveBlocks: 1,
      freeBlocks: pageCapacity(112, 4096) - 1,
      wastedBytes: 4096 - pageCapacity(112, 4096) * 112,
    });
  });

  it("largestFree is a size alloc(n, 1) serves, also when the parent is nearly full", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 }, 64 * 1024);
    slab.alloc(40);
    while (parent.alloc(1024, 8) !== 0) {}
    const s = slab.stats();
    expect(s.largestFree).toBe(40); // only the 40-byte class has a block left
    expect(slab.alloc(s.largestFree, 1)).not.toBe(0);
  });
});

describe("growth", () => {
  it("grows the page table when the parent's memory grows past it", () => {
    const memory = new GrowableMemory(65536, 16 << 20);
    const bump = new BumpAllocator(memory);
    const slab = new SlabAllocator(bump, { pageSize: 16384 });
    const ptrs: number[] = [];
    for (let i = 0; i < 20_000; i++) ptrs.push(slab.alloc(i % 700));
    expect(memory.end).toBeGreaterThan(4 << 20);
    slab.check();
    for (const p of ptrs) slab.dealloc(p);
    slab.check();
    expect(slab.stats().liveBlocks).toBe(0);
  });

  it("follows a WebAssembly.Memory that its parent grows (views are replaced)", () => {
    const memory = WasmMemory.create(1, 256);
    const slab = new SlabAllocator(new BumpAllocator(memory), { pageSize: 16384 });
    const a = slab.alloc(64);
    memory.u32[a / 4] = 0xdeadbeef;
    const ptrs = Array.from({ length: 3000 }, () => slab.alloc(300));
    expect(memory.end).toBeGreaterThan(65536);
    expect(memory.u32[a / 4]).toBe(0xdeadbeef);
    for (const p of ptrs) slab.dealloc(p);
    slab.dealloc(a);
    slab.check();
  });
});

describe("attach", () => {
  it("a second handle shares the state kept in the parent's memory", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 });
    const a = slab.alloc(100);
    const big = slab.alloc(6000);
    const other = SlabAllocator.attach(parent, slab.metadataPointer);
    expect(other.usableSize(a)).toBe(112);
    other.dealloc(a);
    other.dealloc(big);
    expect(slab.stats()).toEqual(other.stats());
    expect(() => slab.dealloc(a)).toThrow(DoubleFreeError);
    slab.check();
  });

  it("refuses an address that holds no slab", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 });
    const p = slab.alloc(64);
    expect(() => SlabAllocator.attach(parent, p)).toThrow(HeapIncompatibleError);
    expect(() => SlabAllocator.attach(parent, slab.metadataPointer + 4)).toThrow(
      HeapIncompatibleError,
    );
  });
});

describe("construction", () => {
  it("validates its options and its parent", () => {
    const memory = new FixedMemory(new ArrayBuffer(1 << 20), 0, 1 << 20, true);
    const parent = new BlockAllocator(memory, 64);
    expect(() => new SlabAllocator(parent, { pageSize: 3000 })).toThrow(ArgumentRangeError);
    expect(() => new SlabAllocator(parent, { pageSize: 512 })).toThrow(ArgumentRangeError);
    expect(() => new SlabAllocator(parent, { pageSize: 4096, maxSmall: 2048 })).toThrow(
      ArgumentRangeError,
    );
    expect(() => new SlabAllocator(parent, { emptyPagesPerClass: -1 })).toThrow(ArgumentRangeError);
    expect(() => new SlabAllocator({} as Allocator)).toThrow(ArgumentTypeError);
    expect(() => new SlabAllocator(new BumpAllocator(new OffsetMemory(0, 65536)))).toThrow(
      ArgumentTypeError,
    );
    expect(() => new SlabAllocator(new BumpAllocator(256))).toThrow(ArgumentRangeError);
    const s = new SlabAllocator(parent, { pageSize: 4096, maxSmall: 1000 });
    expect(s.maxSmall).toBe(896);
    expect(s.classCount).toBe(sizeToClass(896) + 1);
  });

  it("refuses a parent that does not align pages to the page size", () => {
    const memory = new FixedMemory(new ArrayBuffer(1 << 20), 0, 1 << 20, true);
    const inner = new BlockAllocator(memory, 64);
    const skew: Allocator = Object.assign(Object.create(inner) as BlockAllocator, {
      alloc: (size: number, align?: number) =>
        align === 4096 ? inner.alloc(size + 64, 8) + 64 : inner.alloc(size, align),
      dealloc: (ptr: number, size?: number) =>
        ptr % 4096 === 64 ? inner.dealloc(ptr - 64, (size ?? 0) + 64) : inner.dealloc(ptr, size),
    });
    const slab = new SlabAllocator(skew, { pageSize: 4096 });
    let thrown: unknown;
    try {
      slab.alloc(8);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AllocatorError);
    expect((thrown as AllocatorError).code).toBe("ERR_UNSUPPORTED");
    slab.check(); // the misaligned page went back; nothing else changed
  });
});

describe("model-based: page turnover with small pages", () => {
  it("matches a model of live blocks, check() after every step, parent whole at the end", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("alloc" as const), size: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ kind: fc.constant("free" as const), index: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.integer({ min: 0, max: 2 }),
        (ops, cache) => {
          const memory = new FixedMemory(new ArrayBuffer(96 * 1024), 0, 96 * 1024, true);
          const parent: Allocator = new PageParent(memory, 1024);
          const afterParent = parentState(parent);
          const slab = new SlabAllocator(parent, { pageSize: 1024, emptyPagesPerClass: cache });
          const live: { ptr: number; size: number; tag: number }[] = [];
          let tag = 0;
          for (const o of ops) {
            if (o.kind === "alloc") {
              const ptr = slab.alloc(o.size);
              if (ptr === 0) continue;
              tag = (tag + 1) & 0xff;
              memory.u8.fill(tag, ptr, ptr + o.size);
              live.push({ ptr, size: o.size, tag });
            } else if (live.length > 0) {
              const [b] = live.splice(o.index % live.length, 1);
              for (let i = 0; i < b.size; i++) expect(memory.u8[b.ptr + i]).toBe(b.tag);
              slab.dealloc(b.ptr);
            }
            slab.check();
            expect(slab.stats().liveBlocks).toBe(live.length);
            const emptyPages = slab.classStats().reduce((n, c) => n + c.emptyPages, 0);
            expect(emptyPages).toBeLessThanOrEqual(cache * slab.classCount);
          }
          for (const b of live) slab.dealloc(b.ptr);
          slab.trim();
          slab.check();
          slab.drop();
          expect(parentState(parent)).toEqual(afterParent);
        },
      ),
      { numRuns: 300 },
    );
  });
});
