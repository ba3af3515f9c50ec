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
 * A request with an alignment above 8 takes the smallest class that is at least
 * max(size, align) bytes and a multiple of align (blocks of a class are aligned to the
 * largest power of two dividing the class size, because block 0 starts at the page
 * start): at most three classes up from `sizeToClass(max(size, align))`, since every
 * fourth class from 32 on is a power of two.
 *
 * ## Page geometry
 * A page is `pageSize` bytes (a power of two, 1 KiB … 64 KiB) aligned to `pageSize`.
 * Blocks fill it from offset 0; a trailer ends it: TRAILER_FIXED_BYTES of fields, then a
 * bitmap of one bit per block, rounded up to 8 bytes. `pageCapacity` is the largest block
 * count whose blocks and trailer fit; `trailerOffset` is where the trailer starts.
 *
 *     page (pageSize-aligned)
 *     | block 0 | block 1 | … | block cap-1 | tail (unused) | trailer fields | bitmap |
 *     ^ page                                               ^ trailerOffset          ^ page + pageSize
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

/** Smallest and largest page sizes (the largest is MAX_ALIGN: pages are aligned to their size). */
export const MIN_PAGE_SIZE = 1024;
export const MAX_PAGE_SIZE = 65536;
/** Bytes of the fixed trailer fields (8 u32 words); the bitmap follows them. */
export const TRAILER_FIXED_BYTES = 32;
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

/** The alignment every block of class `c` has: the largest power of two dividing its size. */
export function classAlign(c: number): number {
  const s = classSize(c);
  return s & -s;
}

/**
 * The class serving `alloc(size, align)` when only classes 0 … classCount−1 are in use, or
 * −1 when the request is too large for them (it then goes to the parent).
 */
export function classForRequest(size: number, align: number, classCount: number): number {
  const need = Math.max(size, align);
  if (need > classSize(classCount - 1)) return -1;
  let c = sizeToClass(need);
  while (c < classCount && classSize(c) % align !== 0) c++;
  return c < classCount ? c : -1;
}

/** The most bytes a request served by class `c` can leave unused (requests ≥ 1 byte). */
export function worstCaseWaste(c: number): number {
  const smallestRequest = c === 0 ? 1 : classSize(c - 1) + 1;
  return classSize(c) - smallestRequest;
}

/** Bytes of a trailer for a page of `capacity` blocks: the fields plus the bitmap, 8-aligned. */
export function trailerBytes(capacity: number): number {
  return alignUp(
    TRAILER_FIXED_BYTES + BITMAP_WORD_BYTES * Math.ceil(capacity / BITMAP_WORD_BITS),
    8,
  );
}

/** How many blocks of `blockSize` bytes fit in a page of `pageSize` bytes beside its trailer. */
export function pageCapacity(blockSize: number, pageSize: number): number {
  let cap = Math.floor((pageSize - TRAILER_FIXED_BYTES) / blockSize);
  while (cap > 0 && cap * blockSize + trailerBytes(cap) > pageSize) cap--;
  return cap;
}

/** Offset of the trailer in a page of blocks of `blockSize` bytes. */
export function trailerOffset(blockSize: number, pageSize: number): number {
  return pageSize - trailerBytes(pageCapacity(blockSize, pageSize));
}

/** The largest class whose size is at most `bytes` (bytes ≥ MIN_CLASS_SIZE). */
export function classAtMost(bytes: number): number {
  const c = sizeToClass(Math.min(bytes, MAX_CLASS_SIZE));
  return classSize(c) > bytes ? c - 1 : c;
}
