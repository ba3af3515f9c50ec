/**
 * A class's page lists (partial and empty: layout.ts), doubly linked through the pages'
 * headers (NEXT, PREV, LIST), with their heads (and the empty list's count) in the class
 * record at u32 index `rec`.
 * Pure functions over the memory's words; the kernel reports broken links as corruption.
 */

import * as layout from "./layout.js";
import { listHead } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { C_N_EMPTY, LIST_EMPTY, LIST_PARTIAL, P_LIST, P_NEXT, P_PREV } = layout;

/** Puts `page` (header at u32 index `h`) first on list `tag` of the class at `rec`. */
export function pushPage(
  u32: Uint32Array,
  rec: number,
  page: number,
  h: number,
  tag: number,
): void {
  const head = u32[rec + listHead(tag)];
  u32[h + P_NEXT] = head;
  u32[h + P_PREV] = 0;
  u32[h + P_LIST] = tag;
  if (head !== 0) u32[(head >>> 2) + P_PREV] = page;
  u32[rec + listHead(tag)] = page;
  if (tag === LIST_EMPTY) u32[rec + C_N_EMPTY]++;
}

/**
 * Takes `page` off the list its header names. Returns false, changing nothing, when the
 * list tag is not a list or its neighbours (or the list head) do not point back at it.
 */
export function unlinkPage(u32: Uint32Array, rec: number, page: number, h: number): boolean {
  const tag = u32[h + P_LIST];
  const prev = u32[h + P_PREV];
  const next = u32[h + P_NEXT];
  const ph = prev >>> 2;
  const nh = next >>> 2;
  if (
    !(tag === LIST_PARTIAL || tag === LIST_EMPTY) ||
    (prev === 0 ? u32[rec + listHead(tag)] !== page : u32[ph + P_NEXT] !== page) ||
    (next !== 0 && u32[nh + P_PREV] !== page)
  ) {
    return false;
  }
  if (prev === 0) u32[rec + listHead(tag)] = next;
  else u32[ph + P_NEXT] = next;
  if (next !== 0) u32[nh + P_PREV] = prev;
  if (tag === LIST_EMPTY) u32[rec + C_N_EMPTY]--;
  return true;
}
