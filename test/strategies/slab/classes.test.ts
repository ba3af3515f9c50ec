/**
 * The SlabAllocator's pure functions, exhaustively: the size classes (the size-class module's
 * scheme (3, 6, 2), as slab/classes.ts lists them), the classes serving aligned requests,
 * page sizes and geometry for every class and page size, the exact division that finds a
 * block's index, and the class table the hot paths read.
 */

import { describe, expect, it } from "vitest";
import {
  CLASS_COUNT,
  CLASS_INFO_WORDS,
  classAlign,
  classAtMost,
  classForRequest,
  classInfo,
  classSize,
  divisorInverse,
  divisorShift,
  exactQuotient,
  firstBlockOffset,
  K_CAP,
  K_FIRST,
  K_INVERSE,
  K_KIND,
  K_LENGTH,
  K_SHIFT,
  K_SIZE,
  MAX_CLASS_SIZE,
  MAX_PAGE_SIZE,
  MIN_BLOCKS_PER_PAGE,
  MIN_PAGE_SIZE,
  PAGE_ALIGN,
  PAGE_FIXED_BYTES,
  PARENT_RESERVE,
  pageCapacity,
  pageHeaderBytes,
  pageLength,
  pageSizeFor,
  sizeToClass,
  worstCaseWaste,
} from "../../../src/strategies/slab/classes.js";

/** The classes and worst-case waste exactly as the header of slab/classes.ts lists them. */
const CLASSES = [
  8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
  896, 1024, 1280, 1536, 1792, 2048,
];
const WORST_WASTE = [
  7, 7, 7, 7, 7, 7, 7, 7, 15, 15, 15, 15, 31, 31, 31, 31, 63, 63, 63, 63, 127, 127, 127, 127, 255,
  255, 255, 255,
];
const PAGE_SIZES = [1024, 2048, 4096, 8192, 16384, 32768, 65536];

describe("size classes", () => {
  it("are the 28 classes the header lists, increasing multiples of 8", () => {
    expect(CLASS_COUNT).toBe(28);
    expect(Array.from({ length: CLASS_COUNT }, (_, c) => classSize(c))).toEqual(CLASSES);
    expect(classSize(CLASS_COUNT - 1)).toBe(MAX_CLASS_SIZE);
  });

  it("map every size 0 … 2048 to the smallest class that holds it", () => {
    for (let size = 0; size <= MAX_CLASS_SIZE; size++) {
      const brute = CLASSES.findIndex((s) => s >= Math.max(size, 1));
      if (sizeToClass(size) !== brute) expect(sizeToClass(size), `size ${size}`).toBe(brute);
    }
  });

  it("waste at most the listed bytes per class (< 20 % from 40 bytes up)", () => {
    const worst = new Array<number>(CLASS_COUNT).fill(0);
    for (let size = 1; size <= MAX_CLASS_SIZE; size++) {
      const c = sizeToClass(size);
      worst[c] = Math.max(worst[c], classSize(c) - size);
    }
    expect(worst).toEqual(WORST_WASTE);
    for (let c = 0; c < CLASS_COUNT; c++) {
      expect(worstCaseWaste(c)).toBe(WORST_WASTE[c]);
      if (classSize(c) >= 40) expect(worstCaseWaste(c) / classSize(c)).toBeLessThan(0.2);
    }
  });

  it("align blocks to min(16, the power of two dividing the size)", () => {
    for (let c = 0; c < CLASS_COUNT; c++) {
      const s = CLASSES[c];
      expect(classAlign(c)).toBe(s % 16 === 0 ? 16 : 8);
    }
  });

  it("serve every (size, align ≤ 16) with the smallest class aligned that much; larger aligns none", () => {
    for (const count of [CLASS_COUNT, 24, 20, 12, 1]) {
      for (let k = 0; k <= 16; k++) {
        const align = 2 ** k;
        for (let size = 0; size <= MAX_CLASS_SIZE; size++) {
          let brute = -1;
          if (align <= PAGE_ALIGN) {
            for (let c = 0; c < count; c++) {
              if (CLASSES[c] >= Math.max(size, align) && CLASSES[c] % Math.max(align, 8) === 0) {
                brute = c;
                break;
              }
            }
          }
          const got = classForRequest(size, align, count);
          if (got !== brute) {
            expect(got, `size ${size} align ${align} classes ${count}`).toBe(brute);
          }
        }
      }
    }
  });

  it("classAtMost rounds maxSmall down to a class", () => {
    for (let bytes = 8; bytes <= 4096; bytes++) {
      const c = classAtMost(bytes);
      expect(classSize(c)).toBeLessThanOrEqual(bytes);
      if (c + 1 < CLASS_COUNT) expect(classSize(c + 1)).toBeGreaterThan(bytes);
    }
  });
});

