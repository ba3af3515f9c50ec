/**
 * Pages at any address of the parent: what a page costs its parent (its page size, nothing
 * for alignment), a 256 KiB parent filled with as many small blocks as its bytes allow, and
 * the page table that finds a block's page without address alignment, checked address by
 * address against the pages the slab holds, also where one slot holds the end of a page, a
 * foreign block and the start of another.
 */

import { describe, expect, it } from "vitest";
import { InvalidPointerError } from "../../../src/core/errors.js";
import { FixedMemory } from "../../../src/memory/memory.js";
import {
  CLASS_COUNT,
  classSize,
  pageCapacity,
  pageLength,
  pageSizeFor,
  sizeToClass,
} from "../../../src/strategies/slab/classes.js";
import { SlabAllocator } from "../../../src/strategies/slab/index.js";
import { W_TABLE_LEN } from "../../../src/strategies/slab/layout.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { PageParent } from "../../helpers/page-parent.js";
import { expectMemoryUnchanged } from "../../helpers/rejected.js";
import { internals, pageOf, parentState } from "./helpers.js";

const KIB = 1024;

describe("what a page costs its parent", () => {
  it("over a TLSF: exactly its page size, pages side by side, for every class", () => {
    for (let c = 0; c < CLASS_COUNT; c++) {
      const size = classSize(c);
      const tlsf = new TlsfAllocator(new FixedMemory(new ArrayBuffer(4 << 20)));
      const slab = new SlabAllocator(tlsf, { maxSmall: 2048 });
      const P = pageSizeFor(size, 4096, 16384);
      const cap = pageCapacity(size, pageLength(P));
      const before = tlsf.stats();
      // Five pages' worth of blocks.
      const pages = new Set<number>();
      for (let i = 0; i < 5 * cap; i++) pages.add(pageOf(slab, slab.alloc(size)));
      expect(pages.size).toBe(5);
      const after = tlsf.stats();
      // The parent's bytes in use and free each move by exactly five page sizes.
      expect(before.free - after.free, `class ${size}`).toBe(5 * P);
      const sorted = [...pages].sort((a, b) => a - b);
      // Side by side: the parent lost nothing between pages to aligning them.
      for (let i = 1; i < sorted.length; i++) expect(sorted[i] - sorted[i - 1]).toBe(P);
      // At least one page is not aligned to its size: nothing relies on it.
      expect(sorted.some((p) => p % P !== 0)).toBe(true);
      slab.check();
    }
  });
});

describe("a 256 KiB parent", () => {
  it("serves 300 small allocations of mixed sizes", () => {
    const slab = new SlabAllocator(new TlsfAllocator(256 * KIB));
    for (let i = 0; i < 300; i++) expect(slab.alloc(8 + ((i * 37) % 1017))).not.toBe(0);
    slab.check();
  });

  it("serves as many blocks of a class as its free bytes hold pages of that class", () => {
    for (const size of [8, 64, 448, 512, 1024]) {
      const tlsf = new TlsfAllocator(256 * KIB);
      const slab = new SlabAllocator(tlsf);
      const free = tlsf.stats().free;
      let n = 0;
      while (slab.alloc(size) !== 0) n++;
      const P = pageSizeFor(size, 4096, 16384);
      expect(n, `${size}-byte blocks`).toBe(
        Math.floor(free / P) * pageCapacity(size, pageLength(P)),
      );
      // Small classes fill all but a few percent of the parent (page headers, one partial page).
      if (size <= 448) expect((n * size) / free).toBeGreaterThan(0.95);
      expect(tlsf.stats().free).toBeLessThan(P);
      slab.check();
    }
  });
});

