import { describe, expect, it } from "vitest";
import {
  type Carving,
  carve,
  carvingOf,
  childOf,
  type Droppable,
} from "../../src/compose/child.js";
import type { Allocator } from "../../src/core/allocator.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  HeapPoisonedError,
  InvalidPointerError,
  OutOfMemoryError,
} from "../../src/core/errors.js";
import { Heap } from "../../src/heap/index.js";
import { type Memory, OffsetMemory, type WasmMemory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BuddyAllocator } from "../../src/strategies/buddy/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { SlabAllocator } from "../../src/strategies/slab/index.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { instantiateGrowModule } from "../helpers/wasm.js";

/** Every strategy, built on the region it is given. */
const STRATEGIES: ReadonlyArray<[string, (m: Memory) => Droppable]> = [
  ["BumpAllocator", (m) => new BumpAllocator(m)],
  ["StackAllocator", (m) => new StackAllocator(m)],
  ["PoolAllocator", (m) => new PoolAllocator(64, undefined, { memory: m })],
  ["BlockAllocator", (m) => new BlockAllocator(m, 16)],
  ["FreeListAllocator", (m) => new FreeListAllocator(m)],
  ["BuddyAllocator", (m) => new BuddyAllocator(m)],
  ["TlsfAllocator", (m) => new TlsfAllocator(m)],
  ["Heap", (m) => new Heap({ memory: m })],
  ["SlabAllocator over a TLSF", (m) => new SlabAllocator(new TlsfAllocator(m), { pageSize: 4096 })],
];

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

/** stats() without peakInUse (which a carve that was given back still raised). */
function withoutPeak(a: Allocator): object {
  const { peakInUse: _, ...rest } = a.stats();
  return rest;
}

/** Allocates and paints a few blocks in `a`; frees them in LIFO order with their sizes. */
function exercise(a: Allocator): void {
  const sizes = [24, 64, 8, 40];
  const u8 = () => a.memory.u8;
  const ptrs = sizes.map((n, i) => {
    const p = a.alloc(n);
    expect(p).not.toBe(0);
    expect(a.owns(p)).toBe(true);
    u8().fill(0x40 + i, p, p + n);
    return p;
  });
  a.check();
  for (let i = sizes.length - 1; i >= 0; i--) {
    const p = ptrs[i];
    expect(
      u8()
        .subarray(p, p + sizes[i])
        .every((b) => b === 0x40 + i),
    ).toBe(true);
    a.dealloc(p, sizes[i]);
  }
  a.check();
}