describe("page geometry (every class, every page length)", () => {
  it("fits the most blocks after a 16-aligned header with a bit per block", () => {
    for (const P of PAGE_SIZES) {
      const length = pageLength(P);
      expect(length).toBe(P - PARENT_RESERVE);
      for (let c = 0; c < CLASS_COUNT; c++) {
        const size = classSize(c);
        const cap = pageCapacity(size, length);
        const first = firstBlockOffset(size, length);
        if (cap === 0) {
          expect(size + pageHeaderBytes(1)).toBeGreaterThan(length);
          continue;
        }
        expect(first).toBe(pageHeaderBytes(cap));
        expect(first % PAGE_ALIGN).toBe(0);
        expect(first).toBeGreaterThanOrEqual(PAGE_FIXED_BYTES + Math.ceil(cap / 32) * 4);
        expect(first + cap * size).toBeLessThanOrEqual(length);
        expect(pageHeaderBytes(cap + 1) + (cap + 1) * size).toBeGreaterThan(length);
      }
    }
  });

  it("gives each class the smallest page size from the minimum up holding 8 blocks", () => {
    for (const min of PAGE_SIZES) {
      for (const max of PAGE_SIZES.filter((p) => p >= min)) {
        for (let c = 0; c < CLASS_COUNT; c++) {
          const size = classSize(c);
          const P = pageSizeFor(size, min, max);
          expect(P >= min && P <= max).toBe(true);
          const holds = (p: number) => pageCapacity(size, pageLength(p)) >= MIN_BLOCKS_PER_PAGE;
          if (P < max) expect(holds(P)).toBe(true);
          if (P > min) expect(holds(P / 2)).toBe(false);
        }
      }
    }
  });

  it("with the defaults (4 KiB … 16 KiB) puts the classes where the header says", () => {
    const sizes = (P: number) =>
      CLASSES.filter((s) => s <= 2048 && pageSizeFor(s, 4096, 16384) === P);
    expect(sizes(4096)).toEqual(CLASSES.slice(0, CLASSES.indexOf(448) + 1));
    expect(sizes(8192)).toEqual([512, 640, 768, 896]);
    expect(sizes(16384)).toEqual([1024, 1280, 1536, 1792, 2048]);
    expect(pageCapacity(8, pageLength(4096))).toBe(498);
    expect(pageCapacity(448, pageLength(4096))).toBe(9);
    expect(pageCapacity(2048, pageLength(16384))).toBe(7);
    expect(MIN_PAGE_SIZE).toBe(1024);
    expect(MAX_PAGE_SIZE).toBe(65536);
  });
});

describe("exact division (block index without a divide)", () => {
  it("finds x / d for every multiple, and no small quotient for anything else", () => {
    // Every page offset up to 64 KiB, and offsets that wrapped below 0 (a pointer into a
    // page header) or lie near 2^32.
    const far = [2 ** 31, 2 ** 32 - 1, 2 ** 32 - 8, 2 ** 32 - 16, 2 ** 32 - 48, 2 ** 32 - 2048];
    for (let c = 0; c < CLASS_COUNT; c++) {
      const d = classSize(c);
      const s = divisorShift(d);
      const inv = divisorInverse(d);
      expect(d % 2 ** s).toBe(0);
      expect((d / 2 ** s) % 2).toBe(1);
      expect(Math.imul(d >>> s, inv)).toBe(1);
      const bound = Math.floor((2 ** 32 - 1) / d);
      for (let x = 0; x <= 65536; x++) {
        const q = exactQuotient(x, s, inv);
        const ok = x % d === 0 ? q === x / d : q > bound;
        if (!ok) expect(q, `d ${d} x ${x}`).toBe(x % d === 0 ? x / d : "above the bound");
      }
      for (const x of far) {
        const q = exactQuotient(x, s, inv);
        expect(x % d === 0 ? q === x / d : q > bound, `d ${d} x ${x}`).toBe(true);
      }
    }
  });
});

describe("the class table", () => {
  it("holds each class's size, geometry and divisor", () => {
    for (const [min, max] of [
      [4096, 16384],
      [1024, 1024],
      [1024, 65536],
    ]) {
      const info = classInfo(CLASS_COUNT, min, max);
      expect(info.length).toBe(CLASS_COUNT * CLASS_INFO_WORDS);
      for (let c = 0; c < CLASS_COUNT; c++) {
        const k = c * CLASS_INFO_WORDS;
        const size = classSize(c);
        const P = pageSizeFor(size, min, max);
        expect([
          info[k + K_SIZE],
          info[k + K_FIRST],
          info[k + K_CAP],
          info[k + K_LENGTH],
          info[k + K_KIND],
          info[k + K_SHIFT],
          info[k + K_INVERSE],
        ]).toEqual([
          size,
          firstBlockOffset(size, pageLength(P)),
          pageCapacity(size, pageLength(P)),
          pageLength(P),
          Math.log2(P / min),
          divisorShift(size),
          divisorInverse(size),
        ]);
      }
    }
  });
});
