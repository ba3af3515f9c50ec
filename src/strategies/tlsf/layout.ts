/**
 * TLSF's bytes: the header and its state words, the block fields and flags, the metadata
 * after the header, the out-of-line live and start maps, and the front end's stacks.
 *
 *     region.start (8-aligned)
 *     | common header (8 float64 slots) | state words (8 × u32)                           |
 *     | FL bitmap: u32 | SL bitmaps: FL_COUNT × u32 | list heads: FL_COUNT × SL_COUNT × u32 |
 *     dataStart (8-aligned)
 *     | pad (4 or 12) | block | block | … | block | sentinel (4) |  END (8-aligned)
 *                     ^ FIRST: its pointer FIRST + 4 is 16-aligned  ^ END − 4
 *
 * The state words are uint32 (every value below 2^32: heaps are at most 4 GiB); the hot
 * paths read and write them through the memory's u32 view, as they do the blocks:
 *
 *     word 0 END         heap end; the sentinel's size word is at END − 4
 *     word 1 USED_COUNT  blocks that are not free: live ones and those the front end holds
 *     word 2 USED_BYTES  Σ sizes of those blocks (size words included); free bytes follow:
 *                        END − 4 − FIRST − USED_BYTES
 *     word 3 SLACK       PEAK − in use, where in use = Σ (size − 4) over live blocks
 *     word 4 PEAK        highest in use since creation or reset
 *     word 5 CLEAN_FROM  bytes at or above were never handed out (allocZeroed skips them)
 *     word 6 CACHED      Σ sizes of the blocks the front end holds
 *     word 7 BUDGET      the most CACHED may reach (grows with PEAK)
 *
 * In use is kept as the slack below the peak, so that one word changes when a block is
 * handed out or given back, and the peak only when the slack runs out.
 *
 * A block starts with a 4-byte size word; the user's pointer is 4 bytes after it, so block
 * starts are ≡ 4 (mod 8) and user pointers ≡ 0 (mod 8). Sizes count the whole block (size
 * word included) and are multiples of 8, which frees the low bits for flags:
 *
 *     size word   31                                   3   2   1   0
 *                 |  block size / 8 (29 bits)          | - |PF | F |
 *                 F  = FREE_BIT: this block is free
 *                 PF = PREV_FREE_BIT: the block before it (in address order) is free
 *
 *     used block  | size|flags | payload (size − 4 usable bytes) ...                  |
 *     free block  | size|flags | list prev | list next | ...        | footer = own start |
 *                  +0           +4          +8                       +size − 4
 *
 * Free blocks carry their free-list links (LINK_PREV, LINK_NEXT: the neighbours in their
 * list, not in memory) and, in their last word, their own start: the block after a free
 * block finds it through that footer when it is freed (boundary tag). A used block needs no
 * footer (its follower's PF bit is clear), so its overhead is 4 bytes. The sentinel is a
 * zero-size used block at END − 4 that stops every walk and holds the PF bit of the last
 * real block.
 *
 * ## Out of line (a side buffer, where user overflows cannot reach it)
 *
 * Two bitmaps over the heap's granules (granule g is the 8 bytes at dataStart + 8g), in one
 * buffer, interleaved so that both bits of a granule are in neighbouring words:
 *
 *     word 2k      live bits of granules 32k … 32k + 31: set at the pointer of every live block
 *     word 2k + 1  start bits of the same granules: set at the pointer of every block (live,
 *                  free, or held by the front end) and at END, the sentinel's "pointer"
 *
 * The live map makes every pointer check exact and O(1): a pointer that is not the start of
 * a live block (never handed out, interior, freed) is rejected before any header is read or
 * written. The start map checks the in-band size words before they are trusted: a block of
 * size s at pointer p is whole only if the next start bit after p's is p + s's. A write past
 * a block that changed its neighbour's size word is caught there, at the call that reads it.
 *
 * A handle that owns its heap alone (the front end's condition) also keeps a summary of the
 * start map, in JS memory: one bit per start word, set exactly when that word is not 0
 * (`summaryWords`). The size check of a block of more than WINDOW_G granules asks whether
 * any start lies in the window after its pointer (blocks.ts); through the summary it reads
 * the window's first and last start words and one or two summary words, instead of 33 start
 * words over four or five cache lines of a map that a large heap keeps out of cache.
 *
 * ## The front end (a side buffer)
 *
 * With `frontEnd` (the Heap's default), a freed block smaller than FRONT_LIMIT whose
 * neighbours are both used goes on a stack for its size instead of back into the lists: the
 * next request of that size takes the top one without searching, splitting or merging
 * (glibc's tcache; mimalloc's free lists per size). A block next to a free one is merged as
 * usual, so the front end never keeps two free blocks from merging when it takes a block.
 * The blocks it holds stay used blocks in the physical layout, clear in the live map (so a
 * second free is a double free) and set in the start map.
 *
 *     stacks (u32): class c (block size 8c, c < FRONT_CLASSES) at c << FRONT_SHIFT:
 *     | count | capacity | block start | block start | … (the last pushed on top)    |
 *
 * A class holds at most its capacity, and all classes together at most BUDGET bytes
 * (FRONT_MIN_BUDGET, or PEAK >> FRONT_BUDGET_SHIFT when larger). They are given back to the
 * lists (merged with their free neighbours) before the heap would grow, before a request
 * would be cut from the end of the heap while they hold more than PEAK >> WILD_FLUSH_SHIFT
 * bytes, and by `reset`.
 */

