import type { Allocator, AllocatorStats } from "../../src/core/allocator.js";
import type { Memory } from "../../src/memory/memory.js";
import { makeMemory } from "./memories.js";
import type { KitMemoryKind, Subject } from "./subject.js";

export interface Block {
  /** Id of the command that made (or last resized) the block: its paint. */
  id: number;
  ptr: number;
  size: number;
}

export interface Model {
  live: Block[];
  nextId: number;
  /**
   * The allocator's peakInUse at the last check: it may not go down until a reset() (which
   * sets this to 0).
   */
  peak: number;
}

export class Real {
  readonly a: Allocator;
  readonly mem: Memory;
  readonly fresh: AllocatorStats;
  constructor(
    readonly subject: Subject,
    readonly kind: KitMemoryKind,
  ) {
    this.a = subject.make(makeMemory(kind, undefined, subject.sharedMemory));
    // The allocator's own view of the region, whose end follows its growth (a SharedHeap
    // makes one over the buffer of the memory it is given).
    this.mem = this.a.memory;
    this.fresh = this.a.stats();
  }
  get bytes(): boolean {
    return this.mem.hasBytes;
  }
}

/**
 * The kit's assertion: one comparison, and an error naming both numbers when it fails. The
 * kit checks after every command, where vitest's `expect` costs more than the check itself.
 */
export function claim(ok: boolean, what: string, got: number, want: number): void {
  if (!ok) throw new Error(`${what}: ${got}, expected ${want}`);
}

export function paintByte(id: number, i: number): number {
  return (id * 31 + i * 7 + 1) & 0xff;
}

export function paint(r: Real, b: Block): void {
  if (!r.bytes) return;
  const u8 = r.a.memory.u8;
  for (let i = 0; i < b.size; i++) u8[b.ptr + i] = paintByte(b.id, i);
}

export function verifyPaint(r: Real, b: Block, n = b.size, at = b.ptr): void {
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
export function snapshot(r: Real): { bytes: Uint8Array; meta: Uint8Array; stats: string } {
  const m = r.a.memory;
  m.refresh();
  const bytes = r.bytes ? m.u8.slice(m.start, m.end) : new Uint8Array(0);
  const withMeta = r.a as unknown as { metadataBytes?: () => Uint8Array };
  const meta = withMeta.metadataBytes ? withMeta.metadataBytes() : new Uint8Array(0);
  return { bytes, meta, stats: JSON.stringify(r.a.stats()) };
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.length),
      Buffer.from(b.buffer, b.byteOffset, b.length),
    ) === 0
  );
}

export type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`, which must throw `cls` (one of them, with `code` if given) and change nothing. */
export function expectRejected(
  r: Real,
  what: string,
  fn: () => unknown,
  cls: ErrorClass | readonly ErrorClass[],
  code?: string,
) {
  const classes: readonly ErrorClass[] = Array.isArray(cls) ? cls : [cls as ErrorClass];
  const names = classes.map((c) => c.name).join(" or ");
  const before = snapshot(r);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`${what}: expected ${names}, nothing was thrown`);
  if (!classes.some((c) => thrown instanceof c)) {
    throw new Error(`${what}: expected ${names}, got ${String(thrown)}`);
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
export function expectOom(r: Real, what: string, fn: () => number) {
  const before = snapshot(r);
  const p = fn();
  if (p !== 0) throw new Error(`${what}: expected 0 (out of memory), got ${p}`);
  const after = snapshot(r);
  if (!sameBytes(before.bytes, after.bytes) || before.stats !== after.stats) {
    throw new Error(`${what}: state changed by a failed allocation`);
  }
}

/** The invariants that hold after every command. */
export function verifyAll(m: Model, r: Real): void {
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
  // A strategy that cannot free every block (freeOrder "none": a bump frees only its
  // newest) counts the others until reset: at least the model's.
  if (r.subject.freeOrder === "none") {
    claim(
      s.liveBlocks >= m.live.length,
      "liveBlocks ≥ the model's blocks",
      s.liveBlocks,
      m.live.length,
    );
  } else {
    claim(
      s.liveBlocks === m.live.length,
      "liveBlocks = the model's blocks",
      s.liveBlocks,
      m.live.length,
    );
  }
  claim(s.inUse >= liveBytes, "inUse ≥ the model's bytes", s.inUse, liveBytes);
  claim(s.free >= 0, "free ≥ 0", s.free, 0);
  claim(s.overhead >= 0, "overhead ≥ 0", s.overhead, 0);
  const sum = s.inUse + s.free + s.overhead;
  claim(sum === s.capacity, "inUse + free + overhead = capacity", sum, s.capacity);
  claim(s.largestFree <= s.free, "largestFree ≤ free", s.largestFree, s.free);
  claim(s.peakInUse >= s.inUse, "peakInUse ≥ inUse", s.peakInUse, s.inUse);
  // The contract: the highest inUse since creation or the last reset().
  claim(s.peakInUse >= m.peak, "peakInUse ≥ its value at the last check", s.peakInUse, m.peak);
  m.peak = s.peakInUse;
  const span = mem.end - mem.start;
  claim(s.capacity === span, "capacity = the memory's bytes", s.capacity, span);
}

export function addBlock(
  m: Model,
  r: Real,
  ptr: number,
  size: number,
  align: number,
  zeroed: boolean,
) {
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
  if (r.subject.knowsSizes) {
    const usable = r.a.usableSize(ptr);
    claim(usable >= size, "usableSize ≥ the size asked", usable, size);
  }
  const b: Block = { id: m.nextId++, ptr, size };
  paint(r, b);
  m.live.push(b);
}

export function freeBlock(r: Real, b: Block): void {
  verifyPaint(r, b);
  r.a.dealloc(b.ptr, r.subject.deallocNeedsSize ? b.size : undefined);
}

/** Index of the block a command acts on: the newest for LIFO strategies. */
export function pick(m: Model, r: Real, index: number): number {
  return r.subject.freeOrder === "lifo" ? m.live.length - 1 : index % m.live.length;
}
