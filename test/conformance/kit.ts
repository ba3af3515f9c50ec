/**
 * The conformance kit: one model-based property suite run for every strategy on every memory
 * kind it supports (DESIGN.md principle 3, STYLE.md habit 7, RELIABILITY.md §3.1 layer 5).
 *
 * fast-check generates programs of commands (alloc, allocZeroed, dealloc, realloc, reset, and
 * misuse from RELIABILITY.md §2.2 A–D) and runs them against the allocator and a model (the
 * list of live blocks). After every command:
 * - `check()` passes, and the paint of every live block is intact (each block is filled with
 *   a pattern derived from the id of the command that made it);
 * - live blocks are aligned, inside the region and pairwise disjoint;
 * - `stats()` agrees with the model (live blocks, bytes in use, conservation).
 * After every rejected command, every byte of the memory and of the metadata, and `stats()`,
 * are exactly as before. At the end everything is freed and the whole capacity is available
 * again, as on a fresh allocator.
 *
 * Runs: MEMKIT_RUNS (default 1,000) with the fixed seed, and the same with one random seed
 * that is printed so a failure can be replayed (MEMKIT_SEED=... to pin it).
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Allocator, AllocatorStats } from "../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import type { Memory } from "../../src/memory/memory.js";
import { makeMemory } from "./memories.js";
import type { KitMemoryKind, Subject } from "./subject.js";

export const FIXED_SEED = 20261121;
const RUNS = Number(process.env.MEMKIT_RUNS ?? 1000);
const MAX_COMMANDS = Number(process.env.MEMKIT_COMMANDS ?? 40);

// ---- the system under test and the model ---------------------------------------------------

interface Block {
  /** Id of the command that made (or last resized) the block: its paint. */
  id: number;
  ptr: number;
  size: number;
}

interface Model {
  live: Block[];
  nextId: number;
}

class Real {
  readonly a: Allocator;
  readonly mem: Memory;
  readonly fresh: AllocatorStats;
  constructor(
    readonly subject: Subject,
    readonly kind: KitMemoryKind,
  ) {
    this.mem = makeMemory(kind);
    this.a = subject.make(this.mem);
    this.fresh = this.a.stats();
  }
  get bytes(): boolean {
    return this.mem.hasBytes;
  }
}

function paintByte(id: number, i: number): number {
  return (id * 31 + i * 7 + 1) & 0xff;
}

function paint(r: Real, b: Block): void {
  if (!r.bytes) return;
  const u8 = r.a.memory.u8;
  for (let i = 0; i < b.size; i++) u8[b.ptr + i] = paintByte(b.id, i);
}

function verifyPaint(r: Real, b: Block, n = b.size, at = b.ptr): void {
  if (!r.bytes) return;
  r.a.memory.refresh();
  const u8 = r.a.memory.u8;
  for (let i = 0; i < n; i++) {
    if (u8[at + i] !== paintByte(b.id, i)) {
      throw new Error(
        `paint of block #${b.id} [${b.ptr}, +${b.size}) broken at byte ${i} (address ${at + i}): ` +
          `${u8[at + i]} != ${paintByte(b.id, i)}`,
      );
    }
  }
}

