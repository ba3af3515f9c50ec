/**
 * The FreeListAllocator's state and its treap of free blocks keyed by address, each node
 * holding the largest block size in its subtree; and the block-start bitmap. O(log n)
 * expected per operation (layout.ts says why a tree).
 */

import { BaseAllocator } from "../../core/allocator.js";
import { ArgumentTypeError, HeapIncompatibleError } from "../../core/errors.js";
import { H_CONFIG, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import * as layout from "./layout.js";
import { type FitPolicy, type FreeListOptions, priorityOf } from "./layout.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const {
  AREA_END,
  BITS_PER_WORD,
  F_LEFT,
  F_MAXSUB,
  F_PARENT,
  F_RIGHT,
  FIT_BEST,
  FIT_CODES,
  FIT_FIRST,
  FIT_NAMES,
  FIT_NEXT,
  FLAG_BITS,
  FREE_LIST_HEADER,
  GRANULE,
  PREV_USED,
  ROOT,
  SIZE_WORD_BYTES,
} = layout;

export abstract class FreeListTree extends BaseAllocator {
  /** The fit policy this heap was made with. */
  readonly fit: FitPolicy;
  protected readonly growable: boolean;
  /** Start of the first block: dataStart + 4, so payloads are 8-aligned. */
  protected readonly org: number;
  protected readonly fitCode: number;
  /** The memory's u32 view (refreshed when growth replaces it). */
  protected u: Uint32Array;
  protected constructor(memory: Memory, options: FreeListOptions) {
    const fitName = options.fit;
    if (!memory.hasBytes) {
      throw new ArgumentTypeError(
        "FreeListAllocator keeps a size word in front of every block: it needs a memory with " +
          "bytes, not an offset-only region",
        "ERR_UNSUPPORTED",
      );
    }
    const attach = options.attach === true;
    const fitCode = FIT_CODES[fitName ?? "first"];
    super(memory, StrategyKind.freeList, FREE_LIST_HEADER, 0, fitCode, attach, "FreeListAllocator");
    this.org = this.dataStart + SIZE_WORD_BYTES;
    this.u = memory.u32;
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    if (attach) {
      const stored = this.slots[this.slot0 + H_CONFIG];
      if (!(stored === FIT_FIRST || stored === FIT_BEST || stored === FIT_NEXT)) {
        throw new HeapIncompatibleError(
          `FreeListAllocator: unknown fit policy code ${stored}`,
          "ERR_HEAP_CONFIG",
        );
      }
      if (fitName !== undefined && FIT_CODES[fitName] !== stored) {
        throw new HeapIncompatibleError(
          `FreeListAllocator: the heap uses ${FIT_NAMES[stored]} fit, not ${fitName} fit`,
          "ERR_HEAP_CONFIG",
        );
      }
      this.fitCode = stored;
    } else {
      this.fitCode = fitCode;
    }
    this.fit = FIT_NAMES[this.fitCode];
  }

  protected override onViews(): void {
    this.u = this.memory.u32;
  }

  // ---- the tree of free blocks ---------------------------------------------------------------

  protected root(): number {
    return this.slots[this.slot0 + ROOT];
  }

  protected sizeOf(b: number): number {
    const w = this.u[b >>> 2];
    return w - (w & FLAG_BITS);
  }

  protected priority(b: number): number {
    const w = this.u[b >>> 2];
    return priorityOf(b + w - (w & FLAG_BITS));
  }

  /** Writes a free block's size word (PREV_USED: its left neighbour is never free) and footer. */
  protected writeFree(b: number, size: number): void {
    const u = this.u;
    u[b >>> 2] = size + PREV_USED;
    u[((b + size) >>> 2) - 1] = size;
  }

  /** MAXSUB of `x` from its own size and its children's MAXSUB. */
  protected subtreeMax(x: number): number {
    const u = this.u;
    const xi = x >>> 2;
    const w = u[xi];
    let max = w - (w & FLAG_BITS);
    const l = u[xi + F_LEFT];
    if (l !== 0 && u[(l >>> 2) + F_MAXSUB] > max) max = u[(l >>> 2) + F_MAXSUB];
    const r = u[xi + F_RIGHT];
    if (r !== 0 && u[(r >>> 2) + F_MAXSUB] > max) max = u[(r >>> 2) + F_MAXSUB];
    return max;
  }

