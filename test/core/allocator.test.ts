/**
 * `BaseAllocator` and the helpers of core/allocator.ts, through a minimal strategy (`Probe`,
 * which only places its header) and through TLSF: where the metadata may go, what a memory
 * too small for it gives, the Layout forms' argument checks, `allocOrThrow`, `isAllocator`.
 * Written from the mutation run over core/allocator.ts (README, "Mutation testing").
 */

import { describe, expect, it } from "vitest";
import { carve } from "../../src/compose/child.js";
import { type AllocatorStats, BaseAllocator, isAllocator } from "../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  OutOfMemoryError,
} from "../../src/core/errors.js";
import {
  declareHeader,
  H_KIND,
  H_MAGIC,
  H_STATE,
  MAGIC,
  POISONED_MAGIC,
  STATE_POISONED,
  StrategyKind,
} from "../../src/core/header.js";
import { Layout } from "../../src/core/layout.js";
import type { Memory } from "../../src/core/memory.js";
import { FixedMemory, GrowableMemory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { SlabAllocator } from "../../src/strategies/slab/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { thrown } from "../helpers/thrown.js";

const PROBE_HEADER = declareHeader(["A"], ["W"]);

/** A strategy that only places its header (and `extra` bytes of metadata); it never has room. */
class Probe extends BaseAllocator {
  readonly name = "Probe";
  constructor(memory: Memory, o: { attach?: boolean; metaAt?: number; extra?: number } = {}) {
    super(
      memory,
      StrategyKind.bump,
      PROBE_HEADER,
      o.extra ?? 0,
      0,
      o.attach ?? false,
      "Probe",
      o.metaAt,
    );
  }
  alloc(): number {
    return 0;
  }
  dealloc(): void {}
  usableSize(): number {
    return 0;
  }
  reset(): void {}
  stats(): AllocatorStats {
    throw new Error("not used");
  }
  protected checkStrategy(): void {}
  /** Where the header went, and where blocks may start. */
  get placed(): { metaAt: number; dataStart: number } {
    return { metaAt: this.metaAt, dataStart: this.dataStart };
  }
}

/** Bytes of a Probe's header and metadata. */
const PROBE_BYTES = PROBE_HEADER.bytes;

function throwsWith(
  f: () => unknown,
  type: new (...a: never[]) => Error,
  code: string,
  msg: RegExp,
) {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as { code: string }).code).toBe(code);
  expect((caught as Error).message).toMatch(msg);
}

