/**
 * SlabAllocator's bytes: the metadata block, the page table, pages and their trailers, large
 * block headers. The strategy and its costs: allocator.ts; the classes: classes.ts.
 *
 * ## Memory picture
 *
 *     metadata block (parent.alloc(metaBytes, 8); 8-aligned)
 *     | common header: 8 slots | slab slots 8…21 (float64) | class record × classes (8 u32 each) |
 *
 *     slot  8 PAGE_SIZE    bytes per page (power of two, 1 KiB … 64 KiB; also H_CONFIG)
 *     slot  9 CLASSES      classes in use (classes larger than maxSmall are not)
 *     slot 10 EMPTY_LIMIT  empty pages a class keeps instead of giving them back (default 1)
 *     slot 11 TABLE_AT     address of the page table (a parent block)
 *     slot 12 TABLE_FIRST  page number (address / PAGE_SIZE) of table entry 0
 *     slot 13 TABLE_LEN    entries in the page table
 *     slot 14 LIVE         live blocks, small and large
 *     slot 15 IN_USE       bytes in live blocks (class sizes + large usable sizes)
 *     slot 16 PEAK         highest IN_USE since creation or reset
 *     slot 17 LARGE_HEAD   newest live large block (its pointer), 0 if none
 *     slot 18 LARGE_LIVE   live large blocks
 *     slot 19 LARGE_BYTES  usable bytes of live large blocks
 *     slot 20 PAGES        pages held from the parent (all lists, all classes)
 *     slot 21 META_AT      the metadata block's own address (checked on attach)
 *
 *     class record (u32 words)
 *     | PARTIAL head | FULL head | EMPTY head | #partial | #full | #empty | live | 0 |
 *
 *     page table (u8 per page number TABLE_FIRST … TABLE_FIRST+TABLE_LEN−1; a parent block
 *     covering the memory's end at creation, replaced by one twice as long, up to the
 *     memory's maximum, when the parent hands out a page beyond it: 64 KiB of table per
 *     4 GiB of 64 KiB pages)
 *       0          not a page of this slab
 *       1 … 28     a page of class (entry − 1)
 *       128 + c    a page of class c given back to the parent (stale pointers into it
 *                  are reported as double frees)
 *
 *     page (PAGE_SIZE bytes, PAGE_SIZE-aligned; a parent block)
 *     | block 0 | block 1 | … | block cap−1 | tail | trailer                              |
 *     ^ page                                      ^ page + trailerOffset(class)
 *     trailer (u32 words): | MAGIC "SLBP" | CLASS | LIVE | FREE | CARVED | NEXT | PREV | LIST |
 *                          | bitmap: 1 bit per block, 1 = live, ⌈cap/32⌉ words            |
 *       FREE     first block of the page's free list (0 = empty); a free block's first
 *                u32 links to the next free block of the page (0 = end)
 *       CARVED   blocks 0 … CARVED−1 were handed out at least once; the rest are carved
 *                lazily, so a new page costs O(bitmap words), not O(blocks)
 *       NEXT/PREV the page's neighbours on its class list; LIST says which list
 *                (1 partial, 2 full, 3 empty)
 *
 *     large block (> largest class, or an alignment no class gives)
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
 * `dealloc(ptr)` reads the page-table entry of ptr's page. A live page of class c: the page
 * is `alignDown(ptr, PAGE_SIZE)`, its trailer is checked (magic, class), ptr must be a
 * block start below CARVED with its bitmap bit set. Anything else: a large block, whose
 * header must pass CHECK. A large block never lies inside a live page (both are parent
 * blocks), so the table, which user writes cannot reach, decides; the header is only
 * trusted after CHECK matches.
 *
 * ## Per-block overhead
 * Small blocks: none in the block; per page a trailer of 32 bytes + 1 bit per block, and the
 * tail that no whole block fills (slab/classes.ts; at 16 KiB pages 64 … 2048 bytes per page).
 * Large blocks: 32 bytes (or `align` bytes for alignments above 32) plus the parent's own.
 */

import { alignUp } from "../../core/bits.js";
import { declareHeader, SLOT_BYTES } from "../../core/header.js";
import { TRAILER_FIXED_BYTES } from "./classes.js";

// ---- header slots (float64) ---------------------------------------------------------------
export const SLAB_HEADER = declareHeader([
  "PAGE_SIZE",
  "CLASSES",
  "EMPTY_LIMIT",
  "TABLE_AT",
  "TABLE_FIRST",
  "TABLE_LEN",
  "LIVE",
  "IN_USE",
  "PEAK",
  "LARGE_HEAD",
  "LARGE_LIVE",
  "LARGE_BYTES",
  "PAGES",
  "META_AT",
]);
export const {
  PAGE_SIZE,
  CLASSES,
  EMPTY_LIMIT,
  TABLE_AT,
  TABLE_FIRST,
  TABLE_LEN,
  LIVE,
  IN_USE,
  PEAK,
  LARGE_HEAD,
  LARGE_LIVE,
  LARGE_BYTES,
  PAGES,
  META_AT,
} = SLAB_HEADER.slot;

// ---- class record (u32 words); list heads and counts are indexed by list tag -----------------
export const LIST_PARTIAL = 1;
export const LIST_FULL = 2;
export const LIST_EMPTY = 3;
export const LIST_NAMES = ["", "partial", "full", "empty"];
/** Word of a list's head page: C_PARTIAL, C_FULL, C_EMPTY. */
export const listHead = (tag: number): number => tag - 1;
/** Word of a list's page count: C_N_PARTIAL, C_N_FULL, C_N_EMPTY. */
export const listCount = (tag: number): number => tag + 2;
export const C_PARTIAL = listHead(LIST_PARTIAL);
export const C_EMPTY = listHead(LIST_EMPTY);
export const C_N_PARTIAL = listCount(LIST_PARTIAL);
export const C_N_FULL = listCount(LIST_FULL);
export const C_N_EMPTY = listCount(LIST_EMPTY);
export const C_LIVE = 6;
export const CLASS_RECORD_WORDS = 8;
export const CLASS_RECORD_BYTES = CLASS_RECORD_WORDS * 4;

// ---- page trailer (u32 words at page + trailerOffset(class)) -----------------------------------
export const T_MAGIC = 0;
export const T_CLASS = 1;
export const T_LIVE = 2;
export const T_FREE = 3;
export const T_CARVED = 4;
export const T_NEXT = 5;
export const T_PREV = 6;
export const T_LIST = 7;
export const T_BITMAP = TRAILER_FIXED_BYTES / 4;
export const PAGE_MAGIC = 0x534c4250; // "SLBP"

// ---- page table entries (u8) ---------------------------------------------------------------
export const NOT_A_PAGE = 0;
/** Entry of a page given back to the parent: RELEASED_PAGE + class. */
export const RELEASED_PAGE = 128;

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

/** Default page size: 16 KiB (the largest class, 2048, fits 7 times). */
export const DEFAULT_PAGE_SIZE = 16384;
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

/** The message for a page trailer that no longer holds its magic and class. */
export function trailerOverwritten(
  page: number,
  size: number,
  t: number,
  u32: Uint32Array,
): string {
  return (
    `page ${page} (class ${size}): trailer at ${t * 4} was overwritten ` +
    `(magic ${u32[t + T_MAGIC]}, class ${u32[t + T_CLASS]}; overflow of the last block?)`
  );
}
