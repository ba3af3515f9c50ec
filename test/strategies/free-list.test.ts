import fc from "fast-check";
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
import { COMMON_SLOTS } from "../../src/core/header.js";
import { Layout } from "../../src/core/layout.js";
import { FixedMemory, GrowableMemory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import {
  areaFor,
  bitmapBytes,
  blockSizeFor,
  MIN_BLOCK,
} from "../../src/strategies/free-list/layout.js";

/** Header of an owned heap: 8 common + 9 free-list slots, float64. */
const META = (COMMON_SLOTS + 9) * 8;
/** First block start of an owned heap (region starts at 0): payloads are then 8-aligned. */
const ORG = META + 4;

/** Everything a rejected call must leave as it was. */
function snapshot(a: FreeListAllocator) {
  a.memory.refresh();
  return {
    meta: Array.from(a.metadataBytes()),
    bytes: Buffer.from(a.memory.u8.slice(a.memory.start, a.memory.end)).toString("base64"),
    stats: a.stats(),
  };
}

function expectUnchanged(
  a: FreeListAllocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
) {
  const before = snapshot(a);
  expect(fn).toThrow(cls);
  expect(snapshot(a)).toEqual(before);
}

function fill(a: FreeListAllocator, p: number, n: number, v: number) {
  a.memory.u8.fill(v, p, p + n);
}

function holds(a: FreeListAllocator, p: number, n: number, v: number): boolean {
  return a.memory.u8.subarray(p, p + n).every((x) => x === v);
}

describe("FreeListAllocator: the seeds' FreeList example", () => {
  it("8 KiB; allocs 100, 500, 200; free a2 then a1; alloc 300 fits in the merged space", () => {
    const heap = new FreeListAllocator(8192); // FreeListAllocator::new(8192)
    expect(heap.freeBlocks()).toEqual([[ORG, 8192]]);
    expect(heap.remaining()).toBe(8192);

    const a1 = heap.allocate(Layout.of(100, 8))!;
    const a2 = heap.allocate(Layout.of(500, 8))!;
    const a3 = heap.allocate(Layout.of(200, 8))!;
    // Blocks: size word (4 bytes) + payload, rounded to 8. Vais: 120, 520, 216 (16-byte headers).
    expect([a1.ptr - 4, a2.ptr - 4, a3.ptr - 4]).toEqual([ORG, ORG + 104, ORG + 608]);
    expect([a1.size, a2.size, a3.size]).toEqual([100, 500, 204]);
    expect(heap.totalAllocated()).toBe(104 + 504 + 208); // 816; Vais: 856
    expect(heap.remaining()).toBe(8192 - 816); // 7376; Vais: 7336
    expect(heap.freeBlocks()).toEqual([[ORG + 816, 7376]]);

    // Free in any order: a2, then a1, which merges with a2's free block on its right.
    heap.deallocate(a2.ptr, Layout.of(500, 8));
    expect(heap.freeBlocks()).toEqual([
      [ORG + 104, 504],
      [ORG + 816, 7376],
    ]);
    heap.deallocate(a1.ptr, Layout.of(100, 8));
    expect(heap.freeBlocks()).toEqual([
      [ORG, 608], // Vais keeps 120 and 520 apart (no coalescing)
      [ORG + 816, 7376],
    ]);
    expect(heap.totalAllocated()).toBe(208);

    // Reallocate freed space: 300 bytes need a 304-byte block; first fit is the merged block.
    const a4 = heap.allocate(Layout.of(300, 8))!;
    expect(a4.ptr).toBe(a1.ptr); // Vais skips its 120-byte block and splits the 520 at 120
    expect(a4.size).toBe(300);
    expect(heap.freeBlocks()).toEqual([
      [ORG + 304, 304],
      [ORG + 816, 7376],
    ]);
    expect(heap.totalAllocated()).toBe(512); // Vais: 536
    expect(heap.remaining()).toBe(7680); // Vais: 7656
    heap.check();
    heap.drop();
    expect(() => heap.alloc(8)).toThrow(/dropped/);
  });
});

describe("FreeListAllocator: blocks", () => {
  it("spends a 4-byte size word per block; 24 bytes at least", () => {
    expect(MIN_BLOCK).toBe(24);
    expect(FreeListAllocator.metadataSize).toBe(META);
    const a = new FreeListAllocator(4096);
    const zero1 = a.alloc(0);
    const zero2 = a.alloc(0);
    expect(zero1).not.toBe(zero2);
    expect(zero2 - zero1).toBe(24);
    expect(a.usableSize(zero1)).toBe(20);
    for (const n of [1, 20, 21, 28, 29, 100, 1000]) {
      const p = a.alloc(n);
      expect(p % 8).toBe(0);
      expect(a.usableSize(p)).toBe(blockSizeFor(n, 8) - 4);
      expect(a.usableSize(p) - n).toBeLessThan(n <= 20 ? 24 : 8);
    }
    a.check();
  });

  it("block sizes for align ≥ 16 are multiples of 16, so 16-aligned runs need no gaps", () => {
    expect(blockSizeFor(0, 16)).toBe(32);
    expect(blockSizeFor(60, 16)).toBe(64);
    expect(blockSizeFor(61, 16)).toBe(80);
    expect(blockSizeFor(61, 8)).toBe(72);
    const a = new FreeListAllocator(1 << 16);
    let prev = 0;
    for (let i = 0; i < 200; i++) {
      const p = a.alloc(1 + ((i * 37) % 300), 16);
      expect(p % 16).toBe(0);
      if (prev !== 0) expect(p).toBeGreaterThan(prev);
      prev = p;
    }
    // No alignment gap was ever needed: every block is used, the tail is the only free block.
    expect(a.freeBlocks()).toHaveLength(1);
    a.check();
  });

  it("areaFor gives the largest area whose bitmap fits beside it", () => {
    for (let room = 0; room <= 6000; room += 8) {
      const area = areaFor(room);
      expect(area % 8).toBe(0);
      expect(area + bitmapBytes(area)).toBeLessThanOrEqual(room);
      let best = 0;
      for (let x = 0; x <= room; x += 8) if (x + bitmapBytes(x) <= room) best = x;
      expect(area).toBe(best >= MIN_BLOCK ? best : 0);
    }
    expect(bitmapBytes(512)).toBe(8);
    expect(bitmapBytes(513)).toBe(16);
  });

  it("rejects a bad fit policy and an offset-only memory", () => {
    expect(() => new FreeListAllocator(1024, { fit: "worst" as never })).toThrow(
      ArgumentRangeError,
    );
    expect(() => new FreeListAllocator(new OffsetMemory(0, 4096))).toThrow(ArgumentTypeError);
    expect(() => FreeListAllocator.fromBuffer(new ArrayBuffer(100))).toThrow(/too small/);
  });
});

describe("FreeListAllocator: merging", () => {
  it("merges with the left, the right and both neighbours", () => {
    const a = new FreeListAllocator(4096);
    const [p1, p2, p3, p4] = [a.alloc(40), a.alloc(40), a.alloc(40), a.alloc(40)]; // 48 each
    const tail = ORG + 4 * 48;
    a.dealloc(p1);
    a.dealloc(p3);
    expect(a.freeBlocks()).toEqual([
      [ORG, 48],
      [ORG + 96, 48],
      [tail, 4096 - 192],
    ]);
    a.dealloc(p2); // both sides
    expect(a.freeBlocks()).toEqual([
      [ORG, 144],
      [tail, 4096 - 192],
    ]);
    a.dealloc(p4); // left and right: everything is one block again
    expect(a.freeBlocks()).toEqual([[ORG, 4096]]);
    a.check();
  });

  it("freeing every block in any order leaves exactly one free block", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), fc.constantFrom(8, 16, 64, 256)), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.func(fc.integer()),
        (reqs, key) => {
          const a = new FreeListAllocator(1 << 16);
          const fresh = a.stats();
          const ptrs = reqs.map(([n, al]) => a.alloc(n, al)).filter((p) => p !== 0);
          const order = ptrs.map((p, i) => [key(p, i), p]).sort((x, y) => x[0] - y[0]);
          for (const [, p] of order) {
            a.dealloc(p);
            a.check();
          }
          expect(a.freeBlocks()).toEqual([[ORG, 1 << 16]]);
          expect(a.stats().largestFree).toBe(fresh.largestFree);
          expect(a.totalAllocated()).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("FreeListAllocator: fit policies", () => {
  /** Free blocks of 208, 104 and 152 bytes separated by used 24-byte blocks, then the tail. */
  function holes(fit: "first" | "best" | "next") {
    const a = new FreeListAllocator(4096, { fit });
    const x1 = a.alloc(200);
    a.alloc(8);
    const x2 = a.alloc(100);
    a.alloc(8);
    const x3 = a.alloc(148);
    const g3 = a.alloc(8);
    for (const p of [x1, x2, x3]) a.dealloc(p);
    expect(a.freeBlocks().map(([, s]) => s)).toEqual([208, 104, 152, 4096 - 536]);
    return { a, x1, x2, x3, tail: g3 + 24 };
  }

  it("first fit takes the lowest block that fits", () => {
    const { a, x1 } = holes("first");
    expect(a.alloc(100)).toBe(x1);
    expect(a.fit).toBe("first");
  });

  it("best fit takes the smallest block that fits", () => {
    const { a, x2, x3 } = holes("best");
    expect(a.alloc(100)).toBe(x2); // exact: 104
    expect(a.alloc(140)).toBe(x3); // 152 beats 208
  });

  it("next fit goes on from where the last allocation ended, then wraps", () => {
    const { a, x1, tail } = holes("next");
    const p = a.alloc(100);
    expect(p).toBe(tail); // the rover is past g3
    expect(a.alloc(100)).toBe(tail + 104);
    // Exhaust the tail: the search wraps to the start.
    expect(a.alloc(a.stats().largestFree)).not.toBe(0);
    expect(a.alloc(100)).toBe(x1);
  });

  it("with attach the second handle keeps the heap's policy", () => {
    const mem = new FixedMemory(new ArrayBuffer(8192));
    const a = new FreeListAllocator(mem, { fit: "best" });
    const p = a.alloc(64);
    const b = FreeListAllocator.attach(mem);
    expect(b.fit).toBe("best");
    expect(b.usableSize(p)).toBe(68);
    b.dealloc(p);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    expect(() => new FreeListAllocator(mem, { attach: true, fit: "next" })).toThrow(
      HeapIncompatibleError,
    );
  });
});

describe("FreeListAllocator: alignment", () => {
  it("serves every alignment up to 4096 (and 64 KiB), leaving gaps as free blocks", () => {
    const a = new FreeListAllocator(1 << 20);
    const ptrs: number[] = [];
    for (let k = 3; k <= 16; k++) {
      const align = 2 ** k;
      for (const n of [0, 1, 24, 100, align + 3]) {
        const p = a.alloc(n, align);
        expect(p).not.toBe(0);
        expect(p % align).toBe(0);
        expect(a.usableSize(p)).toBeGreaterThanOrEqual(n);
        fill(a, p, n, k);
        ptrs.push(p);
      }
      a.check();
    }
    // Gaps in front of aligned blocks became free blocks of at least 24 bytes.
    expect(a.freeBlocks().length).toBeGreaterThan(1);
    for (const [, s] of a.freeBlocks()) expect(s).toBeGreaterThanOrEqual(24);
    for (const p of ptrs) a.dealloc(p);
    expect(a.freeBlocks()).toEqual([[ORG, 1 << 20]]);
  });

  it("an 8-byte gap is never left: the block moves to the next aligned address", () => {
    const a = new FreeListAllocator(4096);
    const first = a.alloc(16); // block [ORG, ORG+24): the tail starts at ORG + 24
    const tailPayload = ORG + 24 + 4;
    expect(tailPayload % 16).toBe(8); // ORG = 140: payloads 144 (16-aligned), 168 (not)
    const p = a.alloc(16, 16);
    expect(p % 16).toBe(0);
    expect(p - 4 - (ORG + 24)).toBeGreaterThanOrEqual(24); // a free gap block of ≥ 24 bytes
    expect(a.freeBlocks()[0]).toEqual([ORG + 24, p - 4 - (ORG + 24)]);
    a.dealloc(first);
    a.dealloc(p);
    expect(a.freeBlocks()).toEqual([[ORG, 4096]]);
  });

  it("aligned first fit skips blocks whose gap does not fit", () => {
    const a = new FreeListAllocator(1 << 14);
    const small = a.alloc(40); // 48 bytes at ORG
    a.alloc(8);
    a.dealloc(small);
    // The 48-byte hole cannot hold a 4096-aligned block; the tail can.
    const p = a.alloc(8, 4096);
    expect(p % 4096).toBe(0);
    expect(p).toBeGreaterThan(ORG + 48);
    expect(a.freeBlocks()[0]).toEqual([ORG, 48]);
    a.check();
  });
});

describe("FreeListAllocator: aligned search", () => {
  it("finds the one block that fits behind many that are large enough but misaligned", () => {
    const a = new FreeListAllocator(4096);
    a.alloc(4); // 24 bytes: the next payload is ≡ 8 (mod 16)
    const holes: number[] = [];
    for (let i = 0; i < 10; i++) {
      holes.push(a.alloc(44)); // 48 bytes
      a.alloc(28); // 32 bytes: the period is 80, so every hole stays misaligned
    }
    a.alloc(4); // shifts by 24: the next hole is 16-aligned
    const fit = a.alloc(44);
    a.alloc(28);
    expect(a.alloc(a.stats().largestFree)).not.toBe(0); // nothing else is free
    for (const p of [...holes, fit]) a.dealloc(p);
    expect(holes.every((p) => p % 16 === 8)).toBe(true);
    expect(fit % 16).toBe(0);
    // 10 candidates of the right size do not fit; no block is big enough for any gap.
    expect(a.alloc(40, 16)).toBe(fit);
    a.check();
  });
});

describe("FreeListAllocator: realloc", () => {
  it("grows in place into a free right neighbour, keeping the bytes", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(100);
    const q = a.alloc(100);
    a.alloc(8);
    fill(a, p, 100, 7);
    a.dealloc(q);
    expect(a.realloc(p, 150)).toBe(p);
    expect(holds(a, p, 100, 7)).toBe(true);
    expect(a.usableSize(p)).toBe(156);
    // 104 + 104 − 160 = 48 bytes stay free after it.
    expect(a.freeBlocks()[0]).toEqual([p - 4 + 160, 48]);
    // Taking nearly all of the neighbour absorbs the sliver instead of leaving < 24 bytes.
    expect(a.realloc(p, 190)).toBe(p);
    expect(a.usableSize(p)).toBe(204);
    a.check();
  });

  it("shrinks in place: the tail joins a free right neighbour or becomes a free block", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(400);
    const guard = a.alloc(8);
    fill(a, p, 400, 9);
    expect(a.realloc(p, 100)).toBe(p);
    expect(a.usableSize(p)).toBe(100);
    expect(holds(a, p, 100, 9)).toBe(true);
    expect(a.freeBlocks()[0]).toEqual([p - 4 + 104, 304]);
    a.dealloc(guard);
    expect(a.realloc(p, 50)).toBe(p); // the 48-byte tail merges with the free space after it
    expect(a.freeBlocks()).toEqual([[p - 4 + 56, 4096 - 56]]);
    expect(a.realloc(p, 48)).toBe(p); // same block size: nothing moves
    expect(a.usableSize(p)).toBe(52);
    a.check();
  });

  it("moves when the right neighbour is used, and frees the old block", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(64);
    a.alloc(8);
    fill(a, p, 64, 3);
    const q = a.realloc(p, 200);
    expect(q).not.toBe(p);
    expect(holds(a, q, 64, 3)).toBe(true);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.check();
  });

  it("returns 0 and leaves the block untouched when nothing fits", () => {
    const a = new FreeListAllocator(1024);
    const p = a.alloc(100);
    a.alloc(8);
    fill(a, p, 100, 5);
    const before = snapshot(a);
    expect(a.realloc(p, 2000)).toBe(0);
    expect(snapshot(a)).toEqual(before);
  });
});