/** Everything a rejected call must leave untouched: the bytes and the stats. */
function snapshot(r: Real): { bytes: Uint8Array; meta: Uint8Array; stats: string } {
  const m = r.a.memory;
  m.refresh();
  const bytes = r.bytes ? m.u8.slice(m.start, m.end) : new Uint8Array(0);
  const withMeta = r.a as unknown as { metadataBytes?: () => Uint8Array };
  const meta = withMeta.metadataBytes ? withMeta.metadataBytes() : new Uint8Array(0);
  return { bytes, meta, stats: JSON.stringify(r.a.stats()) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.length),
      Buffer.from(b.buffer, b.byteOffset, b.length),
    ) === 0
  );
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`, which must throw `cls` (with `code` if given) and change nothing. */
function expectRejected(r: Real, what: string, fn: () => unknown, cls: ErrorClass, code?: string) {
  const before = snapshot(r);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`${what}: expected ${cls.name}, nothing was thrown`);
  if (!(thrown instanceof cls)) {
    throw new Error(`${what}: expected ${cls.name}, got ${String(thrown)}`);
  }
  if (code !== undefined && (thrown as { code?: string }).code !== code) {
    throw new Error(`${what}: expected code ${code}, got ${(thrown as { code?: string }).code}`);
  }
  const after = snapshot(r);
  if (!sameBytes(before.bytes, after.bytes)) throw new Error(`${what}: memory bytes changed`);
  if (!sameBytes(before.meta, after.meta)) throw new Error(`${what}: metadata bytes changed`);
  if (before.stats !== after.stats) {
    throw new Error(`${what}: stats changed: ${before.stats} -> ${after.stats}`);
  }
}

/** Runs `fn`, which must return 0 (out of memory) and change nothing. */
function expectOom(r: Real, what: string, fn: () => number) {
  const before = snapshot(r);
  const p = fn();
  if (p !== 0) throw new Error(`${what}: expected 0 (out of memory), got ${p}`);
  const after = snapshot(r);
  if (!sameBytes(before.bytes, after.bytes) || before.stats !== after.stats) {
    throw new Error(`${what}: state changed by a failed allocation`);
  }
}

/** The invariants that hold after every command. */
function verifyAll(m: Model, r: Real): void {
  r.a.check();
  const s = r.a.stats();
  const mem = r.a.memory;
  const sorted = [...m.live].sort((x, y) => x.ptr - y.ptr);
  let liveBytes = 0;
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i];
    liveBytes += b.size;
    if (b.ptr < mem.start || b.ptr + b.size > mem.end) {
      throw new Error(`block #${b.id} [${b.ptr}, +${b.size}) outside [${mem.start}, ${mem.end})`);
    }
    if (i > 0) {
      const p = sorted[i - 1];
      if (p.ptr + Math.max(p.size, 1) > b.ptr) {
        throw new Error(`blocks #${p.id} [${p.ptr}, +${p.size}) and #${b.id} [${b.ptr}) overlap`);
      }
    }
    verifyPaint(r, b);
  }
  expect(s.liveBlocks).toBe(m.live.length);
  expect(s.inUse).toBeGreaterThanOrEqual(liveBytes);
  expect(s.free).toBeGreaterThanOrEqual(0);
  expect(s.overhead).toBeGreaterThanOrEqual(0);
  expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
  expect(s.largestFree).toBeLessThanOrEqual(s.free);
  expect(s.peakInUse).toBeGreaterThanOrEqual(s.inUse);
  expect(s.capacity).toBe(mem.end - mem.start);
}

function addBlock(m: Model, r: Real, ptr: number, size: number, align: number, zeroed: boolean) {
  const mem = r.a.memory;
  const want = Math.max(align, 8);
  if (ptr % want !== 0) throw new Error(`alloc(${size}, ${align}) = ${ptr} is not ${want}-aligned`);
  if (ptr < mem.start || ptr + size > mem.end) {
    throw new Error(`alloc(${size}) = ${ptr} is outside [${mem.start}, ${mem.end})`);
  }
  for (const b of m.live) {
    if (ptr < b.ptr + Math.max(b.size, 1) && b.ptr < ptr + Math.max(size, 1)) {
      throw new Error(
        `alloc(${size}) = ${ptr} overlaps live block #${b.id} [${b.ptr}, +${b.size})`,
      );
    }
  }
  if (zeroed && r.bytes) {
    const u8 = mem.u8;
    for (let i = 0; i < size; i++) {
      if (u8[ptr + i] !== 0)
        throw new Error(`allocZeroed(${size}) = ${ptr}: byte ${i} is ${u8[ptr + i]}`);
    }
  }
  if (r.subject.knowsSizes) expect(r.a.usableSize(ptr)).toBeGreaterThanOrEqual(size);
  const b: Block = { id: m.nextId++, ptr, size };
  paint(r, b);
  m.live.push(b);
}

