import { describe, expect, it } from "vitest";
import { ChainAllocator } from "../../src/compose/chain.js";
import { carvingOf, childOf } from "../../src/compose/child.js";
import type { Allocator } from "../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
} from "../../src/core/errors.js";
import { Layout } from "../../src/core/layout.js";
import { Heap } from "../../src/heap/index.js";
import { FixedMemory, type Memory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BuddyAllocator } from "../../src/strategies/buddy/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { SlabAllocator } from "../../src/strategies/slab/index.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";

function expectCode(fn: () => unknown, cls: abstract new (...a: never[]) => Error, code: string) {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  expect((thrown as { code?: string }).code).toBe(code);
}

function fixed(bytes: number): FixedMemory {
  return new FixedMemory(new ArrayBuffer(bytes), 0, bytes, true);
}

/** Every byte of the memory, every member's metadata, and the stats. */
function snapshot(chain: ChainAllocator): string {
  const m = chain.memory;
  const bytes = m.hasBytes ? Buffer.from(m.u8.subarray(m.start, m.end)).toString("hex") : "";
  const meta = Buffer.from(chain.metadataBytes()).toString("hex");
  return `${bytes}|${meta}|${JSON.stringify(chain.stats())}`;
}

/** A Bump of `first` bytes in front of a TLSF over the rest of a 64 KiB memory. */
function bumpThenTlsf(first = 1024) {
  const memory = fixed(1 << 16);
  const bump = new BumpAllocator(memory.region(0, first));
  const tlsf = new TlsfAllocator(memory.region(first, memory.end));
  const chain = new ChainAllocator([bump, tlsf], { memory });
  return { memory, bump, tlsf, chain };
}

