/**
 * FreeListAllocator's bytes and the pure arithmetic over them: blocks, flags, the treap's
 * node fields, the block-start bitmap. The strategy and its costs: allocator.ts.
 *
 * ## How the header shrinks from 16 bytes to 4
 * - The size word is all a used block keeps: sizes are multiples of 8, so its low three bits
 *   are free for flags: USED (this block) and PREV_USED (the block before it).
 * - Only FREE blocks carry a footer (a copy of the size at their last word). Merging with the
 *   left neighbour needs its start only when it is free; PREV_USED says whether it is, so a
 *   used block needs no footer (the classic "prev-in-use bit").
 * - The free-set links live inside the free blocks' own payload, where nothing else is.
 *
 * ## Why a tree, not a linked list
 * First fit over an address-ordered free list keeps fragmentation lowest (Wilson et al.,
 * "Dynamic Storage Allocation: A Survey and Critical Review", 1995; Johnstone and Wilson,
 * 1998), but with a list both the search and the address-ordered insert on free walk the
 * list. Replaying `python-json` (193 k live blocks) with a list took 8,000 list steps per
 * alloc and 2,700 per free: 7.6 minutes. So the free blocks are kept in a *treap keyed by
 * address*, each node also holding the largest block size in its subtree (Stephenson's
 * "fast fits", 1983). The policy is exactly address-ordered first fit — the lowest-addressed
 * free block that fits — but found in O(log n): descend left whenever the left subtree's
 * largest block fits. Inserting a freed block in address order is O(log n) too. The same
 * replay now takes 0.25 s: 130 ns per call on a fixed 64 MiB heap, about TLSF's speed on
 * all three traces (on random churn, WORKLOADS.md W1, TLSF is 2–4 times faster).
 * The minimum block grows from the 16 bytes two list links would need to 24 (three tree
 * links and MAXSUB); best and next fit use the same tree.
 *
 * A node's priority is a hash (murmur3 fmix32, a bijection) of the block's END address, not
 * its start: carving an allocation off the front of a free block, or merging a freed block
 * into the free block on its right, keeps the end, so the node is renamed in place with no
 * rotation — the two most frequent operations.
 *
 * ## Memory picture
 *
 *     region.start (rounded up to 8)
 *     | header: 8 common + 9 slots | 4 | block | block | … | block | S | bitmap | slack |
 *     ^ metaAt                      ^ dataStart                       ^ AREA_END
 *                                        ^ ORG = dataStart + 4 (first block start)
 *
 *     slot  8 ROOT         block start of the tree root, 0 when no block is free
 *     slot  9 AREA_END     blocks tile [ORG, AREA_END) exactly; the end sentinel S (one
 *                          size word: size 0, USED) sits at AREA_END, the bitmap after it
 *     slot 10 END          end of the bytes this heap manages (8-aligned, ≤ memory end)
 *     slot 11 ROVER        next fit: the address the next search starts at
 *     slot 12 LIVE         live blocks
 *     slot 13 IN_USE       Σ usable bytes of live blocks (block size − 4)
 *     slot 14 FREE_BYTES   Σ sizes of free blocks (size words included)
 *     slot 15 FREE_BLOCKS  number of free blocks (= nodes in the tree)
 *     slot 16 PEAK         highest IN_USE since creation or reset
 *     CONFIG (slot 6)      the fit policy: 0 first, 1 best, 2 next
 *
 *     A block starts at an address ≡ 4 (mod 8) so its payload (start + 4) is 8-aligned; its
 *     size is a multiple of 8, at least MIN_BLOCK = 24.
 *
 *     size word (u32, first word of every block; also the sentinel):
 *     bit: 31                                    3    2       1          0
 *         | size (a multiple of 8, < 2^32)       | 0 | PREV_USED | USED |
 *
 *     used block (4 bytes of overhead):
 *     | size word | payload: size − 4 usable bytes, 8-aligned ....................... |
 *     +0          +4                                                             +size
 *
 *     free block (a tree node; 24 bytes at least):
 *     | size word | LEFT | RIGHT | PARENT | MAXSUB | (stale bytes) ... | FOOTER = size |
 *     +0          +4     +8      +12      +16      +20                 +size−4
 *     LEFT/RIGHT/PARENT: block starts of tree neighbours (0 = none); MAXSUB: the largest
 *     block size in this node's subtree.
 *
 *     bitmap (u32 words at AREA_END + 4): bit (b − ORG) / 8 is set exactly when a block
 *     (used or free) starts at b; 8 bytes of bitmap per 512 bytes of block area (1/64).
 *     bit:  31                                     1           0
 *         | ORG + 8·(32w+31) | …                  | ORG+8(32w+1) | ORG + 8·32w |
 *
 * The bitmap sits at the top and moves up when the memory grows: the new space, the old
 * bitmap's bytes and the last block (if free) become one free block, and a larger bitmap is
 * written at the new top. It is in-band, not in `extraMetaBytes`, because it must grow
 * with the heap, and a bitmap sized up front for a 4 GiB maximum would cost 64 MiB.
 *
 * ## Alignment
 * Payloads are 8-aligned. For a larger alignment the block starts at the first aligned
 * payload in the free block whose gap in front is 0 or at least 24 bytes (the gap becomes a
 * free block; an 8- or 16-byte gap could not), so at most align + 16 bytes are skipped.
 * Requests aligned to 16 or more get block sizes rounded to 16, not 8, as glibc's chunks
 * are: a run of 16-aligned requests (every request in the three real traces) then keeps
 * every block boundary 16-aligned and never needs a gap. A free block can be large enough
 * and still not fit because of its gap, so an aligned search tries ALIGN_TRIES (8) such
 * candidates in address order, then takes the next block large enough for any gap
 * (size ≥ need + align + 16): first fit up to the 8th miss, and O(log n). Only when there
 * is no such block (near out of memory) does it try every remaining candidate, so an
 * aligned request fails only when no free block can hold it.
 *
 * ## Overhead
 * Per used block: the 4-byte size word + rounding to 8 (minimum block 24 bytes, so `alloc(0)`
 * … `alloc(20)` take 24); + 1 bit of bitmap per 8 bytes of heap (1.6%). Per heap: the header
 * (136 bytes), 4 bytes before the first block, the 4-byte sentinel, the bitmap.
 */

