/**
 * The page cache of a synchronized SharedHeap: per-agent pages of small blocks that the
 * owning agent allocates from, and any agent frees into, without the heap's lock (the way
 * mimalloc and snmalloc scale: RELIABILITY.md §4.3 items 8 and 9).
 *
 * A *page* is PAGE_BYTES (8 KiB) of the heap, aligned to PAGE_BYTES, taken from the
 * wrapped allocator under the lock (one block of PAGE_USABLE bytes, so that pages can sit
 * side by side: the next page's block header, at most 8 bytes, comes before it) and cut into
 * blocks of one size class. A small request (≤ SMALL_MAX bytes, align ≤ 16) is served from
 * a page of its class owned by the calling agent; larger ones go to the wrapped allocator
 * under the lock.
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
 * - a free by another agent (a *remote* free) also raises the page's REMOTE flag. The
 *   bitmap is the owner's remote-free list: a push is one atomic AND and never takes the
 *   lock; the owner drains a page's remote frees in one batch, when its pages of the class
 *   run out of known free blocks and it rescans the flagged ones. There is no link to write
 *   into user memory, no ABA, and no "pushed but not yet linked" window for recovery to
 *   untangle: a free that returned is in the bitmap, one that did not never happened.
 *
 * The owner keeps its bookkeeping (current page per class, its pages of each class in
 * address order, where to resume scanning each) in plain JavaScript memory: a hint, rebuilt
 * from the descriptors whenever it disagrees with them, never needed by another agent.
 * It allocates from its lowest page of the class with room, so its highest pages get no
 * new blocks while lower ones have room and empty out as their blocks are freed.
 *
 * ## Empty pages (the cache's bound) and the claim protocol
 * A page whose last block is freed, by its owner or by any other agent, is *parked* under the
 * lock: the free notes it (`emptied`), and the freeing agent parks it before its call returns
 * (a never-blocking call when the lock is free; else its next blocking call, or whoever next
 * needs a page: `claimEmpty` parks pages flagged by remote frees that it finds empty). So a
 * page emptied by other agents' frees goes back without its owner calling anything, idle or
 * not. A parked page belongs to the shared heap again in all but name: any agent that needs a
 * page takes a parked one (of its class as it is, of another class re-cut) under the lock
 * before asking the wrapped allocator, and the owner takes it back lock-free (a CAS to its
 * plain TAG) only when none of its other pages of the class has room. Once more than
 * K_PARK_BOUND pages are parked (all agents together), the agent whose park crossed the
 * bound gives parked pages back to the wrapped allocator until three quarters of the bound
 * stay (in batches: a burst of frees emptying many pages costs one pass over the descriptors
 * per quarter of a bound of pages, not one per page: in a CPU profile of W1 the passes took
 * about a tenth of the time with one per page).
 *
 * Parking another agent's page is safe while that agent allocates from it lock-free (it read
 * its TAG before the park and sets a bit after) because a parked page is *sealed*:
 * - to park, the lock holder turns every bitmap word from its empty value to all bits set, each
 *   with a CAS, and only then sets TAG_PARKED. An allocation's `Atomics.or` before a word's
 *   seal makes that CAS fail (the park is abandoned, the words sealed so far restored); one
 *   after it finds its bit set and gives up (OwnerPages.alloc).
 * - a parked page stays sealed; whoever takes it (its owner's CAS back, a lock holder's claim)
 *   changes the TAG first and unseals after, so an allocation that read the old TAG and sets a
 *   bit after the unseal sees the new TAG when it looks again, and clears its bit.
 * - a page goes back to the wrapped allocator, or is re-cut for another class, only sealed.
 *   While a stale allocation's bit is set, no seal succeeds; so the bit it clears again was
 *   never re-initialised or handed out in between. No block is handed out twice, and a
 *   descriptor's reuse (another page, another class, another owner) changes nothing of this:
 *   only agent X ever writes a TAG naming X, so X's TAG cannot come back while X is inside
 *   an allocation.
 * - a free into a parked page is refused (DoubleFreeError) before it touches the seal.
 * An agent that dies in the middle of a seal (holding the lock) leaves the words it sealed
 * looking full: those blocks are lost to the page, which therefore never empties; no block is
 * handed out twice.

 * A *page table* (one Int32 per PAGE_BYTES slot of the memory's maximum size) maps a
 * pointer to its descriptor in O(1): 0 = not a cache page (the wrapped allocator's).
 *
 * The buffer's layout (header, descriptors, page table) and the classes: cache-layout.ts;
 * counting and checking the pages: cache-check.ts.
 *
 * ## Cost
 * | operation                        | best                        | worst                           |
 * | -------------------------------- | --------------------------- | ------------------------------- |
 * | alloc, page of the class has room | 1 load + 1 atomic OR       | O(words) scan of the page       |
 * | alloc, current page full         | O(own pages of class from the lowest with room) | + lock, page from the pool or the allocator |
 * | free (own or remote)             | 1 table load + 1 atomic AND | + O(words) when a word empties (own) |
 * | park an emptied page             | lock + O(words) CAS (seal) + 1 atomic add | + the excess back when the bound is crossed |
 * | take back own parked page        | 1 CAS + 1 atomic add + O(words) stores (unseal) | |
 * | page taken / released            | under the lock, O(1)        | O(DESCRIPTORS) to find a descriptor or a parked page |
 *
 * Fragmentation: internal only, below one class step (≤ 25%, 12.5% above 128 bytes), plus
 * PAGE_USABLE mod block size at each page's end, plus the free blocks of partly used pages.
 * Per-block overhead: 1 bit; per page: 8 bytes for the allocator's block header, a 128-byte
 * descriptor and a 4-byte table entry.
 *
 * ## Invariants (`check`)
 * TAG ≠ 0 ⇔ the page table entry of its PAGE names this descriptor; the class and owner are
 * in range, a parked page has an owner; the page is a live block of the wrapped allocator of
 * at least PAGE_USABLE bytes; the bitmap's tail bits are set and its unused words are 0.
 * A parked page is sealed (every word of its class all ones) and has no live block.
 * TAG and page table change only under the lock, except parked → own, which only the owner
 * does (lock-free).
 */

