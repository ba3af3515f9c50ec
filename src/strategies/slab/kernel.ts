/**
 * The slab kernel: the handle's state (derived tables, views) and the operations every
 * public call is made of: taking and giving back pages, carving and freeing blocks, large
 * blocks, validating pointers read-only. Layout: layout.ts; the page table: table.ts; the
 * page lists: lists.ts.
 */

import type { Allocator } from "../../core/allocator.js";
import { BaseAllocator, isAllocator } from "../../core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  LayoutMismatchError,
} from "../../core/errors.js";
import { StrategyKind } from "../../core/header.js";
import { invalidPointer } from "../../core/validate.js";
import * as classes from "./classes.js";
import { classForRequest, classInfo, classSize, pageLength, sizeToClass } from "./classes.js";
import * as layout from "./layout.js";
import { headerOverwritten } from "./layout.js";
import { pushPage, unlinkPage } from "./lists.js";
import { planAttach, planNew, type SlabOptions, tableShiftFor } from "./plan.js";
import { forgetReleasedPages, releasedEntry, rememberedPages, setPageEntries } from "./table.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  BITMAP_WORD_BITS,
  CLASS_INFO_SHIFT,
  K_CAP,
  K_FIRST,
  K_INVERSE,
  K_KIND,
  K_LENGTH,
  K_SHIFT,
  K_SIZE,
  MIN_CLASS_SIZE,
  PAGE_ALIGN,
} = classes;
const {
  C_EMPTY,
  C_N_EMPTY,
  C_PAGES,
  C_PARTIAL,
  CLASS_RECORD_BYTES,
  CLASS_RECORD_SHIFT,
  CLASS_RECORD_WORDS,
  CLASSES,
  EMPTY_LIMIT,
  ENTRY_WORDS,
  INITIAL_TABLE_SLOTS,
  KIND_MASK,
  LIST_EMPTY,
  LIST_FULL,
  LIST_NAMES,
  LIST_PARTIAL,
  META_AT,
  MIN_PAGE,
  P_BITMAP,
  P_CARVED,
  P_FREE,
  P_LIST,
  P_LIVE,
  P_NEXT,
  P_PREV,
  P_TAG,
  PAGE_SIZE,
  PAGE_TAG,
  SLAB_HEADER,
  TABLE_FIRST,
  TABLE_SHIFT,
  W_IN_USE,
  W_LARGE_LIVE,
  W_PAGES,
  W_PEAK,
  W_RELEASED,
  W_TABLE,
  W_TABLE_LEN,
} = layout;

/** Marks "no class" in `classBySize16`. */
export const NO_CLASS = 255;

export abstract class SlabKernel extends BaseAllocator {
  /** The allocator pages and large blocks come from. */
  readonly parent: Allocator;
  /** The largest page size. */
  readonly pageSize: number;
  /** The smallest page size. */
  readonly minPageSize: number;
  /** The largest request served by a size class; larger ones go to the parent. */
  readonly maxSmall: number;
  /** Classes in use (0 … classCount−1). */
  readonly classCount: number;

