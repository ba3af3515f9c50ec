/**
 * The page cache of a synchronized SharedHeap: per-agent pages of small blocks that the
 * owning agent allocates from, and any agent frees into, without the heap's lock (the way
 * mimalloc and snmalloc scale: RELIABILITY.md §4.3 items 8 and 9).
 *
 * A *page* is PAGE_BYTES (16 KiB) of the heap, aligned to PAGE_BYTES, taken from the
 * wrapped allocator under the lock (one block of PAGE_USABLE bytes, so that pages can sit
 * side by side: the next page's block header, at most 8 bytes, comes before it) and cut into
 * blocks of one size class. A small request (≤ SMALL_MAX bytes, align ≤ 16) is served from
 * a page of its class owned by the calling agent; larger ones go to the wrapped allocator under
 * the lock.
 *
 * Every page has a *descriptor* in the cache buffer (a `SharedArrayBuffer` of its own,
 * never exposed to users: user overflows cannot reach it) with a *live bitmap*, one bit per
 * block, set while the block is live. That bitmap is the whole free state of the page:
 *
 * - the owner allocates by finding a clear bit and setting it with `Atomics.or` (no lock:
 *   only the owner ever sets bits of its pages);
 * - any agent frees by clearing the bit with `Atomics.and`; the old value says whether the
 *   bit was set, so of two agents freeing one block at once exactly one wins and the other
 *   gets `DoubleFreeError` (F7), and a refused free changes nothing;
 * - a free by another agent (a *remote* free) also raises the page's REMOTE flag: the
 *   owner's next allocation that runs out of known free blocks rescans flagged pages and
 *   reuses the block. The bitmap is the owner's remote-free list: a push is one atomic AND,
 *   there is no link to write into user memory, no ABA, and no "pushed but not yet linked"
 *   window that recovery would have to untangle.
 *
 * The owner keeps its bookkeeping (current page per class, where to resume scanning, its
 * pages per class) in plain JavaScript memory: it is a hint, rebuilt from the descriptors
 * whenever it disagrees with them, never needed by another agent.
 *
 * A *page table* (one Int32 per PAGE_BYTES slot of the memory's maximum size) maps a
 * pointer to its descriptor in O(1): 0 = not a cache page (the pointer is the wrapped allocator's).
 *
 * The buffer's layout (header, descriptors, page table) and the classes: cache-layout.ts.
 *
 * ## Cost
 * | operation                       | best                  | worst                           |
 * | ------------------------------- | --------------------- | ------------------------------- |
 * | alloc, page of the class has room | 1 load + 1 atomic OR | O(words) scan of the page      |
 * | alloc, current page full        | O(own pages of class) | + lock, page from the allocator |
 * | free (own or remote)            | 1 table load + 1 atomic AND | same                      |
 * | page taken / released           | under the lock, O(1)  | O(DESCRIPTORS) to find a free descriptor |
 *
 * Fragmentation: internal only, below one class step (≤ 25%, 12.5% above 128 bytes), plus
 * PAGE_USABLE mod block size at each page's end; pages stay with their owner while it lives
 * (empty ones go back to the wrapped allocator when the owner closes, dies, or an allocation runs out).
 * Per-block overhead: 1 bit; per page: 8 bytes for the allocator's block header, a 192-byte descriptor and a
 * 4-byte table entry.
 *
 * ## Invariants (`check`)
 * TAG ≠ 0 ⇔ the page table entry of its PAGE names this descriptor; the class and owner are
 * in range; the page is a live block of the wrapped allocator of at least PAGE_USABLE bytes; the bitmap's tail
 * bits are set and its unused words are 0. These only change under the lock, so they hold
 * at every instant, even while other agents allocate and free.
 */