import { declareHeader } from "../../core/header.js";
import { BLOCK_OVERHEAD, FL_COUNT, GRANULE, GRANULE_LOG2, LIST_COUNT } from "./mapping.js";

export const TLSF_HEADER = declareHeader(
  [],
  ["END", "USED_COUNT", "USED_BYTES", "SLACK", "PEAK", "CLEAN_FROM", "CACHED", "BUDGET"],
);

/** u32 words of metadata after the header: the FL bitmap, the SL bitmaps, the list heads. */
export const META_U32 = 1 + FL_COUNT + LIST_COUNT;
/** Bytes of metadata at the start of the region: the header and the lists. */
export const TLSF_METADATA_BYTES = TLSF_HEADER.bytes + META_U32 * 4;

/** Size-word flags (the low bits of a size word; sizes are multiples of 8). */
export const FREE_BIT = 1;
export const PREV_FREE_BIT = 2;
export const FLAG_BITS = GRANULE - 1;
/** A free block's free-list links: u32 word offsets from its start. */
export const LINK_PREV = 1;
export const LINK_NEXT = 2;

/** The first block's pointer is aligned to this; allocAligned's fast path serves up to it. */
export const FIRST_ALIGN = 16;

/** The block size in a size word (exact for sizes of 2 GiB and more, where `& ~7` is not). */
export function sizeOf(word: number): number {
  return word - (word & FLAG_BITS);
}

/** The word a merge leaves at the start of a freed block it absorbed: free bit + address hash. */
export function tombstone(b: number): number {
  return ((Math.imul(b, 0x9e3779b1) ^ 0x544c5346) & ~FLAG_BITS & 0x7fffffff) | FREE_BIT;
}

// ---- the live and start maps -----------------------------------------------------------------

/**
 * Bytes of the live and start maps for a heap ending at `end` whose blocks start at
 * `dataStart`: two words per 32 granules, through END's granule (the sentinel's start bit).
 */
export function liveMapBytes(dataStart: number, end: number): number {
  const granules = Math.floor(Math.max(0, end - dataStart) / GRANULE) + 1;
  return Math.ceil(granules / 32) * 8 + 8;
}

/**
 * Words of the start map's summary for a map of `mapBytes` bytes: one bit per start word
 * (bit k & 31 of word k >>> 5 is set exactly when start word k is not 0), so a size check
 * reads one summary word where it would read 32 start words spread over four cache lines.
 * Kept only by a handle that owns its heap alone (the front end's condition: not shared,
 * not attached), since another handle's splits and merges would not update it.
 */
