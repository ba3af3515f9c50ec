/**
 * Structs: declaration and layout (the seeds' `Layout` rules), TypeScript inference, reading
 * and writing by pointer, accessor objects, per-field functions, boxes, and bad input.
 */

import { inspect } from "node:util";
import { describe, expect, expectTypeOf, it } from "vitest";
import { InvalidPointerError, StaleViewError } from "../../src/core/errors.js";
import { Layout } from "../../src/core/layout.js";
import { Heap } from "../../src/heap/index.js";
import { SharedMemory, WasmMemory } from "../../src/memory/memory.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { type Box, box } from "../../src/typed/box.js";
import type { StructRef } from "../../src/typed/ref.js";
import { array, struct } from "../../src/typed/struct.js";
import { SUBJECTS, snapshot, unchanged } from "./subjects.js";

const Particle = struct(
  { x: "f64", y: "f64", vx: "f64", vy: "f64", id: "u32", alive: "u8" },
  "Particle",
);
const Vec3 = struct({ x: "f32", y: "f32", z: "f32" }, "Vec3");
const Body = struct(
  { pos: Vec3, mass: "f64", tags: array("u8", 4), id: "u64", next: "ptr" },
  "Body",
);

describe("struct layout", () => {
  it("follows Layout.extend: fields in order, each at its alignment, size padded", () => {
    const S = struct({ a: "u8", b: "f64", c: "u16" });
    expect(S.fields.map((f) => [f.name, f.offset])).toEqual([
      ["a", 0],
      ["b", 8],
      ["c", 16],
    ]);
    expect(S.layout).toEqual(Layout.of(24, 8));
    // The same layout as building it by hand with the seeds' extend/pad_to_align:
    const a = Layout.u8.extend(Layout.f64);
    const b = a.layout.extend(Layout.u16);
    expect([a.offset, b.offset, b.layout.padToAlign()]).toEqual([8, 16, S.layout]);
  });

  it("the record of the benchmark is 40 bytes, aligned to 8", () => {
    expect(Particle.layout).toEqual(Layout.of(40, 8));
    expect(Particle.offsetOf("id")).toBe(32);
    expect(Particle.offsetOf("alive")).toBe(36);
  });

  it("nests structs by value and lays out fixed arrays", () => {
    expect(Vec3.layout).toEqual(Layout.of(12, 4));
    expect(Body.fields.map((f) => [f.name, f.offset])).toEqual([
      ["pos", 0],
      ["mass", 16],
      ["tags", 24],
      ["id", 32],
      ["next", 40],
    ]);
    expect(Body.layout).toEqual(Layout.of(48, 8));
    expect(String(Body)).toBe(
      "struct Body { pos: Vec3 @0, mass: f64 @16, tags: u8[4] @24, id: u64 @32, next: ptr @40 } (48 bytes, align 8)",
    );
  });

  it("entries keep their order", () => {
    const S = struct([
      ["b", "u32"],
      ["a", "u8"],
    ] as const);
    expect(S.fields.map((f) => f.name)).toEqual(["b", "a"]);
    const v = S.read(box(S, { a: 1, b: 2 })!.ptr);
    expectTypeOf(v).toEqualTypeOf<{ b: number; a: number }>();
  });
});

