/**
 * SlabAllocator's invariant walker (`check()`, after the parent's own check).
 * O(page table + pages × blocks + large blocks).
 *
 * Classes: the handle's class table (sizes, page geometry, divisors) is `classInfo`'s.
 * Every page of class c (on its partial or empty list, or full and on none): 16-aligned,
 * inside the memory, tag PAGE_TAG + c, LIST naming its list, PREV the previous page (a full
 * page: PREV and NEXT 0); LIVE ≤ CARVED ≤ capacity; partial LIVE < cap (LIVE = 0 only for
 * the class's only partial page), full LIVE = cap, empty LIVE = 0; bitmap popcount = LIVE
 * and no bit at or above CARVED; the free list holds exactly the CARVED − LIVE carved free
 * blocks, each once, bits clear. The lists and the full pages hold the class's #pages; the
 * empty list holds #empty; empty pages kept (the empty list and an empty current page)
 * ≤ EMPTY_LIMIT.
 * Page table: every entry names a page (live, with a valid tag, or given back) that meets
 * its slot the way the entry says (LO covers the slot's first byte, HI starts inside it);
 * each live page's first byte and the slot starts inside it lead to it; the table names as
 * many live pages as the classes hold.
 * Large list: each header passes CHECK, is live, links back; count and bytes match.
 * IN_USE and PAGES equal the sums; PEAK ≥ IN_USE.
 */

import { popcount } from "../../core/bits.js";
import { COMMON_SLOTS } from "../../core/header.js";
import { DEFAULT_ALIGN } from "../../core/validate.js";
import {
  BITMAP_WORD_BITS,
  CLASS_INFO_SHIFT,
  classInfo,
  K_CAP,
  K_FIRST,
  K_KIND,
  K_LENGTH,
  K_SIZE,
  PAGE_ALIGN,
} from "./classes.js";
import {
  C_N_EMPTY,
  C_PAGES,
  CLASS_RECORD_SHIFT,
  CLASSES,
  E_HI,
  E_LO,
  EMPTY_LIMIT,
  ENTRY_FLAGS,
  ENTRY_WORDS,
  headerOverwritten,
  L_BASE,
  L_CHECK,
  L_NEXT,
  L_PREV,
  L_PSIZE,
  L_STATE,
  LARGE_HEADER_BYTES,
  LARGE_LIVE_TAG,
  LIST_EMPTY,
  LIST_FULL,
  LIST_NAMES,
  LIST_PARTIAL,
  largeCheck,
  listHead,
  META_AT,
  MIN_PAGE,
  P_BITMAP,
  P_CARVED,
  P_FREE,
  P_LIST,
  P_LIVE,
  P_NEXT,
  P_PREV,
  P_TAG,
  PAGE_SIZE,
  PAGE_TAG,
  RELEASED,
  SLAB_HEADER,
  TABLE_FIRST,
  TABLE_SHIFT,
  W_IN_USE,
  W_LARGE_BYTES,
  W_LARGE_HEAD,
  W_LARGE_LIVE,
  W_PAGES,
  W_PEAK,
  W_RELEASED,
  W_TABLE,
  W_TABLE_LEN,
} from "./layout.js";
import { entryPage, releasedKind, slotEntry } from "./table.js";

/** The parts of a slab the walker reads. */
export interface SlabState {
  readonly slots: Float64Array;
  readonly slot0: number;
  readonly u32: Uint32Array;
  readonly w0: number;
  readonly metaAt: number;
  readonly memoryStart: number;
  readonly memoryEnd: number;
  readonly pageSize: number;
  readonly minPageSize: number;
  readonly classCount: number;
  readonly tableFirst: number;
  readonly tableShift: number;
  readonly recBase: number;
  readonly info: Int32Array;
  readonly lengthOfKind: Uint32Array;
}

type Corrupt = (what: string) => never;

