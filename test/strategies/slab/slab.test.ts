/**
 * What is special to SlabAllocator's behaviour (the shared kit covers the contract): blocks
 * carved from pages, pages taken from the parent and given back (the empty-page policy,
 * `trim`, `reset`, `drop`), the large path, the misuse caught in O(1) with the heap
 * unchanged, per-class stats, growth and attaching a second handle. The pure functions are
 * in classes.test.ts; pages and the page table in pages.test.ts; corruption in
 * corruption.test.ts; footprints in footprint.test.ts.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Allocator } from "../../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../../src/core/errors.js";
import {
  FixedMemory,
  GrowableMemory,
  OffsetMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import { BlockAllocator } from "../../../src/strategies/block/index.js";
import { BumpAllocator } from "../../../src/strategies/bump/index.js";
import {
  classAlign,
  classSize,
  firstBlockOffset,
  pageCapacity,
  pageLength,
  sizeToClass,
} from "../../../src/strategies/slab/classes.js";
import { SlabAllocator } from "../../../src/strategies/slab/index.js";
import { PageParent } from "../../helpers/page-parent.js";
import { expectMemoryUnchanged } from "../../helpers/rejected.js";
import { LARGE_HEADER, makeSlab, pageOf, parentState } from "./helpers.js";

describe("small blocks on pages", () => {
  it("gives every size 0 … 2048 a block of its class, aligned to the class", () => {
    const { slab } = makeSlab({ pageSize: 65536, maxSmall: 2048 }, 4 << 20);
    expect(slab.maxSmall).toBe(2048);
    for (let size = 0; size <= 2048; size++) {
      const p = slab.alloc(size);
      expect(slab.usableSize(p)).toBe(classSize(sizeToClass(size)));
      expect(p % classAlign(sizeToClass(size))).toBe(0);
      slab.dealloc(p);
    }
    slab.check();
  });

  it("carves a new page's blocks in address order, after the page header", () => {
    const { slab } = makeSlab({ pageSize: 4096 });
    const ptrs = Array.from({ length: 10 }, () => slab.alloc(40));
    const page = pageOf(slab, ptrs[0]);
    expect(ptrs[0]).toBe(page + firstBlockOffset(40, pageLength(4096)));
    expect(ptrs).toEqual(ptrs.map((_, i) => ptrs[0] + i * 40));
    const zero = [slab.alloc(0), slab.alloc(0)];
    expect(zero[0]).not.toBe(zero[1]);
    expect(slab.usableSize(zero[0])).toBe(8);
    slab.check();
  });

  it("reuses the most recently freed block first; a full page that gets a free is current again", () => {
    const { slab } = makeSlab({ pageSize: 4096 });
    const cap = pageCapacity(64, pageLength(4096));
    const first = Array.from({ length: cap }, () => slab.alloc(64)); // page 1 full
    const second = slab.alloc(64); // page 2
    expect(pageOf(slab, second)).not.toBe(pageOf(slab, first[0]));
    slab.dealloc(first[5]);
    slab.dealloc(first[9]);
    // Page 1 went back on the partial list, in front of page 2.
    expect(slab.alloc(64)).toBe(first[9]);
    expect(slab.alloc(64)).toBe(first[5]);
    expect(pageOf(slab, slab.alloc(64))).toBe(pageOf(slab, second));
    slab.check();
  });

  it("serves alignment 16 from a class whose blocks are 16-aligned, larger ones from the parent", () => {
    const { slab, parent } = makeSlab({ pageSize: 16384 });
    for (const [size, usable] of [
      [1, 16],
      [24, 32],
      [40, 48],
      [56, 64],
      [64, 64],
      [100, 112],
    ]) {
      const p = slab.alloc(size, 16);
      expect(p % 16).toBe(0);
      expect(slab.usableSize(p)).toBe(usable);
    }
    const before = parent.stats().inUse;
    const p1k = slab.alloc(8, 1024); // above 16: the large path
    expect(p1k % 1024).toBe(0);
    expect(slab.usableSize(p1k)).toBe(8);
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
    const cap = pageCapacity(64, pageLength(4096));
    const ptrs = Array.from({ length: 3 * cap }, () => slab.alloc(64));
    const c64 = sizeToClass(64);
    expect(slab.classStats()[c64]).toMatchObject({ pages: 3, fullPages: 3, liveBlocks: 3 * cap });
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 3 * 4096); // 4080 in 64-byte blocks
    for (const p of ptrs) slab.dealloc(p);
    expect(slab.classStats()[c64]).toMatchObject({ pages: 1, liveBlocks: 0 });
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 4096);
    slab.check();
    expect(slab.trim()).toBe(pageLength(4096));
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
    // …and the page stays the class's current page, on no other list.
    expect(slab.classStats()[sizeToClass(100)]).toMatchObject({
      pages: 1,
      partialPages: 1,
      emptyPages: 0,
    });
  });

  it("with emptyPagesPerClass 0 gives every empty page back at once", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096, emptyPagesPerClass: 0 });
    const afterCreate = parentState(parent);
    const p = slab.alloc(100);
    expect(parent.stats().inUse).toBe(afterCreate.inUse + 4096);
    slab.dealloc(p);
    expect(parentState(parent)).toEqual(afterCreate);
  });

  it("counts an empty current page among the pages a class keeps", () => {
    const { slab } = makeSlab({ pageSize: 4096, emptyPagesPerClass: 2 });
    const cap = pageCapacity(32, pageLength(4096));
    const ptrs = Array.from({ length: 4 * cap }, () => slab.alloc(32));
    for (const p of ptrs) slab.dealloc(p);
    const cs = slab.classStats()[sizeToClass(32)];
    expect(cs.pages).toBe(2);
    expect(cs.emptyPages + cs.partialPages).toBe(2);
    slab.check();
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
    const unit = small - (small % 4096);
    slab.dealloc(small); // the page goes back; its table entries remember it
    expectMemoryUnchanged(slab, () => slab.dealloc(small), DoubleFreeError);
    const big = slab.alloc(3000); // first fit: the parent hands the same unit out again
    expect(big - (big % 4096)).toBe(unit);
    expectMemoryUnchanged(slab, () => slab.dealloc(small), InvalidPointerError);
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
    expectMemoryUnchanged(slab, () => slab.dealloc(a), DoubleFreeError);
    expectMemoryUnchanged(slab, () => slab.realloc(a, 10), DoubleFreeError);
    expectMemoryUnchanged(slab, () => slab.realloc(a, 2 ** 40), DoubleFreeError);
    expectMemoryUnchanged(slab, () => slab.usableSize(a), DoubleFreeError);
    slab.dealloc(b); // the page is empty and goes back to the parent
    expectMemoryUnchanged(slab, () => slab.dealloc(b), DoubleFreeError);
    const c = slab.alloc(48);
    slab.reset();
    expectMemoryUnchanged(slab, () => slab.dealloc(c), DoubleFreeError);
  });

  it("double free of a large block, also over a parent that writes into freed blocks", () => {
    const { slab } = makeSlab({ pageSize: P }); // BlockAllocator writes run headers there
    const big = slab.alloc(9000);
    slab.dealloc(big);
    expectMemoryUnchanged(slab, () => slab.dealloc(big), DoubleFreeError);
  });

  it("interior pointers, misaligned ones, the page header and tail, never-carved blocks", () => {
    const { slab } = makeSlab({ pageSize: P });
    const a = slab.alloc(100); // class 112
    const page = pageOf(slab, a);
    expectMemoryUnchanged(slab, () => slab.dealloc(a + 8), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(a + 1), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(a + 112), InvalidPointerError); // not carved yet
    expectMemoryUnchanged(slab, () => slab.dealloc(page), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(page + 16), InvalidPointerError);
    // A 128-byte page has a tail: 31 blocks after a 48-byte header fill 4016 of 4080 bytes.
    const b = slab.alloc(128);
    const length = pageLength(P);
    const tail = pageOf(slab, b) + firstBlockOffset(128, length) + pageCapacity(128, length) * 128;
    expect(tail).toBeLessThan(pageOf(slab, b) + length);
    expectMemoryUnchanged(slab, () => slab.dealloc(tail), InvalidPointerError);
    const big = slab.alloc(4000);
    expectMemoryUnchanged(slab, () => slab.dealloc(big + 64), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(big - LARGE_HEADER), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.usableSize(a + 8), InvalidPointerError);
  });

  it("pointers the slab never handed out: the parent's own blocks and headers", () => {
    const { slab, parent, memory } = makeSlab({ pageSize: P });
    const foreign = parent.alloc(256, 8);
    expectMemoryUnchanged(slab, () => slab.dealloc(foreign), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(memory.start + 8), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(slab.metadataPointer), InvalidPointerError);
    expectMemoryUnchanged(slab, () => slab.dealloc(memory.end + 64), InvalidPointerError);
    expect(slab.owns(foreign)).toBe(false);
  });

  it("a size larger than the block is a LayoutMismatchError; the class's smaller sizes are fine", () => {
    const { slab } = makeSlab({ pageSize: P });
    const a = slab.alloc(100);
    expectMemoryUnchanged(slab, () => slab.dealloc(a, 113), LayoutMismatchError);
    slab.dealloc(a, 97);
    const big = slab.alloc(3000);
    expectMemoryUnchanged(slab, () => slab.dealloc(big, 3001), LayoutMismatchError);
    slab.dealloc(big, 3000);
    slab.check();
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
    const L = pageLength(4096);
    const pageFree = (pageCapacity(16, L) - 1) * 16 + (pageCapacity(112, L) - 1) * 112;
    expect(s).toMatchObject({ liveBlocks: 3, inUse: 16 + 112 + 2000, peakInUse: 2128 });
    expect(s.free).toBe(pageFree + ps.free);
    expect(s.capacity).toBe(ps.capacity);
    expect(s.overhead).toBeGreaterThanOrEqual(0);
    expect(s.largestFree).toBe(ps.largestFree - LARGE_HEADER);
    const cs = slab.classStats()[sizeToClass(100)];
    expect(cs).toEqual({
      classSize: 112,
      blocksPerPage: pageCapacity(112, L),
      pageBytes: L,
      pages: 1,
      partialPages: 1,
      fullPages: 0,
      emptyPages: 0,
      liveBlocks: 1,
      freeBlocks: pageCapacity(112, L) - 1,
      wastedBytes: L - pageCapacity(112, L) * 112,
    });
  });

  it("largestFree is a size alloc(n, 1) serves, also when the parent is nearly full", () => {
    const { slab, parent } = makeSlab({ pageSize: 4096 }, 64 * 1024);
    slab.alloc(40);
    while (parent.alloc(1024, 8) !== 0) {}
    while (parent.alloc(64, 8) !== 0) {} // the rest, whatever the parent's layout leaves
    const s = slab.stats();
    expect(s.largestFree).toBe(40); // only the 40-byte class has a block left
    expect(slab.alloc(s.largestFree, 1)).not.toBe(0);
  });
});

describe("growth", () => {
  it("grows the page table when pages land beyond it", () => {
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
    expect(() => new SlabAllocator(parent, { pageSize: 4096, minPageSize: 8192 })).toThrow(
      ArgumentRangeError,
    );
    expect(() => new SlabAllocator(parent, { minPageSize: 3000 })).toThrow(ArgumentRangeError);
    expect(() => new SlabAllocator(parent, { emptyPagesPerClass: -1 })).toThrow(ArgumentRangeError);
    expect(() => new SlabAllocator({} as Allocator)).toThrow(ArgumentTypeError);
    expect(() => new SlabAllocator(new BumpAllocator(new OffsetMemory(0, 65536)))).toThrow(
      ArgumentTypeError,
    );
    expect(() => new SlabAllocator(new BumpAllocator(256))).toThrow(ArgumentRangeError);
    const s = new SlabAllocator(parent, { pageSize: 4096, maxSmall: 1000 });
    expect(s.maxSmall).toBe(896);
    expect(s.classCount).toBe(sizeToClass(896) + 1);
    const d = new SlabAllocator(parent);
    expect([d.pageSize, d.minPageSize, d.maxSmall]).toEqual([16384, 4096, 1024]);
  });

  it("refuses a parent that returns a page that is not 16-aligned, and gives it back", () => {
    const memory = new FixedMemory(new ArrayBuffer(1 << 20), 0, 1 << 20, true);
    const inner = new BlockAllocator(memory, 64);
    const skew: Allocator = Object.assign(Object.create(inner) as BlockAllocator, {
      alloc: (size: number, align?: number) =>
        size === pageLength(4096) ? inner.alloc(size + 64, 8) + 8 : inner.alloc(size, align),
      dealloc: (ptr: number, size?: number) =>
        ptr % 64 === 8 ? inner.dealloc(ptr - 8, (size ?? 0) + 64) : inner.dealloc(ptr, size),
    });
    const slab = new SlabAllocator(skew, { pageSize: 4096 });
    const before = inner.stats().inUse;
    let thrown: unknown;
    try {
      slab.alloc(8);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AllocatorError);
    expect((thrown as AllocatorError).code).toBe("ERR_UNSUPPORTED");
    expect(inner.stats().inUse).toBe(before);
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