function freeBlock(r: Real, b: Block): void {
  verifyPaint(r, b);
  r.a.dealloc(b.ptr, r.subject.deallocNeedsSize ? b.size : undefined);
}

/** Index of the block a command acts on: the newest for LIFO strategies. */
function pick(m: Model, r: Real, index: number): number {
  return r.subject.freeOrder === "lifo" ? m.live.length - 1 : index % m.live.length;
}

// ---- commands ------------------------------------------------------------------------------

type Cmd = fc.Command<Model, Real>;

class AllocCmd implements Cmd {
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

class DeallocCmd implements Cmd {
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

class ReallocCmd implements Cmd {
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

class ResetCmd implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    r.a.reset();
    m.live = [];
    verifyAll(m, r);
  }
  toString = () => "reset()";
}

const BAD_SIZES: readonly unknown[] = [
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
const BAD_ALIGNS: readonly unknown[] = [0, 3, 24, 2.5, Number.NaN, "8", 2 ** 17, -8, 8n, null];
/** Valid integers larger than any heap: C answers NULL, so must we (RELIABILITY A5, A12). */
const HUGE_SIZES: readonly number[] = [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 8, 2 ** 40, 2 ** 53 - 1];

class BadSizeCmd implements Cmd {
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

class HugeSizeCmd implements Cmd {
  constructor(readonly value: number) {}
  check = () => true;
  run(_m: Model, r: Real): void {
    expectOom(r, `alloc(${this.value})`, () => r.a.alloc(this.value, 8));
  }
  toString = () => `alloc(huge ${this.value})`;
}

class BadAlignCmd implements Cmd {
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

type PointerKind =
  | "negative"
  | "fraction"
  | "nan"
  | "string"
  | "bigint"
  | "beyondEnd"
  | "over32"
  | "interior"
  | "misaligned"
  | "header";

class BadPointerCmd implements Cmd {
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
    let cls: ErrorClass = InvalidPointerError;
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
    if (this.via === "usableSize" && !s.knowsSizes && cls === InvalidPointerError)
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

class DoubleFreeCmd implements Cmd {
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

class NotTopCmd implements Cmd {
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

class ReallocZeroCmd implements Cmd {
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

class SizeMismatchCmd implements Cmd {
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

function commandsFor(s: Subject): fc.Arbitrary<Iterable<Cmd>> {
  const { min, max } = s.sizes;
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min, max: Math.min(max, Math.max(min, 256)) }) },
    { weight: 2, arbitrary: fc.integer({ min, max }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
  );
  const align = fc
    .integer({ min: 0, max: Math.log2(s.maxAlign) })
    .map((k) => 2 ** k)
    .chain((a) => fc.constantFrom(a, 8, 8));
  const index = fc.nat({ max: 1000 });
  const cmds: fc.Arbitrary<Cmd>[] = [
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    index.map((i) => new DeallocCmd(i)),
    index.map((i) => new DeallocCmd(i)),
    fc
      .tuple(index, fc.integer({ min: Math.max(min, 1), max }), align)
      .map(([i, n, a]) => new ReallocCmd(i, n, a)),
    fc
      .tuple(
        fc.constantFrom(...BAD_SIZES),
        fc.constantFrom("alloc" as const, "allocZeroed" as const),
      )
      .map(([v, via]) => new BadSizeCmd(v, via)),
    fc.constantFrom(...HUGE_SIZES).map((v) => new HugeSizeCmd(v)),
    fc.constantFrom(...BAD_ALIGNS).map((v) => new BadAlignCmd(v)),
    fc
      .tuple(
        fc.constantFrom<PointerKind>(
          "negative",
          "fraction",
          "nan",
          "string",
          "bigint",
          "beyondEnd",
          "over32",
          "interior",
          "misaligned",
          "header",
        ),
        fc.constantFrom("dealloc" as const, "realloc" as const, "usableSize" as const),
        index,
      )
      .map(([k, via, i]) => new BadPointerCmd(k, via, i)),
    index.map((i) => new ReallocZeroCmd(i)),
    index.map((i) => new SizeMismatchCmd(i)),
  ];
  if (s.hasReset) cmds.push(fc.constant(new ResetCmd()));
  if (s.detectsDoubleFree && s.freeOrder === "any") {
    cmds.push(
      fc
        .tuple(index, fc.constantFrom("dealloc" as const, "realloc" as const))
        .map(([i, via]) => new DoubleFreeCmd(i, via)),
    );
  }
  if (s.freeOrder === "lifo") cmds.push(index.map((i) => new NotTopCmd(i)));
  return fc.commands(cmds, { maxCommands: MAX_COMMANDS });
}

/** Frees everything the model holds, in an order the strategy accepts, and checks the end. */
function freeEverything(m: Model, r: Real): void {
  const s = r.subject;
  if (s.freeOrder === "none") {
    for (const b of m.live) verifyPaint(r, b);
    r.a.reset();
    m.live = [];
  } else {
    while (m.live.length > 0) {
      const b = m.live.pop()!;
      freeBlock(r, b);
    }
  }
  verifyAll(m, r);
  const st = r.a.stats();
  expect(st.liveBlocks).toBe(0);
  expect(st.inUse).toBe(0);
  if (!s.reclaimsAll) return;
  const grew = st.capacity !== r.fresh.capacity;
  if (grew) {
    expect(st.free).toBeGreaterThanOrEqual(r.fresh.free);
    expect(st.largestFree).toBeGreaterThanOrEqual(r.fresh.largestFree);
  } else {
    expect(st.free).toBe(r.fresh.free);
    expect(st.largestFree).toBe(r.fresh.largestFree);
  }
  // The whole capacity can be allocated again: greedily, in the largest pieces on offer.
  const taken: Block[] = [];
  let got = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const n = r.a.stats().largestFree;
    if (n === 0) break;
    const p = r.a.alloc(n, 1);
    if (p === 0) throw new Error(`alloc(largestFree = ${n}, 1) failed after freeing everything`);
    got += n;
    taken.push({ id: -1, ptr: p, size: n });
  }
  expect(got).toBeGreaterThanOrEqual(st.largestFree);
  if (s.hasReset) r.a.reset();
  else {
    for (let t = taken.pop(); t !== undefined; t = taken.pop()) {
      r.a.dealloc(t.ptr, s.deallocNeedsSize ? t.size : undefined);
    }
  }
  r.a.check();
}

/** Registers the conformance properties of `subject` with vitest. */
export function runConformance(subject: Subject): void {
  const randomSeed = Number(
    process.env.MEMKIT_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0,
  );
  describe(`conformance: ${subject.name}`, () => {
    for (const kind of subject.kinds) {
      const property = fc.property(commandsFor(subject), (cmds) => {
        const real = new Real(subject, kind);
        const model: Model = { live: [], nextId: 1 };
        verifyAll(model, real);
        fc.modelRun(() => ({ model, real }), cmds);
        freeEverything(model, real);
      });
      const numRuns = Math.min(subject.runs ?? RUNS, RUNS);
      it(`${kind} memory, fixed seed ${FIXED_SEED}`, () => {
        fc.assert(property, { numRuns, seed: FIXED_SEED });
      });
      it(`${kind} memory, random seed`, () => {
        console.log(`conformance ${subject.name} on ${kind}: random seed ${randomSeed}`);
        fc.assert(property, { numRuns, seed: randomSeed });
      });
    }
  });
}