describe("ChainAllocator: fall back, route by owner", () => {
  it("serves from the first member until it is out of memory, then from the next", () => {
    const { bump, tlsf, chain } = bumpThenTlsf();
    const ptrs: number[] = [];
    for (let i = 0; i < 20; i++) ptrs.push(chain.alloc(100));
    const owners = ptrs.map((p) => chain.memberOf(p));
    const inBump = owners.filter((o) => o === bump).length;
    expect(inBump).toBe(Math.floor((1024 - BumpAllocator.metadataSize) / 104)); // 100 → 8-aligned
    expect(owners.slice(0, inBump).every((o) => o === bump)).toBe(true);
    expect(owners.slice(inBump).every((o) => o === tlsf)).toBe(true);
    expect(bump.stats().liveBlocks + tlsf.stats().liveBlocks).toBe(20);
    // dealloc goes to the owner.
    chain.dealloc(ptrs[19]);
    expect(tlsf.stats().liveBlocks).toBe(20 - inBump - 1);
    chain.dealloc(ptrs[inBump - 1]); // the bump's newest block: rolled back
    expect(bump.stats().liveBlocks).toBe(inBump - 1);
    chain.dealloc(ptrs[0]); // any other bump block: nothing changes until reset
    expect(bump.stats().liveBlocks).toBe(inBump - 1);
    expect(chain.usableSize(ptrs[18])).toBe(tlsf.usableSize(ptrs[18]));
    expectCode(() => chain.dealloc(ptrs[19]), DoubleFreeError, "ERR_DOUBLE_FREE"); // the owner's check
    chain.check();
  });

  it("allocZeroed and allocate go through the members in order too", () => {
    const { memory, bump, tlsf, chain } = bumpThenTlsf(512);
    const dirty = chain.alloc(4000);
    memory.u8.fill(0xee, dirty, dirty + 4000);
    chain.dealloc(dirty);
    const z = chain.allocZeroed(4000);
    expect(z).toBe(dirty);
    expect(chain.memberOf(z)).toBe(tlsf);
    expect(memory.u8.subarray(z, z + 4000).every((b) => b === 0)).toBe(true);
    const a = chain.allocate(Layout.of(64, 16))!;
    expect(chain.memberOf(a.ptr)).toBe(bump);
    expect(a.ptr % 16).toBe(0);
    expect(a.size).toBe(64);
    chain.deallocate(a.ptr, Layout.of(64, 16));
    expect(chain.allocate(Layout.of(1 << 20, 8))).toBeNull();
    expect(() => chain.allocate({} as Layout)).toThrow(ArgumentTypeError);
  });

  it("a pointer no member owns is ERR_FOREIGN_POINTER, nothing changed", () => {
    const memory = fixed(1 << 16);
    const a = new TlsfAllocator(memory.region(0, 16384));
    const b = new TlsfAllocator(memory.region(16384, 32768));
    const outsider = new TlsfAllocator(memory.region(32768, 49152)); // same buffer, not chained
    const chain = new ChainAllocator([a, b], { memory });
    chain.alloc(64);
    const foreign = outsider.alloc(64);
    const before = snapshot(chain);
    expectCode(() => chain.dealloc(foreign), InvalidPointerError, "ERR_FOREIGN_POINTER");
    expectCode(() => chain.usableSize(foreign), InvalidPointerError, "ERR_FOREIGN_POINTER");
    expectCode(() => chain.realloc(foreign, 100), InvalidPointerError, "ERR_FOREIGN_POINTER");
    expectCode(() => chain.dealloc(60000), InvalidPointerError, "ERR_FOREIGN_POINTER");
    expect(() => chain.dealloc(-8)).toThrow(InvalidPointerError);
    expect(() => chain.dealloc("64" as unknown as number)).toThrow(ArgumentTypeError);
    expect(snapshot(chain)).toBe(before);
    expect(chain.owns(foreign)).toBe(false);
    chain.dealloc(0); // null: nothing to do
  });

  it("invalid arguments throw before any member is asked", () => {
    const { chain } = bumpThenTlsf();
    const p = chain.alloc(10);
    const before = snapshot(chain);
    const bad: Array<() => unknown> = [
      () => chain.alloc(Number.NaN),
      () => chain.alloc(-1),
      () => chain.alloc(1.5),
      () => chain.alloc(8, 3),
      () => chain.alloc(8, 2 ** 17),
      () => chain.allocZeroed(8, 0),
      () => chain.alloc("8" as unknown as number),
      () => chain.alloc(8n as unknown as number),
      () => chain.realloc(p, 0),
      () => chain.realloc(p, -1),
      () => chain.realloc(p, 16, 24),
    ];
    for (const call of bad) expect(call).toThrow();
    expect(chain.alloc(2 ** 32)).toBe(0);
    expect(chain.alloc(2 ** 40)).toBe(0);
    expect(snapshot(chain)).toBe(before);
  });

  it("a member refusing what it can never serve is skipped; all refusing throws", () => {
    const memory = fixed(1 << 16);
    const pool = new PoolAllocator(64, 10, { memory: memory.region(0, 4096) });
    const tlsf = new TlsfAllocator(memory.region(4096, 1 << 16));
    const chain = new ChainAllocator([pool, tlsf], { memory });
    const p = chain.alloc(16, 4096); // the pool's blocks are 64-aligned: it refuses
    expect(chain.memberOf(p)).toBe(tlsf);
    expect(p % 4096).toBe(0);
    expect(chain.memberOf(chain.alloc(16, 64))).toBe(pool);

    const pools = new ChainAllocator(
      [
        new PoolAllocator(64, 10, { memory: memory.region(8192, 12288) }),
        new PoolAllocator(32, 10, { memory: memory.region(12288, 16384) }),
      ],
      { memory },
    );
    expectCode(() => pools.alloc(16, 4096), ArgumentRangeError, "ERR_ALLOC_ALIGN");
    expect(pools.alloc(100)).toBe(0); // too big for both: out of memory, not an error
  });
});

