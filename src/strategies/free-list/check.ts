import { popcount } from "../../core/bits.js";
import { H_CONFIG } from "../../core/header.js";
import { FreeListKernel } from "./kernel.js";
import {
  AREA_END,
  bitmapBytes,
  END,
  F_LEFT,
  F_MAXSUB,
  F_PARENT,
  F_RIGHT,
  FLAG_BITS,
  FREE_BLOCKS,
  FREE_BYTES,
  GRANULE,
  IN_USE,
  LIVE,
  MIN_BLOCK,
  PEAK,
  PREV_USED,
  ROOT,
  ROVER,
  SIZE_WORD_BYTES,
  USED,
  WORD,
} from "./layout.js";

export abstract class FreeListChecked extends FreeListKernel {
  // ---- check --------------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const u = this.u;
    const org = this.org;
    for (const s of [ROOT, AREA_END, END, ROVER, LIVE, IN_USE, FREE_BYTES, FREE_BLOCKS, PEAK]) {
      if (!(Number.isSafeInteger(slots[slot0 + s]) && slots[slot0 + s] >= 0)) {
        this.corrupt(`slot ${s} holds ${slots[slot0 + s]}, not a non-negative integer`);
      }
    }
    if (slots[slot0 + H_CONFIG] !== this.fitCode)
      this.corrupt(`CONFIG ${slots[slot0 + H_CONFIG]} changed`);
    const areaEnd = slots[slot0 + AREA_END];
    const end = slots[slot0 + END];
    const area = areaEnd - org;
    if (!(area >= 0 && area % GRANULE === 0)) {
      this.corrupt(`AREA_END ${areaEnd} is not ORG ${org} + a multiple of 8`);
    }
    const bmEnd = areaEnd + SIZE_WORD_BYTES + bitmapBytes(area);
    if (!(bmEnd <= end && end <= this.memory.end)) {
      this.corrupt(`bitmap end ${bmEnd} > END ${end}, or END > memory end ${this.memory.end}`);
    }
    // The physical walk.
    let b = org;
    let prevUsed = true;
    let blocks = 0;
    let live = 0;
    let inUse = 0;
    let freeBlocks = 0;
    let freeBytes = 0;
    const maxBlocks = area / MIN_BLOCK;
    while (b < areaEnd) {
      const w = u[b >>> 2];
      const s = w - (w & FLAG_BITS);
      if ((w & (FLAG_BITS & ~(USED | PREV_USED))) !== 0) {
        this.corrupt(`block at ${b}: reserved size-word bit set (${w})`);
      }
      if (!(s >= MIN_BLOCK && b + s <= areaEnd)) {
        this.corrupt(`block at ${b}: size ${s} is below ${MIN_BLOCK} or runs past ${areaEnd}`);
      }
      if (((w & PREV_USED) !== 0) !== prevUsed) {
        this.corrupt(`block at ${b}: PREV_USED is ${(w & PREV_USED) >> 1}, not ${+prevUsed}`);
      }
      if (!this.testBit(b)) this.corrupt(`block at ${b}: no bitmap bit`);
      if ((w & USED) !== 0) {
        live++;
        inUse += s - SIZE_WORD_BYTES;
        prevUsed = true;
      } else {
        if (!prevUsed) this.corrupt(`free blocks at ${b} and before it are adjacent (not merged)`);
        const footer = u[((b + s) >>> 2) - 1];
        if (footer !== s) this.corrupt(`free block at ${b}: footer ${footer} != size ${s}`);
        freeBlocks++;
        freeBytes += s;
        prevUsed = false;
      }
      b += s;
      if (++blocks > maxBlocks) this.corrupt(`more than ${maxBlocks} blocks in ${area} bytes`);
    }
    const sw = u[areaEnd >>> 2];
    if (sw !== USED + (prevUsed ? PREV_USED : 0)) {
      this.corrupt(`end sentinel at ${areaEnd} is ${sw}, not ${USED + (prevUsed ? PREV_USED : 0)}`);
    }
    // The bitmap: exactly one bit per block start.
    const bm = this.bitmapIndex();
    const words = bitmapBytes(area) / WORD;
    let bits = 0;
    for (let i = 0; i < words; i++) bits += popcount(u[bm + i]);
    if (bits !== blocks) this.corrupt(`bitmap has ${bits} bits set for ${blocks} blocks`);
    if (live !== slots[slot0 + LIVE])
      this.corrupt(`LIVE ${slots[slot0 + LIVE]} != ${live} live blocks`);
    if (inUse !== slots[slot0 + IN_USE])
      this.corrupt(`IN_USE ${slots[slot0 + IN_USE]} != ${inUse}`);
    if (freeBytes !== slots[slot0 + FREE_BYTES]) {
      this.corrupt(`FREE_BYTES ${slots[slot0 + FREE_BYTES]} != ${freeBytes} bytes of free blocks`);
    }
    if (freeBlocks !== slots[slot0 + FREE_BLOCKS]) {
      this.corrupt(`FREE_BLOCKS ${slots[slot0 + FREE_BLOCKS]} != ${freeBlocks} free blocks`);
    }
    const rover = slots[slot0 + ROVER];
    if (!(rover >= org && rover <= areaEnd)) this.corrupt(`ROVER ${rover} outside the area`);
    this.checkTree(freeBlocks, areaEnd);
  }

  /** The tree: links, order, heap order, MAXSUB, and exactly `count` free blocks. */
  protected checkTree(count: number, areaEnd: number): void {
    const u = this.u;
    const root = this.root();
    const isFreeBlock = (x: number) =>
      x >= this.org &&
      x < areaEnd &&
      (x - this.org) % GRANULE === 0 &&
      this.testBit(x) &&
      (u[x >>> 2] & USED) === 0;
    if (root !== 0) {
      if (!isFreeBlock(root)) this.corrupt(`tree root ${root} is not a free block`);
      if (u[(root >>> 2) + F_PARENT] !== 0) this.corrupt(`tree root ${root} has a parent`);
    } else if (count !== 0) {
      this.corrupt(`tree is empty but ${count} blocks are free`);
    }
    // In-order traversal with an explicit stack, bounded by `count` nodes.
    const stack: number[] = [];
    let x = root;
    let seen = 0;
    let prev = 0;
    while (x !== 0 || stack.length > 0) {
      while (x !== 0) {
        if (++seen > count) this.corrupt(`tree has more nodes than the ${count} free blocks`);
        const xi = x >>> 2;
        for (const side of [F_LEFT, F_RIGHT]) {
          const c = u[xi + side];
          if (c === 0) continue;
          if (!isFreeBlock(c)) this.corrupt(`tree node ${x}: child ${c} is not a free block`);
          if (u[(c >>> 2) + F_PARENT] !== x) {
            this.corrupt(`tree node ${c}: PARENT ${u[(c >>> 2) + F_PARENT]} != ${x}`);
          }
          if (this.priority(c) > this.priority(x)) {
            this.corrupt(`tree node ${c} outranks its parent ${x} (heap order)`);
          }
        }
        if (u[xi + F_MAXSUB] !== this.subtreeMax(x)) {
          this.corrupt(`tree node ${x}: MAXSUB ${u[xi + F_MAXSUB]} != ${this.subtreeMax(x)}`);
        }
        stack.push(x);
        x = u[xi + F_LEFT];
      }
      x = stack.pop()!;
      if (x <= prev) this.corrupt(`tree out of address order: ${x} after ${prev}`);
      prev = x;
      x = u[(x >>> 2) + F_RIGHT];
    }
    if (seen !== count) this.corrupt(`tree holds ${seen} blocks, the heap ${count} free blocks`);
  }
}
