/**
 * TlsfAllocator's own tests: blocks and the good-fit search, merging, realloc in place and
 * moved, alignment, allocZeroed, growth, misuse (rejected calls change nothing), the checks
 * of in-band words (a write past a block is caught where it is read, and poisons), the
 * front end (Heap's per-size stacks), the state words and check().
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
  StaleViewError,
} from "../../../src/core/errors.js";
import { Heap } from "../../../src/heap/index.js";
import {
  FixedMemory,
  GrowableMemory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import {
  FRONT_CAPACITY,
  FRONT_LIMIT,
  FRONT_MIN_BUDGET,
  TLSF_HEADER,
  TLSF_METADATA_BYTES,
} from "../../../src/strategies/tlsf/layout.js";
import { BLOCK_OVERHEAD, blockSizeFor, MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { expectRejected, metadataState } from "../../helpers/rejected.js";

/** First block start of an owned heap (region at 0): its pointer is 16-aligned. */
const FIRST = Math.ceil((TLSF_METADATA_BYTES + 8) / 16) * 16 - 4;
/** u32 index of the state words in an owned heap (region at 0). */
const SW = TLSF_HEADER.wordsAt / 4;
const W = TLSF_HEADER.word;

type Tlsf = TlsfAllocator;

function tlsf(capacity = 1 << 16, frontEnd = false): Tlsf {
  return new TlsfAllocator(new FixedMemory(new ArrayBuffer(capacity)), { frontEnd });
}

function u32(a: Tlsf): Uint32Array {
  a.memory.refresh();
  return a.memory.u32;
}

/** The block size in the size word before `ptr`. */
function blockSize(a: Tlsf, ptr: number): number {
  return u32(a)[(ptr - 4) >>> 2] & ~7;
}

/** A rejected call changes no byte of the memory or the metadata, and no stat. */
function expectUnchanged(
  a: Tlsf,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
) {
  expectRejected(a, fn, cls, true);
}

/** The call must throw HeapCorruptedError, and the heap stay poisoned for every later call. */
function expectPoisons(a: Tlsf, fn: () => unknown) {
  expect(fn).toThrow(HeapCorruptedError);
  expect(a.poisoned).toBe(true);
  expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
  expect(() => a.check()).toThrow(HeapPoisonedError);
}

describe("TlsfAllocator: blocks", () => {
  it("lays blocks out one after another from the 16-aligned first pointer, 4 bytes of size word each", () => {
    const a = tlsf();
    expect(TlsfAllocator.metadataSize).toBe(TLSF_METADATA_BYTES);
    const p = a.alloc(100);
    const q = a.alloc(1);
    const r = a.alloc(0);
    expect(p).toBe(FIRST + 4);
    expect(p % 16).toBe(0);
    expect(q).toBe(p + blockSizeFor(100));
    expect(r).toBe(q + MIN_BLOCK);
    expect(a.usableSize(p)).toBe(100);
    a.check();
  });

  it("gives every size its block: size + 4 rounded to 8, at least 16", () => {
    const a = tlsf(1 << 20);
    for (const n of [0, 1, 11, 12, 13, 20, 21, 100, 252, 253, 500, 508, 509, 4096, 65535]) {
      const p = a.alloc(n);
      expect(p % 8).toBe(0);
      expect(blockSize(a, p)).toBe(Math.max(16, Math.ceil((n + 4) / 8) * 8));
      expect(a.usableSize(p)).toBe(blockSize(a, p) - BLOCK_OVERHEAD);
      expect(a.usableSize(p)).toBeGreaterThanOrEqual(n);
    }
    a.check();
  });

  it("two alloc(0) are distinct minimal blocks", () => {
    const a = tlsf();
    const x = a.alloc(0);
    const y = a.alloc(0);
    expect(x).not.toBe(y);
    expect(a.usableSize(x)).toBe(12);
    a.dealloc(x);
    a.dealloc(y);
    a.check();
  });

  it("takes the smallest list that fits (good fit), not the first free block", () => {
    const a = tlsf(1 << 20);
    const big = a.alloc(1000);
    const sep1 = a.alloc(8);
    const small = a.alloc(100);
    const sep2 = a.alloc(8);
    a.dealloc(big);
    a.dealloc(small);
    // A 100-byte request goes into the 104-byte hole, not the 1,008-byte one before it.
    expect(a.alloc(100)).toBe(small);
    expect(a.alloc(1000)).toBe(big);
    for (const p of [sep1, sep2]) a.dealloc(p);
    a.check();
  });

  it("splits a larger free block and lists the rest", () => {
    const a = tlsf();
    const fresh = a.stats();
    const p = a.alloc(64);
    const st = a.stats();
    expect(st.largestFree).toBe(fresh.largestFree - 72);
    expect(st.free).toBe(fresh.free - 72);
    expect(a.alloc(64)).toBe(p + 72);
    a.check();
  });

  it("answers 0 when nothing fits, and for sizes past 4 GiB; rejects bad sizes and alignments", () => {
    const a = tlsf();
    expect(a.alloc(1 << 20)).toBe(0);
    expect(a.alloc(2 ** 32)).toBe(0);
    expect(a.alloc(2 ** 40)).toBe(0);
    expectUnchanged(a, () => a.alloc(-1), ArgumentRangeError);
    expectUnchanged(a, () => a.alloc(1.5), ArgumentRangeError);
    expectUnchanged(a, () => a.alloc(Number.NaN), ArgumentRangeError);
    expectUnchanged(a, () => a.alloc("8" as unknown as number), ArgumentTypeError);
    expectUnchanged(a, () => a.alloc(8n as unknown as number), ArgumentTypeError);
    expectUnchanged(a, () => a.alloc(8, 3), ArgumentRangeError);
    expectUnchanged(a, () => a.alloc(8, 0), ArgumentRangeError);
    expectUnchanged(a, () => a.alloc(8, 1 << 17), ArgumentRangeError);
  });
});

describe("TlsfAllocator: merging", () => {
  it("merges a freed block with its left, right and both free neighbours", () => {
    const a = tlsf();
    const [p, q, r, s] = [a.alloc(100), a.alloc(100), a.alloc(100), a.alloc(100)];
    const fresh = tlsf().stats().largestFree;
    a.dealloc(p);
    a.dealloc(r);
    a.check();
    a.dealloc(q); // merges with p (left) and r (right)
    a.check();
    expect(a.alloc(3 * 104 - 4)).toBe(p); // one block where p, q and r were
    a.dealloc(p);
    a.dealloc(s); // merges with the whole rest
    expect(a.stats().largestFree).toBe(fresh);
    expect(a.stats().liveBlocks).toBe(0);
    a.check();
  });

  it("freeing every block in any order leaves one free block, as fresh", () => {
    const a = tlsf(1 << 18);
    const fresh = a.stats();
    let x = 12345;
    const rand = () => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x;
    };
    const ptrs: number[] = [];
    for (let i = 0; i < 500; i++) ptrs.push(a.alloc(rand() % 300));
    while (ptrs.length > 0) {
      const k = rand() % ptrs.length;
      a.dealloc(ptrs[k]);
      ptrs[k] = ptrs[ptrs.length - 1];
      ptrs.pop();
      if (ptrs.length % 50 === 0) a.check();
    }
    const st = a.stats();
    expect(st.free).toBe(fresh.free);
    expect(st.largestFree).toBe(fresh.largestFree);
    expect(st.peakInUse).toBeGreaterThan(0);
  });
});

