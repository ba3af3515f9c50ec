/**
 * The size-class module against a reference built from its definition: the sorted list of
 * class boundaries, searched. Every size below 2^17, and the sizes next to every boundary up
 * to 4 GiB, for the schemes memkit uses and a few others.
 */

import { describe, expect, it } from "vitest";
import { classOf, classSize, searchClass } from "../../src/core/size-classes.js";

type Scheme = readonly [granuleLog2: number, linearLog2: number, mantissaBits: number];

const SCHEMES: readonly Scheme[] = [
  [3, 8, 5], // TLSF
  [3, 6, 2], // slab
  [4, 7, 2], // shared heap pages
  [0, 2, 1],
  [2, 4, 3],
  [3, 3, 1],
];

/** Every class's smallest size below 2^32, from the definition. */
function boundaries([g, l, m]: Scheme): number[] {
  const out: number[] = [];
  for (let s = 0; s < 2 ** l; s += 2 ** g) out.push(s);
  for (let e = l; e < 32; e++) {
    for (let k = 0; k < 2 ** m; k++) out.push(2 ** e + k * 2 ** (e - m));
  }
  return out;
}

/** The largest index whose boundary is ≤ size. */
function floorIndex(b: readonly number[], size: number): number {
  let lo = 0;
  let hi = b.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (b[mid] <= size) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Sizes to try: all below 2^17, and each boundary and its neighbours up to 2^32 − 1. */
function sizes(b: readonly number[]): number[] {
  const out: number[] = [];
  for (let s = 0; s < 2 ** 17; s++) out.push(s);
  for (const x of b) {
    for (const d of [-9, -8, -1, 0, 1, 7, 8]) {
      if (x + d >= 2 ** 17 && x + d < 2 ** 32) out.push(x + d);
    }
  }
  out.push(2 ** 32 - 1);
  return out;
}

/** Collects failures instead of calling `expect` for every size (each call is slow). */
function failures(check: (fail: (what: string) => void) => void): string[] {
  const out: string[] = [];
  check((what) => {
    if (out.length < 10) out.push(what);
  });
  return out;
}

describe.each(SCHEMES)(
  "size classes (granule 2^%i, linear to 2^%i, 2^%i per doubling)",
  (...scheme) => {
    const [g, l, m] = scheme;
    const b = boundaries(scheme);

    it("classSize gives every class's smallest size", () => {
      expect(
        failures((fail) => {
          b.forEach((x, c) => {
            if (classSize(c, g, l, m) !== x)
              fail(`classSize(${c}) = ${classSize(c, g, l, m)}, not ${x}`);
          });
        }),
      ).toEqual([]);
    });

    it("classOf is the class whose range holds the size", () => {
      expect(
        failures((fail) => {
          for (const s of sizes(b)) {
            const want = floorIndex(b, s);
            if (classOf(s, g, l, m) !== want)
              fail(`classOf(${s}) = ${classOf(s, g, l, m)}, not ${want}`);
          }
        }),
      ).toEqual([]);
    });

    it("searchClass is the first class whose smallest size is at least the size", () => {
      // Sizes whose rounding up to the next class step passes 2^32 − granule get b.length.
      const limit = 2 ** 32 - 2 ** g;
      const step = (s: number) => (s < 2 ** l ? 1 : 2 ** (Math.floor(Math.log2(s)) - m));
      expect(
        failures((fail) => {
          for (const s of sizes(b)) {
            let want = b.findIndex((x) => x >= s);
            if (want < 0 || s + step(s) - 1 > limit) want = b.length;
            const got = searchClass(s, g, l, m);
            if (got !== want) fail(`searchClass(${s}) = ${got}, not ${want}`);
          }
        }),
      ).toEqual([]);
    });
  },
);