import { HeapCorruptedError } from "../core/errors.js";
import { type CacheTally, checkPages, type PageSource, tallyPages } from "./cache-check.js";
import {
  BITMAP_WORDS,
  CLASS_COUNT,
  CLASS_TAIL,
  CLASS_WORDS,
  D_BITMAP,
  D_PAGE,
  D_REMOTE,
  D_TAG,
  DESC_WORDS,
  HEADER_WORDS,
  K_FREE_HINT,
  K_PARKED,
  OWNER_BITS,
  PAGE_BYTES,
  TAG_PARKED,
  tagOf,
} from "./cache-layout.js";
import { OwnerPages } from "./cache-owner.js";

export type { CacheTally, PageSource } from "./cache-check.js";
export {
  CLASS_BLOCKS,
  CLASS_COUNT,
  CLASS_OF16,
  CLASS_SIZE,
  CLASS_TAIL,
  CLASS_WORDS,
  createCache,
  D_BITMAP,
  D_TAG,
  DEFAULT_CACHE_PAGES,
  DEFAULT_PARKED_PAGES,
  DESC_WORDS,
  PAGE_BYTES,
  PAGE_USABLE,
  SMALL_MAX,
  TAG_PARKED,
  validateCache,
} from "./cache-layout.js";

/**
 * One agent's handle on the cache buffer. `alloc`, `allocNext` and `free` run without the
 * lock; every method that takes or gives back pages, adopts, repairs or checks runs with it
 * held.
 *
 * @internal Exported for tests through `memkit/testing`, not the public entry point.
 */
export class PageCache extends OwnerPages {
  // ---- under the lock ------------------------------------------------------------------------