describe("childOf: every strategy inside a region of a parent, dropped back", () => {
  for (const [name, make] of STRATEGIES) {
    it(`${name} inside a TLSF parent`, () => {
      const parent = new TlsfAllocator(1 << 20);
      const other = parent.alloc(100); // a neighbour the child must not disturb
      parent.memory.u8.fill(0x5a, other, other + 100);
      const before = parent.stats();
      const c = childOf(parent, 64 * 1024, make);
      const carving = carvingOf(c)!;
      expect(carving.parent).toBe(parent);
      expect(carving.memory).toBe(c.memory);
      expect(c.memory.start).toBe(carving.ptr);
      expect(carving.bytes).toBe(parent.usableSize(carving.ptr));
      expect(parent.stats().liveBlocks).toBe(before.liveBlocks + 1);
      // The child's pointers are offsets into the parent's buffer, inside the carved block.
      expect(c.memory.buffer).toBe(parent.memory.buffer);
      exercise(c);
      const p = c.alloc(32);
      expect(p).toBeGreaterThanOrEqual(carving.ptr);
      expect(p + 32).toBeLessThanOrEqual(carving.ptr + carving.bytes);
      expect(parent.owns(p)).toBe(true); // the parent's region holds the child's
      parent.check();

      c.drop();
      const { peakInUse: _, ...rest } = before;
      expect(withoutPeak(parent)).toEqual(rest);
      expect(parent.memory.u8.subarray(other, other + 100).every((b) => b === 0x5a)).toBe(true);
      expect(carving.released).toBe(true);
      expect(carvingOf(c)).toBeUndefined();
      expectCode(() => c.alloc(8), AllocatorError, "ERR_DESTROYED");
      expectCode(() => c.stats(), AllocatorError, "ERR_DESTROYED");
      expectCode(() => c.drop(), AllocatorError, "ERR_DESTROYED");
      expect(parent.stats().liveBlocks).toBe(before.liveBlocks); // dropped exactly once
      parent.check();
    });
  }

  it("inside a Heap, a Buddy and a Block parent (which needs the size back)", () => {
    const parents: Allocator[] = [
      new Heap(),
      new BuddyAllocator(1 << 20),
      new BlockAllocator(64, 4096), // 64 blocks of 4 KiB
      new FreeListAllocator(1 << 20),
    ];
    for (const parent of parents) {
      const before = parent.stats();
      const c = childOf(parent, 40_000, (m) => new TlsfAllocator(m));
      exercise(c);
      expect(carvingOf(c)!.bytes).toBeGreaterThanOrEqual(40_000);
      c.drop();
      const after = parent.stats();
      expect([after.liveBlocks, after.inUse, after.free]).toEqual([
        before.liveBlocks,
        before.inUse,
        before.free,
      ]);
      parent.check();
    }
  });

  it("the seeds' custom arena: 1 MiB bump carved from the heap, reset, dropped back", () => {
    const heap = new Heap({ maxBytes: 64 << 20 });
    const keep = heap.malloc(1000);
    const before = heap.stats();
    const arena = childOf(heap, 1 << 20, (m) => new BumpAllocator(m));
    expect(heap.stats().inUse).toBeGreaterThanOrEqual(before.inUse + (1 << 20));
    const p = arena.alloc(1000);
    const z = arena.allocZeroed(1000);
    expect(heap.u8.subarray(z, z + 1000).every((b) => b === 0)).toBe(true);
    expect(arena.remaining()).toBeLessThan(1 << 20);
    arena.reset();
    expect(arena.alloc(1000)).toBe(p); // reset gives the arena back to itself, not to the heap
    expect(heap.stats().liveBlocks).toBe(before.liveBlocks + 1);
    arena.drop();
    const after = heap.stats();
    expect(after.liveBlocks).toBe(before.liveBlocks);
    expect(after.inUse).toBe(before.inUse);
    // The heap grew to hold the arena; every byte it grew by is free again.
    expect(after.free - before.free).toBe(after.capacity - before.capacity);
    // The megabyte is whole again: the heap can hand it out at once, without growing.
    expect(after.largestFree).toBeGreaterThanOrEqual(1 << 20);
    heap.free(keep);
    heap.check();
  });

  it("the parent's WebAssembly.Memory grows while the child lives: the child follows", () => {
    const heap = new Heap({ initialBytes: 65536, maxBytes: 16 << 20 });
    const wasm = (heap.memory as WasmMemory).memory;
    const child = childOf(heap, 16 * 1024, (m) => new TlsfAllocator(m));
    const pool = childOf(heap, PoolAllocator.bytesFor(32, 16), (m) => {
      return new PoolAllocator(32, undefined, { memory: m });
    });
    const a = child.alloc(1000);
    const b = pool.alloc(32);
    child.memory.u8.fill(7, a, a + 1000);
    pool.memory.u8.fill(9, b, b + 32);
    const oldBuffer = wasm.buffer;

    // The parent grows the memory (its buffer is replaced; old views are detached).
    const big = heap.malloc(200_000);
    expect(big).not.toBe(0);
    expect(wasm.buffer).not.toBe(oldBuffer);
    expect(oldBuffer.byteLength).toBe(0);

    // The child's next call finds its views stale and takes the parent's new ones.
    const c = child.alloc(500);
    expect(c).not.toBe(0);
    expect(child.memory.buffer).toBe(wasm.buffer);
    expect(child.memory.u8.length).toBe(wasm.buffer.byteLength);
    expect(child.memory.u8.subarray(a, a + 1000).every((x) => x === 7)).toBe(true);
    child.memory.u8.fill(8, c, c + 500); // writes land in the parent's buffer
    expect(heap.u8[c + 499]).toBe(8);
    expect(pool.alloc(32)).not.toBe(0);
    expect(heap.u8.subarray(b, b + 32).every((x) => x === 9)).toBe(true);

    // A wasm module growing the memory by itself: picked up on the next call too.
    const mod = instantiateGrowModule(wasm, { minPages: 1, maxPages: 256 });
    const before = wasm.buffer;
    mod.grow(1);
    expect(before.byteLength).toBe(0);
    child.dealloc(c);
    expect(child.memory.buffer).toBe(wasm.buffer);
    child.check();
    pool.check();
    heap.check();

    child.drop();
    pool.drop();
    heap.free(big);
    expect(heap.stats().liveBlocks).toBe(0);
    heap.check();
  });

  it("children of children, dropped innermost first", () => {
    const heap = new Heap();
    const mid = childOf(heap, 256 * 1024, (m) => new TlsfAllocator(m));
    const leaf = childOf(mid, 32 * 1024, (m) => new StackAllocator(m));
    expect(carvingOf(leaf)!.parent).toBe(mid);
    exercise(leaf);
    leaf.drop();
    expect(mid.stats().liveBlocks).toBe(0);
    mid.drop();
    expect(heap.stats().liveBlocks).toBe(0);
  });

  it("an offset-only parent: children on offset-only regions", () => {
    const parent = new BuddyAllocator(new OffsetMemory(0, 1 << 20));
    const c = childOf(parent, 64 * 1024, (m) => new PoolAllocator(256, undefined, { memory: m }));
    expect(c.memory.hasBytes).toBe(false);
    const p = c.alloc(200);
    expect(p).toBeGreaterThanOrEqual(c.memory.start);
    expect(p + 200).toBeLessThanOrEqual(c.memory.end);
    c.dealloc(p);
    c.drop();
    expect(parent.stats().liveBlocks).toBe(0);
  });
});

