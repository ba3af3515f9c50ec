/**
 * The kit's corruption commands (RELIABILITY.md §2.1, §3.1 layer 3): the caller's memory
 * damaged under the allocator, which no rejected call can do. Each ends its program:
 * - a damaged byte of the common header (magic, version, kind, state, config): the next call
 *   (if the magic was hit) or `check()` throws `HeapCorruptedError`, and the heap stays
 *   poisoned: every later call throws `HeapPoisonedError`. A wrapper (the hardening
 *   ladder, a chain, a SharedHeap) has no header of its own: the byte is in the header of
 *   one of the heaps it wraps, `check()` must find it, and the wrapper is then poisoned;
 * - a write past a live block's usable bytes (up to MAX_WRITE bytes, never into another live
 *   block): where the strategy keeps in-band words after every block (`afterBlock:
 *   "words"`), `check()` throws `HeapCorruptedError` once the write reaches them (8 bytes, or
 *   up to the next live block), and so does freeing the next live block when every byte
 *   before it was hit; the heap then stays poisoned. `"headers"` (a header before each
 *   block, free space past the newest): the same once the write reaches the next live
 *   block. `"none"` (metadata out of line): nothing the allocator reads changed, so
 *   `check()` passes and the program ends as any other (everything freed and allocated
 *   again, no block overlapping another). `"some"`: either outcome.
 */

import fc from "fast-check";
import type { Allocator } from "../../src/core/allocator.js";
import { HeapCorruptedError, HeapPoisonedError } from "../../src/core/errors.js";
import { H_CONFIG, H_KIND, H_MAGIC, H_STATE, H_VERSION } from "../../src/core/header.js";
import { thrown } from "../helpers/thrown.js";
import type { Cmd } from "./commands.js";
import { type Block, type Model, pick, type Real } from "./model.js";

/** What a corruption command leaves: a poisoned heap, or one that must keep working. */
export type Outcome = "poisoned" | "working";

/** A command that damages memory under the allocator; the program ends after it. */
export interface CorruptCmd extends Cmd {
  /** Damages, checks what the strategy promises, and says what it left. */
  corrupt(m: Model, r: Real): Outcome;
}

/** A heap's common header: the slots of a BaseAllocator (protected fields). */
interface Header {
  slots: Float64Array;
  slot0: number;
}

/**
 * The common headers `a` calls through: its own (a strategy), or, for a wrapper, those of
 * the allocators it wraps (`inner`: the hardening ladder's, a recorder's, a SharedHeap's
 * TLSF; `members`: a chain's), at any depth.
 */
function headersOf(a: Allocator): Header[] {
  const h = a as unknown as {
    slots?: unknown;
    slot0?: unknown;
    inner?: unknown;
    members?: unknown;
  };
  if (h.slots instanceof Float64Array && typeof h.slot0 === "number") {
    a.stats(); // the entry check re-derives views a growth made stale
    return [{ slots: h.slots as Float64Array, slot0: h.slot0 }];
  }
  const wrapped = [h.inner, ...(Array.isArray(h.members) ? h.members : [])];
  return wrapped.flatMap((w) =>
    typeof w === "object" && w !== null ? headersOf(w as Allocator) : [],
  );
}

/** Whether `a` is a strategy itself (every call reads its header), not a wrapper. */
function isStrategy(a: Allocator): boolean {
  return (a as unknown as { slots?: unknown }).slots instanceof Float64Array;
}

function describeError(e: unknown): string {
  return e === undefined ? "nothing was thrown" : `${(e as Error).name}: ${(e as Error).message}`;
}

/** Every later call of the poisoned heap throws HeapPoisonedError. */
function expectPoisoned(m: Model, r: Real, what: string): void {
  const calls: Array<[string, () => unknown]> = [
    ["alloc(8)", () => r.a.alloc(8)],
    ["stats()", () => r.a.stats()],
    ["check()", () => r.a.check()],
  ];
  const b = m.live[0];
  if (b !== undefined) {
    const size = r.subject.deallocNeedsSize ? b.size : undefined;
    calls.push([`dealloc(#${b.id})`, () => r.a.dealloc(b.ptr, size)]);
  }
  for (const [name, call] of calls) {
    const e = thrown(call);
    if (!(e instanceof HeapPoisonedError)) {
      throw new Error(`${what}, then ${name}: expected HeapPoisonedError, ${describeError(e)}`);
    }
  }
}

