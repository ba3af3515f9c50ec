/**
 * The page cache of a synchronized SharedHeap: per-agent pages of small blocks that the
 * owning agent allocates from, and any agent frees into, without the heap's lock (the way
 * mimalloc and snmalloc scale: RELIABILITY.md §4.3 items 8 and 9).
 *
 * A *page* is PAGE_BYTES (16 KiB) of the heap, aligned to PAGE_BYTES, taken from the
 * wrapped TLSF heap under the lock (one TLSF block of PAGE_USABLE bytes, so that pages can
 * sit side by side: the next page's TLSF size word is the last word before it) and cut into
 * blocks of one size class. A small request (≤ SMALL_MAX bytes, align ≤ 16) is served from
 * a page of its class owned by the calling agent; larger ones go to TLSF under the lock.
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
 * pointer to its descriptor in O(1): 0 = not a cache page (the pointer is TLSF's).
 *
 * ## Memory picture (Int32 words of the cache buffer)
 *
 *     word 0 MAGIC 0x4d4b5043 ("MKPC") · 1 VERSION · 2 PAGE_LOG2 · 3 DESCRIPTORS
 *     word 4 PT_ENTRIES · 5 CLASSES (count | checksum of the class table << 8)
 *     word 6 FREE_HINT (next descriptor to try when taking a free one) · 7–15 reserved
 *     word 16 …   DESCRIPTORS × DESC_WORDS (48 words = 192 bytes, 3 cache lines)
 *     then        PT_ENTRIES words of page table: descriptor index + 1, or 0
 *
 *     descriptor  | TAG | PAGE | REMOTE | reserved … | bitmap: 32 words (1,024 blocks) |
 *                   +0    +1     +2       +3 … +15     +16 … +47
 *
 *     TAG     31 30  29 … 24   23 … 16   15 … 0
 *             | 0 | USED | 0 | class   | owner agent id (0 = ABANDONED) |
 *             0 = the descriptor is free
 *     PAGE    page address / PAGE_BYTES
 *     REMOTE  1 after another agent freed a block of the page (the owner clears it)
 *     bitmap  bit i of word w set = block 32w + i is live; bits at and past the class's block
 *             count in the last word are always set (never a block), later words are 0
 *
 * ## Cost
 * | operation                       | best                  | worst                           |
 * | ------------------------------- | --------------------- | ------------------------------- |
 * | alloc, page of the class has room | 1 load + 1 atomic OR | O(words) scan of the page      |
 * | alloc, current page full        | O(own pages of class) | + lock, page from TLSF          |
 * | free (own or remote)            | 1 table load + 1 atomic AND | same                      |
 * | page taken / released           | under the lock, O(1)  | O(DESCRIPTORS) to find a free descriptor |
 *
 * Fragmentation: internal only, below one class step (≤ 25%, 12.5% above 128 bytes), plus
 * PAGE_USABLE mod block size at each page's end; pages stay with their owner while it lives
 * (empty ones go back to TLSF when the owner closes, dies, or an allocation runs out).
 * Per-block overhead: 1 bit; per page: 8 bytes of TLSF header, a 192-byte descriptor and a
 * 4-byte table entry.
 *
 * ## Invariants (`check`)
 * TAG ≠ 0 ⇔ the page table entry of its PAGE names this descriptor; the class and owner are
 * in range; the page is a live TLSF block of at least PAGE_USABLE bytes; the bitmap's tail
 * bits are set and its unused words are 0. These only change under the lock, so they hold
 * at every instant, even while other agents allocate and free.
 */

