/**
 * Counting and checking the page cache (cache.ts): both read the cache buffer only, with
 * single-word reads, so they are safe while other agents allocate and free lock-free.
 */

import { popcount } from "../core/bits.js";
import { AllocatorError } from "../core/errors.js";
import {
  BITMAP_WORDS,
  CLASS_BLOCKS,
  CLASS_COUNT,
  CLASS_SIZE,
  CLASS_TAIL,
  CLASS_WORDS,
  D_BITMAP,
  D_PAGE,
  D_TAG,
  DESC_WORDS,
  HEADER_WORDS,
  OWNER_BITS,
  PAGE_BYTES,
  PAGE_USABLE,
  TAG_BITS,
  TAG_PARKED,
  TAG_USED,
} from "./cache-layout.js";

/** What `PageCache.tally` counts. */
export interface CacheTally {
  /** Pages in use (owned, parked or abandoned). */
  pages: number;
  /** Pages whose owner closed or died, waiting to be adopted. */
  abandoned: number;
  /** Empty pages parked (sealed), which any agent may take (cache.ts). */
  parked: number;
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

/** Counts the pages and blocks of cache buffer `k` as agent `agentId` sees them. */
export function tallyPages(
  k: Int32Array,
  descriptors: number,
  agentId: number,
  src: PageSource,
): CacheTally & { pageBytes: number } {
  const t = {
    pages: 0,
    abandoned: 0,
    parked: 0,
    liveBlocks: 0,
    liveBytes: 0,
    freeBlocks: 0,
    freeBytes: 0,
    largestFree: 0,
    pageBytes: 0,
  };
  for (let d = 0; d < descriptors; d++) {
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    if (tag === 0) continue;
    const cls = (tag >>> 16) & 0xff;
    const owner = tag & OWNER_BITS;
    t.pages++;
    if (owner === 0) t.abandoned++;
    if ((tag & TAG_PARKED) !== 0) t.parked++;
    t.pageBytes += src.usableSize(k[base + D_PAGE] * PAGE_BYTES);
    let live = 0;
    const words = CLASS_WORDS[cls];
    if ((tag & TAG_PARKED) === 0) {
      // A parked page is sealed (every bit set) and holds no live block.
      for (let w = 0; w < words; w++) live += popcount(Atomics.load(k, base + D_BITMAP + w));
      live -= popcount(CLASS_TAIL[cls]);
    }
    const free = CLASS_BLOCKS[cls] - live;
    t.liveBlocks += live;
    t.liveBytes += live * CLASS_SIZE[cls];
    t.freeBlocks += free;
    t.freeBytes += free * CLASS_SIZE[cls];
    if (free > 0 && (owner === agentId || owner === 0 || (tag & TAG_PARKED) !== 0)) {
      t.largestFree = Math.max(t.largestFree, CLASS_SIZE[cls]);
    }
  }
  return t;
}

/**
 * Walks the descriptors and the page table of cache buffer `k` both ways; calls
 * `corrupt(message)` (which throws) at the first inconsistency.
 */
export function checkPages(
  k: Int32Array,
  descriptors: number,
  ptEntries: number,
  maxAgents: number,
  src: PageSource,
  corrupt: (msg: string) => never,
): void {
  const ptBase = HEADER_WORDS + descriptors * DESC_WORDS;
  let named = 0;
  for (let d = 0; d < descriptors; d++) {
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    if (tag === 0) continue;
    named++;
    const cls = (tag >>> 16) & 0xff;
    const owner = tag & OWNER_BITS;
    const slot = k[base + D_PAGE];
    if (
      (tag & ~TAG_BITS) !== 0 ||
      (tag & TAG_USED) === 0 ||
      cls >= CLASS_COUNT ||
      owner > maxAgents ||
      ((tag & TAG_PARKED) !== 0 && owner === 0)
    ) {
      corrupt(`cache descriptor ${d}: bad tag ${tag}`);
    }
    if (!(slot >= 0 && slot < ptEntries) || k[ptBase + slot] !== d + 1) {
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
    // A parked page is sealed: SEAL_BIT in every word until whoever takes it changes its TAG
    // (then unseals). (A refused free clears a block bit of a seal for a moment, never
    // SEAL_BIT.) Read TAG again after a word without it: its owner may have taken it back
    // lock-free meanwhile.
    if ((tag & TAG_PARKED) !== 0) {
      for (let w = 0; w < words; w++) {
        if (Atomics.load(k, base + D_BITMAP + w) >= 0 && Atomics.load(k, base + D_TAG) === tag) {
          corrupt(`cache descriptor ${d}: parked page not sealed (word ${w})`);
        }
      }
    }
  }
  let entries = 0;
  for (let s = 0; s < ptEntries; s++) {
    const e = k[ptBase + s];
    if (e === 0) continue;
    entries++;
    if (!(e >= 1 && e <= descriptors) || k[HEADER_WORDS + (e - 1) * DESC_WORDS] === 0) {
      corrupt(`cache page table: slot ${s} names descriptor ${e - 1}, which is not in use`);
    }
  }
  if (entries !== named) {
    corrupt(`cache: ${named} descriptors in use but ${entries} page table entries`);
  }
}
