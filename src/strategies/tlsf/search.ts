/**
 * TLSF's allocation side: the good-fit search over the bitmaps, taking and splitting a free
 * block, aligned requests, growth of the memory, and the front end's stacks (popping a
 * block, giving every held block back). O(1) each, except that giving the front end's blocks
 * back costs one free per block it held (each held block is given back at most once).
 */

import { alignUp } from "../../core/bits.js";
import { isSharedArrayBuffer } from "../../memory/memory.js";
import { BAD_LISTED, TlsfBlocks } from "./blocks.js";
import * as layout from "./layout.js";
import {
  FIRST_ALIGN,
  FRONT_CLASSES,
  FRONT_SHIFT,
  holeBlock,
  liveMapBytes,
  liveView,
  sizeOf,
  summaryWords,
  TLSF_HEADER,
} from "./layout.js";
import * as mapping from "./mapping.js";
import {
  blockSizeFor,
  GRANULE,
  LIST_COUNT,
  listOf,
  MAX_BLOCK,
  SL_COUNT,
  SL_LOG2,
  sameList,
  searchListOf,
} from "./mapping.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { FREE_BIT, PREV_FREE_BIT, WILD_FLUSH_SHIFT } = layout;
const { BLOCK_OVERHEAD, GRANULE_LOG2, MIN_BLOCK } = mapping;
const { END, USED_COUNT, USED_BYTES, PEAK, CLEAN_FROM, CACHED } = TLSF_HEADER.word;
const LINK_NEXT = 2;

/** How many blocks the search's fallback looks at in one list (a constant bound). */
export const FALLBACK_SCAN = 8;

export abstract class TlsfSearch extends TlsfBlocks {
  /**
   * A free block of at least `bsize` bytes, or 0. O(1): the rounded-up list and the bitmaps
   * first; failing that, a bounded look at the blocks of `bsize`'s own list (which may hold
   * blocks big enough that the rounded search skips). Before cutting the block at the heap's
   * end while the front end holds more than PEAK >> WILD_FLUSH_SHIFT bytes, gives those back
   * and searches again (their merges may make a block that fits).
   */
  protected findFree(bsize: number): number {
    const m = this.memU32;
    const li = searchListOf(bsize);
    if (li >= LIST_COUNT) return this.findFallback(bsize);
    let fl = li >>> SL_LOG2;
    let slBits = m[this.slMap + fl] & (-1 << (li & (SL_COUNT - 1)));
    if (slBits === 0) {
      // fl < FL_COUNT ≤ 31: the shift below keeps the levels above fl.
      const flBits = m[this.flMap] & (-2 << fl);
      if (flBits === 0) return this.findFallback(bsize);
      fl = 31 - Math.clz32(flBits & -flBits);
      slBits = m[this.slMap + fl];
    }
    const b = m[this.heads + ((fl << SL_LOG2) | (31 - Math.clz32(slBits & -slBits)))];
    const sw = this.sw;
    if (m[sw + CACHED] > m[sw + PEAK] >>> WILD_FLUSH_SHIFT) return this.beforeWild(b, bsize);
    return b;
  }

  /**
   * findFree found `b` while the front end holds more than PEAK >> WILD_FLUSH_SHIFT bytes:
   * when `b` ends at the heap's end, gives the front end's blocks back and searches again.
   */
  private beforeWild(b: number, bsize: number): number {
    const m = this.memU32;
    if (b + sizeOf(m[b >>> 2]) !== m[this.sw + END] - BLOCK_OVERHEAD) return b;
    this.flush();
    return this.findFree(bsize);
  }

  /** findFree's fallback: the exact list of `bsize`, scanned for at most FALLBACK_SCAN blocks. */
  private findFallback(bsize: number): number {
    const m = this.memU32;
    let b = bsize <= MAX_BLOCK ? m[this.heads + listOf(bsize)] : 0;
    for (let i = 0; i < FALLBACK_SCAN && b !== 0; i++) {
      if (sizeOf(m[b >>> 2]) >= bsize) return b;
      b = m[(b >>> 2) + LINK_NEXT];
    }
    return 0;
  }

  /**
   * Takes free block `b` (found by the search, so listed for at least `bsize`) for a block of
   * `bsize` bytes, its words checked first; splits off the rest, which takes `b`'s place in
   * its list when its size maps there (`replaceFree`); returns the pointer.
   */
  protected take(b: number, bsize: number): number {
    const m = this.memU32;
    const sw = this.sw;
    const word = m[b >>> 2];
    const size = sizeOf(word);
    if ((word & FREE_BIT) === 0 || size < bsize) this.damaged(b, word, BAD_LISTED);
    const rest = size - bsize;
    let got = size;
    if (rest >= MIN_BLOCK) {
      const r = b + bsize;
      if (sameList(size, rest)) {
        this.replaceFree(b, size, word, r);
      } else {
        this.unlinkFree(b, size, word);
        this.insertFree(r, rest);
      }
      m[r >>> 2] = rest | FREE_BIT; // its predecessor (b) is used: PF clear
      m[(r + rest - 4) >>> 2] = r;
      this.setStart(r);
      m[b >>> 2] = bsize | (word & PREV_FREE_BIT);
      got = bsize;
    } else {
      this.unlinkFree(b, size, word);
      m[b >>> 2] = size | (word & PREV_FREE_BIT);
      m[(b + size) >>> 2] &= ~PREV_FREE_BIT;
    }
    m[sw + USED_BYTES] += got;
    m[sw + USED_COUNT]++;
    if (b + got > m[sw + CLEAN_FROM]) m[sw + CLEAN_FROM] = b + got;
    this.addInUse(got - BLOCK_OVERHEAD);
    const ptr = b + BLOCK_OVERHEAD;
    const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[(g >>> 5) << 1] |= 1 << (g & 31);
    return ptr;
  }