describe("struct types are inferred from the declaration", () => {
  it("values, accessors, readers and boxes", () => {
    const b = box(Body, { mass: 1 })!;
    expectTypeOf(b).toEqualTypeOf<Box<typeof Body>>();
    expectTypeOf(b.get()).toEqualTypeOf<{
      pos: { x: number; y: number; z: number };
      mass: number;
      tags: number[];
      id: bigint;
      next: number;
    }>();
    expectTypeOf(b.value.mass).toEqualTypeOf<number>();
    expectTypeOf(b.value.id).toEqualTypeOf<bigint>();
    expectTypeOf(b.value.tags).toEqualTypeOf<Uint8Array>();
    expectTypeOf(b.value.pos).toEqualTypeOf<
      StructRef<{ readonly x: "f32"; readonly y: "f32"; readonly z: "f32" }>
    >();
    expectTypeOf(Body.reader("id")).toEqualTypeOf<(ptr: number) => bigint>();
    expectTypeOf(Body.writer("mass")).toEqualTypeOf<(ptr: number, value: number) => void>();
    // @ts-expect-error: no such field
    expect(() => Body.reader("nope")).toThrow(
      expect.objectContaining({ code: "ERR_UNKNOWN_FIELD" }),
    );
    // @ts-expect-error: pos is a struct, not a scalar
    expect(() => Body.reader("pos")).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }));
    // @ts-expect-error: a bigint field takes bigints
    expect(() => b.set({ id: 5 })).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }));
    // @ts-expect-error: an unknown field in a value
    expect(() => b.set({ mas: 2 })).toThrow(expect.objectContaining({ code: "ERR_UNKNOWN_FIELD" }));
    const n = box("u16", 7)!;
    expectTypeOf(n.value).toEqualTypeOf<number>();
    expectTypeOf(box(array("i64", 2))!.get()).toEqualTypeOf<bigint[]>();
    b.free();
    n.free();
  });
});

describe.each(SUBJECTS)("structs in $name", (subject) => {
  it("box, read, write, accessors, readers and writers", () => {
    const a = subject.make();
    const b = box(
      Body,
      { pos: { x: 1.5, z: -2 }, mass: 80, tags: [1, 2, 3, 4], id: 2n ** 60n },
      a,
    )!;
    expect(b).not.toBeNull();
    expect(b.ptr % 8).toBe(0);
    expect(b.get()).toEqual({
      pos: { x: 1.5, y: 0, z: -2 },
      mass: 80,
      tags: [1, 2, 3, 4],
      id: 2n ** 60n,
      next: 0,
    });
    const r = b.value;
    r.mass += 1;
    r.pos.y = 0.25;
    r.tags[2] = 9;
    r.next = b.ptr;
    expect(Body.read(b.ptr, a)).toEqual({
      pos: { x: 1.5, y: 0.25, z: -2 },
      mass: 81,
      tags: [1, 2, 9, 4],
      id: 2n ** 60n,
      next: b.ptr,
    });
    Body.write(b.ptr, { pos: { x: 3 }, id: 1n }, a);
    expect(b.value.pos.x).toBe(3);
    expect(b.value.pos.y).toBe(0.25);
    const mass = Body.reader("mass", a);
    const setMass = Body.writer("mass", a);
    setMass(b.ptr, 5);
    expect(mass(b.ptr)).toBe(5);
    expect(Body.at(b.ptr, a).mass).toBe(5);
    expect(Object.keys(Body.at(b.ptr, a))).toEqual([]);
    expect(inspect(Body.at(b.ptr, a))).toContain("mass: 5");
    expect({ ...b.get().pos }).toEqual({ x: 3, y: 0.25, z: -2 });
    a.check();
    b.free();
    a.check();
  });
});

describe("accessors and readers across memory growth", () => {
  it("a wasm memory grown by the heap: accessors and readers re-derive their views", () => {
    const heap = new Heap({ initialBytes: 65536 });
    const first = box(Particle, { x: 1, id: 1 }, heap)!;
    const ref = first.value;
    const x = Particle.reader("x", heap);
    const big = heap.alloc(200_000); // grows the memory: old views detached
    expect(big).not.toBe(0);
    const second = box(Particle, { x: 2, id: 2 }, heap)!;
    expect(x(first.ptr)).toBe(1);
    expect(x(second.ptr)).toBe(2);
    ref.x = 10;
    expect(first.get().x).toBe(10);
  });

  it("a shared memory grown past the views' length", () => {
    const tlsf = new TlsfAllocator(new SharedMemory(65536, 1 << 20));
    const x = Particle.reader("x", tlsf);
    const setX = Particle.writer("x", tlsf);
    tlsf.alloc(300_000);
    const p = tlsf.alloc(Particle.size, Particle.align);
    expect(p).toBeGreaterThan(65536);
    setX(p, 4.5);
    expect(x(p)).toBe(4.5);
  });

  it("a wasm module growing its own memory", () => {
    const wasm = WasmMemory.create(1, 4);
    const tlsf = new TlsfAllocator(wasm);
    const b = box(Vec3, { x: 1, y: 2, z: 3 }, tlsf)!;
    const y = Vec3.reader("y", tlsf);
    wasm.memory.grow(1);
    expect(y(b.ptr)).toBe(2);
    expect(b.get()).toEqual({ x: 1, y: 2, z: 3 });
  });
});