describe("FreeListAllocator: misuse", () => {
  it("detects a double free after merging left, right, both or neither, changing nothing", () => {
    for (const pattern of ["none", "left", "right", "both"] as const) {
      const a = new FreeListAllocator(4096);
      const [l, m, r] = [a.alloc(40), a.alloc(40), a.alloc(40)];
      a.alloc(8);
      if (pattern === "left" || pattern === "both") a.dealloc(l);
      if (pattern === "right" || pattern === "both") a.dealloc(r);
      fill(a, m, 40, 0xee);
      a.dealloc(m);
      expectUnchanged(a, () => a.dealloc(m), DoubleFreeError);
      expectUnchanged(a, () => a.realloc(m, 10), DoubleFreeError);
      expectUnchanged(a, () => a.usableSize(m), DoubleFreeError);
      a.check();
    }
  });

  it("rejects interior, misaligned, out-of-range and header pointers", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(100);
    expectUnchanged(a, () => a.dealloc(p + 8), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(p + 4), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(p - 8), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(8), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(a.memory.end), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(2 ** 32 + 8), InvalidPointerError);
    // A pointer into free memory that never started a block.
    expectUnchanged(a, () => a.dealloc(p + 400), InvalidPointerError);
  });

  it("a forged size word inside a block does not make an interior pointer valid", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(200);
    a.alloc(8);
    // Write what a live 48-byte block's size word looks like at p + 60, then free p + 64.
    const u32 = a.memory.u32;
    u32[(p + 60) >>> 2] = 48 + 1 + 2;
    u32[(p + 60 + 48) >>> 2] = 24 + 1 + 2;
    expectUnchanged(a, () => a.dealloc(p + 64), InvalidPointerError);
    a.check();
  });

  it("a freed block whose memory was handed out again is an interior pointer", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(40);
    const q = a.alloc(40);
    a.alloc(8);
    a.dealloc(p);
    a.dealloc(q); // merged into p's block
    const big = a.alloc(90); // takes both
    expect(big).toBe(p);
    expectUnchanged(a, () => a.dealloc(q), InvalidPointerError);
  });

  it("checks the size given to dealloc against the block", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(30);
    expect(a.usableSize(p)).toBe(36);
    expectUnchanged(a, () => a.dealloc(p, 37), LayoutMismatchError);
    a.dealloc(p, 30);
  });

  it("after reset every earlier pointer is rejected", () => {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(40);
    const q = a.alloc(40);
    a.reset();
    expect(a.freeBlocks()).toEqual([[ORG, 4096]]);
    expectUnchanged(a, () => a.dealloc(p), DoubleFreeError); // the free block's start
    expectUnchanged(a, () => a.dealloc(q), InvalidPointerError);
    expect(a.stats().peakInUse).toBe(0);
  });
});

