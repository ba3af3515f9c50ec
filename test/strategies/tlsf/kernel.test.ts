/**
 * TLSF's kernel (src/strategies/tlsf/kernel.ts): the room an empty heap needs and the growth
 * that makes it, laying out an empty heap beside pages someone else added, and the front
 * end's budget following the peak. The rest of TlsfAllocator's tests are beside it in this folder.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeapCorruptedError, HeapPoisonedError, StaleViewError } from "../../../src/core/errors.js";
import { Heap } from "../../../src/heap/index.js";
import { FixedMemory, GrowableMemory, SharedMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import {
  FRONT_LIMIT,
  FRONT_MIN_BUDGET,
  TLSF_HEADER,
  TLSF_METADATA_BYTES,
} from "../../../src/strategies/tlsf/layout.js";
import { MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { thrown } from "../../helpers/thrown.js";

/** First block start of a heap whose region starts at 0: its pointer is 16-aligned. */
const FIRST = Math.ceil((TLSF_METADATA_BYTES + 8) / 16) * 16 - 4;
/** The least heap end: the first block, minimal, and the sentinel's size word. */
const MIN_END = FIRST + MIN_BLOCK + 4;

describe("TlsfAllocator: a memory too small for its metadata", () => {
  it("is refused with a message naming TlsfAllocator, creating or attaching", () => {
    const m = new FixedMemory(new ArrayBuffer(1024));
    expect(() => new TlsfAllocator(m)).toThrow(
      `TlsfAllocator: memory region [0, 1024) is too small for its ${TLSF_METADATA_BYTES} bytes of metadata`,
    );
    expect(() => TlsfAllocator.attach(m, new ArrayBuffer(64))).toThrow(
      /^TlsfAllocator: memory too small to hold a heap header/,
    );
  });
});

describe("TlsfAllocator: a growable memory too small for a block", () => {
  it("grows in the constructor to hold one, up to exactly its maximum", () => {
    const m = new GrowableMemory(TLSF_METADATA_BYTES, 1 << 20);
    const a = new TlsfAllocator(m);
    expect(m.end).toBeGreaterThanOrEqual(MIN_END);
    expect(a.alloc(1000)).toBe(FIRST + 4);
    a.check();
    // A maximum of exactly one minimal block and the sentinel is enough, as a fixed memory
    // of that size is.
    const exact = new GrowableMemory(TLSF_METADATA_BYTES, MIN_END);
    const b = new TlsfAllocator(exact);
    expect(exact.end).toBe(MIN_END);
    expect(b.alloc(12)).toBe(FIRST + 4);
    expect(b.alloc(1)).toBe(0);
    b.check();
  });

  it("is refused, ungrown, when its maximum is one byte short or growth is turned off", () => {
    const short = new GrowableMemory(TLSF_METADATA_BYTES, MIN_END - 1);
    expect(() => new TlsfAllocator(short)).toThrow(
      expect.objectContaining({ name: "ArgumentRangeError", code: "ERR_MEMORY" }),
    );
    expect(short.end).toBe(TLSF_METADATA_BYTES);
    const off = new GrowableMemory(TLSF_METADATA_BYTES, 1 << 20);
    expect(() => new TlsfAllocator(off, { grow: false })).toThrow(
      `TlsfAllocator: region [0, ${TLSF_METADATA_BYTES}) leaves no room for a block`,
    );
    expect(off.end).toBe(TLSF_METADATA_BYTES);
  });
});

describe("TlsfAllocator: pages someone else added", () => {
  it("leaves foreign bytes in the region's unaligned tail, past the heap's end, alone", () => {
    // Someone else resized the buffer by two bytes and a growth by one byte went past them
    // (to a maximum 4 bytes past the region's end): [end0, end0 + 2) is foreign and lies
    // past the heap's 8-aligned end, end0, where no block may start.
    const end0 = 8192;
    const m = new GrowableMemory(end0, end0 + 4);
    (m.buffer as ArrayBuffer).resize(end0 + 2);
    expect(m.growPast(1)).toBe(end0 + 2);
    expect(m.foreign).toEqual([[end0, end0 + 2]]);
    expect(m.end).toBe(end0 + 4);
    const a = new TlsfAllocator(m);
    a.check();
    // One free block from the first block to the sentinel at end0 − 4, as in a fixed memory
    // of end0 bytes; the region's 4 bytes past end0 are overhead.
    const fixed = new TlsfAllocator(new FixedMemory(new ArrayBuffer(end0))).stats();
    const fresh = a.stats();
    expect(fresh).toEqual({ ...fixed, capacity: end0 + 4, overhead: fixed.overhead + 4 });
    expect(fresh.largestFree).toBe(end0 - 4 - FIRST - 4);
    const p = a.alloc(fresh.largestFree);
    expect(p).toBe(FIRST + 4);
    a.check();
    a.dealloc(p);
    a.reset();
    a.check();
    expect(a.stats()).toEqual(fresh);
    expect(a.alloc(fresh.largestFree)).toBe(FIRST + 4);
  });
});

