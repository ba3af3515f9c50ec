/**
 * Damage to the slab's metadata: caught at the next call that reads it (a page header, a
 * free-list link, a large block's links), which poisons the heap; and the invariants
 * `check()` walks (slab/check.ts), each broken on purpose.
 */

import { describe, expect, it } from "vitest";
import { HeapCorruptedError, HeapPoisonedError } from "../../../src/core/errors.js";
import { FixedMemory } from "../../../src/memory/memory.js";
import { pageCapacity, pageLength, sizeToClass } from "../../../src/strategies/slab/classes.js";
import { SlabAllocator } from "../../../src/strategies/slab/index.js";
import {
  C_PARTIAL,
  CLASS_RECORD_SHIFT,
  LIST_EMPTY,
  P_BITMAP,
  P_LIST,
  P_LIVE,
  P_TAG,
  PAGE_TAG,
  W_IN_USE,
  W_LARGE_LIVE,
  W_PAGES,
  W_RELEASED,
  W_TABLE,
} from "../../../src/strategies/slab/layout.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { internals, LARGE_HEADER, makeSlab, pageOf } from "./helpers.js";

const P = 4096;
const L_NEXT = 0;

describe("damage is caught at the call and poisons the heap", () => {
  it("corruption the parent's check() finds poisons the slab too", () => {
    const memory = new FixedMemory(new ArrayBuffer(1 << 18), 0, 1 << 18, true);
    const parent = new TlsfAllocator(memory);
    const slab = new SlabAllocator(parent, { pageSize: P });
    const a = slab.alloc(32);
    // The parent's size word of the page's block, as an overflow below the page would write.
    memory.u32[(pageOf(slab, a) - 4) >>> 2] += 8;
    expect(() => slab.check()).toThrow(HeapCorruptedError);
    // A block the page could serve is refused: the slab is poisoned, not only its parent.
    expect(() => slab.alloc(32)).toThrow(HeapPoisonedError);
    expect(() => slab.dealloc(a)).toThrow(HeapPoisonedError);
  });

  it("an overwritten page header, on free and on alloc", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    const b = slab.alloc(32);
    memory.u32[pageOf(slab, a) / 4 + P_TAG] = 0x41414141;
    expect(() => slab.dealloc(b)).toThrow(HeapCorruptedError);
    expect(() => slab.alloc(8)).toThrow(HeapPoisonedError);

    const other = makeSlab({ pageSize: P });
    const c = other.slab.alloc(32);
    other.memory.u32[pageOf(other.slab, c) / 4 + P_TAG] = 0;
    expect(() => other.slab.alloc(32)).toThrow(HeapCorruptedError);
  });

  it("an overflow of a page's last block into the next page's header", () => {
    // Over a TLSF, pages of one class lie side by side: page A's tail, then page B.
    const tlsf = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 20)));
    const slab = new SlabAllocator(tlsf);
    const cap = pageCapacity(256, pageLength(P));
    const ptrs = Array.from({ length: 2 * cap }, () => slab.alloc(256));
    const [pageA, pageB] = [pageOf(slab, ptrs[0]), pageOf(slab, ptrs[cap])];
    expect(pageB - pageA).toBe(P);
    tlsf.memory.u8.fill(0x41, ptrs[cap - 1], pageB + 8); // runs over A's tail into B
    expect(() => slab.dealloc(ptrs[cap + 1])).toThrow(HeapCorruptedError);
    expect(() => slab.dealloc(ptrs[0])).toThrow(HeapPoisonedError);
  });

  it("a write after free that redirects the free list to a live block", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    const b = slab.alloc(32);
    const c = slab.alloc(32);
    slab.dealloc(a);
    slab.dealloc(c);
    // c's link holds 1 + a's index; make it name b (index 1), which is live.
    memory.u32[c / 4] = 2;
    expect(slab.alloc(32)).toBe(c);
    expect(() => slab.alloc(32)).toThrow(HeapCorruptedError);
    expect(() => slab.dealloc(b)).toThrow(HeapPoisonedError);
  });

  it("a free-list link beyond the carved blocks", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(32);
    slab.alloc(32);
    slab.dealloc(a);
    memory.u32[a / 4] = 100; // block 99 was never carved
    expect(slab.alloc(32)).toBe(a);
    expect(() => slab.alloc(32)).toThrow(HeapCorruptedError);
  });

  it("a large block whose list link was overwritten", () => {
    const { slab, memory } = makeSlab({ pageSize: P });
    const a = slab.alloc(3000);
    slab.alloc(3000);
    memory.u32[(a - LARGE_HEADER) / 4 + L_NEXT] = 12345 * 8;
    expect(() => slab.dealloc(a)).toThrow(HeapCorruptedError);
  });
});