describe("FreeListAllocator: growth", () => {
  it("grows a growable memory, merging the new space with a free last block", () => {
    const mem = new GrowableMemory(4096, 1 << 20);
    const a = new FreeListAllocator(mem);
    const p = a.alloc(1000);
    const [[tail, tailSize]] = a.freeBlocks();
    expect(tail).toBe(p - 4 + 1008);
    const q = a.alloc(tailSize + 100); // does not fit: grow, and the block starts at the tail
    expect(q).toBe(tail + 4);
    expect(mem.end).toBeGreaterThan(4096);
    a.check();
    fill(a, q, tailSize + 100, 1);
    a.dealloc(p);
    a.dealloc(q);
    const area = a.freeBlocks();
    expect(area).toHaveLength(1);
    expect(area[0][0]).toBe(ORG);
    expect(area[0][1] + bitmapBytes(area[0][1])).toBeLessThanOrEqual(mem.end - ORG - 4);
    a.check();
  });

  it("grows a WebAssembly memory (views replaced) and keeps every block's bytes", () => {
    const mem = WasmMemory.create(1, 16);
    const a = new FreeListAllocator(mem);
    const ptrs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const p = a.alloc(20_000);
      expect(p).not.toBe(0);
      a.memory.u8.fill(i, p, p + 20_000);
      ptrs.push(p);
    }
    expect(mem.end).toBeGreaterThan(65536 * 8);
    a.check();
    ptrs.forEach((p, i) => {
      expect(holds(a, p, 20_000, i)).toBe(true);
    });
    expect(a.alloc(2_000_000)).toBe(0); // beyond the 1 MiB maximum
    for (const p of ptrs) a.dealloc(p);
    expect(a.freeBlocks()).toHaveLength(1);
  });

  it("does not grow with grow: false, nor a fixed memory", () => {
    const mem = new GrowableMemory(4096, 1 << 20);
    const a = new FreeListAllocator(mem, { grow: false });
    expect(a.alloc(5000)).toBe(0);
    expect(mem.end).toBe(4096);
    const f = FreeListAllocator.fromBuffer(new ArrayBuffer(4096));
    expect(f.alloc(5000)).toBe(0);
  });
});

