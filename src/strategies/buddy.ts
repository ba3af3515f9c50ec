/**
 * BuddyAllocator: a binary buddy allocator (acid_alloc's `Buddy`). Every block is a power of
 * two times the smallest block; a block is split in halves ("buddies") until it fits a
 * request, and a freed block merges with its buddy whenever that one is free too, all the way
 * up. O(log n) alloc and free, no search, and no byte of metadata inside the blocks.
 *
 * Choose it for offset-only suballocation (GPU buffers, files: all metadata is out of line),
 * for blocks that must be aligned to their size, and wherever a bounded, predictable cost
 * matters more than memory efficiency: a request is rounded up to a power of two, so up to
 * half of a block can be internal waste. For general-purpose heaps TLSF wastes less.
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
 *
 * ## Cost (n = units, K = top order ≤ log2 n)
 * | operation   | best | worst        | notes                                                 |
 * | ----------- | ---- | ------------ | ----------------------------------------------------- |
 * | alloc       | O(1) | O(K)         | order from ORDER_MASK in O(1), ≤ 6 reads to find the   |
 * |             |      |              | block, one split per order above the request           |
 * | dealloc     | O(1) | O(K)         | O(order) to find the block, one merge per order        |
 * | realloc     | O(1) | O(K) + copy  | shrinks in place; grows in place into free buddies     |
 * | reset       | O(n / 32) |         | clears the bitmaps and tiles the region again          |
 * | growth      | O(K²) | O(K²)       | when a growable memory is grown to admit a new block    |
 *
 * Fragmentation: internal, up to half of a block (a request of 2^k + 1 bytes takes 2^(k+1)).
 * External: a free block cannot merge with a free neighbour that is not its buddy, so free
 * memory can be split into pieces none of which fits a large request. Blocks are taken
 * lowest address first, which keeps the high end of the span whole longest. After every
 * block is freed the span is one tiling of the largest aligned blocks again (full coalescing).
 *
 * ## dealloc and the size check
 * A pointer must be the first byte of a live block: outside [first unit, HI) or not on a
 * unit boundary → `InvalidPointerError`; inside a free block (freed already, possibly merged
 * into its buddy since) → `DoubleFreeError`; inside a live block but not its start →
 * `InvalidPointerError`. The size is optional (the order is known); when given it is checked:
 * `LayoutMismatchError` when size > the block's usable size, or when the block's order was
 * chosen by its size alone and `size` maps to a smaller order (size ≤ half the block, for
 * blocks above one unit). For a block whose order was raised by its alignment (the raised
 * bit), any size up to the block's size is accepted, because `deallocate(ptr, layout)` passes
 * the size only. All checks happen before any change.
 *
 * ## Growth
 * With `maxCapacity` larger than the memory now (a growable ArrayBuffer, SharedArrayBuffer or
 * WebAssembly.Memory), an allocation that finds no block grows the memory, but only when the
 * grown span is sure to hold the block (a failed allocation changes nothing), and adds the new
 * units as free blocks that merge with the free blocks below them. The metadata is sized for
 * `maxCapacity` at creation. Memory grown by someone else is adopted at the next allocation
 * that does not fit. Without `maxCapacity` the span is the memory as it is at creation.
 *
 * ## Invariants (`check()`)
 * Slots hold the values the configuration implies; LO ≤ HI ≤ HI_MAX and HI fits the memory.
 * Leaves tile [LO, HI) exactly (every unit covered once); every leaf exists and is aligned to
 * its order; a split node exists and its parent, if it exists, is split; no node inside a
 * leaf is split. A free block's buddy is not free at its order when their parent exists (else
 * they would have merged). Free bits are set exactly for free leaves (count and position);
 * summary levels and ORDER_MASK agree with the bits below them; raised bits only at starts of
 * live blocks. FREE_BYTES equals the bytes of the free leaves, LIVE the number of live ones.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import { alignDown, alignUp, isPowerOfTwo, log2Floor, popcount } from "../core/bits.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import { declareHeader, H_CONFIG, StrategyKind } from "../core/header.js";
import type { Memory } from "../core/memory.js";
import {
  checkAlign,
  checkDeallocSize,
  checkSize32,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  MAX_ALIGN,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { FixedMemory } from "../memory/memory.js";

// ---- header slots --------------------------------------------------------------------------

const BUDDY_HEADER = declareHeader([
  "ORIGIN",
  "LO",
  "HI",
  "HI_MAX",
  "MAX_ORDER",
  "FREE_BYTES",
  "LIVE",
  "PEAK",
]);
const { ORIGIN, LO, HI, HI_MAX, MAX_ORDER, FREE_BYTES, LIVE, PEAK } = BUDDY_HEADER.slot;

// ---- metadata words ------------------------------------------------------------------------

/** Word 0 of the metadata: bit k set ⇔ the order-k free bitmap has a set bit. */
const ORDER_MASK = 0;
/** Words before the first bitmap. */
const FIXED_WORDS = 1;
/** log2 of the level slots per order: order k's level offsets start at k << LEVEL_SHIFT. */
const LEVEL_SHIFT = 3;
/** Summary levels a free bitmap may have (2^29 bits need 6: 32^6 ≥ 2^29). */
const MAX_LEVELS = 1 << LEVEL_SHIFT;
const WORD_SHIFT = 5;
const WORD_BITS = 1 << WORD_SHIFT;
const BIT_MASK = WORD_BITS - 1;