describe("where BaseAllocator puts its metadata", () => {
  it("at a given 8-aligned address inside the region, from its start to its very end", () => {
    const mem = new FixedMemory(new ArrayBuffer(1024), 64, 512);
    expect(new Probe(mem, { metaAt: 64 }).placed).toEqual({ metaAt: 64, dataStart: 64 });
    const last = 576 - PROBE_BYTES;
    expect(new Probe(mem, { metaAt: last }).placed.metaAt).toBe(last);
    expect(mem.f64[last / 8]).toBe(MAGIC);
  });

  it("refuses an address that is unaligned, before the region, or leaves no room, writing nothing", () => {
    const buf = new ArrayBuffer(1024);
    const mem = new FixedMemory(buf, 64, 512);
    const before = new Uint8Array(buf).slice();
    for (const at of [68, 56, 0, 576 - PROBE_BYTES + 8, 576, 1024]) {
      throwsWith(
        () => new Probe(mem, { metaAt: at }),
        ArgumentRangeError,
        "ERR_MEMORY",
        new RegExp(`Probe: metadata cannot be placed at ${at}`),
      );
    }
    // Room for the header but not for the metadata after it.
    throwsWith(
      () => new Probe(mem, { metaAt: 576 - PROBE_BYTES, extra: 8 }),
      ArgumentRangeError,
      "ERR_MEMORY",
      /cannot be placed/,
    );
    expect(new Uint8Array(buf)).toEqual(before);
  });

  it("refuses a given address in a memory without bytes", () => {
    throwsWith(
      () => new Probe(new OffsetMemory(0, 4096), { metaAt: 64 }),
      ArgumentRangeError,
      "ERR_MEMORY",
      /cannot be placed at 64/,
    );
  });

  it("a fixed memory exactly the metadata's size holds it; one byte less is refused", () => {
    const exact = new FixedMemory(new ArrayBuffer(PROBE_BYTES));
    expect(new Probe(exact).placed).toEqual({ metaAt: 0, dataStart: PROBE_BYTES });
    const buf = new ArrayBuffer(PROBE_BYTES + 8);
    const small = new FixedMemory(buf, 0, PROBE_BYTES + 8);
    throwsWith(
      () => new Probe(small, { extra: 16 }),
      ArgumentRangeError,
      "ERR_MEMORY",
      new RegExp(
        `Probe: memory region \\[0, ${PROBE_BYTES + 8}\\) is too small for its ${PROBE_BYTES + 16} bytes of metadata`,
      ),
    );
    expect(new Uint8Array(buf).every((x) => x === 0)).toBe(true);
  });

  it("a growable memory smaller than the metadata grows to hold it", () => {
    const mem = new GrowableMemory(8, 1 << 16);
    const p = new Probe(mem, { extra: 256 });
    expect(mem.end).toBeGreaterThanOrEqual(p.placed.dataStart);
    expect(p.placed.dataStart).toBe(PROBE_BYTES + 256);
    const t = new TlsfAllocator(new GrowableMemory(16, 1 << 20));
    const q = t.alloc(100);
    expect(q).not.toBe(0);
    t.check();
  });

  it("attaching reads a header in a memory exactly its size, and refuses a smaller one", () => {
    const buf = new ArrayBuffer(PROBE_BYTES + 64);
    new Probe(new FixedMemory(buf), { extra: 64 });
    expect(new Probe(new FixedMemory(buf), { attach: true, extra: 64 }).placed.dataStart).toBe(
      PROBE_BYTES + 64,
    );
    const before = new Uint8Array(buf).slice();
    // A bad memory argument, as creating a heap in it would be: nothing was read, so no magic
    // was found wrong.
    throwsWith(
      () => new Probe(new FixedMemory(buf), { attach: true, extra: 72 }),
      ArgumentRangeError,
      "ERR_MEMORY",
      new RegExp(
        `^Probe: memory too small to hold a heap header: region \\[0, ${PROBE_BYTES + 64}\\) ` +
          `holds no ${PROBE_BYTES + 72} bytes of metadata to attach to$`,
      ),
    );
    expect(new Uint8Array(buf)).toEqual(before);
  });

  it("attaching never grows a memory too small for the header: ERR_MEMORY, nothing grown", () => {
    const mem = new GrowableMemory(16, 1 << 20);
    const end = mem.end;
    throwsWith(
      () => new Probe(mem, { attach: true }),
      ArgumentRangeError,
      "ERR_MEMORY",
      /^Probe: memory too small to hold a heap header/,
    );
    expect(mem.end).toBe(end);
  });

  it("the strategies that read their header before attaching refuse a memory too small for it with ERR_MEMORY", () => {
    for (const attach of [
      (m: Memory) => BlockAllocator.attach(m),
      (m: Memory) => PoolAllocator.attach(m),
    ]) {
      const buf = new ArrayBuffer(16);
      const e = thrown(() => attach(new FixedMemory(buf)));
      expect(e).toBeInstanceOf(ArgumentRangeError);
      expect(e).not.toBeInstanceOf(HeapIncompatibleError);
      expect((e as ArgumentRangeError).code).toBe("ERR_MEMORY");
      expect((e as Error).message).toMatch(
        /^(Block|Pool)Allocator: memory too small to hold a heap header$/,
      );
      expect(new Uint8Array(buf)).toEqual(new Uint8Array(16));
    }
  });

  it("attaching to a memory without bytes is a type error", () => {
    throwsWith(
      () => new Probe(new OffsetMemory(0, 4096), { attach: true }),
      ArgumentTypeError,
      "ERR_ALLOC_ARG_TYPE",
      /Probe: an offset-only memory has no heap to attach to/,
    );
  });
});