  /** Drains the remote frees of this agent's flagged pages and parks the empty ones. */
  sweep(): void {
    const k = this.k;
    for (let cls = 0; cls < CLASS_COUNT; cls++) {
      const tag = this.tags[cls];
      for (let d = this.first[cls]; d >= 0; d = this.ring[d]) {
        const base = HEADER_WORDS + d * DESC_WORDS;
        if (k[base + D_TAG] !== tag || k[base + D_REMOTE] === 0) continue;
        Atomics.store(k, base + D_REMOTE, 0);
        this.hint[d] = 0;
        if (this.isEmpty(d, cls)) this.park(d);
      }
    }
  }

  /**
   * Parks page `d` (a plain page of any live owner) when it has no live block: seals it, then
   * marks it parked (see "the claim protocol" above). Returns whether it did.
   */
  park(d: number): boolean {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    if (tag === 0 || (tag & TAG_PARKED) !== 0 || (tag & OWNER_BITS) === 0) return false;
    const cls = (tag >>> 16) & 0xff;
    if (!this.seal(d, cls)) return false;
    Atomics.store(k, base + D_TAG, tag | TAG_PARKED); // plain TAGs change only under the lock
    Atomics.store(k, base + D_REMOTE, 0);
    if (tag === this.tags[cls] && this.cur[cls] === d) this.cur[cls] = -1;
    if (Atomics.add(k, K_PARKED, 1) >= this.parkBound) {
      this.overBound = true;
      this.due = true;
    }
    return true;
  }