describe("FreeListAllocator: check()", () => {
  function corrupted(hit: (a: FreeListAllocator, p: number) => void, message: RegExp) {
    const a = new FreeListAllocator(4096);
    const p = a.alloc(100);
    const q = a.alloc(100);
    a.alloc(100);
    a.dealloc(q);
    a.check();
    hit(a, q);
    expect(() => a.check()).toThrow(HeapCorruptedError);
    expect(() => a.check()).toThrow(HeapPoisonedError);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    const b = new FreeListAllocator(4096);
    const bp = b.alloc(100);
    const bq = b.alloc(100);
    b.alloc(100);
    b.dealloc(bq);
    hit(b, bq);
    expect(() => b.check()).toThrow(message);
    void p;
    void bp;
  }
  const u32 = (a: FreeListAllocator) => a.memory.u32;

  it("finds a broken size word", () => {
    corrupted((a, q) => {
      u32(a)[(q - 4 - 104) >>> 2] = 96 + 1 + 2; // the first block claims 96 bytes, not 104
    }, /PREV_USED|size|bitmap/);
  });
  it("finds a broken footer", () => {
    corrupted((a, q) => {
      u32(a)[(q - 4 + 104 - 4) >>> 2] = 8;
    }, /footer 8 != size 104/);
  });
  it("finds a broken tree link", () => {
    corrupted((a, q) => {
      u32(a)[((q - 4) >>> 2) + 3] = q + 100; // PARENT of a free block
    }, /has a parent|PARENT/);
  });
  it("finds a broken bitmap", () => {
    corrupted((a) => {
      const areaEnd = a.freeBlocks().at(-1)!;
      const bm = (areaEnd[0] + areaEnd[1] + 4) >>> 2;
      u32(a)[bm] ^= 1; // the first block's bit
    }, /no bitmap bit|bits set/);
  });
  it("finds a wrong counter", () => {
    corrupted((a) => {
      const h = new Float64Array(a.memory.buffer, 0, COMMON_SLOTS + 9);
      h[COMMON_SLOTS + 6] += 8; // FREE_BYTES
    }, /FREE_BYTES/);
  });
});