describe("the Layout forms and allocOrThrow", () => {
  const tlsf = () => new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 16)));

  it("allocate and allocateZeroed take a Layout, deallocate a Layout or nothing", () => {
    const t = tlsf();
    const p = t.alloc(32);
    const meta = t.metadataBytes();
    const fake = { size: 16, align: 8 } as unknown as Layout;
    throwsWith(
      () => t.allocate(fake),
      ArgumentTypeError,
      "ERR_ALLOC_ARG_TYPE",
      /^allocate takes a Layout$/,
    );
    throwsWith(
      () => t.allocateZeroed(fake),
      ArgumentTypeError,
      "ERR_ALLOC_ARG_TYPE",
      /^allocateZeroed takes a Layout$/,
    );
    throwsWith(
      () => t.deallocate(p, fake),
      ArgumentTypeError,
      "ERR_ALLOC_ARG_TYPE",
      /^deallocate takes a Layout$/,
    );
    expect(t.metadataBytes()).toEqual(meta);
    expect(t.usableSize(p)).toBeGreaterThanOrEqual(32);
  });

  it("allocate gives null when out of memory, the block and its usable size otherwise", () => {
    const t = tlsf();
    expect(t.allocate(Layout.of(1 << 20, 8))).toBeNull();
    expect(t.allocateZeroed(Layout.of(1 << 20, 8))).toBeNull();
    const a = t.allocate(Layout.of(20, 8));
    expect(a).not.toBeNull();
    expect(a?.size).toBe(t.usableSize(a?.ptr ?? 0));
  });

  it("allocOrThrow returns a live block, or throws OutOfMemoryError naming size and alignment", () => {
    const t = tlsf();
    const p = t.allocOrThrow(40, 16);
    expect(p % 16).toBe(0);
    expect(t.usableSize(p)).toBeGreaterThanOrEqual(40);
    expect(t.stats().liveBlocks).toBe(1);
    expect(() => t.allocOrThrow(1 << 20)).toThrow(OutOfMemoryError);
    expect(() => t.allocOrThrow(1 << 20, 64)).toThrow(
      /TlsfAllocator: out of memory for 1048576 bytes aligned to 64/,
    );
  });
});

describe("isAllocator", () => {
  const duck = () => ({
    alloc() {},
    dealloc() {},
    usableSize() {},
    owns() {},
    stats() {},
    memory: {},
  });

  it("is true of a strategy and of any object with the contract's methods and a memory", () => {
    expect(isAllocator(new TlsfAllocator(new FixedMemory(new ArrayBuffer(4096))))).toBe(true);
    expect(isAllocator(duck())).toBe(true);
  });

  it("is false of non-objects, and of objects missing any one part", () => {
    for (const x of [null, undefined, 0, 7, "alloc", true, Object.assign(() => {}, duck())]) {
      expect(isAllocator(x)).toBe(false);
    }
    for (const key of ["alloc", "dealloc", "usableSize", "owns", "stats"] as const) {
      expect(isAllocator({ ...duck(), [key]: undefined })).toBe(false);
      expect(isAllocator({ ...duck(), [key]: {} })).toBe(false);
    }
    expect(isAllocator({ ...duck(), memory: null })).toBe(false);
    expect(isAllocator({ ...duck(), memory: 4096 })).toBe(false);
    expect(isAllocator({ ...duck(), memory: undefined })).toBe(false);
  });
});