import type { AllocatorOptions } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { declareHeader } from "../../core/header.js";

// ---- header slots (float64) ------------------------------------------------------------------

export const FREE_LIST_HEADER = declareHeader([
  "ROOT",
  "AREA_END",
  "END",
  "ROVER",
  "LIVE",
  "IN_USE",
  "FREE_BYTES",
  "FREE_BLOCKS",
  "PEAK",
]);
export const { ROOT, AREA_END, END, ROVER, LIVE, IN_USE, FREE_BYTES, FREE_BLOCKS, PEAK } =
  FREE_LIST_HEADER.slot;

// ---- blocks ------------------------------------------------------------------------------------

/** Bytes of a u32 word; every field of a block is one. */
export const WORD = 4;
/** Block sizes and payload addresses are multiples of this. */
export const GRANULE = 8;
/** The size word in front of every block. */
export const SIZE_WORD_BYTES = WORD;
/** Size-word flags, in the low bits a multiple of GRANULE leaves free. */
export const USED = 1;
export const PREV_USED = 2;
export const FLAG_BITS = GRANULE - 1;

/** Word offsets, from a free block's start, of its tree fields. */
export const F_LEFT = 1;
export const F_RIGHT = 2;
export const F_PARENT = 3;
export const F_MAXSUB = 4;
export const FOOTER_BYTES = WORD;
/** The smallest block: a size word, four tree fields and a footer, rounded to GRANULE. */
export const MIN_BLOCK = alignUp((F_MAXSUB + 1) * WORD + FOOTER_BYTES, GRANULE);
/** The largest request that still gets a MIN_BLOCK. */
export const MIN_BLOCK_PAYLOAD = MIN_BLOCK - SIZE_WORD_BYTES;
/** Block sizes for alignments ≥ 16 are multiples of this (as glibc's chunks). */
export const WIDE_GRANULE = 16;
/**
 * The largest alignment gap in front of a block: the gap is 0 or at least MIN_BLOCK (it
 * becomes a free block), so payloadIn moves at most MIN_BLOCK + align − 8 bytes.
 */
