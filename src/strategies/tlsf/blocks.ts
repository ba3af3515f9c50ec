/**
 * TLSF's block operations: freeing a block and merging it with its free neighbours,
 * shrinking a used block, pointer validation, and the checks of the in-band words (size
 * words, footers, links) made before any of them is trusted; a failed check poisons the
 * heap. O(1) each; the size check of a block looks at WINDOW_G granules of the start map at
 * most. The state, the lists and the start map are in kernel.ts.
 */

import { DoubleFreeError, InvalidPointerError } from "../../core/errors.js";
import { isUint32, rejectPointer } from "../../core/validate.js";
import { TlsfKernel } from "./kernel.js";
import * as layout from "./layout.js";
import { sizeOf, TLSF_HEADER, tombstone } from "./layout.js";
import * as mapping from "./mapping.js";
import { listOf, sameList } from "./mapping.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { FREE_BIT, PREV_FREE_BIT } = layout;
const { BLOCK_OVERHEAD, GRANULE_LOG2, MIN_BLOCK } = mapping;
const { END, USED_COUNT, USED_BYTES, SLACK, CLEAN_FROM } = TLSF_HEADER.word;
const LINK_PREV = 1;
const LINK_NEXT = 2;

/** Which check of in-band words failed (`damaged`). */
const BAD_USED_WORD = 0;
const BAD_FOLLOWER = 1;
const BAD_FOOTER = 2;
const BAD_PREDECESSOR = 3;
const BAD_FREE_WORDS = 4;
const BAD_NEXT_LINK = 5;
const BAD_PREV_LINK = 6;
export const BAD_LISTED = 7;

/**
 * The size check's window: a size read from a block is checked against the start map
 * exactly up to this many granules (no block start between the block and its claimed end);
 * beyond, the window must hold no start (`startWithin`: through the start map's summary
 * when the handle keeps one) and the claimed end must be one.
 */
const WINDOW_G = 1024;
/** Blocks below this many granules (512 bytes) are checked by `endsAt` (its limit). */
const SMALL_G = 64;

export abstract class TlsfBlocks extends TlsfKernel {
  // ---- freeing -----------------------------------------------------------------------------

  /** Frees live block `b` (pointer `ptr`, size `size` already checked): merges it into the lists. */
  protected release(ptr: number, b: number, size: number): void {
    this.freeBlock(b, this.memU32[b >>> 2], size);
    const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
    this.live[(g >>> 5) << 1] &= ~(1 << (g & 31));
    this.memU32[this.sw + SLACK] += size - BLOCK_OVERHEAD;
  }

  /**
   * Returns used block `b` (size word `word`, size `size`, already checked against the start
   * map) to the free lists, merging it with free neighbours. Every in-band word it relies on
   * (the neighbours' size words, a footer, the links) is checked once, before the first write.
   * A merged block whose size maps to the list of the free neighbour it grew from takes that
   * neighbour's place there, the bitmaps unchanged (`replaceFree`, `toHead`).
   */
  protected freeBlock(b: number, word: number, size: number): void {
    const m = this.memU32;
    const next = b + size;
    const nextWord = m[next >>> 2];
    if ((nextWord & PREV_FREE_BIT) !== 0) this.damaged(b, next, BAD_FOLLOWER);
    if ((word & PREV_FREE_BIT) !== 0) {
      this.freeIntoPrevious(b, size, next, nextWord);
      return;
    }
    const sw = this.sw;
    let total = size;
    let listed = false;
    if ((nextWord & FREE_BIT) !== 0) {
      // The last check: the follower's words, then (whole) it leaves its list, or b takes
      // its place there when the merged block stays in the follower's list.
      const nextSize = sizeOf(nextWord);
      total += nextSize;
      listed = sameList(total, nextSize);
      if (listed) this.replaceFree(next, nextSize, nextWord, b);
      else this.unlinkFree(next, nextSize, nextWord);
      this.wipeAbsorbed(next);
    }
    m[sw + USED_COUNT]--;
    m[sw + USED_BYTES] -= size;
    m[b >>> 2] = total | FREE_BIT;
    m[(b + total - 4) >>> 2] = b;
    m[(b + total) >>> 2] |= PREV_FREE_BIT;
    if (!listed) this.insertFree(b, total);
  }