describe("childOf: drop checks first, changes last", () => {
  it("a StackAllocator parent refuses an out-of-order drop; the child stays alive", () => {
    const stack = new StackAllocator(1 << 16);
    const first = childOf(stack, 4096, (m) => new BumpAllocator(m));
    const second = childOf(stack, 4096, (m) => new BumpAllocator(m));
    expectCode(() => first.drop(), InvalidPointerError, "ERR_NOT_TOP");
    expect(first.alloc(16)).not.toBe(0); // not dropped
    expect(carvingOf(first)!.released).toBe(false);
    second.drop();
    first.drop();
    expect(stack.stats().liveBlocks).toBe(0);
  });

  it("a poisoned child cannot be dropped: its block stays in the parent", () => {
    const parent = new TlsfAllocator(1 << 16);
    const c = childOf(parent, 8192, (m) => new TlsfAllocator(m));
    const p = c.alloc(64);
    c.memory.u8.fill(0xff, p - 4, p + 80); // smash its own size word and its neighbour's
    expect(() => c.check()).toThrow();
    expect(() => c.drop()).toThrow(HeapPoisonedError);
    expect(parent.stats().liveBlocks).toBe(1);
    expect(carvingOf(c)!.released).toBe(false);
    parent.check();
  });

  it("make that throws, or builds elsewhere, gives the block back", () => {
    const parent = new TlsfAllocator(1 << 16);
    const before = withoutPeak(parent);
    // 64 bytes cannot hold a TLSF's metadata.
    expect(() => childOf(parent, 64, (m) => new TlsfAllocator(m))).toThrow(ArgumentRangeError);
    expect(withoutPeak(parent)).toEqual(before);
    expect(() => childOf(parent, 4096, () => new BumpAllocator(4096))).toThrow(ArgumentTypeError);
    expect(withoutPeak(parent)).toEqual(before);
    const notAnAllocator = (() => ({})) as unknown as (m: Memory) => Droppable;
    expect(() => childOf(parent, 4096, notAnAllocator)).toThrow(ArgumentTypeError);
    expect(withoutPeak(parent)).toEqual(before);
    parent.check();
  });

  it("a parent out of memory: carve answers null, childOf throws OutOfMemoryError", () => {
    const parent = new TlsfAllocator(1 << 16);
    const before = parent.stats();
    expect(carve(parent, 1 << 20)).toBeNull();
    expect(carve(parent, 2 ** 32)).toBeNull();
    expect(() => childOf(parent, 1 << 20, (m) => new BumpAllocator(m))).toThrow(OutOfMemoryError);
    expect(parent.stats()).toEqual(before);
    expect(() => carve(parent, -1)).toThrow(ArgumentRangeError); // the parent's own validation
    expect(() => carve(parent, 64, 3)).toThrow(ArgumentRangeError);
    expect(() => carve({} as Allocator, 64)).toThrow(ArgumentTypeError);
  });
});

describe("carve: a bare region", () => {
  it("is the block's usable bytes, released exactly once", () => {
    const parent = new TlsfAllocator(1 << 16);
    const c: Carving = carve(parent, 1000, 64)!;
    expect(c.ptr % 64).toBe(0);
    expect(c.bytes).toBe(parent.usableSize(c.ptr));
    expect(c.memory.start).toBe(c.ptr);
    expect(c.memory.end).toBe(c.ptr + c.bytes);
    expect(c.memory.grow(c.memory.end + 1)).toBe(false); // a region never grows itself
    expect(carvingOf(c.memory)).toBe(c);
    expect(c.child).toBeNull();
    c.release();
    expect(parent.stats().liveBlocks).toBe(0);
    expectCode(() => c.release(), AllocatorError, "ERR_DESTROYED");
    expect(parent.stats().liveBlocks).toBe(0);
  });

  it("a Block parent's region is exactly the bytes asked, and dealloc gets them back", () => {
    const parent = new BlockAllocator(100, 64);
    const c = carve(parent, 1000)!;
    expect(c.bytes).toBe(1000);
    expect(parent.numFree()).toBe(100 - 16);
    c.release();
    expect(parent.numFree()).toBe(100);
  });

  it("a region holding a child cannot be released behind the child's back", () => {
    const parent = new TlsfAllocator(1 << 16);
    const child = childOf(parent, 4096, (m) => new BumpAllocator(m));
    const c = carvingOf(child)!;
    expect(c.child).toBe(child);
    expectCode(() => c.release(), AllocatorError, "ERR_UNSUPPORTED");
    expect(child.alloc(8)).not.toBe(0);
    child.drop();
    expect(c.released).toBe(true);
  });
});