  /**
   * A block of `bsize` bytes (size rounded for `align`, 8 or 16) from the lists, growing the
   * memory if it must, or 0: alloc's path when the front end has no block of that size.
   */
  protected allocBlock(size: number, bsize: number, align: number): number {
    // Views re-derived (or StaleViewError, nothing changed) before any block is read.
    if (this.viewBehind()) this.syncViews();
    if (align !== 8) return this.allocAligned(size, align);
    const b = this.findFree(bsize);
    if (b === 0) return this.allocSlow(bsize, size);
    return this.take(b, bsize);
  }

  /** alloc with align > 8: find a block with room for the padding, split the gap off. */
  protected allocAligned(size: number, align: number): number {
    if (this.viewBehind()) this.syncViews(); // as in allocBlock
    const bsize = blockSizeFor(size);
    // Fast path: the block found for the size rounded up to the alignment already starts
    // aligned. A heap that always asks for one alignment (≤ FIRST_ALIGN) keeps every block
    // aligned this way, so it pays no gap and no split (glibc rounds to 16 for the same
    // reason); a block that is not aligned goes the general way below.
    if (align <= FIRST_ALIGN) {
      const rounded = alignUp(bsize, align);
      const a = this.findFree(rounded);
      if (a !== 0 && ((a + BLOCK_OVERHEAD) & (align - 1)) === 0) return this.take(a, rounded);
    }
    // Worst case the pointer moves up by align − 8, and a gap must be 0 or ≥ MIN_BLOCK.
    const search = bsize + align + MIN_BLOCK;
    let b = this.findFree(search);
    if (b === 0 && this.flush()) b = this.findFree(search);
    if (b === 0) {
      if (!this.growFor(search)) return 0;
      b = this.findFree(search);
      if (b === 0) return 0;
    }
    const m = this.memU32;
    const word = m[b >>> 2];
    const size0 = sizeOf(word);
    if ((word & FREE_BIT) === 0 || size0 < search) this.damaged(b, word, BAD_LISTED);
    this.checkFree(b, size0, word);
    let ptr = alignUp(b + BLOCK_OVERHEAD, align);
    if (ptr - BLOCK_OVERHEAD - b !== 0 && ptr - BLOCK_OVERHEAD - b < MIN_BLOCK) ptr += align;
    const gap = ptr - BLOCK_OVERHEAD - b;
    if (gap === 0) return this.take(b, bsize);
    // Split [b, b + gap) off as a free block of its own; the rest starts at ptr − 4.
    this.removeFree(b, size0);
    const nb = b + gap;
    const rest = size0 - gap;
    m[b >>> 2] = gap | FREE_BIT | (word & PREV_FREE_BIT);
    m[(b + gap - 4) >>> 2] = b;
    this.insertFree(b, gap);
    m[nb >>> 2] = rest | FREE_BIT | PREV_FREE_BIT;
    m[(nb + rest - 4) >>> 2] = nb;
    this.setStart(nb);
    this.insertFree(nb, rest);
    return this.take(nb, bsize);
  }

  /** alloc's slow path: give the front end's blocks back, grow and retry, or answer 0. */
  protected allocSlow(bsize: number, size: number): number {
    if (size > MAX_BLOCK - 64) return 0;
    if (this.flush()) {
      const b = this.findFree(bsize);
      if (b !== 0) return this.take(b, bsize);
    }
    if (!this.growFor(bsize)) return 0;
    const b = this.findFree(bsize);
    return b === 0 ? 0 : this.take(b, bsize);
  }

