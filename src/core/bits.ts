/**
 * Alignment and bit helpers. Every helper is exact for any non-negative safe integer: sizes
 * and offsets go up to 2^32 and beyond, where `(x + a - 1) & ~(a - 1)` would wrap to a
 * negative or small number (the classic allocator overflow, RELIABILITY.md §0 lesson 4).
 */

/** `x` rounded up to a multiple of `align` (a power of two ≤ 2^30). Exact below 2^53. */
export function alignUp(x: number, align: number): number {
  // `x & (align - 1)` keeps only low bits, which ToInt32 preserves for any integer, and
  // adding only what is missing never rounds past x near 2^53.
  const r = x & (align - 1);
  return r === 0 ? x : x + (align - r);
}

/** `x` rounded down to a multiple of `align` (a power of two ≤ 2^30). Exact below 2^53. */
export function alignDown(x: number, align: number): number {
  return x - (x & (align - 1));
}

/** Whether `x` is a multiple of `align` (a power of two ≤ 2^30). */
export function isAligned(x: number, align: number): boolean {
  return (x & (align - 1)) === 0;
}

/** Whether `x` is a power of two (1, 2, 4, … 2^30). */
export function isPowerOfTwo(x: number): boolean {
  return (x | 0) === x && x > 0 && (x & (x - 1)) === 0;
}

/** floor(log2(x)) for 1 ≤ x < 2^32. */
export function log2Floor(x: number): number {
  return 31 - Math.clz32(x);
}

/** The smallest power of two ≥ x, for 1 ≤ x ≤ 2^31. */
export function nextPowerOfTwo(x: number): number {
  return x <= 1 ? 1 : 2 ** (32 - Math.clz32(x - 1));
}

/** The number of bits set in the low 32 bits of `x` (SWAR: no loop over the bits). */
export function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
