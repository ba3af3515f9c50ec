/**
 * The SlabAllocator's size classes and page geometry, as pure functions (STYLE habit 6:
 * the mapping is core/size-classes.ts's scheme (3, 6, 2), tested exhaustively there; what
 * the slab adds is tested here for every size).
 *
 * ## Size classes
 * 28 classes, 8 … 2048 bytes. Up to 64 bytes the classes are 8 bytes apart (every
 * multiple of 8, the minimum alignment); above, each power-of-two range (2^e, 2^(e+1)] is
 * cut into CLASSES_PER_DOUBLING = 4 classes 2^(e-2) apart (a "small float": 2 mantissa
 * bits), so a request never wastes more than a quarter of the range it falls in. A request
 * takes the smallest class at least as large; slab class c is the size-class module's class
 * c + 1 (whose class 0, size 0, holds no request).
 *
 *     class   0   1   2   3   4   5   6   7 |  8   9  10  11 | 12  13  14  15 | 16  17  18  19
 *     size    8  16  24  32  40  48  56  64 | 80  96 112 128 |160 192 224 256 |320 384 448 512
 *     class  20  21  22  23 | 24   25   26   27
 *     size  640 768 896 1024|1280 1536 1792 2048
 *
 * Worst-case internal waste of a class (a request one byte above the previous class;
 * `worstCaseWaste`): 7 bytes for the classes up to 64 (87.5 % of the 8-byte class for a
 * 1-byte request, 10.9 % of the 64-byte class), then 15 bytes for 80…128, 31 for 160…256,
 * 63 for 320…512, 127 for 640…1024 and 255 for 1280…2048: at most 19.9 % of the block for
 * every class of 40 bytes and more (1280: 255/1280). `alloc(0)` takes an 8-byte block.
 *
 *     worst waste   8:7  16:7  24:7  32:7  40:7  48:7  56:7  64:7
 *                  80:15 96:15 112:15 128:15   160:31 192:31 224:31 256:31
 *                 320:63 384:63 448:63 512:63  640:127 768:127 896:127 1024:127
 *                1280:255 1536:255 1792:255 2048:255
 *
 * A request with an alignment of 16 takes the smallest class that is at least `size` bytes and
 * a multiple of 16 (8 → 16, 24 → 32, 40 → 48, 56 → 64; every class from 64 up already is):
 * pages start 16-aligned and so does block 0, so the blocks of a class are aligned to
 * min(16, the largest power of two dividing its size) (`classAlign`). Larger alignments are
 * served by the parent (the slab's large path).
 *
 * ## Page geometry
 * A page of class c is a parent block of `pageLength(pageSizeFor(size, min, max))` bytes at
 * any 16-aligned address: nothing is derived from a page's address, so the parent wastes
 * nothing on aligning it. Its page size is the smallest power of two from `min` up whose
 * page holds at least MIN_BLOCKS_PER_PAGE blocks (at most `max`): small classes get small
 * pages, so a class with few live blocks holds little idle memory. A page asks the parent
 * for PARENT_RESERVE bytes less than its page size, which leaves room for the parent's own
 * per-block header: over a TLSF (4-byte header, blocks rounded to 16) the parent block is
 * then exactly the page size, where TLSF's lists start, so the next page request finds a
 * freed page's block again instead of cutting a new one.
 *
 * A header starts the page: PAGE_FIXED_BYTES of fields, then a bitmap of one bit per block,
 * rounded up to PAGE_ALIGN bytes; the blocks follow. `pageCapacity` is the largest block
 * count whose blocks and header fit; `firstBlockOffset` is where block 0 starts.
 *
 *     page (16-aligned, pageLength bytes)
 *     | header fields | bitmap | pad | block 0 | block 1 | … | block cap-1 | tail (unused) |
 *     ^ page                        ^ page + firstBlockOffset                               ^
 *
 *     page sizes with the defaults (min 4 KiB, max 16 KiB; blocks per page):
 *       4 KiB  classes 8 … 448 (498 … 9)       8 KiB  512 … 896 (15 … 9)
 *      16 KiB  1024 … 2048 (15 … 7)
 */

import { alignUp, log2Floor } from "../../core/bits.js";
import { searchClass, classSize as sizeOfClass } from "../../core/size-classes.js";

