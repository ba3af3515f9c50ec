/**
 * TLSF's invariant walker (src/strategies/tlsf/check.ts), one invariant per row: a small heap
 * in a known state, one damage planted directly in its memory or metadata (the state words,
 * size words, footers, links and bitmaps in the memory's u32 view, the live and start maps,
 * the front end's stacks), then `check()` must throw HeapCorruptedError with the message that
 * names that invariant, and the heap must be poisoned after it. Beside the rows, the states
 * at the edge of each invariant that `check()` must accept. Four checks have no row: those
 * before them make them unreachable (a size not a multiple of 8, a free block held by the
 * front end, a walk ending off the sentinel, blocks not covering the heap; README, "Mutation
 * testing").
 */

import { describe, expect, it } from "vitest";
import { HeapCorruptedError, HeapPoisonedError } from "../../../src/core/errors.js";
import { Heap } from "../../../src/heap/index.js";
import { FixedMemory, WasmMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import {
  FRONT_CAPACITY,
  FRONT_MIN_BUDGET,
  FRONT_SHIFT,
  holeBlock,
  LINK_NEXT,
  LINK_PREV,
  TLSF_HEADER,
} from "../../../src/strategies/tlsf/layout.js";
import { listOf, SL_LOG2 } from "../../../src/strategies/tlsf/mapping.js";
import { thrown } from "../../helpers/thrown.js";

const W = TLSF_HEADER.word;
/** The heap's region: 64 KiB at offset 0 of a buffer 256 bytes longer (so an END past the
 * region's end still lies inside the memory's views, where only the walker can catch it). */
const REGION = 1 << 16;

/** What the walker reads, as the allocator keeps it (protected fields). */
interface Inside {
  memU32: Uint32Array;
  sw: number;
  live: Int32Array;
  fc: Uint32Array;
  first: number;
  dataStart: number;
  flMap: number;
  slMap: number;
  heads: number;
}

/** A heap in a known state, and where everything in it is. */
interface Scene {
  a: TlsfAllocator;
  /** The memory's u32 view. */
  w: Uint32Array;
  /** The state words' index in `w`. */
  sw: number;
  inside: Inside;
  /** Block starts (pointer − 4), in address order; the last is the free block before the sentinel. */
  b: number[];
  sentinel: number;
  /** A front end's held block (front scenes only; 0 otherwise). */
  held: number;
}

function inside(a: TlsfAllocator): Inside {
  return a as unknown as Inside;
}

/**
 * The plain heap (no front end): blocks of 16 (used), 104 (free), 48 (used), 304 (free),
 * 48 (used), then the free rest before the sentinel. With `full`, the rest is handed out too.
 */
function plain(full = false): Scene {
  const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(REGION + 256), 0, REGION));
  const ps = [a.alloc(12), a.alloc(100), a.alloc(40), a.alloc(300), a.alloc(40)];
  a.dealloc(ps[1]);
  a.dealloc(ps[3]);
  if (full) ps.push(a.alloc(a.stats().largestFree));
  return scene(a, ps, 0);
}

/**
 * The heap with the front end (a `Heap`): blocks of 16 (used), 608 (free, in a list), 48 (held
 * by the front end, its PREV_FREE flag set: the block before it was freed after it), 48
 * (used), 48 (used, the class of the held one), then the free rest.
 */
function front(): Scene {
  const a = new Heap({ memory: new FixedMemory(new ArrayBuffer(REGION + 256), 0, REGION) });
  const ps = [a.alloc(12), a.alloc(600), a.alloc(40), a.alloc(40), a.alloc(40)];
  a.dealloc(ps[2]);
  a.dealloc(ps[1]);
  return scene(a, ps, ps[2] - 4);
}

function scene(a: TlsfAllocator, ps: number[], held: number): Scene {
  const i = inside(a);
  const w = i.memU32;
  const b = ps.map((p) => p - 4);
  const last = b[b.length - 1];
  const sentinel = w[i.sw + W.END] - 4;
  const after = last + (w[last >>> 2] & ~7);
  if (after !== sentinel) b.push(after);
  a.check();
  return { a, w, sw: i.sw, inside: i, b, sentinel, held };
}

/** Bit `start` (0: live, 1: start) of block start `b`'s granule, toggled. */
function flip(s: Scene, b: number, start: 0 | 1): void {
  const g = (b + 4 - s.inside.dataStart) >>> 3;
  s.inside.live[((g >>> 5) << 1) + start] ^= 1 << (g & 31);
}

/** The (fl, sl) of list `li`, as check.ts names a list. */
function named(li: number): string {
  return `(${li >>> SL_LOG2}, ${li & ((1 << SL_LOG2) - 1)})`;
}

