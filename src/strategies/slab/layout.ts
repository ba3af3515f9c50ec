/**
 * SlabAllocator's bytes: the metadata block, the page table, pages and their headers, large
 * block headers. The strategy and its costs: allocator.ts; the classes: classes.ts.
 *
 * ## Memory picture
 *
 *     metadata block (parent.alloc(metaBytes, 16); 16-aligned)
 *     | common header: 8 slots | slab slots 8…14 (float64) | slab words (u32) | class records |
 *
 *     slot  8 PAGE_SIZE    the largest page size (power of two, 1 KiB … 64 KiB; also H_CONFIG)
 *     slot  9 MIN_PAGE_SIZE the smallest page size (power of two, 1 KiB … PAGE_SIZE)
 *     slot 10 CLASSES      classes in use (classes larger than maxSmall are not)
 *     slot 11 EMPTY_LIMIT  empty pages a class keeps instead of giving them back (default 1)
 *     slot 12 TABLE_FIRST  table entry 0 covers the slot [FIRST × G, (FIRST + 1) × G)
 *     slot 13 TABLE_SHIFT  log2 G, the bytes one table entry covers: MIN_PAGE_SIZE / 2, at
 *                          most the shortest page (pageLength(MIN_PAGE_SIZE), classes.ts)
 *     slot 14 META_AT      the metadata block's own address (checked on attach)
 *
 *     words (u32; read and written by the hot paths)
 *     W_TABLE      u32 index of the page table's entry 0 (its address / 4)
 *     W_TABLE_LEN  entries in the page table
 *     W_IN_USE     bytes in live blocks (class sizes + large usable sizes)
 *     W_PEAK       highest W_IN_USE since creation or reset
 *     W_LARGE_HEAD newest live large block (its pointer), 0 if none
 *     W_LARGE_LIVE live large blocks
 *     W_LARGE_BYTES usable bytes of live large blocks
 *     W_PAGES      pages held from the parent (all lists, all classes)
 *     W_RELEASED   pages given back whose table entries still remember them
 *
 *     class record (u32 words)
 *     | PARTIAL head | EMPTY head | #empty | #pages |
 *       The head of PARTIAL is the class's current page: every alloc of the class takes a
 *       block from it. Full pages are on no list: a page fills as the current page and
 *       leaves the partial list, and the first free in it puts it back in front, so
 *       neither costs more than the head's links. #pages counts the class's pages on
 *       every list and none (it changes only when a page comes from or goes to the parent).
 *
 *     page table (a parent block; 2 u32 per entry; entry i covers the G bytes of slot
 *     TABLE_FIRST + i; grown by doubling, up to the memory's maximum, when a page lands
 *     beyond it, from INITIAL_TABLE_SLOTS entries: 8 bytes per G bytes of memory below the
 *     highest page; back to INITIAL_TABLE_SLOTS entries when the slab holds no page and no
 *     large block)
 *     | LO | HI |
 *       LO  the page whose bytes include the slot's first byte (0: none)
 *       HI  the page that starts inside the slot after its first byte (0: none)
 *       A page is at least G bytes, so no more than one page of each kind meets a slot; the
 *       page holding an address p of slot i is HI when HI ≠ 0 and p ≥ HI, else LO when p
 *       is below LO's end (its class's page length, from its header), else none. Pages are
 *       16-aligned, which frees an entry's low 4 bits: an entry `page | kind << 1 | 1` is a
 *       page of page size MIN_PAGE_SIZE << kind given back to the parent (stale pointers
 *       into it are reported as double frees) until the parent hands those bytes to the
 *       slab again.
 *
 *     page (its class's page length, 16-aligned, anywhere in the parent: a parent block)
 *     | header fields | bitmap | pad | block 0 | block 1 | … | block cap−1 | tail          |
 *     ^ page                         ^ page + firstBlockOffset(class)                        |
 *     header (u32 words): | TAG "SLB" + class | LIVE | FREE | CARVED | NEXT | PREV | LIST | 0 |
 *                         | bitmap: 1 bit per block, 1 = live, ⌈cap/32⌉ words             |
 *       TAG      PAGE_TAG + the page's class: one load checks the header and finds the class
 *       FREE     1 + the index of the page's first free block (0 = none); a free block's
 *                first u32 holds the same for the next one
 *       CARVED   blocks 0 … CARVED−1 were handed out at least once; the rest are carved
 *                lazily, so a new page costs O(bitmap words), not O(blocks)
 *       NEXT/PREV the page's neighbours on its class list (0 for a full page); LIST says
 *                which list (1 partial, 2 full: on none, 3 empty)
 *
 *     large block (> largest class, or an alignment above 16)
 *     | pad | header (32 bytes) | data ... |      parent block [base, base + psize)
 *            ^ ptr − 32          ^ ptr = base + max(32, align)
 *     header (u32 words): | NEXT | PREV | 0 | 0 | BASE | PSIZE | CHECK | STATE "LRGE"/"LRFD" |
 *       NEXT/PREV the list of live large blocks (reset and drop give them all back)
 *       CHECK    a hash of (ptr, BASE, PSIZE): a header the slab did not write never passes
 *       STATE    live or freed: a second free is a DoubleFreeError as long as the parent
 *                leaves the last 16 header bytes alone (parents that keep free-list fields
 *                in freed blocks write at its start: Block 8 bytes, TLSF 8), and the
 *                memory was not handed out again
 *
 * ## Finding a block's owner in O(1)
 * `dealloc(ptr)` reads the table entry of ptr's slot (two words). A live page: its tag is
 * checked (and names the class), ptr must be inside the page and a block start below
 * CARVED (one multiplication finds the block index and rejects every other offset:
 * classes.ts, `exactQuotient`) with its bitmap bit set. Anything else: a large block,
 * whose header must pass CHECK. A large block never
 * lies inside a live page (both are parent blocks), so the table, which user writes to
 * blocks cannot reach, decides; a header is only trusted after its check matches.
 *
 * ## Per-block overhead
 * Small blocks: none in the block; per page a header of 32 bytes + 1 bit per block rounded
 * to 16, and the tail that no whole block fills (slab/classes.ts). The parent keeps its own
 * per-block overhead once per page; pages need no alignment beyond 16, so the parent loses
 * nothing to aligning them. Large blocks: 32 bytes (or `align` bytes for alignments above
 * 32) plus the parent's own.
 */

