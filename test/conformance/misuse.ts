/**
 * The kit's misuse commands (RELIABILITY.md §2.2 A–D): invalid sizes and alignments, sizes no
 * heap can hold, bad pointers of every kind, double frees, frees below a stack's top,
 * realloc to 0, a size that does not match the block. Each must throw the right error (or
 * answer 0 for a size too large) and change nothing.
 */

import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import type { Cmd } from "./commands.js";
import {
  type ErrorClass,
  expectOom,
  expectRejected,
  freeBlock,
  type Model,
  pick,
  type Real,
  verifyAll,
} from "./model.js";

export const BAD_SIZES: readonly unknown[] = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -1,
  -(2 ** 31),
  1.5,
  0.5,
  2 ** 53,
  "16",
  null,
  true,
  [],
  {},
  8n,
  undefined,
];
export const BAD_ALIGNS: readonly unknown[] = [
  0,
  3,
  24,
  2.5,
  Number.NaN,
  "8",
  2 ** 17,
  -8,
  8n,
  null,
];
/** Valid integers larger than any heap: C answers NULL, so must we (RELIABILITY A5, A12). */
export const HUGE_SIZES: readonly number[] = [
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 8,
  2 ** 40,
  2 ** 53 - 1,
];

/** Sizes `dealloc` must refuse as sizes (RangeError ERR_ALLOC_SIZE) before it looks at the block. */
export const BAD_DEALLOC_SIZES: readonly number[] = [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5];

/** `dealloc(live block, bad size)`: a range error, nothing changed, the block still live. */
export class DeallocBadSizeCmd implements Cmd {
  constructor(
    readonly index: number,
    readonly value: number,
  ) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const b = m.live[pick(m, r, this.index)];
    expectRejected(
      r,
      `dealloc(#${b.id}, ${this.value})`,
      () => r.a.dealloc(b.ptr, this.value),
      ArgumentRangeError,
      "ERR_ALLOC_SIZE",
    );
  }
  toString = () => `dealloc(#${this.index}, ${this.value})`;
}

export class BadSizeCmd implements Cmd {
  constructor(
    readonly value: unknown,
    readonly via: "alloc" | "allocZeroed",
  ) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const cls = typeof this.value === "number" ? ArgumentRangeError : ArgumentTypeError;
    const call = () => r.a[this.via](this.value as number, 8);
    expectRejected(r, `${this.via}(${String(this.value)})`, call, cls);
  }
  toString = () => `${this.via}(bad size ${String(this.value)})`;
}

export class HugeSizeCmd implements Cmd {
  constructor(readonly value: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    expectOom(r, `alloc(${this.value})`, () => r.a.alloc(this.value, 8));
  }
  toString = () => `alloc(huge ${this.value})`;
}

export class BadAlignCmd implements Cmd {
  constructor(readonly value: unknown) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    const cls = typeof this.value === "number" ? ArgumentRangeError : ArgumentTypeError;
    expectRejected(
      r,
      `alloc(8, ${String(this.value)})`,
      () => r.a.alloc(8, this.value as number),
      cls,
    );
  }
  toString = () => `alloc(8, bad align ${String(this.value)})`;
}

export type PointerKind =
  | "negative"
  | "fraction"
  | "nan"
  | "string"
  | "bigint"
  | "beyondEnd"
  | "atEnd"
  | "lastGranule"
  | "over32"
  | "interior"
  | "misaligned"
  | "header";

