import { describe, expect, it } from "vitest";
import {
  AllocatorError,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
  OutOfMemoryError,
} from "../../src/core/errors.js";
import { COMMON_SLOTS, H_CONFIG } from "../../src/core/header.js";
import { Layout, layoutArray, layoutForI32, layoutForI64 } from "../../src/core/layout.js";
import { FixedMemory, OffsetMemory, WasmMemory } from "../../src/memory/memory.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";

const HEADER = BumpAllocator.metadataSize; // 128: blocks start right after it

describe("BumpAllocator: the seeds' examples", () => {
  it("Bump: i64, i32, i64[10], remaining and total, reset, then reuse", () => {
    const bump = new BumpAllocator(4096);
    const a1 = bump.allocate(layoutForI64())!;
    const a2 = bump.allocate(layoutForI32())!;
    const a3 = bump.allocate(layoutArray(8, 8, 10))!;
    expect([a1.ptr - HEADER, a2.ptr - HEADER, a3.ptr - HEADER]).toEqual([0, 8, 16]);
    expect([a1.size, a2.size, a3.size]).toEqual([8, 4, 80]);
    expect(bump.remaining()).toBe(4000);
    expect(bump.totalAllocated()).toBe(92);
    bump.reset();
    const a4 = bump.allocate(Layout.u64)!; // the seed's 8-byte pointer
    expect(a4.ptr - HEADER).toBe(0);
    expect(bump.remaining()).toBe(4088);
    bump.drop();
    expect(() => bump.alloc(8)).toThrow(AllocatorError);
  });

  it("Zeroed allocation: an i64 from a fresh arena is zero", () => {
    const bump = new BumpAllocator(4096);
    const a = bump.allocateZeroed(layoutForI64())!;
    expect(bump.memory.u8.subarray(a.ptr, a.ptr + 8).every((b) => b === 0)).toBe(true);
  });

  it("Custom arena: a bump over a caller's 1 MiB buffer, reset without freeing it", () => {
    const buffer = new ArrayBuffer(1 << 20);
    new Uint8Array(buffer).fill(0x5a); // a caller's bytes are not assumed to be zero
    const arena = BumpAllocator.fromBuffer(buffer);
    const p = arena.alloc(1000);
    const z = arena.allocZeroed(1000);
    expect(new Uint8Array(buffer, z, 1000).every((b) => b === 0)).toBe(true);
    expect(p).toBeGreaterThanOrEqual(HEADER);
    arena.reset();
    expect(arena.alloc(1000)).toBe(p);
    expect(buffer.byteLength).toBe(1 << 20); // still the caller's, untouched in size
  });

  it("fromBuffer honours an offset and a length", () => {
    const buffer = new ArrayBuffer(4096);
    const arena = BumpAllocator.fromBuffer(buffer, 1000, 1000);
    const p = arena.alloc(8);
    expect(p).toBeGreaterThanOrEqual(1000 + HEADER);
    expect(arena.alloc(2000)).toBe(0);
    expect(arena.remaining()).toBeLessThan(1000);
  });
});

describe("BumpAllocator: zeroed allocation is free on memory never handed out", () => {
  it("skips the fill above the high-water mark, fills below it after a reset", () => {
    const bump = new BumpAllocator(WasmMemory.create(1, 1));
    const u8 = bump.memory.u8;
    // White box: plant a byte where the next block will go. A fresh wasm page is zero, so
    // allocZeroed trusts it and does not fill: the planted byte shows the fill was skipped.
    const next = HEADER;
    u8[next + 3] = 0x77;
    const p = bump.allocZeroed(16);
    expect(p).toBe(next);
    expect(u8[p + 3]).toBe(0x77);
    // Once handed out (and reset), the same bytes are dirty: now it must fill.
    bump.reset();
    const q = bump.allocZeroed(16);
    expect(q).toBe(next);
    expect(u8[q + 3]).toBe(0);
  });

  it("a caller's buffer is never trusted to be zero", () => {
    const buffer = new ArrayBuffer(4096);
    new Uint8Array(buffer).fill(1);
    const bump = BumpAllocator.fromBuffer(buffer);
    const p = bump.allocZeroed(100);
    expect(new Uint8Array(buffer, p, 100).every((b) => b === 0)).toBe(true);
  });
});