  /**
   * `freeBlock` for block `b` (size `size`) whose predecessor is free; `next` and `nextWord`
   * are its follower and the follower's size word, already checked for a stray PREV_FREE
   * bit. The predecessor absorbs `b`, and the follower too when that is free. The predecessor
   * stays in its list (moved to the head, `toHead`) when its new size maps there.
   */
  private freeIntoPrevious(b: number, size: number, next: number, nextWord: number): void {
    const m = this.memU32;
    const prev = this.freePredecessor(b);
    let total = size;
    if ((nextWord & FREE_BIT) !== 0) {
      // The last check: the follower's words, then (whole) it leaves its list.
      const nextSize = sizeOf(nextWord);
      this.unlinkFree(next, nextSize, nextWord);
      this.wipeAbsorbed(next);
      total += nextSize;
    }
    const sw = this.sw;
    m[sw + USED_COUNT]--;
    m[sw + USED_BYTES] -= size;
    const prevWord = m[prev >>> 2];
    const prevSize = sizeOf(prevWord);
    total += prevSize;
    const listed = sameList(total, prevSize);
    if (listed) this.toHead(prev, listOf(prevSize));
    else this.removeFree(prev, prevSize);
    m[prev >>> 2] = total | FREE_BIT | (prevWord & PREV_FREE_BIT);
    // b's size word stays behind in the merged payload as a tombstone: freeing b again
    // is then recognised as a double free.
    m[b >>> 2] = tombstone(b);
    this.clearStart(b);
    m[(prev + total - 4) >>> 2] = prev;
    m[(prev + total) >>> 2] |= PREV_FREE_BIT;
    if (!listed) this.insertFree(prev, total);
  }

  /**
   * Shrinks used block `b` from `cur` to `need` bytes, freeing the tail when it is big enough;
   * returns the bytes freed (0 when the tail stays). The caller counts them out of use.
   */
  protected shrinkUsed(b: number, cur: number, need: number): number {
    const rest = cur - need;
    if (rest < MIN_BLOCK) return 0;
    const m = this.memU32;
    const r = b + need;
    let size = rest;
    const next = r + rest;
    const nextWord = m[next >>> 2];
    const nextFree = (nextWord & FREE_BIT) !== 0;
    const nextSize = sizeOf(nextWord);
    if (nextFree) this.checkFree(next, nextSize, nextWord);
    m[b >>> 2] = need | (m[b >>> 2] & PREV_FREE_BIT);
    m[this.sw + USED_BYTES] -= rest;
    if (nextFree) {
      this.removeFree(next, nextSize);
      this.wipeAbsorbed(next);
      size += nextSize;
    } else {
      m[next >>> 2] = nextWord | PREV_FREE_BIT;
    }
    m[r >>> 2] = size | FREE_BIT;
    m[(r + size - 4) >>> 2] = r;
    this.setStart(r);
    this.insertFree(r, size);
    return rest;
  }

  /** Merges free block `b` (already listed) into its free predecessor. */
  protected mergeWithPrevious(b: number, size: number): void {
    const m = this.memU32;
    const prev = this.freePredecessor(b);
    const prevWord = m[prev >>> 2];
    const prevSize = sizeOf(prevWord);
    this.removeFree(b, size);
    this.removeFree(prev, prevSize);
    this.wipeAbsorbed(b);
    // prev's old footer (the word before b) is now inside the merged block too.
    if (b - 4 >= m[this.sw + CLEAN_FROM]) m[(b - 4) >>> 2] = 0;
    const merged = prevSize + size;
    m[prev >>> 2] = merged | FREE_BIT | (prevWord & PREV_FREE_BIT);
    m[(prev + merged - 4) >>> 2] = prev;
    this.insertFree(prev, merged);
  }