describe("ChainAllocator: realloc across members", () => {
  it("a block its owner cannot grow moves to another member, contents kept", () => {
    const memory = fixed(1 << 16);
    const pool = new PoolAllocator(64, 10, { memory: memory.region(0, 4096) });
    const tlsf = new TlsfAllocator(memory.region(4096, 1 << 16));
    const chain = new ChainAllocator([pool, tlsf], { memory });
    const p = chain.alloc(50);
    expect(chain.memberOf(p)).toBe(pool);
    memory.u8.fill(0x33, p, p + 50);
    expect(chain.realloc(p, 60)).toBe(p); // fits the pool's block: in place
    const q = chain.realloc(p, 1000);
    expect(chain.memberOf(q)).toBe(tlsf);
    expect(memory.u8.subarray(q, q + 50).every((b) => b === 0x33)).toBe(true);
    expect(pool.stats().liveBlocks).toBe(0);
    expectCode(() => chain.realloc(p, 100), DoubleFreeError, "ERR_DOUBLE_FREE");
    chain.check();
  });

  it("when every member is full the answer is 0 and the block is untouched", () => {
    const memory = fixed(1 << 16);
    const a = new TlsfAllocator(memory.region(0, 16384));
    const b = new TlsfAllocator(memory.region(16384, 32768));
    const chain = new ChainAllocator([a, b], { memory });
    const p = chain.alloc(2000);
    expect(chain.alloc(10_000)).not.toBe(0); // a has no room left for 6000 more
    expect(chain.memberOf(p)).toBe(a);
    memory.u8.fill(0x44, p, p + 2000);
    const q = chain.realloc(p, 6000); // a cannot grow it in place or move it; b can
    expect(chain.memberOf(q)).toBe(b);
    expect(memory.u8.subarray(q, q + 2000).every((x) => x === 0x44)).toBe(true);
    expect(a.stats().liveBlocks).toBe(1);
    const before = snapshot(chain);
    expect(chain.realloc(q, 20_000)).toBe(0);
    expect(snapshot(chain)).toBe(before);
    expect(chain.usableSize(q)).toBeGreaterThanOrEqual(6000);
  });

  it("a Bump block other than the newest has no known size: it cannot move (0)", () => {
    const { chain, bump } = bumpThenTlsf(512);
    const p = chain.alloc(100);
    chain.alloc(100);
    expect(chain.memberOf(p)).toBe(bump);
    expect(chain.realloc(p, 5000)).toBe(0);
    const newest = chain.alloc(100);
    const q = chain.realloc(newest, 5000); // the newest's size is known: it moves
    expect(q).not.toBe(0);
    expect(chain.memberOf(q)).not.toBe(bump);
  });

  it("a BlockAllocator member gets the old size it needs", () => {
    const memory = fixed(1 << 16);
    const blocks = new BlockAllocator(memory.region(0, 4096), 64);
    const tlsf = new TlsfAllocator(memory.region(4096, 1 << 16));
    const chain = new ChainAllocator([blocks, tlsf], { memory });
    const free = blocks.numFree();
    const p = chain.alloc(100);
    expect(blocks.numFree()).toBe(free - 2);
    memory.u8.fill(0x55, p, p + 100);
    expect(() => chain.realloc(p, 8000)).toThrow(ArgumentTypeError); // Block needs oldSize
    const q = chain.realloc(p, 8000, 8, 100);
    expect(chain.memberOf(q)).toBe(tlsf);
    expect(memory.u8.subarray(q, q + 100).every((x) => x === 0x55)).toBe(true);
    expect(blocks.numFree()).toBe(free); // dealloc was given the size: both blocks back
    chain.dealloc(q);
  });
});

describe("ChainAllocator: one pointer space, checked at construction", () => {
  it("rejects overlapping regions, other buffers, a mix of kinds, and bad lists", () => {
    const memory = fixed(1 << 16);
    const a = new TlsfAllocator(memory.region(0, 32768));
    const b = new TlsfAllocator(memory.region(16384, 1 << 16));
    expectCode(() => new ChainAllocator([a, b], { memory }), ArgumentRangeError, "ERR_MEMORY");
    const elsewhere = new TlsfAllocator(fixed(1 << 16));
    const c = new TlsfAllocator(memory.region(32768, 1 << 16));
    expectCode(() => new ChainAllocator([a, elsewhere]), ArgumentRangeError, "ERR_MEMORY");
    const offset = new BuddyAllocator(new OffsetMemory(1 << 20, 1 << 21));
    expect(() => new ChainAllocator([a, offset])).toThrow(ArgumentTypeError);
    expect(() => new ChainAllocator([])).toThrow(ArgumentTypeError);
    expect(() => new ChainAllocator([a, a])).toThrow(ArgumentTypeError);
    expect(() => new ChainAllocator([a, {} as Allocator])).toThrow(ArgumentTypeError);
    // Disjoint regions: no member contains the other, so the memory must be given …
    expect(() => new ChainAllocator([a, c])).toThrow(ArgumentTypeError);
    // … and must contain them.
    expect(() => new ChainAllocator([a, c], { memory: memory.region(0, 32768) })).toThrow(
      ArgumentRangeError,
    );
    expect(new ChainAllocator([a, c], { memory }).memory).toBe(memory);
  });

  it("a growable member's region is where it can grow to", () => {
    const wasm = WasmMemory.create(1, 4);
    const tlsf = new TlsfAllocator(wasm); // may grow to 256 KiB
    const fixedOver = new FixedMemory(wasm.buffer, 0, 65536); // same buffer, but inside it
    const bump = new BumpAllocator(fixedOver);
    expect(() => new ChainAllocator([bump, tlsf])).toThrow(ArgumentRangeError);
  });

  it("offset-only members: one offset space, disjoint ranges", () => {
    const memory = new OffsetMemory(0, 1 << 20);
    const pool = new PoolAllocator(256, 16, { memory: memory.region(0, 8192) });
    const buddy = new BuddyAllocator(memory.region(8192, 1 << 20));
    const chain = new ChainAllocator([pool, buddy], { memory });
    const ptrs = Array.from({ length: 20 }, () => chain.alloc(200));
    expect(ptrs.filter((p) => chain.memberOf(p) === pool).length).toBe(16);
    expect(ptrs.filter((p) => chain.memberOf(p) === buddy).length).toBe(4);
    for (const p of ptrs) chain.dealloc(p);
    expect(chain.stats().liveBlocks).toBe(0);
  });

  it("stats sum the members; reset resets them all; check checks them all", () => {
    const { memory, bump, tlsf, chain } = bumpThenTlsf();
    chain.alloc(500);
    chain.alloc(4000);
    const s = chain.stats();
    const sb = bump.stats();
    const st = tlsf.stats();
    expect(s.capacity).toBe(memory.end - memory.start);
    expect(s.inUse).toBe(sb.inUse + st.inUse);
    expect(s.free).toBe(sb.free + st.free);
    expect(s.liveBlocks).toBe(2);
    expect(s.largestFree).toBe(Math.max(sb.largestFree, st.largestFree));
    expect(s.overhead).toBe(s.capacity - s.inUse - s.free);
    chain.reset();
    expect(chain.stats().liveBlocks).toBe(0);
    expect(chain.stats().inUse).toBe(0);
    // A member's corruption is found by the chain's check.
    const p = chain.alloc(4000);
    expect(chain.memberOf(p)).toBe(tlsf);
    memory.u8.fill(0xff, p, p + 4100); // past its end, over the next block's size word
    expect(() => chain.check()).toThrow(HeapCorruptedError);
  });
});