describe("a parent outlives its children: dropping it first is refused", () => {
  /** Everything a refused drop must leave as it was. */
  function state(a: Allocator & { metadataBytes(): Uint8Array }) {
    return {
      meta: Buffer.from(a.metadataBytes()).toString("hex"),
      stats: JSON.stringify(a.stats()),
    };
  }

  it("a parent with a live child: ERR_LIVE_CHILDREN naming it, nothing changed", () => {
    for (const [name, make] of STRATEGIES) {
      const parent = new TlsfAllocator(1 << 20);
      const child = childOf(parent, 64 * 1024, make);
      const p = child.alloc(32);
      expect(p, name).not.toBe(0);
      const before = state(parent);
      let e: unknown;
      try {
        parent.drop();
      } catch (x) {
        e = x;
      }
      expect(e, name).toBeInstanceOf(AllocatorError);
      expect((e as AllocatorError).code, name).toBe("ERR_LIVE_CHILDREN");
      expect((e as Error).message, name).toContain(`region [${carvingOf(child)!.ptr},`);
      expect(state(parent), name).toEqual(before);
      // Both still work; the child's bytes are still the child's.
      expect(parent.alloc(8), name).not.toBe(0);
      child.dealloc(p, 32);
      child.check();
      child.drop();
      parent.drop();
      expectCode(() => parent.alloc(8), AllocatorError, "ERR_DESTROYED");
    }
  });

  it("a bare carving holds its parent alive until it is released", () => {
    const parent = new FreeListAllocator(1 << 16);
    const c = carve(parent, 1000)!;
    expectCode(() => parent.drop(), AllocatorError, "ERR_LIVE_CHILDREN");
    c.release();
    parent.drop();
  });

  it("a child with a grandchild: the child's drop is refused before it gives its block back", () => {
    const heap = new Heap();
    const child = childOf(heap, 64 * 1024, (m) => new TlsfAllocator(m));
    const grandchild = childOf(child, 8192, (m) => new BumpAllocator(m));
    const heapBefore = heap.stats();
    expectCode(() => child.drop(), AllocatorError, "ERR_LIVE_CHILDREN");
    expect(heap.stats()).toEqual(heapBefore); // the child's block is still out
    expect(carvingOf(child)!.released).toBe(false);
    expect(grandchild.alloc(16)).not.toBe(0);
    expectCode(() => heap.drop(), AllocatorError, "ERR_LIVE_CHILDREN");
    grandchild.drop();
    child.drop();
    heap.drop();
  });

  it("a slab parent refuses before it gives any page back", () => {
    const slab = new SlabAllocator(new TlsfAllocator(1 << 20), { pageSize: 4096 });
    const small = slab.alloc(24);
    const child = childOf(slab, 2048, (m) => new BumpAllocator(m));
    const before = JSON.stringify(slab.stats());
    expectCode(() => slab.drop(), AllocatorError, "ERR_LIVE_CHILDREN");
    expect(JSON.stringify(slab.stats())).toBe(before);
    expect(slab.usableSize(small)).toBeGreaterThanOrEqual(24);
    child.drop();
    slab.drop();
  });

  it("a dropped child does not write into the block its parent took back", () => {
    // A slab over a TLSF, both inside the region: the slab's own drop gives its pages back
    // to that TLSF, in bytes that are the parent's free block once the region is back.
    const parent = new TlsfAllocator(1 << 20);
    const child = childOf(parent, 64 * 1024, (m) => {
      return new SlabAllocator(new TlsfAllocator(m), { pageSize: 4096 });
    });
    for (let i = 0; i < 40; i++) expect(child.alloc(24 + (i % 3) * 40), `alloc #${i}`).not.toBe(0);
    const at = carvingOf(child)!;
    child.drop(); // would throw HeapCorruptedError from the inner TLSF if it ran its own drop
    parent.check();
    expect(parent.alloc(at.bytes)).toBe(at.ptr);
    parent.check();
  });
});