describe("check() finds every broken invariant", () => {
  /** A slab with two classes in use, a full page and a partial one. */
  function slabWithPages() {
    const made = makeSlab({ pageSize: P });
    const cap = pageCapacity(32, pageLength(P));
    const ptrs = Array.from({ length: cap + 3 }, () => made.slab.alloc(32));
    const big = made.slab.alloc(5000);
    made.slab.alloc(200);
    made.slab.check();
    return {
      ...made,
      ptrs,
      big,
      full: pageOf(made.slab, ptrs[0]),
      partial: pageOf(made.slab, ptrs[cap]),
    };
  }

  const cases: [string, RegExp, (s: ReturnType<typeof slabWithPages>) => void][] = [
    [
      "a bitmap that disagrees with the live count",
      /bitmap/,
      ({ memory, partial }) => {
        memory.u32[partial / 4 + P_BITMAP] ^= 1 << 10; // an uncarved block marked live
      },
    ],
    [
      "a live count that disagrees with the bitmap",
      /live/i,
      ({ memory, full }) => {
        memory.u32[full / 4 + P_LIVE] -= 1;
      },
    ],
    [
      "a page on the wrong list",
      /list/,
      ({ memory, partial }) => {
        memory.u32[partial / 4 + P_LIST] = LIST_EMPTY;
      },
    ],
    [
      "a page whose tag names another class",
      /tag|table|class/,
      ({ memory, partial }) => {
        memory.u32[partial / 4 + P_TAG] = PAGE_TAG + 5;
      },
    ],
    [
      "a handle whose class table no longer matches the classes",
      /class table/,
      ({ slab }) => {
        (slab as unknown as { info: Int32Array }).info[0] = 16;
      },
    ],
    [
      "a page table entry that names no page",
      /page table|names/,
      ({ slab, memory, partial }) => {
        const s = internals(slab);
        const at = memory.u32[s.w0 + W_TABLE];
        const i = (partial >>> s.tableShift) - s.tableFirst;
        // Clear both words of the slot that holds the page's first byte.
        memory.u32[at + 2 * i] = 0;
        memory.u32[at + 2 * i + 1] = 0;
      },
    ],
    [
      "a partial page on no list",
      /lists/,
      ({ slab, memory }) => {
        const rec = internals(slab).recBase + (sizeToClass(32) << CLASS_RECORD_SHIFT);
        memory.u32[rec + C_PARTIAL] = 0;
      },
    ],
    [
      "an IN_USE counter off by a byte",
      /IN_USE/,
      ({ slab, memory }) => {
        memory.u32[internals(slab).w0 + W_IN_USE] += 1;
      },
    ],
    [
      "a count of pages given back that the page table does not remember",
      /RELEASED/,
      ({ slab, memory }) => {
        memory.u32[internals(slab).w0 + W_RELEASED] += 1;
      },
    ],
    [
      "a count of pages held that the lists do not hold",
      /PAGES/,
      ({ slab, memory }) => {
        memory.u32[internals(slab).w0 + W_PAGES] += 1;
      },
    ],
    [
      "a count of large blocks that the large list does not hold",
      /LARGE_LIVE/,
      ({ slab, memory }) => {
        memory.u32[internals(slab).w0 + W_LARGE_LIVE] += 1;
      },
    ],
  ];
  for (const [what, message, damage] of cases) {
    it(what, () => {
      const s = slabWithPages();
      damage(s);
      expect(() => s.slab.check()).toThrow(message);
      expect(() => s.slab.alloc(8)).toThrow(HeapPoisonedError);
    });
  }
});
