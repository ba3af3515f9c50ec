/**
 * BlockAllocator's invariant walker (`check()`): one walk of the free runs. O(R).
 *
 * ## Invariants (`check()`)
 * The configuration slots match the handle; BLOCKS_AT is a multiple of B at or after the
 * header, and BLOCKS_AT + L·B ≤ memory end. Walking from FIRST: every run lies in [0, L),
 * has LEN ≥ 1, starts after the previous run's end + 1 (address order, fully coalesced; this
 * also bounds the walk); the lengths add up to FREE; FIRST is NONE exactly when FREE = 0;
 * 0 ≤ LIVE ≤ L − FREE ≤ PEAK ≤ L. The start bits: none inside a free run or past L, and
 * LIVE of them set; the first block after a free run is an allocation's start. Every walk (alloc and dealloc too) checks the runs it
 * reads the same way and reports a broken one as corruption, so a user overflow that hits a
 * free run's header poisons the heap instead of handing out bad blocks.
 */

import { popcount } from "../../core/bits.js";
import { BlockKernel } from "./kernel.js";
import {
  BLOCK_COUNT,
  BLOCK_SIZE,
  BLOCKS_AT,
  FIRST,
  FREE,
  LIVE,
  PEAK,
  startBitsBytes,
} from "./layout.js";

export abstract class BlockChecked extends BlockKernel {
  // ---- invariants ------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const B = this.blockSize;
    const L = this.blockCount;
    for (const s of [FIRST, FREE, LIVE, PEAK, BLOCK_SIZE, BLOCK_COUNT, BLOCKS_AT]) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (
      slots[slot0 + BLOCK_SIZE] !== B ||
      slots[slot0 + BLOCK_COUNT] !== L ||
      slots[slot0 + BLOCKS_AT] !== this.blocksAt
    ) {
      this.corrupt(
        `configuration slots (B ${slots[slot0 + BLOCK_SIZE]}, L ${slots[slot0 + BLOCK_COUNT]}, blocks at ` +
          `${slots[slot0 + BLOCKS_AT]}) differ from the heap's (${B}, ${L}, ${this.blocksAt})`,
      );
    }
    if (this.blocksAt + L * B > this.memory.end) {
      this.corrupt(`blocks [${this.blocksAt}, +${L * B}) pass memory end ${this.memory.end}`);
    }
    let sum = 0;
    let runs = 0;
    for (let r = this.firstRun(), min = 0; r !== this.none; r = this.runNext(r)) {
      const n = this.checkedRunLen(r, min);
      if (this.anyStart(r, r + n)) this.corrupt(`a start bit is set inside the free run at ${r}`);
      if (r + n < L && !this.isStart(r + n)) {
        this.corrupt(`block ${r + n} after the free run at ${r} is not an allocation's start`);
      }
      sum += n;
      min = r + n + 1;
      if (++runs > L) this.corrupt(`free-run walk from FIRST did not end after ${L} runs`);
    }
    const words = startBitsBytes(L) >>> 2;
    let starts = 0;
    for (let i = 0; i < words; i++) starts += popcount(this.words[i]);
    if (this.anyStart(L, words * 32)) this.corrupt(`a start bit is set past block ${L - 1}`);
    if (starts !== slots[slot0 + LIVE]) {
      this.corrupt(`${starts} start bits are set, LIVE says ${slots[slot0 + LIVE]}`);
    }
    if (L > 0 && slots[slot0 + FIRST] !== 0 && !this.isStart(0)) {
      this.corrupt("block 0 is neither free nor an allocation's start");
    }
    const free = slots[slot0 + FREE];
    if (sum !== free) this.corrupt(`free runs hold ${sum} blocks, FREE says ${free}`);
    if ((slots[slot0 + FIRST] === this.none) !== (free === 0)) {
      this.corrupt(`FIRST is ${slots[slot0 + FIRST]} while FREE is ${free}`);
    }
    const used = L - free;
    if (!(slots[slot0 + LIVE] <= used && used <= slots[slot0 + PEAK] && slots[slot0 + PEAK] <= L)) {
      this.corrupt(
        `expected LIVE ${slots[slot0 + LIVE]} <= blocks in use ${used} <= PEAK ${slots[slot0 + PEAK]} <= L ${L}`,
      );
    }
  }
}