/** Walks the slab `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkSlab(t: SlabState, corrupt: Corrupt): void {
  const slots = t.slots;
  const slot0 = t.slot0;
  const u32 = t.u32;
  const w = t.w0;
  for (let s = PAGE_SIZE; s < COMMON_SLOTS + SLAB_HEADER.slotCount; s++) {
    if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
      corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
    }
  }
  if (
    slots[slot0 + META_AT] !== t.metaAt ||
    slots[slot0 + PAGE_SIZE] !== t.pageSize ||
    slots[slot0 + MIN_PAGE] !== t.minPageSize ||
    slots[slot0 + CLASSES] !== t.classCount ||
    slots[slot0 + TABLE_FIRST] !== t.tableFirst ||
    slots[slot0 + TABLE_SHIFT] !== t.tableShift
  ) {
    corrupt(
      `configuration slots (meta ${slots[slot0 + META_AT]}, page size ${slots[slot0 + PAGE_SIZE]}, ` +
        `classes ${slots[slot0 + CLASSES]}, table ${slots[slot0 + TABLE_FIRST]} << ${slots[slot0 + TABLE_SHIFT]}) changed`,
    );
  }
  const info = classInfo(t.classCount, t.minPageSize, t.pageSize);
  for (let k = 0; k < info.length; k++) {
    if (t.info[k] !== info[k]) {
      corrupt(
        `class ${k >>> CLASS_INFO_SHIFT}: the handle's class table holds ${t.info[k]} at ${k}, ` +
          `not ${info[k]}`,
      );
    }
  }
  for (let c = 0; c < t.classCount; c++) {
    const k = c << CLASS_INFO_SHIFT;
    if (t.lengthOfKind[info[k + K_KIND]] !== info[k + K_LENGTH]) {
      corrupt(`class ${c}: page length ${info[k + K_LENGTH]} is not its kind's`);
    }
  }
  const full = new Uint32Array(t.classCount);
  const tablePages = checkTable(t, corrupt, full);
  let inUse = 0;
  let pages = 0;
  for (let c = 0; c < t.classCount; c++) {
    const rec = t.recBase + (c << CLASS_RECORD_SHIFT);
    const size = t.info[(c << CLASS_INFO_SHIFT) + K_SIZE];
    const classPages = u32[rec + C_PAGES];
    let classLive = full[c] * t.info[(c << CLASS_INFO_SHIFT) + K_CAP];
    let listed = 0;
    let idle = 0;
    for (const tag of [LIST_PARTIAL, LIST_EMPTY]) {
      let n = 0;
      let prev = 0;
      let page = u32[rec + listHead(tag)];
      while (page !== 0) {
        if (++n > classPages) {
          corrupt(
            `class ${size}: ${LIST_NAMES[tag]} list is longer than the class's ${classPages} pages (cycle at page ${page}?)`,
          );
        }
        const pageLive = checkPage(t, corrupt, c, page, prev, tag);
        if (tag === LIST_PARTIAL && pageLive === 0) {
          if (prev !== 0 || u32[(page >>> 2) + P_NEXT] !== 0) {
            corrupt(`class ${size}: empty page ${page} is not the only partial page`);
          }
          idle++;
        }
        classLive += pageLive;
        prev = page;
        page = u32[(page >>> 2) + P_NEXT];
      }
      if (tag === LIST_EMPTY && n !== u32[rec + C_N_EMPTY]) {
        corrupt(`class ${size}: empty list has ${n} pages, count says ${u32[rec + C_N_EMPTY]}`);
      }
      listed += n;
    }
    if (listed + full[c] !== classPages) {
      corrupt(
        `class ${size}: ${listed} pages on lists and ${full[c]} full ones, count says ${classPages}`,
      );
    }
    pages += classPages;
    idle += u32[rec + C_N_EMPTY];
    if (idle > slots[slot0 + EMPTY_LIMIT]) {
      corrupt(`class ${size}: ${idle} empty pages kept, limit ${slots[slot0 + EMPTY_LIMIT]}`);
    }
    inUse += classLive * size;
  }
  if (pages !== tablePages) {
    corrupt(`the lists hold ${pages} pages, the page table names ${tablePages}`);
  }
  const [largeLive, largeBytes] = checkLargeList(t, corrupt);
  if (largeLive !== u32[w + W_LARGE_LIVE]) {
    corrupt(`LARGE_LIVE is ${u32[w + W_LARGE_LIVE]}, the large list holds ${largeLive}`);
  }
  if (inUse + largeBytes !== u32[w + W_IN_USE]) {
    corrupt(`IN_USE is ${u32[w + W_IN_USE]}, blocks hold ${inUse} + ${largeBytes} bytes`);
  }
  if (pages !== u32[w + W_PAGES]) corrupt(`PAGES is ${u32[w + W_PAGES]}, lists hold ${pages}`);
  if (u32[w + W_PEAK] < u32[w + W_IN_USE]) corrupt(`PEAK ${u32[w + W_PEAK]} is below IN_USE`);
}

/**
 * Checks every entry of the page table against the page it names; returns the number of
 * live pages it names (each counted at the entry of its first byte). Full pages, on no
 * list, are checked here and counted by class in `full`.
 */