/** The smallest class: every block is at least 8 bytes and 8-aligned. */
export const MIN_CLASS_SIZE = 8;
/** Sizes up to this are served by classes MIN_CLASS_SIZE apart. */
export const LINEAR_CLASS_LIMIT = 64;
/** Classes in the linear range (8, 16, … 64). */
export const LINEAR_CLASSES = LINEAR_CLASS_LIMIT / MIN_CLASS_SIZE;
/** log2 of the classes per power-of-two range above LINEAR_CLASS_LIMIT. */
export const CLASS_MANTISSA_BITS = 2;
export const CLASSES_PER_DOUBLING = 1 << CLASS_MANTISSA_BITS;
/** The largest class. */
export const MAX_CLASS_SIZE = 2048;
const GRANULE_LOG2 = log2Floor(MIN_CLASS_SIZE);
const LOG2_LINEAR_LIMIT = log2Floor(LINEAR_CLASS_LIMIT);
/** Number of classes: the linear ones, then 4 per doubling from 64 to MAX_CLASS_SIZE. */
export const CLASS_COUNT = sizeToClass(MAX_CLASS_SIZE) + 1;

/** Smallest and largest page sizes. */
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;
/** The alignment the slab asks its parent for a page with; block 0 is aligned to it too. */
export const PAGE_ALIGN = 16;
/** Bytes of the fixed page header fields (8 u32 words); the bitmap follows them. */
export const PAGE_FIXED_BYTES = 32;
/** A page asks its parent for this many bytes less than its page size (see above). */
export const PARENT_RESERVE = 16;
/** A class's page size is the smallest (from the minimum up) holding this many blocks. */
export const MIN_BLOCKS_PER_PAGE = 8;
/** Bits per bitmap word. */
export const BITMAP_WORD_BITS = 32;
const BITMAP_WORD_BYTES = BITMAP_WORD_BITS / 8;

/** The block size of class `c` (0 ≤ c < CLASS_COUNT). */
export function classSize(c: number): number {
  return sizeOfClass(c + 1, GRANULE_LOG2, LOG2_LINEAR_LIMIT, CLASS_MANTISSA_BITS);
}

/** The smallest class whose blocks hold `size` bytes (0 ≤ size ≤ MAX_CLASS_SIZE). */
export function sizeToClass(size: number): number {
  return searchClass(Math.max(size, 1), GRANULE_LOG2, LOG2_LINEAR_LIMIT, CLASS_MANTISSA_BITS) - 1;
}

/** The alignment every block of class `c` has: min(PAGE_ALIGN, the largest power of two dividing its size). */
export function classAlign(c: number): number {
  const s = classSize(c);
  return Math.min(PAGE_ALIGN, s & -s);
}

/**
 * The class serving `alloc(size, align)` when only classes 0 … classCount−1 are in use, or
 * −1 when the request is too large for them or asks for more than PAGE_ALIGN (it then goes
 * to the parent).
 */
export function classForRequest(size: number, align: number, classCount: number): number {
  if (align > PAGE_ALIGN) return -1;
  const need = Math.max(size, align);
  if (need > classSize(classCount - 1)) return -1;
  let c = sizeToClass(need);
  while (c < classCount && classAlign(c) < align) c++;
  return c < classCount ? c : -1;
}

/** The most bytes a request served by class `c` can leave unused (requests ≥ 1 byte). */
export function worstCaseWaste(c: number): number {
  const smallestRequest = c === 0 ? 1 : classSize(c - 1) + 1;
  return classSize(c) - smallestRequest;
}

/** Bytes of a page header for `capacity` blocks: the fields plus the bitmap, PAGE_ALIGN-aligned. */
export function pageHeaderBytes(capacity: number): number {
  return alignUp(
    PAGE_FIXED_BYTES + BITMAP_WORD_BYTES * Math.ceil(capacity / BITMAP_WORD_BITS),
    PAGE_ALIGN,
  );
}

/** How many blocks of `blockSize` bytes fit in a page of `pageSize` bytes after its header. */
export function pageCapacity(blockSize: number, pageSize: number): number {
  let cap = Math.floor((pageSize - PAGE_FIXED_BYTES) / blockSize);
  while (cap > 0 && cap * blockSize + pageHeaderBytes(cap) > pageSize) cap--;
  return cap;
}