import { alignUp } from "../../core/bits.js";
import { declareHeader, SLOT_BYTES } from "../../core/header.js";
import { PAGE_FIXED_BYTES } from "./classes.js";

// ---- header slots (float64) and words (u32) ---------------------------------------------------
export const SLAB_HEADER = declareHeader(
  ["PAGE_SIZE", "MIN_PAGE_SIZE", "CLASSES", "EMPTY_LIMIT", "TABLE_FIRST", "TABLE_SHIFT", "META_AT"],
  [
    "TABLE",
    "TABLE_LEN",
    "IN_USE",
    "PEAK",
    "LARGE_HEAD",
    "LARGE_LIVE",
    "LARGE_BYTES",
    "PAGES",
    "RELEASED",
  ],
);
export const {
  PAGE_SIZE,
  MIN_PAGE_SIZE: MIN_PAGE,
  CLASSES,
  EMPTY_LIMIT,
  TABLE_FIRST,
  TABLE_SHIFT,
  META_AT,
} = SLAB_HEADER.slot;
export const {
  TABLE: W_TABLE,
  TABLE_LEN: W_TABLE_LEN,
  IN_USE: W_IN_USE,
  PEAK: W_PEAK,
  LARGE_HEAD: W_LARGE_HEAD,
  LARGE_LIVE: W_LARGE_LIVE,
  LARGE_BYTES: W_LARGE_BYTES,
  PAGES: W_PAGES,
  RELEASED: W_RELEASED,
} = SLAB_HEADER.word;