const SLOTS = [
  ["MAGIC", H_MAGIC],
  ["VERSION", H_VERSION],
  ["KIND", H_KIND],
  ["STATE", H_STATE],
  ["CONFIG", H_CONFIG],
] as const;

type NextCall = "check" | "alloc" | "stats" | "dealloc" | "realloc" | "usableSize";

/**
 * A byte of a common header slot XORed with a mask, then one call. Through a wrapper, the
 * byte is in one of the headers of the heaps it wraps (`which`), and only `check()` must
 * find it at once: a call the wrapper serves without that heap (a chain's other member, a
 * SharedHeap's lock-free small-block cache, a quarantine) need not read the header.
 */
export class CorruptHeaderCmd implements CorruptCmd {
  constructor(
    readonly slot: number,
    readonly byte: number,
    readonly mask: number,
    readonly next: NextCall,
    readonly index: number,
    readonly which = 0,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    this.corrupt(m, r);
  }
  corrupt(m: Model, r: Real): Outcome {
    const headers = headersOf(r.a);
    if (headers.length === 0) return "working"; // not generated then (see corruptionFor)
    const [name, at] = SLOTS[this.slot];
    const { slots, slot0 } = headers[this.which % headers.length];
    const bytes = new Uint8Array(slots.buffer, slots.byteOffset + (slot0 + at) * 8, 8);
    bytes[this.byte] ^= this.mask;
    const what = `${this}`;
    const b = m.live.length > 0 ? m.live[pick(m, r, this.index)] : undefined;
    const call = (): unknown => {
      if (this.next === "check") return r.a.check();
      if (this.next === "stats") return r.a.stats();
      if (this.next === "alloc" || b === undefined) return r.a.alloc(8);
      if (this.next === "dealloc") {
        return r.a.dealloc(b.ptr, r.subject.deallocNeedsSize ? b.size : undefined);
      }
      if (this.next === "realloc") {
        const s = r.subject;
        return s.realloc
          ? s.realloc(r.a, b.ptr, b.size, b.size + 8, 8)
          : r.a.realloc(b.ptr, b.size + 8);
      }
      return r.a.usableSize(b.ptr);
    };
    const e = thrown(call);
    // The entry guard reads the magic on every call; the other slots are compared by check()
    // (and whenever a call takes the slow path).
    const mustThrow = (at === H_MAGIC && isStrategy(r.a)) || this.next === "check";
    const sizeRefused = this.next === "usableSize" && !r.subject.knowsSizes;
    if (!(e instanceof HeapCorruptedError) && (e !== undefined || mustThrow) && !sizeRefused) {
      throw new Error(`${what} (${name}): expected HeapCorruptedError, ${describeError(e)}`);
    }
    if (!(e instanceof HeapCorruptedError)) {
      const c = thrown(() => r.a.check());
      if (!(c instanceof HeapCorruptedError)) {
        throw new Error(
          `${what} (${name}), then check(): expected HeapCorruptedError, ${describeError(c)}`,
        );
      }
    }
    expectPoisoned(m, r, what);
    return "poisoned";
  }
  toString = () =>
    `corruptHeader(${this.which > 0 ? `header ${this.which}, ` : ""}${SLOTS[this.slot][0]} byte ${this.byte} ^ ${this.mask}, then ${this.next} #${this.index})`;
}

/** The live block starting first at or after `at`, if any. */
function nextLive(m: Model, at: number): Block | undefined {
  let best: Block | undefined;
  for (const b of m.live) if (b.ptr >= at && (best === undefined || b.ptr < best.ptr)) best = b;
  return best;
}

/** The most bytes written past a block: past a stack's padding (< 8) and 8-byte header. */
const MAX_WRITE = 16;