export class BadPointerCmd implements Cmd {
  constructor(
    readonly kind: PointerKind,
    readonly via: "dealloc" | "realloc" | "usableSize",
    readonly index: number,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const s = r.subject;
    const live = m.live.length > 0 ? m.live[this.index % m.live.length] : undefined;
    let ptr: unknown;
    let cls: ErrorClass | ErrorClass[] = InvalidPointerError;
    switch (this.kind) {
      case "negative":
        ptr = -8;
        break;
      case "fraction":
        ptr = (live?.ptr ?? 64) + 0.5;
        break;
      case "nan":
        ptr = Number.NaN;
        break;
      case "string":
        ptr = String(live?.ptr ?? 64);
        cls = ArgumentTypeError;
        break;
      case "bigint":
        ptr = 64n;
        cls = ArgumentTypeError;
        break;
      case "beyondEnd":
        ptr = r.a.memory.end + 64;
        break;
      case "atEnd":
      case "lastGranule": {
        // The region's end, or its last 8 bytes: a block's pointer only if a live block (a
        // zero-size one, at the end) starts there; inside a block for a strategy that cannot
        // tell an interior pointer, so those cases are left out.
        const at = r.a.memory.end - (this.kind === "atEnd" ? 0 : 8);
        if (m.live.some((b) => b.ptr === at)) return;
        if (!s.detectsInteriorPointers && m.live.some((b) => b.ptr < at)) return;
        ptr = at;
        // Inside free space, a strategy that cannot tell never-handed-out bytes from freed
        // ones may call it a double free.
        if (this.kind === "lastGranule") cls = [InvalidPointerError, DoubleFreeError];
        break;
      }
      case "over32":
        ptr = 2 ** 32 + 64;
        break;
      case "interior": {
        // 8 or 16 bytes in: both are aligned, so only a real block-start check rejects them.
        const into = this.index % 2 === 0 ? 8 : 16;
        if (!s.detectsInteriorPointers || !live || live.size < into * 2) return;
        ptr = live.ptr + into;
        break;
      }
      case "misaligned":
        if (!live) return;
        ptr = live.ptr + 1;
        break;
      case "header":
        if (!r.bytes) return; // an offset-only region keeps its header elsewhere
        ptr = r.a.memory.start + 8;
        break;
    }
    if (
      this.via === "usableSize" &&
      !s.knowsSizes &&
      (cls === InvalidPointerError || Array.isArray(cls))
    )
      cls = AllocatorError;
    const p = ptr as number;
    const call =
      this.via === "dealloc"
        ? () => r.a.dealloc(p, s.deallocNeedsSize ? 8 : undefined)
        : this.via === "realloc"
          ? () => (s.realloc ? s.realloc(r.a, p, 8, 16, 8) : r.a.realloc(p, 16, 8))
          : () => r.a.usableSize(p);
    expectRejected(r, `${this.via}(${this.kind} pointer ${String(ptr)})`, call, cls);
  }
  toString = () => `${this.via}(bad pointer: ${this.kind})`;
}

export class DoubleFreeCmd implements Cmd {
  constructor(
    readonly index: number,
    readonly via: "dealloc" | "realloc",
  ) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const i = pick(m, r, this.index);
    const b = m.live[i];
    freeBlock(r, b);
    m.live.splice(i, 1);
    verifyAll(m, r);
    const s = r.subject;
    const again =
      this.via === "dealloc"
        ? () => r.a.dealloc(b.ptr, s.deallocNeedsSize ? b.size : undefined)
        : () => (s.realloc ? s.realloc(r.a, b.ptr, b.size, 16, 8) : r.a.realloc(b.ptr, 16, 8));
    expectRejected(r, `${this.via} of freed block #${b.id}`, again, DoubleFreeError);
  }
  toString = () => `double ${this.via}(#${this.index})`;
}

export class NotTopCmd implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.live.length > 1;
  run(m: Model, r: Real): void {
    const b = m.live[this.index % (m.live.length - 1)];
    expectRejected(
      r,
      `dealloc of non-top #${b.id}`,
      () => r.a.dealloc(b.ptr),
      InvalidPointerError,
      "ERR_NOT_TOP",
    );
  }
  toString = () => `dealloc(not top #${this.index})`;
}

export class ReallocZeroCmd implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const b = m.live[pick(m, r, this.index)];
    const s = r.subject;
    const call = () => (s.realloc ? s.realloc(r.a, b.ptr, b.size, 0, 8) : r.a.realloc(b.ptr, 0, 8));
    expectRejected(r, `realloc(#${b.id}, 0)`, call, ArgumentRangeError, "ERR_ALLOC_SIZE");
  }
  toString = () => `realloc(#${this.index}, 0)`;
}

export class SizeMismatchCmd implements Cmd {
  constructor(readonly index: number) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    const b = m.live[pick(m, r, this.index)];
    const wrong = 2 ** 31; // larger than any block of the kit's heaps
    expectRejected(
      r,
      `dealloc(#${b.id}, ${wrong})`,
      () => r.a.dealloc(b.ptr, wrong),
      LayoutMismatchError,
    );
  }
  toString = () => `dealloc(#${this.index}, wrong size)`;
}
