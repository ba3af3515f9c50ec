/**
 * The commands of the kit's programs that a correct caller issues: alloc and allocZeroed,
 * dealloc, realloc, reset, and a run of allocations that goes on until the memory grows.
 * Each runs on the allocator and the model, then checks everything (model.ts).
 */

import type fc from "fast-check";
import {
  addBlock,
  freeBlock,
  type Model,
  pick,
  type Real,
  verifyAll,
  verifyPaint,
} from "./model.js";

export type Cmd = fc.Command<Model, Real>;

export class AllocCmd implements Cmd {
  constructor(
    readonly size: number,
    readonly align: number,
    readonly zeroed: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const p = this.zeroed
      ? r.a.allocZeroed(this.size, this.align)
      : r.a.alloc(this.size, this.align);
    if (p !== 0) addBlock(m, r, p, this.size, this.align, this.zeroed);
    verifyAll(m, r);
  }
  toString = () => `${this.zeroed ? "allocZeroed" : "alloc"}(${this.size}, ${this.align})`;
}

export class DeallocCmd implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const i = pick(m, r, this.index);
    freeBlock(r, m.live[i]);
    m.live.splice(i, 1);
    verifyAll(m, r);
  }
  toString = () => `dealloc(#${this.index})`;
}

export class ReallocCmd implements Cmd {
  constructor(
    readonly index: number,
    readonly newSize: number,
    readonly align: number,
  ) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const i = pick(m, r, this.index);
    const b = m.live[i];
    verifyPaint(r, b);
    const q = r.subject.realloc
      ? r.subject.realloc(r.a, b.ptr, b.size, this.newSize, this.align)
      : r.a.realloc(b.ptr, this.newSize, this.align);
    if (q !== 0) {
      const keep = Math.min(b.size, this.newSize);
      verifyPaint(r, b, keep, q);
      m.live.splice(i, 1);
      addBlock(m, r, q, this.newSize, this.align, false);
      // addBlock repainted it with a new id; the kept bytes were verified above.
    }
    verifyAll(m, r);
  }
  toString = () => `realloc(#${this.index}, ${this.newSize}, ${this.align})`;
}

export class ResetCmd implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    r.a.reset();
    m.live = [];
    m.peak = 0; // the peak starts again from here
    verifyAll(m, r);
  }
  toString = () => "reset()";
}

/** The most blocks one GrowCmd asks for (its bytes exceed the kit's 128 KiB region). */
export const GROW_BLOCKS = 64;

/**
 * Allocates blocks of `size` until the memory grows, the allocator answers 0, or
 * GROW_BLOCKS were taken: on a growable memory the heap then grows in most programs, not
 * only in the rare one whose small requests outgrow the start. On a memory already at its
 * maximum it allocates one block (filling it would make every later check verify up to the
 * whole region, which the kit's time cannot afford).
 */
export class GrowCmd implements Cmd {
  constructor(
    readonly size: number,
    readonly zeroed: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const end = r.a.memory.end;
    const most = end < r.a.memory.maxEnd ? GROW_BLOCKS : 1;
    for (let i = 0; i < most && r.a.memory.end === end; i++) {
      const p = this.zeroed ? r.a.allocZeroed(this.size, 8) : r.a.alloc(this.size, 8);
      if (p === 0) break;
      addBlock(m, r, p, this.size, 8, this.zeroed);
    }
    verifyAll(m, r);
  }
  toString = () => `allocUntilGrown(${this.size}${this.zeroed ? ", zeroed" : ""})`;
}