/** The u32 index of list `li`'s head, and of FL row `fl`'s SL bitmap. */
const head = (s: Scene, li: number) => s.inside.heads + li;
const slWord = (s: Scene, fl: number) => s.inside.slMap + fl;

/** Class c's stack in the front end: its count is at `at(c)`, capacity at +1, blocks from +2. */
const at = (c: number) => c << FRONT_SHIFT;
/** The held 48-byte blocks' class. */
const C48 = 6;

/** `check()` on `s` must throw HeapCorruptedError saying `what`, and poison the heap. */
function expectCaught(s: Scene, what: string) {
  const e = thrown(() => s.a.check());
  expect(e).toBeInstanceOf(HeapCorruptedError);
  expect((e as Error).message).toBe(`${s.a.name}: heap corrupted: ${what}`);
  expect(s.a.poisoned).toBe(true);
  expect(() => s.a.alloc(8)).toThrow(HeapPoisonedError);
  expect(() => s.a.check()).toThrow(HeapPoisonedError);
}

interface Row {
  /** The invariant broken. */
  name: string;
  /** The heap to damage (default: `plain()`). */
  heap?: () => Scene;
  /** Plants the damage; returns the message check.ts gives for it. */
  damage: (s: Scene) => string;
}

const ROWS: Row[] = [
  // ---- the heap's end ----
  {
    name: "END not 8-aligned",
    damage: (s) => {
      s.w[s.sw + W.END] -= 4;
      return `END ${REGION - 4} is not an 8-aligned end inside memory end ${REGION}`;
    },
  },
  {
    name: "END past the memory's end",
    damage: (s) => {
      s.w[s.sw + W.END] += 8;
      return `END ${REGION + 8} is not an 8-aligned end inside memory end ${REGION}`;
    },
  },
  {
    name: "END before the first block",
    damage: (s) => {
      const end = s.b[0] - 4;
      s.w[s.sw + W.END] = end;
      return `END ${end} is not an 8-aligned end inside memory end ${REGION}`;
    },
  },
  // ---- the physical walk ----
  {
    name: "a size below MIN_BLOCK",
    damage: (s) => {
      s.w[s.b[0] >>> 2] = 8 | (s.w[s.b[0] >>> 2] & 7);
      return `block ${s.b[0]}: size 8 is not a multiple of 8 ≥ 16 inside the heap`;
    },
  },
  {
    name: "a size reaching past the sentinel",
    damage: (s) => {
      const t = s.b[5];
      const size = s.sentinel - t + 8;
      s.w[t >>> 2] = size | (s.w[t >>> 2] & 7);
      return `block ${t}: size ${size} is not a multiple of 8 ≥ 16 inside the heap`;
    },
  },
  {
    name: "PREV_FREE set after a used block",
    damage: (s) => {
      s.w[s.b[1] >>> 2] |= 2;
      return `block ${s.b[1]}: PREV_FREE flag is true but the previous block is used`;
    },
  },
  {
    name: "PREV_FREE clear after a free block",
    damage: (s) => {
      s.w[s.b[2] >>> 2] &= ~2;
      return `block ${s.b[2]}: PREV_FREE flag is false but the previous block is free`;
    },
  },
  {
    name: "a block missing from the start map",
    damage: (s) => {
      flip(s, s.b[2], 1);
      return `block ${s.b[2]} is not marked in the start map`;
    },
  },
  {
    name: "two free blocks in a row",
    damage: (s) => {
      s.w[s.b[2] >>> 2] |= 1;
      return `blocks before ${s.b[2]} and ${s.b[2]} are both free: not coalesced`;
    },
  },
  {
    name: "a free block's footer",
    damage: (s) => {
      // Another block start than its own (the footer's words around it hold other values).
      s.w[(s.b[1] + 104 - 4) >>> 2] = s.b[0];
      return `free block ${s.b[1]}: footer holds ${s.b[0]}, not ${s.b[1]}`;
    },
  },
  {
    name: "a free block marked live",
    damage: (s) => {
      flip(s, s.b[1], 0);
      return `free block ${s.b[1]} is marked live in the live map`;
    },
  },
  {
    name: "a used block neither live nor held",
    damage: (s) => {
      flip(s, s.b[2], 0);
      return `used block ${s.b[2]} is neither live nor held by the front end`;
    },
  },
  {
    name: "a live block held by the front end",
    heap: front,
    damage: (s) => {
      const live = s.b[4];
      s.inside.fc[at(C48)] = 2;
      s.inside.fc[at(C48) + 3] = live;
      s.w[s.sw + W.CACHED] += 48;
      return `live block ${live} is held by the front end`;
    },
  },
  // ---- the sentinel ----
  {
    name: "a sentinel with a size",
    damage: (s) => {
      s.w[s.sentinel >>> 2] |= 8;
      return `sentinel at ${s.sentinel} holds ${8 | 2}`;
    },
  },
  {
    name: "a free sentinel",
    damage: (s) => {
      s.w[s.sentinel >>> 2] |= 1;
      return `sentinel at ${s.sentinel} holds ${1 | 2}`;
    },
  },
  {
    name: "the sentinel's PREV_FREE clear after a free last block",
    damage: (s) => {
      s.w[s.sentinel >>> 2] = 0;
      return `sentinel at ${s.sentinel} holds 0`;
    },
  },
  {
    name: "the sentinel's PREV_FREE set after a used last block",
    heap: () => plain(true),
    damage: (s) => {
      s.w[s.sentinel >>> 2] = 2;
      return `sentinel at ${s.sentinel} holds 2`;
    },
  },
  {
    name: "the sentinel missing from the start map",
    damage: (s) => {
      flip(s, s.sentinel, 1);
      return "the sentinel is not marked in the start map";
    },
  },
  // ---- the maps' counts ----
  {
    name: "a live bit inside a block",
    damage: (s) => {
      flip(s, s.b[2] + 8, 0);
      return "live map has 4 bits set for 3 live blocks";
    },
  },
  {
    name: "a live bit past the heap's end",
    damage: (s) => {
      const live = s.inside.live;
      live[live.length - 2] |= 1 << 31;
      return "live map has 4 bits set for 3 live blocks";
    },
  },
  {
    name: "a start bit inside a block",
    damage: (s) => {
      flip(s, s.b[2] + 8, 1);
      return "start map has 8 bits set for 6 blocks and the sentinel";
    },
  },
  {
    name: "a start bit past the heap's end",
    damage: (s) => {
      const live = s.inside.live;
      live[live.length - 1] |= 1 << 31;
      return "start map has 8 bits set for 6 blocks and the sentinel";
    },
  },
  // ---- the state words ----
  {
    name: "USED_COUNT",
    damage: (s) => {
      s.w[s.sw + W.USED_COUNT] += 1;
      return "USED_COUNT 4 != 3 used blocks";
    },
  },
  {
    name: "USED_BYTES",
    damage: (s) => {
      s.w[s.sw + W.USED_BYTES] += 8;
      return `USED_BYTES ${16 + 48 + 48 + 8} != ${16 + 48 + 48}`;
    },
  },
  {
    name: "SLACK",
    damage: (s) => {
      const peak = s.w[s.sw + W.PEAK];
      s.w[s.sw + W.SLACK] += 8;
      const slack = s.w[s.sw + W.SLACK];
      return `PEAK ${peak} − SLACK ${slack} != ${12 + 44 + 44} bytes in use`;
    },
  },
  {
    name: "PEAK",
    damage: (s) => {
      s.w[s.sw + W.PEAK] += 8;
      const peak = s.w[s.sw + W.PEAK];
      return `PEAK ${peak} − SLACK ${s.w[s.sw + W.SLACK]} != ${12 + 44 + 44} bytes in use`;
    },
  },
  {
    name: "SLACK above PEAK",
    damage: (s) => {
      const peak = s.w[s.sw + W.PEAK];
      s.w[s.sw + W.SLACK] = peak + 100;
      return `PEAK ${peak} − SLACK ${peak + 100} != ${12 + 44 + 44} bytes in use`;
    },
  },
  // ---- the front end ----
  {
    name: "a capacity above FRONT_CAPACITY",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 1] = FRONT_CAPACITY + 1;
      return `front end class ${C48} holds 1 blocks of capacity ${FRONT_CAPACITY + 1}`;
    },
  },
  {
    name: "a count above the capacity",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 1] = 0;
      return `front end class ${C48} holds 1 blocks of capacity 0`;
    },
  },
  {
    name: "a capacity for a class below MIN_BLOCK",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(1) + 1] = 1;
      return "front end class 1 holds 0 blocks of capacity 1";
    },
  },
  {
    name: "a held block below the first",
    heap: front,
    damage: (s) => {
      // Its granule's start bit set too, so that only the test of FIRST catches it.
      const b = s.b[0] - 8;
      flip(s, b, 1);
      s.inside.fc[at(C48) + 2] = b;
      return `front end class ${C48}: ${b} is not a block start`;
    },
  },
  {
    name: "a held block at the sentinel",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 2] = s.sentinel;
      return `front end class ${C48}: ${s.sentinel} is not a block start`;
    },
  },
  {
    name: "a held block not 4 past a multiple of 8",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 2] = s.held + 1;
      return `front end class ${C48}: ${s.held + 1} is not a block start`;
    },
  },
  {
    name: "a held block inside a block",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 2] = s.held + 8;
      return `front end class ${C48}: ${s.held + 8} is not a block start`;
    },
  },
  {
    name: "a held block of another class's size",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48) + 2] = s.b[0];
      return `front end class ${C48}: block ${s.b[0]} has size word 16`;
    },
  },
  {
    name: "a held block marked free",
    heap: front,
    damage: (s) => {
      s.w[s.held >>> 2] |= 1;
      return `front end class ${C48}: block ${s.held} has size word ${48 | 2 | 1}`;
    },
  },
  {
    name: "a block held twice",
    heap: front,
    damage: (s) => {
      s.inside.fc[at(C48)] = 2;
      s.inside.fc[at(C48) + 3] = s.held;
      s.w[s.sw + W.CACHED] += 48;
      return `the front end holds block ${s.held} twice`;
    },
  },
  {
    name: "CACHED",
    heap: front,
    damage: (s) => {
      s.w[s.sw + W.CACHED] += 8;
      return `CACHED 56 (budget ${FRONT_MIN_BUDGET}) != the front end's 48 bytes`;
    },
  },
  {
    name: "CACHED above BUDGET",
    heap: front,
    damage: (s) => {
      s.w[s.sw + W.BUDGET] = 40;
      return "CACHED 48 (budget 40) != the front end's 48 bytes";
    },
  },
  {
    name: "a count of blocks without a front end",
    damage: (s) => {
      s.w[s.sw + W.CACHED] = 48;
      return "CACHED 48 (budget 0) != the front end's 0 bytes";
    },
  },
  // ---- the lists and bitmaps (free: 104 in list (0, 13), 304 in (1, 6), the rest) ----
  {
    name: "an FL bit for an empty row",
    damage: (s) => {
      s.w[s.inside.flMap] |= 1 << 5;
      return "FL bitmap bit 5 disagrees with its SL bitmap 0";
    },
  },
  {
    name: "an FL bit missing for a non-empty row",
    damage: (s) => {
      s.w[s.inside.flMap] &= ~2;
      return `FL bitmap bit 1 disagrees with its SL bitmap ${1 << 6}`;
    },
  },
  {
    name: "an SL bit for an empty list",
    damage: (s) => {
      s.w[slWord(s, 0)] |= 1 << 3;
      return "SL bitmap bit (0, 3) disagrees with list head 0";
    },
  },
  {
    name: "an SL bit missing for a non-empty list",
    damage: (s) => {
      s.w[head(s, 3)] = s.b[1];
      return `SL bitmap bit (0, 3) disagrees with list head ${s.b[1]}`;
    },
  },
  {
    name: "a cycle in a list",
    damage: (s) => {
      const t = s.b[5];
      s.w[(t >>> 2) + LINK_NEXT] = t;
      return `list ${named(listOf(s.sentinel - t))} holds more blocks than are free (cycle?)`;
    },
  },
  {
    name: "a listed block below the first",
    damage: (s) => {
      const f = s.b[0] - 8;
      s.w[head(s, 13)] = f;
      return `list (0, 13): ${f} is not a block start`;
    },
  },
  {
    name: "a listed block at the sentinel",
    damage: (s) => {
      s.w[head(s, 13)] = s.sentinel;
      return `list (0, 13): ${s.sentinel} is not a block start`;
    },
  },
  {
    name: "a listed block not 4 past a multiple of 8",
    damage: (s) => {
      s.w[head(s, 13)] = s.b[1] + 2;
      return `list (0, 13): ${s.b[1] + 2} is not a block start`;
    },
  },
  {
    name: "a used block listed",
    damage: (s) => {
      s.w[head(s, 13)] = s.b[0];
      return `list (0, 13): block ${s.b[0]} is not free`;
    },
  },
  {
    name: "a block in the list of another size",
    damage: (s) => {
      s.w[head(s, 3)] = s.b[1];
      s.w[slWord(s, 0)] |= 1 << 3;
      return `block ${s.b[1]} of size 104 is in list (0, 3)`;
    },
  },
  {
    name: "a prev link",
    damage: (s) => {
      s.w[(s.b[1] >>> 2) + LINK_PREV] = 8;
      return `block ${s.b[1]}: prev link 8 != 0`;
    },
  },
  {
    name: "a free block in no list",
    damage: (s) => {
      s.w[head(s, 38)] = 0;
      s.w[slWord(s, 1)] = 0;
      s.w[s.inside.flMap] &= ~2;
      return "lists hold 2 blocks, the heap has 3 free";
    },
  },
];