describe("struct bad input changes nothing", () => {
  it("declarations", () => {
    const bad: unknown[] = [
      {},
      [],
      { "": "u8" },
      { "1x": "u8" },
      { "a-b": "u8" },
      { constructor: "u8" },
      { toString: "u8" },
      { a: "u128" },
      { a: "float" },
      { a: 8 },
      { a: null },
      { a: {} },
      [
        ["a", "u8"],
        ["a", "u16"],
      ],
      [["a", "u8", "x"]],
      "u8",
      null,
    ];
    for (const fields of bad) {
      expect(() => struct(fields as never), JSON.stringify(fields)).toThrow(
        expect.objectContaining({ code: "ERR_STRUCT_DEFINITION" }),
      );
    }
    expect(() => array("u8", 0)).toThrow(
      expect.objectContaining({ code: "ERR_STRUCT_DEFINITION" }),
    );
    expect(() => array("u8" as never, 1.5)).toThrow(
      expect.objectContaining({ code: "ERR_STRUCT_DEFINITION" }),
    );
    expect(() => array("bool" as never, 2)).toThrow(
      expect.objectContaining({ code: "ERR_STRUCT_DEFINITION" }),
    );
  });

  it("values, pointers and field names: typed errors, the heap byte-for-byte unchanged", () => {
    const tlsf = new TlsfAllocator(4096);
    const b = box(Particle, { x: 1, id: 3 }, tlsf)!;
    const before = snapshot(tlsf);
    const calls: [() => unknown, string][] = [
      [() => box(Particle, { x: "1" } as never, tlsf), "ERR_ELEMENT_TYPE"],
      [() => box(Particle, { id: -1 }, tlsf), "ERR_ELEMENT_RANGE"],
      [() => box(Particle, { alive: 256 }, tlsf), "ERR_ELEMENT_RANGE"],
      [() => box(Particle, { nope: 1 } as never, tlsf), "ERR_UNKNOWN_FIELD"],
      [() => box(Particle, [1, 2] as never, tlsf), "ERR_ELEMENT_TYPE"],
      [() => box(Body, { tags: [1, 2, 3] }, tlsf), "ERR_ELEMENT_TYPE"],
      [() => box(Body, { pos: { w: 1 } } as never, tlsf), "ERR_UNKNOWN_FIELD"],
      [() => box("u64", 1 as never, tlsf), "ERR_ELEMENT_TYPE"],
      [() => box("bool" as never, 1 as never, tlsf), "ERR_STRUCT_DEFINITION"],
      [() => Particle.write(b.ptr, { x: 2, id: 1.5 }, tlsf), "ERR_ELEMENT_RANGE"],
      [() => Particle.read(b.ptr + 4, tlsf), "ERR_INVALID_POINTER"],
      [() => Particle.read(0, tlsf), "ERR_FOREIGN_POINTER"],
      [() => Particle.read(1 << 20, tlsf), "ERR_FOREIGN_POINTER"],
      [() => Particle.at(-8, tlsf), "ERR_INVALID_POINTER"],
      [() => Particle.writer("x", tlsf)(b.ptr, "2" as never), "ERR_ELEMENT_TYPE"],
      [() => Particle.writer("x", tlsf)(b.ptr + 1, 2), "ERR_INVALID_POINTER"],
      [() => Particle.reader("x", tlsf)("8" as never), "ERR_INVALID_POINTER"],
      [() => Particle.reader("x", tlsf)(Number.NaN), "ERR_INVALID_POINTER"],
      [() => Particle.reader("x", tlsf)(2 ** 32 - 8), "ERR_INVALID_POINTER"],
      [() => Particle.writer("id", tlsf)(b.ptr, 2 ** 32), "ERR_ELEMENT_RANGE"],
      [() => Particle.offsetOf("nope" as never), "ERR_UNKNOWN_FIELD"],
      [
        () => {
          (b.value as { id: number }).id = -5;
        },
        "ERR_ELEMENT_RANGE",
      ],
    ];
    for (const [call, code] of calls) {
      expect(call, String(call)).toThrow(expect.objectContaining({ code }));
      expect(unchanged(tlsf, before)).toBe(true);
    }
    expect(b.get()).toEqual({ x: 1, y: 0, vx: 0, vy: 0, id: 3, alive: 0 });
  });

  it("a box and its accessors after free", () => {
    const tlsf = new TlsfAllocator(4096);
    const b = box(Body, {}, tlsf)!;
    const r = b.value;
    const pos = r.pos;
    b.free();
    expect(b.freed).toBe(true);
    for (const call of [
      () => b.get(),
      () => b.value,
      () => b.ptr,
      () => r.mass,
      () => pos.x,
      () => b.set({}),
    ]) {
      expect(call).toThrow(StaleViewError);
      expect(call).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
    }
    expect(() => {
      r.mass = 1;
    }).toThrow(expect.objectContaining({ code: "ERR_FREED" }));
    expect(() => b.free()).toThrow(expect.objectContaining({ code: "ERR_DOUBLE_FREE" }));
    expect(inspect(r)).toBe("Body <ERR_FREED>");
    expect(inspect(b)).toBe("Box <freed>");
    expect(tlsf.stats().liveBlocks).toBe(0);
    {
      using c = box("f64", 1, tlsf)!;
      c.value *= 3;
      expect(c.value).toBe(3);
      expect(tlsf.stats().liveBlocks).toBe(1);
    }
    expect(tlsf.stats().liveBlocks).toBe(0);
  });

  it("out of memory: box answers null and allocates nothing", () => {
    const tlsf = new TlsfAllocator(1024);
    while (tlsf.alloc(64) !== 0) {}
    const before = snapshot(tlsf);
    expect(box(Particle, { x: 1 }, tlsf)).toBeNull();
    expect(unchanged(tlsf, before)).toBe(true);
    expect(() => Particle.at(8, tlsf)).toThrow(InvalidPointerError);
  });
});