/** Offset of block 0 in a page of blocks of `blockSize` bytes. */
export function firstBlockOffset(blockSize: number, pageSize: number): number {
  return pageHeaderBytes(pageCapacity(blockSize, pageSize));
}

/** The bytes a page of page size `pageSize` asks its parent for. */
export function pageLength(pageSize: number): number {
  return pageSize - PARENT_RESERVE;
}

/**
 * The page size of the class of `blockSize`: the smallest power of two from `minPage` up
 * whose page holds MIN_BLOCKS_PER_PAGE blocks, or `maxPage` if none up to it does.
 */
export function pageSizeFor(blockSize: number, minPage: number, maxPage: number): number {
  let P = minPage;
  while (P < maxPage && pageCapacity(blockSize, pageLength(P)) < MIN_BLOCKS_PER_PAGE) P *= 2;
  return P;
}

/**
 * Exact division by a block size `d` without a divide (Granlund and Montgomery, "Division
 * by invariant integers using multiplication", 1994, §9; Hacker's Delight §10-16): with
 * d = m · 2^s, m odd, and m⁻¹ its inverse modulo 2^32, the offset x (0 ≤ x < 2^32) is a
 * multiple of d exactly when q = rotr32(x · m⁻¹, s) ≤ ⌊(2^32 − 1) / d⌋, and then q = x / d.
 * Any x that is no multiple of d gives a q above that bound, so one comparison of q with a
 * page's carved block count both finds the block and rejects interior pointers.
 * `divisorShift(d)` is s; `divisorInverse(d)` is m⁻¹ as an int32.
 */
export function divisorShift(d: number): number {
  return 31 - Math.clz32(d & -d);
}

export function divisorInverse(d: number): number {
  const m = d >>> divisorShift(d);
  let x = m; // correct to 3 bits for odd m; each Newton step doubles the bits
  for (let i = 0; i < 4; i++) x = Math.imul(x, 2 - Math.imul(m, x));
  return x | 0;
}

/** x / d for a multiple x of d (0 ≤ x < 2^32), else a number above ⌊(2^32 − 1) / d⌋. */
export function exactQuotient(x: number, shift: number, inverse: number): number {
  const t = Math.imul(x, inverse);
  return ((t >>> shift) | (t << (32 - shift))) >>> 0;
}

/**
 * Everything the hot paths need of a class, in one int32 array of CLASS_INFO_WORDS words per
 * class (one view and one bounds check instead of one per field): `info[(c << 3) + K_SIZE]`.
 */
export const K_SIZE = 0; // block size
export const K_FIRST = 1; // offset of block 0 in a page
export const K_CAP = 2; // blocks per page
export const K_LENGTH = 3; // page length: the bytes a page asks its parent for
export const K_KIND = 4; // log2(page size / minPage)
export const K_SHIFT = 5; // divisorShift(size)
export const K_INVERSE = 6; // divisorInverse(size)
export const CLASS_INFO_SHIFT = 3;
export const CLASS_INFO_WORDS = 1 << CLASS_INFO_SHIFT;

/** The class info of classes 0 … classCount−1 with pages of `minPage` … `maxPage` bytes. */
export function classInfo(classCount: number, minPage: number, maxPage: number): Int32Array {
  const info = new Int32Array(classCount * CLASS_INFO_WORDS);
  for (let c = 0; c < classCount; c++) {
    const size = classSize(c);
    const pageSize = pageSizeFor(size, minPage, maxPage);
    const length = pageLength(pageSize);
    const k = c * CLASS_INFO_WORDS;
    info[k + K_SIZE] = size;
    info[k + K_FIRST] = firstBlockOffset(size, length);
    info[k + K_CAP] = pageCapacity(size, length);
    info[k + K_LENGTH] = length;
    info[k + K_KIND] = Math.log2(pageSize / minPage);
    info[k + K_SHIFT] = divisorShift(size);
    info[k + K_INVERSE] = divisorInverse(size);
  }
  return info;
}

/** The largest class whose size is at most `bytes` (bytes ≥ MIN_CLASS_SIZE). */
export function classAtMost(bytes: number): number {
  const c = sizeToClass(Math.min(bytes, MAX_CLASS_SIZE));
  return classSize(c) > bytes ? c - 1 : c;
}