  /** Recomputes MAXSUB from `x` up to the root (stopping once a value is unchanged if `early`). */
  protected fixMaxUp(x: number, early: boolean): void {
    const u = this.u;
    while (x !== 0) {
      const xi = x >>> 2;
      const m = this.subtreeMax(x);
      if (early && u[xi + F_MAXSUB] === m) return;
      u[xi + F_MAXSUB] = m;
      x = u[xi + F_PARENT];
    }
  }

  /** Rotates `x` above its parent, keeping address order; recomputes both MAXSUBs. */
  protected rotateUp(x: number): void {
    const u = this.u;
    const xi = x >>> 2;
    const p = u[xi + F_PARENT];
    const pi = p >>> 2;
    if (u[pi + F_LEFT] === x) {
      const c = u[xi + F_RIGHT];
      u[pi + F_LEFT] = c;
      if (c !== 0) u[(c >>> 2) + F_PARENT] = p;
      u[xi + F_RIGHT] = p;
    } else {
      const c = u[xi + F_LEFT];
      u[pi + F_RIGHT] = c;
      if (c !== 0) u[(c >>> 2) + F_PARENT] = p;
      u[xi + F_LEFT] = p;
    }
    const g = u[pi + F_PARENT];
    u[xi + F_PARENT] = g;
    u[pi + F_PARENT] = x;
    this.replaceChild(g, p, x);
    u[pi + F_MAXSUB] = this.subtreeMax(p);
    u[xi + F_MAXSUB] = this.subtreeMax(x);
  }

  /** Points `parent`'s link to `from` (or the root, when parent is 0) at `to`. */
  protected replaceChild(parent: number, from: number, to: number): void {
    if (parent === 0) {
      this.slots[this.slot0 + ROOT] = to;
      return;
    }
    const u = this.u;
    const pi = parent >>> 2;
    if (u[pi + F_LEFT] === from) u[pi + F_LEFT] = to;
    else u[pi + F_RIGHT] = to;
  }

  /** Adds free block `b` (size word and footer written) to the tree. */
  protected insertFreeBlock(b: number): void {
    const u = this.u;
    const bi = b >>> 2;
    const size = this.sizeOf(b);
    u[bi + F_LEFT] = 0;
    u[bi + F_RIGHT] = 0;
    u[bi + F_MAXSUB] = size;
    let x = this.root();
    if (x === 0) {
      u[bi + F_PARENT] = 0;
      this.slots[this.slot0 + ROOT] = b;
      return;
    }
    for (;;) {
      const xi = x >>> 2;
      if (u[xi + F_MAXSUB] < size) u[xi + F_MAXSUB] = size;
      const side = b < x ? F_LEFT : F_RIGHT;
      const c = u[xi + side];
      if (c === 0) {
        u[xi + side] = b;
        break;
      }
      x = c;
    }
    u[bi + F_PARENT] = x;
    const pb = this.priority(b);
    for (;;) {
      const p = u[bi + F_PARENT];
      if (p === 0 || this.priority(p) > pb) return;
      this.rotateUp(b);
    }
  }

  /** Takes free block `b` out of the tree. */
  protected removeFreeBlock(b: number): void {
    const u = this.u;
    const bi = b >>> 2;
    for (;;) {
      const l = u[bi + F_LEFT];
      const r = u[bi + F_RIGHT];
      if (l === 0 || r === 0) break;
      this.rotateUp(this.priority(l) > this.priority(r) ? l : r);
    }
    const child = u[bi + F_LEFT] !== 0 ? u[bi + F_LEFT] : u[bi + F_RIGHT];
    const p = u[bi + F_PARENT];
    if (child !== 0) u[(child >>> 2) + F_PARENT] = p;
    this.replaceChild(p, b, child);
    // Rotations kept every MAXSUB exact with b inside; only b's ancestors change now.
    this.fixMaxUp(p, true);
  }

