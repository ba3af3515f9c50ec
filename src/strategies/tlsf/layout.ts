/**
 * TLSF's bytes: the header, the block fields and flags, and the metadata after the header.
 *
 *     region.start (8-aligned)
 *     | common header (8 float64 slots) | TLSF slots 8–12 (float64)                     |
 *     | FL bitmap: u32 | SL bitmaps: FL_COUNT × u32 | list heads: FL_COUNT × SL_COUNT × u32 |
 *     dataStart (8-aligned)
 *     | pad (4 or 12) | block | block | … | block | sentinel (4) |  END (8-aligned)
 *                     ^ FIRST: its pointer FIRST + 4 is 16-aligned  ^ END − 4
 *
 *     slot  8 END         heap end; the sentinel's size word is at END − 4
 *     slot  9 LIVE        live blocks
 *     slot 10 USED_BYTES  Σ sizes of used blocks (size words included); free bytes follow:
 *                         END − 4 − FIRST − USED_BYTES
 *     slot 11 PEAK        highest in-use bytes (USED_BYTES − 4 × LIVE) since creation or reset
 *     slot 12 CLEAN_FROM  bytes at or above were never inside a freed block (allocZeroed)
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
 * Out of line (a side buffer, where user overflows cannot reach it): the *live map*, one bit
 * per 8 bytes of heap, set exactly at the user pointer of every live block. It makes every
 * pointer check exact and O(1): a pointer that is not the start of a live block (never
 * handed out, interior, freed) is rejected before any header is read or written.
 */

import { alignUp } from "../../core/bits.js";
import { declareHeader } from "../../core/header.js";
import { FL_COUNT, GRANULE, LIST_COUNT } from "./mapping.js";

export const TLSF_HEADER = declareHeader(["END", "LIVE", "USED_BYTES", "PEAK", "CLEAN_FROM"]);

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

/** The word a merge leaves at the start of a freed block it absorbed: free bit + address hash. */
export function tombstone(b: number): number {
  return ((Math.imul(b, 0x9e3779b1) ^ 0x544c5346) & ~FLAG_BITS & 0x7fffffff) | FREE_BIT;
}

/** Bytes of live map for a heap ending at `end` whose blocks start at `dataStart`. */
export function liveMapBytes(dataStart: number, end: number): number {
  const bits = Math.max(0, end - dataStart) / GRANULE;
  return alignUp(Math.ceil(bits / 8), 8) + 8;
}

/** A fixed-length view of the whole live map (a length-tracking view reloads its length). */
export function liveView(buf: ArrayBuffer | SharedArrayBuffer): Int32Array {
  return new Int32Array(buf, 0, buf.byteLength >>> 2);
}
