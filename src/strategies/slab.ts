/**
 * SlabAllocator: small objects of many sizes in O(1). Requests up to the largest size class
 * are rounded up to one of 28 classes (8 … 2048 bytes, slab/classes.ts) and served from
 * pages of that class; every page is one block of a PARENT allocator (any `Allocator`: a
 * Bump, a Block, a TLSF heap), and a page that empties goes back to it. Larger requests go
 * to the parent directly, behind a 32-byte header.
 *
 * Choose it for many small objects of mixed sizes (nodes, strings, messages) on top of a
 * general allocator: alloc and free are a few typed-array operations, there is no per-block
 * header, and same-sized objects share pages. The classes, their worst-case waste, and the
 * page geometry are listed in slab/classes.ts (waste ≤ 7 bytes up to 64, then < 20 %).
 *
 * ## Where the state lives
 * Everything is in the parent's memory, in blocks the slab allocated from the parent: a
 * metadata block (the common header, the slab's slots, one record per class) whose address
 * is `metadataPointer` (a second handle attaches there: `SlabAllocator.attach`), a page
 * table (one byte per page-sized slot of the memory), each page's trailer, and each large
 * block's header. The handle keeps only tables derived from the configuration (class sizes,
 * blocks per page, trailer offsets). `this.memory` is the parent's memory, because the
 * blocks are there; `capacity` in `stats()` is the parent's capacity. (BaseAllocator is told
 * where the metadata block is, `metaAt`, instead of placing a header at the memory's start;
 * the header's DATA_START slot is the parent memory's start.)
 *
 * ## Memory picture
 *
 *     metadata block (parent.alloc(metaBytes, 8); 8-aligned)
 *     | common header: 8 slots | slab slots 8…21 (float64) | class record × classes (8 u32 each) |
 *
 *     slot  8 PAGE_SIZE    bytes per page (power of two, 1 KiB … 64 KiB; also H_CONFIG)
 *     slot  9 CLASSES      classes in use (classes larger than maxSmall are not)
 *     slot 10 EMPTY_LIMIT  empty pages a class keeps instead of giving them back (default 1)
 *     slot 11 TABLE_AT     address of the page table (a parent block)
 *     slot 12 TABLE_FIRST  page number (address / PAGE_SIZE) of table entry 0
 *     slot 13 TABLE_LEN    entries in the page table
 *     slot 14 LIVE         live blocks, small and large
 *     slot 15 IN_USE       bytes in live blocks (class sizes + large usable sizes)
 *     slot 16 PEAK         highest IN_USE since creation or reset
 *     slot 17 LARGE_HEAD   newest live large block (its pointer), 0 if none
 *     slot 18 LARGE_LIVE   live large blocks
 *     slot 19 LARGE_BYTES  usable bytes of live large blocks
 *     slot 20 PAGES        pages held from the parent (all lists, all classes)
 *     slot 21 META_AT      the metadata block's own address (checked on attach)
 *
 *     class record (u32 words)
 *     | PARTIAL head | FULL head | EMPTY head | #partial | #full | #empty | live | 0 |
 *
 *     page table (u8 per page number TABLE_FIRST … TABLE_FIRST+TABLE_LEN−1; a parent block
 *     covering the memory's end at creation, replaced by one twice as long, up to the
 *     memory's maximum, when the parent hands out a page beyond it: 64 KiB of table per
 *     4 GiB of 64 KiB pages)
 *       0          not a page of this slab
 *       1 … 28     a page of class (entry − 1)
 *       128 + c    a page of class c given back to the parent (stale pointers into it
 *                  are reported as double frees)
 *
 *     page (PAGE_SIZE bytes, PAGE_SIZE-aligned; a parent block)
 *     | block 0 | block 1 | … | block cap−1 | tail | trailer                              |
 *     ^ page                                      ^ page + trailerOffset(class)
 *     trailer (u32 words): | MAGIC "SLBP" | CLASS | LIVE | FREE | CARVED | NEXT | PREV | LIST |
 *                          | bitmap: 1 bit per block, 1 = live, ⌈cap/32⌉ words            |
 *       FREE     first block of the page's free list (0 = empty); a free block's first
 *                u32 links to the next free block of the page (0 = end)
 *       CARVED   blocks 0 … CARVED−1 were handed out at least once; the rest are carved
 *                lazily, so a new page costs O(bitmap words), not O(blocks)
 *       NEXT/PREV the page's neighbours on its class list; LIST says which list
 *                (1 partial, 2 full, 3 empty)
 *
 *     large block (> largest class, or an alignment no class gives)
 *     | pad | header (32 bytes) | data ... |      parent block [base, base + psize)
 *            ^ ptr − 32          ^ ptr = base + max(32, align)
 *     header (u32 words): | NEXT | PREV | 0 | 0 | BASE | PSIZE | CHECK | STATE "LRGE"/"LRFD" |
 *       NEXT/PREV the list of live large blocks (reset and drop give them all back)
 *       CHECK    a hash of (ptr, BASE, PSIZE): a header the slab did not write never passes
 *       STATE    live or freed: a second free is a DoubleFreeError as long as the parent
 *                leaves the last 16 header bytes alone (parents that keep free-list fields
 *                in freed blocks write at its start: Block 8 bytes, TLSF 8), and the
 *                memory was not handed out again
 *
 * ## Finding a block's owner in O(1)
 * `dealloc(ptr)` reads the page-table entry of ptr's page. A live page of class c: the page
 * is `alignDown(ptr, PAGE_SIZE)`, its trailer is checked (magic, class), ptr must be a
 * block start below CARVED with its bitmap bit set. Anything else: a large block, whose
 * header must pass CHECK. A large block never lies inside a live page (both are parent
 * blocks), so the table, which user writes cannot reach, decides; the header is only
 * trusted after CHECK matches.
 *
 * ## Per-block overhead
 * Small blocks: none in the block; per page a trailer of 32 bytes + 1 bit per block, and the
 * tail that no whole block fills (slab/classes.ts; at 16 KiB pages 64 … 2048 bytes per page).
 * Large blocks: 32 bytes (or `align` bytes for alignments above 32) plus the parent's own.
 *
 * ## Cost
 * | operation            | best | worst           | notes                                       |
 * | -------------------- | ---- | --------------- | ------------------------------------------- |
 * | alloc (small)        | O(1) | O(1) + parent   | parent.alloc only when the class has no page with room |
 * | dealloc (small)      | O(1) | O(1) + parent   | parent.dealloc when a page empties beyond the cache |
 * | alloc/dealloc (large)| —    | parent's cost   | plus O(1) list work                         |
 * | new page             | O(cap/32) | + table growth O(pages) amortised | bitmap cleared, blocks carved lazily |
 * | reset, drop, trim    | O(pages + large blocks) | | every page is given back                    |
 * | check                | O(table + pages × blocks) | |                                           |
 *
 * ## Fragmentation and the empty-page cache
 * Internal: the class rounding (< 20 % above 32 bytes) and each page's tail. External: a
 * page is held while any block in it lives, so a few survivors can pin many pages (the
 * classic slab weakness); allocation prefers the most recently touched partial page.
 * A page that empties is given back to the parent unless its class already keeps
 * `emptyPagesPerClass` empty pages (default 1): without that cache a loop that allocates
 * and frees one object would take a page from the parent and give it back every time
 * (thrash). The cost: up to one idle page per class stays out of the parent until `trim()`,
 * `reset()` or `drop()`. With `emptyPagesPerClass: 0` every empty page goes back at once.
 *
 * ## Misuse
 * All checks happen before any change. A pointer not on a block boundary, in a page's tail
 * or trailer, or never handed out → `InvalidPointerError`; a block whose bit is clear, a
 * large block whose header says freed, or any block of a page already given back (also
 * after `reset`; once the parent hands that memory to a large block of ours, pointers into
 * it are just invalid) → `DoubleFreeError`; `dealloc(ptr, size)` with size > the block's usable
 * size → `LayoutMismatchError` (a smaller size is accepted: a block of one class serves
 * several request sizes). A trailer whose magic or class is wrong, a free-list link that
 * leaves its page or points at a live block, or broken list links → `HeapCorruptedError`.
 *
 * ## Invariants (`check()`, after the parent's own check)
 * Every page on a list of class c: PAGE_SIZE-aligned, inside the memory, table entry c+1,
 * trailer magic and class right, LIST naming that list, PREV the previous page; LIVE ≤
 * CARVED ≤ capacity; partial 0 < LIVE < cap, full LIVE = cap, empty LIVE = 0; bitmap
 * popcount = LIVE and no bit at or above CARVED; the free list holds exactly the
 * CARVED − LIVE carved free blocks, each once, on block boundaries, bits clear. List
 * lengths equal their counts; #empty ≤ EMPTY_LIMIT; table entries of class c = its pages.
 * Large list: each header passes CHECK, is live, links back; count and bytes match.
 * LIVE, IN_USE and PAGES equal the sums; PEAK ≥ IN_USE.
 */

