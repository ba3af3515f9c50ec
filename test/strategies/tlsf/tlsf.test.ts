/**
 * TlsfAllocator's own tests: blocks and the good-fit search, merging, realloc in place and
 * moved, alignment, allocZeroed, the memory it needs, growth, and misuse (rejected calls
 * change nothing). The checks of in-band words and check() are in corruption.test.ts; the
 * front end, views, state words, a heap near 4 GiB and attach in front-end.test.ts.
 */

import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../../src/core/errors.js";
import {
  FixedMemory,
  GrowableMemory,
  OffsetMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { TLSF_METADATA_BYTES } from "../../../src/strategies/tlsf/layout.js";
import { BLOCK_OVERHEAD, blockSizeFor, MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { metadataState } from "../../helpers/rejected.js";
import { blockSize, expectUnchanged, FIRST, tlsf, u32 } from "./helpers.js";

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