  /** log2 of the bytes one page-table entry covers, and the slot of entry 0. */
  protected readonly tableShift: number;
  protected readonly tableFirst: number;
  /** u32 index of class record 0, and of the first state word. */
  protected readonly recBase: number;
  protected readonly w0: number;
  /**
   * Derived from the configuration: each class's block size, page geometry and divisor
   * (classes.ts, `classInfo`: `info[(c << CLASS_INFO_SHIFT) + K_SIZE]`), and the page length
   * of each page size kind.
   */
  protected readonly info: Int32Array;
  protected readonly lengthOfKind: Uint32Array;
  /** Class of a request ≤ maxSmall aligned to 8, and to 16 (NO_CLASS: none), by ⌈size / 8⌉. */
  protected readonly classBySize8: Uint8Array;
  protected readonly classBySize16: Uint8Array;
  protected u32: Uint32Array;

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
        "SlabAllocator needs a parent over a memory with bytes (page headers live in the pages)",
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
    this.minPageSize = plan.minPageSize;
    this.classCount = plan.classCount;
    this.maxSmall = classSize(plan.classCount - 1);
    this.tableShift = tableShiftFor(plan.minPageSize);
    this.tableFirst = Math.floor(parent.memory.start / 2 ** this.tableShift);
    this.recBase = (this.metaAt + SLAB_HEADER.bytes) / 4;
    this.w0 = (this.metaAt + SLAB_HEADER.wordsAt) / 4;
    const n = plan.classCount;
    this.info = classInfo(n, plan.minPageSize, plan.pageSize);
    this.lengthOfKind = new Uint32Array(KIND_MASK + 1);
    for (let k = 0; k <= KIND_MASK; k++) {
      this.lengthOfKind[k] = pageLength(Math.min(plan.minPageSize * 2 ** k, plan.pageSize));
    }
    this.classBySize8 = new Uint8Array(this.maxSmall / MIN_CLASS_SIZE + 1);
    this.classBySize16 = new Uint8Array(this.maxSmall / MIN_CLASS_SIZE + 1);
    for (let k = 0; k < this.classBySize8.length; k++) {
      this.classBySize8[k] = sizeToClass(k * MIN_CLASS_SIZE);
      const c16 = classForRequest(k * MIN_CLASS_SIZE, PAGE_ALIGN, n);
      this.classBySize16[k] = c16 < 0 ? NO_CLASS : c16;
    }
    this.u32 = parent.memory.u32;
    if (!plan.attach) this.initialise(plan.emptyLimit);
  }

  /** Entries of the page table the memory could ever need (slots up to its maximum end). */
  protected coverableSlots(): number {
    return Math.ceil(this.memory.maxEnd / 2 ** this.tableShift) - this.tableFirst;
  }

  /** Entries of a fresh slab's page table. */
  protected initialTableLen(): number {
    return Math.max(1, Math.min(INITIAL_TABLE_SLOTS, this.coverableSlots()));
  }

  protected initialise(emptyLimit: number): void {
    const tableLen = this.initialTableLen();
    const tableBytes = tableLen * ENTRY_WORDS * 4;
    const tableAt = this.parent.alloc(tableBytes, PAGE_ALIGN);
    this.syncViews();
    if (tableAt === 0) {
      this.parent.dealloc(this.metaAt, this.metaBytes);
      throw new ArgumentRangeError(
        `SlabAllocator: the parent has no room for a ${tableBytes}-byte page table`,
        "ERR_MEMORY",
      );
    }
    const u32 = this.u32;
    u32.fill(0, tableAt / 4, tableAt / 4 + tableLen * ENTRY_WORDS);
    u32.fill(0, this.recBase, this.recBase + this.classCount * CLASS_RECORD_WORDS);
    u32.fill(0, this.w0, this.w0 + SLAB_HEADER.wordCount);
    u32[this.w0 + W_TABLE] = tableAt / 4;
    u32[this.w0 + W_TABLE_LEN] = tableLen;
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + PAGE_SIZE] = this.pageSize;
    slots[slot0 + MIN_PAGE] = this.minPageSize;
    slots[slot0 + CLASSES] = this.classCount;
    slots[slot0 + EMPTY_LIMIT] = emptyLimit;
    slots[slot0 + TABLE_FIRST] = this.tableFirst;
    slots[slot0 + TABLE_SHIFT] = this.tableShift;
    slots[slot0 + META_AT] = this.metaAt;
  }

  protected override onViews(): void {
    this.u32 = this.memory.u32;
  }

  /**
   * After the parent allocated: it may have grown the memory, replacing its views (a
   * parent's dealloc never does).
   */
  protected followViews(): void {
    if (this.u32 !== this.memory.u32) this.syncViews();
  }

  // ---- small blocks ------------------------------------------------------------------------------

  /** Takes a block of class `c` from its current page (getting a page if it has none). */
  protected allocSmall(c: number): number {
    let page = this.u32[this.recBase + (c << CLASS_RECORD_SHIFT) + C_PARTIAL];
    if (page === 0) {
      page = this.takePage(c);
      if (page === 0) return 0;
    }
    const u32 = this.u32; // taking a page may have replaced the views
    const h = page >>> 2;
    if (u32[h + P_TAG] !== PAGE_TAG + c) this.corrupt(headerOverwritten(page, h, u32));
    const k = c << CLASS_INFO_SHIFT;
    const info = this.info;
    const size = info[k + K_SIZE];
    const blocks = page + info[k + K_FIRST];
    let bi = u32[h + P_FREE] - 1;
    if (bi >= 0) {
      if (bi >= u32[h + P_CARVED] || (u32[h + P_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) !== 0) {
        this.corrupt(
          `free list of page ${page} (class ${size}) leads to block ${bi}, which is not a free block of the page (written after free?)`,
        );
      }
      u32[h + P_FREE] = u32[(blocks + bi * size) >>> 2];
    } else {
      bi = u32[h + P_CARVED];
      if (bi >= info[k + K_CAP]) {
        this.corrupt(`page ${page} (class ${size}) is a current page with no block left`);
      }
      u32[h + P_CARVED] = bi + 1;
    }
    u32[h + P_BITMAP + (bi >>> 5)] |= 1 << (bi & 31);
    const live = u32[h + P_LIVE] + 1;
    u32[h + P_LIVE] = live;
    if (live === info[k + K_CAP]) this.pageFilled(c, page, h);
    const w = this.w0;
    const inUse = u32[w + W_IN_USE] + size;
    u32[w + W_IN_USE] = inUse;
    if (inUse > u32[w + W_PEAK]) u32[w + W_PEAK] = inUse;
    return blocks + bi * size;
  }

  /**
   * Frees `ptr`, a pointer inside the live page `page` of class `c` (header checked).
   * Throws, changing nothing, when it is not a live block's start or `size` is more than
   * the block holds.
   */
  protected deallocSmall(ptr: number, size: number | undefined, page: number, c: number): void {
    const u32 = this.u32;
    const h = page >>> 2;
    const bi = this.blockIndex(ptr, page, h, c);
    const cs = this.info[(c << CLASS_INFO_SHIFT) + K_SIZE];
    if (size !== undefined && size > cs) {
      throw new LayoutMismatchError(
        `SlabAllocator: dealloc(${ptr}, ${size}): the block holds ${cs} bytes (class ${cs})`,
      );
    }
    // ---- validated; mutate ----
    u32[h + P_BITMAP + (bi >>> 5)] &= ~(1 << (bi & 31));
    u32[ptr >>> 2] = u32[h + P_FREE];
    u32[h + P_FREE] = bi + 1;
    const live = u32[h + P_LIVE] - 1;
    u32[h + P_LIVE] = live;
    u32[this.w0 + W_IN_USE] -= cs;
    if (u32[h + P_LIST] === LIST_FULL) this.pageReopened(c, page, h);
    if (live === 0) this.pageEmptied(c, page, h);
  }

  /**
   * The index of the live block `ptr` in `page` (class `c`, header checked, ptr inside
   * the page); throws `InvalidPointerError` or `DoubleFreeError` otherwise. Read-only.
   */
  protected blockIndex(ptr: number, page: number, h: number, c: number): number {
    const u32 = this.u32;
    const info = this.info;
    const k = c << CLASS_INFO_SHIFT;
    const t = Math.imul(ptr - page - info[k + K_FIRST], info[k + K_INVERSE]);
    const s = info[k + K_SHIFT];
    // exactQuotient (classes.ts) written out: above every block index unless ptr is a
    // block start.
    const bi = ((t >>> s) | (t << (32 - s))) >>> 0;
    if (bi >= u32[h + P_CARVED]) this.rejectBlockPointer(ptr, page, h, c);
    if ((u32[h + P_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) === 0) {
      throw new DoubleFreeError(
        `SlabAllocator: block ${ptr} (${info[k + K_SIZE]} bytes) is already free`,
      );
    }
    return bi;
  }

  /** Throws the `InvalidPointerError` for `ptr` in `page`, which is no block ever handed out. */
  protected rejectBlockPointer(ptr: number, page: number, h: number, c: number): never {
    const size = this.classSize(c);
    const off = ptr - page - this.info[(c << CLASS_INFO_SHIFT) + K_FIRST];
    if (off < 0) throw invalidPointer(ptr, `in the header of page ${page}`);
    if (off % size !== 0) {
      throw invalidPointer(
        ptr,
        `inside the ${size}-byte block at ${ptr - (off % size)}, not at its start`,
      );
    }
    throw invalidPointer(
      ptr,
      `no block was ever handed out there (page ${page}, class ${size}, ${this.u32[h + P_CARVED]} carved)`,
    );
  }

  /**
   * The class of the live page `page` (a page-table entry), after checking its header's
   * tag (corruption otherwise).
   */
  protected pageClass(page: number): number {
    const c = (this.u32[page >>> 2] - PAGE_TAG) >>> 0;
    if (c >= this.classCount) this.corrupt(headerOverwritten(page, page >>> 2, this.u32));
    return c;
  }

  /** Block size of class `c`. */
  protected classSize(c: number): number {
    return this.info[(c << CLASS_INFO_SHIFT) + K_SIZE];
  }

  /** Page length (the bytes a page asks its parent for) of class `c`. */
  protected classLength(c: number): number {
    return this.info[(c << CLASS_INFO_SHIFT) + K_LENGTH];
  }

  /** Blocks per page of class `c`. */
  protected classCap(c: number): number {
    return this.info[(c << CLASS_INFO_SHIFT) + K_CAP];
  }

  /**
   * A page's last block was freed. A class keeps up to EMPTY_LIMIT empty pages: its current
   * page, when it is its only partial page (an alloc/free loop of one block then touches no
   * list), and the pages of its empty list; a page beyond that goes back to the parent.
   */
  protected pageEmptied(c: number, page: number, h: number): void {
    const u32 = this.u32;
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    const room = u32[rec + C_N_EMPTY] < this.slots[this.slot0 + EMPTY_LIMIT];
    if (room && u32[rec + C_PARTIAL] === page && u32[h + P_NEXT] === 0) return;
    this.unlink(c, page, h);
    if (room) {
      pushPage(u32, rec, page, h, LIST_EMPTY);
    } else {
      this.releasePage(c, page, h);
      this.shrinkTableIfEmpty();
    }
  }

  /**
   * The current page of class `c` (the head of its partial list) is full: it leaves the
   * list (full pages are on none). Written out for the head, which is all it ever is.
   */
  protected pageFilled(c: number, page: number, h: number): void {
    const u32 = this.u32;
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    const next = u32[h + P_NEXT];
    if (u32[rec + C_PARTIAL] !== page || (next !== 0 && u32[(next >>> 2) + P_PREV] !== page)) {
      this.unlink(c, page, h); // reports the broken links
    }
    u32[rec + C_PARTIAL] = next;
    if (next !== 0) u32[(next >>> 2) + P_PREV] = 0;
    u32[h + P_NEXT] = 0;
    u32[h + P_LIST] = LIST_FULL;
  }

  /**
   * A full page of class `c` got a free block and becomes its current page: an empty
   * current page before it moves to the empty list (or back to the parent), so an empty
   * partial page is always its list's only page.
   */
  protected pageReopened(c: number, page: number, h: number): void {
    const u32 = this.u32;
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    let head = u32[rec + C_PARTIAL];
    if (head !== 0 && u32[(head >>> 2) + P_LIVE] === 0) {
      this.unlink(c, head, head >>> 2);
      if (u32[rec + C_N_EMPTY] < this.slots[this.slot0 + EMPTY_LIMIT]) {
        pushPage(u32, rec, head, head >>> 2, LIST_EMPTY);
      } else {
        this.releasePage(c, head, head >>> 2);
      }
      head = this.u32[rec + C_PARTIAL];
    }
    const v = this.u32;
    v[h + P_NEXT] = head;
    v[h + P_PREV] = 0;
    v[h + P_LIST] = LIST_PARTIAL;
    if (head !== 0) v[(head >>> 2) + P_PREV] = page;
    v[rec + C_PARTIAL] = page;
  }

  // ---- pages -------------------------------------------------------------------------------------

  /** A page for class `c` with room, now its current page: a cached empty one or a new one. */
  protected takePage(c: number): number {
    const cached = this.u32[this.recBase + (c << CLASS_RECORD_SHIFT) + C_EMPTY];
    if (cached === 0) return this.newPage(c);
    this.movePage(c, cached, cached >>> 2, LIST_PARTIAL);
    return cached;
  }

  /** Asks the parent for a page, records it in the page table, makes it the current page. */
  protected newPage(c: number): number {
    const length = this.classLength(c);
    const page = this.parent.alloc(length, PAGE_ALIGN);
    this.followViews();
    if (page === 0) return 0;
    if (
      (page & (PAGE_ALIGN - 1)) !== 0 ||
      page < this.memory.start ||
      page + length > this.memory.end
    ) {
      this.parent.dealloc(page, length);
      throw new AllocatorError(
        `SlabAllocator: the parent returned ${page} for a ${length}-byte page aligned to ${PAGE_ALIGN}; ` +
          "it cannot serve as a parent",
        "ERR_UNSUPPORTED",
      );
    }
    const last = ((page + length - 1) >>> this.tableShift) - this.tableFirst;
    if (last >= this.u32[this.w0 + W_TABLE_LEN] && !this.growTable(last + 1)) {
      this.parent.dealloc(page, length);
      return 0;
    }
    this.forgetReleased(page, length);
    const u32 = this.u32;
    const table = u32[this.w0 + W_TABLE];
    setPageEntries(u32, table, this.tableFirst, this.tableShift, page, length, page);
    const h = page >>> 2;
    u32[h + P_TAG] = PAGE_TAG + c;
    u32[h + P_LIVE] = 0;
    u32[h + P_FREE] = 0;
    u32[h + P_CARVED] = 0;
    u32.fill(0, h + P_BITMAP, h + P_BITMAP + Math.ceil(this.classCap(c) / BITMAP_WORD_BITS));
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    pushPage(u32, rec, page, h, LIST_PARTIAL);
    u32[rec + C_PAGES]++;
    u32[this.w0 + W_PAGES]++;
    return page;
  }

  /** Gives an unlinked page back to the parent; its table entries remember it as given back. */
  protected releasePage(c: number, page: number, h: number): void {
    const u32 = this.u32;
    const length = this.classLength(c);
    u32[h + P_TAG] = 0;
    const word = releasedEntry(page, this.info[(c << CLASS_INFO_SHIFT) + K_KIND]);
    const table = u32[this.w0 + W_TABLE];
    setPageEntries(u32, table, this.tableFirst, this.tableShift, page, length, word);
    u32[this.recBase + (c << CLASS_RECORD_SHIFT) + C_PAGES]--;
    u32[this.w0 + W_PAGES]--;
    u32[this.w0 + W_RELEASED]++;
    this.parent.dealloc(page, length);
  }

  /** The parent handed the slab [base, base + bytes): pages given back there are gone. */
  protected forgetReleased(base: number, bytes: number): void {
    const u32 = this.u32;
    if (u32[this.w0 + W_RELEASED] === 0) return;
    u32[this.w0 + W_RELEASED] -= forgetReleasedPages(
      u32,
      u32[this.w0 + W_TABLE],
      u32[this.w0 + W_TABLE_LEN],
      this.tableFirst,
      this.tableShift,
      this.lengthOfKind,
      base,
      bytes,
    );
  }

  /**
   * Replaces the page table by one of at least `minLen` entries (doubling, up to the
   * memory's maximum), copied from the old one, which goes back to the parent.
   */
  protected growTable(minLen: number): boolean {
    const oldAt = this.u32[this.w0 + W_TABLE];
    const oldLen = this.u32[this.w0 + W_TABLE_LEN];
    const coverable = this.coverableSlots();
    const len = Math.min(Math.max(minLen, oldLen * 2), Math.max(minLen, coverable));
    const bytes = len * ENTRY_WORDS * 4;
    const at = this.parent.alloc(bytes, PAGE_ALIGN);
    this.followViews();
    if (at === 0) return false;
    const u32 = this.u32;
    const to = at / 4;
    u32.copyWithin(to, oldAt, oldAt + oldLen * ENTRY_WORDS);
    u32.fill(0, to + oldLen * ENTRY_WORDS, to + len * ENTRY_WORDS);
    u32[this.w0 + W_TABLE] = to;
    u32[this.w0 + W_TABLE_LEN] = len;
    this.forgetReleased(at, bytes);
    this.parent.dealloc(oldAt * 4, oldLen * ENTRY_WORDS * 4);
    return true;
  }

  /**
   * When the slab holds no page and no large block, a page table grown beyond a fresh
   * slab's goes back to the parent for one of a fresh slab's length (asked for first: with
   * no room the grown table stays), so freeing everything leaves the parent as a fresh slab
   * did. The entries the new table covers are kept (the pages given back there are still
   * remembered); pages given back beyond it are forgotten. O(fresh table) plus the parent.
   */
  protected shrinkTableIfEmpty(): void {
    const w = this.w0;
    const oldLen = this.u32[w + W_TABLE_LEN];
    if (this.u32[w + W_PAGES] !== 0 || this.u32[w + W_LARGE_LIVE] !== 0) return;
    const len = this.initialTableLen();
    if (oldLen <= len) return;
    const bytes = len * ENTRY_WORDS * 4;
    const at = this.parent.alloc(bytes, PAGE_ALIGN);
    this.followViews();
    if (at === 0) return;
    const u32 = this.u32;
    const oldAt = u32[w + W_TABLE];
    const to = at / 4;
    u32.copyWithin(to, oldAt, oldAt + len * ENTRY_WORDS);
    u32[w + W_TABLE] = to;
    u32[w + W_TABLE_LEN] = len;
    u32[w + W_RELEASED] = rememberedPages(u32, to, len, this.tableFirst, this.tableShift);
    this.forgetReleased(at, bytes);
    this.parent.dealloc(oldAt * 4, oldLen * ENTRY_WORDS * 4);
  }

  /** Moves a page from the list it is on to the front of list `tag`. */
  protected movePage(c: number, page: number, h: number, tag: number): void {
    this.unlink(c, page, h);
    pushPage(this.u32, this.recBase + (c << CLASS_RECORD_SHIFT), page, h, tag);
  }

  /** Takes a page off its list; broken links are corruption. */
  protected unlink(c: number, page: number, h: number): void {
    const u32 = this.u32;
    if (!unlinkPage(u32, this.recBase + (c << CLASS_RECORD_SHIFT), page, h)) {
      const tag = u32[h + P_LIST];
      this.corrupt(
        `page ${page} (class ${this.classSize(c)}): ${LIST_NAMES[tag] ?? `list ${tag}`} links ` +
          `(prev ${u32[h + P_PREV]}, next ${u32[h + P_NEXT]}) do not point back`,
      );
    }
  }
}
