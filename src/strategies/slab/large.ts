/**
 * The slab's large blocks (requests above the largest class, or aligned above 16): each a
 * parent block behind a 32-byte header (layout.ts), on a list of live large blocks; and
 * validating a pointer that is in no live page: a live large block, a freed one, a block
 * of a page given back, or nothing of the slab's. Small blocks and pages: kernel.ts.
 */

import { DoubleFreeError, LayoutMismatchError } from "../../core/errors.js";
import { DEFAULT_ALIGN, invalidPointer, MAX_ALLOC_SIZE } from "../../core/validate.js";
import * as classes from "./classes.js";
import { SlabKernel } from "./kernel.js";
import * as layout from "./layout.js";
import { largeCheck } from "./layout.js";
import { entryPage, releasedKind, slotEntry } from "./table.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { MIN_CLASS_SIZE, PAGE_ALIGN, PAGE_FIXED_BYTES } = classes;
const {
  L_BASE,
  L_CHECK,
  L_NEXT,
  L_PREV,
  L_PSIZE,
  L_STATE,
  LARGE_FREED_TAG,
  LARGE_HEADER_BYTES,
  LARGE_HEADER_WORDS,
  LARGE_LIVE_TAG,
  RELEASED,
  W_IN_USE,
  W_LARGE_BYTES,
  W_LARGE_HEAD,
  W_LARGE_LIVE,
  W_PEAK,
  W_TABLE,
  W_TABLE_LEN,
} = layout;

export abstract class SlabLarge extends SlabKernel {
  // ---- large blocks ------------------------------------------------------------------------------

  /** A block of `size` bytes aligned to `align` from the parent, behind a large-block header. */
  protected allocLarge(size: number, align: number): number {
    const pad = Math.max(align, LARGE_HEADER_BYTES);
    // alloc(0) with an alignment no class gives still needs a byte of its own: ptr must lie
    // inside the parent block, or it would be the next block's address.
    const usable = size === 0 ? MIN_CLASS_SIZE : size;
    const psize = usable + pad;
    if (psize > MAX_ALLOC_SIZE) return 0;
    // At least 16-aligned, as pages are: a parent that keeps its blocks 16-aligned (TLSF
    // does when every request asks for 16) then never leaves 8-byte gaps between them.
    const base = this.parent.alloc(psize, Math.max(align, PAGE_ALIGN));
    this.followViews();
    if (base === 0) return 0;
    const ptr = base + pad;
    const u32 = this.u32;
    const w = this.w0;
    const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
    const head = u32[w + W_LARGE_HEAD];
    u32.fill(0, hd, hd + LARGE_HEADER_WORDS);
    u32[hd + L_STATE] = LARGE_LIVE_TAG;
    u32[hd + L_BASE] = base;
    u32[hd + L_PSIZE] = psize;
    u32[hd + L_NEXT] = head;
    u32[hd + L_PREV] = 0;
    u32[hd + L_CHECK] = largeCheck(ptr, base, psize);
    if (head !== 0) u32[((head - LARGE_HEADER_BYTES) >>> 2) + L_PREV] = ptr;
    this.forgetReleased(base, psize);
    u32[w + W_LARGE_HEAD] = ptr;
    u32[w + W_LARGE_LIVE]++;
    u32[w + W_LARGE_BYTES] += usable;
    const inUse = u32[w + W_IN_USE] + usable;
    u32[w + W_IN_USE] = inUse;
    if (inUse > u32[w + W_PEAK]) u32[w + W_PEAK] = inUse;
    return ptr;
  }

  protected deallocLarge(ptr: number, size: number | undefined): void {
    const hd = this.checkLarge(ptr);
    const u32 = this.u32;
    const base = u32[hd + L_BASE];
    const psize = u32[hd + L_PSIZE];
    const usable = this.largeUsable(ptr, hd);
    if (size !== undefined && size > usable) {
      throw new LayoutMismatchError(
        `SlabAllocator: dealloc(${ptr}, ${size}): the block holds ${usable} bytes`,
      );
    }
    const w = this.w0;
    const next = u32[hd + L_NEXT];
    const prev = u32[hd + L_PREV];
    const prevOk =
      prev === 0
        ? u32[w + W_LARGE_HEAD] === ptr
        : u32[((prev - LARGE_HEADER_BYTES) >>> 2) + L_NEXT] === ptr;
    const nextOk = next === 0 || u32[((next - LARGE_HEADER_BYTES) >>> 2) + L_PREV] === ptr;
    if (!(prevOk && nextOk)) {
      this.corrupt(`large block ${ptr}: list links (prev ${prev}, next ${next}) do not point back`);
    }
    // ---- validated; mutate ----
    if (prev === 0) u32[w + W_LARGE_HEAD] = next;
    else u32[((prev - LARGE_HEADER_BYTES) >>> 2) + L_NEXT] = next;
    if (next !== 0) u32[((next - LARGE_HEADER_BYTES) >>> 2) + L_PREV] = prev;
    u32[hd + L_STATE] = LARGE_FREED_TAG;
    u32[w + W_LARGE_LIVE]--;
    u32[w + W_LARGE_BYTES] -= usable;
    u32[w + W_IN_USE] -= usable;
    this.parent.dealloc(base, psize);
    if (u32[w + W_LARGE_LIVE] === 0) this.shrinkTableIfEmpty();
  }