describe("TLSF check(): each broken invariant is named, and poisons", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const s = (row.heap ?? (() => plain()))();
      const what = row.damage(s);
      expectCaught(s, what);
    });
  }
});

describe("TLSF check(): the states at the edge of each invariant pass", () => {
  it("a new heap: one free block at FIRST, nothing in use", () => {
    const s = plain();
    const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(REGION)));
    a.check();
    expect(a.stats().liveBlocks).toBe(0);
    s.a.check();
  });

  it("a heap handed out to its last byte (the sentinel's PREV_FREE clear), then emptied (SLACK = PEAK)", () => {
    const s = plain(true);
    expect(s.w[s.sentinel >>> 2]).toBe(0);
    for (const b of s.b) if ((s.w[b >>> 2] & 1) === 0) s.a.dealloc(b + 4);
    s.a.check();
    expect(s.w[s.sw + W.SLACK]).toBe(s.w[s.sw + W.PEAK]);
  });

  it("a block of 256 bytes, the first of FL row 1, free in its list", () => {
    const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(REGION)));
    const p = a.alloc(252);
    a.alloc(8);
    a.dealloc(p);
    const i = inside(a);
    expect(i.memU32[i.heads + listOf(256)]).toBe(p - 4);
    a.check();
  });

  it("a front end holding a block after a free one, and holding exactly its budget", () => {
    const s = front();
    expect(s.w[s.held >>> 2]).toBe(48 | 2);
    // 130 blocks of 504 bytes and one of 16: FRONT_MIN_BUDGET bytes, each between used ones.
    const a = new Heap({ memory: new FixedMemory(new ArrayBuffer(4 * REGION)) });
    const held: number[] = [];
    for (let k = 0; k < 130; k++) {
      held.push(a.alloc(500));
      a.alloc(8);
    }
    held.push(a.alloc(12));
    a.alloc(8);
    for (const p of held) a.dealloc(p);
    const w = inside(a).memU32;
    const sw = inside(a).sw;
    expect(w[sw + W.CACHED]).toBe(FRONT_MIN_BUDGET);
    expect(w[sw + W.BUDGET]).toBe(FRONT_MIN_BUDGET);
    a.check();
  });
});