describe("TlsfAllocator: realloc", () => {
  it("shrinks in place and gives the tail back (usable size follows the new size)", () => {
    const a = tlsf();
    const p = a.alloc(4000);
    const after = a.alloc(8); // keeps the tail from merging with the end of the heap
    const inUse = a.stats().inUse;
    expect(a.realloc(p, 16)).toBe(p);
    expect(a.usableSize(p)).toBe(20);
    expect(a.stats().inUse).toBe(inUse - (blockSizeFor(4000) - blockSizeFor(16)));
    // The freed tail is a free block of its own: a 3,000-byte request lands in it.
    expect(a.alloc(3000)).toBe(p + blockSizeFor(16));
    a.dealloc(after);
    a.check();
  });

  it("a used block that ends at the sentinel is whole: usableSize, realloc and dealloc take it", () => {
    const a = tlsf();
    a.alloc(8);
    const largest = a.stats().largestFree;
    const last = a.alloc(largest); // the whole last block, up to the sentinel
    expect(last).not.toBe(0);
    expect(a.alloc(8)).toBe(0);
    expect(a.usableSize(last)).toBe(largest);
    expect(a.realloc(last, largest - 100)).toBe(last);
    expect(a.realloc(last, largest)).toBe(last);
    a.dealloc(last);
    expect(a.stats().largestFree).toBe(largest);
    a.check();
  });

  it("keeps a tail too small to be a block (shrinking by less than 16 bytes)", () => {
    const a = tlsf();
    const p = a.alloc(100);
    expect(a.realloc(p, 92)).toBe(p);
    expect(a.usableSize(p)).toBe(100);
    a.check();
  });

  it("shrinks beside, and grows into, a free minimal block", () => {
    for (const grow of [false, true]) {
      const a = tlsf();
      const p = a.alloc(100); // a 104-byte block
      const s = a.alloc(8); // a 16-byte block, freed below
      a.alloc(8);
      a.dealloc(s);
      if (grow) {
        expect(a.realloc(p, 112)).toBe(p); // 120 bytes: the whole free block
        expect(a.usableSize(p)).toBe(116);
        expect(a.alloc(8)).toBe(p + 136); // no free minimal block left: after the tail's
      } else {
        expect(a.realloc(p, 50)).toBe(p); // 56 bytes: the tail merges with the free block
        expect(a.usableSize(p)).toBe(52);
        expect(a.alloc(60)).toBe(p + 56); // the merged 64-byte block
      }
      a.check();
    }
  });

  it("splits a tail of exactly a minimal block (shrinking by 16 bytes)", () => {
    const a = tlsf();
    const p = a.alloc(100); // a 104-byte block
    a.alloc(8); // keeps the tail from merging with the end of the heap
    expect(a.realloc(p, 84)).toBe(p); // an 88-byte block: the 16-byte tail is freed
    expect(a.usableSize(p)).toBe(84);
    expect(a.alloc(8)).toBe(p + 88); // a minimal block fits exactly in the tail
    a.check();
  });

  it("grows in place into a free right neighbour, keeping the bytes, and raises the peak", () => {
    const a = tlsf();
    const p = a.alloc(100);
    const q = a.alloc(200);
    const r = a.alloc(8);
    a.memory.u8.fill(0x5a, p, p + 100);
    a.dealloc(q);
    expect(a.realloc(p, 250)).toBe(p); // into q's 208 bytes; the rest stays free
    expect(a.memory.u8.subarray(p, p + 100).every((x) => x === 0x5a)).toBe(true);
    expect(a.usableSize(p)).toBe(blockSizeFor(250) - 4);
    const x = a.alloc(50);
    expect(x).toBe(p + blockSizeFor(250));
    a.dealloc(x);
    a.dealloc(r);
    // Into the free end of the heap, past the peak so far: the peak follows.
    const peak = a.stats().peakInUse;
    expect(a.realloc(p, 5000)).toBe(p);
    const st = a.stats();
    expect(st.inUse).toBeGreaterThan(peak);
    expect(st.peakInUse).toBe(st.inUse);
    a.check();
  });

  it("moves when the right neighbour is used, copying the bytes and freeing the old block", () => {
    const a = tlsf();
    const p = a.alloc(100);
    const q = a.alloc(8);
    a.memory.u8.fill(7, p, p + 100);
    const to = a.realloc(p, 500);
    expect(to).not.toBe(p);
    expect(a.memory.u8.subarray(to, to + 100).every((x) => x === 7)).toBe(true);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.dealloc(q);
    a.dealloc(to);
    a.check();
  });

  it("returns 0 and leaves the block as it was when nothing fits", () => {
    const a = tlsf();
    const p = a.alloc(100);
    a.memory.u8.fill(3, p, p + 100);
    const before = metadataState(a, true);
    expect(a.realloc(p, 1 << 20)).toBe(0);
    expect(a.realloc(p, 2 ** 40)).toBe(0);
    expect(metadataState(a, true)).toBe(before);
  });

  it("checks the pointer before the size: a freed pointer with a huge size is a double free", () => {
    const a = tlsf();
    const p = a.alloc(100);
    a.alloc(8);
    a.dealloc(p);
    expectUnchanged(a, () => a.realloc(p, 2 ** 40), DoubleFreeError);
    expectUnchanged(a, () => a.realloc(p + 8, 2 ** 40), InvalidPointerError);
    const q = a.alloc(100);
    expectUnchanged(a, () => a.realloc(q, 0), ArgumentRangeError);
    expectUnchanged(a, () => a.realloc(q, -1), ArgumentRangeError);
  });

  it("keeps 16-aligned blocks 16-aligned when a heap asks for 16 throughout", () => {
    const a = tlsf(1 << 18);
    const ptrs: number[] = [];
    for (let i = 1; i < 200; i++) ptrs.push(a.alloc(i * 3, 16));
    for (let i = 0; i < ptrs.length; i += 2) ptrs[i] = a.realloc(ptrs[i], i * 7 + 1, 16);
    for (const p of ptrs) {
      expect(p % 16).toBe(0);
      expect(blockSize(a, p) % 16).toBe(0);
    }
    a.check();
  });
});