/** Up to MAX_WRITE bytes past a live block's usable end, each XORed with a mask, then one call. */
export class WritePastCmd implements CorruptCmd {
  constructor(
    readonly index: number,
    readonly masks: readonly number[],
    readonly next: "check" | "next block",
  ) {}
  check = (m: Readonly<Model>) => m.live.length > 0;
  run(m: Model, r: Real): void {
    this.corrupt(m, r);
  }
  corrupt(m: Model, r: Real): Outcome {
    const s = r.subject;
    const b = m.live[this.index % m.live.length];
    const mem = r.a.memory;
    const end = b.ptr + (s.knowsSizes ? r.a.usableSize(b.ptr) : b.size);
    const after = nextLive(m, end);
    // Never into another live block (its paint is the caller's own), nor past the memory.
    const stop = Math.min(end + this.masks.length, after?.ptr ?? mem.end, mem.end);
    if (stop <= end) return "working";
    mem.refresh();
    const u8 = mem.u8;
    for (let i = end; i < stop; i++) u8[i] ^= this.masks[i - end];
    const what = `${this} on #${b.id} [${b.ptr}, +${b.size}): bytes [${end}, ${stop}) damaged`;
    // In-band words start within 8 bytes of the usable end (a stack pads to its next header):
    // a write of 8 bytes, or one up to the next live block, reaches them.
    const reaches = stop - end >= 8 || stop === after?.ptr;
    // Where the words are a header before each block, the write must reach the next one.
    const required =
      s.afterBlock === "words" ? reaches : s.afterBlock === "headers" && stop === after?.ptr;
    // Every in-band word before the next live block was damaged: freeing it must notice.
    const victim = after !== undefined && stop === after.ptr ? after : undefined;
    // Freeing the block whose header was hit finds the damage (a stack frees only its newest
    // block); where the words are the previous block's canary, check() does.
    const top = m.live[m.live.length - 1];
    // Where only some blocks are followed by in-band words, freeing the next block may find
    // the damage or not; where it does, the heap must be poisoned as anywhere else.
    if (
      this.next === "next block" &&
      victim !== undefined &&
      (required || s.afterBlock === "some") &&
      (s.freeOrder === "any" || victim === top)
    ) {
      const d = thrown(() => r.a.dealloc(victim.ptr, s.deallocNeedsSize ? victim.size : undefined));
      if (d instanceof HeapCorruptedError) {
        expectPoisoned(m, r, what);
        return "poisoned";
      }
      // A canary belongs to the block before it: freeing the next block need not read it,
      // but check() below must.
      if (d !== undefined) {
        throw new Error(
          `${what}, then dealloc(#${victim.id}): expected HeapCorruptedError, ${describeError(d)}`,
        );
      }
      m.live.splice(m.live.indexOf(victim), 1);
    }
    const e = thrown(() => r.a.check());
    if (e instanceof HeapCorruptedError && s.afterBlock !== "none") {
      expectPoisoned(m, r, what);
      return "poisoned";
    }
    if (required || e !== undefined) {
      const want = s.afterBlock === "none" ? "nothing (no in-band words)" : "HeapCorruptedError";
      throw new Error(`${what}: expected ${want}, ${describeError(e)}`);
    }
    return "working";
  }
  toString = () =>
    `writePast(#${this.index}, ${this.masks.length} bytes ^ [${this.masks.join(",")}], then ${this.next})`;
}

/**
 * The corruption ending a program, or null: one program in `ONE_IN` ends with one, so the
 * other programs still end by freeing everything.
 */
export function corruptionFor(
  hasBytes: boolean,
  probe: Allocator,
): fc.Arbitrary<CorruptCmd | null> {
  const index = fc.nat({ max: 1000 });
  const mask = fc.integer({ min: 1, max: 255 });
  const kinds: fc.Arbitrary<CorruptCmd>[] = [];
  const headers = headersOf(probe).length;
  if (headers > 0) {
    kinds.push(
      fc
        .tuple(
          fc.nat({ max: SLOTS.length - 1 }),
          fc.nat({ max: 7 }),
          mask,
          fc.constantFrom<NextCall>("check", "alloc", "stats", "dealloc", "realloc", "usableSize"),
          index,
          fc.nat({ max: headers - 1 }),
        )
        .map(([slot, byte, m, next, i, w]) => new CorruptHeaderCmd(slot, byte, m, next, i, w)),
    );
  }
  if (hasBytes) {
    kinds.push(
      fc
        .tuple(
          index,
          fc.array(mask, { minLength: 1, maxLength: MAX_WRITE }),
          fc.constantFrom("check" as const, "next block" as const),
        )
        .map(([i, masks, next]) => new WritePastCmd(i, masks, next)),
    );
  }
  if (kinds.length === 0) return fc.constant(null);
  return fc.oneof(
    { weight: ONE_IN - 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.oneof(...kinds) },
  );
}

/** One program in ONE_IN ends with a corruption command. */
export const ONE_IN = 8;