import type { Allocator, AllocatorStats } from "../core/allocator.js";
import { BaseAllocator } from "../core/allocator.js";
import { alignUp, isPowerOfTwo, log2Floor, popcount } from "../core/bits.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapIncompatibleError,
  LayoutMismatchError,
} from "../core/errors.js";
import {
  COMMON_SLOTS,
  declareHeader,
  H_META_BYTES,
  SLOT_BYTES,
  StrategyKind,
  validateHeader,
} from "../core/header.js";
import {
  checkDeallocSize,
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  isValidAlign,
  MAX_ALLOC_SIZE,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import {
  BITMAP_WORD_BITS,
  CLASS_COUNT,
  classAtMost,
  classForRequest,
  classSize,
  MAX_CLASS_SIZE,
  MAX_PAGE_SIZE,
  MIN_CLASS_SIZE,
  MIN_PAGE_SIZE,
  pageCapacity,
  sizeToClass,
  TRAILER_FIXED_BYTES,
  trailerOffset,
} from "./slab/classes.js";

// ---- header slots (float64) ---------------------------------------------------------------
const SLAB_HEADER = declareHeader([
  "PAGE_SIZE",
  "CLASSES",
  "EMPTY_LIMIT",
  "TABLE_AT",
  "TABLE_FIRST",
  "TABLE_LEN",
  "LIVE",
  "IN_USE",
  "PEAK",
  "LARGE_HEAD",
  "LARGE_LIVE",
  "LARGE_BYTES",
  "PAGES",
  "META_AT",
]);
const {
  PAGE_SIZE,
  CLASSES,
  EMPTY_LIMIT,
  TABLE_AT,
  TABLE_FIRST,
  TABLE_LEN,
  LIVE,
  IN_USE,
  PEAK,
  LARGE_HEAD,
  LARGE_LIVE,
  LARGE_BYTES,
  PAGES,
  META_AT,
} = SLAB_HEADER.slot;

// ---- class record (u32 words); list heads and counts are indexed by list tag -----------------
const LIST_PARTIAL = 1;
const LIST_FULL = 2;
const LIST_EMPTY = 3;
const LIST_NAMES = ["", "partial", "full", "empty"];
/** Word of a list's head page: C_PARTIAL, C_FULL, C_EMPTY. */
const listHead = (tag: number): number => tag - 1;
/** Word of a list's page count: C_N_PARTIAL, C_N_FULL, C_N_EMPTY. */
const listCount = (tag: number): number => tag + 2;
const C_PARTIAL = listHead(LIST_PARTIAL);
const C_EMPTY = listHead(LIST_EMPTY);
const C_N_PARTIAL = listCount(LIST_PARTIAL);
const C_N_FULL = listCount(LIST_FULL);
const C_N_EMPTY = listCount(LIST_EMPTY);
const C_LIVE = 6;
const CLASS_RECORD_WORDS = 8;
const CLASS_RECORD_BYTES = CLASS_RECORD_WORDS * 4;

// ---- page trailer (u32 words at page + trailerOffset(class)) -----------------------------------
const T_MAGIC = 0;
const T_CLASS = 1;
const T_LIVE = 2;
const T_FREE = 3;
const T_CARVED = 4;
const T_NEXT = 5;
const T_PREV = 6;
const T_LIST = 7;
const T_BITMAP = TRAILER_FIXED_BYTES / 4;
const PAGE_MAGIC = 0x534c4250; // "SLBP"

// ---- page table entries (u8) ---------------------------------------------------------------
const NOT_A_PAGE = 0;
/** Entry of a page given back to the parent: RELEASED_PAGE + class. */
const RELEASED_PAGE = 128;

// ---- large block header (u32 words at ptr − LARGE_HEADER_BYTES) -------------------------------
// The list links come first: once the block is freed, the parent may write its own free-list
// fields over the start of its block (words 0–3, 16 bytes); the words that prove a double
// free (BASE, PSIZE, CHECK, STATE) sit right below ptr, where they survive that.
const L_NEXT = 0;
const L_PREV = 1;
const L_BASE = 4;
const L_PSIZE = 5;
const L_CHECK = 6;
const L_STATE = 7;
const LARGE_HEADER_WORDS = 8;
const LARGE_HEADER_BYTES = LARGE_HEADER_WORDS * 4;
const LARGE_LIVE_TAG = 0x4c524745; // "LRGE"
const LARGE_FREED_TAG = 0x4c524644; // "LRFD"

/** Default page size: 16 KiB (the largest class, 2048, fits 7 times). */
export const DEFAULT_PAGE_SIZE = 16384;
/** Default empty pages a class keeps instead of giving them back at once. */
export const DEFAULT_EMPTY_PAGES_PER_CLASS = 1;
const MAX_EMPTY_PAGES_PER_CLASS = 65536;

export interface SlabOptions {
  /** Bytes per page: a power of two, 1024 … 65536 (default 16384). */
  pageSize?: number;
  /**
   * Requests up to this many bytes use size classes; larger ones go to the parent. Rounded
   * down to a class; 8 … min(2048, pageSize / 4). Default min(2048, pageSize / 8).
   */
  maxSmall?: number;
  /** Empty pages each class keeps rather than giving them back (default 1; 0 … 65536). */
  emptyPagesPerClass?: number;
}

/** One size class in `classStats()`. Bytes except the counts. */
export interface SlabClassStats {
  readonly classSize: number;
  readonly blocksPerPage: number;
  /** Pages held: partial + full + empty. */
  readonly pages: number;
  readonly partialPages: number;
  readonly fullPages: number;
  readonly emptyPages: number;
  readonly liveBlocks: number;
  /** Blocks of the class's pages not in use (carved or not). */
  readonly freeBlocks: number;
  /** Bytes of the pages that no block can use: trailers and tails. */
  readonly wastedBytes: number;
}

/** The hash a large block's header carries, binding its pointer, parent block and size. */
function largeCheck(ptr: number, base: number, psize: number): number {
  return (
    (Math.imul(ptr ^ LARGE_LIVE_TAG, 0x9e3779b1) ^
      Math.imul(base, 0x85ebca6b) ^
      Math.imul(psize + 1, 0xc2b2ae35)) >>>
    0
  );
}

function metadataBytes(classCount: number): number {
  return alignUp(SLAB_HEADER.bytes + classCount * CLASS_RECORD_BYTES, SLOT_BYTES);
}

function isAllocator(x: unknown): x is Allocator {
  const a = x as Allocator | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.alloc === "function" &&
    typeof a.dealloc === "function" &&
    typeof a.stats === "function" &&
    typeof a.memory === "object"
  );
}