describe("TLSF check(): the block over pages someone else grew", () => {
  const PAGE = 65536;
  /**
   * A heap in a wasm memory of one page; the memory grown by a page by someone else; then
   * a block too large for the heap, so that it grows past that page (the hole: a used block
   * over [PAGE, 2 PAGE), in no list and neither live nor counted).
   */
  function holed(): Scene & { hole: { b: number; size: number } } {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 8 });
    const a = new TlsfAllocator(new WasmMemory(mem, 1024));
    const ps = [a.alloc(100)];
    mem.grow(1);
    ps.push(a.alloc(PAGE + 1000));
    expect(a.memory.foreign).toEqual([[PAGE, 2 * PAGE]]);
    const s = scene(a, ps, 0);
    return { ...s, hole: holeBlock(PAGE, 2 * PAGE) };
  }

  it("passes, and the hole is neither counted nor live", () => {
    const s = holed();
    expect(s.w[s.hole.b >>> 2] & ~7).toBe(s.hole.size);
    expect(s.w[s.sw + W.USED_COUNT]).toBe(2);
    s.a.check();
  });

  it("the hole marked live is a live block USED_COUNT does not count", () => {
    const s = holed();
    flip(s, s.hole.b, 0);
    expectCaught(s, "USED_COUNT 2 != 3 used blocks");
  });

  it("the hole with another size is a used block neither live nor held", () => {
    const s = holed();
    s.w[s.hole.b >>> 2] -= 8;
    expectCaught(s, `used block ${s.hole.b} is neither live nor held by the front end`);
  });

  it("the start map's count includes the hole", () => {
    const s = holed();
    let blocks = 0;
    for (let b = s.inside.first; b < s.sentinel; b += s.w[b >>> 2] & ~7) blocks++;
    flip(s, s.b[0] + 8, 1);
    expectCaught(s, `start map has ${blocks + 2} bits set for ${blocks} blocks and the sentinel`);
  });

  it("a block of the hole's size elsewhere, not live, is not the hole", () => {
    const s = holed();
    const p = s.a.alloc(s.hole.size - 4);
    const w = inside(s.a).memU32;
    expect(w[(p - 4) >>> 2] & ~7).toBe(s.hole.size);
    flip(s, p - 4, 0);
    expectCaught(s, `used block ${p - 4} is neither live nor held by the front end`);
  });
});