  /** Grows a growable memory so a free block of `bsize` can exist. False if it cannot. */
  protected growFor(bsize: number): boolean {
    if (!this.growable) return false;
    const m = this.memU32;
    const sw = this.sw;
    const end = m[sw + END];
    // The new space joins the last block if it is free, so ask only for what is missing (at
    // least a minimal block: the old sentinel starts a free block of its own before merging).
    // Sizes and ends are multiples of 8, so the heap's new end is at least `want` (below 4 GiB).
    const lastFree = (m[(end - BLOCK_OVERHEAD) >>> 2] & PREV_FREE_BIT) !== 0;
    const have = lastFree ? m[(end - BLOCK_OVERHEAD - 4) >>> 2] : 0;
    const haveSize = lastFree ? end - BLOCK_OVERHEAD - have : 0;
    const want = end + Math.max(bsize - haveSize, MIN_BLOCK);
    if (!(want <= this.memory.maxEnd) || !this.memory.grow(want)) {
      return this.growPastForeign(bsize, end);
    }
    this.syncViews();
    const newEnd = this.heapEndFor(this.memory.end);
    if (newEnd <= end) return false;
    this.fitLiveMap(newEnd);
    // The old sentinel (a block start already) becomes a free block [end − 4, newEnd − 4).
    const u32 = this.memU32;
    const b = end - BLOCK_OVERHEAD;
    const size = newEnd - end;
    const prevFree = u32[b >>> 2] & PREV_FREE_BIT;
    u32[b >>> 2] = size | FREE_BIT | prevFree;
    u32[(b + size - 4) >>> 2] = b;
    this.setSentinel(newEnd, PREV_FREE_BIT);
    u32[sw + END] = newEnd;
    this.insertFree(b, size);
    if (prevFree !== 0) this.mergeWithPrevious(b, size);
    return true;
  }

  /**
   * growFor when someone else (a wasm module's `memory.grow`, code resizing the buffer)
   * added pages after the heap: the memory grows past them (`growPast`), the old sentinel
   * becomes the used block over them (`holeBlock`: never freed, merged or handed out), and
   * memkit's new bytes a free block after it. False, nothing changed, when the memory
   * cannot grow or nobody else grew it. The heap ended at `end`.
   */
  private growPastForeign(bsize: number, end: number): boolean {
    // `end` was read before the memory re-viewed a buffer the growth may have replaced.
    const memory = this.memory;
    memory.refresh();
    if (memory.buffer.byteLength <= memory.end) return false;
    // The new bytes start at `at`: the block after the hole starts at most 7 + 4 bytes past
    // it, and the heap's end (8-aligned) at most 7 bytes before the memory's, so a free block
    // of `bsize` between them (and the 4-byte sentinel) needs `bsize + 15` bytes, no more.
    const at = memory.growPast(bsize + GRANULE * 2 - 1);
    if (at < 0) return false;
    this.syncViews(); // a wasm memory's growth replaced the buffer: views re-read below
    const newEnd = this.heapEndFor(memory.end);
    const hole = holeBlock(end, at);
    const nb = hole.b + hole.size;
    this.fitLiveMap(newEnd);
    const u32 = this.memU32;
    u32[hole.b >>> 2] = hole.size | (u32[hole.b >>> 2] & PREV_FREE_BIT); // used, never live
    this.layFree(nb, newEnd - BLOCK_OVERHEAD - nb);
    this.setSentinel(newEnd, PREV_FREE_BIT);
    u32[this.sw + END] = newEnd;
    return true;
  }

  /** Makes the live and start maps cover a heap ending at `newEnd` (O(1) amortised). */
  private fitLiveMap(newEnd: number): void {
    if (this.liveBuf.byteLength < liveMapBytes(this.dataStart, newEnd)) {
      // Room for the new end, doubling so the copies cost O(1) amortised.
      const need = Math.max(
        liveMapBytes(this.dataStart, newEnd),
        Math.min(this.liveBuf.byteLength * 2, liveMapBytes(this.dataStart, this.memory.maxEnd)),
      );
      if (isSharedArrayBuffer(this.liveBuf)) {
        this.liveBuf.grow(need);
        this.live = liveView(this.liveBuf);
      } else {
        const bigger = new ArrayBuffer(need);
        new Int32Array(bigger).set(this.live);
        this.liveBuf = bigger;
        this.live = new Int32Array(bigger);
        if (this.front) {
          const sum = new Int32Array(summaryWords(need));
          sum.set(this.sum);
          this.sum = sum;
        }
      }
    }
  }

  // ---- the front end -----------------------------------------------------------------------

  /** Hands out block `b`, the top of the front end's class stack at `i` (holding `n`). */
  protected pop(i: number, n: number, b: number, bsize: number): number {
    this.fc[i] = n - 1;
    this.memU32[this.sw + CACHED] -= bsize;
    const ptr = b + BLOCK_OVERHEAD;
    const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[(g >>> 5) << 1] |= 1 << (g & 31);
    this.addInUse(bsize - BLOCK_OVERHEAD);
    return ptr;
  }

  /**
   * Gives every block the front end holds back to the lists, each merged with its free
   * neighbours (and its size word checked first). Returns whether it held any.
   */
  protected flush(): boolean {
    const m = this.memU32;
    if (m[this.sw + CACHED] === 0) return false;
    const fc = this.fc;
    for (let c = MIN_BLOCK >>> GRANULE_LOG2; c < FRONT_CLASSES; c++) {
      const i = c << FRONT_SHIFT;
      const s = c << GRANULE_LOG2;
      for (let n = fc[i]; n > 0; n--) {
        const b = fc[i + 1 + n];
        const word = m[b >>> 2];
        if ((word & ~PREV_FREE_BIT) !== s) {
          this.corrupt(`block ${b} held by the front end for size ${s} has size word ${word}`);
        }
        fc[i] = n - 1;
        m[this.sw + CACHED] -= s;
        this.freeBlock(b, word, s);
      }
    }
    return true;
  }
}