function checkTable(t: SlabState, corrupt: Corrupt, full: Uint32Array): number {
  const u32 = t.u32;
  const at = u32[t.w0 + W_TABLE];
  const len = u32[t.w0 + W_TABLE_LEN];
  const G = 2 ** t.tableShift;
  if (!(len >= 1 && at * 4 >= t.memoryStart && (at + len * ENTRY_WORDS) * 4 <= t.memoryEnd)) {
    corrupt(`page table [${at * 4}, ${(at + len * ENTRY_WORDS) * 4}) is outside the memory`);
  }
  let pages = 0;
  let given = 0;
  for (let i = 0; i < len; i++) {
    const slot = (t.tableFirst + i) * G;
    for (let k = 0; k < ENTRY_WORDS; k++) {
      const word = u32[at + i * ENTRY_WORDS + k];
      if (word === 0) continue;
      const page = entryPage(word);
      const released = (word & RELEASED) !== 0;
      const where = `page table entry ${i} (${k === E_LO ? "LO" : "HI"}, slot ${slot}) names ${word}`;
      if ((word & ENTRY_FLAGS) !== 0 && !released) corrupt(`${where}: flags without RELEASED`);
      if (!(page >= t.memoryStart && page < t.memoryEnd)) corrupt(`${where}: outside the memory`);
      let length: number;
      if (released) {
        length = t.lengthOfKind[releasedKind(word)];
      } else {
        const c = (u32[page >>> 2] - PAGE_TAG) >>> 0;
        if (c >= t.classCount) {
          corrupt(`${where}: ${headerOverwritten(page, page >>> 2, u32)}`);
        }
        length = t.info[(c << CLASS_INFO_SHIFT) + K_LENGTH];
      }
      const fits =
        page + length <= t.memoryEnd &&
        (k === E_LO ? page <= slot && slot < page + length : page > slot && page < slot + G);
      if (!fits) corrupt(`${where}: a ${length}-byte page there does not meet the slot that way`);
      if (!(k === E_HI || page === slot)) continue;
      if (released) {
        given++;
        continue;
      }
      // The entry of a live page's first byte: the page's first byte and every slot start
      // inside it must lead to it.
      pages++;
      for (let p = page; p < page + length; p = (Math.floor(p / G) + 1) * G) {
        const probe = slotEntry(u32, at, len, t.tableFirst, t.tableShift, p);
        if (probe !== page) corrupt(`page ${page}: the table names ${probe} at ${p}`);
      }
      const c = u32[page >>> 2] - PAGE_TAG;
      if (u32[(page >>> 2) + P_LIST] === LIST_FULL) {
        checkPage(t, corrupt, c, page, 0, LIST_FULL);
        if (u32[(page >>> 2) + P_NEXT] !== 0) corrupt(`full page ${page}: NEXT is not 0`);
        full[c]++;
      }
    }
  }
  if (given !== u32[t.w0 + W_RELEASED]) {
    corrupt(
      `the page table remembers ${given} pages given back, RELEASED says ${u32[t.w0 + W_RELEASED]}`,
    );
  }
  return pages;
}