describe("BumpAllocator: dealloc", () => {
  it("freeing the newest block gives its bytes back; freeing another changes nothing", () => {
    const bump = new BumpAllocator(1024);
    const a = bump.alloc(100);
    const b = bump.alloc(100);
    const before = bump.remaining();
    const meta = bump.metadataBytes();
    bump.dealloc(a); // not the newest: live, freed or interior, a bump cannot tell
    expect(bump.metadataBytes()).toEqual(meta);
    expect(bump.remaining()).toBe(before);
    expect(bump.stats().liveBlocks).toBe(2);
    bump.dealloc(b); // the newest: rolled back
    expect(bump.remaining()).toBe(before + 100); // its bytes (the padding before it stays)
    expect(bump.stats().liveBlocks).toBe(1);
    bump.reset();
    expect(bump.stats().liveBlocks).toBe(0);
  });

  it("no sequence of misuses changes anything or breaks check() (issue 13)", () => {
    const bump = new BumpAllocator(4096);
    const a = bump.alloc(64);
    const b = bump.alloc(64);
    const c = bump.alloc(64);
    bump.memory.u8.fill(7, a, c + 64);
    const meta = bump.metadataBytes();
    const bytes = bump.memory.u8.slice();
    const stats = JSON.stringify(bump.stats());
    // A double free (four times: the live count once went to −1 and check() poisoned),
    // interior pointers, realloc of freed and interior pointers.
    for (let i = 0; i < 4; i++) bump.dealloc(a);
    bump.dealloc(a + 16);
    bump.dealloc(b + 8, 8);
    expect(bump.realloc(a, 200)).toBe(0);
    expect(bump.realloc(a + 16, 8)).toBe(0);
    expect(bump.realloc(b, 2 ** 40)).toBe(0);
    bump.check();
    expect(bump.metadataBytes()).toEqual(meta);
    expect(Buffer.compare(bump.memory.u8, bytes)).toBe(0);
    expect(JSON.stringify(bump.stats())).toBe(stats);
    // What a bump can tell stays a typed error: past the top, misaligned, too large a size.
    expect(() => bump.dealloc(c + 64)).toThrow(InvalidPointerError);
    expect(() => bump.dealloc(a + 4)).toThrow(InvalidPointerError);
    expect(() => bump.dealloc(a, 4096)).toThrow(LayoutMismatchError);
    expect(() => bump.realloc(c + 64, 8)).toThrow(InvalidPointerError);
    // The newest block is known: freeing it twice is caught (it is above the top then).
    bump.dealloc(c);
    expect(() => bump.dealloc(c)).toThrow(InvalidPointerError);
    expect(() => bump.realloc(c, 2 ** 40)).toThrow(InvalidPointerError);
    bump.check();
    expect(bump.stats().liveBlocks).toBe(2);
  });

  it("rejects pointers at or above the top (freed by a rollback or reset) and misaligned ones", () => {
    const bump = new BumpAllocator(1024);
    const a = bump.alloc(16);
    bump.dealloc(a);
    expect(() => bump.dealloc(a)).toThrow(InvalidPointerError);
    const b = bump.alloc(16);
    bump.reset();
    expect(() => bump.dealloc(b)).toThrow(InvalidPointerError);
    const c = bump.alloc(16);
    expect(() => bump.dealloc(c + 4)).toThrow(InvalidPointerError);
    expect(() => bump.dealloc(c, 1000)).toThrow(LayoutMismatchError);
    bump.dealloc(0); // null: nothing
    expect(bump.stats().liveBlocks).toBe(1);
  });

  it("knows the size of the newest block only", () => {
    const bump = new BumpAllocator(1024);
    const a = bump.alloc(10);
    expect(bump.usableSize(a)).toBe(10);
    bump.alloc(10);
    expect(() => bump.usableSize(a)).toThrow(AllocatorError);
    try {
      bump.usableSize(a);
    } catch (e) {
      expect((e as AllocatorError).code).toBe("ERR_UNSUPPORTED");
    }
  });
});