describe("the page table", () => {
  /**
   * Pages of several classes with foreign parent blocks of odd sizes between them, so that
   * page ends and starts share table slots; then every 8-aligned address of the region is
   * looked up and compared with the pages the slab reports.
   */
  it("finds the page of every address, and no page between pages", () => {
    const tlsf = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 20)));
    const slab = new SlabAllocator(tlsf, { emptyPagesPerClass: 0 });
    const pages = new Map<number, number>(); // page → length
    const blocks: number[] = [];
    const foreign: number[] = [];
    for (let i = 0; i < 60; i++) {
      const size = [24, 200, 600, 1000][i % 4];
      const p = slab.alloc(size);
      blocks.push(p);
      const block = classSize(sizeToClass(size));
      const length = pageLength(pageSizeFor(block, 4096, 16384));
      pages.set(pageOf(slab, p), length);
      // Fill the rest of that page, then put a foreign block of odd size after it.
      const cap = pageCapacity(block, length);
      for (let k = 1; k < cap; k++) blocks.push(slab.alloc(size));
      foreign.push(tlsf.alloc(8 + ((i * 344) % 3000), 16));
    }
    const ranges = [...pages].sort((a, b) => a[0] - b[0]);
    // Some slot holds the end of one page and the start of the next.
    const G = 2 ** internals(slab).tableShift;
    expect(
      ranges.some(
        ([p], i) =>
          i > 0 &&
          p % G !== 0 &&
          Math.floor(p / G) === Math.floor((ranges[i - 1][0] + ranges[i - 1][1] - 1) / G),
      ),
    ).toBe(true);
    const expected = (addr: number): number => {
      for (const [p, len] of ranges) if (addr >= p && addr < p + len) return p;
      return 0;
    };
    const m = tlsf.memory;
    for (let addr = m.start - (m.start % 8); addr < m.end; addr += 8) {
      const got = internals(slab).livePageOf(addr);
      if (got !== expected(addr)) expect(got, `page of ${addr}`).toBe(expected(addr));
    }
    for (const f of foreign) expect(slab.owns(f)).toBe(false);
    for (const b of blocks) expect(slab.owns(b)).toBe(true);
    for (const b of blocks) slab.dealloc(b);
    for (let addr = m.start - (m.start % 8); addr < m.end; addr += 64) {
      expect(internals(slab).livePageOf(addr)).toBe(0);
    }
    slab.check();
  });

  /**
   * Over a parent of 1 KiB units, filled with 2-unit large blocks: the highest one is freed,
   * so a small block's page lands in the top units and the table grows to 2 KiB (two
   * units, where a fresh slab's takes one). Once the slab holds nothing again, whichever
   * free is last (a page's, a large block's) or by reset, the parent is as the fresh slab
   * left it.
   */
  it("shrinks back to a fresh slab's once the slab holds nothing", () => {
    for (const ending of ["page last", "large last", "reset"] as const) {
      const memory = new FixedMemory(new ArrayBuffer(128 * KIB), 0, 128 * KIB, true);
      const parent = new PageParent(memory, KIB);
      const slab = new SlabAllocator(parent, { pageSize: KIB, emptyPagesPerClass: 0 });
      const tableLen = () => memory.u32[internals(slab).w0 + W_TABLE_LEN];
      const fresh = { parent: parentState(parent), free: slab.stats().free, len: tableLen() };
      const large: number[] = [];
      for (let p = slab.alloc(KIB); p !== 0; p = slab.alloc(KIB)) large.push(p);
      slab.dealloc(large.pop() as number);
      const small = slab.alloc(0, 1);
      expect(pageOf(slab, small)).toBeGreaterThan(64 * KIB);
      expect(tableLen() * 8, ending).toBeGreaterThan(KIB);
      if (ending === "reset") {
        slab.reset();
      } else if (ending === "page last") {
        for (const p of large) slab.dealloc(p);
        slab.dealloc(small);
      } else {
        slab.dealloc(small);
        for (const p of large) slab.dealloc(p);
      }
      slab.check();
      expect(parentState(parent), ending).toEqual(fresh.parent);
      expect(slab.stats().free, ending).toBe(fresh.free);
      expect(tableLen(), ending).toBe(fresh.len);
      // The page lay beyond the fresh table: a pointer into it is no longer the slab's.
      expectMemoryUnchanged(slab, () => slab.dealloc(small), InvalidPointerError);
    }
  });
});
