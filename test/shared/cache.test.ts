/**
 * The small-block caches in one thread (several handles = several agents): what is special
 * to cache blocks in the contract, remote frees reused by the owner, pages of dead and
 * closed agents, the fall-backs to TLSF, check() of the page table, and attach validation
 * of the cache buffer.
 */

import { describe, expect, it } from "vitest";
import {
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import {
  CLASS_BLOCKS,
  CLASS_OF16,
  CLASS_SIZE,
  D_BITMAP,
  D_TAG,
  DESC_WORDS,
  PAGE_BYTES,
  TAG_PARKED,
} from "../../src/shared/cache.js";
import { SharedHeap, type SharedHeapDescriptor } from "../../src/shared/shared-heap.js";

const HEADER_WORDS = 16;

function pair(options = {}): [SharedHeap, SharedHeap, SharedHeapDescriptor] {
  const a = SharedHeap.create({ initialBytes: 1 << 20, ...options });
  const d = a.share();
  return [a, SharedHeap.attach(d), d];
}

describe("cache blocks and the contract", () => {
  it("small blocks come from pages of their class; large ones and odd alignments from TLSF", () => {
    const [a] = pair();
    const p = a.alloc(100);
    const q = a.alloc(100);
    expect(a.cacheStats().pages).toBe(1);
    expect(q - p).toBe(CLASS_SIZE[CLASS_OF16[(100 + 15) >>> 4]]);
    expect(a.usableSize(p)).toBe(112);
    const big = a.alloc(2000);
    const aligned = a.alloc(64, 64);
    expect(a.cacheStats().pages).toBe(1);
    expect(aligned % 64).toBe(0);
    expect(a.stats().liveBlocks).toBe(4);
    for (const x of [p, q, big, aligned]) a.dealloc(x);
    a.check();
    expect(a.stats().liveBlocks).toBe(0);
  });

  it("rejects double frees, interior pointers and wrong sizes, changing nothing", () => {
    const [a, b] = pair();
    const p = a.alloc(48);
    expect(() => a.dealloc(p + 8)).toThrow(InvalidPointerError);
    expect(() => a.dealloc(p, 49)).toThrow(LayoutMismatchError);
    expect(() => a.dealloc(p, 1.5)).toThrow(RangeError);
    expect(a.usableSize(p)).toBe(48);
    a.dealloc(p, 48);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    expect(() => b.dealloc(p)).toThrow(DoubleFreeError);
    expect(() => a.usableSize(p)).toThrow(DoubleFreeError);
    a.check();
  });

  it("realloc keeps a block that still fits and moves one that does not, with its bytes", () => {
    const [a] = pair();
    const p = a.alloc(20);
    a.memory.u8.fill(9, p, p + 20);
    expect(a.realloc(p, 32)).toBe(p);
    const q = a.realloc(p, 600);
    expect(q).not.toBe(p);
    expect(a.memory.u8.subarray(q, q + 20).every((x) => x === 9)).toBe(true);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    expect(() => a.realloc(q, 0)).toThrow(RangeError);
    expect(a.realloc(q, 2 ** 32)).toBe(0);
    const r = a.realloc(q, 5000); // to TLSF
    expect(a.usableSize(r)).toBeGreaterThanOrEqual(5000);
    a.dealloc(r);
    expect(a.stats().liveBlocks).toBe(0);
    a.check();
  });

  it("allocZeroed zeroes a reused block", () => {
    const [a] = pair();
    const p = a.alloc(64);
    a.memory.u8.fill(0xff, p, p + 64);
    a.dealloc(p);
    const q = a.allocZeroed(64);
    expect(q).toBe(p);
    expect(a.memory.u8.subarray(q, q + 64).every((x) => x === 0)).toBe(true);
  });

  it("stats count each block once: live, free in pages, the rest of the pages overhead", () => {
    const [a, b] = pair();
    const ps = Array.from({ length: 10 }, () => a.alloc(100));
    b.dealloc(ps[0]); // remote-freed: free, not live
    const s = a.stats();
    const t = a.cacheStats();
    expect(t.liveBlocks).toBe(9);
    expect(t.freeBlocks).toBe(CLASS_BLOCKS[CLASS_OF16[7]] - 9);
    expect(s.liveBlocks).toBe(9);
    expect(s.inUse).toBe(9 * 112);
    expect(s.overhead).toBeGreaterThanOrEqual(0);
    expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
  });
});

describe("remote frees", () => {
  it("a block freed by another agent is reused by its owner before a new page is taken", () => {
    const [a, b] = pair();
    const cls = CLASS_OF16[1];
    const ps = Array.from({ length: CLASS_BLOCKS[cls] }, () => a.alloc(16));
    expect(a.cacheStats().pages).toBe(1); // exactly full
    b.dealloc(ps[123]);
    expect(a.alloc(16)).toBe(ps[123]);
    expect(a.cacheStats().pages).toBe(1);
    expect(a.alloc(16)).toBeGreaterThan(0); // full again: a second page
    expect(a.cacheStats().pages).toBe(2);
    a.check();
  });
});

describe("pages of agents that go away", () => {
  it("markDead: empty pages go back, live ones are abandoned, then adopted", () => {
    const [a, b, d] = pair();
    const before = a.stats();
    const keep = b.alloc(200);
    const gone = b.alloc(40);
    b.dealloc(gone);
    expect(a.cacheStats().pages).toBe(2);
    a.markDead(d);
    a.check(); // recovers
    expect(a.cacheStats()).toMatchObject({ pages: 1, abandoned: 1, liveBlocks: 1 });
    const p = a.alloc(200); // adopts b's page of that class
    expect(a.cacheStats()).toMatchObject({ pages: 1, abandoned: 0, liveBlocks: 2 });
    a.dealloc(keep);
    a.dealloc(p);
    expect(a.trim()).toBe(1);
    expect(a.stats().largestFree).toBe(before.largestFree);
    a.check();
  });

  it("close: empty pages go back, the others are abandoned", () => {
    const [a, b] = pair();
    const keep = b.alloc(300);
    b.alloc(30);
    b.dealloc(b.alloc(700));
    b.close();
    expect(a.cacheStats()).toMatchObject({ pages: 2, abandoned: 2 });
    a.dealloc(keep); // its page's last block: the abandoned page goes back at once
    expect(a.cacheStats()).toMatchObject({ pages: 1, abandoned: 1 });
    a.check();
    expect(a.trim()).toBe(0); // the other one still holds a live block
    expect(() => b.alloc(8)).toThrow(/closed/);
  });
});

describe("fall-backs", () => {
  it("no free descriptor: small blocks come from TLSF", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 20, cachePages: 1 });
    const p = a.alloc(16);
    const q = a.alloc(32); // its class has no page and no descriptor is left
    expect(a.cacheStats().pages).toBe(1);
    expect(a.stats().liveBlocks).toBe(2);
    a.dealloc(q);
    a.dealloc(p);
    a.check();
  });

  it("TLSF out of memory: empty pages go back to it and the request is retried", () => {
    const fresh = SharedHeap.create({ initialBytes: 1 << 18 }).stats().largestFree;
    const a = SharedHeap.create({ initialBytes: 1 << 18 });
    const ps = [0, 1, 2].map((i) => a.alloc(16 << i));
    for (const p of ps) a.dealloc(p);
    expect(a.cacheStats()).toMatchObject({ pages: 3, parked: 3 });
    expect(a.stats().largestFree).toBeLessThan(fresh);
    const big = a.alloc(fresh); // fits only once the pages went back
    expect(big).toBeGreaterThan(0);
    expect(a.cacheStats().pages).toBe(0);
    a.check();
  });

  it("no caches in the plain form or with cachePages: 0", () => {
    for (const o of [{ synchronized: false }, { cachePages: 0 }]) {
      const a = SharedHeap.create({ initialBytes: 1 << 16, ...o });
      a.dealloc(a.alloc(16));
      expect(a.cacheStats().pages).toBe(0);
      expect(a.share().cache).toBe(null);
    }
  });

  it("reset gives every page back", () => {
    const [a, b] = pair();
    a.alloc(16);
    b.alloc(16);
    const before = a.stats().largestFree;
    a.reset();
    expect(a.cacheStats().pages).toBe(0);
    expect(a.stats().largestFree).toBeGreaterThan(before);
    expect(b.alloc(16)).toBeGreaterThan(0); // b notices its page is gone
    a.check();
  });
});

