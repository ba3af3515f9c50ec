/**
 * The slab's page table (drawn in layout.ts): which page, if any, holds an address, for
 * pages at any 16-aligned address. Entry i covers slot i, the G = 2^shift bytes
 * [(first + i) × G, (first + i + 1) × G); it holds two u32: LO, the page whose bytes include
 * the slot's first byte, and HI, the page starting inside the slot after its first byte.
 * Every page is at least G bytes long, so no slot meets two pages of one kind.
 *
 *     slot:        |        i−1        |         i         |        i+1        |
 *     pages:   …AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|BBBBBBBBBBBBBBBBBBBBBBBBBBBBB…
 *     entry i:  LO = A (A covers the slot's first byte), HI = B (B starts inside it)
 *     entry i+1: LO = B
 *
 * An entry word is a live page's address, `page | kind << KIND_SHIFT | RELEASED` for a page
 * given back to the parent, or 0. Pure functions over the table's words (`u32[at + 2i]`,
 * `u32[at + 2i + 1]`), shared by the kernel and the walker (check.ts); the hot lookup of
 * `dealloc` is `slotEntry` written out.
 */

import { E_HI, E_LO, ENTRY_FLAGS, ENTRY_WORDS, KIND_MASK, KIND_SHIFT, RELEASED } from "./layout.js";

/**
 * The entry word of the page that may hold `ptr`: HI when it starts at or below ptr, else
 * LO (which starts at or below ptr but may end before it: the caller checks its length),
 * or 0 when `ptr` is beyond the table.
 */
export function slotEntry(
  u32: Uint32Array,
  at: number,
  len: number,
  first: number,
  shift: number,
  ptr: number,
): number {
  const i = (ptr >>> shift) - first;
  if (i < 0 || i >= len) return 0;
  const e = at + i * ENTRY_WORDS;
  const hi = u32[e + E_HI];
  return hi !== 0 && ptr >= hi - (hi & ENTRY_FLAGS) ? hi : u32[e + E_LO];
}

/** The address of the page an entry word names. */
export function entryPage(word: number): number {
  return word - (word & ENTRY_FLAGS);
}

/** The entry word of a page of page size `minPage << kind` given back to the parent. */
export function releasedEntry(page: number, kind: number): number {
  return page | (kind << KIND_SHIFT) | RELEASED;
}

/** The page size kind a given-back page's entry word carries. */
export function releasedKind(word: number): number {
  return (word >>> KIND_SHIFT) & KIND_MASK;
}

/** Records `word` in every entry the page [page, page + bytes) meets (0 clears them). */
export function setPageEntries(
  u32: Uint32Array,
  at: number,
  first: number,
  shift: number,
  page: number,
  bytes: number,
  word: number,
): void {
  const i0 = (page >>> shift) - first;
  const i1 = ((page + bytes - 1) >>> shift) - first;
  const startsSlot = (page >>> shift) * 2 ** shift === page;
  u32[at + i0 * ENTRY_WORDS + (startsSlot ? E_LO : E_HI)] = word;
  for (let i = i0 + 1; i <= i1; i++) u32[at + i * ENTRY_WORDS + E_LO] = word;
}

/**
 * The slab was just handed [base, base + bytes) by the parent: pages of its own given back
 * there earlier are gone, so their entries are cleared (pointers into them are no longer
 * stale blocks of the slab). `lengthOfKind[k]` is the page length of kind k. Returns the
 * number of pages forgotten. O(bytes / G + page length / G).
 */
export function forgetReleasedPages(
  u32: Uint32Array,
  at: number,
  len: number,
  first: number,
  shift: number,
  lengthOfKind: Uint32Array,
  base: number,
  bytes: number,
): number {
  let forgotten = 0;
  const i0 = Math.max(0, (base >>> shift) - first);
  const i1 = Math.min(len - 1, ((base + bytes - 1) >>> shift) - first);
  for (let i = i0; i <= i1; i++) {
    for (let k = 0; k < ENTRY_WORDS; k++) {
      const word = u32[at + i * ENTRY_WORDS + k];
      if ((word & RELEASED) === 0) continue;
      const page = entryPage(word);
      const length = lengthOfKind[releasedKind(word)];
      if (page < base + bytes && page + length > base) {
        setPageEntries(u32, at, first, shift, page, length, 0);
        forgotten++;
      }
    }
  }
  return forgotten;
}

/**
 * The pages given back that the table [at, at + 2 len) remembers, each counted at the entry
 * of its first byte (a page given back may run past the table's end). O(len).
 */
export function rememberedPages(
  u32: Uint32Array,
  at: number,
  len: number,
  first: number,
  shift: number,
): number {
  let n = 0;
  for (let i = 0; i < len; i++) {
    const hi = u32[at + i * ENTRY_WORDS + E_HI];
    if ((hi & RELEASED) !== 0) n++;
    const lo = u32[at + i * ENTRY_WORDS + E_LO];
    if ((lo & RELEASED) !== 0 && entryPage(lo) === (first + i) * 2 ** shift) n++;
  }
  return n;
}