export const maxGap = (align: number): number => MIN_BLOCK + align - GRANULE;
/** Candidates an aligned search tries before it asks for a block that surely fits. */
export const ALIGN_TRIES = 8;

// ---- bitmap ------------------------------------------------------------------------------------

export const BITS_PER_WORD = 32;
/** The bitmap grows in 8-byte chunks (it is followed by 8-aligned bytes). */
export const BITMAP_CHUNK_BYTES = 8;
/** Bytes of block area one bitmap chunk covers: one bit per GRANULE. */
export const BITMAP_CHUNK_SPAN = BITMAP_CHUNK_BYTES * 8 * GRANULE; // 512

/** Bytes of bitmap for `area` bytes of blocks. */
export function bitmapBytes(area: number): number {
  return BITMAP_CHUNK_BYTES * Math.ceil(area / BITMAP_CHUNK_SPAN);
}

/**
 * The largest block area A (0 or a multiple of 8 ≥ MIN_BLOCK) with A + bitmapBytes(A) ≤ room
 * (room a multiple of 8): whole chunks of 512 + 8 bytes, then what is left minus one chunk.
 */
export function areaFor(room: number): number {
  const whole = Math.floor(room / (BITMAP_CHUNK_SPAN + BITMAP_CHUNK_BYTES));
  const rest = room - whole * (BITMAP_CHUNK_SPAN + BITMAP_CHUNK_BYTES);
  const area =
    whole * BITMAP_CHUNK_SPAN + (rest >= 2 * BITMAP_CHUNK_BYTES ? rest - BITMAP_CHUNK_BYTES : 0);
  return area >= MIN_BLOCK ? area : 0;
}

/**
 * The block size that serves `size` bytes at `align` (may exceed 2^32 for huge sizes): a
 * multiple of 8, or of 16 for alignments of 16 and more (see "Alignment" above).
 */
export function blockSizeFor(size: number, align: number): number {
  if (align >= WIDE_GRANULE) {
    return alignUp(Math.max(size + SIZE_WORD_BYTES, MIN_BLOCK), WIDE_GRANULE);
  }
  return size <= MIN_BLOCK_PAYLOAD ? MIN_BLOCK : alignUp(size + SIZE_WORD_BYTES, GRANULE);
}

/** A tree node's priority: murmur3's fmix32 of the block's end (a bijection on u32). */
export function priorityOf(end: number): number {
  let x = end | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

// ---- the allocator ----------------------------------------------------------------------------

/**
 * How a {@link FreeListAllocator} picks a free block: `"first"` (the lowest address that
 * fits: fast, the default), `"best"` (the smallest that fits: least waste) or `"next"` (the
 * first that fits after the last block handed out).
 */
export type FitPolicy = "first" | "best" | "next";
export const FIT_CODES: Record<FitPolicy, number> = { first: 0, best: 1, next: 2 };
export const FIT_FIRST = 0;
export const FIT_BEST = 1;
export const FIT_NEXT = 2;
export const FIT_NAMES: readonly FitPolicy[] = ["first", "best", "next"];

export interface FreeListOptions extends AllocatorOptions {
  /** How a free block is chosen (default "first"; with `attach`, must match the heap's). */
  fit?: FitPolicy;
  /** Grow the memory when no free block fits (default: whenever the memory can grow). */
  grow?: boolean;
}