describe("TlsfAllocator: alignment", () => {
  it("serves every alignment up to 64 KiB, splitting the gap off as a free block", () => {
    const a = tlsf(1 << 20);
    for (const align of [1, 2, 4, 8, 16, 32, 64, 128, 4096, 65536]) {
      a.alloc(24); // move the next free block off any alignment
      const p = a.alloc(40, align);
      expect(p).not.toBe(0);
      expect(p % Math.max(8, align)).toBe(0);
      a.check();
    }
  });
});

describe("TlsfAllocator: allocZeroed", () => {
  it("zeroes a reused block, and skips the fill where the memory was never handed out", () => {
    const a = new TlsfAllocator(1 << 16); // owned memory: zeroed by the engine
    const p = a.alloc(200);
    a.memory.u8.fill(0xff, p, p + 200);
    a.dealloc(p);
    const z = a.allocZeroed(200);
    expect(z).toBe(p);
    expect(a.memory.u8.subarray(z, z + 200).every((x) => x === 0)).toBe(true);
    const fresh = a.allocZeroed(1000);
    expect(a.memory.u8.subarray(fresh, fresh + 1000).every((x) => x === 0)).toBe(true);
    a.check();
  });

  it("on a memory not known to be zero, fills every block", () => {
    const buf = new ArrayBuffer(1 << 16);
    new Uint8Array(buf).fill(0xee);
    const a = new TlsfAllocator(new FixedMemory(buf, 0, undefined, false));
    const z = a.allocZeroed(500);
    expect(a.memory.u8.subarray(z, z + 500).every((x) => x === 0)).toBe(true);
  });
});

describe("TlsfAllocator: the memory it needs", () => {
  it("needs a memory with bytes, and room for one minimal block and the sentinel", () => {
    expect(() => new TlsfAllocator(new OffsetMemory(0, 1 << 16))).toThrow(
      expect.objectContaining({ name: "ArgumentRangeError", code: "ERR_MEMORY" }),
    );
    expect(() => new TlsfAllocator(new OffsetMemory(0, 1 << 16))).toThrow(
      "TlsfAllocator keeps a size word before every block, so it needs a memory with bytes",
    );
    // FIRST + 20: the first block (16 bytes) and the sentinel's word; one byte less is refused.
    expect(() => tlsf(FIRST + 19)).toThrow(
      expect.objectContaining({ name: "ArgumentRangeError", code: "ERR_MEMORY" }),
    );
    expect(() => tlsf(FIRST + 19)).toThrow(
      `TlsfAllocator: region [0, ${FIRST + 19}) leaves no room for a block`,
    );
    const a = tlsf(FIRST + 20);
    expect(a.alloc(12)).toBe(FIRST + 4);
    expect(a.alloc(1)).toBe(0);
    a.check();
  });
});

describe("TlsfAllocator: growth", () => {
  it("grows a growable memory, merging the new space with a free last block", () => {
    const m = new GrowableMemory(8192, 1 << 20);
    const a = new TlsfAllocator(m);
    const p = a.alloc(3000);
    const q = a.alloc(20_000);
    expect(q).toBe(p + blockSizeFor(3000)); // the free end and the new space form one block
    expect(m.end).toBeGreaterThan(8192);
    a.check();
  });

  it("grows a WebAssembly memory (views replaced) and keeps every block's bytes", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    const a = new TlsfAllocator(new WasmMemory(mem, 0, 64));
    const ptrs: number[] = [];
    for (let i = 0; i < 200; i++) {
      const p = a.alloc(1000);
      a.memory.refresh();
      a.memory.u8.fill(i & 0xff, p, p + 1000);
      ptrs.push(p);
    }
    expect(mem.buffer.byteLength).toBeGreaterThan(65536);
    const u8 = new Uint8Array(mem.buffer);
    ptrs.forEach((p, i) => {
      expect(u8[p] === (i & 0xff) && u8[p + 999] === (i & 0xff)).toBe(true);
    });
    a.check();
    for (const p of ptrs) a.dealloc(p);
    a.check();
  });

  it("does not grow with grow: false, nor a fixed memory", () => {
    const a = new TlsfAllocator(new GrowableMemory(8192, 1 << 20), { grow: false });
    expect(a.alloc(10_000)).toBe(0);
    expect(tlsf(8192).alloc(10_000)).toBe(0);
  });
});

describe("TlsfAllocator: misuse changes nothing", () => {
  it("double frees after merging left, right, both or neither", () => {
    for (const order of [
      [0, 1, 2],
      [1, 0, 2],
      [0, 2, 1],
      [2, 1, 0],
    ]) {
      const a = tlsf();
      const ps = [a.alloc(50), a.alloc(60), a.alloc(70), a.alloc(8)];
      for (const i of order) {
        a.dealloc(ps[i]);
        for (const j of order.slice(0, order.indexOf(i) + 1)) {
          expectUnchanged(a, () => a.dealloc(ps[j]), DoubleFreeError);
        }
      }
    }
  });

  it("rejects interior, misaligned, out-of-range, header and non-number pointers", () => {
    const a = tlsf();
    const p = a.alloc(100);
    for (const bad of [p + 8, p + 4, p + 1, p - 4, 8, 16, FIRST, 1 << 20, 2 ** 32, 2 ** 33]) {
      expectUnchanged(a, () => a.dealloc(bad), InvalidPointerError);
      expectUnchanged(a, () => a.usableSize(bad), InvalidPointerError);
    }
    expectUnchanged(a, () => a.dealloc(-8), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(1.5), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(Number.NaN), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc("64" as unknown as number), ArgumentTypeError);
    expectUnchanged(a, () => a.dealloc(64n as unknown as number), ArgumentTypeError);
    a.dealloc(0); // free(NULL)
    a.check();
  });

  it("a forged size word inside a block does not make an interior pointer valid", () => {
    const a = tlsf();
    const p = a.alloc(200);
    u32(a)[(p + 60) >>> 2] = 64; // looks like a used block of 64 bytes at p + 60
    expectUnchanged(a, () => a.dealloc(p + 64), InvalidPointerError);
  });

  it("checks the size given to dealloc against the block", () => {
    const a = tlsf();
    const p = a.alloc(100);
    expectUnchanged(a, () => a.dealloc(p, 105), LayoutMismatchError);
    expectUnchanged(a, () => a.dealloc(p, -1), ArgumentRangeError);
    expectUnchanged(a, () => a.dealloc(p, Number.NaN), ArgumentRangeError);
    expectUnchanged(a, () => a.dealloc(p, 101), LayoutMismatchError);
    a.dealloc(p, 100); // the usable size
    a.check();
  });

  it("a pointer into space never handed out is invalid, not a double free, after a merge took it in", () => {
    const a = tlsf();
    const p = a.alloc(64); // the rest of the heap: a free block after p's, never handed out
    const rest = p + 72;
    a.dealloc(p); // p's block takes the rest in
    expectUnchanged(a, () => a.dealloc(rest), InvalidPointerError);
    expectUnchanged(a, () => a.dealloc(p), DoubleFreeError);
  });

  it("the error says why a pointer is not live: outside the heap, misaligned, not a block, freed", () => {
    const a = tlsf();
    const p = a.alloc(100);
    const q = a.alloc(100);
    a.dealloc(q);
    const outside = (x: number) =>
      `invalid pointer ${x}: not an 8-aligned address inside this TlsfAllocator's heap [${FIRST + 4}, ${1 << 16})`;
    for (const x of [FIRST - 4, 1 << 16, (1 << 16) + 8, p + 4]) {
      expect(() => a.dealloc(x)).toThrow(outside(x));
    }
    expect(() => a.usableSize(p + 8)).toThrow(
      `invalid pointer ${p + 8}: not the start of a live block of this TlsfAllocator`,
    );
    expect(() => a.dealloc(q)).toThrow(`block ${q} is not live: it was freed already`);
    a.check();
  });

  it("after reset every earlier pointer is a double free", () => {
    const a = tlsf();
    const p = a.alloc(100);
    const q = a.alloc(300);
    a.reset();
    expectUnchanged(a, () => a.dealloc(p), DoubleFreeError);
    expectUnchanged(a, () => a.dealloc(q), InvalidPointerError);
    expect(a.stats().liveBlocks).toBe(0);
  });
});