  /**
   * The free block before `b` (whose PF bit is set), found through the footer before `b` and
   * checked: a block start, free, ending exactly at `b`, its links whole.
   */
  private freePredecessor(b: number): number {
    const m = this.memU32;
    const prev = m[(b - 4) >>> 2];
    if (!(prev >= this.first && prev <= b - MIN_BLOCK && (prev & 7) === 4)) {
      this.damaged(b, prev, BAD_FOOTER);
    }
    const prevWord = m[prev >>> 2];
    const prevSize = sizeOf(prevWord);
    // Free and ending at b: its size is then at least MIN_BLOCK, inside the heap, and its
    // footer is the word just read; only its links are left to check.
    if ((prevWord & FREE_BIT) === 0 || prev + prevSize !== b) {
      this.damaged(b, prev, BAD_PREDECESSOR);
    }
    this.checkLinks(prev, prevSize);
    return prev;
  }

  /**
   * A free block absorbed into the block before it leaves its size word and links behind
   * in the merged payload. Above CLEAN_FROM that payload is promised to be zero (allocZeroed
   * skips its fill there), so wipe them; below, leave a tombstone so that a second free of
   * the absorbed block is recognised as a double free. Its start bit goes either way.
   */
  protected wipeAbsorbed(b: number): void {
    const m = this.memU32;
    const i = b >>> 2;
    if (b + 12 > m[this.sw + CLEAN_FROM]) {
      m[i] = 0;
      m[i + LINK_PREV] = 0;
      m[i + LINK_NEXT] = 0;
    } else {
      m[i] = tombstone(b);
    }
    this.clearStart(b);
  }

  // ---- checks of in-band words -------------------------------------------------------------

  /**
   * Checks free block `f` (size word `word`, size `size`) before its words are trusted: it
   * ends inside the heap, its footer points back at it, and its links lead to blocks that
   * link back to it (or it heads its list): the checks glibc makes before unlinking a chunk.
   * A footer or a link can only point back by chance (footers hold their own block's start,
   * which no other block's words hold). Poisons the heap on a mismatch.
   */
  protected checkFree(f: number, size: number, word: number): void {
    const end = f + size;
    const m = this.memU32;
    if (size < MIN_BLOCK || end > m[this.sw + END] - BLOCK_OVERHEAD || m[(end - 4) >>> 2] !== f) {
      this.damaged(f, word, BAD_FREE_WORDS);
    }
    this.checkLinks(f, size);
  }

  /** `checkFree`'s test of the links of free block `f` (size `size`): both lead back to it. */
  protected checkLinks(f: number, size: number): void {
    const m = this.memU32;
    const i = f >>> 2;
    const next = m[i + LINK_NEXT];
    if (next !== 0 && m[(next >>> 2) + LINK_PREV] !== f) this.damaged(f, next, BAD_NEXT_LINK);
    const prev = m[i + LINK_PREV];
    if (prev === 0 ? m[this.heads + listOf(size)] !== f : m[(prev >>> 2) + LINK_NEXT] !== f) {
      this.damaged(f, prev, BAD_PREV_LINK);
    }
  }

  /**
   * Checks free block `f` (size word `word`, size `size`) as `checkFree` does, then unlinks
   * it: the links are read once for both. For a block nothing else is checked with.
   */
  protected unlinkFree(f: number, size: number, word: number): void {
    const end = f + size;
    const m = this.memU32;
    if (size < MIN_BLOCK || end > m[this.sw + END] - BLOCK_OVERHEAD || m[(end - 4) >>> 2] !== f) {
      this.damaged(f, word, BAD_FREE_WORDS);
    }
    const i = f >>> 2;
    const next = m[i + LINK_NEXT];
    const prev = m[i + LINK_PREV];
    if (next !== 0 && m[(next >>> 2) + LINK_PREV] !== f) this.damaged(f, next, BAD_NEXT_LINK);
    if (prev !== 0) {
      if (m[(prev >>> 2) + LINK_NEXT] !== f) this.damaged(f, prev, BAD_PREV_LINK);
      if (next !== 0) m[(next >>> 2) + LINK_PREV] = prev;
      m[(prev >>> 2) + LINK_NEXT] = next;
      return;
    }
    const li = listOf(size);
    if (m[this.heads + li] !== f) this.damaged(f, prev, BAD_PREV_LINK);
    if (next !== 0) m[(next >>> 2) + LINK_PREV] = 0;
    this.unhead(li, next);
  }

