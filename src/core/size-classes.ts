/**
 * Size classes, once for every user: TLSF's free lists, the slab's classes and the shared
 * heap's page classes are all the same kind of mapping, a "small float" over sizes (as in
 * TLSF's two-level index and OffsetAllocator's bins). Pure functions over numbers, tested
 * exhaustively (test/core/size-classes.test.ts).
 *
 * A scheme has three parameters, passed to every function so that a caller's constants
 * fold into the code (give them module-local names and wrap the calls, as
 * strategies/tlsf/mapping.ts does):
 * - `granuleLog2`: below the linear limit, classes are 2^granuleLog2 bytes apart;
 * - `linearLog2`: the linear limit is 2^linearLog2 bytes;
 * - `mantissaBits` (at least 1): from the linear limit up, each power-of-two range
 *   [2^e, 2^(e+1)) is cut into 2^mantissaBits classes 2^(e − mantissaBits) apart.
 *
 * Class c holds the sizes [classSize(c), classSize(c + 1)); class 0 starts at size 0.
 *
 *     class   0   1   …   L−1 |  L          L+1  …  L+2^m−1          | L+2^m …
 *     size    0   g   …  (L−1)g | 2^l  2^l + 2^(l−m)  …  2^(l+1) − 2^(l−m) | 2^(l+1) …
 *     (g = 2^granuleLog2, L = 2^(linearLog2 − granuleLog2) linear classes)
 *
 * Schemes in use (granuleLog2, linearLog2, mantissaBits):
 * | user                      | scheme    | classes                                       |
 * | ------------------------- | --------- | --------------------------------------------- |
 * | TLSF free lists           | (3, 8, 5) | every 8 bytes to 256, then 32 per doubling     |
 * | slab classes              | (3, 6, 2) | every 8 bytes to 64, then 4 per doubling       |
 * | shared heap page classes  | (4, 7, 2) | every 16 bytes to 128, then 4 per doubling     |
 *
 * The slab and the shared heap serve a request from the smallest class at least as large
 * (`searchClass`), and number their classes from 1 (class 0, size 0, holds no request).
 *
 * Sizes are integers 0 … 2^32 − 1.
 */

/** The class whose range holds `size`: the largest c with classSize(c) ≤ size. */
export function classOf(
  size: number,
  granuleLog2: number,
  linearLog2: number,
  mantissaBits: number,
): number {
  if (size < 1 << linearLog2) return size >>> granuleLog2;
  const msb = 31 - Math.clz32(size);
  return (
    (1 << (linearLog2 - granuleLog2)) +
    ((msb - linearLog2) << mantissaBits) +
    ((size >>> (msb - mantissaBits)) & ((1 << mantissaBits) - 1))
  );
}

/**
 * The first class whose every size is at least `size`: the smallest c with
 * classSize(c) ≥ size, found by rounding `size` up to the next class step. A size within
 * one class step of 4 GiB (its rounding passes 2^32 − granule) gets the class just past the
 * last one below 2^32, which no caller has: nothing is certain to hold it.
 */
export function searchClass(
  size: number,
  granuleLog2: number,
  linearLog2: number,
  mantissaBits: number,
): number {
  if (size < 1 << linearLog2) return (size + (1 << granuleLog2) - 1) >>> granuleLog2;
  const msb = 31 - Math.clz32(size);
  const step = 1 << (msb - mantissaBits);
  const rounded = size + step - 1;
  if (rounded > 2 ** 32 - (1 << granuleLog2)) {
    return (1 << (linearLog2 - granuleLog2)) + ((32 - linearLog2) << mantissaBits);
  }
  return classOf(rounded - (rounded & (step - 1)), granuleLog2, linearLog2, mantissaBits);
}

/** The smallest size class `c` holds. */
export function classSize(
  c: number,
  granuleLog2: number,
  linearLog2: number,
  mantissaBits: number,
): number {
  const linear = 1 << (linearLog2 - granuleLog2);
  if (c < linear) return c * 2 ** granuleLog2;
  const k = c - linear;
  const e = linearLog2 + Math.floor(k / 2 ** mantissaBits);
  return 2 ** e + (k % 2 ** mantissaBits) * 2 ** (e - mantissaBits);
}
