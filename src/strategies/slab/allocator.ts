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
 * ## Memory picture (layout.ts has every structure drawn)
 *
 *     metadata block | header | slab slots | class records |   (a parent block)
 *     page table     | one byte per page-sized slot: 0, class + 1, or released |
 *     page           | block 0 | block 1 | … | tail | trailer: fields + bitmap |
 *     large block    | pad | 32-byte header | data … |     (a parent block)
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
 * ## Invariants (`check()`, check.ts)
 * Every page on its class's lists once, with a trailer, bitmap and free list that agree;
 * the page table and the counters agree with the lists; large blocks pass their check.
 */

import type { Allocator, AllocatorStats } from "../../core/allocator.js";
import {
  checkDeallocSize,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
} from "../../core/validate.js";
import { checkSlab } from "./check.js";
import { classForRequest } from "./classes.js";
import { SlabKernel } from "./kernel.js";
import * as layout from "./layout.js";
import { largeCheck, listCount, listHead } from "./layout.js";
import type { SlabOptions } from "./plan.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  C_LIVE,
  C_N_EMPTY,
  C_N_FULL,
  C_N_PARTIAL,
  CLASS_RECORD_WORDS,
  IN_USE,
  L_BASE,
  L_CHECK,
  L_NEXT,
  L_PSIZE,
  L_STATE,
  LARGE_BYTES,
  LARGE_FREED_TAG,
  LARGE_HEAD,
  LARGE_HEADER_BYTES,
  LARGE_LIVE,
  LARGE_LIVE_TAG,
  LIST_EMPTY,
  LIST_FULL,
  LIST_NAMES,
  LIST_PARTIAL,
  LIVE,
  NOT_A_PAGE,
  PEAK,
  T_NEXT,
  TABLE_AT,
  TABLE_LEN,
} = layout;

export type { SlabOptions } from "./plan.js";

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

export class SlabAllocator extends SlabKernel {
  readonly name = "SlabAllocator";

  /**
   * A slab whose pages and large blocks come from `parent`. The metadata block and the
   * page table are allocated from the parent now; throws `RangeError` (`ERR_MEMORY`) when
   * it has no room for them.
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

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
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

  // ---- dealloc -----------------------------------------------------------------------------

  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const entry = this.entryOf(ptr);
    if (size !== undefined && !isUint32(size)) checkDeallocSize(size);
    if (entry !== NOT_A_PAGE && entry <= this.classCount) this.deallocSmall(ptr, size, entry - 1);
    else this.deallocLarge(ptr, size, entry);
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
    this.checkDroppable();
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

  protected checkStrategy(): void {
    this.parent.check();
    this.syncViews();
    checkSlab(
      {
        slots: this.slots,
        slot0: this.slot0,
        u32: this.u32,
        u8: this.u8,
        metaAt: this.metaAt,
        memoryStart: this.memory.start,
        memoryEnd: this.memory.end,
        pageSize: this.pageSize,
        pageShift: this.pageShift,
        pageMask: this.pageMask,
        classCount: this.classCount,
        tableFirst: this.tableFirst,
        recBase: this.recBase,
        sizes: this.sizes,
        caps: this.caps,
        trailerOffsets: this.trailerOffsets,
      },
      (what) => this.corrupt(what),
    );
  }
}