export function summaryWords(mapBytes: number): number {
  return Math.ceil(mapBytes / 8 / 32);
}

/** A fixed-length view of both maps (a length-tracking view reloads its length). */
export function liveView(buf: ArrayBuffer | SharedArrayBuffer): Int32Array {
  return new Int32Array(buf, 0, buf.byteLength >>> 2);
}

// ---- the front end ---------------------------------------------------------------------------

/**
 * Block sizes below this are cached: TLSF's exact lists, one per 8 bytes (size-classes.ts's
 * scheme (3, 8, 5) maps sizes below 512 to list size / 8), so a class is a list index
 * (test/strategies/tlsf/layout.test.ts checks it).
 */
export const FRONT_LIMIT = 512;
export const FRONT_CLASSES = FRONT_LIMIT >>> GRANULE_LOG2;
/** log2 of the u32 words per class: count, capacity, and up to 2^FRONT_SHIFT − 2 blocks. */
export const FRONT_SHIFT = 8;
/** The most blocks one class holds. */
export const FRONT_CAPACITY = (1 << FRONT_SHIFT) - 2;
/** BUDGET's floor: the front end may always hold this many bytes. */
export const FRONT_MIN_BUDGET = 65536;
/** BUDGET = PEAK >> this, when larger than the floor. */
export const FRONT_BUDGET_SHIFT = 4;
/** Cutting a block from the heap's end while the front end holds more than PEAK >> this flushes it first. */
export const WILD_FLUSH_SHIFT = 5;

/** The front end's stacks for a heap without a front end: every capacity 0, never written. */
export const NO_FRONT = new Uint32Array(FRONT_CLASSES << FRONT_SHIFT);

/** u32 words of the front end's stacks. */
export const FRONT_WORDS = FRONT_CLASSES << FRONT_SHIFT;

// ---- pages someone else grew -----------------------------------------------------------------

/**
 * The used block that covers pages someone else added to the memory, `[from, to)`
 * (core/memory.ts `foreign`): it starts at the sentinel that ended the heap at `from`
 * rounded down to 8, and ends where the first block start after `to` can go (a block start
 * is 4 past a multiple of 8). It is in no list, in the start map but not in the live map,
 * and not counted in USED_COUNT or USED_BYTES: nothing frees, merges or hands out its
 * bytes, and only its size word, memkit's own, is written.
 */
export function holeBlock(from: number, to: number): { readonly b: number; readonly size: number } {
  const b = from - (from & 7) - 4;
  return { b, size: to + ((8 - (to & 7)) & 7) + 4 - b };
}

/**
 * The free blocks of an empty heap from `first` to `end` laid out afresh, as `[start, size]`:
 * one before each block over someone else's pages (`holeBlock`) that starts below the
 * sentinel, and one after the last. `initialise` lays them out; `stats()` of a heap whose
 * blocks are all free or held counts them (the front end gives its blocks back before the
 * heap would grow).
 */
export function freshFreeBlocks(
  first: number,
  end: number,
  foreign: readonly (readonly [number, number])[],
): [start: number, size: number][] {
  const blocks: [number, number][] = [];
  let b = first;
  for (const [from, to] of foreign) {
    const hole = holeBlock(from, to);
    if (hole.b >= end - BLOCK_OVERHEAD) break;
    blocks.push([b, hole.b - b]);
    b = hole.b + hole.size;
  }
  blocks.push([b, end - BLOCK_OVERHEAD - b]);
  return blocks;
}

/**
 * Bytes of the blocks over `foreign`'s ranges (`holeBlock`) in a heap ending at `end`: a
 * range at or past the sentinel (in the region's last, unaligned bytes) has no block.
 */
export function holeBytes(foreign: readonly (readonly [number, number])[], end: number): number {
  let n = 0;
  for (const [from, to] of foreign) {
    const hole = holeBlock(from, to);
    if (hole.b < end - 4) n += hole.size;
  }
  return n;
}
