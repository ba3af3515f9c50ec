/**
 * BuddyAllocator's bytes and geometry: the span of units and orders, the alignment rule, the
 * header and the metadata words (free lists as bitmaps per order). The strategy and its
 * costs: allocator.ts.
 *
 * ## The span: units, orders, origin
 * A *unit* is the smallest block, `minBlockSize` bytes (a power of two ≥ 8, default 16). A
 * block of order k is 2^k units and starts at a multiple of 2^k units from the ORIGIN. The
 * ORIGIN is `dataStart` rounded *down* to BASE_ALIGN = min(64 KiB, largest possible block),
 * so a block of order k is aligned to min(its size, 64 KiB) in absolute addresses. Units
 * below LO (the header and metadata, and the bytes before the region) and from HI on (not
 * yet part of the region) are *holes*: a block exists only if it lies entirely in [LO, HI).
 * So the region is not rounded to a power of two: it is covered by the largest aligned
 * blocks that fit (several top-level blocks of the top order, plus smaller ones at the ends),
 * and only less than one unit is lost at each end. Two buddies merge only if their parent
 * exists (lies in [LO, HI), order ≤ MAX_ORDER); blocks never merge past MAX_ORDER
 * (`maxBlockSize`), which gives acid_alloc's "several top-level blocks".
 *
 *     unit:   0        LO                                         HI        HI_MAX
 *     bytes:  ORIGIN   | meta | 1 | 2 u | 4 u  | 8 u     | 8 u     | 2 u |   (growth)  |
 *             ^ multiple of BASE_ALIGN; the region may start above it
 *
 * ## Alignment rule
 * `alloc(size, align)` takes the smallest order whose block holds max(size, align, 1) bytes;
 * that block is `align`-aligned because blocks are aligned to min(size, 64 KiB) and
 * `align` ≤ MAX_ALIGN = 64 KiB. Alignment thus costs no padding, only a larger order. An
 * alignment (or size) above `maxBlockSize` can never be served: `alloc` returns 0.
 *
 * ## Memory picture (all out of line: header slots, then metadata words)
 *
 *     header: 8 common slots + 8 buddy slots (float64 each)
 *     slot  8 ORIGIN      byte address of unit 0 (a multiple of BASE_ALIGN)
 *     slot  9 LO          first unit a block may use (units below are holes)
 *     slot 10 HI          one past the last unit of the region so far (grows with the memory)
 *     slot 11 HI_MAX      one past the last unit the metadata covers (growth limit)
 *     slot 12 MAX_ORDER   the top order: blocks never merge above it
 *     slot 13 FREE_BYTES  bytes in free blocks
 *     slot 14 LIVE        live blocks
 *     slot 15 PEAK        highest bytes in use since creation or the last reset
 *     CONFIG (slot 6)     log2(minBlockSize) + 32 × top order bound + 1024 × NUMAX
 *
 *     metadata: Uint32 words right after the header
 *     word 0              ORDER_MASK: bit k set ⇔ some free block has order k
 *     free bitmaps        per order k = 0 … K: one bit per node "free block of order k starts
 *                         here", plus summary levels: bit b of level l+1 ⇔ word b of level l ≠ 0
 *                         (a hierarchical bitmap: the lowest free block of an order is found in
 *                         ≤ 6 word reads, and the lists are address-ordered)
 *     split bitmaps       per order k = 1 … K: one bit per node "this node is split in halves"
 *     raised bitmap       one bit per unit: "the live block starting here has a larger order
 *                         than its size needs (its alignment raised it)"; see dealloc
 *
 *     node (j, k) = the block of order k starting at unit j; its bit position in the order-k
 *     bitmaps is (j >> k) − (LO >> k), so holes below LO cost no metadata.
 *     NUMAX = ⌈capacity / minBlockSize⌉ sizes every bitmap: order k has (NUMAX >> k) + 1 bits.
 *
 *     | order-k free bitmap, level 0       |   | level 1  |   ORDER_MASK
 *     | 0 0 1 0 … | 1 0 0 0 … | 0 0 0 0 …  |   | 1 1 0 …  |   bit k = (top word ≠ 0)
 *       ^ bit p = free block (LO>>k … ) + p
 *
 * A leaf is a node that exists and is not split whose parent is split or does not exist;
 * leaves tile [LO, HI) exactly. A leaf is free iff its free bit is set, else it is live. The
 * order of a live block is found bottom-up from its first unit: the first order whose parent
 * is split (or absent) — O(order) bit reads. Nothing is stored in the blocks, so offset-only
 * memories work, and user overflows cannot reach the metadata of other blocks.
 *
 * Metadata per unit: 2 free bits (all orders, + ~3% summaries) + 1 split bit + 1 raised bit
 * ≈ 4.1 bits = 0.51 bytes per `minBlockSize` bytes (measured: 33,632 bytes for 1 MiB of
 * 16-byte units, 3.2%; 6.4% at 8-byte units), sized for `maxCapacity` at creation. Per-block overhead: none in the block; internal waste
 * is the rounding of the request up to a power of two (< 50% of the block).
 */