describe("empty pages: parked, shared, bounded", () => {
  const cls16 = CLASS_OF16[1];
  const page = (p: number): number => Math.floor(p / PAGE_BYTES);

  it("the owner's free of a page's last block parks it; its next block takes it back", () => {
    const [a] = pair();
    const p = a.alloc(16);
    a.dealloc(p);
    expect(a.cacheStats()).toMatchObject({ pages: 1, parked: 1, liveBlocks: 0 });
    a.check();
    expect(a.alloc(16)).toBe(p); // the same page, taken back without the lock
    expect(a.cacheStats()).toMatchObject({ pages: 1, parked: 0, liveBlocks: 1 });
    a.check();
  });

  it("another agent takes a parked page before asking TLSF: as it is, or re-cut for its class", () => {
    const [a, b] = pair();
    const p = a.alloc(16);
    const q = a.alloc(300);
    a.dealloc(p);
    a.dealloc(q);
    expect(a.cacheStats()).toMatchObject({ pages: 2, parked: 2 });
    const r = b.alloc(16); // a's page of the class
    expect(page(r)).toBe(page(p));
    const s = b.alloc(48); // a's other page, re-cut for 48 bytes
    expect(page(s)).toBe(page(q));
    expect(b.cacheStats()).toMatchObject({ pages: 2, parked: 0, liveBlocks: 2 }); // none new
    expect(page(a.alloc(16))).not.toBe(page(p)); // a's own page is gone: a new one
    a.check();
    b.check();
  });

  it("past the bound, parked pages go back to TLSF", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 20, cacheEmptyPages: 4 });
    const fresh = a.stats().largestFree;
    const ps = [16, 32, 48, 64, 160, 320, 512, 1024].map((n) => a.alloc(n));
    for (const p of ps) a.dealloc(p);
    const t = a.cacheStats(); // past 4 parked pages, back to TLSF in batches
    expect(t.parked).toBeLessThanOrEqual(4);
    expect(t.pages).toBe(t.parked);
    a.trim();
    expect(a.cacheStats().pages).toBe(0);
    expect(a.stats().largestFree).toBe(fresh);
    a.check();
    expect(() => SharedHeap.create({ cacheEmptyPages: -1 })).toThrow(TypeError);
  });

  it("a page emptied by another agent's frees is parked by that agent, its owner calling nothing", () => {
    const [a, b] = pair();
    const n = CLASS_BLOCKS[cls16];
    const ps = Array.from({ length: n }, () => a.alloc(16)); // one full page
    for (const p of ps.slice(1)) b.dealloc(p); // remote frees: one atomic AND each, no lock
    expect(a.cacheStats()).toMatchObject({ pages: 1, parked: 0, liveBlocks: 1 });
    b.dealloc(ps[0]); // the last one: b parks a's page (sealed) under the lock
    expect(a.cacheStats()).toMatchObject({ pages: 1, parked: 1, liveBlocks: 0 });
    a.check();
    expect(() => b.dealloc(ps[0])).toThrow(DoubleFreeError); // refused, the seal untouched
    expect(() => a.usableSize(ps[1])).toThrow(DoubleFreeError);
    a.check();
    const p = a.alloc(16); // a's current page is parked: it takes it back, unsealed
    expect(page(p)).toBe(page(ps[0]));
    expect(a.cacheStats()).toMatchObject({ pages: 1, parked: 0, liveBlocks: 1 });
    a.dealloc(p);
    expect(a.cacheStats().parked).toBe(1);
    a.check();
  });

  it("every form of dealloc parks what it empties and keeps the bound (one path)", async () => {
    const sizes = [16, 32, 48, 64, 160, 320, 512, 1024];
    const forms: [string, (h: SharedHeap, p: number) => unknown][] = [
      ["dealloc", (h, p) => h.dealloc(p)],
      ["tryDealloc", (h, p) => expect(h.tryDealloc(p)).toBe(true)],
      ["deallocAsync", (h, p) => h.deallocAsync(p)],
    ];
    for (const [name, free] of forms) {
      const a = SharedHeap.create({ initialBytes: 1 << 20, cacheEmptyPages: 2 });
      const b = SharedHeap.attach(a.share());
      const ps = sizes.map((n) => a.alloc(n));
      for (const p of ps.slice(0, 4)) await free(a, p); // own pages
      for (const p of ps.slice(4)) await free(b, p); // remote frees
      const t = a.cacheStats();
      expect({ name, parked: t.parked <= 2, pages: t.pages }).toEqual({
        name,
        parked: true,
        pages: t.parked,
      });
      a.check();
    }
  });

  it("an allocation that meets a seal gives up: no block of a page being parked", () => {
    const [a, b, d] = pair();
    const p = a.alloc(16);
    a.dealloc(p); // a's page parked: sealed
    const k = new Int32Array(d.cache as SharedArrayBuffer);
    const tag = k[HEADER_WORDS + D_TAG];
    expect(tag & TAG_PARKED).not.toBe(0);
    // The moment a lock holder has sealed a's page and not yet marked it parked, with a
    // refused free's hole in the seal: a's allocation reads the TAG as its own and a clear
    // bit, and its OR meets the seal.
    k[HEADER_WORDS + D_TAG] = tag & ~TAG_PARKED;
    k[HEADER_WORDS + D_BITMAP] = -1 & ~1;
    const r = a.alloc(16);
    expect(page(r)).not.toBe(page(p)); // a new page, not block 0 of the sealed one
    expect(k[HEADER_WORDS + D_BITMAP]).toBe(-1); // its OR filled the hole, nothing more
    k[HEADER_WORDS + D_TAG] = tag; // the park completes
    a.check();
    a.dealloc(r);
    expect(b.alloc(16)).toBeGreaterThan(0);
    b.check();
  });

  it("a page given back to TLSF leaves a slot the next new page fills, not a hole", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 20, cacheEmptyPages: 0 });
    const [x, y, z] = [16, 32, 48].map((n) => a.alloc(n)); // three pages side by side
    expect([page(y) - page(x), page(z) - page(y)]).toEqual([1, 1]);
    a.dealloc(y); // its page goes back to TLSF at once: a one-page free block between two
    expect(a.cacheStats().pages).toBe(2);
    const w = a.alloc(64); // a new page: in that slot (an aligned request would go higher)
    expect(page(w)).toBe(page(y));
    a.check();
  });

  it("check() finds a parked page that is not sealed and poisons the heap", () => {
    const [a, b, d] = pair();
    a.dealloc(a.alloc(16));
    expect(a.cacheStats().parked).toBe(1);
    b.check();
    const k = new Int32Array(d.cache as SharedArrayBuffer);
    k[HEADER_WORDS + D_BITMAP] = 0; // descriptor 0's first bitmap word: its seal gone
    expect(() => b.check()).toThrow(/parked page not sealed/);
    expect(() => a.alloc(16)).toThrow(HeapPoisonedError);
  });
});

