/**
 * SlabAllocator: small objects of many sizes in O(1). Requests up to `maxSmall` (1024 by
 * default) are rounded up to one of 28 classes (8 … 2048 bytes, slab/classes.ts) and served
 * from pages of that class; every page is one block of a PARENT allocator (any
 * `Allocator`: a Bump, a Block, a TLSF heap) at any 16-aligned address, and a page that
 * empties goes back to it. Larger requests, and alignments above 16, go to the parent
 * directly, behind a 32-byte header.
 *
 * Choose it for many small objects of mixed sizes (nodes, strings, messages) on top of a
 * general allocator: alloc and free are a few int32 operations on the page's header, there
 * is no per-block header, and same-sized objects share pages. The classes, their worst-case
 * waste, and the page geometry are listed in slab/classes.ts (waste ≤ 7 bytes up to 64,
 * then < 20 %).
 *
 * ## Where the state lives
 * Everything is in the parent's memory, in blocks the slab allocated from the parent: a
 * metadata block (the common header, the slab's slots and int32 words, one record per
 * class) whose address is `metadataPointer` (a second handle attaches there:
 * `SlabAllocator.attach`), a page table (two words per half of the smallest page size of
 * memory, up to the highest page; a fresh slab's length again whenever the slab holds no
 * page and no large block, so freeing everything gives the parent back all it gave), each
 * page's header, and each large block's header. The
 * handle keeps only tables derived from the configuration (each class's size, page length,
 * blocks per page, offset of block 0 and divisor). `this.memory` is the parent's memory,
 * because the blocks are there; `capacity` in `stats()` is the parent's capacity.
 * (BaseAllocator is told where the metadata block is, `metaAt`, instead of placing a header
 * at the memory's start; the header's DATA_START slot is the parent memory's start.)
 *
 * ## Memory picture (layout.ts has every structure drawn)
 *
 *     metadata block | header | slab slots | words | class records |   (a parent block)
 *     page table     | LO | HI | per slot: the pages meeting it (table.ts) | (a parent block)
 *     page           | header: tag, counts, links, bitmap | block 0 | block 1 | … | tail |
 *     large block    | pad | 32-byte header | data … |                   (a parent block)
 *
 * ## Cost
 * | operation            | best | worst           | notes                                       |
 * | -------------------- | ---- | --------------- | ------------------------------------------- |
 * | alloc (small)        | O(1) | O(1) + parent   | parent.alloc only when the class has no page with room |
 * | dealloc (small)      | O(1) | O(1) + parent   | parent.dealloc when a page empties beyond the cache |
 * | last dealloc         | —    | O(fresh table) + parent | a grown table is swapped for a fresh one (the next page beyond it grows it again) |
 * | alloc/dealloc (large)| —    | parent's cost   | plus O(1) list work, and forgetting pages given back where the block lies |
 * | new page             | O(cap/32) | + table growth O(table) amortised while the slab never empties | bitmap cleared, blocks carved lazily |
 * | reset, drop          | O(table + large blocks) | | every page is given back                    |
 * | trim                 | O(empty pages) | |                                              |
 * | check                | O(table + pages × blocks) | |                                           |
 *
 * ## Fragmentation and the empty-page policy
 * Internal: the class rounding (< 20 % above 32 bytes) and each page's tail. External: a
 * page is held while any block in it lives, so a few survivors can pin many pages (the
 * classic slab weakness); allocation takes from the class's current page, which is the
 * page most recently reopened by a free. Small classes get small pages (4 KiB by default),
 * so a class with few live blocks holds little idle memory; a page costs its parent its
 * page size and nothing for alignment (classes.ts). A class keeps up to
 * `emptyPagesPerClass` empty pages (default 1): its current page when it empties as the
 * class's only partial page (so a loop that allocates and frees one object touches no
 * list and never the parent), and pages on its empty list; a page beyond that goes back to
 * the parent at once. `trim()` gives every kept empty page back. With `emptyPagesPerClass:
 * 0` every empty page goes back at once.
 *
 * ## Misuse
 * All checks happen before any change. A pointer not on a block boundary, misaligned, in a
 * page's header or tail, or never handed out → `InvalidPointerError`; a block whose bit is
 * clear, a large block whose header says freed, or any block of a page already given back
 * (also after `reset`; once the parent hands that memory to the slab again, or the page
 * lies beyond the table the slab shrank to when it emptied, pointers into it are just
 * invalid) → `DoubleFreeError`; `dealloc(ptr, size)` with size > the block's
 * usable size → `LayoutMismatchError` (a smaller size is accepted: a block of one class
 * serves several request sizes). A page header whose tag is no page's, a free-list link
 * that leaves the carved blocks or names a live block, or broken list links →
 * `HeapCorruptedError`, as is corruption the parent's `check()` reports; either poisons the slab.
 *
 * ## Invariants (`check()`, check.ts)
 * Every page of a class on one of its lists (or full and on none), with a header, bitmap
 * and free list that agree; the page table names exactly the live pages and the pages
 * given back it remembers; the counters agree with the pages; large blocks pass their check.
 */