describe("TlsfAllocator: in-band words are checked before they are trusted", () => {
  for (const frontEnd of [false, true]) {
    const which = frontEnd ? "with the front end" : "TLSF alone";

    it(`a write 6 bytes past a 64-byte block is caught when the next block is freed (${which})`, () => {
      // Bytes written past A land in B's size word: every pattern, the exact 80 (0x50) that
      // makes B look one granule larger, and 72 | flags.
      for (const bytes of [
        [0x41, 0x41],
        [0, 0],
        [0xff, 0xff],
        [0x50, 0],
        [0x49, 0],
        [0x4a, 0],
      ]) {
        for (const withSize of [false, true]) {
          const a = tlsf(1 << 16, frontEnd);
          const A = a.alloc(64);
          const B = a.alloc(64);
          a.alloc(64); // B's right neighbour is used (so the front end would take B)
          a.memory.u8.fill(0x33, A, A + 64);
          a.memory.u8[A + 68] = bytes[0];
          a.memory.u8[A + 69] = bytes[1];
          expectPoisons(a, () => (withSize ? a.dealloc(B, 64) : a.dealloc(B)));
        }
      }
    });

    it(`a damaged size word is caught by usableSize and realloc (${which})`, () => {
      for (const call of ["usableSize", "realloc"]) {
        const a = tlsf(1 << 16, frontEnd);
        const A = a.alloc(64);
        const B = a.alloc(64);
        a.alloc(64);
        u32(a)[(B - 4) >>> 2] = 80;
        void A;
        expectPoisons(a, () => (call === "usableSize" ? a.usableSize(B) : a.realloc(B, 10)));
      }
    });

    it(`a damaged free block's size word, footer or links are caught when it is used (${which})`, () => {
      // F is a free 608-byte block (too large for the front end) between used L and R.
      const cases: ((w: Uint32Array, f: number) => void)[] = [
        (w, f) => {
          w[f >>> 2] += 8;
        }, // size word
        (w, f) => {
          w[(f + 608 - 4) >>> 2] = 12;
        }, // footer
        (w, f) => {
          w[(f + 8) >>> 2] = f + 64;
        }, // next link: not a block start
        (w, f) => {
          w[(f + 4) >>> 2] = 4;
        }, // previous link: outside the heap
      ];
      for (const damage of cases) {
        for (const use of ["alloc", "free left", "free right"]) {
          const a = tlsf(1 << 16, frontEnd);
          const L = a.alloc(100);
          const F = a.alloc(600);
          const R = a.alloc(100);
          a.alloc(8);
          a.dealloc(F);
          expect(u32(a)[(F - 4) >>> 2] & 1).toBe(1);
          damage(u32(a), F - 4);
          expectPoisons(a, () =>
            use === "alloc" ? a.alloc(600) : a.dealloc(use === "free left" ? L : R),
          );
        }
      }
    });

    it(`a PREV_FREE bit set on a used block is caught by the footer check (${which})`, () => {
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      a.memory.u8.fill(0x11, A, A + 68);
      u32(a)[(B - 4) >>> 2] |= 2;
      expectPoisons(a, () => a.dealloc(B));
    });
  }

  for (const frontEnd of [false, true]) {
    it(`a PREV_FREE bit set on the block after a freed one is caught (${frontEnd ? "with the front end" : "TLSF alone"})`, () => {
      // The write past A sets only B's PF bit: freeing A would make it true, but a used
      // block that says its predecessor is free while that one is used is damaged.
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      u32(a)[(B - 4) >>> 2] |= 2;
      if (frontEnd) {
        a.dealloc(A); // held as a used block: B's PF bit is read when A is given back
        expectPoisons(a, () => a.check());
      } else {
        expectPoisons(a, () => a.dealloc(A));
      }
    });
  }

  it("a used block's size word with its free bit set is caught (small and large blocks)", () => {
    for (const size of [64, 1000]) {
      const a = tlsf();
      a.alloc(8);
      const B = a.alloc(size);
      a.alloc(8);
      u32(a)[(B - 4) >>> 2] |= 1;
      expectPoisons(a, () => a.usableSize(B));
    }
  });

  it("a damaged size word is caught wherever the block lies in the start map's words", () => {
    // B starts at every granule offset modulo 32 (a start word's bits). It claims 256 bytes
    // more than its 600, or 0 bytes of its 256 (the start map shows neither end), or its own
    // 200 bytes and its follower's 280: the claimed end is a block start, but the follower's
    // start comes first, in the same start word or in an earlier one.
    for (const [size, follower, damage] of [
      [596, 600, (w: number) => w + 256],
      [252, 600, (_w: number) => 0],
      [196, 276, (w: number) => w + 280],
    ] as const) {
      for (let pad = 2; pad < 34; pad++) {
        const a = tlsf(1 << 17);
        a.alloc(pad * 8 - 4); // a block of \`pad\` granules before B
        const B = a.alloc(size);
        a.alloc(follower);
        a.alloc(64);
        expect(blockSize(a, B)).toBe(size + 4);
        const w = u32(a);
        w[(B - 4) >>> 2] = damage(w[(B - 4) >>> 2]);
        expectPoisons(a, () => a.usableSize(B));
      }
    }
  });

  it("a large block's damaged size word is caught by the start map (up to and past its window)", () => {
    // 1,000 and 20,000 bytes: checked exactly, and past WINDOW_G granules (8 KiB).
    for (const size of [1000, 20_000]) {
      for (const delta of [8, -8, 4096]) {
        const a = tlsf(1 << 17);
        a.alloc(64);
        const B = a.alloc(size);
        a.alloc(size);
        a.alloc(64);
        u32(a)[(B - 4) >>> 2] += delta;
        expectPoisons(a, () => a.usableSize(B));
      }
    }
    // B claims its own bytes and its follower's, past the window: the claimed end is a block
    // start, but the window holds the follower's.
    const a = tlsf(1 << 17);
    const B = a.alloc(1000);
    const C = a.alloc(20_000);
    a.alloc(64);
    u32(a)[(B - 4) >>> 2] += blockSize(a, C);
    expectPoisons(a, () => a.usableSize(B));
  });

  it("a free list's head whose size word and footer were both forged is caught when taken", () => {
    // F (608 bytes, alone in its list) claims 1,216 bytes, with a footer forged to match: its
    // links say it heads the list of 1,216, which it does not.
    for (const frontEnd of [false, true]) {
      const a = tlsf(1 << 16, frontEnd);
      a.alloc(100);
      const F = a.alloc(600);
      const R = a.alloc(1000);
      a.alloc(8);
      a.dealloc(F);
      const f = F - 4;
      const w = u32(a);
      w[f >>> 2] = 1216 | 1;
      w[(f + 1216 - 4) >>> 2] = f; // inside R: user bytes
      expect(f + 1216 - 4).toBeLessThan(R + 1000);
      expectPoisons(a, () => a.alloc(600));
    }
  });

  it("a held block whose size word was overwritten is caught when given back, and by check()", () => {
    for (const how of ["flush", "check"]) {
      const a = tlsf(1 << 16, true);
      a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      a.dealloc(B); // held: both neighbours used
      u32(a)[(B - 4) >>> 2] = 0x4141;
      // A request no free block fits makes the front end give its blocks back first.
      expectPoisons(a, () => (how === "flush" ? a.alloc(60_000) : a.check()));
    }
  });

  it("each check's error names the block and the word or link that gave it away", () => {
    /** `fn` poisons `a` with a HeapCorruptedError whose message contains `what`. */
    const poisonsWith = (a: Tlsf, fn: () => unknown, what: string) => {
      expect(fn).toThrow(`TlsfAllocator: heap corrupted: ${what}`);
      expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    };
    // Used A and B (72-byte blocks), then C.
    const pair = (frontEnd = false) => {
      const a = tlsf(1 << 16, frontEnd);
      const A = a.alloc(64);
      const B = a.alloc(64);
      a.alloc(8);
      expect(blockSize(a, A)).toBe(72);
      return { a, A, B, w: u32(a) };
    };
    {
      const { a, A, B, w } = pair();
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(A),
        `block ${B - 4} after used block ${A - 4} says its predecessor is free`,
      );
    }
    // A footer that is not a block start: user bytes, a start before the first block, a
    // start closer to B than a minimal block, and an address that no block starts at.
    for (const footer of [
      (_A: number) => 0x11111111,
      (A: number) => A - 12,
      (A: number) => A + 60,
      (A: number) => A, // inside the range, but not ≡ 4 mod 8
    ]) {
      const { a, A, B, w } = pair();
      a.memory.u8.fill(0x11, A, A + 68);
      w[(B - 8) >>> 2] = footer(A);
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(B),
        `block ${B - 4}: the footer before it holds ${footer(A)}, not a block start`,
      );
    }
    {
      const { a, A, B, w } = pair();
      w[(B - 8) >>> 2] = A - 4; // a footer naming A, which is used
      w[(B - 4) >>> 2] |= 2;
      poisonsWith(
        a,
        () => a.dealloc(B),
        `block ${B - 4}: its free predecessor ${A - 4} has size word 72`,
      );
    }
    {
      const { a, B, w } = pair();
      w[(B - 4) >>> 2] = 80;
      poisonsWith(
        a,
        () => a.usableSize(B),
        `used block ${B - 4}: size word 80 does not end where the next block starts`,
      );
    }
    {
      const { a, B, w } = pair(true);
      a.dealloc(B); // held by the front end
      w[(B - 4) >>> 2] = 0x4141;
      poisonsWith(
        a,
        () => a.alloc(60_000),
        `block ${B - 4} held by the front end for size 72 has size word ${0x4141}`,
      );
    }
    // F and G: free 608-byte blocks of one list (G heads it, F after it) between used L, R
    // and the tail, in a heap over the first 64 KiB of a 128 KiB buffer (the rest is someone
    // else's bytes). Each damage to F is found by every call that reads it: freeing L (F
    // unlinked to merge), realloc(L) growing into F or shrinking beside it (F checked, then
    // absorbed), freeing R (F checked as R's free predecessor, through the footer before R
    // and F's size word first). The last two damages forge a footer that points back: a size
    // word of 0 whose "footer" is L's last word, and a size reaching 4 bytes past the heap,
    // where the word after the heap holds F's address.
    const END = 1 << 16;
    const damages: ((w: Uint32Array, f: number, r: number) => [string, string])[] = [
      (w, f, r) => {
        w[f >>> 2] += 8;
        return [
          `free block ${f}: size word ${608 + 8 + 1} or its footer is damaged`,
          `block ${r}: its free predecessor ${f} has size word ${608 + 8 + 1}`,
        ];
      },
      (w, f, r) => {
        w[(f + 608 - 4) >>> 2] = 12;
        return [
          `free block ${f}: size word ${608 + 1} or its footer is damaged`,
          `block ${r}: the footer before it holds 12, not a block start`,
        ];
      },
      (w, f) => {
        w[(f + 8) >>> 2] = f + 64;
        const what = `free block ${f}: next link ${f + 64} does not link back`;
        return [what, what];
      },
      (w, f) => {
        w[(f + 4) >>> 2] = 4;
        const what = `free block ${f}: previous link 4 does not link back`;
        return [what, what];
      },
      (w, f) => {
        w[(f + 4) >>> 2] = 0; // says it heads its list, which G does
        const what = `free block ${f}: previous link 0 does not link back`;
        return [what, what];
      },
      (w, f, r) => {
        w[f >>> 2] = 0 | 1;
        w[(f - 4) >>> 2] = f;
        return [
          `free block ${f}: size word 1 or its footer is damaged`,
          `block ${r}: its free predecessor ${f} has size word 1`,
        ];
      },
      (w, f, r) => {
        const word = (END + 4 - f) | 1;
        w[f >>> 2] = word;
        w[END >>> 2] = f;
        return [
          `free block ${f}: size word ${word} or its footer is damaged`,
          `block ${r}: its free predecessor ${f} has size word ${word}`,
        ];
      },
    ];
    for (const damage of damages) {
      for (const use of ["free left", "realloc left", "shrink left", "free right"]) {
        const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(2 * END), 0, END));
        const L = a.alloc(100);
        const F = a.alloc(600);
        const R = a.alloc(100);
        const G = a.alloc(600);
        a.alloc(8);
        a.dealloc(F);
        a.dealloc(G);
        const [left, right] = damage(u32(a), F - 4, R - 4);
        if (use === "free left") poisonsWith(a, () => a.dealloc(L), left);
        else if (use === "realloc left") poisonsWith(a, () => a.realloc(L, 300), left);
        else if (use === "shrink left") poisonsWith(a, () => a.realloc(L, 50), left);
        else poisonsWith(a, () => a.dealloc(R), right);
      }
    }
    // The head of a list whose size word says used, or too small for the list.
    for (const word of [608, 560 | 1]) {
      const a = tlsf();
      a.alloc(100);
      const F = a.alloc(600);
      a.alloc(100);
      a.dealloc(F);
      u32(a)[(F - 4) >>> 2] = word;
      poisonsWith(
        a,
        () => a.alloc(600),
        `block ${F - 4} on a free list has size word ${word}, not a free block that fits`,
      );
    }
  });
});