/** Smallest and default smallest block. */
export const BUDDY_MIN_BLOCK = 8;
export const BUDDY_DEFAULT_MIN_BLOCK = 16;
/** The largest order any buddy can have: 2^29 units of 8 bytes span 4 GiB. */
const ORDER_LIMIT = 29;

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
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Where each bitmap lives in the metadata words; derived from the configuration alone. */
interface Geometry {
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

function planGeometry(capacity: number, log2Unit: number, orderCap: number): Geometry {
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

function optionPowerOfTwo(v: unknown, what: string, min: number): number {
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
function resolveOrders(options: BuddyOptions): { log2Unit: number; orderCap: number } {
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

function resolveCapacity(v: unknown): number {
  if (typeof v !== "number") throw new ArgumentTypeError("maxCapacity must be a number");
  if (!(Number.isSafeInteger(v) && v > 0 && v <= 2 ** 32)) {
    throw new ArgumentRangeError(`maxCapacity must be an integer 1 … 2^32, got ${v}`, "ERR_MEMORY");
  }
  return v;
}

export class BuddyAllocator extends BaseAllocator {
  readonly name = "BuddyAllocator";
  /** The smallest block (one unit), in bytes. */
  readonly minBlockSize: number;
  /** The largest block (the top order), in bytes. */
  readonly maxBlockSize: number;
  /** Number of orders: maxBlockSize = minBlockSize × 2^(orders − 1). */
  readonly orders: number;

  private readonly log2Unit: number;
  private readonly unit: number;
  private readonly origin: number;
  private readonly lo: number;
  private readonly hiMax: number;
  private readonly maxOrder: number;
  private readonly geo: Geometry;
  private readonly freeAt: Int32Array;
  private readonly levels: Uint8Array;
  private readonly splitAt: Int32Array;
  private readonly raisedAt: number;
  /** Byte offset of the metadata words in `metaBuffer`. */
  private readonly wordsAt: number;
  /** The metadata words (re-created when the memory's buffer is replaced). */
  private w: Uint32Array;

  /**
   * `new BuddyAllocator(capacity)` owns a fresh zeroed buffer holding `capacity` bytes of
   * blocks (rounded up to minBlockSize) that start at a multiple of min(64 KiB, the largest
   * power of two ≤ capacity), so a power-of-two capacity is one top-level block (the padding
   * before the region is < 64 KiB). `new BuddyAllocator(memory)` manages any `Memory` (fixed,
   * growable, shared, wasm, offset).
   */
  constructor(memoryOrCapacity: Memory | number, options: BuddyOptions = {}) {
    const { log2Unit, orderCap } = resolveOrders(options);
    let memory: Memory;
    let capacity: number;
    let maxCapacity: number | undefined;
    if (typeof memoryOrCapacity === "number") {
      checkSize32(memoryOrCapacity, "capacity");
      capacity = alignUp(Math.max(memoryOrCapacity, 1), 2 ** log2Unit);
      maxCapacity = capacity;
      memory = ownedBuddyMemory(capacity, planGeometry(capacity, log2Unit, orderCap));
    } else {
      memory = memoryOrCapacity;
      maxCapacity =
        options.maxCapacity === undefined ? undefined : resolveCapacity(options.maxCapacity);
      capacity = maxCapacity ?? memory.end - memory.start;
    }
    const geo = planGeometry(capacity, log2Unit, orderCap);
    const attach = options.attach === true;
    super(
      memory,
      StrategyKind.buddy,
      BUDDY_HEADER,
      geo.words * 4,
      geo.config,
      attach,
      "BuddyAllocator",
    );

    this.geo = geo;
    this.log2Unit = log2Unit;
    this.unit = 2 ** log2Unit;
    this.freeAt = geo.freeAt;
    this.levels = geo.levels;
    this.splitAt = geo.splitAt;
    this.raisedAt = geo.raisedAt;
    this.wordsAt = this.metaAt + BUDDY_HEADER.bytes;
    this.w = new Uint32Array(this.metaBuffer, this.wordsAt, geo.words);

    // The span: origin, holes below LO, growth limit HI_MAX, top order.
    const u = this.unit;
    this.origin = alignDown(this.dataStart, geo.baseAlign);
    this.lo = Math.ceil((this.dataStart - this.origin) / u);
    const lastUnit =
      maxCapacity === undefined
        ? Math.floor((memory.end - this.origin) / u)
        : Math.min(
            Math.floor((memory.maxEnd - this.origin) / u),
            this.lo + Math.floor(maxCapacity / u),
          );
    this.hiMax = Math.max(this.lo, lastUnit);
    let top = -1;
    for (let k = geo.orderBound; k >= 0; k--) {
      if (alignUp(this.lo, 2 ** k) + 2 ** k <= this.hiMax) {
        top = k;
        break;
      }
    }
    if (top < 0) {
      throw new ArgumentRangeError(
        `BuddyAllocator: region [${memory.start}, ${memory.end}) has no room for a ` +
          `${u}-byte block after its ${this.metaBytes} bytes of metadata`,
        "ERR_MEMORY",
      );
    }
    this.maxOrder = top;
    this.orders = top + 1;
    this.minBlockSize = u;
    this.maxBlockSize = u * 2 ** top;

    const slots = this.slots;
    const slot0 = this.slot0;
    if (attach) {
      const expect = [this.origin, this.lo, this.hiMax, top];
      const configSlots = [ORIGIN, LO, HI_MAX, MAX_ORDER];
      for (let s = 0; s < configSlots.length; s++) {
        if (slots[slot0 + H_CONFIG] !== geo.config || slots[slot0 + configSlots[s]] !== expect[s]) {
          throw new HeapIncompatibleError(
            "BuddyAllocator: the heap here was made with other options (minBlockSize, " +
              "maxBlockSize, maxCapacity) or over another region",
            "ERR_HEAP_CONFIG",
          );
        }
      }
      return;
    }
    slots[slot0 + ORIGIN] = this.origin;
    slots[slot0 + LO] = this.lo;
    slots[slot0 + HI] = Math.max(
      this.lo,
      Math.min(this.hiMax, Math.floor((memory.end - this.origin) / u)),
    );
    slots[slot0 + HI_MAX] = this.hiMax;
    slots[slot0 + MAX_ORDER] = top;
    this.clearAndTile();
  }

  /** Attaches a second handle to a buddy heap in `memory`, made with the same options. */
  static attach(memory: Memory, options: BuddyOptions = {}): BuddyAllocator {
    return new BuddyAllocator(memory, { ...options, attach: true });
  }

  /** Bytes of header and metadata for a heap of `capacity` bytes of blocks. */
  static metadataSize(capacity: number, options: BuddyOptions = {}): number {
    checkSize32(capacity, "capacity");
    const { log2Unit, orderCap } = resolveOrders(options);
    const geo = planGeometry(Math.max(capacity, 1), log2Unit, orderCap);
    return alignUp(BUDDY_HEADER.bytes + geo.words * 4, 8);
  }

  // ---- the contract ------------------------------------------------------------------------

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    const _slots = this.slots;
    const _slot0 = this.slot0;
    if (this.blocked()) {
      this.enterSlow();
      return this.alloc(size, align);
    }
    if (!isUint32(size)) {
      rejectSize(size);
      return 0;
    }
    if (align !== DEFAULT_ALIGN && !isValidAlign(align)) rejectAlign(align);
    const log2Unit = this.log2Unit;
    const sizeOrder = buddyOrder(size, log2Unit);
    const alignOrder = align <= this.unit ? 0 : buddyOrder(align, log2Unit);
    const t = Math.max(sizeOrder, alignOrder);
    if (t > this.maxOrder) return 0;
    if (this.w[ORDER_MASK] >>> t === 0 && !this.growFor(t)) return 0;
    return this.takeBlock(t, alignOrder > sizeOrder);
  }

  dealloc(ptr: number, size?: number): void {
    const _slots = this.slots;
    const _slot0 = this.slot0;
    if (this.blocked()) {
      this.enterSlow();
      this.dealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const i = this.unitOf(ptr);
    const k = this.liveOrder(i, ptr);
    if (size !== undefined) this.checkLayout(i, k, ptr, size);
    this.releaseBlock(i, k);
  }

  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const i = this.unitOf(ptr);
    const k = this.liveOrder(i, ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const log2Unit = this.log2Unit;
    const sizeOrder = buddyOrder(newSize, log2Unit);
    const alignOrder = buddyOrder(align, log2Unit);
    const t = Math.max(sizeOrder, alignOrder);
    if (ptr % Math.max(align, DEFAULT_ALIGN) === 0) {
      if (t <= k) {
        this.shrinkInPlace(i, k, t);
        this.setRaised(i, alignOrder > sizeOrder);
        return ptr;
      }
      if (t <= this.maxOrder && this.canGrowInPlace(i, k, t)) {
        this.growInPlace(i, k, t);
        this.setRaised(i, alignOrder > sizeOrder);
        return ptr;
      }
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    if (this.memory.hasBytes) {
      const keep = Math.min(this.unit * (1 << k), newSize);
      this.memory.u8.copyWithin(to, ptr, ptr + keep);
    }
    this.releaseBlock(i, k);
    return to;
  }

  usableSize(ptr: number): number {
    this.enter();
    const i = this.unitOf(ptr);
    return this.unit * (1 << this.liveOrder(i, ptr));
  }

  /** Frees every block: the region is tiled with the largest aligned blocks again. */
  reset(): void {
    this.enter();
    this.clearAndTile();
  }

  stats(): AllocatorStats {
    this.enter();
    const slots = this.slots;
    const slot0 = this.slot0;
    const free = slots[slot0 + FREE_BYTES];
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    const capacity = this.memory.end - this.memory.start;
    const mask = this.w[ORDER_MASK];
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: Math.max(slots[slot0 + PEAK], inUse),
      largestFree: mask === 0 ? 0 : this.unit * 2 ** (31 - Math.clz32(mask)),
    };
  }

  /** Free blocks of `order` now (O(bitmap words) popcount; for tests and reports). */
  freeBlockCount(order: number): number {
    this.enter();
    if (!(Number.isSafeInteger(order) && order >= 0 && order <= this.maxOrder)) {
      throw new ArgumentRangeError(
        `order must be 0 … ${this.maxOrder}, got ${order}`,
        "ERR_ALLOC_SIZE",
      );
    }
    const w = this.w;
    const from = this.freeAt[order << LEVEL_SHIFT];
    const to = from + (((this.geo.numax >> order) + 1 + BIT_MASK) >>> WORD_SHIFT);
    let n = 0;
    for (let x = from; x < to; x++) n += popcount(w[x]);
    return n;
  }

  // ---- allocation steps ----------------------------------------------------------------------

  /** Takes the lowest free block of the smallest order ≥ t that has one, split down to t. */
  private takeBlock(t: number, raised: boolean): number {
    const w = this.w;
    const slots = this.slots;
    const slot0 = this.slot0;
    let o = t + lowestBit(w[ORDER_MASK] >>> t);
    const j = this.findFreeBlock(o);
    this.removeFreeBlock(j, o);
    while (o > t) {
      this.setSplit(j, o);
      o--;
      this.insertFreeBlock(j + (1 << o), o);
    }
    if (raised) this.setRaised(j, true);
    const bytes = this.unit * (1 << t);
    const free = slots[slot0 + FREE_BYTES] - bytes;
    slots[slot0 + FREE_BYTES] = free;
    slots[slot0 + LIVE]++;
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    return this.origin + j * this.unit;
  }

  /** Frees the live block (i, k) and merges it with free buddies as far as they go. */
  private releaseBlock(i: number, k: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.setRaised(i, false);
    slots[slot0 + FREE_BYTES] += this.unit * (1 << k);
    slots[slot0 + LIVE]--;
    this.mergeWithBuddies(i, k, slots[slot0 + HI]);
  }

  /** Inserts (i, k) as free after merging it upwards with every free buddy. */
  private mergeWithBuddies(i: number, k: number, hi: number): void {
    const lo = this.lo;
    const top = this.maxOrder;
    while (k < top) {
      const size = 1 << k;
      const parent = i & ~(2 * size - 1);
      if (parent < lo || parent + 2 * size > hi) break; // the parent does not exist
      const buddy = i ^ size;
      if (!this.isFree(buddy, k)) break;
      this.removeFreeBlock(buddy, k);
      this.clearSplit(parent, k + 1);
      i = parent;
      k++;
    }
    this.insertFreeBlock(i, k);
  }

  /** Splits the live block (i, k) down to order t, freeing the upper halves. */
  private shrinkInPlace(i: number, k: number, t: number): void {
    if (t === k) return;
    for (let o = k; o > t; o--) {
      this.setSplit(i, o);
      this.insertFreeBlock(i + (1 << (o - 1)), o - 1);
    }
    this.slots[this.slot0 + FREE_BYTES] += this.unit * ((1 << k) - (1 << t));
  }

  /** Whether (i, k) can become (i, t) by absorbing free upper buddies. */
  private canGrowInPlace(i: number, k: number, t: number): boolean {
    const hi = this.slots[this.slot0 + HI];
    for (let o = k; o < t; o++) {
      const size = 1 << o;
      if ((i & (2 * size - 1)) !== 0) return false; // (i, o) is an upper half
      if (i < this.lo || i + 2 * size > hi) return false; // the parent does not exist
      if (!this.isFree(i + size, o)) return false;
    }
    return true;
  }

  private growInPlace(i: number, k: number, t: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    for (let o = k; o < t; o++) {
      this.removeFreeBlock(i + (1 << o), o);
      this.clearSplit(i, o + 1);
    }
    const free = slots[slot0 + FREE_BYTES] - this.unit * ((1 << t) - (1 << k));
    slots[slot0 + FREE_BYTES] = free;
    const inUse = (slots[slot0 + HI] - this.lo) * this.unit - free;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
  }

  // ---- growth ------------------------------------------------------------------------------

  /**
   * Makes a free block of order ≥ t exist by adopting more of the memory (grown by someone
   * else, or grown here). Changes nothing and returns false unless success is certain.
   */
  private growFor(t: number): boolean {
    const hi = this.slots[this.slot0 + HI];
    if (hi >= this.hiMax) return false;
    const size = 1 << t;
    const corner = hi & ~(size - 1);
    // The node of order t straddling HI if its part below HI is all free (it merges whole),
    // else the first node of order t wholly above HI.
    const straddles = corner !== hi && corner >= this.lo && this.allFree(corner, hi);
    const need = straddles ? corner + size : alignUp(hi, size) + size;
    if (need > this.hiMax) return false;
    const u = this.unit;
    const m = this.memory;
    m.refresh();
    if (this.origin + need * u > m.end && !m.grow(this.origin + need * u)) return false;
    this.syncViews();
    const newHi = Math.min(this.hiMax, Math.floor((m.end - this.origin) / u));
    if (newHi < need) return false;
    this.adopt(newHi);
    return true;
  }

  /** Whether the leaves tiling [from, to) are all free. */
  private allFree(from: number, to: number): boolean {
    for (let i = from; i < to; ) {
      const k = this.leafOrder(i);
      if ((i & ((1 << k) - 1)) !== 0 || !this.isFree(i, k)) return false;
      i += 1 << k;
    }
    return true;
  }

  /** Adds units [HI, newHi) to the span as free blocks, merging them with free blocks below. */
  private adopt(newHi: number): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const old = slots[slot0 + HI];
    const lo = this.lo;
    // Nodes straddling the old end exist now; they hold old leaves, so they are split.
    for (let k = 1; k <= this.maxOrder; k++) {
      const j = old & ~((1 << k) - 1);
      if (j !== old && j >= lo && j + (1 << k) <= newHi) this.setSplit(j, k);
    }
    slots[slot0 + HI] = newHi;
    slots[slot0 + FREE_BYTES] += (newHi - old) * this.unit;
    for (let i = old; i < newHi; ) {
      const k = this.largestBlockAt(i, newHi);
      this.mergeWithBuddies(i, k, newHi);
      i += 1 << k;
    }
  }

  /** The order of the largest block that can start at unit i and end by `end`. */
  private largestBlockAt(i: number, end: number): number {
    let k = 0;
    while (k < this.maxOrder && (i & ((2 << k) - 1)) === 0 && i + (2 << k) <= end) k++;
    return k;
  }

  /** Clears every bitmap and tiles [LO, HI) with the largest aligned free blocks. */
  private clearAndTile(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    this.w.fill(0);
    const hi = slots[slot0 + HI];
    for (let i = this.lo; i < hi; ) {
      const k = this.largestBlockAt(i, hi);
      this.insertFreeBlock(i, k);
      i += 1 << k;
    }
    slots[slot0 + FREE_BYTES] = (hi - this.lo) * this.unit;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + PEAK] = 0;
  }

  // ---- validation --------------------------------------------------------------------------

  /** The unit a block pointer names; throws InvalidPointerError unless it is a unit start. */
  private unitOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const u = this.unit;
    const first = this.origin + this.lo * u;
    const end = this.origin + this.slots[this.slot0 + HI] * u;
    if (ptr < first || ptr >= end) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: outside this BuddyAllocator's blocks [${first}, ${end})`,
      );
    }
    const off = ptr - this.origin;
    if ((off & (u - 1)) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not a block start (blocks start at multiples of ${u} bytes ` +
          `from ${this.origin})`,
      );
    }
    return off >>> this.log2Unit;
  }

  /** The order of the live block starting at unit i; throws for anything else. */
  private liveOrder(i: number, ptr: number): number {
    const k = this.leafOrder(i);
    const start = i & ~((1 << k) - 1);
    if (this.isFree(start, k)) {
      throw new DoubleFreeError(
        `pointer ${ptr} is not allocated: it lies in the free block at ` +
          `${this.origin + start * this.unit} of ${this.unit * (1 << k)} bytes ` +
          "(freed already, or never handed out)",
      );
    }
    if (start !== i) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: inside the live block at ${this.origin + start * this.unit} ` +
          `of ${this.unit * (1 << k)} bytes, not its start`,
      );
    }
    return k;
  }

  private checkLayout(i: number, k: number, ptr: number, size: number): void {
    checkDeallocSize(size);
    const bytes = this.unit * (1 << k);
    if (size > bytes) {
      throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block holds ${bytes} bytes`);
    }
    if (!this.isRaised(i) && buddyOrder(size, this.log2Unit) < k) {
      throw new LayoutMismatchError(
        `dealloc(${ptr}, ${size}): the block of ${bytes} bytes was made for ` +
          `${bytes / 2 + 1} … ${bytes} bytes`,
      );
    }
  }

  // ---- the tree: nodes, leaves, bitmaps --------------------------------------------------------

  /**
   * The order of the leaf containing unit i (i in [LO, HI)): the first order from the bottom
   * whose parent is split or does not exist. O(that order).
   */
  private leafOrder(i: number): number {
    const lo = this.lo;
    const hi = this.slots[this.slot0 + HI];
    const top = this.maxOrder;
    for (let k = 0; k < top; k++) {
      const size2 = 2 << k;
      const parent = i & ~(size2 - 1);
      if (parent < lo || parent + size2 > hi || this.isSplit(parent, k + 1)) return k;
    }
    return top;
  }

  /** Bit position of node (j, k) in the order-k bitmaps. */
  private pos(j: number, k: number): number {
    return (j >> k) - (this.lo >> k);
  }

  private isFree(j: number, k: number): boolean {
    const p = this.pos(j, k);
    return (
      ((this.w[this.freeAt[k << LEVEL_SHIFT] + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0
    );
  }

  /** Sets node (j, k)'s free bit and the summary bits above it. */
  private insertFreeBlock(j: number, k: number): void {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    const levels = this.levels[k];
    let p = this.pos(j, k);
    for (let l = 0; ; ) {
      const x = this.freeAt[base | l] + (p >>> WORD_SHIFT);
      const old = w[x];
      w[x] = old | (1 << (p & BIT_MASK));
      if (old !== 0) return;
      if (++l === levels) {
        w[ORDER_MASK] |= 1 << k;
        return;
      }
      p >>>= WORD_SHIFT;
    }
  }

  /** Clears node (j, k)'s free bit and the summary bits that become empty. */
  private removeFreeBlock(j: number, k: number): void {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    const levels = this.levels[k];
    let p = this.pos(j, k);
    for (let l = 0; ; ) {
      const x = this.freeAt[base | l] + (p >>> WORD_SHIFT);
      const v = w[x] & ~(1 << (p & BIT_MASK));
      w[x] = v;
      if (v !== 0) return;
      if (++l === levels) {
        w[ORDER_MASK] &= ~(1 << k);
        return;
      }
      p >>>= WORD_SHIFT;
    }
  }

  /** The lowest free block of order k (ORDER_MASK bit k must be set): ≤ 6 word reads. */
  private findFreeBlock(k: number): number {
    const w = this.w;
    const base = k << LEVEL_SHIFT;
    let p = 0;
    for (let l = this.levels[k] - 1; l >= 0; l--) {
      p = (p << WORD_SHIFT) | lowestBit(w[this.freeAt[base | l] + p]);
    }
    return (p + (this.lo >> k)) << k;
  }

  private isSplit(j: number, k: number): boolean {
    const p = this.pos(j, k);
    return ((this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0;
  }

  private setSplit(j: number, k: number): void {
    const p = this.pos(j, k);
    this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] |= 1 << (p & BIT_MASK);
  }

  private clearSplit(j: number, k: number): void {
    const p = this.pos(j, k);
    this.w[this.splitAt[k] + (p >>> WORD_SHIFT)] &= ~(1 << (p & BIT_MASK));
  }

  private isRaised(i: number): boolean {
    const p = i - this.lo;
    return ((this.w[this.raisedAt + (p >>> WORD_SHIFT)] >>> (p & BIT_MASK)) & 1) !== 0;
  }

  private setRaised(i: number, on: boolean): void {
    const p = i - this.lo;
    const x = this.raisedAt + (p >>> WORD_SHIFT);
    if (on) this.w[x] |= 1 << (p & BIT_MASK);
    else this.w[x] &= ~(1 << (p & BIT_MASK));
  }

  protected override onViews(): void {
    if (this.w.buffer !== this.metaBuffer) {
      this.w = new Uint32Array(this.metaBuffer, this.wordsAt, this.geo.words);
    }
  }

  // ---- check -------------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const w = this.w;
    const lo = this.lo;
    const u = this.unit;
    const top = this.maxOrder;
    const expect: [number, number, string][] = [
      [ORIGIN, this.origin, "ORIGIN"],
      [LO, lo, "LO"],
      [HI_MAX, this.hiMax, "HI_MAX"],
      [MAX_ORDER, top, "MAX_ORDER"],
      [H_CONFIG, this.geo.config, "CONFIG"],
    ];
    for (const [slot, value, what] of expect) {
      if (slots[slot0 + slot] !== value)
        this.corrupt(`${what} slot holds ${slots[slot0 + slot]}, not ${value}`);
    }
    for (const [slot, what] of [
      [HI, "HI"],
      [FREE_BYTES, "FREE_BYTES"],
      [LIVE, "LIVE"],
      [PEAK, "PEAK"],
    ] as const) {
      const v = slots[slot0 + slot];
      if (!(Number.isSafeInteger(v) && v >= 0)) this.corrupt(`${what} slot holds ${v}`);
    }
    const hi = slots[slot0 + HI];
    const memUnits = Math.floor((this.memory.end - this.origin) / u);
    if (!(lo <= hi && hi <= this.hiMax && hi <= memUnits)) {
      this.corrupt(`HI ${hi} is outside [LO ${lo}, min(HI_MAX ${this.hiMax}, memory ${memUnits})]`);
    }

    // Split nodes: they exist, their parent (if any) is split.
    for (let k = 1; k <= this.geo.orderBound; k++) {
      this.forEachBit(this.splitAt[k], (this.geo.numax >> k) + 1, (p) => {
        const j = (p + (lo >> k)) << k;
        const at = this.origin + j * u;
        if (k > top || j < lo || j + (1 << k) > hi) {
          this.corrupt(`split bit set for node at ${at} of order ${k}, which does not exist`);
        }
        const parent = j & ~((2 << k) - 1);
        if (k < top && parent >= lo && parent + (2 << k) <= hi && !this.isSplit(parent, k + 1)) {
          this.corrupt(`node at ${at} of order ${k} is split but its parent is not`);
        }
      });
    }

    // Walk the leaves: they tile [LO, HI); count free and live blocks.
    let freeBytes = 0;
    let freeLeaves = 0;
    let live = 0;
    let raisedLive = 0;
    for (let i = lo; i < hi; ) {
      const k = this.leafOrder(i);
      const at = this.origin + i * u;
      if ((i & ((1 << k) - 1)) !== 0) {
        this.corrupt(
          `unit ${i} (address ${at}) is covered twice: leaf of order ${k} starts below it`,
        );
      }
      if (i + (1 << k) > hi) this.corrupt(`leaf at ${at} of order ${k} extends past HI ${hi}`);
      if (k > 0 && this.isSplit(i, k)) this.corrupt(`leaf at ${at} of order ${k} is split`);
      if (at % Math.min(u * 2 ** k, MAX_ALIGN) !== 0) {
        this.corrupt(`block at ${at} of ${u * 2 ** k} bytes is not aligned to its size`);
      }
      if (this.isFree(i, k)) {
        freeBytes += u * 2 ** k;
        freeLeaves++;
        if (this.isRaised(i)) this.corrupt(`free block at ${at} has its raised bit set`);
        const parent = i & ~((2 << k) - 1);
        if (k < top && parent >= lo && parent + (2 << k) <= hi && this.isFree(i ^ (1 << k), k)) {
          this.corrupt(
            `free block at ${at} and its buddy at ${this.origin + (i ^ (1 << k)) * u} ` +
              `(order ${k}) are both free: they should have merged`,
          );
        }
      } else {
        live++;
        if (this.isRaised(i)) raisedLive++;
      }
      i += 1 << k;
    }

    // Free bits: exactly the free leaves (the walk found each; the counts rule out extras).
    let freeBits = 0;
    for (let k = 0; k <= this.geo.orderBound; k++) {
      const base = k << LEVEL_SHIFT;
      const levels = this.levels[k];
      let bits = (this.geo.numax >> k) + 1;
      for (let l = 0; l < levels; l++) {
        const words = (bits + BIT_MASK) >>> WORD_SHIFT;
        const at = this.freeAt[base | l];
        for (let x = 0; x < words; x++) {
          const word = w[at + x];
          if (l === 0) freeBits += popcount(word);
          const above =
            l + 1 < levels
              ? (w[this.freeAt[base | (l + 1)] + (x >>> WORD_SHIFT)] >>> (x & BIT_MASK)) & 1
              : (w[ORDER_MASK] >>> k) & 1;
          if ((word !== 0) !== (above === 1)) {
            this.corrupt(
              `order ${k} free bitmap level ${l} word ${x} is ${word} but its summary bit is ${above}`,
            );
          }
        }
        bits = words;
      }
    }
    if (w[ORDER_MASK] >>> (this.geo.orderBound + 1) !== 0) {
      this.corrupt(`ORDER_MASK ${w[ORDER_MASK]} has bits above order ${this.geo.orderBound}`);
    }
    if (freeBits !== freeLeaves) {
      this.corrupt(`${freeBits} free bits are set but ${freeLeaves} free blocks tile the span`);
    }
    let raisedBits = 0;
    const raisedWords = (this.geo.numax + BIT_MASK) >>> WORD_SHIFT;
    for (let x = 0; x < raisedWords; x++) raisedBits += popcount(w[this.raisedAt + x]);
    if (raisedBits !== raisedLive) {
      this.corrupt(`${raisedBits} raised bits are set but only ${raisedLive} live blocks have one`);
    }
    if (freeBytes !== slots[slot0 + FREE_BYTES]) {
      this.corrupt(
        `FREE_BYTES is ${slots[slot0 + FREE_BYTES]} but the free blocks hold ${freeBytes}`,
      );
    }
    if (live !== slots[slot0 + LIVE])
      this.corrupt(`LIVE is ${slots[slot0 + LIVE]} but ${live} blocks are live`);
  }

  /** Calls `fn(p)` for every set bit p < `bits` of the bitmap at word `at`. */
  private forEachBit(at: number, bits: number, fn: (p: number) => void): void {
    const words = (bits + BIT_MASK) >>> WORD_SHIFT;
    for (let x = 0; x < words; x++) {
      let word = this.w[at + x];
      while (word !== 0) {
        const b = lowestBit(word);
        word &= word - 1;
        fn((x << WORD_SHIFT) | b);
      }
    }
  }
}

/**
 * A fresh zeroed buffer for `new BuddyAllocator(capacity)`: the region starts where its
 * header and metadata end at a multiple of the origin alignment, so the blocks are exactly
 * `capacity` bytes from the origin (the bytes before the region are padding, < 64 KiB).
 */
function ownedBuddyMemory(capacity: number, geo: Geometry): FixedMemory {
  const meta = alignUp(BUDDY_HEADER.bytes + geo.words * 4, 8);
  const pad = alignUp(meta, geo.baseAlign) - meta;
  return new FixedMemory(new ArrayBuffer(pad + meta + capacity), pad, meta + capacity, true);
}
