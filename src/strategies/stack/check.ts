/**
 * StackAllocator's invariant walker (`check()`). O(LIVE): the block chain is walked once.
 *
 * ## Invariants (`check()`)
 * dataStart ≤ TOP ≤ END ≤ memory end; HIGH_WATER ≥ dataStart; every slot is a non-negative
 * integer; CONFIG is 8. The chain from LAST through PREV is walked (at most LIVE steps, and
 * pointers strictly decrease, so a cycle cannot loop): every block pointer is 8-aligned and
 * ≥ dataStart + 8; the newest block ends exactly at TOP; every other block ends at or before
 * the header (ptr − 8) of the block above it; the chain ends with PREV = 0 after exactly LIVE
 * blocks whose sizes sum to INUSE. An empty stack (LAST = 0) has TOP = dataStart.
 */

import { H_CONFIG } from "../../core/header.js";
import {
  BLOCK_ALIGN,
  BLOCK_HEADER_BYTES,
  HDR_PREV,
  HDR_SIZE,
  headerWord,
  STACK_HEADER,
} from "./layout.js";

const { TOP, END, HIGH_WATER, LAST, LIVE, INUSE, PEAK } = STACK_HEADER.slot;

/** The parts of a stack the walker reads. */
export interface StackState {
  readonly slots: Float64Array;
  readonly slot0: number;
  readonly u32: Uint32Array;
  readonly dataStart: number;
  readonly memoryEnd: number;
}

/** Walks the stack `t`; calls `corrupt` (which throws) with the first invariant broken. */
export function checkStack(t: StackState, corrupt: (what: string) => never): void {
  const slots = t.slots;
  const slot0 = t.slot0;
  const ds = t.dataStart;
  for (const s of [TOP, END, HIGH_WATER, LAST, LIVE, INUSE, PEAK]) {
    if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
      corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
    }
  }
  if (slots[slot0 + H_CONFIG] !== BLOCK_HEADER_BYTES) {
    corrupt(`CONFIG slot holds ${slots[slot0 + H_CONFIG]}, not ${BLOCK_HEADER_BYTES}`);
  }
  const top = slots[slot0 + TOP];
  const end = slots[slot0 + END];
  const live = slots[slot0 + LIVE];
  if (!(ds <= top && top <= end && end <= t.memoryEnd)) {
    corrupt(`expected dataStart ${ds} <= TOP ${top} <= END ${end} <= memory end ${t.memoryEnd}`);
  }
  if (slots[slot0 + HIGH_WATER] < ds)
    corrupt(`HIGH_WATER ${slots[slot0 + HIGH_WATER]} is below dataStart ${ds}`);
  // Walk the chain from the top. Each step moves at least 8 bytes down and stays at or
  // above dataStart + 8, and at most LIVE steps are taken: no cycle can loop.
  const u = t.u32;
  let cur = slots[slot0 + LAST];
  let ceiling = top;
  let count = 0;
  let bytes = 0;
  while (cur !== 0) {
    if (count >= live) corrupt(`the chain from LAST has more than LIVE = ${live} blocks`);
    if (!(cur % BLOCK_ALIGN === 0 && cur >= ds + BLOCK_HEADER_BYTES && cur <= ceiling)) {
      corrupt(
        `block ${cur} (#${count} from the top) is not an 8-aligned pointer in ` +
          `[${ds + BLOCK_HEADER_BYTES}, ${ceiling}]`,
      );
    }
    const w = headerWord(cur);
    const blockEnd = cur + u[w + HDR_SIZE];
    if (count === 0 ? blockEnd !== top : blockEnd > ceiling) {
      corrupt(
        count === 0
          ? `the top block ${cur} ends at ${blockEnd}, not at TOP ${top}`
          : `block ${cur} ends at ${blockEnd}, past the header at ${ceiling} of the block above`,
      );
    }
    bytes += u[w + HDR_SIZE];
    count++;
    ceiling = cur - BLOCK_HEADER_BYTES;
    cur = u[w + HDR_PREV];
  }
  if (count === 0 && top !== ds) {
    corrupt(`the stack is empty (LAST 0) but TOP ${top} is not dataStart ${ds}`);
  }
  if (count !== live) corrupt(`the chain holds ${count} blocks, LIVE says ${live}`);
  if (bytes !== slots[slot0 + INUSE]) {
    corrupt(`the blocks' sizes sum to ${bytes}, INUSE says ${slots[slot0 + INUSE]}`);
  }
}