describe("ChainAllocator: a child in front of its parent (nested)", () => {
  it("an arena carved from a growing heap, chained in front of it", () => {
    const heap = new Heap({ initialBytes: 65536, maxBytes: 8 << 20 });
    const arena = childOf(heap, 8192, (m) => new BumpAllocator(m));
    const chain = new ChainAllocator([arena, heap]);
    expect(chain.memory).toBe(heap.memory);
    expect(chain.stats().liveBlocks).toBe(0); // the arena's block is not a user block
    expect(chain.stats().inUse).toBe(0);
    const small = Array.from({ length: 10 }, () => chain.alloc(100));
    expect(small.every((p) => chain.memberOf(p) === arena)).toBe(true);
    const oldBuffer = heap.memory.buffer;
    const big = chain.alloc(500_000); // the arena cannot: the heap grows the memory for it
    expect(chain.memberOf(big)).toBe(heap);
    expect(oldBuffer.byteLength).toBe(0);
    const more = chain.alloc(100); // still the arena, on the new buffer
    expect(chain.memberOf(more)).toBe(arena);
    heap.u8.fill(1, more, more + 100);
    expect(arena.memory.u8[more + 99]).toBe(1);
    const s = chain.stats();
    expect(s.liveBlocks).toBe(12);
    expect(s.capacity).toBe(heap.memory.end - heap.memory.start);
    expect(s.overhead).toBeGreaterThanOrEqual(0);
    chain.check();

    const before = snapshot(chain);
    expectCode(() => chain.reset(), AllocatorError, "ERR_UNSUPPORTED");
    expect(snapshot(chain)).toBe(before);

    chain.dealloc(big);
    arena.drop();
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("a child must come before its parent", () => {
    const heap = new TlsfAllocator(1 << 16);
    const child = childOf(heap, 16384, (m) => new TlsfAllocator(m));
    expect(() => new ChainAllocator([heap, child])).toThrow(/before its parent/);
    const grandchild = childOf(child, 1024, (m) => new BumpAllocator(m));
    expect(carvingOf(grandchild)!.parent).toBe(child);
    // Nested two deep: the grandchild's region lies in the heap too, through the child.
    const chain = new ChainAllocator([grandchild, child, heap]);
    expect(chain.stats().liveBlocks).toBe(0);
    expect(chain.stats().inUse).toBe(0);
  });

  it("check finds a parent reset under a live child", () => {
    const heap = new TlsfAllocator(1 << 16);
    const arena = childOf(heap, 4096, (m) => new TlsfAllocator(m));
    const chain = new ChainAllocator([arena, heap]);
    chain.check();
    heap.reset(); // behind the child's back: its region is free in the heap now
    expect(() => chain.check()).toThrow(/no longer a live block of its parent/);
  });
});

describe("owns: honest and O(1) in every strategy", () => {
  // Each strategy on the region [64 KiB, 128 KiB) of a 192 KiB memory: owns must say no
  // for everything outside it (neighbours in the same buffer included).
  const LO = 65536;
  const HI = 131072;
  const cases: Array<[string, (m: Memory) => Allocator]> = [
    ["Bump", (m) => new BumpAllocator(m)],
    ["Stack", (m) => new StackAllocator(m)],
    ["Pool", (m) => new PoolAllocator(64, undefined, { memory: m })],
    ["Block", (m) => new BlockAllocator(m, 64)],
    ["FreeList", (m) => new FreeListAllocator(m)],
    ["Buddy", (m) => new BuddyAllocator(m)],
    ["TLSF", (m) => new TlsfAllocator(m)],
    ["Heap", (m) => new Heap({ memory: m })],
    ["Slab over a TLSF", (m) => new SlabAllocator(new TlsfAllocator(m), { pageSize: 4096 })],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      const memory = fixed(3 * LO);
      const a = make(memory.region(LO, HI));
      const p = a.alloc(48);
      const big = a.alloc(3000);
      expect(a.owns(p)).toBe(true);
      if (big !== 0) expect(a.owns(big)).toBe(true);
      for (const q of [0, 8, LO - 8, LO - 1, HI, HI + 8, 3 * LO - 8, 2 ** 32 - 8, 2 ** 32 + LO]) {
        expect(a.owns(q)).toBe(false);
      }
      for (const q of [-8, Number.NaN, p + 0.5, Number.POSITIVE_INFINITY]) {
        expect(a.owns(q)).toBe(false);
      }
      expect(a.owns("64" as unknown as number)).toBe(false);
    });
  }
});