describe("TlsfAllocator: the front end", () => {
  it("serves a freed block's size from its stack, last freed first, without merging", () => {
    const a = tlsf(1 << 16, true);
    const ps = [a.alloc(40), a.alloc(40), a.alloc(40), a.alloc(40)];
    a.alloc(8);
    a.dealloc(ps[1]);
    a.dealloc(ps[3]);
    expect(a.alloc(40)).toBe(ps[3]);
    expect(a.alloc(40)).toBe(ps[1]);
    // Other sizes of the same 8-byte class share the stack: 37 … 44 bytes are 48-byte blocks.
    a.dealloc(ps[2]);
    expect(a.alloc(44)).toBe(ps[2]);
    a.check();
  });

  it("holds only blocks whose neighbours are both used; others merge as in TLSF alone", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    const q = a.alloc(40);
    const r = a.alloc(40); // its right neighbour is the free end of the heap
    a.dealloc(r); // merged with the end
    a.dealloc(p); // held
    expect(a.stats().liveBlocks).toBe(1);
    a.dealloc(q); // its left neighbour is held (used), its right one free: merged
    a.check();
    expect(a.alloc(40)).toBe(p); // from the stack
    expect(a.alloc(100)).toBe(q); // q and the end formed one free block
  });

  it("a second free of a held block is a double free, and changes nothing", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    a.alloc(8);
    a.dealloc(p);
    expectUnchanged(a, () => a.dealloc(p), DoubleFreeError);
    expectUnchanged(a, () => a.usableSize(p), DoubleFreeError);
    expectUnchanged(a, () => a.realloc(p, 2 ** 40), DoubleFreeError);
    expectUnchanged(a, () => a.dealloc(p + 8), InvalidPointerError);
  });

  it("counts held blocks as free, not in use, and an empty heap as a fresh one", () => {
    const a = tlsf(1 << 16, true);
    const fresh = a.stats();
    const ps: number[] = [];
    for (let i = 0; i < 50; i++) ps.push(a.alloc(24 + (i % 5) * 8));
    const full = a.stats();
    for (let i = 0; i < 50; i += 2) a.dealloc(ps[i]);
    const half = a.stats();
    expect(half.liveBlocks).toBe(25);
    expect(half.inUse).toBe(
      ps.filter((_, i) => i % 2 === 1).reduce((s, p) => s + a.usableSize(p), 0),
    );
    expect(half.free).toBeGreaterThan(full.free);
    expect(half.inUse + half.free + half.overhead).toBe(half.capacity);
    expect(half.peakInUse).toBe(full.inUse);
    for (let i = 1; i < 50; i += 2) a.dealloc(ps[i]);
    const empty = a.stats();
    expect(empty.liveBlocks).toBe(0);
    expect(empty.free).toBe(fresh.free);
    expect(empty.largestFree).toBe(fresh.largestFree);
    // And the heap delivers it: the whole space in one block (the stacks are given back).
    const all = a.alloc(fresh.largestFree, 1);
    expect(all).toBe(FIRST + 4);
    a.check();
  });

  it("gives its blocks back before the heap grows, and before it would fail", () => {
    const m = new GrowableMemory(1 << 16, 1 << 22);
    const a = new TlsfAllocator(m, { frontEnd: true });
    const ps: number[] = [];
    for (let i = 0; i < 300; i++) ps.push(a.alloc(100));
    a.alloc(8);
    const end = m.end;
    for (const p of ps) a.dealloc(p); // held (up to capacity) or merged
    // 31,000 bytes fit neither the free end (30,912) nor any held block: only the blocks
    // given back and merged into one (31,200).
    const q = a.alloc(31_000);
    expect(q).toBe(ps[0]);
    expect(m.end).toBe(end);
    a.check();
  });

  it("holds at most its capacity per size and its budget in all", () => {
    const a = tlsf(1 << 22, true);
    const ps: number[] = [];
    for (let i = 0; i < 2 * FRONT_CAPACITY + 2; i++) {
      ps.push(a.alloc(40));
      a.alloc(8); // separators: every 48-byte block has used neighbours
    }
    for (const p of ps) a.dealloc(p);
    const w = u32(a);
    expect(w[SW + W.CACHED]).toBe(FRONT_CAPACITY * 48);
    a.check();
    const big: number[] = [];
    for (let i = 0; i < 600; i++) {
      big.push(a.alloc(FRONT_LIMIT - 12 - (i % 16) * 8));
      a.alloc(8);
    }
    for (const p of big) a.dealloc(p);
    expect(u32(a)[SW + W.CACHED]).toBeLessThanOrEqual(
      Math.max(FRONT_MIN_BUDGET, u32(a)[SW + W.PEAK] >>> 4),
    );
    a.check();
  });

  it("reset forgets every held block; a Heap has the front end, a TlsfAllocator not by default", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    a.alloc(8);
    a.dealloc(p);
    a.reset();
    expect(u32(a)[SW + W.CACHED]).toBe(0);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.check();
    const h = new Heap();
    const x = h.malloc(40);
    h.malloc(8);
    h.free(x);
    expect(h.malloc(40)).toBe(x);
    const t = tlsf();
    const y = t.alloc(40);
    t.alloc(8);
    t.dealloc(y);
    expect((u32(t)[(y - 4) >>> 2] & 1) === 1).toBe(true); // on a free list
  });

  it("a heap with a front end cannot be attached to", () => {
    const m = new FixedMemory(new ArrayBuffer(1 << 16));
    const a = new TlsfAllocator(m, { frontEnd: true });
    a.alloc(40);
    expect(() => TlsfAllocator.attach(m, a.liveMapBuffer)).toThrow(HeapIncompatibleError);
    const n = new FixedMemory(new ArrayBuffer(1 << 16));
    const b = new TlsfAllocator(n);
    const p = b.alloc(40);
    const c = TlsfAllocator.attach(n, b.liveMapBuffer);
    expect(c.usableSize(p)).toBe(44);
  });
});