import { popcount } from "../core/bits.js";
import {
  AllocatorError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import { classSize, searchClass } from "../core/size-classes.js";
import { isUint32, rejectSize } from "../core/validate.js";

export const CACHE_MAGIC = 0x4d4b5043;
export const CACHE_VERSION = 1 * 65536 + 0;

export const PAGE_LOG2 = 14;
export const PAGE_BYTES = 1 << PAGE_LOG2;
/** Bytes of a page's TLSF block: the next page's 4-byte TLSF size word sits after it. */
export const PAGE_USABLE = PAGE_BYTES - 8;
/** The largest request served from pages. */
export const SMALL_MAX = 1024;

/**
 * The page classes: core/size-classes.ts's scheme (4, 7, 2), 16-byte steps to 128, then
 * four per power of two, up to SMALL_MAX; class k is the module's class k + 1.
 */
const GRANULE_LOG2 = 4;
const LINEAR_LOG2 = 7;
const MANTISSA_BITS = 2;
const classFor = (size: number): number =>
  searchClass(Math.max(size, 1), GRANULE_LOG2, LINEAR_LOG2, MANTISSA_BITS) - 1;
/** Block sizes of the classes: 16, 32, … 128, 160, 192, … 1024. */
export const CLASS_SIZE = Int32Array.from({ length: classFor(SMALL_MAX) + 1 }, (_, k) =>
  classSize(k + 1, GRANULE_LOG2, LINEAR_LOG2, MANTISSA_BITS),
);
export const CLASS_COUNT = CLASS_SIZE.length;
/** Blocks of each class in a page, bitmap words they need, and the last word's tail bits. */
export const CLASS_BLOCKS = new Int32Array(CLASS_COUNT);
export const CLASS_WORDS = new Int32Array(CLASS_COUNT);
export const CLASS_TAIL = new Int32Array(CLASS_COUNT);
/** The class of a request of `size` bytes (≤ SMALL_MAX) is CLASS_OF16[(size + 15) >>> 4]. */
export const CLASS_OF16 = new Uint8Array((SMALL_MAX >>> 4) + 1);
let classSum = 0;
for (let k = 0; k < CLASS_COUNT; k++) {
  const n = Math.floor(PAGE_USABLE / CLASS_SIZE[k]);
  CLASS_BLOCKS[k] = n;
  CLASS_WORDS[k] = (n + 31) >>> 5;
  CLASS_TAIL[k] = n % 32 === 0 ? 0 : ~((1 << (n % 32)) - 1);
  classSum = (classSum * 31 + CLASS_SIZE[k]) & 0xffff;
}
for (let i = 0; i < CLASS_OF16.length; i++) CLASS_OF16[i] = classFor(i * 16);
const CLASS_CONFIG = CLASS_COUNT | (classSum << 8);

// Header words.
const K_MAGIC = 0;
const K_VERSION = 1;
const K_PAGE_LOG2 = 2;
const K_DESCRIPTORS = 3;
const K_PT_ENTRIES = 4;
const K_CLASSES = 5;
const K_FREE_HINT = 6;
const HEADER_WORDS = 16;

// Descriptor words.
export const DESC_WORDS = 48;
export const D_TAG = 0;
export const D_PAGE = 1;
export const D_REMOTE = 2;
export const D_BITMAP = 16;
const BITMAP_WORDS = DESC_WORDS - D_BITMAP;
if (CLASS_WORDS[0] > BITMAP_WORDS) throw new Error("cache.ts: bitmap too small for class 0");

export const TAG_USED = 1 << 24;
const OWNER_BITS = 0xffff;

/** Descriptors a heap gets by default: one per page slot, at most this many. */
export const DEFAULT_CACHE_PAGES = 2048;

/** The TAG of a page of class `cls` owned by agent `owner` (0 = abandoned). */
export function tagOf(cls: number, owner: number): number {
  return TAG_USED | (cls << 16) | owner;
}

/** Page-table entries for a memory whose end can reach `maxEnd`. */
export function pageTableEntries(maxEnd: number): number {
  return Math.ceil(maxEnd / PAGE_BYTES);
}

export function cacheBytes(descriptors: number, ptEntries: number): number {
  return (HEADER_WORDS + descriptors * DESC_WORDS + ptEntries) * 4;
}

/** A fresh cache buffer for a memory whose end can reach `maxEnd`. */
export function createCache(maxEnd: number, descriptors?: number): SharedArrayBuffer {
  const pt = pageTableEntries(maxEnd);
  const n = descriptors ?? Math.max(1, Math.min(pt, DEFAULT_CACHE_PAGES));
  const sab = new SharedArrayBuffer(cacheBytes(n, pt));
  const k = new Int32Array(sab);
  k[K_VERSION] = CACHE_VERSION;
  k[K_PAGE_LOG2] = PAGE_LOG2;
  k[K_DESCRIPTORS] = n;
  k[K_PT_ENTRIES] = pt;
  k[K_CLASSES] = CLASS_CONFIG;
  Atomics.store(k, K_MAGIC, CACHE_MAGIC);
  return sab;
}

/**
 * Validates a cache buffer read-only against a memory whose end can reach `maxEnd`;
 * throws `HeapIncompatibleError` on any mismatch or garbage.
 */
export function validateCache(sab: unknown, maxEnd: number, maxAgents: number): void {
  const bad = (why: string, code?: "ERR_HEAP_VERSION" | "ERR_HEAP_CONFIG"): never => {
    throw new HeapIncompatibleError(`SharedHeap.attach: cache buffer ${why}`, code);
  };
  if (!(typeof SharedArrayBuffer === "function" && sab instanceof SharedArrayBuffer)) {
    bad("is not a SharedArrayBuffer");
  }
  const buf = sab as SharedArrayBuffer;
  if (buf.byteLength < HEADER_WORDS * 4 || buf.byteLength % 4 !== 0) {
    bad(`of ${buf.byteLength} bytes`);
  }
  const k = new Int32Array(buf);
  if (Atomics.load(k, K_MAGIC) !== CACHE_MAGIC) bad("has no cache header (bad magic)");
  if (Math.floor(k[K_VERSION] / 65536) !== Math.floor(CACHE_VERSION / 65536)) {
    bad(`has format ${k[K_VERSION]}`, "ERR_HEAP_VERSION");
  }
  const n = k[K_DESCRIPTORS];
  const pt = k[K_PT_ENTRIES];
  if (
    k[K_PAGE_LOG2] !== PAGE_LOG2 ||
    k[K_CLASSES] !== CLASS_CONFIG ||
    pt !== pageTableEntries(maxEnd) ||
    n < 1 ||
    buf.byteLength !== cacheBytes(n, pt)
  ) {
    bad("does not match this build's pages and classes or this memory", "ERR_HEAP_CONFIG");
  }
  // Every descriptor in use has a valid tag (class, owner) and page slot. Attaching does not
  // take the lock, and other agents install pages meanwhile (descriptor first, page table
  // after), so only single-word checks belong here; that the page table names each
  // descriptor back is `check()`'s, which runs under the lock.
  for (let d = 0; d < n; d++) {
    const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
    if (tag === 0) continue;
    const cls = (tag >>> 16) & 0xff;
    const page = k[HEADER_WORDS + d * DESC_WORDS + D_PAGE];
    if (
      (tag & ~(TAG_USED | 0xff0000 | OWNER_BITS)) !== 0 ||
      (tag & TAG_USED) === 0 ||
      cls >= CLASS_COUNT ||
      (tag & OWNER_BITS) > maxAgents ||
      !(page >= 0 && page < pt)
    ) {
      bad(`descriptor ${d} is garbage (tag ${tag}, page ${page})`, "ERR_HEAP_CONFIG");
    }
  }
}

/** What `PageCache.tally` counts. */
export interface CacheTally {
  /** Pages in use (owned or abandoned). */
  pages: number;
  abandoned: number;
  /** Live blocks in pages, and their bytes (class sizes). */
  liveBlocks: number;
  liveBytes: number;
  /** Free blocks in pages (never used, freed by the owner or by others), and their bytes. */
  freeBlocks: number;
  freeBytes: number;
  /** Largest block size with a free block in a page this agent may allocate from. */
  largestFree: number;
}

/** The TLSF side a cache needs: take and give back page-sized blocks, and check them. */
export interface PageSource {
  alloc(size: number, align: number): number;
  dealloc(ptr: number): void;
  usableSize(ptr: number): number;
}

/**
 * One agent's handle on the cache buffer. `alloc` and `free` run without the lock; every
 * method that takes or gives back pages, adopts, repairs or checks runs with it held.
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

  /** Descriptor of the cache page holding `ptr` (a uint32), or −1 when it is TLSF's. */
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
   * Makes page `page` (a PAGE_BYTES-aligned TLSF block of PAGE_USABLE bytes) a page of `cls`
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

  /** Gives page `d` back to TLSF: page table entry, then TLSF, then the TAG (see repair). */
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
   * Pages of agent `owner` (0 = abandoned ones): the empty ones go back to TLSF, the others
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

  /** This agent's empty pages and empty abandoned pages back to TLSF (an allocation ran out). */
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
   * or `release` (TAG set, page table not naming it): the page goes back to TLSF.
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
        // DoubleFreeError / InvalidPointerError: TLSF had it back already.
      }
      Atomics.store(k, base + D_TAG, 0);
    }
  }

  /** Whether some descriptor names `page` (used to finish a dead agent's page install). */
  hasPage(page: number): boolean {
    const slot = page / PAGE_BYTES;
    return slot < this.ptEntries && this.k[this.ptBase + slot] !== 0;
  }

  /** Forgets every page (after the heap's reset: TLSF took their memory back). */
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
