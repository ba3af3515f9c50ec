/**
 * The slab kernel: the handle's state (derived tables, views) and the operations every
 * public call is made of: taking and giving back pages, carving and freeing blocks, large
 * blocks, validating pointers read-only, the page lists. Layout: layout.ts.
 */

import type { Allocator } from "../../core/allocator.js";
import { BaseAllocator } from "../../core/allocator.js";
import { log2Floor } from "../../core/bits.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  LayoutMismatchError,
} from "../../core/errors.js";
import { SLOT_BYTES, StrategyKind } from "../../core/header.js";
import {
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  MAX_ALLOC_SIZE,
  rejectPointer,
} from "../../core/validate.js";
import * as classes from "./classes.js";
import { classSize, pageCapacity, sizeToClass, trailerOffset } from "./classes.js";
import * as layout from "./layout.js";
import { largeCheck, listCount, listHead, trailerOverwritten } from "./layout.js";
import { isAllocator, planAttach, planNew, type SlabOptions } from "./plan.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { BITMAP_WORD_BITS, MIN_CLASS_SIZE } = classes;
const {
  C_EMPTY,
  C_LIVE,
  C_N_EMPTY,
  C_PARTIAL,
  CLASS_RECORD_BYTES,
  CLASS_RECORD_WORDS,
  CLASSES,
  EMPTY_LIMIT,
  IN_USE,
  L_BASE,
  L_CHECK,
  L_NEXT,
  L_PREV,
  L_PSIZE,
  L_STATE,
  LARGE_BYTES,
  LARGE_FREED_TAG,
  LARGE_HEAD,
  LARGE_HEADER_BYTES,
  LARGE_HEADER_WORDS,
  LARGE_LIVE,
  LARGE_LIVE_TAG,
  LIST_EMPTY,
  LIST_FULL,
  LIST_NAMES,
  LIST_PARTIAL,
  LIVE,
  META_AT,
  NOT_A_PAGE,
  PAGE_MAGIC,
  PAGE_SIZE,
  PAGES,
  PEAK,
  RELEASED_PAGE,
  SLAB_HEADER,
  T_BITMAP,
  T_CARVED,
  T_CLASS,
  T_FREE,
  T_LIST,
  T_LIVE,
  T_MAGIC,
  T_NEXT,
  T_PREV,
  TABLE_AT,
  TABLE_FIRST,
  TABLE_LEN,
} = layout;

export abstract class SlabKernel extends BaseAllocator {
  /** The allocator pages and large blocks come from. */
  readonly parent: Allocator;
  /** Bytes per page. */
  readonly pageSize: number;
  /** The largest request served by a size class; larger ones go to the parent. */
  readonly maxSmall: number;
  /** Classes in use (0 … classCount−1). */
  readonly classCount: number;

  protected readonly pageShift: number;
  protected readonly pageMask: number;
  protected readonly tableFirst: number;
  /** u32 index of class record 0. */
  protected readonly recBase: number;
  /** Derived from the configuration: class sizes, blocks per page, trailer offsets. */
  protected readonly sizes: Uint32Array;
  protected readonly caps: Uint32Array;
  protected readonly trailerOffsets: Uint32Array;
  /** Class of a size ≤ maxSmall, indexed by ⌈size / 8⌉. */
  protected readonly classBySize8: Uint8Array;
  protected u32: Uint32Array;
  protected u8: Uint8Array;

  /**
   * A slab whose pages and large blocks come from `parent`. The metadata block and the
   * page table are allocated from the parent now; throws `RangeError` (`ERR_MEMORY`) when
   * it has no room for them.
   */
  protected constructor(parent: Allocator, options: SlabOptions) {
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

  protected initialise(emptyLimit: number): void {
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

  /** Takes a block of class `c` from its first partial page (getting a page if none). */
  protected allocSmall(c: number): number {
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
  protected takePage(c: number): number {
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    const cached = this.u32[rec + C_EMPTY];
    if (cached === 0) return this.newPage(c);
    const t = (cached + this.trailerOffsets[c]) >>> 2;
    this.unlinkPage(c, cached, t);
    this.pushPage(c, cached, t, LIST_PARTIAL);
    return cached;
  }

  /** Asks the parent for a page, records it in the page table, puts it on the partial list. */
  protected newPage(c: number): number {
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
  protected growTable(minLen: number): boolean {
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
  protected allocLarge(size: number, align: number): number {
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
  protected forgetReleasedPages(base: number, bytes: number): void {
    const tableAt = this.slots[this.slot0 + TABLE_AT];
    const len = this.slots[this.slot0 + TABLE_LEN];
    const first = (base >>> this.pageShift) - this.tableFirst;
    const last = Math.min(len - 1, ((base + bytes - 1) >>> this.pageShift) - this.tableFirst);
    const u8 = this.u8;
    for (let i = first; i <= last; i++) {
      if (u8[tableAt + i] >= RELEASED_PAGE) u8[tableAt + i] = NOT_A_PAGE;
    }
  }

  protected deallocSmall(ptr: number, size: number | undefined, c: number): void {
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
  protected pageEmptied(c: number, page: number, t: number): void {
    this.unlinkPage(c, page, t);
    const rec = this.recBase + c * CLASS_RECORD_WORDS;
    if (this.u32[rec + C_N_EMPTY] < this.slots[this.slot0 + EMPTY_LIMIT]) {
      this.pushPage(c, page, t, LIST_EMPTY);
    } else {
      this.releasePage(c, page, t);
    }
  }

  /** Gives an unlinked page back to the parent; its table entry remembers the class. */
  protected releasePage(c: number, page: number, t: number): void {
    this.u32[t + T_MAGIC] = 0;
    const i = (page >>> this.pageShift) - this.tableFirst;
    this.u8[this.slots[this.slot0 + TABLE_AT] + i] = RELEASED_PAGE + c;
    this.slots[this.slot0 + PAGES]--;
    this.parent.dealloc(page, this.pageSize);
  }

  protected deallocLarge(ptr: number, size: number | undefined, entry: number): void {
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
  protected entryOf(ptr: number): number {
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
  protected checkSmall(ptr: number, c: number): number {
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
  protected checkLarge(ptr: number, entry: number): number {
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

  protected corruptTrailer(page: number, c: number, t: number): never {
    this.corrupt(trailerOverwritten(page, this.sizes[c], t, this.u32));
  }

  // ---- page lists ------------------------------------------------------------------------------

  /** Puts a page first on list `tag` of class `c`. */
  protected pushPage(c: number, page: number, t: number, tag: number): void {
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
  protected unlinkPage(c: number, page: number, t: number): void {
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
}
