/**
 * SlabAllocator's invariant walker (`check()`, after the parent's own check).
 * O(page table + pages × blocks + large blocks).
 *
 * Every page on a list of class c: PAGE_SIZE-aligned, inside the memory, table entry c+1,
 * trailer magic and class right, LIST naming that list, PREV the previous page; LIVE ≤
 * CARVED ≤ capacity; partial 0 < LIVE < cap, full LIVE = cap, empty LIVE = 0; bitmap
 * popcount = LIVE and no bit at or above CARVED; the free list holds exactly the
 * CARVED − LIVE carved free blocks, each once, on block boundaries, bits clear. List
 * lengths equal their counts; #empty ≤ EMPTY_LIMIT; table entries of class c = its pages.
 * Large list: each header passes CHECK, is live, links back; count and bytes match.
 * LIVE, IN_USE and PAGES equal the sums; PEAK ≥ IN_USE.
 */

import { popcount } from "../../core/bits.js";
import { COMMON_SLOTS } from "../../core/header.js";
import { DEFAULT_ALIGN } from "../../core/validate.js";
import { BITMAP_WORD_BITS } from "./classes.js";
import {
  C_LIVE,
  C_N_EMPTY,
  CLASS_RECORD_WORDS,
  CLASSES,
  EMPTY_LIMIT,
  IN_USE,
  L_BASE,
  L_CHECK,
  L_NEXT,
  L_PREV,
  L_PSIZE,
  L_STATE,
  LARGE_BYTES,
  LARGE_HEAD,
  LARGE_HEADER_BYTES,
  LARGE_LIVE,
  LARGE_LIVE_TAG,
  LIST_EMPTY,
  LIST_FULL,
  LIST_NAMES,
  LIST_PARTIAL,
  LIVE,
  largeCheck,
  listCount,
  listHead,
  META_AT,
  NOT_A_PAGE,
  PAGE_MAGIC,
  PAGE_SIZE,
  PAGES,
  PEAK,
  RELEASED_PAGE,
  SLAB_HEADER,
  T_BITMAP,
  T_CARVED,
  T_CLASS,
  T_FREE,
  T_LIST,
  T_LIVE,
  T_MAGIC,
  T_NEXT,
  T_PREV,
  TABLE_AT,
  TABLE_FIRST,
  TABLE_LEN,
  trailerOverwritten,
} from "./layout.js";

/** The parts of a slab the walker reads. */
export interface SlabState {
  readonly slots: Float64Array;
  readonly slot0: number;
  readonly u32: Uint32Array;
  readonly u8: Uint8Array;
  readonly metaAt: number;
  readonly memoryStart: number;
  readonly memoryEnd: number;
  readonly pageSize: number;
  readonly pageShift: number;
  readonly pageMask: number;
  readonly classCount: number;
  readonly tableFirst: number;
  readonly recBase: number;
  readonly sizes: Uint32Array;
  readonly caps: Uint32Array;
  readonly trailerOffsets: Uint32Array;
}

