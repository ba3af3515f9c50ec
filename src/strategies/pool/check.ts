/**
 * PoolAllocator's invariant walker (`check()`). O(N).
 *
 * ## Invariants (`check()`)
 * 0 ≤ NFREE ≤ CARVED ≤ LIMIT ≤ N; 0 ≤ PEAK ≤ PEAK_CARVED ≤ N; BASE is a multiple of A, at or above
 * dataStart, and BASE + LIMIT × S ≤ memory end; the free-stack entries
 * [0, NFREE) are distinct block numbers below CARVED whose live bit is clear; the live bits
 * of [0, CARVED) number CARVED − NFREE (so free + live = carved, and no block is both); the
 * configuration slots match the handle and CONFIG holds POOL_LAYOUT.
 */

import { H_CONFIG } from "../../core/header.js";
import {
  BITS_PER_WORD,
  bitmapWords,
  POOL_HEADER,
  POOL_LAYOUT,
  STACK,
  WORD_SHIFT,
} from "./layout.js";

const { BLOCK_SIZE, NUM_BLOCKS, BASE, BLOCK_ALIGN } = POOL_HEADER.slot;
const { NFREE, CARVED, LIMIT, PEAK_CARVED, PEAK } = POOL_HEADER.word;

/** The parts of a pool the walker reads. */
export interface PoolState {
  readonly slots: Float64Array;
  readonly slot0: number;
  readonly words: Int32Array;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly blockAlign: number;
  readonly base: number;
  readonly bitsAt: number;
  readonly dataStart: number;
  readonly memoryEnd: number;
}

/** Walks the pool `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkPool(t: PoolState, corrupt: (what: string) => never): void {
  const slots = t.slots;
  const slot0 = t.slot0;
  const size = t.blockSize;
  const n = t.numBlocks;
  if (
    slots[slot0 + BLOCK_SIZE] !== size ||
    slots[slot0 + H_CONFIG] !== POOL_LAYOUT ||
    slots[slot0 + NUM_BLOCKS] !== n ||
    slots[slot0 + BASE] !== t.base ||
    slots[slot0 + BLOCK_ALIGN] !== t.blockAlign
  ) {
    corrupt(
      `configuration slots (block size ${slots[slot0 + BLOCK_SIZE]}, config ${slots[slot0 + H_CONFIG]}, ` +
        `blocks ${slots[slot0 + NUM_BLOCKS]}, base ${slots[slot0 + BASE]}, align ${slots[slot0 + BLOCK_ALIGN]}) ` +
        `differ from this handle's (${size}, ${POOL_LAYOUT}, ${n}, ${t.base}, ${t.blockAlign})`,
    );
  }
  const words = t.words;
  const nfree = words[NFREE];
  const carved = words[CARVED];
  const limit = words[LIMIT];
  if (!(0 <= nfree && nfree <= carved && carved <= limit && limit <= n)) {
    corrupt(`expected 0 <= NFREE ${nfree} <= CARVED ${carved} <= LIMIT ${limit} <= N ${n}`);
  }
  const peakCarved = words[PEAK_CARVED];
  const peak = words[PEAK];
  if (!(0 <= peak && peak <= peakCarved && peakCarved <= n)) {
    corrupt(`expected 0 <= PEAK ${peak} <= PEAK_CARVED ${peakCarved} <= N ${n}`);
  }
  if (!(t.base >= t.dataStart && t.base % t.blockAlign === 0)) {
    corrupt(`BASE ${t.base} is below dataStart ${t.dataStart} or not A-aligned`);
  }
  const limitEnd = t.base + limit * size;
  if (limitEnd > t.memoryEnd) {
    corrupt(`LIMIT ${limit} blocks end at ${limitEnd}, past memory end ${t.memoryEnd}`);
  }
  // Free stack: distinct carved blocks whose live bit is clear. The stack is an array, so it
  // cannot cycle; a duplicate would hand one block out twice.
  const seen = new Int32Array(bitmapWords(n));
  for (let i = 0; i < nfree; i++) {
    const b = words[STACK + i];
    if (!(b >= 0 && b < carved)) {
      corrupt(`free-stack entry ${i} is block ${b}, not in 0 … CARVED ${carved} − 1`);
    }
    const word = b >> WORD_SHIFT;
    const mask = 1 << (b & (BITS_PER_WORD - 1));
    if ((words[t.bitsAt + word] & mask) !== 0) {
      corrupt(`free-stack entry ${i}: block ${b} at ${t.base + b * size} is marked live`);
    }
    if ((seen[word] & mask) !== 0) {
      corrupt(`free-stack entry ${i}: block ${b} is listed twice`);
    }
    seen[word] |= mask;
  }
  let live = 0;
  for (let b = 0; b < carved; b++) {
    if ((words[t.bitsAt + (b >> WORD_SHIFT)] & (1 << (b & (BITS_PER_WORD - 1)))) !== 0) live++;
  }
  if (live !== carved - nfree) {
    corrupt(
      `${live} blocks are marked live, but CARVED ${carved} − NFREE ${nfree} = ` +
        `${carved - nfree}`,
    );
  }
}
