/**
 * The FreeListAllocator's search: a free block for a request by the fit policy (first, best
 * or next fit) over the treap of free blocks (tree.ts), in address order, with the alignment
 * rules for the payload inside a block. Reads only; the kernel (kernel.ts, the layer above)
 * splits and links what it finds.
 */

import { alignUp } from "../../core/bits.js";
import { DEFAULT_ALIGN } from "../../core/validate.js";
import * as layout from "./layout.js";
import { maxGap } from "./layout.js";
import { FreeListTree } from "./tree.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  ALIGN_TRIES,
  F_LEFT,
  F_MAXSUB,
  F_PARENT,
  F_RIGHT,
  FIT_FIRST,
  FIT_NEXT,
  FLAG_BITS,
  MIN_BLOCK,
  ROOT,
  ROVER,
  SIZE_WORD_BYTES,
} = layout;

/** Finding a free block. @internal (the FreeListAllocator's own layer) */
export abstract class FreeListFit extends FreeListTree {
  /** A free block that can hold a block of `need` bytes at `align`, by the fit policy; or 0. */
  protected findFreeBlock(need: number, align: number): number {
    const root = this.slots[this.slot0 + ROOT];
    if (root === 0 || this.u[(root >>> 2) + F_MAXSUB] < need) return 0;
    if (this.fitCode === FIT_FIRST) {
      const b = this.leftmostFit(root, need);
      return align === DEFAULT_ALIGN ? b : this.alignedFrom(b, need, align, 0);
    }
    if (this.fitCode === FIT_NEXT)
      return this.nextFitFrom(this.slots[this.slot0 + ROVER], need, align);
    return this.bestFit(root, need, align);
  }

  /** The lowest-addressed block of subtree `x` (whose MAXSUB ≥ need) with size ≥ need. */
  protected leftmostFit(x: number, need: number): number {
    const u = this.u;
    for (;;) {
      const xi = x >>> 2;
      const l = u[xi + F_LEFT];
      if (l !== 0 && u[(l >>> 2) + F_MAXSUB] >= need) {
        x = l;
        continue;
      }
      const w = u[xi];
      if (w - (w & FLAG_BITS) >= need) return x;
      x = u[xi + F_RIGHT]; // its MAXSUB ≥ need, by the parent's
    }
  }

  /** The next block after `x` in address order with size ≥ need, or 0. */
  protected nextFit(x: number, need: number): number {
    const u = this.u;
    const r = u[(x >>> 2) + F_RIGHT];
    if (r !== 0 && u[(r >>> 2) + F_MAXSUB] >= need) return this.leftmostFit(r, need);
    for (;;) {
      const p = u[(x >>> 2) + F_PARENT];
      if (p === 0) return 0;
      const pi = p >>> 2;
      if (u[pi + F_LEFT] === x) {
        const w = u[pi];
        if (w - (w & FLAG_BITS) >= need) return p;
        const pr = u[pi + F_RIGHT];
        if (pr !== 0 && u[(pr >>> 2) + F_MAXSUB] >= need) return this.leftmostFit(pr, need);
      }
      x = p;
    }
  }

  /** Next fit: the first fitting block starting at or after `from`, else from the start. */
  protected nextFitFrom(from: number, need: number, align: number): number {
    const u = this.u;
    // The lowest block starting at or after `from`.
    let lb = 0;
    let x = this.slots[this.slot0 + ROOT];
    while (x !== 0) {
      if (x >= from) {
        lb = x;
        x = u[(x >>> 2) + F_LEFT];
      } else {
        x = u[(x >>> 2) + F_RIGHT];
      }
    }
    if (lb !== 0) {
      const b = this.alignedFrom(
        this.sizeOf(lb) >= need ? lb : this.nextFit(lb, need),
        need,
        align,
        0,
      );
      if (b !== 0) return b;
    }
    return this.alignedFrom(
      this.leftmostFit(this.slots[this.slot0 + ROOT], need),
      need,
      align,
      from,
    );
  }

  /**
   * The first block from candidate `b` on (address order, size ≥ need) that holds `need`
   * bytes at `align`, before `below` if that is not 0. Tries ALIGN_TRIES candidates, then
   * jumps to the next block large enough for any alignment gap: first fit up to that bound.
   * Only when no such block exists does it try every remaining candidate (near out of
   * memory), so an aligned request fails only when no free block can hold it.
   */
  protected alignedFrom(b: number, need: number, align: number, below: number): number {
    if (align !== DEFAULT_ALIGN) {
      for (let tries = 1; b !== 0 && !this.fitsAligned(b, need, align); tries++) {
        if (tries < ALIGN_TRIES) {
          b = this.nextFit(b, need);
          continue;
        }
        const from = b;
        b = this.nextFit(from, need + maxGap(align));
        if (b !== 0) break; // it fits whatever its gap
        b = this.nextFit(from, need);
        while (b !== 0 && !this.fitsAligned(b, need, align)) b = this.nextFit(b, need);
        break;
      }
    }
    return below !== 0 && b >= below ? 0 : b;
  }

  /** Best fit: the smallest fitting block (the lowest-addressed of equals); stops at exact. */
  protected bestFit(root: number, need: number, align: number): number {
    let best = 0;
    let bestSize = 0;
    for (let b = this.leftmostFit(root, need); b !== 0; b = this.nextFit(b, need)) {
      const s = this.sizeOf(b);
      if ((best === 0 || s < bestSize) && this.fitsAligned(b, need, align)) {
        best = b;
        bestSize = s;
        if (s === need) break;
      }
    }
    return best;
  }

  /** Where the payload goes in free block `b` for `align`: leaves no gap, or one ≥ 24. */
  protected payloadIn(b: number, align: number): number {
    const p = alignUp(b + SIZE_WORD_BYTES, align);
    const gap = p - SIZE_WORD_BYTES - b;
    return gap === 0 || gap >= MIN_BLOCK ? p : alignUp(b + SIZE_WORD_BYTES + MIN_BLOCK, align);
  }

  protected fitsAligned(b: number, need: number, align: number): boolean {
    if (align === DEFAULT_ALIGN) return true;
    return this.payloadIn(b, align) - SIZE_WORD_BYTES + need <= b + this.sizeOf(b);
  }
}
