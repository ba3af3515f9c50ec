/**
 * A test-only parent allocator for the SlabAllocator: whole units (default 4 KiB) taken
 * first fit from a map of one byte per unit, so it can take every page back and its largest
 * free run is whole again once everything is freed. Stand-in until BlockAllocator
 * (src/strategies/block.ts) exists. Slow (O(units) per call) and fixed-size; not a strategy.
 *
 *     header: 8 common slots + 3 (UNIT, FIRST, UNITS)
 *     metadata after the header: run[u] (u32 per unit): the length of the live run starting
 *     at unit u, 0 elsewhere; used[u] (u8 per unit): 1 while unit u is in a live run.
 *     units: [FIRST + u × UNIT, FIRST + (u+1) × UNIT), FIRST = dataStart rounded up to UNIT.
 */

import { type AllocatorStats, BaseAllocator } from "../../src/core/allocator.js";
import { alignUp } from "../../src/core/bits.js";
import {
  DoubleFreeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import { declareHeader } from "../../src/core/header.js";
import type { Memory } from "../../src/core/memory.js";
import {
  checkDeallocSize,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../../src/core/validate.js";

const PARENT_HEADER = declareHeader(["UNIT", "FIRST", "UNITS"]);
const { UNIT, FIRST, UNITS } = PARENT_HEADER.slot;
/** A kind number no strategy uses. */
const PAGE_PARENT_KIND = 250;

export class PageParent extends BaseAllocator {
  readonly name = "PageParent";
  private readonly runAt: number; // u32 index of run[0]
  private readonly usedAt: number; // byte index of used[0]

  constructor(memory: Memory, unit = 4096) {
    const maxUnits = Math.max(0, Math.floor((memory.end - memory.start) / unit));
    super(memory, PAGE_PARENT_KIND, PARENT_HEADER, maxUnits * 5, unit, false, "PageParent");
    const slots = this.slots;
    const slot0 = this.slot0;
    const first = alignUp(this.dataStart, unit);
    const units = first >= memory.end ? 0 : Math.floor((memory.end - first) / unit);
    slots[slot0 + UNIT] = unit;
    slots[slot0 + FIRST] = first;
    slots[slot0 + UNITS] = units;
    const metaStart = this.extraMetaAt;
    this.runAt = metaStart / 4;
    this.usedAt = metaStart + maxUnits * 4;
    this.reset();
  }

  private get u32(): Uint32Array {
    return new Uint32Array(this.metaBuffer);
  }
  private get u8(): Uint8Array {
    return new Uint8Array(this.metaBuffer);
  }

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (this.blocked()) this.enterSlow();
    if (!isUint32(size)) {
      rejectSize(size);
      return 0;
    }
    if (!isValidAlign(align)) rejectAlign(align);
    const slots = this.slots;
    const unit = slots[this.slot0 + UNIT];
    const first = slots[this.slot0 + FIRST];
    const units = slots[this.slot0 + UNITS];
    const n = Math.max(1, Math.ceil(size / unit));
    const used = this.u8;
    for (let u = 0; u + n <= units; u++) {
      if ((first + u * unit) % Math.max(align, DEFAULT_ALIGN) !== 0) continue;
      let ok = true;
      for (let k = 0; k < n; k++) {
        if (used[this.usedAt + u + k] !== 0) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (let k = 0; k < n; k++) used[this.usedAt + u + k] = 1;
      this.u32[this.runAt + u] = n;
      return first + u * unit;
    }
    return 0;
  }

  dealloc(ptr: number, size?: number): void {
    this.enter();
    if (ptr === 0) return;
    if (!isUint32(ptr)) rejectPointer(ptr);
    checkDeallocSize(size);
    const u = this.unitOf(ptr);
    const n = this.u32[this.runAt + u];
    if (size !== undefined && size > n * this.slots[this.slot0 + UNIT]) {
      throw new LayoutMismatchError(`PageParent: ${size} bytes is more than block ${ptr} holds`);
    }
    const used = this.u8;
    for (let k = 0; k < n; k++) used[this.usedAt + u + k] = 0;
    this.u32[this.runAt + u] = 0;
  }

  usableSize(ptr: number): number {
    this.enter();
    if (!isUint32(ptr)) rejectPointer(ptr);
    return this.u32[this.runAt + this.unitOf(ptr)] * this.slots[this.slot0 + UNIT];
  }

  /** The unit index of a live run's start; throws for anything else. */
  private unitOf(ptr: number): number {
    const unit = this.slots[this.slot0 + UNIT];
    const first = this.slots[this.slot0 + FIRST];
    const u = (ptr - first) / unit;
    if (!(Number.isInteger(u) && u >= 0 && u < this.slots[this.slot0 + UNITS])) {
      throw new InvalidPointerError(`PageParent: ${ptr} is not a unit start`);
    }
    if (this.u32[this.runAt + u] === 0) {
      if (this.u8[this.usedAt + u] === 0) {
        throw new DoubleFreeError(`PageParent: unit ${ptr} is free`);
      }
      throw new InvalidPointerError(`PageParent: ${ptr} is inside a block`);
    }
    return u;
  }

  reset(): void {
    this.enter();
    const units = this.slots[this.slot0 + UNITS];
    this.u8.fill(0, this.usedAt, this.usedAt + units);
    this.u32.fill(0, this.runAt, this.runAt + units);
  }

  stats(): AllocatorStats {
    this.enter();
    const unit = this.slots[this.slot0 + UNIT];
    const units = this.slots[this.slot0 + UNITS];
    const used = this.u8;
    let usedUnits = 0;
    let live = 0;
    let run = 0;
    let longest = 0;
    for (let u = 0; u < units; u++) {
      if (this.u32[this.runAt + u] !== 0) live++;
      if (used[this.usedAt + u] !== 0) {
        usedUnits++;
        run = 0;
      } else if (++run > longest) longest = run;
    }
    const capacity = this.memory.end - this.memory.start;
    const inUse = usedUnits * unit;
    const free = (units - usedUnits) * unit;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: live,
      peakInUse: inUse,
      largestFree: longest * unit,
    };
  }

  protected checkStrategy(): void {
    const units = this.slots[this.slot0 + UNITS];
    const used = this.u8;
    let u = 0;
    while (u < units) {
      const n = this.u32[this.runAt + u];
      if (n === 0) {
        if (used[this.usedAt + u] !== 0) this.corrupt(`unit ${u} is used but in no run`);
        u++;
        continue;
      }
      for (let k = 0; k < n; k++) {
        if (used[this.usedAt + u + k] !== 1) this.corrupt(`unit ${u + k} of a run is not used`);
        if (k > 0 && this.u32[this.runAt + u + k] !== 0) this.corrupt(`run inside run at ${u}`);
      }
      u += n;
    }
  }
}
