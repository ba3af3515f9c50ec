/**
 * The OffsetAllocator's invariant walker (`check()`): reads the state record, the node pool
 * and the live table, changes nothing, and reports the first broken invariant through
 * `corrupt` (which poisons the heap), naming the offsets involved. O(nodes + bins + slots).
 *
 * 1. The neighbour walk from HEAD tiles [FIRST, END) exactly and ends at TAIL; its links are
 *    symmetric; every block is FREE or USED with a size ≥ 1; no two adjacent blocks are free.
 * 2. FREE_GRANULES, USED_GRANULES and LIVE match the walk; PEAK ≥ USED_GRANULES.
 * 3. The bitmaps mark exactly the non-empty bins; every bin's list holds free blocks of the
 *    walk whose size maps to that bin, with symmetric links; together they hold every free
 *    block once.
 * 4. The live table keys every used block of the walk by its offset, once, where a lookup
 *    finds it, and nothing else; COUNT says how many.
 * 5. Every node the pool handed out (1 … TOP) is a block of the walk or on the spare stack.
 */

import { BINS_PER_LEVEL, BINS_PER_LEVEL_LOG2, binOf, FIRST_LEVELS, GRANULE } from "./bins.js";
import {
  BIN_HEAD,
  END,
  FIRST,
  FL_MAP,
  FREE_GRANULES,
  HEAD,
  LIVE,
  type OffsetKernel,
  PEAK,
  SL_MAP,
  TAIL,
  USED_GRANULES,
} from "./kernel.js";
import {
  BIN,
  BIN_NEXT,
  BIN_PREV,
  FREE,
  NEIGHBOR_NEXT,
  NEIGHBOR_PREV,
  NODE_SHIFT,
  NONE,
  OFFSET,
  SIZE,
  SPARE,
  STATE,
  USED,
} from "./nodes.js";

/** What the walk found a node to be (bits of `seen`). */
const WALKED = 1;
const LISTED = 2;
const SPARED = 4;