describe("TlsfAllocator: a memory another handle grew", () => {
  /** Two handles on one growable SharedArrayBuffer; `b`'s memory shows growth `lag` calls late. */
  function lagging(lag: number) {
    const m1 = new SharedMemory(1 << 16, 1 << 22);
    const a = new TlsfAllocator(m1);
    const m2 = new SharedMemory(m1.buffer as SharedArrayBuffer);
    const b = TlsfAllocator.attach(m2, a.liveMapBuffer);
    const refresh = m2.refresh.bind(m2);
    let late = lag;
    (m2 as { refresh: () => boolean }).refresh = () => (late-- > 0 ? false : refresh());
    return { a, b, m2 };
  }

  it("waits until this handle's memory shows the length the heap's end needs", () => {
    // A shared WebAssembly.Memory shows other agents its new length only when they next check
    // for interrupts; the lag stands in for that.
    const { a, b, m2 } = lagging(1000);
    const p = a.alloc(1 << 20);
    b.refreshViews();
    expect(m2.end).toBeGreaterThanOrEqual(p + (1 << 20));
    expect(b.usableSize(p)).toBe(a.usableSize(p));
    b.check();
  });

  it("a handle whose view ends before the heap catches up before it reads a block", () => {
    // Another handle grew the heap; this one was not told (no refreshViews). Its calls must
    // neither read past its view (undefined as a block) nor poison the heap.
    for (const call of ["alloc", "allocAligned", "dealloc", "usableSize", "check"]) {
      const { a, b } = lagging(10);
      const keep = a.alloc(100);
      const big = a.alloc(1 << 20); // grows the memory
      a.dealloc(big);
      if (call === "alloc") expect(b.alloc(1 << 19)).toBeGreaterThan(big - 8);
      else if (call === "allocAligned") expect(b.alloc(1 << 19, 64) % 64).toBe(0);
      else if (call === "dealloc") b.dealloc(keep);
      else if (call === "usableSize") expect(b.usableSize(keep)).toBe(a.usableSize(keep));
      else b.check();
      expect(b.poisoned).toBe(false);
      a.check();
      b.check();
    }
  });

  it("gives up with StaleViewError (nothing changed) when the memory never shows it", () => {
    const { a, b } = lagging(Number.POSITIVE_INFINITY);
    a.alloc(1 << 20);
    const before = Buffer.from(a.metadataBytes()).toString("base64");
    expect(() => b.refreshViews()).toThrow(StaleViewError);
    expect(Buffer.from(a.metadataBytes()).toString("base64")).toBe(before);
    a.check();
  });
});