  /** Usable bytes of the live large block `ptr`, whose header is at u32 index `hd`. */
  protected largeUsable(ptr: number, hd: number): number {
    return this.u32[hd + L_BASE] + this.u32[hd + L_PSIZE] - ptr;
  }

  /**
   * Gives every live large block back to the parent (reset, drop) and zeroes the large
   * counters; a list that leads anywhere but live large blocks is corruption.
   */
  protected releaseLargeBlocks(): void {
    const w = this.w0;
    let ptr = this.u32[w + W_LARGE_HEAD];
    let n = this.u32[w + W_LARGE_LIVE];
    while (ptr !== 0) {
      if (n-- <= 0) this.corrupt("the large-block list is longer than LARGE_LIVE (cycle?)");
      if (!this.isLiveLarge(ptr)) {
        this.corrupt(`the large-block list reaches ${ptr}, which is not a live large block`);
      }
      const u32 = this.u32;
      const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
      const next = u32[hd + L_NEXT];
      u32[hd + L_STATE] = LARGE_FREED_TAG;
      u32[w + W_LARGE_HEAD] = next;
      this.parent.dealloc(u32[hd + L_BASE], u32[hd + L_PSIZE]);
      ptr = next;
    }
    const u32 = this.u32;
    u32[w + W_LARGE_LIVE] = 0;
    u32[w + W_LARGE_BYTES] = 0;
  }

  // ---- validating pointers (read-only) ----------------------------------------------------------

  /**
   * Whether a live large block's header, whose check matches, sits right below `ptr` (any
   * number: false for one that is not an 8-aligned address in the memory). O(1).
   */
  protected isLiveLarge(ptr: number): boolean {
    if (
      (ptr & (DEFAULT_ALIGN - 1)) !== 0 ||
      ptr - LARGE_HEADER_BYTES < this.memory.start ||
      ptr >= this.memory.end
    ) {
      return false;
    }
    const u32 = this.u32;
    const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
    return (
      u32[hd + L_STATE] === LARGE_LIVE_TAG &&
      u32[hd + L_CHECK] === largeCheck(ptr, u32[hd + L_BASE], u32[hd + L_PSIZE])
    );
  }

  /** The table entry word of the page that may hold `ptr` (table.ts, `slotEntry`). */
  protected slotEntryOf(ptr: number): number {
    const u32 = this.u32;
    const w = this.w0;
    return slotEntry(
      u32,
      u32[w + W_TABLE],
      u32[w + W_TABLE_LEN],
      this.tableFirst,
      this.tableShift,
      ptr,
    );
  }

  /**
   * The live page holding `ptr` (8-aligned, in the memory), or 0; a live page's header is
   * checked on the way (corruption otherwise).
   */
  protected livePageOf(ptr: number): number {
    const word = this.slotEntryOf(ptr);
    if (word === 0 || (word & RELEASED) !== 0) return 0;
    return ptr - word < this.classLength(this.pageClass(word)) ? word : 0;
  }

  /** Whether `ptr` lies in a page of this slab given back to the parent. */
  protected inReleasedPage(ptr: number): boolean {
    const word = this.slotEntryOf(ptr);
    if ((word & RELEASED) === 0) return false;
    const off = ptr - entryPage(word);
    return off >= PAGE_FIXED_BYTES && off < this.lengthOfKind[releasedKind(word)];
  }

  /**
   * Checks that `ptr` (8-aligned, in the memory, in no live page) is a live large block;
   * returns its header's u32 index. A freed large block, or any block of a page given back
   * to the parent, is a double free.
   */
  protected checkLarge(ptr: number): number {
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
    if (this.inReleasedPage(ptr)) {
      throw new DoubleFreeError(
        `SlabAllocator: block ${ptr} lies in a page already given back to the parent ` +
          "(freed twice, or freed after reset)",
      );
    }
    throw invalidPointer(ptr, "not a block of this SlabAllocator");
  }
}