export function checkKernel(
  k: OffsetKernel,
  memoryEnd: number,
  corrupt: (what: string) => never,
): void {
  const s = k.s;
  const w = k.pool.words;
  const top = k.pool.top;
  const at = (g: number) => g * GRANULE;
  const first = s[FIRST];
  const end = s[END];
  if (!(first >= 1 && first < end && at(end) <= memoryEnd)) {
    corrupt(`heap [${at(first)}, ${at(end)}) does not fit the memory ending at ${memoryEnd}`);
  }
  if (!(top >= 1 && top <= k.pool.capacity && k.pool.spareCount <= top)) {
    corrupt(`node pool counts: top ${top}, spares ${k.pool.spareCount}, ${k.pool.capacity} nodes`);
  }
  const seen = new Uint8Array(top + 1);
  const isNode = (n: number) => Number.isInteger(n) && n >= 1 && n <= top;

  // 1, 2: the neighbour walk.
  let n = s[HEAD];
  let prev = NONE;
  let offset = first;
  let prevFree = false;
  let free = 0;
  let used = 0;
  let freeBlocks = 0;
  let live = 0;
  while (offset < end) {
    if (!isNode(n)) corrupt(`the block at ${at(offset)} has no node (link ${n})`);
    if ((seen[n] & WALKED) !== 0) corrupt(`node ${n} appears twice in address order`);
    seen[n] |= WALKED;
    const a = n << NODE_SHIFT;
    const size = w[a + SIZE];
    const state = w[a + STATE];
    if (w[a + OFFSET] !== offset) {
      corrupt(
        `node ${n} says its block starts at ${at(w[a + OFFSET])}, the walk is at ${at(offset)}`,
      );
    }
    if (w[a + NEIGHBOR_PREV] !== prev) {
      corrupt(
        `block ${at(offset)}: previous-neighbour link ${w[a + NEIGHBOR_PREV]} is not ${prev}`,
      );
    }
    if (!(size >= 1 && offset + size <= end)) {
      corrupt(`block ${at(offset)}: size ${at(size)} does not fit the heap end ${at(end)}`);
    }
    if (state === FREE) {
      if (prevFree) corrupt(`blocks before ${at(offset)} and ${at(offset)} are both free`);
      free += size;
      freeBlocks++;
    } else if (state === USED) {
      used += size;
      live++;
    } else {
      corrupt(`block ${at(offset)}: node ${n} has state ${state}, neither free nor used`);
    }
    prevFree = state === FREE;
    offset += size;
    prev = n;
    n = w[a + NEIGHBOR_NEXT];
  }
  if (n !== NONE || prev !== s[TAIL]) {
    corrupt(`the walk ended at node ${prev} (next link ${n}), the tail is node ${s[TAIL]}`);
  }
  if (free !== s[FREE_GRANULES]) {
    corrupt(`FREE_GRANULES counts ${at(s[FREE_GRANULES])} bytes, free blocks hold ${at(free)}`);
  }
  if (used !== s[USED_GRANULES]) {
    corrupt(`USED_GRANULES counts ${at(s[USED_GRANULES])} bytes, used blocks hold ${at(used)}`);
  }
  if (live !== s[LIVE]) corrupt(`LIVE counts ${s[LIVE]} blocks, the walk found ${live}`);
  if (s[PEAK] < used) corrupt(`PEAK ${at(s[PEAK])} is below the bytes in use ${at(used)}`);

  // 3: bins and bitmaps.
  let listed = 0;
  if (s[FL_MAP] >>> FIRST_LEVELS !== 0)
    corrupt(`FL bitmap ${s[FL_MAP]} marks a level past the last`);
  for (let fl = 0; fl < FIRST_LEVELS; fl++) {
    const slBits = s[SL_MAP + fl];
    if (((s[FL_MAP] >>> fl) & 1) !== (slBits !== 0 ? 1 : 0)) {
      corrupt(`FL bitmap bit ${fl} disagrees with its SL bitmap ${slBits >>> 0}`);
    }
    for (let sl = 0; sl < BINS_PER_LEVEL; sl++) {
      const bin = (fl << BINS_PER_LEVEL_LOG2) | sl;
      let f = s[BIN_HEAD + bin];
      if (((slBits >>> sl) & 1) !== (f !== NONE ? 1 : 0)) {
        corrupt(`SL bitmap bit (${fl}, ${sl}) disagrees with bin ${bin}'s head node ${f}`);
      }
      let before = NONE;
      while (f !== NONE) {
        if (!isNode(f) || (seen[f] & (WALKED | LISTED)) !== WALKED) {
          corrupt(`bin ${bin} lists node ${f}, which is not a block or is listed twice`);
        }
        seen[f] |= LISTED;
        const a = f << NODE_SHIFT;
        if (++listed > freeBlocks) corrupt(`the bins list more blocks than the ${freeBlocks} free`);
        if (w[a + STATE] !== FREE) corrupt(`bin ${bin} lists the used block ${at(w[a + OFFSET])}`);
        if (binOf(w[a + SIZE]) !== bin || w[a + BIN] !== bin) {
          corrupt(
            `free block ${at(w[a + OFFSET])} of ${at(w[a + SIZE])} bytes is in bin ${bin} ` +
              `(its node says ${w[a + BIN]})`,
          );
        }
        if (w[a + BIN_PREV] !== before) {
          corrupt(`free block ${at(w[a + OFFSET])}: bin link back ${w[a + BIN_PREV]} ≠ ${before}`);
        }
        before = f;
        f = w[a + BIN_NEXT];
      }
    }
  }
  if (listed !== freeBlocks) corrupt(`the bins list ${listed} blocks, ${freeBlocks} are free`);

  // 4: the live table.
  const table = k.table;
  let inTable = 0;
  table.forEach((offset, u, slot) => {
    if (!isNode(u) || (seen[u] & (WALKED | LISTED)) !== WALKED) {
      corrupt(`live-table slot ${slot} holds node ${u}, which is not a block or is listed twice`);
    }
    seen[u] |= LISTED;
    const a = u << NODE_SHIFT;
    inTable++;
    if (w[a + STATE] !== USED) corrupt(`the live table holds the free block ${at(w[a + OFFSET])}`);
    if (w[a + OFFSET] !== offset) {
      corrupt(`live-table slot ${slot} keys ${at(offset)} to the block at ${at(w[a + OFFSET])}`);
    }
    if (table.find(offset) !== u) corrupt(`the live table cannot find its block ${at(offset)}`);
  });
  if (inTable !== live || table.count !== live) {
    corrupt(`the live table holds ${inTable} blocks (COUNT ${table.count}), ${live} are used`);
  }

  // 5: the pool.
  const spares = k.pool.spareCount;
  for (let i = 0; i < spares; i++) {
    const p = k.pool.spare[i];
    if (!isNode(p) || seen[p] !== 0) corrupt(`spare stack entry ${i} is node ${p}, not a spare`);
    seen[p] = SPARED;
    if (w[(p << NODE_SHIFT) + STATE] !== SPARE) corrupt(`spare node ${p} is not marked spare`);
  }
  for (let i = 1; i <= top; i++) {
    if (seen[i] === 0) corrupt(`node ${i} is neither a block nor a spare (lost)`);
  }
}
