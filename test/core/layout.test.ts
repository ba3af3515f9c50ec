import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgumentRangeError, ArgumentTypeError, LayoutError } from "../../src/core/errors.js";
import {
  Layout,
  layoutArray,
  layoutExtend,
  layoutForI32,
  layoutForI64,
  layoutForPtr,
  layoutNew,
} from "../../src/core/layout.js";
import { MAX_ALIGN, MAX_ALLOC_SIZE } from "../../src/core/validate.js";

/** Calls `f` and returns what it threw (fails the test if it did not throw). */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

function expectLayoutError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(LayoutError);
  expect(e).toBeInstanceOf(ArgumentRangeError);
  expect(e).toBeInstanceOf(RangeError);
  expect((e as LayoutError).code).toBe("ERR_LAYOUT");
  expect((e as LayoutError).name).toBe("LayoutError");
}

function expectTypeError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ArgumentTypeError);
  expect(e).toBeInstanceOf(TypeError);
  expect((e as ArgumentTypeError).code).toBe("ERR_ALLOC_ARG_TYPE");
}

/** Any value, as the API sees it from untyped JavaScript. */
const anyOf = Layout.of as (size: unknown, align?: unknown) => Layout;

describe("Layout.of", () => {
  it("accepts every size 0 … 2^32-1 with alignment 1, and the default alignment is 1", () => {
    for (const size of [0, 1, 7, 8, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, MAX_ALLOC_SIZE]) {
      const l = Layout.of(size);
      expect(l.size).toBe(size);
      expect(l.align).toBe(1);
    }
  });

  it("folds -0 into 0", () => {
    expect(Object.is(Layout.of(-0, 8).size, 0)).toBe(true);
  });

  it.each([
    ["NaN", Number.NaN],
    ["+Infinity", Number.POSITIVE_INFINITY],
    ["-Infinity", Number.NEGATIVE_INFINITY],
    ["-1", -1],
    ["-2^31", -(2 ** 31)],
    ["1.5", 1.5],
    ["0.5", 0.5],
    ["2^32", 2 ** 32],
    ["2^40", 2 ** 40],
    ["2^53", 2 ** 53],
    ["MAX_SAFE_INTEGER", Number.MAX_SAFE_INTEGER],
  ])("rejects size %s with LayoutError", (_, size) => {
    expectLayoutError(() => Layout.of(size, 8));
    expectLayoutError(() => Layout.of(size));
  });

  it.each([
    ["'8'", "8"],
    ["8n", 8n],
    ["null", null],
    ["undefined", undefined],
    ["true", true],
    ["{}", {}],
    ["[8]", [8]],
  ])("rejects size %s with ArgumentTypeError", (_, size) => {
    expectTypeError(() => anyOf(size, 8));
  });

  it.each([
    ["0", 0],
    ["-0", -0],
    ["3", 3],
    ["24", 24],
    ["2^17", 2 ** 17],
    ["2^31", 2 ** 31],
    ["-8", -8],
    ["1.5", 1.5],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("rejects align %s with LayoutError", (_, align) => {
    expectLayoutError(() => Layout.of(8, align));
  });

  it.each([
    ["'8'", "8"],
    ["8n", 8n],
    ["null", null],
    ["{}", {}],
  ])("rejects align %s with ArgumentTypeError", (_, align) => {
    expectTypeError(() => anyOf(8, align));
  });

  it("accepts every power-of-two alignment 1 … MAX_ALIGN (64 KiB), and no other", () => {
    expect(MAX_ALIGN).toBe(65536);
    for (let align = 1; align <= 2 ** 18; align++) {
      const pow2 = (align & (align - 1)) === 0;
      if (pow2 && align <= MAX_ALIGN) {
        expect(Layout.of(align * 3, align).align).toBe(align);
      } else if (align <= 4096 || pow2) {
        expectLayoutError(() => Layout.of(8, align));
      }
    }
  });

  it("rejects a size that overflows 2^32 once padded to its alignment (glibc's bug)", () => {
    expect(Layout.of(2 ** 32 - 8, 8).size).toBe(2 ** 32 - 8);
    expectLayoutError(() => Layout.of(2 ** 32 - 7, 8));
    expectLayoutError(() => Layout.of(MAX_ALLOC_SIZE, 2));
    expect(Layout.of(2 ** 32 - 65536, 65536).size).toBe(2 ** 32 - 65536);
    expectLayoutError(() => Layout.of(2 ** 32 - 65535, 65536));
  });

  it("property: accepts exactly the sizes whose padded size fits below 2^32", () => {
    const sizes = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 32 + 2 ** 17 }),
      fc.integer({ min: 2 ** 32 - 2 ** 17, max: 2 ** 32 + 16 }),
    );
    const aligns = fc.integer({ min: 0, max: 16 }).map((k) => 2 ** k);
    fc.assert(
      fc.property(sizes, aligns, (size, align) => {
        const padded = Number(
          ((BigInt(size) + BigInt(align) - 1n) / BigInt(align)) * BigInt(align),
        );
        if (padded <= MAX_ALLOC_SIZE) {
          const l = Layout.of(size, align);
          expect([l.size, l.align]).toEqual([size, align]);
        } else {
          expectLayoutError(() => Layout.of(size, align));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("layouts are immutable", () => {
    const l = Layout.of(16, 8);
    expect(Object.isFrozen(l)).toBe(true);
    expect(Object.isFrozen(Layout.i64)).toBe(true);
    expect(() => {
      (l as { size: number }).size = 1;
    }).toThrow(TypeError);
    expect(l.size).toBe(16);
  });

  it("prints as Layout(size, align)", () => {
    expect(String(Layout.of(12, 4))).toBe("Layout(12, 4)");
  });
});

describe("ready-made layouts", () => {
  it.each([
    ["i8", Layout.i8, 1, 1],
    ["u8", Layout.u8, 1, 1],
    ["i16", Layout.i16, 2, 2],
    ["u16", Layout.u16, 2, 2],
    ["i32", Layout.i32, 4, 4],
    ["u32", Layout.u32, 4, 4],
    ["f32", Layout.f32, 4, 4],
    ["i64", Layout.i64, 8, 8],
    ["u64", Layout.u64, 8, 8],
    ["f64", Layout.f64, 8, 8],
    ["ptr (wasm32)", Layout.ptr, 4, 4],
  ])("%s is size %i align %i", (_, layout, size, align) => {
    expect(layout).toBeInstanceOf(Layout);
    expect(layout.size).toBe(size);
    expect(layout.align).toBe(align);
  });

  it("match the typed arrays' element sizes", () => {
    expect(Layout.f64.size).toBe(Float64Array.BYTES_PER_ELEMENT);
    expect(Layout.i64.size).toBe(BigInt64Array.BYTES_PER_ELEMENT);
    expect(Layout.i32.size).toBe(Int32Array.BYTES_PER_ELEMENT);
    expect(Layout.u16.size).toBe(Uint16Array.BYTES_PER_ELEMENT);
    expect(Layout.f32.size).toBe(Float32Array.BYTES_PER_ELEMENT);
  });
});

describe("Layout.array", () => {
  it("is count elements of the padded element size", () => {
    expect(Layout.array(Layout.i32, 10)).toEqual(Layout.of(40, 4));
    expect(Layout.array(Layout.f64, 0)).toEqual(Layout.of(0, 8));
    // A 12-byte element aligned to 8 takes a 16-byte stride.
    const elem = Layout.of(12, 8);
    expect(Layout.array(elem, 3)).toEqual(Layout.of(48, 8));
    // Odd sizes with alignment 1 are not padded.
    expect(Layout.array(Layout.of(3, 1), 5)).toEqual(Layout.of(15, 1));
    expect(Layout.array(Layout.of(3, 4), 5)).toEqual(Layout.of(20, 4));
  });

  it("property: size = count × alignUp(elem.size, elem.align), or LayoutError past 2^32", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.integer({ min: 0, max: 16 }),
        fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 2 ** 40 })),
        (size, k, count) => {
          const align = 2 ** k;
          const elem = Layout.of(size, align);
          const stride = BigInt(Math.ceil(size / align) * align);
          const total = stride * BigInt(count);
          if (total <= BigInt(MAX_ALLOC_SIZE)) {
            expect(Layout.array(elem, count)).toEqual(Layout.of(Number(total), align));
          } else {
            expectLayoutError(() => Layout.array(elem, count));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("rejects overflow past 2^32 (count × size computed without wrapping)", () => {
    expect(Layout.array(Layout.u64, 2 ** 29 - 1).size).toBe(2 ** 32 - 8);
    expectLayoutError(() => Layout.array(Layout.u64, 2 ** 29)); // exactly 2^32
    expectLayoutError(() => Layout.array(Layout.u8, 2 ** 32));
    expectLayoutError(() => Layout.array(Layout.of(2 ** 31, 1), 2));
    // 2^31 + 1 elements of 2 bytes: (2 * (2^31+1)) >>> 0 would be 2 — must not pass.
    expectLayoutError(() => Layout.array(Layout.u16, 2 ** 31 + 1));
    expectLayoutError(() => Layout.array(Layout.of(65536, 65536), 65536));
    expectLayoutError(() => Layout.array(Layout.u8, Number.MAX_SAFE_INTEGER));
    // Zero-sized elements never overflow.
    expect(Layout.array(Layout.of(0, 16), Number.MAX_SAFE_INTEGER)).toEqual(Layout.of(0, 16));
  });

  it("rejects bad counts and elements", () => {
    for (const count of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expectLayoutError(() => Layout.array(Layout.u8, count));
    }
    const anyArray = Layout.array as (elem: unknown, count: unknown) => Layout;
    for (const count of ["2", 2n, null, undefined]) {
      expectTypeError(() => anyArray(Layout.u8, count));
    }
    for (const elem of [{ size: 4, align: 4 }, null, 4, "i32"]) {
      expectTypeError(() => anyArray(elem, 1));
    }
  });
});

describe("extend and padToAlign", () => {
  it("places the next field at the first multiple of its alignment", () => {
    const { layout, offset } = Layout.u8.extend(Layout.u32);
    expect(offset).toBe(4);
    expect(layout).toEqual(Layout.of(8, 4));
    const r = Layout.of(0, 1).extend(Layout.f64);
    expect(r.offset).toBe(0);
    expect(r.layout).toEqual(Layout.of(8, 8));
  });

  it("does not pad the end; padToAlign does", () => {
    const { layout } = Layout.i64.extend(Layout.u8);
    expect(layout).toEqual(Layout.of(9, 8));
    expect(layout.padToAlign()).toEqual(Layout.of(16, 8));
    expect(Layout.of(16, 8).padToAlign()).toEqual(Layout.of(16, 8));
    expect(Layout.of(0, 64).padToAlign()).toEqual(Layout.of(0, 64));
    expect(Layout.of(1, 65536).padToAlign()).toEqual(Layout.of(65536, 65536));
  });

  it("the combined alignment is the larger of the two", () => {
    expect(Layout.u8.extend(Layout.of(1, 4096)).layout.align).toBe(4096);
    expect(Layout.of(1, 4096).extend(Layout.u8).layout.align).toBe(4096);
  });

  it("property: a struct built field by field has aligned, disjoint, ordered fields", () => {
    const field = fc
      .tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 12 }))
      .map(([size, k]) => Layout.of(size, 2 ** k));
    fc.assert(
      fc.property(fc.array(field, { minLength: 1, maxLength: 12 }), (fields) => {
        let acc = fields[0]!;
        let end = acc.size;
        let maxAlign = acc.align;
        for (const f of fields.slice(1)) {
          const { layout, offset } = acc.extend(f);
          expect(offset % f.align).toBe(0);
          expect(offset).toBeGreaterThanOrEqual(end);
          expect(offset - end).toBeLessThan(f.align); // minimal padding
          expect(layout.size).toBe(offset + f.size);
          end = layout.size;
          maxAlign = Math.max(maxAlign, f.align);
          expect(layout.align).toBe(maxAlign);
          acc = layout;
        }
        const padded = acc.padToAlign();
        expect(padded.size % padded.align).toBe(0);
        expect(padded.size - acc.size).toBeLessThan(acc.align);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects overflow past 2^32 and non-Layout arguments", () => {
    expectLayoutError(() => Layout.of(MAX_ALLOC_SIZE, 1).extend(Layout.u8));
    expectLayoutError(() => Layout.of(2 ** 32 - 4, 1).extend(Layout.u64)); // offset 2^32
    // Size 2^32-7 fits, but padded to the struct's alignment 8 it is 2^32: rejected.
    expectLayoutError(() => Layout.of(2 ** 32 - 8, 8).extend(Layout.u8));
    expect(
      Layout.of(2 ** 32 - 9, 8)
        .extend(Layout.u8)
        .layout.padToAlign().size,
    ).toBe(2 ** 32 - 8);
    expectLayoutError(() => Layout.of(2 ** 31, 1).extend(Layout.of(2 ** 31, 1)));
    const anyExtend = Layout.u8.extend.bind(Layout.u8) as (x: unknown) => unknown;
    expectTypeError(() => anyExtend({ size: 1, align: 1 }));
    expectTypeError(() => anyExtend(null));
  });
});

describe("the seeds' examples and function names", () => {
  it("layout_for_i64: size 8, align 8", () => {
    const l = layoutForI64();
    expect(l.size).toBe(8);
    expect(l.align).toBe(8);
  });

  it("layout_for_i32 and layout_for_ptr (wasm32): size 4, align 4", () => {
    expect([layoutForI32().size, layoutForI32().align]).toEqual([4, 4]);
    expect([layoutForPtr().size, layoutForPtr().align]).toEqual([4, 4]);
  });

  it("layout_new validates like Layout.of", () => {
    expect(layoutNew(24, 8)).toEqual(Layout.of(24, 8));
    expectLayoutError(() => layoutNew(24, 3));
    expectLayoutError(() => layoutNew(-1, 8));
    expectLayoutError(() => layoutNew(Number.NaN, 8));
  });

  it("layout_array(elem_size, elem_align, count)", () => {
    expect(layoutArray(4, 4, 10)).toEqual(Layout.of(40, 4));
    expect(layoutArray(12, 8, 2)).toEqual(Layout.of(32, 8));
    expectLayoutError(() => layoutArray(8, 8, 2 ** 29));
    expectLayoutError(() => layoutArray(8, 5, 1));
  });

  it("Layout Extension: struct { i64, i32, ptr } with the wasm32 4-byte pointer", () => {
    const a = layoutExtend(layoutForI64(), layoutForI32());
    expect(a.offset).toBe(8);
    const b = layoutExtend(a.layout, layoutForPtr());
    expect(b.offset).toBe(12);
    const struct = b.layout.padToAlign();
    expect([0, a.offset, b.offset]).toEqual([0, 8, 12]);
    expect(struct.size).toBe(16);
    expect(struct.align).toBe(8);
  });

  it("Layout Extension: struct { i64, i32, ptr } with an 8-byte pointer, as the seed derives", () => {
    const ptr64 = Layout.u64;
    const a = layoutExtend(layoutForI64(), layoutForI32());
    const b = layoutExtend(a.layout, ptr64);
    expect([0, a.offset, b.offset]).toEqual([0, 8, 16]);
    const struct = b.layout.padToAlign();
    expect(struct.size).toBe(24);
    expect(struct.align).toBe(8);
  });
});