/** Walks the slab `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkSlab(t: SlabState, corrupt: (what: string) => never): void {
  const slots = t.slots;
  const slot0 = t.slot0;
  for (let s = PAGE_SIZE; s < COMMON_SLOTS + SLAB_HEADER.slotCount; s++) {
    if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
      corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
    }
  }
  if (
    slots[slot0 + META_AT] !== t.metaAt ||
    slots[slot0 + PAGE_SIZE] !== t.pageSize ||
    slots[slot0 + CLASSES] !== t.classCount ||
    slots[slot0 + TABLE_FIRST] !== t.tableFirst
  ) {
    corrupt(
      `configuration slots (meta ${slots[slot0 + META_AT]}, page size ${slots[slot0 + PAGE_SIZE]}, ` +
        `classes ${slots[slot0 + CLASSES]}, table first ${slots[slot0 + TABLE_FIRST]}) changed`,
    );
  }
  const tableAt = slots[slot0 + TABLE_AT];
  const tableLen = slots[slot0 + TABLE_LEN];
  if (!(tableAt >= t.memoryStart && tableAt + tableLen <= t.memoryEnd && tableLen >= 1)) {
    corrupt(`page table [${tableAt}, ${tableAt + tableLen}) is outside the memory`);
  }
  const u8 = t.u8;
  const tablePages = new Uint32Array(t.classCount);
  for (let i = 0; i < tableLen; i++) {
    const e = u8[tableAt + i];
    if (e === NOT_A_PAGE || (e >= RELEASED_PAGE && e < RELEASED_PAGE + t.classCount)) continue;
    if (e > t.classCount) {
      corrupt(`page table entry ${i} (page ${(t.tableFirst + i) * t.pageSize}) holds ${e}`);
    }
    tablePages[e - 1]++;
  }
  const u32 = t.u32;
  let live = 0;
  let inUse = 0;
  let pages = 0;
  for (let c = 0; c < t.classCount; c++) {
    const rec = t.recBase + c * CLASS_RECORD_WORDS;
    const size = t.sizes[c];
    let classLive = 0;
    let classPages = 0;
    for (let tag = LIST_PARTIAL; tag <= LIST_EMPTY; tag++) {
      const count = u32[rec + listCount(tag)];
      let n = 0;
      let prev = 0;
      let page = u32[rec + listHead(tag)];
      while (page !== 0) {
        if (++n > count) {
          corrupt(
            `class ${size}: ${LIST_NAMES[tag]} list is longer than its count ${count} (cycle at page ${page}?)`,
          );
        }
        classLive += checkPage(t, corrupt, c, page, prev, tag);
        prev = page;
        page = u32[((page + t.trailerOffsets[c]) >>> 2) + T_NEXT];
      }
      if (n !== count) {
        corrupt(`class ${size}: ${LIST_NAMES[tag]} list has ${n} pages, count says ${count}`);
      }
      classPages += n;
    }
    if (classLive !== u32[rec + C_LIVE]) {
      corrupt(
        `class ${size}: pages hold ${classLive} live blocks, record says ${u32[rec + C_LIVE]}`,
      );
    }
    if (classPages !== tablePages[c]) {
      corrupt(
        `class ${size}: ${classPages} pages on its lists, ${tablePages[c]} in the page table`,
      );
    }
    if (u32[rec + C_N_EMPTY] > slots[slot0 + EMPTY_LIMIT]) {
      corrupt(
        `class ${size}: ${u32[rec + C_N_EMPTY]} empty pages cached, limit ${slots[slot0 + EMPTY_LIMIT]}`,
      );
    }
    live += classLive;
    inUse += classLive * size;
    pages += classPages;
  }
  const [largeLive, largeBytes] = checkLargeList(t, corrupt);
  if (live + largeLive !== slots[slot0 + LIVE]) {
    corrupt(`LIVE is ${slots[slot0 + LIVE]}, blocks counted ${live} small + ${largeLive} large`);
  }
  if (inUse + largeBytes !== slots[slot0 + IN_USE]) {
    corrupt(`IN_USE is ${slots[slot0 + IN_USE]}, blocks hold ${inUse} + ${largeBytes} bytes`);
  }
  if (pages !== slots[slot0 + PAGES])
    corrupt(`PAGES is ${slots[slot0 + PAGES]}, lists hold ${pages}`);
  if (slots[slot0 + PEAK] < slots[slot0 + IN_USE])
    corrupt(`PEAK ${slots[slot0 + PEAK]} is below IN_USE`);
}

/** Checks one page on list `tag` of class `c`; returns its live blocks. */
function checkPage(
  t: SlabState,
  corrupt: (what: string) => never,
  c: number,
  page: number,
  prev: number,
  tag: number,
): number {
  const u32 = t.u32;
  const size = t.sizes[c];
  const cap = t.caps[c];
  const where = `class ${size}, ${LIST_NAMES[tag]} page ${page}`;
  if ((page & t.pageMask) !== 0 || page < t.memoryStart || page + t.pageSize > t.memoryEnd) {
    corrupt(`${where}: not a page-aligned page inside the memory`);
  }
  const i = (page >>> t.pageShift) - t.tableFirst;
  if (t.u8[t.slots[t.slot0 + TABLE_AT] + i] !== c + 1) {
    corrupt(`${where}: page table entry is ${t.u8[t.slots[t.slot0 + TABLE_AT] + i]}`);
  }
  const tr = (page + t.trailerOffsets[c]) >>> 2;
  if (u32[tr + T_MAGIC] !== PAGE_MAGIC || u32[tr + T_CLASS] !== c) {
    corrupt(trailerOverwritten(page, size, tr, u32));
  }
  if (u32[tr + T_LIST] !== tag) corrupt(`${where}: trailer names list ${u32[tr + T_LIST]}`);
  if (u32[tr + T_PREV] !== prev) corrupt(`${where}: PREV is ${u32[tr + T_PREV]}, not ${prev}`);
  const live = u32[tr + T_LIVE];
  const carved = u32[tr + T_CARVED];
  if (!(live <= carved && carved <= cap)) {
    corrupt(`${where}: LIVE ${live}, CARVED ${carved}, capacity ${cap} out of order`);
  }
  const ok =
    tag === LIST_PARTIAL ? live > 0 && live < cap : tag === LIST_FULL ? live === cap : live === 0;
  if (!ok) corrupt(`${where}: ${live} of ${cap} blocks live does not fit this list`);
  let bits = 0;
  const words = Math.ceil(cap / BITMAP_WORD_BITS);
  for (let w = 0; w < words; w++) {
    const word = u32[tr + T_BITMAP + w];
    bits += popcount(word);
    // Bits of blocks at or above CARVED must be clear: no such block was handed out.
    const valid = Math.min(BITMAP_WORD_BITS, Math.max(0, carved - w * BITMAP_WORD_BITS));
    const above = valid === BITMAP_WORD_BITS ? 0 : valid === 0 ? word : word >>> valid;
    if (above !== 0) {
      corrupt(`${where}: bitmap word ${w} (${word}) marks blocks at or above CARVED ${carved}`);
    }
  }
  if (bits !== live) corrupt(`${where}: bitmap has ${bits} live bits, LIVE is ${live}`);
  const seen = new Uint8Array(carved);
  let n = 0;
  let block = u32[tr + T_FREE];
  while (block !== 0) {
    const bi = (block - page) / size;
    if (!(bi >= 0 && bi < carved && bi === Math.floor(bi))) {
      corrupt(`${where}: free list reaches ${block}, not a carved block of the page`);
    }
    if ((u32[tr + T_BITMAP + (bi >>> 5)] & (1 << (bi & 31))) !== 0) {
      corrupt(`${where}: free list holds live block ${block}`);
    }
    if (seen[bi] !== 0 || ++n > carved - live) {
      corrupt(`${where}: free list has a cycle or too many blocks (at ${block})`);
    }
    seen[bi] = 1;
    block = u32[block >>> 2];
  }
  if (n !== carved - live) {
    corrupt(`${where}: free list holds ${n} blocks, ${carved - live} carved blocks are free`);
  }
  return live;
}

/** Walks the live large blocks; returns [count, usable bytes]. */
function checkLargeList(t: SlabState, corrupt: (what: string) => never): [number, number] {
  const slots = t.slots;
  const slot0 = t.slot0;
  const u32 = t.u32;
  const count = slots[slot0 + LARGE_LIVE];
  let n = 0;
  let bytes = 0;
  let prev = 0;
  let ptr = slots[slot0 + LARGE_HEAD];
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
  if (bytes !== slots[slot0 + LARGE_BYTES]) {
    corrupt(`large blocks hold ${bytes} bytes, LARGE_BYTES says ${slots[slot0 + LARGE_BYTES]}`);
  }
  return [n, bytes];
}