describe("BaseAllocator's generic realloc and allocZeroed (a slab uses them)", () => {
  const slab = () =>
    new SlabAllocator(new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 18))));

  it("realloc(0, n) allocates; a non-integer pointer is refused; a size past any heap gives 0", () => {
    const s = slab();
    const p = s.realloc(0, 24);
    expect(p).not.toBe(0);
    expect(s.usableSize(p)).toBeGreaterThanOrEqual(24);
    expect(() => s.realloc(p + 0.5, 8)).toThrow(InvalidPointerError);
    expect(() => s.realloc(-8, 8)).toThrow(InvalidPointerError);
    expect(s.realloc(p, 2 ** 32)).toBe(0);
    expect(s.usableSize(p)).toBeGreaterThanOrEqual(24);
  });

  it("keeps the block when it fits and is aligned enough; else moves it, copying its bytes only", () => {
    const s = slab();
    const p = s.alloc(40);
    const next = s.alloc(40);
    const u8 = s.memory.u8;
    for (let i = 0; i < 40; i++) u8[p + i] = i + 1;
    u8.fill(0xab, next, next + 40);
    expect(s.realloc(p, 40)).toBe(p);
    expect(s.realloc(p, 8)).toBe(p);
    const grown = s.realloc(p, 3000);
    expect(grown).not.toBe(p);
    expect(Array.from(u8.subarray(grown, grown + 40))).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    // Nothing past the old block (the neighbour's bytes) came along.
    expect(u8.subarray(grown + 40, grown + 3000).includes(0xab)).toBe(false);
    expect(() => s.usableSize(p)).toThrow(AllocatorError);
    // A block not aligned to what realloc asks moves to one that is.
    const q = s.alloc(24, 8);
    const r = q % 64 === 0 ? q : s.realloc(q, 24, 64);
    expect(r % 64).toBe(0);
    // Out of memory: 0, the block is still there with its bytes.
    u8[grown] = 99;
    expect(s.realloc(grown, 1 << 20)).toBe(0);
    expect(u8[grown]).toBe(99);
    expect(s.usableSize(grown)).toBeGreaterThanOrEqual(3000);
  });

  it("allocZeroed zeroes a reused block, and out of memory writes nothing", () => {
    const s = slab();
    const p = s.alloc(64);
    s.memory.u8.fill(0xff, p, p + 64);
    s.dealloc(p);
    const q = s.allocZeroed(64);
    expect(q).toBe(p);
    expect(s.memory.u8.subarray(q, q + 64).every((x) => x === 0)).toBe(true);
    const bytes = s.memory.u8.slice();
    expect(s.allocZeroed(1 << 20)).toBe(0);
    expect(Buffer.compare(s.memory.u8, bytes)).toBe(0);
  });

  it("allocate's size is the usable size; allocateZeroed zeroes", () => {
    const s = slab();
    const p = s.alloc(20);
    s.memory.u8.fill(0xff, p, p + 24);
    s.dealloc(p);
    const a = s.allocateZeroed(Layout.of(20, 8));
    expect(a?.ptr).toBe(p);
    expect(a?.size).toBe(24);
    expect(s.memory.u8.subarray(p, p + 20).every((x) => x === 0)).toBe(true);
    expect(s.allocate(Layout.of(20, 8))?.size).toBe(24);
  });
});