describe("TlsfAllocator: state words", () => {
  it("are uint32: heap offsets and counters past 2^31 read back exact", () => {
    const a = tlsf();
    const w = u32(a);
    expect(w[SW + W.END]).toBe(1 << 16);
    const p = a.alloc(100);
    expect(w[SW + W.USED_COUNT]).toBe(1);
    expect(w[SW + W.USED_BYTES]).toBe(104);
    expect(w[SW + W.PEAK] - w[SW + W.SLACK]).toBe(100);
    a.dealloc(p);
    expect(w[SW + W.SLACK]).toBe(100);
    expect(w[SW + W.PEAK]).toBe(100);
  });
});

describe("TlsfAllocator: check()", () => {
  function broken(damage: (a: Tlsf, w: Uint32Array, ps: number[]) => void, frontEnd = false) {
    const a = tlsf(1 << 16, frontEnd);
    const ps = [a.alloc(40), a.alloc(100), a.alloc(40), a.alloc(300), a.alloc(40)];
    a.dealloc(ps[1]);
    a.dealloc(ps[3]);
    a.check();
    damage(a, u32(a), ps);
    expect(() => a.check()).toThrow(HeapCorruptedError);
    expect(a.poisoned).toBe(true);
  }

  it("finds a broken size word, footer, flag, link or bitmap", () => {
    broken((_a, w, ps) => {
      w[(ps[0] - 4) >>> 2] = 56;
    });
    broken((_a, w, ps) => {
      w[(ps[1] - 4 + 104 - 4) >>> 2] = 0;
    });
    broken((_a, w, ps) => {
      w[(ps[2] - 4) >>> 2] &= ~2;
    });
    broken((_a, w, ps) => {
      w[(ps[1] + 4) >>> 2] = ps[3] - 4;
    });
    broken((a, w) => {
      w[(a as unknown as { flMap: number }).flMap] ^= 1 << 20;
    });
  });

  it("finds wrong state words", () => {
    for (const word of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.CACHED]) {
      broken((_a, w) => {
        w[SW + word] += 8;
      });
    }
    broken((_a, w) => {
      w[SW + W.END] -= 8;
    });
  });

  it("finds a broken live or start map", () => {
    broken((a, _w, ps) => {
      const live = (a as unknown as { live: Int32Array }).live;
      const g = (ps[0] - (a as unknown as { dataStart: number }).dataStart) >>> 3;
      live[(g >>> 5) << 1] ^= 1 << (g & 31);
    });
    broken((a, _w, ps) => {
      const live = (a as unknown as { live: Int32Array }).live;
      const g = (ps[0] + 16 - (a as unknown as { dataStart: number }).dataStart) >>> 3;
      live[((g >>> 5) << 1) + 1] ^= 1 << (g & 31);
    });
  });

  it("finds a front end holding a block twice, a live block, or a wrong count", () => {
    const held = (damage: (fc: Uint32Array, p: number) => void) =>
      broken((a, _w, ps) => {
        const p = a.alloc(40); // ps[0]'s class: 48-byte blocks
        a.alloc(8);
        a.dealloc(p);
        damage((a as unknown as { fc: Uint32Array }).fc, ps[0]);
      }, true);
    const at = 6 << 8; // class 6: 48-byte blocks
    held((fc) => {
      fc[at] = 2;
      fc[at + 3] = fc[at + 2];
    });
    held((fc, live) => {
      fc[at + 2] = live - 4;
    });
    held((fc) => {
      fc[at] = 0;
    });
  });
});