  /**
   * Free block `nw` (size `size`) takes the place of `old`: no other free block lies between
   * them, and `nw` ENDS where `old` ends (every caller carves from or adds to the front), so
   * address order and heap order (priority = hash of the end) hold as they are: a rename,
   * then MAXSUB. Reads all of `old`'s fields before writing `nw`'s, as the two may overlap.
   */
  protected replaceFreeBlock(old: number, nw: number, size: number): void {
    const u = this.u;
    const oi = old >>> 2;
    const l = u[oi + F_LEFT];
    const r = u[oi + F_RIGHT];
    const p = u[oi + F_PARENT];
    const m = u[oi + F_MAXSUB];
    this.writeFree(nw, size);
    const ni = nw >>> 2;
    u[ni + F_LEFT] = l;
    u[ni + F_RIGHT] = r;
    u[ni + F_PARENT] = p;
    u[ni + F_MAXSUB] = m;
    if (l !== 0) u[(l >>> 2) + F_PARENT] = nw;
    if (r !== 0) u[(r >>> 2) + F_PARENT] = nw;
    this.replaceChild(p, old, nw);
    this.fixMaxUp(nw, true);
  }

  /**
   * Restores heap order and MAXSUB after free block `x` changed size or start (keeping its
   * place in address order): rotations only when its end, hence its priority, moved.
   */
  protected repositionFreeBlock(x: number): void {
    const u = this.u;
    const xi = x >>> 2;
    const px = this.priority(x);
    let rotated = false;
    for (;;) {
      const p = u[xi + F_PARENT];
      if (p === 0 || this.priority(p) > px) break;
      this.rotateUp(x);
      rotated = true;
    }
    for (;;) {
      const l = u[xi + F_LEFT];
      const r = u[xi + F_RIGHT];
      let c = l;
      let pc = l !== 0 ? this.priority(l) : 0;
      if (r !== 0) {
        const pr = this.priority(r);
        if (c === 0 || pr > pc) {
          c = r;
          pc = pr;
        }
      }
      if (c === 0 || pc < px) break;
      this.rotateUp(c);
      rotated = true;
    }
    // Without rotations every ancestor was exact for x's old MAXSUB: stop once unchanged.
    // Rotations already recomputed nodes whose ancestors are stale: go to the root.
    this.fixMaxUp(x, !rotated);
  }

  protected leftmost(x: number): number {
    const u = this.u;
    if (x === 0) return 0;
    while (u[(x >>> 2) + F_LEFT] !== 0) x = u[(x >>> 2) + F_LEFT];
    return x;
  }

  protected successor(x: number): number {
    const u = this.u;
    const r = u[(x >>> 2) + F_RIGHT];
    if (r !== 0) return this.leftmost(r);
    for (;;) {
      const p = u[(x >>> 2) + F_PARENT];
      if (p === 0 || u[(p >>> 2) + F_LEFT] === x) return p;
      x = p;
    }
  }

  // ---- the block-start bitmap ----------------------------------------------------------------

  /** Index in `u` of bitmap word 0. */
  protected bitmapIndex(): number {
    return (this.slots[this.slot0 + AREA_END] + SIZE_WORD_BYTES) >>> 2;
  }

  protected setBit(b: number): void {
    const g = (b - this.org) / GRANULE;
    this.u[this.bitmapIndex() + (g >>> 5)] |= 1 << (g & (BITS_PER_WORD - 1));
  }

  protected clearBit(b: number): void {
    const g = (b - this.org) / GRANULE;
    this.u[this.bitmapIndex() + (g >>> 5)] &= ~(1 << (g & (BITS_PER_WORD - 1)));
  }

  protected testBit(b: number): boolean {
    const g = (b - this.org) / GRANULE;
    return (this.u[this.bitmapIndex() + (g >>> 5)] & (1 << (g & (BITS_PER_WORD - 1)))) !== 0;
  }
}