function checkOption(value: number, what: string, min: number, max: number): number {
  if (typeof value !== "number")
    throw new ArgumentTypeError(`SlabAllocator: ${what} must be a number`);
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new ArgumentRangeError(
      `SlabAllocator: ${what} must be an integer ${min} … ${max}, got ${value}`,
      "ERR_ALLOC_SIZE",
    );
  }
  return value;
}

/** What the constructor decided before BaseAllocator runs. */
interface SlabPlan {
  metaAt: number;
  pageSize: number;
  classCount: number;
  emptyLimit: number;
  attach: boolean;
}

function planNew(parent: Allocator, options: SlabOptions): SlabPlan {
  const pageSize = checkOption(
    options.pageSize ?? DEFAULT_PAGE_SIZE,
    "pageSize",
    MIN_PAGE_SIZE,
    MAX_PAGE_SIZE,
  );
  if (!isPowerOfTwo(pageSize)) {
    throw new ArgumentRangeError(
      `SlabAllocator: pageSize must be a power of two, got ${pageSize}`,
      "ERR_ALLOC_SIZE",
    );
  }
  const maxSmall = checkOption(
    options.maxSmall ?? Math.min(MAX_CLASS_SIZE, pageSize / 8),
    "maxSmall",
    MIN_CLASS_SIZE,
    Math.min(MAX_CLASS_SIZE, pageSize / 4),
  );
  const emptyLimit = checkOption(
    options.emptyPagesPerClass ?? DEFAULT_EMPTY_PAGES_PER_CLASS,
    "emptyPagesPerClass",
    0,
    MAX_EMPTY_PAGES_PER_CLASS,
  );
  const classCount = classAtMost(maxSmall) + 1;
  const bytes = metadataBytes(classCount);
  const metaAt = parent.alloc(bytes, SLOT_BYTES);
  if (metaAt === 0) {
    throw new ArgumentRangeError(
      `SlabAllocator: the parent has no room for ${bytes} bytes of metadata`,
      "ERR_MEMORY",
    );
  }
  return { metaAt, pageSize, classCount, emptyLimit, attach: false };
}

function planAttach(parent: Allocator, metaAt: number): SlabPlan {
  const memory = parent.memory;
  memory.refresh();
  if (
    !(
      isUint32(metaAt) &&
      metaAt % SLOT_BYTES === 0 &&
      metaAt >= memory.start &&
      metaAt + SLAB_HEADER.bytes <= memory.end
    )
  ) {
    throw new HeapIncompatibleError(
      `SlabAllocator: no slab metadata can be at ${metaAt} (not an 8-aligned address with room for a header)`,
    );
  }
  const f = memory.f64;
  const slot0 = metaAt / SLOT_BYTES;
  validateHeader(f, slot0, StrategyKind.slab, "SlabAllocator");
  const pageSize = f[slot0 + PAGE_SIZE];
  const classCount = f[slot0 + CLASSES];
  const emptyLimit = f[slot0 + EMPTY_LIMIT];
  if (
    !(
      isPowerOfTwo(pageSize) &&
      pageSize >= MIN_PAGE_SIZE &&
      pageSize <= MAX_PAGE_SIZE &&
      Number.isInteger(classCount) &&
      classCount >= 1 &&
      classCount <= CLASS_COUNT &&
      Number.isSafeInteger(emptyLimit) &&
      emptyLimit >= 0 &&
      f[slot0 + META_AT] === metaAt &&
      f[slot0 + H_META_BYTES] === metadataBytes(classCount) &&
      f[slot0 + TABLE_FIRST] === Math.floor(memory.start / pageSize)
    )
  ) {
    throw new HeapIncompatibleError(
      `SlabAllocator: the slab header at ${metaAt} has a configuration this memory cannot hold`,
      "ERR_HEAP_CONFIG",
    );
  }
  return { metaAt, pageSize, classCount, emptyLimit, attach: true };
}

export class SlabAllocator extends BaseAllocator {
  readonly name = "SlabAllocator";
  /** The allocator pages and large blocks come from. */
  readonly parent: Allocator;
  /** Bytes per page. */
  readonly pageSize: number;
  /** The largest request served by a size class; larger ones go to the parent. */
  readonly maxSmall: number;
  /** Classes in use (0 … classCount−1). */
  readonly classCount: number;

  private readonly pageShift: number;
  private readonly pageMask: number;
  private readonly tableFirst: number;
  /** u32 index of class record 0. */
  private readonly recBase: number;
  /** Derived from the configuration: class sizes, blocks per page, trailer offsets. */
  private readonly sizes: Uint32Array;
  private readonly caps: Uint32Array;
  private readonly trailerOffsets: Uint32Array;
  /** Class of a size ≤ maxSmall, indexed by ⌈size / 8⌉. */
  private readonly classBySize8: Uint8Array;
  private u32: Uint32Array;
  private u8: Uint8Array;

  /**
   * A slab whose pages and large blocks come from `parent`. The metadata block and the
   * page table are allocated from the parent now; throws `RangeError` (`ERR_MEMORY`) when
   * it has no room for them.
   */
  constructor(parent: Allocator, options: SlabOptions = {}) {
    if (!isAllocator(parent)) {
      throw new ArgumentTypeError("SlabAllocator needs a parent Allocator");
    }
    if (!parent.memory.hasBytes) {
      throw new ArgumentTypeError(
        "SlabAllocator needs a parent over a memory with bytes (page trailers live in the pages)",
        "ERR_UNSUPPORTED",
      );
    }
    const attachAt = (options as { attachAt?: number }).attachAt;
    const plan = attachAt === undefined ? planNew(parent, options) : planAttach(parent, attachAt);
    super(
      parent.memory,
      StrategyKind.slab,
      SLAB_HEADER,
      plan.classCount * CLASS_RECORD_BYTES,
      plan.pageSize,
      plan.attach,
      "SlabAllocator",
      plan.metaAt,
    );
    this.parent = parent;
    this.pageSize = plan.pageSize;
    this.pageShift = log2Floor(plan.pageSize);
    this.pageMask = plan.pageSize - 1;
    this.classCount = plan.classCount;
    this.maxSmall = classSize(plan.classCount - 1);
    this.tableFirst = Math.floor(parent.memory.start / plan.pageSize);
    this.recBase = (this.metaAt + SLAB_HEADER.bytes) / 4;
    this.sizes = new Uint32Array(plan.classCount);
    this.caps = new Uint32Array(plan.classCount);
    this.trailerOffsets = new Uint32Array(plan.classCount);
    for (let c = 0; c < plan.classCount; c++) {
      this.sizes[c] = classSize(c);
      this.caps[c] = pageCapacity(classSize(c), plan.pageSize);
      this.trailerOffsets[c] = trailerOffset(classSize(c), plan.pageSize);
    }
    this.classBySize8 = new Uint8Array(this.maxSmall / MIN_CLASS_SIZE + 1);
    for (let k = 0; k < this.classBySize8.length; k++) {
      this.classBySize8[k] = sizeToClass(k * MIN_CLASS_SIZE);
    }
    this.u32 = parent.memory.u32;
    this.u8 = parent.memory.u8;
    if (!plan.attach) this.initialise(plan.emptyLimit);
  }