  /**
   * What a free left to do under the lock (`due`): the page it emptied is parked (or, an
   * abandoned one, given back), then parked pages past the bound go back to the wrapped
   * allocator. Every form of dealloc and alloc calls this, with the lock held.
   */
  settle(src: PageSource): void {
    const d = this.emptied;
    this.emptied = -1;
    this.due = false;
    if (d >= 0 && this.isEmpty(d)) {
      const tag = this.k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      if (tag !== 0 && (tag & (TAG_PARKED | OWNER_BITS)) === 0) {
        if (this.release(d, src, false)) this.rebuild();
      } else {
        this.park(d);
      }
    }
    if (this.overBound) this.releaseParked(src, this.parkBound - (this.parkBound >>> 2));
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
      this.cur[cls] = d;
      const r = this.alloc(cls);
      if (r !== 0) return r;
    }
    return 0;
  }

  /**
   * Takes an empty page for `cls`, preferring one of its class: a parked page of any agent
   * (CAS from the owner's parked TAG; another agent's page that remote frees emptied is
   * parked first), or an empty abandoned one. Returns its descriptor, now this agent's page of
   * its old class, sealed (not yet in a ring), or −1 when there is none.
   */
  claimEmpty(cls: number): number {
    const k = this.k;
    let other = -1;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      let tag = k[base + D_TAG];
      if (tag === 0) continue;
      if ((tag & TAG_PARKED) === 0) {
        const owner = tag & OWNER_BITS;
        if (owner === 0) {
          if (!this.isEmpty(d)) continue;
        } else if (owner !== this.agentId && k[base + D_REMOTE] !== 0 && this.park(d)) {
          tag = k[base + D_TAG];
        } else {
          continue;
        }
      }
      if (((tag >>> 16) & 0xff) === cls) {
        if (this.claim(d, tag)) return d;
      } else if (other < 0) {
        other = d;
      }
    }
    // Of another class: fails only when its owner took it back meanwhile (then a new page).
    return other >= 0 && this.claim(other, k[HEADER_WORDS + other * DESC_WORDS + D_TAG])
      ? other
      : -1;
  }

  /**
   * CAS page `d` from `tag` (parked, or abandoned and empty: sealed first) to this agent's
   * page of its class, still sealed. The caller unseals it (`use`), unpublishes it or
   * releases it; its rings are stale.
   */
  private claim(d: number, tag: number): boolean {
    const k = this.k;
    const parked = (tag & TAG_PARKED) !== 0;
    if (!parked && (tag & OWNER_BITS) !== 0) return false;
    const cls = (tag >>> 16) & 0xff;
    if (!parked && !this.seal(d, cls)) return false;
    const mine = this.tags[cls];
    if (Atomics.compareExchange(k, HEADER_WORDS + d * DESC_WORDS + D_TAG, tag, mine) !== tag) {
      if (!parked) this.unseal(d, cls); // an abandoned page's TAG changes only under the lock
      return false;
    }
    if (parked) Atomics.sub(k, K_PARKED, 1);
    Atomics.store(k, HEADER_WORDS + d * DESC_WORDS + D_REMOTE, 0);
    this.stale = true;
    return true;
  }

  /** A claimed page of class `cls` is unsealed, joins this agent's rings and serves a block. */
  use(d: number, cls: number): number {
    this.unseal(d, cls);
    this.rebuild();
    this.cur[cls] = d;
    return this.alloc(cls);
  }

  /**
   * Makes page `page` (a PAGE_BYTES-aligned block of the wrapped allocator, PAGE_USABLE
   * bytes) a page of `cls` owned by this agent, or returns false when no descriptor is free.
   * `between` runs after the TAG is published and before the page table names it (a test
   * pause point).
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
    // A free descriptor's bitmap was sealed when its page went (or never used): no stale
    // allocation's bit is pending in it.
    const words = CLASS_WORDS[cls];
    for (let w = 0; w < BITMAP_WORDS; w++) Atomics.store(k, base + D_BITMAP + w, 0);
    Atomics.store(k, base + D_BITMAP + words - 1, CLASS_TAIL[cls]);
    // Publish: TAG first, then the page table (recovery finishes or undoes the gap: repair).
    Atomics.store(k, base + D_TAG, this.tags[cls]);
    between?.();
    Atomics.store(k, this.ptBase + slot, d + 1);
    if (this.stale) this.rebuild();
    else this.link(d, cls);
    this.cur[cls] = d;
    return true;
  }

  /**
   * Unpublishes this agent's sealed page `d` (page table, then TAG) without giving its memory
   * back, so that it can be installed again for another class; returns the page's address.
   * The caller records the address in its intent first: a death in between gives it back.
   */
  unpublish(d: number): number {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const slot = k[base + D_PAGE];
    Atomics.store(k, this.ptBase + slot, 0);
    Atomics.store(k, base + D_TAG, 0);
    this.stale = true;
    return slot * PAGE_BYTES;
  }

  /** The address of page `d`. */
  pageAddress(d: number): number {
    return this.k[HEADER_WORDS + d * DESC_WORDS + D_PAGE] * PAGE_BYTES;
  }

  /**
   * Gives empty page `d` back to the wrapped allocator: sealed first unless `sealed` says it
   * is (false, nothing done, when it does not seal: a live block or a pending stale bit), then
   * page table entry, the allocator, the TAG (see repair).
   */
  release(d: number, src: PageSource, sealed: boolean): boolean {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    if (!sealed && !this.seal(d, this.classOf(d))) return false;
    const slot = k[base + D_PAGE];
    Atomics.store(k, this.ptBase + slot, 0);
    src.dealloc(slot * PAGE_BYTES);
    Atomics.store(k, base + D_TAG, 0);
    this.stale = true;
    return true;
  }

  /**
   * Gives parked pages back to the wrapped allocator until at most `keep` stay parked
   * (the highest addresses go first). Returns the number released.
   */
  releaseParked(src: PageSource, keep: number): number {
    const k = this.k;
    this.overBound = false;
    let parked = 0;
    for (let d = 0; d < this.descriptors; d++) {
      if ((k[HEADER_WORDS + d * DESC_WORDS + D_TAG] & TAG_PARKED) !== 0) parked++;
    }
    let released = 0;
    for (let s = this.ptEntries - 1; s >= 0 && parked > keep; s--) {
      const d = k[this.ptBase + s] - 1;
      if (d < 0) continue;
      const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      if ((tag & TAG_PARKED) === 0) continue;
      parked--;
      if (!this.claim(d, tag)) continue; // its owner took it back meanwhile
      this.release(d, src, true);
      released++;
    }
    if (released > 0) this.rebuild();
    return released;
  }

  /**
   * Pages of agent `owner` (0 = abandoned ones): the empty and parked ones go back to the
   * allocator, the others become ABANDONED (adopted later by whoever needs a page of their
   * class). `owner` is this agent (closing), a dead one, or 0: none of them allocates now.
   * Returns the number of pages released.
   */
  releaseOrAbandon(owner: number, src: PageSource): number {
    const k = this.k;
    let released = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const tag = k[base + D_TAG];
      if (tag === 0 || (tag & OWNER_BITS) !== owner) continue;
      const parked = (tag & TAG_PARKED) !== 0;
      if ((parked || this.isEmpty(d)) && this.release(d, src, parked)) {
        if (parked) Atomics.sub(k, K_PARKED, 1);
        released++;
      } else if (owner !== 0) {
        Atomics.store(k, base + D_TAG, tag & ~OWNER_BITS);
      }
    }
    if (owner === this.agentId) this.rebuild();
    return released;
  }

  /**
   * Every empty page this agent may give back: its own empty ones, empty abandoned ones and
   * every parked one (an allocation ran out, or `trim()`). Returns the number released.
   */
  trim(src: PageSource): number {
    const k = this.k;
    let released = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      if (tag === 0) continue;
      const owner = tag & OWNER_BITS;
      const parked = (tag & TAG_PARKED) !== 0;
      if (parked) {
        if (!this.claim(d, tag)) continue;
      } else if (!((owner === this.agentId || owner === 0) && this.isEmpty(d))) {
        continue;
      }
      if (this.release(d, src, parked)) released++;
    }
    if (released > 0) this.rebuild();
    return released;
  }

  /**
   * Recovery, first step: finishes what a dead agent left between the steps of `install`,
   * `unpublish` or `release` (TAG set, page table not naming it): the page goes back to the
   * allocator. Undoes a park it left half sealed (the words of a page in use that carry
   * SEAL_BIT were empty when sealed: empty again, each by a CAS, since an owner taking its
   * page back unseals it lock-free). Then recounts the parked pages (a death between a
   * park's two steps).
   */
  repair(src: PageSource): void {
    const k = this.k;
    let parked = 0;
    for (let d = 0; d < this.descriptors; d++) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const tag = k[base + D_TAG];
      if (tag === 0) continue;
      const slot = k[base + D_PAGE];
      if (slot >= 0 && slot < this.ptEntries && k[this.ptBase + slot] === d + 1) {
        if ((tag & TAG_PARKED) !== 0) {
          parked++;
          continue;
        }
        const cls = (tag >>> 16) & 0xff;
        const last = CLASS_WORDS[cls] - 1;
        for (let w = 0; w <= last; w++) {
          const v = Atomics.load(k, base + D_BITMAP + w);
          if (v < 0)
            Atomics.compareExchange(k, base + D_BITMAP + w, v, w === last ? CLASS_TAIL[cls] : 0);
        }
        continue;
      }
      try {
        src.dealloc(slot * PAGE_BYTES); // may already be done (release died after it)
      } catch {
        // DoubleFreeError / InvalidPointerError: the allocator had it back already.
      }
      Atomics.store(k, base + D_TAG, 0);
    }
    Atomics.store(k, K_PARKED, parked);
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
    Atomics.store(k, K_PARKED, 0);
    this.rebuild();
  }

  /** Counts pages and blocks (exact when no other agent is inside an allocation). */
  tally(src: PageSource): CacheTally & { pageBytes: number } {
    return tallyPages(this.k, this.descriptors, this.agentId, src);
  }

  /**
   * Walks the descriptors and the page table both ways; calls `corrupt(message)` (which
   * throws) at the first inconsistency. Safe while other agents allocate and free.
   */
  check(src: PageSource, maxAgents: number, corrupt: (msg: string) => never): void {
    checkPages(this.k, this.descriptors, this.ptEntries, maxAgents, src, corrupt);
  }
}

/** Thrown by the cache's checks; SharedHeap poisons the heap on it. */
export function cacheCorrupt(msg: string): never {
  throw new HeapCorruptedError(`SharedHeap: ${msg}`);
}