// ---- class record (u32 words) ------------------------------------------------------------------
export const C_PARTIAL = 0;
export const C_EMPTY = 1;
export const C_N_EMPTY = 2;
export const C_PAGES = 3;
export const CLASS_RECORD_SHIFT = 2;
/** A page's LIST word: the list it is on (full pages are on none). */
export const LIST_PARTIAL = 1;
export const LIST_FULL = 2;
export const LIST_EMPTY = 3;
export const LIST_NAMES = ["", "partial", "full", "empty"];
/** Word of a list's head page in the class record: C_PARTIAL or C_EMPTY. */
export const listHead = (tag: number): number => (tag === LIST_PARTIAL ? C_PARTIAL : C_EMPTY);
export const CLASS_RECORD_WORDS = 1 << CLASS_RECORD_SHIFT;
export const CLASS_RECORD_BYTES = CLASS_RECORD_WORDS * 4;

// ---- page header (u32 words at the page's start) ----------------------------------------------
export const P_TAG = 0;
export const P_LIVE = 1;
export const P_FREE = 2;
export const P_CARVED = 3;
export const P_NEXT = 4;
export const P_PREV = 5;
export const P_LIST = 6;
export const P_BITMAP = PAGE_FIXED_BYTES / 4;
/** A page's TAG is PAGE_TAG + its class ("SLB" and the class in the low byte). */
export const PAGE_TAG = 0x534c4200;

// ---- page table entries (2 u32 per slot) ------------------------------------------------------
export const E_LO = 0;
export const E_HI = 1;
export const ENTRY_WORDS = 2;
/** The bit of a table entry that marks a page given back to the parent. */
export const RELEASED = 1;
/** The low bits of an entry that are not the page's address (RELEASED and the kind). */
export const ENTRY_FLAGS = 15;
/** Where a given-back page's kind (log2 of its page size / MIN_PAGE_SIZE) sits in its entry. */
export const KIND_SHIFT = 1;
export const KIND_MASK = 7;
/** Slots the page table covers when the slab is made (it grows by doubling from there). */
export const INITIAL_TABLE_SLOTS = 64;

// ---- large block header (u32 words at ptr − LARGE_HEADER_BYTES) -------------------------------
// The list links come first: once the block is freed, the parent may write its own free-list
// fields over the start of its block (words 0–3, 16 bytes); the words that prove a double
// free (BASE, PSIZE, CHECK, STATE) sit right below ptr, where they survive that.
export const L_NEXT = 0;
export const L_PREV = 1;
export const L_BASE = 4;
export const L_PSIZE = 5;
export const L_CHECK = 6;
export const L_STATE = 7;
export const LARGE_HEADER_WORDS = 8;
export const LARGE_HEADER_BYTES = LARGE_HEADER_WORDS * 4;
export const LARGE_LIVE_TAG = 0x4c524745; // "LRGE"
export const LARGE_FREED_TAG = 0x4c524644; // "LRFD"

/** Default largest page size: 16 KiB (the largest class, 2048, fits 7 times). */
export const DEFAULT_PAGE_SIZE = 16384;
/** Default smallest page size: 4 KiB (classes up to 448 bytes, 9 and more blocks a page). */
export const DEFAULT_MIN_PAGE_SIZE = 4096;
/** Default largest request served by a class (with the default pages; plan.ts says why). */
export const DEFAULT_MAX_SMALL = 1024;
/** Default empty pages a class keeps instead of giving them back at once. */
export const DEFAULT_EMPTY_PAGES_PER_CLASS = 1;
export const MAX_EMPTY_PAGES_PER_CLASS = 65536;

/** The hash a large block's header carries, binding its pointer, parent block and size. */
export function largeCheck(ptr: number, base: number, psize: number): number {
  return (
    (Math.imul(ptr ^ LARGE_LIVE_TAG, 0x9e3779b1) ^
      Math.imul(base, 0x85ebca6b) ^
      Math.imul(psize + 1, 0xc2b2ae35)) >>>
    0
  );
}

export function metadataBytes(classCount: number): number {
  return alignUp(SLAB_HEADER.bytes + classCount * CLASS_RECORD_BYTES, SLOT_BYTES);
}

/** The message for a page header whose tag is no page's. */
export function headerOverwritten(page: number, h: number, u32: Uint32Array): string {
  return (
    `page ${page}: header was overwritten (tag ${u32[h + P_TAG]}; ` +
    "overflow of the block before the page?)"
  );
}