describe("FreeListAllocator: many holes in front", () => {
  // An address-ordered list would walk 20,000 holes per alloc here; the tree does not. Speed
  // itself is measured by the benchmarks, not asserted in a test.
  it("first fit skips 20,000 small holes no request fits, and never fails", () => {
    const a = new FreeListAllocator(64 << 20);
    const small: number[] = [];
    for (let i = 0; i < 40_000; i++) small.push(a.alloc(16));
    for (let i = 0; i < small.length; i += 2) a.dealloc(small[i]); // 20,000 24-byte holes
    expect(a.freeBlocks().length).toBe(20_001);
    const slots = new Float64Array(2000);
    let failed = 0;
    let x = 2463534242;
    for (let i = 0; i < 1_000_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const s = (x >>> 0) % slots.length;
      if (slots[s] !== 0) {
        a.dealloc(slots[s]);
        slots[s] = 0;
      } else {
        slots[s] = a.alloc(24 + ((x >>> 8) % 500)); // never fits a 24-byte hole
        if (slots[s] === 0) failed++;
      }
    }
    expect(failed).toBe(0);
    // The holes are still there, untouched: every new block went past them.
    expect(a.freeBlocks().filter(([, size]) => size === 24).length).toBeGreaterThanOrEqual(20_000);
    a.check();
  });
});