describe("ChainAllocator as a parent", () => {
  it("children can be carved from a chain and dropped back to it", () => {
    const { chain, bump, tlsf } = bumpThenTlsf(2048);
    const small = childOf(chain, 512, (m) => new BumpAllocator(m));
    const large = childOf(chain, 8192, (m) => new StackAllocator(m));
    expect(carvingOf(small)!.parent).toBe(chain);
    expect(chain.memberOf(small.memory.start)).toBe(bump);
    expect(chain.memberOf(large.memory.start)).toBe(tlsf);
    large.drop();
    small.drop();
    expect(tlsf.stats().liveBlocks).toBe(0);
    expect(bump.stats().liveBlocks).toBe(0);
  });
});

describe("ChainAllocator: corruption a member finds poisons the chain", () => {
  /** A pool child inside a TLSF parent; `tail` is a TLSF block right after the child's. */
  function nested() {
    const tlsf = new TlsfAllocator(new FixedMemory(new ArrayBuffer(1 << 16)));
    const pool = childOf(tlsf, 4096, (m) => new PoolAllocator(64, undefined, { memory: m }));
    const chain = new ChainAllocator([pool, tlsf]);
    const tail = chain.alloc(1000);
    expect(pool.owns(tail)).toBe(false);
    return { chain, tlsf, tail };
  }

  for (const how of ["check", "dealloc"] as const) {
    it(`found by ${how}(): every later call throws HeapPoisonedError, even a pool's alloc`, () => {
      const { chain, tlsf, tail } = nested();
      const p = chain.alloc(16); // a pool block
      tlsf.memory.u32[(tail - 4) >>> 2] += 8; // the TLSF block's size word
      expect(() => (how === "check" ? chain.check() : chain.dealloc(tail))).toThrow(
        HeapCorruptedError,
      );
      expect(chain.poisoned).toBe(true);
      for (const call of [
        () => chain.alloc(16),
        () => chain.dealloc(p),
        () => chain.usableSize(p),
        () => chain.stats(),
        () => chain.check(),
      ]) {
        expect(call).toThrow(HeapPoisonedError);
      }
    });
  }

  it("a caller's mistake does not poison it", () => {
    const { chain } = nested();
    const p = chain.alloc(16);
    chain.dealloc(p);
    expect(() => chain.dealloc(p)).toThrow(DoubleFreeError);
    expect(chain.poisoned).toBe(false);
    chain.check();
  });
});