describe("seeds: Box<u32> and stalloc's 32-byte heap", () => {
  it("eight u32, then four Box<u64>, then two 16-aligned Box<u128> in 8 blocks of 4 bytes", async () => {
    const { BlockAllocator } = await import("../../src/strategies/block/index.js");
    const heap = new BlockAllocator(8, 4, { align: 16 }); // Stalloc::<8, 4>, blocks at a 16-byte boundary
    expect(heap.memory.end - heap.blocksAt).toBe(32);
    // 4-byte values through the block API (the contract's alloc aligns to 8: four would fit).
    const u32s = Array.from({ length: 8 }, () => heap.allocateBlocks(1));
    expect(u32s).not.toContain(0);
    expect(heap.isOom()).toBe(true);
    for (const p of u32s) heap.deallocateBlocks(p, 1);
    const u64s = Array.from({ length: 4 }, (_, i) => box("u64", BigInt(i), heap)!);
    expect(u64s.map((b) => b.get())).toEqual([0n, 1n, 2n, 3n]);
    expect(box("u64", 9n, heap)).toBeNull();
    for (const b of u64s) b.free();
    const U128 = struct({ lo: "u64", hi: "u64" }, "u128");
    const ptrs = [heap.alloc(U128.size, 16), heap.alloc(U128.size, 16)];
    for (const p of ptrs) expect(p % 16).toBe(0);
    expect(heap.isOom()).toBe(true);
    U128.write(ptrs[1], { lo: 1n, hi: 2n ** 63n }, heap);
    expect(U128.read(ptrs[1], heap)).toEqual({ lo: 1n, hi: 2n ** 63n });
  });
});

