import { popcount } from "../../core/bits.js";
import { H_CONFIG } from "../../core/header.js";
import { MAX_ALIGN } from "../../core/validate.js";
import { BuddyKernel } from "./kernel.js";
import {
  BIT_MASK,
  FREE_BYTES,
  HI,
  HI_MAX,
  LEVEL_SHIFT,
  LIVE,
  LO,
  lowestBit,
  MAX_ORDER,
  ORDER_MASK,
  ORIGIN,
  PEAK,
  WORD_SHIFT,
} from "./layout.js";

export abstract class BuddyChecked extends BuddyKernel {
  // ---- check -------------------------------------------------------------------------------

  protected checkStrategy(): void {
    const slots = this.slots;
    const slot0 = this.slot0;
    const w = this.w;
    const lo = this.lo;
    const u = this.unit;
    const top = this.maxOrder;
    const expect: [number, number, string][] = [
      [ORIGIN, this.origin, "ORIGIN"],
      [LO, lo, "LO"],
      [HI_MAX, this.hiMax, "HI_MAX"],
      [MAX_ORDER, top, "MAX_ORDER"],
      [H_CONFIG, this.geo.config, "CONFIG"],
    ];
    for (const [slot, value, what] of expect) {
      if (slots[slot0 + slot] !== value)
        this.corrupt(`${what} slot holds ${slots[slot0 + slot]}, not ${value}`);
    }
    for (const [slot, what] of [
      [HI, "HI"],
      [FREE_BYTES, "FREE_BYTES"],
      [LIVE, "LIVE"],
      [PEAK, "PEAK"],
    ] as const) {
      const v = slots[slot0 + slot];
      if (!(Number.isSafeInteger(v) && v >= 0)) this.corrupt(`${what} slot holds ${v}`);
    }
    const hi = slots[slot0 + HI];
    const memUnits = Math.floor((this.memory.end - this.origin) / u);
    if (!(lo <= hi && hi <= this.hiMax && hi <= memUnits)) {
      this.corrupt(`HI ${hi} is outside [LO ${lo}, min(HI_MAX ${this.hiMax}, memory ${memUnits})]`);
    }

    // Split nodes: they exist, their parent (if any) is split.
    for (let k = 1; k <= this.geo.orderBound; k++) {
      this.forEachBit(this.splitAt[k], (this.geo.numax >> k) + 1, (p) => {
        const j = (p + (lo >> k)) << k;
        const at = this.origin + j * u;
        if (k > top || j < lo || j + (1 << k) > hi) {
          this.corrupt(`split bit set for node at ${at} of order ${k}, which does not exist`);
        }
        const parent = j & ~((2 << k) - 1);
        if (k < top && parent >= lo && parent + (2 << k) <= hi && !this.isSplit(parent, k + 1)) {
          this.corrupt(`node at ${at} of order ${k} is split but its parent is not`);
        }
      });
    }

    // Walk the leaves: they tile [LO, HI); count free and live blocks.
    let freeBytes = 0;
    let freeLeaves = 0;
    let live = 0;
    let raisedLive = 0;
    for (let i = lo; i < hi; ) {
      const k = this.leafOrder(i);
      const at = this.origin + i * u;
      if ((i & ((1 << k) - 1)) !== 0) {
        this.corrupt(
          `unit ${i} (address ${at}) is covered twice: leaf of order ${k} starts below it`,
        );
      }
      if (i + (1 << k) > hi) this.corrupt(`leaf at ${at} of order ${k} extends past HI ${hi}`);
      if (k > 0 && this.isSplit(i, k)) this.corrupt(`leaf at ${at} of order ${k} is split`);
      if (at % Math.min(u * 2 ** k, MAX_ALIGN) !== 0) {
        this.corrupt(`block at ${at} of ${u * 2 ** k} bytes is not aligned to its size`);
      }
      if (this.isFree(i, k)) {
        freeBytes += u * 2 ** k;
        freeLeaves++;
        if (this.isRaised(i)) this.corrupt(`free block at ${at} has its raised bit set`);
        const parent = i & ~((2 << k) - 1);
        if (k < top && parent >= lo && parent + (2 << k) <= hi && this.isFree(i ^ (1 << k), k)) {
          this.corrupt(
            `free block at ${at} and its buddy at ${this.origin + (i ^ (1 << k)) * u} ` +
              `(order ${k}) are both free: they should have merged`,
          );
        }
      } else {
        live++;
        if (this.isRaised(i)) raisedLive++;
      }
      i += 1 << k;
    }

    // Free bits: exactly the free leaves (the walk found each; the counts rule out extras).
    let freeBits = 0;
    for (let k = 0; k <= this.geo.orderBound; k++) {
      const base = k << LEVEL_SHIFT;
      const levels = this.levels[k];
      let bits = (this.geo.numax >> k) + 1;
      for (let l = 0; l < levels; l++) {
        const words = (bits + BIT_MASK) >>> WORD_SHIFT;
        const at = this.freeAt[base | l];
        for (let x = 0; x < words; x++) {
          const word = w[at + x];
          if (l === 0) freeBits += popcount(word);
          const above =
            l + 1 < levels
              ? (w[this.freeAt[base | (l + 1)] + (x >>> WORD_SHIFT)] >>> (x & BIT_MASK)) & 1
              : (w[ORDER_MASK] >>> k) & 1;
          if ((word !== 0) !== (above === 1)) {
            this.corrupt(
              `order ${k} free bitmap level ${l} word ${x} is ${word} but its summary bit is ${above}`,
            );
          }
        }
        bits = words;
      }
    }
    if (w[ORDER_MASK] >>> (this.geo.orderBound + 1) !== 0) {
      this.corrupt(`ORDER_MASK ${w[ORDER_MASK]} has bits above order ${this.geo.orderBound}`);
    }
    if (freeBits !== freeLeaves) {
      this.corrupt(`${freeBits} free bits are set but ${freeLeaves} free blocks tile the span`);
    }
    let raisedBits = 0;
    const raisedWords = (this.geo.numax + BIT_MASK) >>> WORD_SHIFT;
    for (let x = 0; x < raisedWords; x++) raisedBits += popcount(w[this.raisedAt + x]);
    if (raisedBits !== raisedLive) {
      this.corrupt(`${raisedBits} raised bits are set but only ${raisedLive} live blocks have one`);
    }
    if (freeBytes !== slots[slot0 + FREE_BYTES]) {
      this.corrupt(
        `FREE_BYTES is ${slots[slot0 + FREE_BYTES]} but the free blocks hold ${freeBytes}`,
      );
    }
    if (live !== slots[slot0 + LIVE])
      this.corrupt(`LIVE is ${slots[slot0 + LIVE]} but ${live} blocks are live`);
  }

  /** Calls `fn(p)` for every set bit p < `bits` of the bitmap at word `at`. */
  protected forEachBit(at: number, bits: number, fn: (p: number) => void): void {
    const words = (bits + BIT_MASK) >>> WORD_SHIFT;
    for (let x = 0; x < words; x++) {
      let word = this.w[at + x];
      while (word !== 0) {
        const b = lowestBit(word);
        word &= word - 1;
        fn((x << WORD_SHIFT) | b);
      }
    }
  }
}