describe("TlsfAllocator: a heap near 4 GiB", () => {
  it("keeps block sizes of 2 GiB and more exact", () => {
    let mem: WebAssembly.Memory;
    try {
      mem = new WebAssembly.Memory({ initial: 40_000, maximum: 65_536 });
    } catch {
      return; // the engine cannot reserve 2.5 GiB here
    }
    const a = new TlsfAllocator(new WasmMemory(mem, 0, 65_536));
    const p = a.alloc(2 ** 31 + 4096);
    expect(p).not.toBe(0);
    expect(a.usableSize(p)).toBe(blockSizeFor(2 ** 31 + 4096) - 4);
    const q = a.alloc(100);
    a.dealloc(p);
    const r = a.alloc(2 ** 31);
    expect(r).toBe(p);
    a.dealloc(q);
    a.dealloc(r);
    a.check();
  });
});

describe("TlsfAllocator.attach: what a second handle checks before using a heap", () => {
  /** A heap with a few blocks; `attachTo` attaches to a copy of its bytes, damaged by `damage`. */
  function heapAndCopies(capacity = 1 << 16) {
    const buf = new ArrayBuffer(capacity);
    const a = new TlsfAllocator(new FixedMemory(buf));
    a.alloc(100);
    a.dealloc(a.alloc(300));
    a.alloc(40);
    const attachTo = (
      damage: (u32: Uint32Array, f64: Float64Array) => void,
      ...map: unknown[] // the live map to give (default: the heap's)
    ) => {
      const liveMap = map.length > 0 ? map[0] : a.liveMapBuffer;
      const copy = buf.slice(0);
      damage(new Uint32Array(copy), new Float64Array(copy));
      const bytes = new Uint8Array(copy).slice();
      let e: unknown;
      let h: TlsfAllocator | undefined;
      try {
        h = TlsfAllocator.attach(new FixedMemory(copy), liveMap as ArrayBuffer);
      } catch (x) {
        e = x;
      }
      // Attaching only reads.
      expect(Buffer.compare(new Uint8Array(copy), bytes)).toBe(0);
      return { e, h };
    };
    return { a, attachTo };
  }

  function refused(r: { e: unknown }, what: RegExp) {
    expect(r.e).toBeInstanceOf(HeapIncompatibleError);
    expect((r.e as Error).message).toMatch(/^TlsfAllocator: cannot attach: /);
    expect((r.e as Error).message).toMatch(what);
  }

  it("an intact heap attaches, and the second handle sees its blocks", () => {
    const { a, attachTo } = heapAndCopies();
    const { e, h } = attachTo(() => {});
    expect(e).toBeUndefined();
    expect(h?.stats()).toEqual(a.stats());
    h?.check();
  });

  it("refuses a configuration, metadata size or data start other than its own", () => {
    const { attachTo } = heapAndCopies();
    refused(
      attachTo((_, f) => {
        f[6] = 4;
      }),
      /config word/,
    ); // H_CONFIG: SL_LOG2 is 5
    refused(
      attachTo((_, f) => {
        f[4] += 8;
      }),
      /metadata size/,
    ); // H_META_BYTES
    refused(
      attachTo((_, f) => {
        f[5] += 8;
      }),
      /data start/,
    ); // H_DATA_START
  });

  it("refuses a heap end that is unaligned, before room for a block, or past the memory", () => {
    const { attachTo } = heapAndCopies();
    const end = 1 << 16;
    refused(
      attachTo((u) => {
        u[SW + W.END] = end - 4;
      }),
      /heap end 65532 does not fit memory \[0, 65536\)/,
    );
    refused(
      attachTo((u) => {
        u[SW + W.END] = end + 8;
      }),
      /heap end 65544/,
    );
    const minEnd = FIRST + MIN_BLOCK + BLOCK_OVERHEAD;
    refused(
      attachTo((u) => {
        u[SW + W.END] = minEnd - 8;
      }),
      /heap end/,
    );
    // The smallest heap end that holds a block and the sentinel is a heap end.
    const counters = (u: Uint32Array) => {
      for (const w of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.PEAK, W.CLEAN_FROM]) u[SW + w] = 0;
    };
    expect(
      attachTo((u) => {
        counters(u);
        u[SW + W.END] = minEnd;
      }).e,
    ).toBeUndefined();
  });

  it("refuses counters past the heap's end", () => {
    const { attachTo } = heapAndCopies();
    for (const w of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.PEAK, W.CLEAN_FROM]) {
      refused(
        attachTo((u) => {
          u[SW + w] = (1 << 16) + 1;
        }),
        new RegExp(`state word ${w} holds 65537`),
      );
      // Up to the end is plausible.
      expect(
        attachTo((u) => {
          u[SW + w] = 1 << 16;
        }).e,
      ).toBeUndefined();
    }
  });

  it("refuses a heap with a front end's bytes or budget", () => {
    const { attachTo } = heapAndCopies();
    refused(
      attachTo((u) => {
        u[SW + W.CACHED] = 16;
      }),
      /has a front end/,
    );
    refused(
      attachTo((u) => {
        u[SW + W.BUDGET] = 16;
      }),
      /has a front end/,
    );
  });

  it("needs a live map: a buffer, shared for a shared heap, large enough for the heap", () => {
    const { a, attachTo } = heapAndCopies();
    const none = () => {};
    refused(attachTo(none, undefined), /no live map given/);
    refused(
      attachTo(none, new Uint8Array(a.liveMapBuffer.byteLength)),
      /not an ArrayBuffer or SharedArrayBuffer/,
    );
    const need = a.liveMapBuffer.byteLength;
    refused(
      attachTo(none, new ArrayBuffer(need - 8)),
      new RegExp(`the live map has ${need - 8} bytes, the heap needs ${need}`),
    );
    // A shared live map serves an unshared heap; a shared heap needs a shared map.
    const sab = new SharedArrayBuffer(need);
    new Uint8Array(sab).set(new Uint8Array(a.liveMapBuffer));
    expect(attachTo(none, sab).e).toBeUndefined();
    const m1 = new SharedMemory(1 << 16, 1 << 20);
    const s = new TlsfAllocator(m1);
    const m2 = new SharedMemory(m1.buffer as SharedArrayBuffer);
    expect(() => TlsfAllocator.attach(m2, new ArrayBuffer(s.liveMapBuffer.byteLength))).toThrow(
      /a shared heap's live map must be a SharedArrayBuffer/,
    );
    expect(TlsfAllocator.attach(m2, s.liveMapBuffer).stats()).toEqual(s.stats());
  });
});