describe("TlsfAllocator: the front end's budget", () => {
  const SW = TLSF_HEADER.wordsAt / 4;
  const W = TLSF_HEADER.word;

  /** Allocates 600 blocks of 16 sizes below FRONT_LIMIT between used ones, then frees them. */
  function churn(a: TlsfAllocator): void {
    const ps: number[] = [];
    for (let i = 0; i < 600; i++) {
      ps.push(a.alloc(FRONT_LIMIT - 12 - (i % 16) * 8));
      a.alloc(8); // a used neighbour: every freed block may be held
    }
    for (const p of ps) a.dealloc(p);
  }

  /** The bytes of freed blocks the front end holds (the CACHED state word). */
  function held(a: TlsfAllocator): number {
    a.memory.refresh();
    return a.memory.u32[SW + W.CACHED];
  }

  it("holds FRONT_MIN_BUDGET bytes while a sixteenth of the peak is less", () => {
    const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 20)), { frontEnd: true });
    churn(a); // ~280 KB freed, the peak as high: a sixteenth of it is below the floor
    expect(a.stats().peakInUse >>> 4).toBeLessThan(FRONT_MIN_BUDGET);
    expect(held(a)).toBeLessThanOrEqual(FRONT_MIN_BUDGET);
    expect(held(a)).toBeGreaterThan(FRONT_MIN_BUDGET - FRONT_LIMIT);
    a.check();
  });

  it("holds up to a sixteenth of the peak once that passes the floor", () => {
    const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 22)), { frontEnd: true });
    a.dealloc(a.alloc(2 << 20)); // the peak passes 16 × FRONT_MIN_BUDGET
    const budget = a.stats().peakInUse >>> 4;
    expect(budget).toBeGreaterThan(FRONT_MIN_BUDGET);
    churn(a);
    expect(held(a)).toBeLessThanOrEqual(budget);
    expect(held(a)).toBeGreaterThan(budget - FRONT_LIMIT);
    a.check();
  });
});

describe("TlsfAllocator: a memory that never shows another handle's growth", () => {
  it("gives up with a StaleViewError naming the heap's end and the view's", () => {
    const m1 = new SharedMemory(1 << 16, 1 << 22);
    const a = new TlsfAllocator(m1);
    const m2 = new SharedMemory(m1.buffer as SharedArrayBuffer);
    const b = TlsfAllocator.attach(m2, a.liveMapBuffer);
    (m2 as { refresh: () => boolean }).refresh = () => false; // the growth never shows
    a.alloc(1 << 20);
    const err = thrown(() => b.refreshViews());
    expect(err).toBeInstanceOf(StaleViewError);
    expect((err as Error).message).toBe(
      `TlsfAllocator: the heap ends at ${m1.end}, but this agent's view of the memory ` +
        `still ends at ${1 << 16}`,
    );
  });
});

describe("TlsfAllocator: an END past the end of a memory only this agent grows", () => {
  it("is corruption at the call that reads it, and the heap stays poisoned", () => {
    // A fixed memory shows its whole length at once: there is no growth to wait for.
    const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 16)));
    const u32 = a.memory.u32;
    u32[TLSF_HEADER.wordsAt / 4 + TLSF_HEADER.word.END] = 1 << 20;
    const err = thrown(() => a.alloc(600));
    expect(err).toBeInstanceOf(HeapCorruptedError);
    expect((err as Error).message).toBe(
      `TlsfAllocator: heap corrupted: END ${1 << 20} is past the memory's end ${1 << 16}`,
    );
    expect(a.poisoned).toBe(true);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    expect(() => a.stats()).toThrow(HeapPoisonedError);
  });
});

/** A TLSF whose start map the test sets, to probe `nextStart` against a bit-by-bit scan. */
class StartProbe extends TlsfAllocator {
  constructor() {
    super(new FixedMemory(new ArrayBuffer(1 << 16)));
  }
  /** Replaces the live and start maps (word 2i: live bits, 2i + 1: start bits). */
  setMaps(words: Int32Array): void {
    this.live = words;
  }
  next(g: number, limit: number): number {
    return this.nextStart(g, limit);
  }
}

/** The first granule after `g` whose start bit is set, scanning bit by bit; −1 past `limit`. */
function nextStartBitByBit(words: Int32Array, g: number, limit: number): number {
  for (let x = g + 1; x <= limit; x++) {
    const i = ((x >>> 5) << 1) + 1;
    if (i < words.length && (words[i] & (1 << (x & 31))) !== 0) return x;
  }
  return -1;
}

