/**
 * TlsfAllocator's public handle (src/strategies/tlsf/allocator.ts): what its calls promise
 * at their edges, written from the mutation run over that file (README, "Mutation
 * testing"): realloc's in-place paths and what they leave for allocZeroed, usableSize,
 * reset, stats with and without the front end, metadataBytes.
 */

import { describe, expect, it } from "vitest";
import {
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
} from "../../../src/core/errors.js";
import { FixedMemory, GrowableMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { blockSizeFor } from "../../../src/strategies/tlsf/mapping.js";
import { metadataState } from "../../helpers/rejected.js";
import { thrown } from "../../helpers/thrown.js";

function tlsf(capacity = 1 << 16, frontEnd = false): TlsfAllocator {
  return new TlsfAllocator(new FixedMemory(new ArrayBuffer(capacity)), { frontEnd });
}

/** A second handle on a copy of `a`'s bytes and live map: what it does leaves `a` alone. */
function copyOf(a: TlsfAllocator): TlsfAllocator {
  const m = a.memory;
  return TlsfAllocator.attach(new FixedMemory(m.buffer.slice(0)), a.liveMapBuffer.slice(0));
}

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * What stats() promises, from what the heap does rather than from its words: inUse and
 * liveBlocks are the live blocks' usable sizes and count, `free` is what can still be
 * allocated (taking the largest block each time, on a copy), `largestFree` is served and one
 * byte more is not (the memory is fixed), the three parts sum to the capacity.
 */
function expectStatsHold(a: TlsfAllocator, live: number[], peak: number): void {
  const s = a.stats();
  expect(s.capacity).toBe(a.memory.end - a.memory.start);
  expect(s.liveBlocks).toBe(live.length);
  expect(s.inUse).toBe(live.reduce((t, p) => t + a.usableSize(p), 0));
  expect(s.peakInUse).toBe(peak);
  expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
  const c = copyOf(a);
  expect(c.alloc(s.largestFree + 1, 1)).toBe(0);
  let taken = 0;
  for (let n = c.stats().largestFree, i = 0; n > 0 && i < 10_000; n = c.stats().largestFree, i++) {
    const p = c.alloc(n, 1);
    expect(p).not.toBe(0);
    if (taken === 0) expect(c.usableSize(p)).toBe(s.largestFree);
    taken += c.usableSize(p);
  }
  expect(taken).toBe(s.free);
  // Nothing left: no free block at all.
  expect(c.stats()).toMatchObject({ free: 0, largestFree: 0 });
  expect(c.alloc(0)).toBe(0);
  c.check();
}

/** Every byte of `[p, p + n)` is zero. */
function zeroes(a: TlsfAllocator, p: number, n: number): boolean {
  return a.memory.u8.subarray(p, p + n).every((x) => x === 0);
}

describe("TlsfAllocator: stats", () => {
  it("inUse, free, liveBlocks, peakInUse and largestFree follow random allocations, frees and reallocs", () => {
    for (const seed of [1, 2, 3]) {
      const next = rng(seed * 7919);
      const a = tlsf(1 << 15);
      const live: number[] = [];
      let peak = 0;
      const inUse = () => live.reduce((t, p) => t + a.usableSize(p), 0);
      expectStatsHold(a, live, 0);
      for (let step = 0; step < 60; step++) {
        const r = next();
        if (r < 0.5 || live.length === 0) {
          const p = a.alloc(Math.floor(next() * (next() < 0.2 ? 3000 : 200)));
          if (p !== 0) live.push(p);
        } else if (r < 0.85) {
          a.dealloc(live.splice(Math.floor(next() * live.length), 1)[0]);
        } else {
          const i = Math.floor(next() * live.length);
          const before = inUse();
          const q = a.realloc(live[i], 1 + Math.floor(next() * 600));
          if (q !== 0 && q !== live[i]) peak = Math.max(peak, before + a.usableSize(q));
          if (q !== 0) live[i] = q;
        }
        peak = Math.max(peak, inUse());
        expectStatsHold(a, live, peak);
      }
      a.check();
    }
  });

  it("largestFree is the largest block among the first eight of the top list, as alloc scans it", () => {
    // Ten free blocks of 4096 … 4168 bytes, all in one list (4096 … 4223), separated by used
    // blocks, and nothing larger free. alloc(n) finds no list above theirs and scans this
    // list's first eight blocks for one large enough, so largestFree is the largest of those.
    const a = tlsf(1 << 17);
    const ps: number[] = [];
    for (let k = 0; k < 10; k++) {
      ps.push(a.alloc(4092 + 8 * k));
      a.alloc(8);
    }
    const live = [a.alloc(a.stats().largestFree, 1)];
    expect(live[0]).not.toBe(0);
    // Freed last is scanned first: the 4168-byte block is ninth, the 4160-byte one eighth.
    for (const k of [0, 9, 8, 1, 2, 3, 4, 5, 6, 7]) a.dealloc(ps[k]);
    const st = a.stats();
    expect(st.largestFree).toBe(4160 - 4);
    expect(a.alloc(4168 - 4)).toBe(0);
    for (let k = 0; k < 10; k++) live.push(ps[k] + 4096 + 8 * k);
    expectStatsHold(a, live, st.peakInUse);
  });
});

describe("TlsfAllocator: stats of an empty heap with someone else's pages inside it", () => {
  it("report what the heap serves without growing: a free block on each side of the pages", () => {
    // The larger free block after someone else's page, then before it (the growth past the
    // page capped by the memory's maximum).
    const cases = [
      { initial: 8192, max: 1 << 20, before: 0, after: 20_000 },
      { initial: 65536, max: 65536 + 4096 + 12288, before: 60_000, after: 10_000 },
    ];
    for (const [frontEnd, c] of [true, false].flatMap((f) => cases.map((c) => [f, c] as const))) {
      const m = new GrowableMemory(c.initial, c.max);
      const a = new TlsfAllocator(m, { frontEnd });
      const ps: number[] = c.before > 0 ? [a.alloc(c.before)] : [];
      const small: number[] = [];
      for (let i = 0; i < 5; i++) {
        small.push(a.alloc(40));
        ps.push(a.alloc(8));
      }
      (m.buffer as ArrayBuffer).resize(c.initial + 4096); // someone else's page
      ps.push(a.alloc(c.after)); // the heap grows past it
      expect(m.foreign).toEqual([[c.initial, c.initial + 4096]]);
      // With the front end the small blocks, freed between used ones, are held.
      for (const p of [...small, ...ps]) a.dealloc(p);
      const empty = a.stats();
      expect(empty.liveBlocks).toBe(0);
      const end = m.end;
      const p = a.alloc(empty.largestFree, 1);
      expect(p).not.toBe(0);
      expect(m.end).toBe(end); // served without growing
      a.dealloc(p);
      a.check();
      // A heap laid out afresh around the same pages reports the same.
      a.reset();
      expect(a.stats()).toEqual({ ...empty, peakInUse: 0 });
    }
  });
});

describe("TlsfAllocator: stats on a damaged heap", () => {
  it("a free list whose next link leads back to its own block is corruption, not a hang", () => {
    for (const at of ["head", "second"]) {
      const a = tlsf();
      const p = a.alloc(100);
      a.alloc(8);
      const q = a.alloc(100);
      a.alloc(8);
      a.dealloc(q);
      a.dealloc(p); // the list of 104-byte blocks: p, then q
      const b = (at === "head" ? p : q) - 4;
      a.memory.u32[(b >>> 2) + 2] = b; // LINK_NEXT: itself
      const e = thrown(() => a.stats());
      expect(e).toBeInstanceOf(HeapCorruptedError);
      expect((e as Error).message).toMatch(
        /the free lists hold more blocks than the heap can \(a cycle\?\)/,
      );
      expect(a.poisoned).toBe(true);
      expect(() => a.stats()).toThrow(HeapPoisonedError);
    }
  });
});

describe("TlsfAllocator: stats with the front end", () => {
  it("blocks the front end holds count as free blocks of their size: the stats of TLSF alone", () => {
    const held = tlsf(1 << 16, true);
    const alone = tlsf(1 << 16, false);
    const sizes = [8, 40, 40, 100, 200, 400, 496, 12, 300];
    const blocks: number[][] = [[], []];
    const separators: number[][] = [[], []];
    [held, alone].forEach((a, i) => {
      for (const n of sizes) {
        blocks[i].push(a.alloc(n));
        separators[i].push(a.alloc(8));
      }
      a.alloc(a.stats().largestFree - 300, 1); // the free end of the heap: under 300 bytes
    });
    expect(blocks[0]).toEqual(blocks[1]);
    expect(held.stats()).toEqual(alone.stats());
    // Every freed block keeps used neighbours: held by the front end, listed by TLSF alone.
    for (const k of [1, 5, 2, 8, 0, 6]) {
      held.dealloc(blocks[0][k]);
      alone.dealloc(blocks[1][k]);
      expect(held.stats()).toEqual(alone.stats());
    }
    // The largest is a held block (496 bytes asked: a 504-byte block), not the free end.
    expect(held.stats().largestFree).toBe(500);
    held.dealloc(blocks[0][3]);
    alone.dealloc(blocks[1][3]);
    expect(held.stats()).toEqual(alone.stats());
    held.check();
    alone.check();
  });
});

describe("TlsfAllocator: realloc with an alignment", () => {
  it("a block off the alignment asked moves, even to shrink, copying only what fits", () => {
    const a = tlsf();
    a.alloc(8);
    const p = a.alloc(200); // 16-aligned, not 64-aligned
    expect(p % 64).not.toBe(0);
    const after = a.alloc(100);
    for (let i = 0; i < 200; i++) a.memory.u8[p + i] = i;
    a.memory.u8.fill(0xab, after, after + 100);
    const q = a.realloc(p, 40, 64);
    expect(q % 64).toBe(0);
    expect(q).not.toBe(p);
    expect(a.usableSize(q)).toBeLessThan(100);
    expect([...a.memory.u8.subarray(q, q + 40)]).toEqual([...Array(40).keys()]);
    expect(a.memory.u8.subarray(after, after + 100).every((x) => x === 0xab)).toBe(true);
    a.check();
  });

  it("resizing with alignment 16 keeps block sizes multiples of 16, so the rest serves 16-aligned blocks", () => {
    const a = tlsf();
    const p = a.alloc(100, 16); // a 112-byte block
    a.alloc(8, 16); // keeps the rest from merging with the end of the heap
    expect(a.realloc(p, 30, 16)).toBe(p); // 34 bytes: a 48-byte block, not 40
    expect(a.usableSize(p)).toBe(44);
    expect(a.alloc(60, 16)).toBe(p + 48); // the 64-byte rest, 16-aligned, fits it exactly
    a.check();
  });

  it("a block on the alignment asked that already fits stays where it is", () => {
    const a = tlsf();
    a.alloc(8);
    const p = a.alloc(100, 64); // a 104-byte block
    // A used right neighbour (the gap before p takes small blocks first): moving is the
    // only way to grow.
    let q = a.alloc(8);
    while (q < p) q = a.alloc(8);
    expect(q).toBe(p + 104);
    expect(a.realloc(p, 100, 64)).toBe(p);
    expect(a.realloc(p, 60, 64)).toBe(p);
    expect(a.realloc(p, 60, 32)).toBe(p);
    a.check();
  });
});

describe("TlsfAllocator: realloc in place and allocZeroed", () => {
  it("growing in place into the free end of the heap leaves a heap another handle attaches to", () => {
    const a = tlsf();
    const p = a.alloc(100);
    expect(a.realloc(p, 3000)).toBe(p); // the rest of the end goes back
    const b = copyOf(a);
    expect(b.stats()).toEqual(a.stats());
    b.check();
  });

  it("growing in place below bytes handed out earlier leaves them to be zeroed by allocZeroed", () => {
    const a = new TlsfAllocator(1 << 16);
    const p = a.alloc(8);
    const q = a.alloc(8);
    const r = a.alloc(2000);
    a.memory.u8.fill(0xff, r, r + 2000);
    a.dealloc(r);
    a.dealloc(q); // one free block from q to the end of the heap
    expect(a.realloc(p, 100)).toBe(p); // grows into it, far below where r ended
    const z = a.allocZeroed(1500);
    expect(z).toBe(p + blockSizeFor(100));
    expect(zeroes(a, z, 1500)).toBe(true);
    a.check();
  });

  it("bytes a block grew into in place and then gave back are zeroed by allocZeroed", () => {
    // The owned memory starts zeroed, so allocZeroed skips the fill where no block was ever
    // handed out: growing in place hands out fresh bytes, which it must then count as used.
    const a = new TlsfAllocator(1 << 16);
    a.alloc(8);
    const b = a.alloc(8);
    expect(a.realloc(b, 1000)).toBe(b); // into the free end of the heap
    a.memory.u8.fill(0xff, b, b + 1000);
    expect(a.realloc(b, 8)).toBe(b); // the tail goes back, merged with the end
    const z = a.allocZeroed(900);
    expect(z).toBe(b + blockSizeFor(8)); // where the tail was
    expect(zeroes(a, z, 900)).toBe(true);
    a.check();
  });
});

describe("TlsfAllocator: alloc and dealloc, fast and general paths", () => {
  it("sizes 0 … 4 at an alignment below 8 get a minimal block, as at 8", () => {
    const a = tlsf();
    for (const [size, align] of [
      [0, 1],
      [3, 4],
      [4, 2],
    ]) {
      const p = a.alloc(size, align);
      expect(a.usableSize(p)).toBe(12);
    }
    a.check();
  });

  it("a held block is served to any alignment up to 16 its pointer meets, and to no other", () => {
    const a = tlsf(1 << 16, true);
    a.alloc(7996); // an 8,000-byte block: a peak high enough that taking the free end flushes nothing
    a.alloc(8);
    const p = a.alloc(40); // 16-aligned pointer
    a.alloc(16); // a 24-byte block
    const q = a.alloc(40); // 8 past a multiple of 16
    a.alloc(8);
    expect(p % 16).toBe(0);
    expect(q % 16).toBe(8);
    a.dealloc(p);
    expect(a.alloc(40, 4)).toBe(p); // the general path takes the stack too
    a.dealloc(q);
    const r = a.alloc(40, 16); // q is on top of the stack, but not 16-aligned
    expect(r % 16).toBe(0);
    expect(r).not.toBe(q);
    expect(a.alloc(40, 8)).toBe(q);
    a.check();
  });

  it("dealloc with the block's size holds a block as dealloc without one does", () => {
    for (const sized of [false, true]) {
      const a = tlsf(1 << 16, true);
      const ps = [a.alloc(7996), a.alloc(40), a.alloc(8), a.alloc(40), a.alloc(8)];
      const free = (p: number, n: number) => (sized ? a.dealloc(p, n) : a.dealloc(p));
      free(ps[1], 40); // held: both neighbours used
      free(ps[2], 8); // held too: a held neighbour counts as used
      a.check();
      // Neither merged: no 64-byte block where they lie.
      expect(a.alloc(60)).toBeGreaterThan(ps[4]);
      expect(a.alloc(40)).toBe(ps[1]);
      a.check();
    }
  });

  it("dealloc with the block's size merges a block whose left neighbour is free", () => {
    const a = tlsf(1 << 16, true);
    const ps = [a.alloc(7996), a.alloc(600), a.alloc(40), a.alloc(8)];
    a.dealloc(ps[1]); // too large for the front end: a free block
    a.dealloc(ps[2], 40); // its left neighbour is free: merged, not held
    a.check();
    expect(a.alloc(600 + 48 - 4)).toBe(ps[1]);
    a.check();
  });

  it("with the front end, a fractional or interior pointer is refused even over a forged size word", () => {
    const a = tlsf(1 << 16, true);
    a.alloc(8);
    const p = a.alloc(8); // a 16-byte block
    a.alloc(8);
    // The payload's words look like a 16-byte block's size word.
    a.memory.u32[p >>> 2] = 16;
    a.memory.u32[(p + 4) >>> 2] = 16;
    const before = metadataState(a, true);
    expect(() => a.dealloc(p + 0.5)).toThrow(); // not a block start, whatever the word
    expect(() => a.dealloc(p + 4)).toThrow(InvalidPointerError);
    expect(metadataState(a, true)).toBe(before);
    a.dealloc(p); // its own size word, not the payload's, decides
    expect(a.alloc(8)).toBe(p);
    a.check();
  });
});

describe("TlsfAllocator: an owned buffer", () => {
  it("new TlsfAllocator(capacity) has room for one block of capacity bytes", () => {
    for (const capacity of [64, 1000, 1 << 16]) {
      const a = new TlsfAllocator(capacity);
      expect(a.stats().largestFree).toBeGreaterThanOrEqual(capacity - 4);
      expect(a.alloc(capacity - 4)).not.toBe(0);
    }
  });
});

describe("TlsfAllocator: allocZeroed on fresh memory", () => {
  it("zeroes the words the allocator wrote into a block never handed out: its links and footer", () => {
    // Two free blocks in one list (33,008 and about 33,100 bytes): the one never handed
    // out links to the other, and its last word is its footer.
    const a = new TlsfAllocator(1 << 17);
    const p = a.alloc(33_000);
    a.alloc(8);
    a.alloc(a.stats().largestFree - 33_200, 1);
    const rest = a.stats().largestFree;
    a.dealloc(p);
    const z = a.allocZeroed(rest); // the whole free end: p's block is too small
    expect(z).not.toBe(0);
    expect(z).not.toBe(p);
    expect(zeroes(a, z, rest)).toBe(true);
    a.check();
  });

  it("a failed allocZeroed returns 0 and changes nothing", () => {
    const a = tlsf();
    a.alloc(100);
    const before = metadataState(a, true);
    expect(a.allocZeroed(1 << 20)).toBe(0);
    expect(metadataState(a, true)).toBe(before);
  });
});

describe("TlsfAllocator: the general dealloc path holds blocks on top of each other", () => {
  it("two blocks of one size freed with their size are served back last first", () => {
    const a = tlsf(1 << 16, true);
    const blocks: number[] = [];
    const guards: number[] = [];
    for (let i = 0; i < 3; i++) {
      blocks.push(a.alloc(40));
      guards.push(a.alloc(8)); // keeps each block's right neighbour in use
    }
    for (const p of blocks) a.dealloc(p, 40); // with a size: the general path
    a.check();
    expect([a.alloc(40), a.alloc(40), a.alloc(40)]).toEqual([...blocks].reverse());
    a.check();
  });
});