import type { Allocator, AllocatorStats } from "../../core/allocator.js";
import { HeapCorruptedError } from "../../core/errors.js";
import {
  checkDeallocSize,
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { checkSlab } from "./check.js";
import * as classes from "./classes.js";
import { NO_CLASS as NO_CLASS_IN_TABLE } from "./kernel.js";
import { SlabLarge } from "./large.js";
import * as layout from "./layout.js";
import type { SlabOptions } from "./plan.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { PAGE_ALIGN } = classes;
const {
  C_EMPTY,
  C_N_EMPTY,
  C_PAGES,
  C_PARTIAL,
  CLASS_RECORD_SHIFT,
  CLASS_RECORD_WORDS,
  E_HI,
  E_LO,
  ENTRY_FLAGS,
  ENTRY_WORDS,
  LARGE_HEADER_BYTES,
  P_LIVE,
  P_NEXT,
  W_IN_USE,
  W_LARGE_LIVE,
  W_PEAK,
  W_TABLE,
  W_TABLE_LEN,
} = layout;

export type { SlabOptions } from "./plan.js";

// The alignments alloc compares with are module-local constants, which the engine folds (an
// imported binding is loaded from its module cell on every use); so is "no class".
const ALIGN8 = 8;
const ALIGN16 = 16;
const NO_CLASS = 255;
const ENTRY_BYTES = 8;
if (
  ALIGN8 !== DEFAULT_ALIGN ||
  ALIGN16 !== PAGE_ALIGN ||
  NO_CLASS !== NO_CLASS_IN_TABLE ||
  ENTRY_BYTES !== ENTRY_WORDS * 4
) {
  throw new Error("slab/allocator.ts: local constants disagree with their sources");
}

/** One size class in `classStats()`. Bytes except the counts. */
export interface SlabClassStats {
  /** The class's block size. */
  readonly classSize: number;
  /** Blocks one page of the class holds. */
  readonly blocksPerPage: number;
  /** Bytes of one page of the class (what it asks its parent for). */
  readonly pageBytes: number;
  /** Pages held: partial + full + empty. */
  readonly pages: number;
  /** Pages with live and free blocks. */
  readonly partialPages: number;
  /** Pages with no free block. */
  readonly fullPages: number;
  /** Pages with no live block, kept for reuse. */
  readonly emptyPages: number;
  /** Blocks of the class in use. */
  readonly liveBlocks: number;
  /** Blocks of the class's pages not in use (carved or not). */
  readonly freeBlocks: number;
  /** Bytes of the pages that no block can use: headers and tails. */
  readonly wastedBytes: number;
}

/**
 * Small objects of many sizes in O(1), on pages taken from a parent allocator (the file's
 * opening comment has the layout, the costs and the empty-page policy).
 *
 * @example
 * ```ts
 * import { SlabAllocator, TlsfAllocator } from "memkit";
 *
 * const slab = new SlabAllocator(new TlsfAllocator(1 << 20)); // pages from a 1 MiB TLSF
 * const p = slab.alloc(20); // a block of the 24-byte class, from a 4 KiB page
 * console.log(slab.usableSize(p)); // 24
 * slab.dealloc(p); // the size is not needed
 * ```
 */
export class SlabAllocator extends SlabLarge {
  readonly name = "SlabAllocator";

  /**
   * A slab whose pages and large blocks come from `parent`. The metadata block and the
   * page table are allocated from the parent now; throws `RangeError` (`ERR_MEMORY`) when
   * it has no room for them.
   *
   * @param parent - the allocator the pages and large blocks come from
   * @param options - page sizes, `maxSmall`, empty pages kept per class
   * @throws {@link ArgumentRangeError} `ERR_MEMORY` when the parent has no room for the
   *   metadata; `ERR_ALLOC_SIZE` for bad options
   */
  constructor(parent: Allocator, options: SlabOptions = {}) {
    super(parent, options);
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

  // ---- alloc -------------------------------------------------------------------------------

  alloc(size: number, align: number = ALIGN8): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== ALIGN8) {
      if (align === ALIGN16) {
        if (size > this.maxSmall) return this.allocLarge(size, ALIGN16);
        const c = this.classBySize16[(size + 7) >>> 3];
        return c === NO_CLASS ? this.allocLarge(size, ALIGN16) : this.allocSmall(c);
      }
      if (!isValidAlign(align)) rejectAlign(align);
      if (align > ALIGN8) return this.allocLarge(size, align);
    }
    if (size > this.maxSmall) return this.allocLarge(size, ALIGN8);
    return this.allocSmall(this.classBySize8[(size + 7) >>> 3]);
  }

  // ---- dealloc -----------------------------------------------------------------------------

  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    if (!isUint32(ptr)) rejectPointer(ptr);
    if (size !== undefined && !isUint32(size)) checkDeallocSize(size);
    // The page that may hold ptr, from its slot's two table entries (layout.ts). A pointer
    // in a live page needs no other check here: one that is misaligned or no block's start
    // fails the block index.
    const u32 = this.u32;
    const w = this.w0;
    const i = ((ptr >>> this.tableShift) - this.tableFirst) >>> 0;
    if (i < u32[w + W_TABLE_LEN]) {
      const e = u32[w + W_TABLE] + 2 * i;
      const hi = u32[e + E_HI];
      if (hi !== 0 && ptr >= hi) {
        // A page starting in this slot at or below ptr holds it (it is longer than a slot).
        if ((hi & ENTRY_FLAGS) === 0) {
          this.deallocSmall(ptr, size, hi, this.pageClass(hi));
          return;
        }
      } else {
        // The page covering the slot's start holds ptr if it reaches that far.
        const lo = u32[e + E_LO];
        if ((lo & ENTRY_FLAGS) === 0 && lo !== 0) {
          const c = this.pageClass(lo);
          if (ptr - lo < this.classLength(c)) {
            this.deallocSmall(ptr, size, lo, c);
            return;
          }
        }
      }
    }
    this.checkRange(ptr);
    this.deallocLarge(ptr, size);
  }

  // ---- the rest of the contract ----------------------------------------------------------------

  usableSize(ptr: number): number {
    this.enter();
    this.checkRange(ptr);
    const page = this.livePageOf(ptr);
    if (page !== 0) {
      const c = this.pageClass(page);
      this.blockIndex(ptr, page, page >>> 2, c);
      return this.classSize(c);
    }
    return this.largeUsable(ptr, this.checkLarge(ptr));
  }

  /** Whether `ptr` lies in one of this slab's pages or is a live large block of it (O(1)). */
  override owns(ptr: number): boolean {
    this.enter();
    if (!(isUint32(ptr) && ptr >= this.memory.start && ptr < this.memory.end)) return false;
    return this.livePageOf(ptr) !== 0 || this.isLiveLarge(ptr);
  }

  /** Throws `InvalidPointerError` unless `ptr` is an 8-aligned address in the parent's memory. */
  private checkRange(ptr: number): void {
    if (!isUint32(ptr)) rejectPointer(ptr);
    if ((ptr & (DEFAULT_ALIGN - 1)) !== 0 || ptr < this.memory.start || ptr >= this.memory.end) {
      throw invalidPointer(
        ptr,
        `not an 8-aligned address in the parent's memory [${this.memory.start}, ${this.memory.end})`,
      );
    }
  }

  /**
   * Frees every block: every page (cached ones too) and every large block goes back to the
   * parent, and a grown page table shrinks to a fresh slab's. Later frees of earlier
   * pointers throw `DoubleFreeError` (`InvalidPointerError` for a page beyond that table).
   */
  reset(): void {
    this.enter();
    this.releaseAll();
    this.u32[this.w0 + W_PEAK] = 0;
    this.shrinkTableIfEmpty();
  }

  /**
   * Gives every empty page back to the parent (the cached ones, and a current page with no
   * live block), then shrinks a grown page table if the slab holds nothing; returns the
   * page bytes given back.
   */
  trim(): number {
    this.enter();
    let bytes = 0;
    for (let c = 0; c < this.classCount; c++) {
      let pages = this.releaseEmptyPages(c);
      const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
      const page = this.u32[rec + C_PARTIAL];
      if (page !== 0 && this.u32[(page >>> 2) + P_LIVE] === 0) {
        this.unlink(c, page, page >>> 2);
        this.releasePage(c, page, page >>> 2);
        pages++;
      }
      bytes += pages * this.classLength(c);
    }
    this.shrinkTableIfEmpty();
    return bytes;
  }

  /** Frees everything, then gives the page table and metadata block back to the parent. */
  override drop(): void {
    this.checkDroppable();
    this.enter();
    this.releaseAll();
    const tableAt = this.u32[this.w0 + W_TABLE] * 4;
    const tableBytes = this.u32[this.w0 + W_TABLE_LEN] * ENTRY_BYTES;
    const metaAt = this.metaAt;
    const metaBytes = this.metaBytes;
    super.drop();
    this.parent.dealloc(tableAt, tableBytes);
    this.parent.dealloc(metaAt, metaBytes);
  }

  stats(): AllocatorStats {
    this.enter();
    const parentStats = this.parent.stats();
    this.syncViews();
    const u32 = this.u32;
    let slabFree = 0;
    let largestClass = 0;
    let live = u32[this.w0 + W_LARGE_LIVE];
    for (let c = 0; c < this.classCount; c++) {
      const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
      const classLive = this.classLive(c);
      live += classLive;
      slabFree += (u32[rec + C_PAGES] * this.classCap(c) - classLive) * this.classSize(c);
      if (u32[rec + C_PARTIAL] !== 0 || u32[rec + C_EMPTY] !== 0) largestClass = this.classSize(c);
    }
    // A request above maxSmall goes to the parent with a 32-byte header.
    const viaParent = parentStats.largestFree - LARGE_HEADER_BYTES;
    const w = this.w0;
    const capacity = this.memory.end - this.memory.start;
    const inUse = u32[w + W_IN_USE];
    const free = slabFree + parentStats.free;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: live,
      peakInUse: u32[w + W_PEAK],
      largestFree: Math.max(largestClass, viaParent > this.maxSmall ? viaParent : 0),
    };
  }

  /** Per size class: pages on each list, live and free blocks, bytes lost to headers and tails. */
  classStats(): SlabClassStats[] {
    this.enter();
    const u32 = this.u32;
    const out: SlabClassStats[] = [];
    for (let c = 0; c < this.classCount; c++) {
      const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
      const pages = u32[rec + C_PAGES];
      const partialPages = this.partialPages(c);
      const emptyPages = u32[rec + C_N_EMPTY];
      const fullPages = pages - partialPages - emptyPages;
      const liveBlocks = this.classLive(c);
      out.push({
        classSize: this.classSize(c),
        blocksPerPage: this.classCap(c),
        pages,
        partialPages,
        fullPages,
        emptyPages,
        liveBlocks,
        freeBlocks: pages * this.classCap(c) - liveBlocks,
        pageBytes: this.classLength(c),
        wastedBytes: pages * (this.classLength(c) - this.classCap(c) * this.classSize(c)),
      });
    }
    return out;
  }

  /** Live blocks of class `c`: its full pages' capacity plus its partial pages' counts. */
  private classLive(c: number): number {
    const u32 = this.u32;
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    const full = u32[rec + C_PAGES] - u32[rec + C_N_EMPTY] - this.partialPages(c);
    let live = full * this.classCap(c);
    let n = u32[rec + C_PAGES];
    for (
      let page = u32[rec + C_PARTIAL];
      page !== 0 && n-- > 0;
      page = u32[(page >>> 2) + P_NEXT]
    ) {
      live += u32[(page >>> 2) + P_LIVE];
    }
    return live;
  }

  /** Pages on the partial list of class `c` (a walk bounded by the class's page count). */
  private partialPages(c: number): number {
    const u32 = this.u32;
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    let n = 0;
    const most = u32[rec + C_PAGES];
    for (
      let page = u32[rec + C_PARTIAL];
      page !== 0 && n < most;
      page = u32[(page >>> 2) + P_NEXT]
    ) {
      n++;
    }
    return n;
  }

  private releaseAll(): void {
    // Every live page, found at the table entry of its first byte (full pages are on no
    // list), goes back; then the class records are empty.
    const w = this.w0;
    const at = this.u32[w + W_TABLE];
    const len = this.u32[w + W_TABLE_LEN];
    const G = 2 ** this.tableShift;
    for (let i = 0; i < len; i++) {
      for (let k = 0; k < ENTRY_WORDS; k++) {
        const page = this.u32[at + i * ENTRY_WORDS + k];
        if (page === 0 || (page & ENTRY_FLAGS) !== 0) continue;
        if (k === E_LO && page !== (this.tableFirst + i) * G) continue;
        this.releasePage(this.pageClass(page), page, page >>> 2);
      }
    }
    this.u32.fill(0, this.recBase, this.recBase + this.classCount * CLASS_RECORD_WORDS);
    this.releaseLargeBlocks();
    this.u32[w + W_IN_USE] = 0;
  }

  /** Gives every page of the empty list of class `c` back to the parent; returns how many. */
  private releaseEmptyPages(c: number): number {
    const rec = this.recBase + (c << CLASS_RECORD_SHIFT);
    let n = 0;
    for (let page = this.u32[rec + C_EMPTY]; page !== 0; page = this.u32[rec + C_EMPTY]) {
      this.unlink(c, page, page >>> 2);
      this.releasePage(c, page, page >>> 2);
      n++;
    }
    return n;
  }

  protected checkStrategy(): void {
    try {
      this.parent.check();
    } catch (e) {
      // The pages live in the parent's blocks: its corruption is the slab's too.
      if (e instanceof HeapCorruptedError) this.corrupt(`its parent: ${e.message}`);
      throw e;
    }
    this.syncViews();
    checkSlab(
      {
        slots: this.slots,
        slot0: this.slot0,
        u32: this.u32,
        w0: this.w0,
        metaAt: this.metaAt,
        memoryStart: this.memory.start,
        memoryEnd: this.memory.end,
        pageSize: this.pageSize,
        minPageSize: this.minPageSize,
        classCount: this.classCount,
        tableFirst: this.tableFirst,
        tableShift: this.tableShift,
        recBase: this.recBase,
        info: this.info,
        lengthOfKind: this.lengthOfKind,
      },
      (what) => this.corrupt(what),
    );
  }
}