describe("TlsfAllocator: nextStart, the start map's scan", () => {
  it("finds the first start after a granule up to a limit, as a bit-by-bit scan does", () => {
    fc.assert(
      fc.property(
        // 1 … 40 word pairs; start words mostly empty (large blocks), live words anything.
        fc.array(
          fc.tuple(
            fc.integer(),
            fc.oneof(fc.constant(0), fc.constant(0), fc.integer(), fc.constant(-(2 ** 31))),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        fc.nat(1400),
        fc.nat(1400),
        (pairs, g, span) => {
          const words = new Int32Array(pairs.flat());
          const probe = new StartProbe();
          probe.setMaps(words);
          // The limit may reach past the map's end (a damaged size word claims any size).
          expect(probe.next(g, g + span)).toBe(nextStartBitByBit(words, g, g + span));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("sees a start in the last granule of a word, in the word holding the limit, and none past it", () => {
    const words = new Int32Array(20); // granules 0 … 319
    const probe = new StartProbe();
    probe.setMaps(words);
    words[2 * 7 + 1] = 1 << 31; // granule 255
    expect(probe.next(0, 255)).toBe(255);
    expect(probe.next(0, 254)).toBe(-1);
    expect(probe.next(255, 319)).toBe(-1);
    words[2 * 9 + 1] = 1; // granule 288, in the last word
    expect(probe.next(255, 319)).toBe(288);
    expect(probe.next(255, 287)).toBe(-1);
    expect(probe.next(255, 5000)).toBe(288);
  });
});

/** A Heap-like TLSF (front end on: it keeps the summary) whose maps the test sets. */
class SummaryProbe extends TlsfAllocator {
  constructor() {
    super(new FixedMemory(new ArrayBuffer(1 << 16)), { frontEnd: true });
  }
  /** Replaces the maps and derives the summary from them, as setStart and clearStart keep it. */
  setMaps(words: Int32Array): void {
    this.live = words;
    const sum = new Int32Array(Math.ceil(words.length / 64));
    for (let k = 0; k < words.length >>> 1; k++) {
      if (words[(k << 1) + 1] !== 0) sum[k >>> 5] |= 1 << (k & 31);
    }
    this.sum = sum;
  }
  within(g: number, limit: number): boolean {
    return this.startWithin(g, limit);
  }
}

describe("TlsfAllocator: startWithin, the size check's window through the summary", () => {
  it("says whether a start lies in (g, limit] exactly as a bit-by-bit scan does", () => {
    fc.assert(
      fc.property(
        // up to 100 word pairs (3,200 granules: windows cross two summary words); start words
        // mostly empty, live words anything.
        fc.array(
          fc.tuple(
            fc.integer(),
            fc.oneof(
              { arbitrary: fc.constant(0), weight: 30 },
              { arbitrary: fc.integer(), weight: 1 },
              { arbitrary: fc.constant(-(2 ** 31)), weight: 1 },
            ),
          ),
          { minLength: 1, maxLength: 100 },
        ),
        fc.nat(3200),
        fc.nat(1100),
        (pairs, g0, span) => {
          const words = new Int32Array(pairs.flat());
          const granules = (words.length >>> 1) * 32;
          const g = g0 % granules;
          const limit = Math.min(g + 1 + span, granules - 1); // inside the map, past g
          fc.pre(limit > g);
          const probe = new SummaryProbe();
          probe.setMaps(words);
          expect(probe.within(g, limit)).toBe(nextStartBitByBit(words, g, limit) !== -1);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("finds a lone start in any whole word of the window, and in its first and last words", () => {
    const probe = new SummaryProbe();
    for (const k of [2, 3, 31, 32, 33, 34, 35]) {
      const words = new Int32Array(2 * 70);
      words[(k << 1) + 1] = 1 << 5; // granule 32k + 5
      probe.setMaps(words);
      const at = k * 32 + 5;
      expect(probe.within(70, 70 + 1024)).toBe(at > 70 && at <= 70 + 1024);
      expect(probe.within(at - 1, at)).toBe(true);
      expect(probe.within(at, at + 1024)).toBe(false);
      expect(probe.within(Math.max(0, at - 1025), at - 1)).toBe(false);
    }
  });

  it("a Heap keeps the summary through splits, merges and growth, and check() holds it to the map", () => {
    const heap = new Heap({ maxBytes: 64 << 20 });
    const ptrs: number[] = [];
    for (let i = 0; i < 300; i++) ptrs.push(heap.alloc(1000 + ((i * 7919) % 60_000)));
    for (let i = 0; i < ptrs.length; i += 2) heap.dealloc(ptrs[i]);
    heap.check();
    const sum = (heap as unknown as { sum: Int32Array }).sum;
    expect(sum.length).toBeGreaterThan(1); // the heap grew past 32 start words × 32
    // A bit set for an empty start word (or cleared for a marked one) is caught.
    let k = 0;
    const live = (heap as unknown as { live: Int32Array }).live;
    while (live[(k << 1) + 1] !== 0) k++;
    sum[k >>> 5] ^= 1 << (k & 31);
    expect(() => heap.check()).toThrow(/start-map summary bit/);
  });
});