describe("BumpAllocator: marks", () => {
  it("roll back to a mark, nested marks, and stale marks are refused unchanged", () => {
    const bump = new BumpAllocator(4096);
    bump.alloc(10);
    const outer = bump.mark();
    bump.alloc(100);
    const inner = bump.mark();
    bump.alloc(100);
    expect(bump.stats().liveBlocks).toBe(3);
    bump.rollback(inner);
    expect(bump.stats().liveBlocks).toBe(2);
    bump.rollback(outer);
    expect(bump.stats().liveBlocks).toBe(1);
    const before = bump.metadataBytes();
    expect(() => bump.rollback(inner)).toThrow(InvalidPointerError); // below the top now
    expect(bump.metadataBytes()).toEqual(before);
    const m = bump.mark();
    bump.reset();
    bump.alloc(200); // the old record's bytes are live again, but the epoch differs
    expect(() => bump.rollback(m)).toThrow(InvalidPointerError);
  });

  it("a mark restores the newest block, so it can be freed or resized in place again", () => {
    const bump = new BumpAllocator(4096);
    const a = bump.alloc(64);
    const m = bump.mark();
    bump.alloc(64);
    bump.rollback(m);
    expect(bump.usableSize(a)).toBe(64);
    expect(bump.realloc(a, 128)).toBe(a);
  });

  it("a mark needs room for its 32-byte record", () => {
    const bump = new BumpAllocator(64);
    bump.alloc(60);
    expect(() => bump.mark()).toThrow(OutOfMemoryError);
  });
});

describe("BumpAllocator: realloc", () => {
  it("grows and shrinks the newest block in place; moves any other, keeping its bytes", () => {
    const bump = new BumpAllocator(4096);
    const a = bump.alloc(16);
    bump.memory.u8.fill(3, a, a + 16);
    expect(bump.realloc(a, 64)).toBe(a);
    expect(bump.realloc(a, 8)).toBe(a);
    const b = bump.alloc(16);
    // Not the newest: its size is unknown and it may have been freed; nothing changes.
    const meta = bump.metadataBytes();
    expect(bump.realloc(a, 32)).toBe(0);
    expect(bump.metadataBytes()).toEqual(meta);
    // The newest block moves when it must (an alignment it does not have).
    bump.memory.u8.fill(5, b, b + 16);
    const moved = bump.realloc(b, 32, 256);
    expect(moved % 256).toBe(0);
    expect(moved).toBeGreaterThan(b);
    expect(bump.memory.u8.subarray(moved, moved + 16).every((x) => x === 5)).toBe(true);
    expect(bump.stats().liveBlocks).toBe(2); // a and the moved block
  });
});

describe("BumpAllocator: memories", () => {
  it("grows a wasm memory page by page up to its maximum, then answers 0", () => {
    const bump = new BumpAllocator(WasmMemory.create(1, 4));
    let n = 0;
    while (bump.alloc(30_000) !== 0) n++;
    expect(n).toBe(Math.floor((4 * 65536 - HEADER) / 30_000));
    expect(bump.memory.end).toBe(4 * 65536);
    bump.check();
  });

  it("works offset-only (no bytes) but has no marks there", () => {
    const bump = new BumpAllocator(new OffsetMemory(0, 1 << 20));
    const p = bump.alloc(256, 256);
    expect(p % 256).toBe(0);
    expect(p).toBeGreaterThan(0);
    expect(() => bump.mark()).toThrow(AllocatorError);
  });

  it("a second handle attaches to the same bytes; garbage is refused", () => {
    const memory = new FixedMemory(new ArrayBuffer(4096), 0, undefined, true);
    const one = new BumpAllocator(memory);
    const p = one.alloc(100);
    const two = BumpAllocator.attach(memory);
    expect(two.stats()).toEqual(one.stats());
    expect(two.alloc(8)).toBeGreaterThan(p);
    expect(() => BumpAllocator.attach(new FixedMemory(new ArrayBuffer(4096)))).toThrow(
      HeapIncompatibleError,
    );
  });
});