describe("readers and writers of every scalar kind", () => {
  const KINDS = [
    ["i8", -128, 127, 128, 1],
    ["u8", 0, 255, -1, 1],
    ["i16", -32768, 32767, 32768, 2],
    ["u16", 0, 65535, 65536, 2],
    ["i32", -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 4],
    ["u32", 0, 2 ** 32 - 1, -1, 4],
    ["ptr", 0, 2 ** 32 - 1, 2 ** 32, 4],
    ["f32", -1.5, 2 ** 20, undefined, 4],
    ["f64", -Number.MAX_VALUE, Number.MIN_VALUE, undefined, 8],
    ["i64", -(2n ** 63n), 2n ** 63n - 1n, 2n ** 63n, 8],
    ["u64", 0n, 2n ** 64n - 1n, -1n, 8],
  ] as const;
  it.each(KINDS)(
    "%s: extremes round-trip; out of range, wrong type, misaligned: typed errors",
    (name, lo, hi, out, size) => {
      const tlsf = new TlsfAllocator(4096);
      const S = struct({ pad: "u8", v: name } as { pad: "u8"; v: typeof name });
      const p = S.alloc({}, tlsf);
      expect(p).not.toBe(0);
      const read = S.reader("v", tlsf) as (p: number) => unknown;
      const write = S.writer("v", tlsf) as (p: number, x: unknown) => void;
      expect(S.offsetOf("v")).toBe(size);
      for (const x of [lo, hi]) {
        write(p, x);
        expect(read(p)).toBe(x);
      }
      const before = snapshot(tlsf);
      if (out !== undefined) {
        expect(() => write(p, out)).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_RANGE" }));
      }
      const wrong = typeof lo === "bigint" ? 1 : 1n;
      expect(() => write(p, wrong)).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }));
      expect(() => write(p, "1")).toThrow(expect.objectContaining({ code: "ERR_ELEMENT_TYPE" }));
      if (size > 1) {
        expect(() => read(p + 1)).toThrow(expect.objectContaining({ code: "ERR_INVALID_POINTER" }));
        expect(() => write(p + 1, lo)).toThrow(
          expect.objectContaining({ code: "ERR_INVALID_POINTER" }),
        );
      }
      expect(() => read(-size)).toThrow(expect.objectContaining({ code: "ERR_INVALID_POINTER" }));
      expect(() => read(1 << 24)).toThrow(expect.objectContaining({ code: "ERR_INVALID_POINTER" }));
      expect(unchanged(tlsf, before)).toBe(true);
      S.free(p, tlsf);
      expect(tlsf.stats().liveBlocks).toBe(0);
      expect(() => S.free(p, tlsf)).toThrow(expect.objectContaining({ code: "ERR_DOUBLE_FREE" }));
    },
  );

  it("Struct.alloc checks the value before allocating, and answers 0 when out of memory", () => {
    const tlsf = new TlsfAllocator(1024);
    const before = snapshot(tlsf);
    expect(() => Particle.alloc({ id: -1 }, tlsf)).toThrow(
      expect.objectContaining({ code: "ERR_ELEMENT_RANGE" }),
    );
    expect(unchanged(tlsf, before)).toBe(true);
    const ps: number[] = [];
    for (let p = Particle.alloc({ x: 1 }, tlsf); p !== 0; p = Particle.alloc({ x: 1 }, tlsf))
      ps.push(p);
    expect(ps.length).toBeGreaterThan(10);
    for (const p of ps) expect(Particle.read(p, tlsf).x).toBe(1);
    expect(() => Particle.free(ps[0] + 8, tlsf)).toThrow(InvalidPointerError);
  });
});