/** Checks one page on list `tag` of class `c`; returns its live blocks. */
function checkPage(
  t: SlabState,
  corrupt: Corrupt,
  c: number,
  page: number,
  prev: number,
  tag: number,
): number {
  const u32 = t.u32;
  const size = t.info[(c << CLASS_INFO_SHIFT) + K_SIZE];
  const cap = t.info[(c << CLASS_INFO_SHIFT) + K_CAP];
  const where = `class ${size}, ${LIST_NAMES[tag]} page ${page}`;
  if (
    page % PAGE_ALIGN !== 0 ||
    page < t.memoryStart ||
    page + t.info[(c << CLASS_INFO_SHIFT) + K_LENGTH] > t.memoryEnd
  ) {
    corrupt(`${where}: not a 16-aligned page inside the memory`);
  }
  const entry = slotEntry(
    u32,
    u32[t.w0 + W_TABLE],
    u32[t.w0 + W_TABLE_LEN],
    t.tableFirst,
    t.tableShift,
    page,
  );
  if (entry !== page) corrupt(`${where}: the page table names ${entry} there`);
  const h = page >>> 2;
  if (u32[h + P_TAG] !== PAGE_TAG + c) {
    corrupt(headerOverwritten(page, h, u32));
  }
  if (u32[h + P_LIST] !== tag) corrupt(`${where}: header names list ${u32[h + P_LIST]}`);
  if (u32[h + P_PREV] !== prev) corrupt(`${where}: PREV is ${u32[h + P_PREV]}, not ${prev}`);
  const live = u32[h + P_LIVE];
  const carved = u32[h + P_CARVED];
  if (!(live <= carved && carved <= cap)) {
    corrupt(`${where}: LIVE ${live}, CARVED ${carved}, capacity ${cap} out of order`);
  }
  const ok = tag === LIST_PARTIAL ? live < cap : tag === LIST_FULL ? live === cap : live === 0;
  if (!ok) corrupt(`${where}: ${live} of ${cap} blocks live does not fit this list`);
  let bits = 0;
  const words = Math.ceil(cap / BITMAP_WORD_BITS);
  for (let k = 0; k < words; k++) {
    const word = u32[h + P_BITMAP + k];
    bits += popcount(word);
    // Bits of blocks at or above CARVED must be clear: no such block was handed out.
    const valid = Math.min(BITMAP_WORD_BITS, Math.max(0, carved - k * BITMAP_WORD_BITS));
    const above = valid === BITMAP_WORD_BITS ? 0 : valid === 0 ? word : word >>> valid;
    if (above !== 0) {
      corrupt(`${where}: bitmap word ${k} (${word}) marks blocks at or above CARVED ${carved}`);
    }
  }
  if (bits !== live) corrupt(`${where}: bitmap has ${bits} live bits, LIVE is ${live}`);
  const seen = new Uint8Array(carved);
  let n = 0;
  let next = u32[h + P_FREE];
  while (next !== 0) {
    const bi = next - 1;
    if (bi >= carved) corrupt(`${where}: free list reaches block ${bi}, not a carved block`);
    if ((u32[h + P_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) !== 0) {
      corrupt(`${where}: free list holds live block ${bi}`);
    }
    if (seen[bi] !== 0 || ++n > carved - live) {
      corrupt(`${where}: free list has a cycle or too many blocks (at block ${bi})`);
    }
    seen[bi] = 1;
    next = u32[(page + t.info[(c << CLASS_INFO_SHIFT) + K_FIRST] + bi * size) >>> 2];
  }
  if (n !== carved - live) {
    corrupt(`${where}: free list holds ${n} blocks, ${carved - live} carved blocks are free`);
  }
  return live;
}

/** Walks the live large blocks; returns [count, usable bytes]. */
function checkLargeList(t: SlabState, corrupt: Corrupt): [number, number] {
  const u32 = t.u32;
  const count = u32[t.w0 + W_LARGE_LIVE];
  let n = 0;
  let bytes = 0;
  let prev = 0;
  let ptr = u32[t.w0 + W_LARGE_HEAD];
  while (ptr !== 0) {
    if (++n > count) corrupt(`large-block list is longer than LARGE_LIVE ${count} (cycle?)`);
    if (
      !(ptr % DEFAULT_ALIGN === 0 && ptr - LARGE_HEADER_BYTES >= t.memoryStart && ptr < t.memoryEnd)
    ) {
      corrupt(`large-block list reaches ${ptr}, outside the memory`);
    }
    const hd = (ptr - LARGE_HEADER_BYTES) >>> 2;
    const base = u32[hd + L_BASE];
    const psize = u32[hd + L_PSIZE];
    if (
      u32[hd + L_CHECK] !== largeCheck(ptr, base, psize) ||
      u32[hd + L_STATE] !== LARGE_LIVE_TAG
    ) {
      corrupt(`large block ${ptr}: header fails its check or is not live`);
    }
    if (
      !(base >= t.memoryStart && ptr - base >= LARGE_HEADER_BYTES && base + psize <= t.memoryEnd)
    ) {
      corrupt(`large block ${ptr}: parent block [${base}, ${base + psize}) is out of place`);
    }
    if (u32[hd + L_PREV] !== prev)
      corrupt(`large block ${ptr}: PREV ${u32[hd + L_PREV]}, not ${prev}`);
    bytes += base + psize - ptr;
    prev = ptr;
    ptr = u32[hd + L_NEXT];
  }
  if (n !== count) corrupt(`large-block list has ${n} blocks, LARGE_LIVE says ${count}`);
  if (bytes !== u32[t.w0 + W_LARGE_BYTES]) {
    corrupt(`large blocks hold ${bytes} bytes, LARGE_BYTES says ${u32[t.w0 + W_LARGE_BYTES]}`);
  }
  return [n, bytes];
}