describe("check and attach", () => {
  it("a page table entry naming no page is found by check() and poisons the heap", () => {
    const [a, b, d] = pair();
    b.alloc(16);
    const k = new Int32Array(d.cache as SharedArrayBuffer);
    const n = k[3];
    k[HEADER_WORDS + n * DESC_WORDS + 40] = 1; // slot 40 names descriptor 0 as well
    expect(() => a.check()).toThrow(HeapCorruptedError);
    expect(() => b.alloc(16)).toThrow(HeapPoisonedError);
  });

  it("a descriptor whose page is not a live TLSF block is found by check()", () => {
    const [a, b, d] = pair();
    const p = b.alloc(16);
    const k = new Int32Array(d.cache as SharedArrayBuffer);
    k[HEADER_WORDS + 1] += 1; // descriptor 0's PAGE
    k[HEADER_WORDS + k[3] * DESC_WORDS + Math.floor(p / PAGE_BYTES) + 1] = 1;
    k[HEADER_WORDS + k[3] * DESC_WORDS + Math.floor(p / PAGE_BYTES)] = 0;
    expect(() => a.check()).toThrow(/not a live TLSF block/);
  });

  it("attach rejects a missing, foreign or garbage cache buffer, bytes unchanged", () => {
    const [a] = pair();
    a.alloc(16);
    const d = a.share();
    const snap = new Uint8Array(d.cache as SharedArrayBuffer).slice();
    const other = SharedHeap.create({ initialBytes: 1 << 16 }).share().cache;
    const garbage = new SharedArrayBuffer((d.cache as SharedArrayBuffer).byteLength);
    new Uint8Array(garbage).set(snap);
    new Int32Array(garbage)[HEADER_WORDS + D_TAG] = 0x7fffffff;
    const plain = SharedHeap.create({ initialBytes: 1 << 20, synchronized: false }).share();
    for (const bad of [
      { ...d, cache: null },
      { ...d, cache: other },
      { ...d, cache: new SharedArrayBuffer(64) },
      { ...d, cache: new ArrayBuffer(snap.length) },
      { ...d, cache: garbage },
      { ...plain, cache: d.cache },
    ]) {
      expect(() => SharedHeap.attach(bad as SharedHeapDescriptor)).toThrow(HeapIncompatibleError);
    }
    expect(Buffer.compare(new Uint8Array(d.cache as SharedArrayBuffer), snap)).toBe(0);
    SharedHeap.attach(d).check();
  });
});