describe("BumpAllocator: the total in two int32 words", () => {
  it("counts past 2^31 and 2^32 bytes, in alloc and in an in-place realloc", () => {
    const bump = new BumpAllocator(new OffsetMemory(0, 2 ** 32 - 8));
    const gib = 2 ** 30;
    bump.alloc(gib - 8);
    bump.alloc(gib);
    expect(bump.totalAllocated()).toBe(2 * gib - 8);
    const p = bump.alloc(gib); // carries into the high word
    expect(bump.totalAllocated()).toBe(3 * gib - 8);
    expect(bump.realloc(p, gib + 16)).toBe(p);
    expect(bump.totalAllocated()).toBe(3 * gib + 8);
    bump.alloc(gib - 64);
    expect(bump.totalAllocated()).toBe(4 * gib - 56);
    bump.check();
    bump.reset();
    expect(bump.totalAllocated()).toBe(0);
  });

  it("hands out pointers past 2^31 and stops exactly at the end, changing nothing after", () => {
    const end = 2 ** 32 - 8;
    const bump = new BumpAllocator(new OffsetMemory(0, end));
    const a = bump.alloc(2 ** 31 + 3); // TOP past 2^31, not 8-aligned
    const b = bump.alloc(5);
    expect(a).toBeGreaterThan(0);
    expect(b).toBe(a + 2 ** 31 + 8); // rounded up to 8, unsigned
    const room = end - (b + 8);
    const before = bump.stats();
    expect(bump.alloc(room + 1)).toBe(0);
    expect(bump.stats()).toEqual(before);
    expect(bump.totalAllocated()).toBe(2 ** 31 + 8);
    const c = bump.alloc(room);
    expect(c).toBe(b + 8);
    expect(bump.stats().free).toBe(0);
    expect(bump.alloc(0)).toBe(0);
    bump.check();
  });

  it("check() finds a negative low word", () => {
    const bump = new BumpAllocator(1024);
    bump.alloc(8);
    // TOTAL_LO: the fifth int32 word after the header's float64 slots.
    bump.memory.i32[((COMMON_SLOTS + 3) * 8) / 4 + 4] = -1;
    expect(() => bump.check()).toThrow(HeapCorruptedError);
  });

  it("attach refuses a bump header of another layout (the CONFIG slot), changing nothing", () => {
    const memory = new FixedMemory(new ArrayBuffer(4096), 0, undefined, true);
    new BumpAllocator(memory).alloc(100);
    const slots = new Float64Array(memory.buffer, 0, COMMON_SLOTS);
    slots[H_CONFIG] = 0; // the layout with TOTAL in a float64 slot
    const before = memory.u8.slice();
    expect(() => BumpAllocator.attach(memory)).toThrow(
      expect.objectContaining({ code: "ERR_HEAP_CONFIG" }),
    );
    expect(memory.u8).toEqual(before);
    slots[H_CONFIG] = 2;
    expect(BumpAllocator.attach(memory).alloc(8)).toBeGreaterThan(100);
  });
});

describe("BumpAllocator: corruption", () => {
  it("check() finds a top past the end, poisons the heap, and every later call throws", () => {
    const bump = new BumpAllocator(1024);
    bump.alloc(8);
    // The TOP word: the first int32 after the header's float64 slots (8 common + 3).
    const topWord = ((COMMON_SLOTS + 3) * 8) / 4;
    bump.memory.i32[topWord] = 1e9;
    expect(() => bump.check()).toThrow(HeapCorruptedError);
    expect(() => bump.alloc(8)).toThrow(HeapPoisonedError);
    expect(() => bump.reset()).toThrow(HeapPoisonedError);
  });
});