  /**
   * Checks free block `f` (size word `word`, size `size`) as `unlinkFree` does, then puts
   * block `t`, whose size the caller has found to map to the same list (`sameList`), in its
   * place: `t` heads the list after, with `f`'s links, as unlinking `f` and inserting `t`
   * would leave it, but the list is never empty on the way, so the bitmaps are left alone.
   * For a split or a merge that keeps a free block's list. Writes links and the list's head
   * only: `t`'s size word and footer are the caller's to write. Its checks are `unlinkFree`'s,
   * written again on purpose: one `unlinkFree` with an optional replacement counted 1,121
   * against 1,102 instructions per op on the Heap's python-json replay (`node
   * bench/instructions.mjs --only python-json --rows heap --dist …`, each build once).
   */
  protected replaceFree(f: number, size: number, word: number, t: number): void {
    const end = f + size;
    const m = this.memU32;
    if (size < MIN_BLOCK || end > m[this.sw + END] - BLOCK_OVERHEAD || m[(end - 4) >>> 2] !== f) {
      this.damaged(f, word, BAD_FREE_WORDS);
    }
    const i = f >>> 2;
    const next = m[i + LINK_NEXT];
    const prev = m[i + LINK_PREV];
    if (next !== 0 && m[(next >>> 2) + LINK_PREV] !== f) this.damaged(f, next, BAD_NEXT_LINK);
    const li = listOf(size);
    if (prev !== 0) {
      if (m[(prev >>> 2) + LINK_NEXT] !== f) this.damaged(f, prev, BAD_PREV_LINK);
      if (next !== 0) m[(next >>> 2) + LINK_PREV] = prev;
      m[(prev >>> 2) + LINK_NEXT] = next;
      this.pushFree(t, li);
      return;
    }
    if (m[this.heads + li] !== f) this.damaged(f, prev, BAD_PREV_LINK);
    const j = t >>> 2;
    m[j + LINK_PREV] = 0;
    m[j + LINK_NEXT] = next;
    if (next !== 0) m[(next >>> 2) + LINK_PREV] = t;
    m[this.heads + li] = t;
  }

