import { HeapIncompatibleError } from "../core/errors.js";
import { classSize, searchClass } from "../core/size-classes.js";

export const CACHE_MAGIC = 0x4d4b5043;
/**
 * Major 2: a TAG may carry TAG_PARKED (an empty page any agent may take), and the header
 * bound. Major 3: 31 blocks per bitmap word, bit 31 the seal; a parked page is sealed.
 */
export const CACHE_VERSION = 3 * 65536 + 0;

/**
 * 8 KiB pages: on W1 (8–512 bytes) each class keeps about one partly used page per agent,
 * so the page size sets most of the footprint above the class rounding (measured with the
 * footprint run of bench/shared.mjs: 1.29 with 16 KiB pages, 1.23 with 8 KiB, 1.25 with 4 KiB,
 * where a 1 KiB block leaves a quarter of a page unused).
 */
export const PAGE_LOG2 = 13;
export const PAGE_BYTES = 1 << PAGE_LOG2;
/**
 * Bytes of a page's block: 8 bytes short of a page, so the next page's block header (at most
 * 8 bytes: TLSF's size word is 4; inner.ts checks each strategy) fits before it.
 */
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
/**
 * Bitmap words hold BLOCKS_PER_WORD blocks each (bits 0–30). Bit 31 (SEAL_BIT) is never a
 * block: it is clear in every word of a page in use and set in every word of a sealed
 * (parked) page, so a free or an allocation that meets a seal knows it (cache.ts).
 */
export const BLOCKS_PER_WORD = 31;
export const SEAL_BIT = 1 << 31;
/** A word whose 31 blocks are all live. */
export const FULL_WORD = ~SEAL_BIT;
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
  CLASS_WORDS[k] = Math.ceil(n / BLOCKS_PER_WORD);
  CLASS_TAIL[k] = n % BLOCKS_PER_WORD === 0 ? 0 : FULL_WORD & ~((1 << (n % BLOCKS_PER_WORD)) - 1);
  classSum = (classSum * 31 + CLASS_SIZE[k]) & 0xffff;
}
for (let i = 0; i < CLASS_OF16.length; i++) CLASS_OF16[i] = classFor(i * 16);
export const CLASS_CONFIG = CLASS_COUNT | (classSum << 8);

// Header words.
export const K_MAGIC = 0;
export const K_VERSION = 1;
export const K_PAGE_LOG2 = 2;
export const K_DESCRIPTORS = 3;
export const K_PT_ENTRIES = 4;
export const K_CLASSES = 5;
export const K_FREE_HINT = 6;
/** Parked pages now (all agents; counted after each park, unpark and release: a trigger, not a fact). */
export const K_PARKED = 7;
/** How many parked pages may stay before the rest go back to the wrapped allocator. */
export const K_PARK_BOUND = 8;
export const HEADER_WORDS = 16;

// Descriptor words.
export const DESC_WORDS = 32;
export const D_TAG = 0;
export const D_PAGE = 1;
export const D_REMOTE = 2;
export const D_BITMAP = 15;
export const BITMAP_WORDS = DESC_WORDS - D_BITMAP;
if (CLASS_WORDS[0] > BITMAP_WORDS) throw new Error("cache.ts: bitmap too small for class 0");

export const TAG_USED = 1 << 24;
/** An empty page its owner parked: the owner may take it back lock-free, any lock holder may take it. */
export const TAG_PARKED = 1 << 25;
export const OWNER_BITS = 0xffff;
/** The bits a TAG may have. */
export const TAG_BITS = TAG_USED | TAG_PARKED | 0xff0000 | OWNER_BITS;

/** Descriptors a heap gets by default: one per page slot, at most this many. */
export const DEFAULT_CACHE_PAGES = 4096;
/** Parked (empty) pages a heap keeps for reuse by default, all agents together. */
export const DEFAULT_PARKED_PAGES = 16;

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

/**
 * A fresh cache buffer for a memory whose end can reach `maxEnd`, keeping at most
 * `parkBound` empty pages parked.
 */
export function createCache(
  maxEnd: number,
  descriptors?: number,
  parkBound = DEFAULT_PARKED_PAGES,
): SharedArrayBuffer {
  const pt = pageTableEntries(maxEnd);
  const n = descriptors ?? Math.max(1, Math.min(pt, DEFAULT_CACHE_PAGES));
  const sab = new SharedArrayBuffer(cacheBytes(n, pt));
  const k = new Int32Array(sab);
  k[K_VERSION] = CACHE_VERSION;
  k[K_PAGE_LOG2] = PAGE_LOG2;
  k[K_DESCRIPTORS] = n;
  k[K_PT_ENTRIES] = pt;
  k[K_CLASSES] = CLASS_CONFIG;
  k[K_PARK_BOUND] = Math.min(parkBound, n);
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
    !(k[K_PARK_BOUND] >= 0 && k[K_PARK_BOUND] <= n) ||
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
      (tag & ~TAG_BITS) !== 0 ||
      (tag & TAG_USED) === 0 ||
      ((tag & TAG_PARKED) !== 0 && (tag & OWNER_BITS) === 0) ||
      cls >= CLASS_COUNT ||
      (tag & OWNER_BITS) > maxAgents ||
      !(page >= 0 && page < pt)
    ) {
      bad(`descriptor ${d} is garbage (tag ${tag}, page ${page})`, "ERR_HEAP_CONFIG");
    }
  }
}