describe("owns, poison and drop on BaseAllocator", () => {
  it("owns the integer addresses from the data start up to the memory's end", () => {
    const mem = new FixedMemory(new ArrayBuffer(1024), 64, 512);
    const p = new Probe(mem);
    const { dataStart } = p.placed;
    expect(p.owns(dataStart)).toBe(true);
    expect(p.owns(575)).toBe(true);
    for (const x of [0, 64, dataStart - 1, 576, dataStart + 0.5, -1, Number.NaN]) {
      expect(p.owns(x), String(x)).toBe(false);
    }
  });

  it("a memory without bytes keeps its header beside it, across refreshViews", () => {
    const p = new Probe(new OffsetMemory(0, 4096));
    expect(p.placed.dataStart).toBe(8);
    p.refreshViews();
    p.check();
    expect(p.poisoned).toBe(false);
  });

  it("corruption poisons its own header and nothing before it", () => {
    const buf = new ArrayBuffer(1 << 16);
    const t = new TlsfAllocator(new FixedMemory(buf, 4096));
    const f64 = new Float64Array(buf);
    f64.fill(7, 0, 512);
    const slot0 = 4096 / 8;
    f64[slot0 + H_KIND] = StrategyKind.freeList;
    let e: unknown;
    try {
      t.check();
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(HeapCorruptedError);
    expect((e as Error).message).toBe(
      `TlsfAllocator: heap corrupted: header slot KIND holds ${StrategyKind.freeList}; this handle's heap has ${StrategyKind.tlsf}`,
    );
    expect(Array.from(f64.subarray(0, 512)).every((x) => x === 7)).toBe(true);
    expect(f64[slot0 + H_STATE]).toBe(STATE_POISONED);
    expect(f64[slot0 + H_MAGIC]).toBe(POISONED_MAGIC);
    expect(t.poisoned).toBe(true);
    expect(() => t.alloc(8)).toThrow(
      "TlsfAllocator: heap is poisoned (corruption was detected earlier); no call can succeed",
    );
  });

  it("either poison mark alone is poison", () => {
    const make = () => {
      const buf = new ArrayBuffer(1 << 16);
      return { t: new TlsfAllocator(new FixedMemory(buf)), f64: new Float64Array(buf) };
    };
    const a = make();
    a.f64[H_STATE] = STATE_POISONED;
    expect(a.t.poisoned).toBe(true);
    a.f64[H_MAGIC] = 0; // the magic damaged as well: the state slot still says poisoned
    expect(() => a.t.alloc(8)).toThrow(HeapPoisonedError);
    const b = make();
    b.f64[H_MAGIC] = POISONED_MAGIC;
    expect(b.t.poisoned).toBe(true);
    expect(() => b.t.alloc(8)).toThrow(HeapPoisonedError);
  });

  it("a poisoned heap on a wasm memory someone else grew still reads as poisoned", () => {
    const wasm = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const t = new TlsfAllocator(new WasmMemory(wasm, 0));
    new Float64Array(wasm.buffer)[H_KIND] = 0;
    expect(() => t.check()).toThrow(HeapCorruptedError);
    wasm.grow(1);
    expect(t.poisoned).toBe(true);
  });

  it("a dropped handle is not poisoned, stays dropped, and cannot be dropped twice", () => {
    const buf = new ArrayBuffer(1 << 16);
    const t = new TlsfAllocator(new FixedMemory(buf));
    expect(() => t.check()).not.toThrow();
    new Float64Array(buf)[H_STATE] = STATE_POISONED;
    t.drop();
    expect(t.poisoned).toBe(false);
    expect(() => t.alloc(8)).toThrow("TlsfAllocator was dropped; it can no longer be used");
    let e: unknown;
    try {
      t.drop();
    } catch (x) {
      e = x;
    }
    expect((e as AllocatorError).code).toBe("ERR_DESTROYED");
    expect((e as Error).message).toBe("TlsfAllocator was dropped already");
  });
});

describe("metadataBytes and drop", () => {
  it("metadataBytes is a copy: it keeps the bytes of its moment", () => {
    const t = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 16)));
    // A slab returns BaseAllocator's bytes as they are (TLSF appends its live map).
    for (const a of [t, new SlabAllocator(t)]) {
      const before = a.metadataBytes();
      const copy = before.slice();
      a.alloc(100);
      expect(before).toEqual(copy);
      expect(a.metadataBytes()).not.toEqual(before);
    }
  });

  it("a parent with a carved region alive refuses drop, naming the region", () => {
    const t = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 16)));
    const c = carve(t, 1000);
    expect(c).not.toBeNull();
    expect(() => t.drop()).toThrow(
      /^TlsfAllocator cannot be dropped while 1 region\(s\) carved from it are alive \(region \[\d+, \d+\)\): drop those first$/,
    );
    const d = carve(t, 1000);
    expect(() => t.drop()).toThrow(
      /while 2 region\(s\) carved from it are alive \(region \[\d+, \d+\); region \[\d+, \d+\)\)/,
    );
    c?.release();
    d?.release();
    t.drop();
  });
});