  /**
   * A second handle on the slab whose metadata block is at `metaAt` (`metadataPointer` of
   * the first), over the same parent. Validates the header read-only first.
   */
  static attach(parent: Allocator, metaAt: number): SlabAllocator {
    return new SlabAllocator(parent, { attachAt: metaAt } as SlabOptions);
  }

  /** Address of the slab's metadata block in the parent's memory (for `attach`). */
  get metadataPointer(): number {
    return this.metaAt;
  }

  private initialise(emptyLimit: number): void {
    const memory = this.memory;
    const tableLen = Math.max(1, Math.ceil(memory.end / this.pageSize) - this.tableFirst);
    const tableAt = this.parent.alloc(tableLen, SLOT_BYTES);
    this.syncViews();
    if (tableAt === 0) {
      this.parent.dealloc(this.metaAt, this.metaBytes);
      throw new ArgumentRangeError(
        `SlabAllocator: the parent has no room for a ${tableLen}-byte page table`,
        "ERR_MEMORY",
      );
    }
    this.u8.fill(NOT_A_PAGE, tableAt, tableAt + tableLen);
    this.u32.fill(0, this.recBase, this.recBase + this.classCount * CLASS_RECORD_WORDS);
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + PAGE_SIZE] = this.pageSize;
    slots[slot0 + CLASSES] = this.classCount;
    slots[slot0 + EMPTY_LIMIT] = emptyLimit;
    slots[slot0 + TABLE_AT] = tableAt;
    slots[slot0 + TABLE_FIRST] = this.tableFirst;
    slots[slot0 + TABLE_LEN] = tableLen;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + IN_USE] = 0;
    slots[slot0 + PEAK] = 0;
    slots[slot0 + LARGE_HEAD] = 0;
    slots[slot0 + LARGE_LIVE] = 0;
    slots[slot0 + LARGE_BYTES] = 0;
    slots[slot0 + PAGES] = 0;
    slots[slot0 + META_AT] = this.metaAt;
  }

  protected override onViews(): void {
    this.u32 = this.memory.u32;
    this.u8 = this.memory.u8;
  }

  // ---- alloc -------------------------------------------------------------------------------

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
    if (align !== DEFAULT_ALIGN) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align > DEFAULT_ALIGN) {
        const c = classForRequest(size, align, this.classCount);
        return c < 0 ? this.allocLarge(size, align) : this.allocSmall(c);
      }
    }
    if (size > this.maxSmall) return this.allocLarge(size, DEFAULT_ALIGN);
    return this.allocSmall(this.classBySize8[(size + 7) >>> 3]);
  }

  /** Takes a block of class `c` from its first partial page (getting a page if none). */
  private allocSmall(c: number): number {
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    let page = this.u32[rec + C_PARTIAL];
    if (page === 0) {
      page = this.takePage(c);
      if (page === 0) return 0;
    }
    const u32 = this.u32; // taking a page may have replaced the views
    const t = (page + this.trailerOffsets[c]) >>> 2;
    if (u32[t + T_MAGIC] !== PAGE_MAGIC) this.corruptTrailer(page, c, t);
    const size = this.sizes[c];
    let block = u32[t + T_FREE];
    let bi: number;
    if (block !== 0) {
      bi = (block - page) / size;
      if (
        !(bi >= 0 && bi < u32[t + T_CARVED] && bi === Math.floor(bi)) ||
        (u32[t + T_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) !== 0
      ) {
        this.corrupt(
          `free list of page ${page} (class ${size}) leads to ${block}, which is not a free block of the page (written after free?)`,
        );
      }
      u32[t + T_FREE] = u32[block >>> 2];
    } else {
      bi = u32[t + T_CARVED];
      u32[t + T_CARVED] = bi + 1;
      block = page + bi * size;
    }
    u32[t + T_BITMAP + (bi >>> 5)] |= 1 << (bi & 31);
    const live = u32[t + T_LIVE] + 1;
    u32[t + T_LIVE] = live;
    u32[rec + C_LIVE]++;
    if (live === this.caps[c]) {
      this.unlinkPage(c, page, t);
      this.pushPage(c, page, t, LIST_FULL);
    }
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + LIVE]++;
    const inUse = slots[slot0 + IN_USE] + size;
    slots[slot0 + IN_USE] = inUse;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    return block;
  }

  /** A page for class `c` with room, now first on its partial list: a cached one or a new one. */
  private takePage(c: number): number {
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    const cached = this.u32[rec + C_EMPTY];
    if (cached === 0) return this.newPage(c);
    const t = (cached + this.trailerOffsets[c]) >>> 2;
    this.unlinkPage(c, cached, t);
    this.pushPage(c, cached, t, LIST_PARTIAL);
    return cached;
  }

  /** Asks the parent for a page, records it in the page table, puts it on the partial list. */
  private newPage(c: number): number {
    const P = this.pageSize;
    const page = this.parent.alloc(P, P);
    this.syncViews();
    if (page === 0) return 0;
    if ((page & this.pageMask) !== 0 || page < this.memory.start || page + P > this.memory.end) {
      this.parent.dealloc(page, P);
      throw new AllocatorError(
        `SlabAllocator: the parent returned ${page} for a ${P}-byte page aligned to ${P}; ` +
          "it cannot serve this page size",
        "ERR_UNSUPPORTED",
      );
    }
    const i = (page >>> this.pageShift) - this.tableFirst;
    if (i >= this.slots[this.slot0 + TABLE_LEN] && !this.growTable(i + 1)) {
      this.parent.dealloc(page, P);
      return 0;
    }
    const u32 = this.u32;
    const t = (page + this.trailerOffsets[c]) >>> 2;
    u32[t + T_MAGIC] = PAGE_MAGIC;
    u32[t + T_CLASS] = c;
    u32[t + T_LIVE] = 0;
    u32[t + T_FREE] = 0;
    u32[t + T_CARVED] = 0;
    u32.fill(0, t + T_BITMAP, t + T_BITMAP + Math.ceil(this.caps[c] / BITMAP_WORD_BITS));
    this.u8[this.slots[this.slot0 + TABLE_AT] + i] = c + 1;
    this.pushPage(c, page, t, LIST_PARTIAL);
    this.slots[this.slot0 + PAGES]++;
    return page;
  }

  /**
   * Replaces the page table by one of at least `minLen` entries (doubling, up to the
   * memory's maximum), copied from the old one, which goes back to the parent.
   */
  private growTable(minLen: number): boolean {
    const oldAt = this.slots[this.slot0 + TABLE_AT];
    const oldLen = this.slots[this.slot0 + TABLE_LEN];
    const maxLen = Math.max(
      minLen,
      Math.ceil(this.memory.maxEnd / this.pageSize) - this.tableFirst,
    );
    const len = Math.min(Math.max(minLen, oldLen * 2), maxLen);
    const at = this.parent.alloc(len, SLOT_BYTES);
    this.syncViews();
    if (at === 0) return false;
    const u8 = this.u8;
    u8.copyWithin(at, oldAt, oldAt + oldLen);
    u8.fill(NOT_A_PAGE, at + oldLen, at + len);
    this.slots[this.slot0 + TABLE_AT] = at;
    this.slots[this.slot0 + TABLE_LEN] = len;
    this.forgetReleasedPages(at, len);
    this.parent.dealloc(oldAt, oldLen);
    return true;
  }

  /** A block of `size` bytes aligned to `align` from the parent, behind a large-block header. */
  private allocLarge(size: number, align: number): number {
    const pad = Math.max(align, LARGE_HEADER_BYTES);
    // alloc(0) with an alignment no class gives still needs a byte of its own: ptr must lie
    // inside the parent block, or it would be the next block's address.
    const usable = size === 0 ? MIN_CLASS_SIZE : size;
    const psize = usable + pad;
    if (psize > MAX_ALLOC_SIZE) return 0;
    const base = this.parent.alloc(psize, align);
    this.syncViews();
    if (base === 0) return 0;
    const ptr = base + pad;
    const u32 = this.u32;
    const slots = this.slots;
    const slot0 = this.slot0;
    const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
    const head = slots[slot0 + LARGE_HEAD];
    u32.fill(0, hd, hd + LARGE_HEADER_WORDS);
    u32[hd + L_STATE] = LARGE_LIVE_TAG;
    u32[hd + L_BASE] = base;
    u32[hd + L_PSIZE] = psize;
    u32[hd + L_NEXT] = head;
    u32[hd + L_PREV] = 0;
    u32[hd + L_CHECK] = largeCheck(ptr, base, psize);
    if (head !== 0) u32[((head - LARGE_HEADER_BYTES) >>> 2) + L_PREV] = ptr;
    this.forgetReleasedPages(base, psize);
    slots[slot0 + LARGE_HEAD] = ptr;
    slots[slot0 + LARGE_LIVE]++;
    slots[slot0 + LARGE_BYTES] += usable;
    slots[slot0 + LIVE]++;
    const inUse = slots[slot0 + IN_USE] + usable;
    slots[slot0 + IN_USE] = inUse;
    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;
    return ptr;
  }

  /**
   * A parent block now covers [base, base + bytes): pages of ours given back there earlier
   * are gone, so pointers into them are no longer stale blocks of ours (their table entries
   * go from RELEASED to NOT_A_PAGE; O(bytes / pageSize)).
   */
  private forgetReleasedPages(base: number, bytes: number): void {
    const tableAt = this.slots[this.slot0 + TABLE_AT];
    const len = this.slots[this.slot0 + TABLE_LEN];
    const first = (base >>> this.pageShift) - this.tableFirst;
    const last = Math.min(len - 1, ((base + bytes - 1) >>> this.pageShift) - this.tableFirst);
    const u8 = this.u8;
    for (let i = first; i <= last; i++) {
      if (u8[tableAt + i] >= RELEASED_PAGE) u8[tableAt + i] = NOT_A_PAGE;
    }
  }

  // ---- dealloc -----------------------------------------------------------------------------

  dealloc(ptr: number, size?: number): void {
    const _slots = this.slots;
    const _slot0 = this.slot0;
    if (this.blocked()) {
      this.enterSlow();
      this.dealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const entry = this.entryOf(ptr);
    if (size !== undefined && !isUint32(size)) checkDeallocSize(size);
    if (entry !== NOT_A_PAGE && entry <= this.classCount) this.deallocSmall(ptr, size, entry - 1);
    else this.deallocLarge(ptr, size, entry);
  }

  private deallocSmall(ptr: number, size: number | undefined, c: number): void {
    const t = this.checkSmall(ptr, c);
    const cs = this.sizes[c];
    if (size !== undefined && size > cs) {
      throw new LayoutMismatchError(
        `SlabAllocator: dealloc(${ptr}, ${size}): the block holds ${cs} bytes (class ${cs})`,
      );
    }
    // ---- validated; mutate ----
    const u32 = this.u32;
    const page = ptr - (ptr & this.pageMask);
    const bi = (ptr - page) / cs;
    u32[t + T_BITMAP + (bi >>> 5)] &= ~(1 << (bi & 31));
    u32[ptr >>> 2] = u32[t + T_FREE];
    u32[t + T_FREE] = ptr;
    const live = u32[t + T_LIVE] - 1;
    u32[t + T_LIVE] = live;
    u32[this.recBase + c * CLASS_RECORD_WORDS + C_LIVE]--;
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + LIVE]--;
    slots[slot0 + IN_USE] -= cs;
    if (u32[t + T_LIST] === LIST_FULL) {
      this.unlinkPage(c, page, t);
      this.pushPage(c, page, t, LIST_PARTIAL);
    }
    if (live === 0) this.pageEmptied(c, page, t);
  }

  /** A page's last block was freed: keep it as the class's cached empty page, or give it back. */
  private pageEmptied(c: number, page: number, t: number): void {
    this.unlinkPage(c, page, t);
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    if (this.u32[rec + C_N_EMPTY] < this.slots[this.slot0 + EMPTY_LIMIT]) {
      this.pushPage(c, page, t, LIST_EMPTY);
    } else {
      this.releasePage(c, page, t);
    }
  }

  /** Gives an unlinked page back to the parent; its table entry remembers the class. */
  private releasePage(c: number, page: number, t: number): void {
    this.u32[t + T_MAGIC] = 0;
    const i = (page >>> this.pageShift) - this.tableFirst;
    this.u8[this.slots[this.slot0 + TABLE_AT] + i] = RELEASED_PAGE + c;
    this.slots[this.slot0 + PAGES]--;
    this.parent.dealloc(page, this.pageSize);
  }

  private deallocLarge(ptr: number, size: number | undefined, entry: number): void {
    const hd = this.checkLarge(ptr, entry);
    const u32 = this.u32;
    const base = u32[hd + L_BASE];
    const psize = u32[hd + L_PSIZE];
    const usable = base + psize - ptr;
    if (size !== undefined && size > usable) {
      throw new LayoutMismatchError(
        `SlabAllocator: dealloc(${ptr}, ${size}): the block holds ${usable} bytes`,
      );
    }
    const slots = this.slots;
    const slot0 = this.slot0;
    const next = u32[hd + L_NEXT];
    const prev = u32[hd + L_PREV];
    const prevOk =
      prev === 0
        ? slots[slot0 + LARGE_HEAD] === ptr
        : u32[((prev - LARGE_HEADER_BYTES) >>> 2) + L_NEXT] === ptr;
    const nextOk = next === 0 || u32[((next - LARGE_HEADER_BYTES) >>> 2) + L_PREV] === ptr;
    if (!(prevOk && nextOk)) {
      this.corrupt(`large block ${ptr}: list links (prev ${prev}, next ${next}) do not point back`);
    }
    // ---- validated; mutate ----
    if (prev === 0) slots[slot0 + LARGE_HEAD] = next;
    else u32[((prev - LARGE_HEADER_BYTES) >>> 2) + L_NEXT] = next;
    if (next !== 0) u32[((next - LARGE_HEADER_BYTES) >>> 2) + L_PREV] = prev;
    u32[hd + L_STATE] = LARGE_FREED_TAG;
    slots[slot0 + LARGE_LIVE]--;
    slots[slot0 + LARGE_BYTES] -= usable;
    slots[slot0 + LIVE]--;
    slots[slot0 + IN_USE] -= usable;
    this.parent.dealloc(base, psize);
  }

  // ---- validating pointers (read-only) ----------------------------------------------------------

  /**
   * The page-table entry of `ptr`'s page (NOT_A_PAGE beyond the table); throws
   * `InvalidPointerError` for a pointer that cannot be a block of this slab at all.
   */
  private entryOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    if ((ptr & (DEFAULT_ALIGN - 1)) !== 0 || ptr < this.memory.start || ptr >= this.memory.end) {
      throw invalidPointer(
        ptr,
        `not an 8-aligned address in the parent's memory [${this.memory.start}, ${this.memory.end})`,
      );
    }
    const i = (ptr >>> this.pageShift) - this.tableFirst;
    if (i >= this.slots[this.slot0 + TABLE_LEN]) return NOT_A_PAGE;
    return this.u8[this.slots[this.slot0 + TABLE_AT] + i];
  }

  /** Checks that `ptr` is a live block of a page of class `c`; returns its trailer's index. */
  private checkSmall(ptr: number, c: number): number {
    const u32 = this.u32;
    const page = ptr - (ptr & this.pageMask);
    const t = (page + this.trailerOffsets[c]) >>> 2;
    if (u32[t + T_MAGIC] !== PAGE_MAGIC || u32[t + T_CLASS] !== c) this.corruptTrailer(page, c, t);
    const size = this.sizes[c];
    const bi = (ptr - page) / size;
    if (bi !== Math.floor(bi)) {
      throw invalidPointer(
        ptr,
        `inside the ${size}-byte block at ${page + Math.floor(bi) * size}, not at its start`,
      );
    }
    if (bi >= u32[t + T_CARVED]) {
      throw invalidPointer(ptr, `no block was ever handed out there (page ${page}, class ${size})`);
    }
    if ((u32[t + T_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) === 0) {
      throw new DoubleFreeError(`SlabAllocator: block ${ptr} (${size} bytes) is already free`);
    }
    return t;
  }

  /**
   * Checks that `ptr` is a live large block; returns its header's u32 index. A freed large
   * block, or any block of a page given back to the parent, is a double free.
   */
  private checkLarge(ptr: number, entry: number): number {
    const hdrAt = ptr - LARGE_HEADER_BYTES;
    if (hdrAt >= this.memory.start) {
      const u32 = this.u32;
      const hd = hdrAt >>> 2;
      const base = u32[hd + L_BASE];
      const psize = u32[hd + L_PSIZE];
      if (u32[hd + L_CHECK] === largeCheck(ptr, base, psize)) {
        const state = u32[hd + L_STATE];
        if (state === LARGE_FREED_TAG) {
          throw new DoubleFreeError(`SlabAllocator: large block ${ptr} is already free`);
        }
        if (
          state !== LARGE_LIVE_TAG ||
          !(
            base >= this.memory.start &&
            ptr - base >= LARGE_HEADER_BYTES &&
            base + psize <= this.memory.end &&
            base + psize >= ptr
          )
        ) {
          this.corrupt(
            `large block ${ptr}: header (state ${state}, base ${base}, size ${psize}) is inconsistent`,
          );
        }
        return hd;
      }
    }
    if (entry >= RELEASED_PAGE && entry < RELEASED_PAGE + this.classCount) {
      const c = entry - RELEASED_PAGE;
      const off = ptr & this.pageMask;
      if (off % this.sizes[c] === 0 && off / this.sizes[c] < this.caps[c]) {
        throw new DoubleFreeError(
          `SlabAllocator: block ${ptr} lies in a page already given back to the parent ` +
            "(freed twice, or freed after reset)",
        );
      }
    }
    throw invalidPointer(ptr, "not a block of this SlabAllocator");
  }

  private corruptTrailer(page: number, c: number, t: number): never {
    this.corrupt(
      `page ${page} (class ${this.sizes[c]}): trailer at ${t * 4} was overwritten ` +
        `(magic ${this.u32[t + T_MAGIC]}, class ${this.u32[t + T_CLASS]}; overflow of the last block?)`,
    );
  }

  // ---- page lists ------------------------------------------------------------------------------

  /** Puts a page first on list `tag` of class `c`. */
  private pushPage(c: number, page: number, t: number, tag: number): void {
    const u32 = this.u32;
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    const head = u32[rec + listHead(tag)];
    u32[t + T_NEXT] = head;
    u32[t + T_PREV] = 0;
    u32[t + T_LIST] = tag;
    if (head !== 0) u32[((head + this.trailerOffsets[c]) >>> 2) + T_PREV] = page;
    u32[rec + listHead(tag)] = page;
    u32[rec + listCount(tag)]++;
  }

  /** Takes a page off the list its trailer names, after checking its neighbours point back. */
  private unlinkPage(c: number, page: number, t: number): void {
    const u32 = this.u32;
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    const tag = u32[t + T_LIST];
    const prev = u32[t + T_PREV];
    const next = u32[t + T_NEXT];
    const off = this.trailerOffsets[c];
    const pt = (prev + off) >>> 2;
    const nt = (next + off) >>> 2;
    if (
      !(tag >= LIST_PARTIAL && tag <= LIST_EMPTY) ||
      (prev === 0 ? u32[rec + listHead(tag)] !== page : u32[pt + T_NEXT] !== page) ||
      (next !== 0 && u32[nt + T_PREV] !== page)
    ) {
      this.corrupt(
        `page ${page} (class ${this.sizes[c]}): ${LIST_NAMES[tag] ?? `list ${tag}`} links ` +
          `(prev ${prev}, next ${next}) do not point back`,
      );
    }
    if (prev === 0) u32[rec + listHead(tag)] = next;
    else u32[pt + T_NEXT] = next;
    if (next !== 0) u32[nt + T_PREV] = prev;
    u32[rec + listCount(tag)]--;
  }

  // ---- the rest of the contract ----------------------------------------------------------------

  usableSize(ptr: number): number {
    this.enter();
    const entry = this.entryOf(ptr);
    if (entry !== NOT_A_PAGE && entry <= this.classCount) {
      this.checkSmall(ptr, entry - 1);
      return this.sizes[entry - 1];
    }
    const hd = this.checkLarge(ptr, entry);
    return this.u32[hd + L_BASE] + this.u32[hd + L_PSIZE] - ptr;
  }

  /** Whether `ptr` lies in one of this slab's pages or is a live large block of it (O(1)). */
  override owns(ptr: number): boolean {
    this.enter();
    if (!(isUint32(ptr) && ptr >= this.memory.start && ptr < this.memory.end)) return false;
    const i = (ptr >>> this.pageShift) - this.tableFirst;
    const entry =
      i < this.slots[this.slot0 + TABLE_LEN] ? this.u8[this.slots[this.slot0 + TABLE_AT] + i] : 0;
    if (entry !== NOT_A_PAGE && entry <= this.classCount) return true;
    if ((ptr & (DEFAULT_ALIGN - 1)) !== 0 || ptr - LARGE_HEADER_BYTES < this.memory.start) {
      return false;
    }
    const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
    const u32 = this.u32;
    return (
      u32[hd + L_STATE] === LARGE_LIVE_TAG &&
      u32[hd + L_CHECK] === largeCheck(ptr, u32[hd + L_BASE], u32[hd + L_PSIZE])
    );
  }

  /**
   * Frees every block: every page (cached ones too) and every large block goes back to the
   * parent. Later frees of earlier pointers throw `DoubleFreeError`.
   */
  reset(): void {
    this.enter();
    this.releaseAll();
    this.slots[this.slot0 + PEAK] = 0;
  }

  /** Gives every cached empty page back to the parent; returns the bytes given back. */
  trim(): number {
    this.enter();
    let pages = 0;
    for (let c = 0; c < this.classCount; c++) {
      pages += this.releaseList(c, LIST_EMPTY);
    }
    return pages * this.pageSize;
  }

  /** Frees everything, then gives the page table and metadata block back to the parent. */
  override drop(): void {
    this.enter();
    this.releaseAll();
    const tableAt = this.slots[this.slot0 + TABLE_AT];
    const tableLen = this.slots[this.slot0 + TABLE_LEN];
    const metaAt = this.metaAt;
    const metaBytes = this.metaBytes;
    super.drop();
    this.parent.dealloc(tableAt, tableLen);
    this.parent.dealloc(metaAt, metaBytes);
  }

  private releaseAll(): void {
    for (let c = 0; c < this.classCount; c++) {
      this.releaseList(c, LIST_PARTIAL);
      this.releaseList(c, LIST_FULL);
      this.releaseList(c, LIST_EMPTY);
      this.u32[this.recBase + c * CLASS_RECORD_WORDS + C_LIVE] = 0;
    }
    const slots = this.slots;
    const slot0 = this.slot0;
    let ptr = slots[slot0 + LARGE_HEAD];
    let n = slots[slot0 + LARGE_LIVE];
    while (ptr !== 0) {
      if (n-- <= 0) this.corrupt(`the large-block list is longer than LARGE_LIVE (cycle?)`);
      const u32 = this.u32;
      const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
      if (
        !(ptr >= this.memory.start + LARGE_HEADER_BYTES && ptr < this.memory.end) ||
        u32[hd + L_STATE] !== LARGE_LIVE_TAG ||
        u32[hd + L_CHECK] !== largeCheck(ptr, u32[hd + L_BASE], u32[hd + L_PSIZE])
      ) {
        this.corrupt(`the large-block list reaches ${ptr}, which is not a live large block`);
      }
      const next = u32[hd + L_NEXT];
      u32[hd + L_STATE] = LARGE_FREED_TAG;
      slots[slot0 + LARGE_HEAD] = next;
      this.parent.dealloc(u32[hd + L_BASE], u32[hd + L_PSIZE]);
      ptr = next;
    }
    slots[slot0 + LARGE_LIVE] = 0;
    slots[slot0 + LARGE_BYTES] = 0;
    slots[slot0 + LIVE] = 0;
    slots[slot0 + IN_USE] = 0;
  }

  /** Gives every page of list `tag` of class `c` back to the parent; returns how many. */
  private releaseList(c: number, tag: number): number {
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    const count = this.u32[rec + listCount(tag)];
    let n = 0;
    let page = this.u32[rec + listHead(tag)];
    while (page !== 0) {
      if (++n > count) this.corrupt(`class ${this.sizes[c]}: ${LIST_NAMES[tag]} list has a cycle`);
      const t = (page + this.trailerOffsets[c]) >>> 2;
      const next = this.u32[t + T_NEXT];
      this.u32[rec + listHead(tag)] = next;
      this.u32[rec + listCount(tag)]--;
      this.releasePage(c, page, t);
      page = next;
    }
    return n;
  }

  stats(): AllocatorStats {
    this.enter();
    const parentStats = this.parent.stats();
    const u32 = this.u32;
    let slabFree = 0;
    let largestClass = 0;
    for (let c = 0; c < this.classCount; c++) {
      const rec = this.recBase + c * CLASS_RECORD_WORDS;
      const pages = u32[rec + C_N_PARTIAL] + u32[rec + C_N_FULL] + u32[rec + C_N_EMPTY];
      slabFree += (pages * this.caps[c] - u32[rec + C_LIVE]) * this.sizes[c];
      if (u32[rec + C_N_PARTIAL] + u32[rec + C_N_EMPTY] > 0) largestClass = this.sizes[c];
    }
    // A request above maxSmall goes to the parent with a 32-byte header.
    const viaParent = parentStats.largestFree - LARGE_HEADER_BYTES;
    const slots = this.slots;
    const slot0 = this.slot0;
    const capacity = this.memory.end - this.memory.start;
    const inUse = slots[slot0 + IN_USE];
    const free = slabFree + parentStats.free;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: slots[slot0 + LIVE],
      peakInUse: slots[slot0 + PEAK],
      largestFree: Math.max(largestClass, viaParent > this.maxSmall ? viaParent : 0),
    };
  }

  /** Per size class: pages on each list, live and free blocks, bytes lost to trailers and tails. */
  classStats(): SlabClassStats[] {
    this.enter();
    const u32 = this.u32;
    const out: SlabClassStats[] = [];
    for (let c = 0; c < this.classCount; c++) {
      const rec = this.recBase + c * CLASS_RECORD_WORDS;
      const partialPages = u32[rec + C_N_PARTIAL];
      const fullPages = u32[rec + C_N_FULL];
      const emptyPages = u32[rec + C_N_EMPTY];
      const pages = partialPages + fullPages + emptyPages;
      const liveBlocks = u32[rec + C_LIVE];
      out.push({
        classSize: this.sizes[c],
        blocksPerPage: this.caps[c],
        pages,
        partialPages,
        fullPages,
        emptyPages,
        liveBlocks,
        freeBlocks: pages * this.caps[c] - liveBlocks,
        wastedBytes: pages * (this.pageSize - this.caps[c] * this.sizes[c]),
      });
    }
    return out;
  }

  // ---- check -----------------------------------------------------------------------------------

  protected checkStrategy(): void {
    this.parent.check();
    this.syncViews();
    const slots = this.slots;
    const slot0 = this.slot0;
    for (let s = PAGE_SIZE; s < COMMON_SLOTS + SLAB_HEADER.slotCount; s++) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (
      slots[slot0 + META_AT] !== this.metaAt ||
      slots[slot0 + PAGE_SIZE] !== this.pageSize ||
      slots[slot0 + CLASSES] !== this.classCount ||
      slots[slot0 + TABLE_FIRST] !== this.tableFirst
    ) {
      this.corrupt(
        `configuration slots (meta ${slots[slot0 + META_AT]}, page size ${slots[slot0 + PAGE_SIZE]}, ` +
          `classes ${slots[slot0 + CLASSES]}, table first ${slots[slot0 + TABLE_FIRST]}) changed`,
      );
    }
    const tableAt = slots[slot0 + TABLE_AT];
    const tableLen = slots[slot0 + TABLE_LEN];
    if (!(tableAt >= this.memory.start && tableAt + tableLen <= this.memory.end && tableLen >= 1)) {
      this.corrupt(`page table [${tableAt}, ${tableAt + tableLen}) is outside the memory`);
    }
    const u8 = this.u8;
    const tablePages = new Uint32Array(this.classCount);
    for (let i = 0; i < tableLen; i++) {
      const e = u8[tableAt + i];
      if (e === NOT_A_PAGE || (e >= RELEASED_PAGE && e < RELEASED_PAGE + this.classCount)) continue;
      if (e > this.classCount) {
        this.corrupt(
          `page table entry ${i} (page ${(this.tableFirst + i) * this.pageSize}) holds ${e}`,
        );
      }
      tablePages[e - 1]++;
    }
    const u32 = this.u32;
    let live = 0;
    let inUse = 0;
    let pages = 0;
    for (let c = 0; c < this.classCount; c++) {
      const rec = this.recBase + c * CLASS_RECORD_WORDS;
      const size = this.sizes[c];
      let classLive = 0;
      let classPages = 0;
      for (let tag = LIST_PARTIAL; tag <= LIST_EMPTY; tag++) {
        const count = u32[rec + listCount(tag)];
        let n = 0;
        let prev = 0;
        let page = u32[rec + listHead(tag)];
        while (page !== 0) {
          if (++n > count) {
            this.corrupt(
              `class ${size}: ${LIST_NAMES[tag]} list is longer than its count ${count} (cycle at page ${page}?)`,
            );
          }
          classLive += this.checkPage(c, page, prev, tag);
          prev = page;
          page = u32[((page + this.trailerOffsets[c]) >>> 2) + T_NEXT];
        }
        if (n !== count) {
          this.corrupt(
            `class ${size}: ${LIST_NAMES[tag]} list has ${n} pages, count says ${count}`,
          );
        }
        classPages += n;
      }
      if (classLive !== u32[rec + C_LIVE]) {
        this.corrupt(
          `class ${size}: pages hold ${classLive} live blocks, record says ${u32[rec + C_LIVE]}`,
        );
      }
      if (classPages !== tablePages[c]) {
        this.corrupt(
          `class ${size}: ${classPages} pages on its lists, ${tablePages[c]} in the page table`,
        );
      }
      if (u32[rec + C_N_EMPTY] > slots[slot0 + EMPTY_LIMIT]) {
        this.corrupt(
          `class ${size}: ${u32[rec + C_N_EMPTY]} empty pages cached, limit ${slots[slot0 + EMPTY_LIMIT]}`,
        );
      }
      live += classLive;
      inUse += classLive * size;
      pages += classPages;
    }
    const [largeLive, largeBytes] = this.checkLargeList();
    if (live + largeLive !== slots[slot0 + LIVE]) {
      this.corrupt(
        `LIVE is ${slots[slot0 + LIVE]}, blocks counted ${live} small + ${largeLive} large`,
      );
    }
    if (inUse + largeBytes !== slots[slot0 + IN_USE]) {
      this.corrupt(
        `IN_USE is ${slots[slot0 + IN_USE]}, blocks hold ${inUse} + ${largeBytes} bytes`,
      );
    }
    if (pages !== slots[slot0 + PAGES])
      this.corrupt(`PAGES is ${slots[slot0 + PAGES]}, lists hold ${pages}`);
    if (slots[slot0 + PEAK] < slots[slot0 + IN_USE])
      this.corrupt(`PEAK ${slots[slot0 + PEAK]} is below IN_USE`);
  }

  /** Checks one page on list `tag` of class `c`; returns its live blocks. */
  private checkPage(c: number, page: number, prev: number, tag: number): number {
    const u32 = this.u32;
    const size = this.sizes[c];
    const cap = this.caps[c];
    const where = `class ${size}, ${LIST_NAMES[tag]} page ${page}`;
    if (
      (page & this.pageMask) !== 0 ||
      page < this.memory.start ||
      page + this.pageSize > this.memory.end
    ) {
      this.corrupt(`${where}: not a page-aligned page inside the memory`);
    }
    const i = (page >>> this.pageShift) - this.tableFirst;
    if (this.u8[this.slots[this.slot0 + TABLE_AT] + i] !== c + 1) {
      this.corrupt(
        `${where}: page table entry is ${this.u8[this.slots[this.slot0 + TABLE_AT] + i]}`,
      );
    }
    const t = (page + this.trailerOffsets[c]) >>> 2;
    if (u32[t + T_MAGIC] !== PAGE_MAGIC || u32[t + T_CLASS] !== c) this.corruptTrailer(page, c, t);
    if (u32[t + T_LIST] !== tag) this.corrupt(`${where}: trailer names list ${u32[t + T_LIST]}`);
    if (u32[t + T_PREV] !== prev) this.corrupt(`${where}: PREV is ${u32[t + T_PREV]}, not ${prev}`);
    const live = u32[t + T_LIVE];
    const carved = u32[t + T_CARVED];
    if (!(live <= carved && carved <= cap)) {
      this.corrupt(`${where}: LIVE ${live}, CARVED ${carved}, capacity ${cap} out of order`);
    }
    const ok =
      tag === LIST_PARTIAL ? live > 0 && live < cap : tag === LIST_FULL ? live === cap : live === 0;
    if (!ok) this.corrupt(`${where}: ${live} of ${cap} blocks live does not fit this list`);
    let bits = 0;
    const words = Math.ceil(cap / BITMAP_WORD_BITS);
    for (let w = 0; w < words; w++) {
      const word = u32[t + T_BITMAP + w];
      bits += popcount(word);
      // Bits of blocks at or above CARVED must be clear: no such block was handed out.
      const valid = Math.min(BITMAP_WORD_BITS, Math.max(0, carved - w * BITMAP_WORD_BITS));
      const above = valid === BITMAP_WORD_BITS ? 0 : valid === 0 ? word : word >>> valid;
      if (above !== 0) {
        this.corrupt(
          `${where}: bitmap word ${w} (${word}) marks blocks at or above CARVED ${carved}`,
        );
      }
    }
    if (bits !== live) this.corrupt(`${where}: bitmap has ${bits} live bits, LIVE is ${live}`);
    const seen = new Uint8Array(carved);
    let n = 0;
    let block = u32[t + T_FREE];
    while (block !== 0) {
      const bi = (block - page) / size;
      if (!(bi >= 0 && bi < carved && bi === Math.floor(bi))) {
        this.corrupt(`${where}: free list reaches ${block}, not a carved block of the page`);
      }
      if ((u32[t + T_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) !== 0) {
        this.corrupt(`${where}: free list holds live block ${block}`);
      }
      if (seen[bi] !== 0 || ++n > carved - live) {
        this.corrupt(`${where}: free list has a cycle or too many blocks (at ${block})`);
      }
      seen[bi] = 1;
      block = u32[block >>> 2];
    }
    if (n !== carved - live) {
      this.corrupt(
        `${where}: free list holds ${n} blocks, ${carved - live} carved blocks are free`,
      );
    }
    return live;
  }

  /** Walks the live large blocks; returns [count, usable bytes]. */
  private checkLargeList(): [number, number] {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u32 = this.u32;
    const count = slots[slot0 + LARGE_LIVE];
    let n = 0;
    let bytes = 0;
    let prev = 0;
    let ptr = slots[slot0 + LARGE_HEAD];
    while (ptr !== 0) {
      if (++n > count) this.corrupt(`large-block list is longer than LARGE_LIVE ${count} (cycle?)`);
      if (
        !(
          ptr % DEFAULT_ALIGN === 0 &&
          ptr - LARGE_HEADER_BYTES >= this.memory.start &&
          ptr < this.memory.end
        )
      ) {
        this.corrupt(`large-block list reaches ${ptr}, outside the memory`);
      }
      const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
      const base = u32[hd + L_BASE];
      const psize = u32[hd + L_PSIZE];
      if (
        u32[hd + L_CHECK] !== largeCheck(ptr, base, psize) ||
        u32[hd + L_STATE] !== LARGE_LIVE_TAG
      ) {
        this.corrupt(`large block ${ptr}: header fails its check or is not live`);
      }
      if (
        !(
          base >= this.memory.start &&
          ptr - base >= LARGE_HEADER_BYTES &&
          base + psize <= this.memory.end
        )
      ) {
        this.corrupt(`large block ${ptr}: parent block [${base}, ${base + psize}) is out of place`);
      }
      if (u32[hd + L_PREV] !== prev)
        this.corrupt(`large block ${ptr}: PREV ${u32[hd + L_PREV]}, not ${prev}`);
      bytes += base + psize - ptr;
      prev = ptr;
      ptr = u32[hd + L_NEXT];
    }
    if (n !== count) this.corrupt(`large-block list has ${n} blocks, LARGE_LIVE says ${count}`);
    if (bytes !== slots[slot0 + LARGE_BYTES]) {
      this.corrupt(
        `large blocks hold ${bytes} bytes, LARGE_BYTES says ${slots[slot0 + LARGE_BYTES]}`,
      );
    }
    return [n, bytes];
  }
}