import type { AllocatorOptions } from "../../core/allocator.js";
import { alignUp, isPowerOfTwo, log2Floor } from "../../core/bits.js";
import { ArgumentRangeError, ArgumentTypeError } from "../../core/errors.js";
import { declareHeader } from "../../core/header.js";
import { MAX_ALIGN } from "../../core/validate.js";
import { FixedMemory } from "../../memory/memory.js";

// ---- header slots --------------------------------------------------------------------------

export const BUDDY_HEADER = declareHeader([
  "ORIGIN",
  "LO",
  "HI",
  "HI_MAX",
  "MAX_ORDER",
  "FREE_BYTES",
  "LIVE",
  "PEAK",
]);
export const { ORIGIN, LO, HI, HI_MAX, MAX_ORDER, FREE_BYTES, LIVE, PEAK } = BUDDY_HEADER.slot;

// ---- metadata words ------------------------------------------------------------------------

/** Word 0 of the metadata: bit k set ⇔ the order-k free bitmap has a set bit. */
export const ORDER_MASK = 0;
/** Words before the first bitmap. */
export const FIXED_WORDS = 1;
/** log2 of the level slots per order: order k's level offsets start at k << LEVEL_SHIFT. */
export const LEVEL_SHIFT = 3;
/** Summary levels a free bitmap may have (2^29 bits need 6: 32^6 ≥ 2^29). */
export const MAX_LEVELS = 1 << LEVEL_SHIFT;
export const WORD_SHIFT = 5;
export const WORD_BITS = 1 << WORD_SHIFT;
export const BIT_MASK = WORD_BITS - 1;

/** Smallest and default smallest block. */
export const BUDDY_MIN_BLOCK = 8;
export const BUDDY_DEFAULT_MIN_BLOCK = 16;
/** The largest order any buddy can have: 2^29 units of 8 bytes span 4 GiB. */
export const ORDER_LIMIT = 29;

export interface BuddyOptions extends AllocatorOptions {
  /** The smallest block, a power of two ≥ 8 (default 16). Metadata: 0.51 bytes per block. */
  minBlockSize?: number;
  /**
   * The largest block (the top order), a power of two ≥ minBlockSize. Blocks never merge
   * above it, so the span is several top-level blocks of this size. Default: as large as the
   * region allows. A value larger than the region can hold is lowered to what fits.
   */
  maxBlockSize?: number;
  /**
   * The most bytes of blocks this allocator will ever manage; the metadata is sized for it
   * at creation (0.51 bytes per minBlockSize bytes). When it exceeds the memory's current
   * size, the allocator grows a growable memory up to it. Default: the memory's size now.
   */
  maxCapacity?: number;
}

/**
 * The order of the smallest block holding `bytes` bytes, with units of 2^`log2Unit` bytes:
 * ⌈log2(⌈bytes / unit⌉)⌉, and 0 for 0 … unit bytes. Exact for 0 ≤ bytes < 2^32.
 */