describe("FreeListAllocator: peakInUse remembers the most in use", () => {
  it("after an allocation is freed", () => {
    const a = new FreeListAllocator(8192);
    const p = a.alloc(1000);
    const usable = a.usableSize(p);
    a.dealloc(p);
    a.alloc(8);
    expect(a.stats().peakInUse).toBe(usable);
  });

  it("after a block grown in place is freed", () => {
    const a = new FreeListAllocator(8192);
    const p = a.alloc(100);
    const q = a.realloc(p, 3000);
    expect(q).toBe(p); // grown into the free space after it
    const usable = a.usableSize(q);
    a.dealloc(q);
    expect(a.stats().peakInUse).toBe(usable);
  });
});

describe("FreeListAllocator: in-band words are checked before they are trusted (issue 13)", () => {
  /** Three live 64-byte blocks (block size 72) and a free tail; `hit` damages B's header. */
  function setup() {
    const a = new FreeListAllocator(4096);
    const A = a.alloc(64);
    const B = a.alloc(64);
    const C = a.alloc(64);
    fill(a, A, 64, 1);
    fill(a, B, 64, 2);
    fill(a, C, 64, 3);
    return { a, A, B, C };
  }

  function expectPoisonedBy(a: FreeListAllocator, call: () => unknown, bytesOf: () => string) {
    const before = bytesOf();
    expect(call).toThrow(HeapCorruptedError);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    // Nothing was written but the poison: the blocks are as they were.
    expect(bytesOf()).toBe(before);
  }

  it("a live block whose USED bit was cleared is corruption, not a double free", () => {
    const { a, A, B } = setup();
    // 4 bytes past A's 68 usable bytes: B's size word, USED cleared (72 | PREV_USED).
    a.memory.u32[(B - 4) >>> 2] &= ~1;
    expect(() => a.dealloc(B)).toThrow(HeapCorruptedError);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    void A;
  });

  it("a real double free stays a DoubleFreeError (its footer and the next PREV_USED agree)", () => {
    const { a, B } = setup();
    a.dealloc(B);
    expect(() => a.dealloc(B)).toThrow(DoubleFreeError);
    a.check();
  });

  it("a write 6 bytes past a block grows the next block's size: freeing it poisons", () => {
    const { a, A, B, C } = setup();
    const blocks = () => Buffer.from(a.memory.u8.subarray(A - 4, C + 64)).toString("hex");
    // 6 bytes past A's 68 usable bytes: the second byte of B's size word (72 → 72 + 256).
    a.memory.u8[A + 68 + 1] = 1;
    expectPoisonedBy(a, () => a.dealloc(B), blocks);
  });

  it("a smaller size word, a flag, a footer or a left link: every free and realloc checks", () => {
    const hits: Array<
      [
        string,
        (a: FreeListAllocator, A: number, B: number, C: number) => void,
        (a: FreeListAllocator, B: number, C: number) => unknown,
      ]
    > = [
      [
        "B's size shrunk",
        (a, _A, B) => (a.memory.u32[(B - 4) >>> 2] = 48 + 3),
        (a, B) => a.dealloc(B),
      ],
      [
        "C's PREV_USED cleared",
        (a, _A, _B, C) => (a.memory.u32[(C - 4) >>> 2] &= ~2),
        (a, B) => a.dealloc(B),
      ],
      [
        "B's PREV_USED cleared (a fake free left)",
        (a, _A, B) => (a.memory.u32[(B - 4) >>> 2] &= ~2),
        (a, B) => a.dealloc(B),
      ],
      [
        "resize in place of a grown B",
        (a, _A, B) => (a.memory.u32[(B - 4) >>> 2] += 256),
        (a, B) => a.realloc(B, 100),
      ],
      [
        "C's free footer",
        (a, _A, _B, C) => {
          a.alloc(64); // D: C stays a free block of its own when freed
          a.dealloc(C);
          a.memory.u32[(C - 4 + 72 - 4) >>> 2] = 8;
        },
        (a, B) => a.dealloc(B),
      ],
    ];
    for (const [what, hit, call] of hits) {
      const { a, A, B, C } = setup();
      hit(a, A, B, C);
      const e = (() => {
        try {
          call(a, B, C);
        } catch (x) {
          return x;
        }
        return undefined;
      })();
      expect(e, what).toBeInstanceOf(HeapCorruptedError);
      expect(a.poisoned, what).toBe(true);
    }
  });

  it("a free block whose size word was overwritten is not split: alloc poisons", () => {
    const a = new FreeListAllocator(4096);
    const A = a.alloc(64);
    const B = a.alloc(64);
    a.alloc(64);
    a.dealloc(B);
    // A's overflow grows free block B: a split of it would hand out bytes of the next block.
    a.memory.u32[(B - 4) >>> 2] += 512;
    void A;
    expect(() => a.alloc(60)).toThrow(HeapCorruptedError);
    expect(a.poisoned).toBe(true);
  });

  it("a split leaves a tail of exactly MIN_BLOCK (24) bytes as a free block", () => {
    const a = new FreeListAllocator(4096);
    const A = a.alloc(100); // block 104
    const gap = a.alloc(100 + 24); // block 128: freed below, a hole of 128
    a.alloc(8);
    a.dealloc(gap);
    const free = a.stats().free;
    // 100 bytes need a 104-byte block: the hole's 128 bytes split into 104 and a 24-byte tail.
    const p = a.alloc(100);
    expect(p).toBe(gap);
    expect(a.usableSize(p)).toBe(100);
    expect(a.stats().free).toBe(free - 104);
    // The tail is a block of its own: alloc(20) (a 24-byte block) takes exactly it.
    const t = a.alloc(20);
    expect(t).toBe(p + 104);
    expect(a.usableSize(t)).toBe(20);
    a.check();
    void A;
  });
});