import { popcount } from "../core/bits.js";
import {
  AllocatorError,
  DoubleFreeError,
  HeapCorruptedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import { isUint32, rejectSize } from "../core/validate.js";
import {
  BITMAP_WORDS,
  CLASS_BLOCKS,
  CLASS_COUNT,
  CLASS_SIZE,
  CLASS_TAIL,
  CLASS_WORDS,
  D_BITMAP,
  D_PAGE,
  D_REMOTE,
  D_TAG,
  DESC_WORDS,
  HEADER_WORDS,
  K_DESCRIPTORS,
  K_FREE_HINT,
  K_PT_ENTRIES,
  OWNER_BITS,
  PAGE_BYTES,
  PAGE_LOG2,
  PAGE_USABLE,
  TAG_USED,
  tagOf,
} from "./cache-layout.js";

export {
  CLASS_BLOCKS,
  CLASS_COUNT,
  CLASS_OF16,
  CLASS_SIZE,
  CLASS_TAIL,
  CLASS_WORDS,
  createCache,
  D_TAG,
  DEFAULT_CACHE_PAGES,
  DESC_WORDS,
  PAGE_BYTES,
  PAGE_USABLE,
  SMALL_MAX,
  validateCache,
} from "./cache-layout.js";

/** What `PageCache.tally` counts. */
export interface CacheTally {
  /** Pages in use (owned or abandoned). */
  pages: number;
  /** Pages whose owner closed or died, waiting to be adopted. */
  abandoned: number;
  /** Live blocks in pages, and their bytes (class sizes). */
  liveBlocks: number;
  /** Bytes of the live blocks (class sizes). */
  liveBytes: number;
  /** Free blocks in pages (never used, freed by the owner or by others), and their bytes. */
  freeBlocks: number;
  /** Bytes of the free blocks. */
  freeBytes: number;
  /** Largest block size with a free block in a page this agent may allocate from. */
  largestFree: number;
}

/** The wrapped allocator, as a cache needs it: take and give back page-sized blocks, check them. */
export interface PageSource {
  alloc(size: number, align: number): number;
  dealloc(ptr: number): void;
  usableSize(ptr: number): number;
}

/**
 * One agent's handle on the cache buffer. `alloc` and `free` run without the lock; every
 * method that takes or gives back pages, adopts, repairs or checks runs with it held.
 *
 * @internal Exported for tests through `memkit/testing`, not the public entry point.
 */
export class PageCache {
  /** The whole cache buffer: header, descriptors, page table. */
  readonly k: Int32Array;
  readonly descriptors: number;
  readonly ptEntries: number;
  /** Word index of the page table. */
  readonly ptBase: number;
  readonly agentId: number;
  /** This agent's TAG for each class. */
  private readonly tags: Int32Array;
  /** Per class: the page allocated from last (descriptor index, −1 = none). */
  private readonly cur: Int32Array;
  /** Per class: first of this agent's pages of the class (−1 = none); `ring` links them. */
  private readonly first: Int32Array;
  private readonly ring: Int32Array;
  /** Per descriptor: the bitmap word to resume scanning at (owner's hint). */
  private readonly hint: Int32Array;
  /** Set when the hints disagree with the descriptors (pages taken away by reset/recovery). */
  stale = false;

  constructor(sab: SharedArrayBuffer, agentId: number) {
    const k = new Int32Array(sab);
    this.k = k;
    this.descriptors = k[K_DESCRIPTORS];
    this.ptEntries = k[K_PT_ENTRIES];
    this.ptBase = HEADER_WORDS + this.descriptors * DESC_WORDS;
    this.agentId = agentId;
    this.tags = new Int32Array(CLASS_COUNT);
    for (let c = 0; c < CLASS_COUNT; c++) this.tags[c] = tagOf(c, agentId);
    this.cur = new Int32Array(CLASS_COUNT).fill(-1);
    this.first = new Int32Array(CLASS_COUNT).fill(-1);
    this.ring = new Int32Array(this.descriptors).fill(-1);
    this.hint = new Int32Array(this.descriptors);
  }

  // ---- lock-free paths -----------------------------------------------------------------------

  /** A block of class `cls` from this agent's current page of the class, or 0. */
  alloc(cls: number): number {
    const d = this.cur[cls];
    if (d < 0) return 0;
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    if (k[base + D_TAG] !== this.tags[cls]) {
      this.stale = true;
      return 0;
    }
    const end = CLASS_WORDS[cls];
    for (let w = this.hint[d]; w < end; w++) {
      const word = k[base + D_BITMAP + w];
      if (word !== -1) {
        const bit = ~word & (word + 1); // lowest clear bit
        Atomics.or(k, base + D_BITMAP + w, bit); // only the owner sets bits: it stays ours
        this.hint[d] = w;
        return k[base + D_PAGE] * PAGE_BYTES + ((w << 5) + 31 - Math.clz32(bit)) * CLASS_SIZE[cls];
      }
    }
    this.hint[d] = end;
    return 0;
  }

  /**
   * The current page of `cls` is full: look through this agent's other pages of the class
   * (those with frees by the owner since the last scan, or flagged by remote frees) and
   * allocate from the first with room. 0 when none has room.
   */
  allocNext(cls: number): number {
    const k = this.k;
    const tag = this.tags[cls];
    const end = CLASS_WORDS[cls];
    for (let d = this.first[cls]; d >= 0; d = this.ring[d]) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      if (k[base + D_TAG] !== tag) {
        this.stale = true;
        return 0;
      }
      if (k[base + D_REMOTE] !== 0) {
        Atomics.store(k, base + D_REMOTE, 0);
        this.hint[d] = 0;
      }
      if (this.hint[d] < end) {
        this.cur[cls] = d;
        const r = this.alloc(cls);
        if (r !== 0) return r;
      }
    }
    return 0;
  }

  /** Descriptor of the cache page holding `ptr` (a uint32), or −1 when it is the wrapped allocator's. */
  pageOf(ptr: number): number {
    const slot = ptr >>> PAGE_LOG2;
    return slot < this.ptEntries ? this.k[this.ptBase + slot] - 1 : -1;
  }

  /**
   * Frees `ptr` in page `d` (from `pageOf`). Validates first (block start, size), then one
   * atomic AND: a block that was not live is reported and nothing changes.
   */
  free(d: number, ptr: number, size: number | undefined): void {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    const cls = (tag >>> 16) & 0xff;
    const bsize = CLASS_SIZE[cls];
    const off = ptr - k[base + D_PAGE] * PAGE_BYTES;
    const i = (off / bsize) | 0;
    if (i * bsize !== off || i >= CLASS_BLOCKS[cls] || tag === 0) this.badPointer(ptr, d);
    if (size !== undefined && !(isUint32(size) && size <= bsize)) this.badSize(ptr, size, bsize);
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const old = Atomics.and(k, base + D_BITMAP + w, ~bit);
    if ((old & bit) === 0) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
    }
    if ((tag & OWNER_BITS) === this.agentId) {
      if (w < this.hint[d]) this.hint[d] = w;
    } else if (k[base + D_REMOTE] === 0) {
      Atomics.store(k, base + D_REMOTE, 1);
    }
  }

  /** The block size of live block `ptr` in page `d`; throws for anything else. */
  liveSize(d: number, ptr: number): number {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    const cls = (tag >>> 16) & 0xff;
    const bsize = CLASS_SIZE[cls];
    const off = ptr - k[base + D_PAGE] * PAGE_BYTES;
    const i = (off / bsize) | 0;
    if (i * bsize !== off || i >= CLASS_BLOCKS[cls] || tag === 0) this.badPointer(ptr, d);
    if ((Atomics.load(k, base + D_BITMAP + (i >>> 5)) & (1 << (i & 31))) === 0) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
    }
    return bsize;
  }

  /** The class of the page `d`. */
  classOf(d: number): number {
    return (this.k[HEADER_WORDS + d * DESC_WORDS + D_TAG] >>> 16) & 0xff;
  }

  private badPointer(ptr: number, d: number): never {
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not the start of a block of cache page ${d} ` +
        `(class ${CLASS_SIZE[this.classOf(d)]} bytes)`,
    );
  }

  private badSize(ptr: number, size: number, bsize: number): never {
    if (!isUint32(size)) rejectSize(size);
    throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block holds only ${bsize} bytes`);
  }

  // ---- under the lock ------------------------------------------------------------------------

  /** Rebuilds this agent's per-class rings and hints from the descriptors. */
  rebuild(): void {
    const k = this.k;
    this.cur.fill(-1);
    this.first.fill(-1);
    this.ring.fill(-1);
    for (let d = this.descriptors - 1; d >= 0; d--) {
      const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      if (tag === 0 || (tag & OWNER_BITS) !== this.agentId) continue;
      const cls = (tag >>> 16) & 0xff;
      this.ring[d] = this.first[cls];
      this.first[cls] = d;
      this.hint[d] = 0;
    }
    this.stale = false;
  }

  private link(d: number, cls: number): void {
    this.ring[d] = this.first[cls];
    this.first[cls] = d;
    this.hint[d] = 0;
    this.cur[cls] = d;
  }

  /** Adopts an abandoned page of `cls` (a dead or closed agent's) and allocates from it. */
  adopt(cls: number): number {
    const k = this.k;
    const abandoned = tagOf(cls, 0);
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      if (k[base + D_TAG] !== abandoned) continue;
      Atomics.store(k, base + D_TAG, this.tags[cls]);
      Atomics.store(k, base + D_REMOTE, 0);
      this.link(d, cls);
      const r = this.alloc(cls);
      if (r !== 0) return r;
    }
    return 0;
  }

  /**
   * Makes page `page` (a PAGE_BYTES-aligned block of the wrapped allocator, PAGE_USABLE bytes) a page of `cls`
   * owned by this agent, or returns false when no descriptor is free. `between` runs after
   * the TAG is published and before the page table names it (a test pause point).
   */
  install(page: number, cls: number, between?: () => void): boolean {
    const k = this.k;
    const n = this.descriptors;
    let d = -1;
    const h = k[K_FREE_HINT];
    for (let i = 0; i < n; i++) {
      const j = (h + i) % n;
      if (k[HEADER_WORDS + j * DESC_WORDS + D_TAG] === 0) {
        d = j;
        break;
      }
    }
    if (d < 0) return false;
    k[K_FREE_HINT] = (d + 1) % n;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const slot = page / PAGE_BYTES;
    k[base + D_PAGE] = slot;
    k[base + D_REMOTE] = 0;
    const words = CLASS_WORDS[cls];
    for (let w = 0; w < BITMAP_WORDS; w++) k[base + D_BITMAP + w] = 0;
    k[base + D_BITMAP + words - 1] = CLASS_TAIL[cls];
    // Publish: TAG first, then the page table (recovery finishes or undoes the gap: repair).
    Atomics.store(k, base + D_TAG, this.tags[cls]);
    between?.();
    Atomics.store(k, this.ptBase + slot, d + 1);
    this.link(d, cls);
    return true;
  }

  /** Gives page `d` back to the wrapped allocator: page table entry, then the allocator, then the TAG (see repair). */
  release(d: number, src: PageSource): void {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const slot = k[base + D_PAGE];
    Atomics.store(k, this.ptBase + slot, 0);
    src.dealloc(slot * PAGE_BYTES);
    Atomics.store(k, base + D_TAG, 0);
    this.stale = true;
  }

  /** Whether page `d` of class `cls` has no live block. */
  isEmpty(d: number): boolean {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const cls = (k[base + D_TAG] >>> 16) & 0xff;
    const words = CLASS_WORDS[cls];
    for (let w = 0; w < words - 1; w++)
      if (Atomics.load(k, base + D_BITMAP + w) !== 0) return false;
    return Atomics.load(k, base + D_BITMAP + words - 1) === CLASS_TAIL[cls];
  }

  /**
   * Pages of agent `owner` (0 = abandoned ones): the empty ones go back to the allocator, the others
   * become ABANDONED (adopted later by whoever needs a page of their class). Returns the
   * number of pages released.
   */
  releaseOrAbandon(owner: number, src: PageSource): number {
    const k = this.k;
    let released = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const tag = k[base + D_TAG];
      if (tag === 0 || (tag & OWNER_BITS) !== owner) continue;
      if (this.isEmpty(d)) {
        this.release(d, src);
        released++;
      } else if (owner !== 0) {
        Atomics.store(k, base + D_TAG, tag & ~OWNER_BITS);
      }
    }
    if (owner === this.agentId) this.rebuild();
    return released;
  }

  /** This agent's empty pages and empty abandoned pages back to the allocator (an allocation ran out). */
  trim(src: PageSource): number {
    const k = this.k;
    let released = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      const owner = tag & OWNER_BITS;
      if (tag !== 0 && (owner === this.agentId || owner === 0) && this.isEmpty(d)) {
        this.release(d, src);
        released++;
      }
    }
    if (released > 0) this.rebuild();
    return released;
  }

  /**
   * Recovery, first step: finishes what a dead agent left between the steps of `install`
   * or `release` (TAG set, page table not naming it): the page goes back to the allocator.
   */
  repair(src: PageSource): void {
    const k = this.k;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      if (k[base + D_TAG] === 0) continue;
      const slot = k[base + D_PAGE];
      if (slot >= 0 && slot < this.ptEntries && k[this.ptBase + slot] === d + 1) continue;
      try {
        src.dealloc(slot * PAGE_BYTES); // may already be done (release died after it)
      } catch {
        // DoubleFreeError / InvalidPointerError: the allocator had it back already.
      }
      Atomics.store(k, base + D_TAG, 0);
    }
  }

  /** Whether some descriptor names `page` (used to finish a dead agent's page install). */
  hasPage(page: number): boolean {
    const slot = page / PAGE_BYTES;
    return slot < this.ptEntries && this.k[this.ptBase + slot] !== 0;
  }

  /** Forgets every page (after the heap's reset: the allocator took their memory back). */
  clear(): void {
    const k = this.k;
    for (let d = 0; d < this.descriptors; d++) {
      Atomics.store(k, HEADER_WORDS + d * DESC_WORDS + D_TAG, 0);
    }
    for (let s = 0; s < this.ptEntries; s++) k[this.ptBase + s] = 0;
    this.rebuild();
  }

  /** Counts pages and blocks (exact when no other agent is inside an allocation). */
  tally(src: PageSource): CacheTally & { pageBytes: number } {
    const k = this.k;
    const t = {
      pages: 0,
      abandoned: 0,
      liveBlocks: 0,
      liveBytes: 0,
      freeBlocks: 0,
      freeBytes: 0,
      largestFree: 0,
      pageBytes: 0,
    };
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const tag = k[base + D_TAG];
      if (tag === 0) continue;
      const cls = (tag >>> 16) & 0xff;
      const owner = tag & OWNER_BITS;
      t.pages++;
      if (owner === 0) t.abandoned++;
      t.pageBytes += src.usableSize(k[base + D_PAGE] * PAGE_BYTES);
      let live = 0;
      const words = CLASS_WORDS[cls];
      for (let w = 0; w < words; w++) live += popcount(Atomics.load(k, base + D_BITMAP + w));
      live -= popcount(CLASS_TAIL[cls]);
      const free = CLASS_BLOCKS[cls] - live;
      t.liveBlocks += live;
      t.liveBytes += live * CLASS_SIZE[cls];
      t.freeBlocks += free;
      t.freeBytes += free * CLASS_SIZE[cls];
      if (free > 0 && (owner === this.agentId || owner === 0)) {
        t.largestFree = Math.max(t.largestFree, CLASS_SIZE[cls]);
      }
    }
    return t;
  }

  /**
   * Walks the descriptors and the page table both ways; calls `corrupt(message)` (which
   * throws) at the first inconsistency. Safe while other agents allocate and free.
   */
  check(src: PageSource, maxAgents: number, corrupt: (msg: string) => never): void {
    const k = this.k;
    let named = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const tag = k[base + D_TAG];
      if (tag === 0) continue;
      named++;
      const cls = (tag >>> 16) & 0xff;
      const owner = tag & OWNER_BITS;
      const slot = k[base + D_PAGE];
      if ((tag & TAG_USED) === 0 || cls >= CLASS_COUNT || owner > maxAgents) {
        corrupt(`cache descriptor ${d}: bad tag ${tag}`);
      }
      if (!(slot >= 0 && slot < this.ptEntries) || k[this.ptBase + slot] !== d + 1) {
        corrupt(`cache descriptor ${d}: page ${slot * PAGE_BYTES} is not in the page table`);
      }
      let usable = 0;
      try {
        usable = src.usableSize(slot * PAGE_BYTES);
      } catch (e) {
        if (e instanceof AllocatorError && e.code === "ERR_HEAP_CORRUPTED") throw e;
      }
      if (usable < PAGE_USABLE) {
        corrupt(`cache page ${slot * PAGE_BYTES} (descriptor ${d}) is not a live TLSF block`);
      }
      const words = CLASS_WORDS[cls];
      const tail = Atomics.load(k, base + D_BITMAP + words - 1);
      if ((tail & CLASS_TAIL[cls]) !== CLASS_TAIL[cls]) {
        corrupt(`cache descriptor ${d}: tail bits of the bitmap cleared (${tail})`);
      }
      for (let w = words; w < BITMAP_WORDS; w++) {
        if (k[base + D_BITMAP + w] !== 0) corrupt(`cache descriptor ${d}: bitmap word ${w} set`);
      }
    }
    let entries = 0;
    for (let s = 0; s < this.ptEntries; s++) {
      const e = k[this.ptBase + s];
      if (e === 0) continue;
      entries++;
      if (!(e >= 1 && e <= this.descriptors) || k[HEADER_WORDS + (e - 1) * DESC_WORDS] === 0) {
        corrupt(`cache page table: slot ${s} names descriptor ${e - 1}, which is not in use`);
      }
    }
    if (entries !== named) {
      corrupt(`cache: ${named} descriptors in use but ${entries} page table entries`);
    }
  }
}

/** Thrown by the cache's checks; SharedHeap poisons the heap on it. */
export function cacheCorrupt(msg: string): never {
  throw new HeapCorruptedError(`SharedHeap: ${msg}`);
}