export function buddyOrder(bytes: number, log2Unit: number): number {
  if (bytes <= 1 << log2Unit) return 0;
  return 32 - Math.clz32((bytes - 1) >>> log2Unit);
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
export function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Where each bitmap lives in the metadata words; derived from the configuration alone. */
export interface Geometry {
  readonly log2Unit: number;
  /** ⌈capacity / unit⌉: bounds HI_MAX − LO, so order k needs (NUMAX >> k) + 1 bits. */
  readonly numax: number;
  /** The highest order the bitmaps cover (the top order is at most this). */
  readonly orderBound: number;
  /** The origin is a multiple of this: min(MAX_ALIGN, largest block the bitmaps cover). */
  readonly baseAlign: number;
  /** Word offset of level l of order k's free bitmap at [k << LEVEL_SHIFT | l]. */
  readonly freeAt: Int32Array;
  /** Summary levels of order k's free bitmap (level levels−1 is one word). */
  readonly levels: Uint8Array;
  /** Word offset of order k's split bitmap (k ≥ 1). */
  readonly splitAt: Int32Array;
  /** Word offset of the raised bitmap (one bit per unit, from LO). */
  readonly raisedAt: number;
  readonly words: number;
  readonly config: number;
}

export function planGeometry(capacity: number, log2Unit: number, orderCap: number): Geometry {
  const numax = Math.max(1, Math.ceil(capacity / 2 ** log2Unit));
  const orderBound = Math.min(orderCap, log2Floor(numax), ORDER_LIMIT);
  const freeAt = new Int32Array((orderBound + 1) * MAX_LEVELS);
  const levels = new Uint8Array(orderBound + 1);
  const splitAt = new Int32Array(orderBound + 1);
  let at = FIXED_WORDS;
  for (let k = 0; k <= orderBound; k++) {
    let bits = (numax >> k) + 1;
    let l = 0;
    for (;;) {
      const words = (bits + BIT_MASK) >>> WORD_SHIFT;
      freeAt[(k << LEVEL_SHIFT) | l] = at;
      at += words;
      l++;
      if (words === 1) break;
      bits = words;
    }
    levels[k] = l;
  }
  for (let k = 1; k <= orderBound; k++) {
    splitAt[k] = at;
    at += ((numax >> k) + 1 + BIT_MASK) >>> WORD_SHIFT;
  }
  const raisedAt = at;
  at += (numax + BIT_MASK) >>> WORD_SHIFT;
  return {
    log2Unit,
    numax,
    orderBound,
    baseAlign: Math.min(MAX_ALIGN, 2 ** (log2Unit + orderBound)),
    freeAt,
    levels,
    splitAt,
    raisedAt,
    words: at,
    config: log2Unit + 32 * orderBound + 1024 * numax,
  };
}

export function optionPowerOfTwo(v: unknown, what: string, min: number): number {
  if (typeof v !== "number") throw new ArgumentTypeError(`${what} must be a number`);
  if (!(isPowerOfTwo(v) && v >= min)) {
    throw new ArgumentRangeError(
      `${what} must be a power of two ≥ ${min} and ≤ 2^30, got ${v}`,
      "ERR_ALLOC_SIZE",
    );
  }
  return v;
}

/** The smallest block's log2 and the top order cap, from the options. */
export function resolveOrders(options: BuddyOptions): { log2Unit: number; orderCap: number } {
  const unit = optionPowerOfTwo(
    options.minBlockSize ?? BUDDY_DEFAULT_MIN_BLOCK,
    "minBlockSize",
    BUDDY_MIN_BLOCK,
  );
  const log2Unit = log2Floor(unit);
  let orderCap = ORDER_LIMIT;
  if (options.maxBlockSize !== undefined) {
    const top = optionPowerOfTwo(options.maxBlockSize, "maxBlockSize", unit);
    orderCap = log2Floor(top) - log2Unit;
  }
  return { log2Unit, orderCap };
}

export function resolveCapacity(v: unknown): number {
  if (typeof v !== "number") throw new ArgumentTypeError("maxCapacity must be a number");
  if (!(Number.isSafeInteger(v) && v > 0 && v <= 2 ** 32)) {
    throw new ArgumentRangeError(`maxCapacity must be an integer 1 … 2^32, got ${v}`, "ERR_MEMORY");
  }
  return v;
}

/**
 * A fresh zeroed buffer for `new BuddyAllocator(capacity)`: the region starts where its
 * header and metadata end at a multiple of the origin alignment, so the blocks are exactly
 * `capacity` bytes from the origin (the bytes before the region are padding, < 64 KiB).
 */
export function ownedBuddyMemory(capacity: number, geo: Geometry): FixedMemory {
  const meta = alignUp(BUDDY_HEADER.bytes + geo.words * 4, 8);
  const pad = alignUp(meta, geo.baseAlign) - meta;
  return new FixedMemory(new ArrayBuffer(pad + meta + capacity), pad, meta + capacity, true);
}