  /**
   * The size of used block `b` (live or held by the front end), its size word checked
   * first: used, at least MIN_BLOCK, inside the heap, and ending where the next block starts
   * (exactly up to WINDOW_G granules; beyond, no start in the window and one at the claimed
   * end). Poisons the heap otherwise.
   */
  protected usedSize(b: number): number {
    const word = this.memU32[b >>> 2];
    const k = word >>> GRANULE_LOG2;
    // A used block below 512 bytes: the start map's next start after it is its claimed end
    // (which is then inside the heap: the sentinel's start bit ends every run).
    if ((word & FREE_BIT) === 0 && k < SMALL_G && k >= MIN_BLOCK >>> GRANULE_LOG2) {
      if (this.endsAt((b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2, k)) return k << 3;
    }
    return this.usedSizeLarge(b, word);
  }

  /** `usedSize` for a block of 512 bytes or more, and for every word that failed the test. */
  private usedSizeLarge(b: number, word: number): number {
    const s = sizeOf(word);
    if (
      (word & FREE_BIT) !== 0 ||
      s < SMALL_G << GRANULE_LOG2 ||
      b + s > this.memU32[this.sw + END] - BLOCK_OVERHEAD
    ) {
      this.badBlock(b, word);
    }
    const g = (b + BLOCK_OVERHEAD - this.dataStart) >>> GRANULE_LOG2;
    const k = s >>> GRANULE_LOG2;
    if (k <= WINDOW_G) {
      if (this.nextStart(g, g + k) !== g + k) this.badBlock(b, word);
    } else if (this.startWithin(g, g + WINDOW_G) || !this.isStart(b + s)) {
      this.badBlock(b, word);
    }
    return s;
  }

  protected badBlock(b: number, word: number): never {
    return this.damaged(b, word, BAD_USED_WORD);
  }

  /**
   * Poisons the heap for damaged in-band words found at block `b` (`x`: the word or address
   * that gave it away; `what`: which check failed). The messages are built here, out of the
   * hot paths, so that the checks stay small enough for the engine to inline.
   */
  protected damaged(b: number, x: number, what: number): never {
    switch (what) {
      case BAD_FOLLOWER:
        return this.corrupt(`block ${x} after used block ${b} says its predecessor is free`);
      case BAD_FOOTER:
        return this.corrupt(`block ${b}: the footer before it holds ${x}, not a block start`);
      case BAD_PREDECESSOR:
        return this.corrupt(
          `block ${b}: its free predecessor ${x} has size word ${this.memU32[x >>> 2]}`,
        );
      case BAD_FREE_WORDS:
        return this.corrupt(`free block ${b}: size word ${x} or its footer is damaged`);
      case BAD_NEXT_LINK:
        return this.corrupt(`free block ${b}: next link ${x} does not link back`);
      case BAD_PREV_LINK:
        return this.corrupt(`free block ${b}: previous link ${x} does not link back`);
      case BAD_LISTED:
        return this.corrupt(
          `block ${b} on a free list has size word ${x}, not a free block that fits`,
        );
      default:
        return this.corrupt(
          `used block ${b}: size word ${x} does not end where the next block starts`,
        );
    }
  }

  // ---- pointers ----------------------------------------------------------------------------

  /** The block of the live block at `ptr`; throws (changing nothing) for anything else. */
  protected blockOf(ptr: number): number {
    const m = this.memU32;
    const end = m[this.sw + END];
    // A uint32, 8-aligned, inside the heap and this handle's view, and live.
    if (
      typeof ptr === "number" &&
      ptr >>> 0 === ptr &&
      (ptr & 7) === 0 &&
      ptr >= this.first + BLOCK_OVERHEAD &&
      ptr < end &&
      end >>> 2 <= m.length
    ) {
      const g = (ptr - this.dataStart) >>> GRANULE_LOG2;
      if ((this.live[(g >>> 5) << 1] & (1 << (g & 31))) !== 0) return ptr - BLOCK_OVERHEAD;
    }
    return this.notLive(ptr);
  }

  /**
   * `blockOf` for a pointer that failed its test: not a uint32, or a view that ends before
   * the heap (another handle of this heap grew it: the views re-derived, then `blockOf`
   * again; `onViews` throws StaleViewError, nothing changed, if the memory never shows the
   * heap's end), or the error for a pointer that is not a live block.
   */
  private notLive(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    if (this.viewBehind()) {
      this.syncViews();
      return this.blockOf(ptr);
    }
    return this.notLiveError(ptr);
  }

  /** Throws the error for `ptr`, which `blockOf` found not to be a live block. */
  private notLiveError(ptr: number): never {
    const end = this.memU32[this.sw + END];
    if (ptr < this.first + BLOCK_OVERHEAD || ptr >= end || (ptr & 7) !== 0) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not an 8-aligned address inside this TlsfAllocator's heap ` +
          `[${this.first + BLOCK_OVERHEAD}, ${end})`,
      );
    }
    if (this.isFreedBlock(ptr - BLOCK_OVERHEAD)) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
    }
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not the start of a live block of this TlsfAllocator`,
    );
  }

  /**
   * Whether `b` (not live) is where a freed block starts: a block start in the start map (a
   * free block, or one the front end holds) or a tombstone left by a merge. Only used to
   * name the error; user bytes that happen to look like a tombstone are reported as a double
   * free instead of an invalid pointer, and the heap is unchanged in both cases.
   */
  protected isFreedBlock(b: number): boolean {
    return this.isStart(b) || this.memU32[b >>> 2] === tombstone(b);
  }
}
