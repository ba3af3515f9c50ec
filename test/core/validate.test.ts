/**
 * Argument validation at the API boundary, over the boundary values of RELIABILITY.md §3.5:
 * the right class and `code` for every bad input, and no throw (out of memory instead) for a
 * valid integer too large for any heap.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../../src/core/errors.js";
import {
  checkAlign,
  checkDeallocSize,
  checkSize32,
  checkSizeFits,
  DEFAULT_ALIGN,
  invalidPointer,
  isUint32,
  isValidAlign,
  MAX_ALIGN,
  MAX_ALLOC_SIZE,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../../src/core/validate.js";

/** What a call did: returned, or threw an error of some class with some code. */
type Outcome = "ok" | "type" | "range-size" | "range-align" | "pointer" | "mismatch";

function outcome(f: () => unknown): Outcome | string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof ArgumentTypeError) {
      expect(e).toBeInstanceOf(TypeError);
      expect(e.code).toBe("ERR_ALLOC_ARG_TYPE");
      return "type";
    }
    if (e instanceof ArgumentRangeError) {
      expect(e).toBeInstanceOf(RangeError);
      if (e.code === "ERR_ALLOC_SIZE") return "range-size";
      if (e.code === "ERR_ALLOC_ALIGN") return "range-align";
      return `range ${e.code}`;
    }
    if (e instanceof InvalidPointerError) {
      expect(e.code).toBe("ERR_INVALID_POINTER");
      return "pointer";
    }
    if (e instanceof LayoutMismatchError) {
      expect(e.code).toBe("ERR_LAYOUT_MISMATCH");
      return "mismatch";
    }
    return `unexpected ${String(e)}`;
  }
}

/**
 * The boundary values (§3.5) and, per function, what each must do. Columns: isUint32,
 * isValidAlign, rejectSize, checkSize32, checkAlign, rejectPointer, checkDeallocSize.
 */
const BOUNDARY: Array<
  [string, unknown, boolean, boolean, Outcome, Outcome, Outcome, Outcome, Outcome]
> = [
  ["0", 0, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["-0", -0, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["1", 1, true, true, "ok", "ok", "ok", "pointer", "ok"],
  ["minAlign-1 (7)", 7, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["minAlign (8)", 8, true, true, "ok", "ok", "ok", "pointer", "ok"],
  ["3", 3, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["24", 24, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^16", 2 ** 16, true, true, "ok", "ok", "ok", "pointer", "ok"],
  ["2^16+1", 2 ** 16 + 1, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^17", 2 ** 17, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^30", 2 ** 30, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^31-1", 2 ** 31 - 1, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^31", 2 ** 31, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^32-1", 2 ** 32 - 1, true, false, "ok", "ok", "range-align", "pointer", "ok"],
  ["2^32", 2 ** 32, false, false, "ok", "range-size", "range-align", "pointer", "mismatch"],
  ["2^32+8", 2 ** 32 + 8, false, false, "ok", "range-size", "range-align", "pointer", "mismatch"],
  ["2^40", 2 ** 40, false, false, "ok", "range-size", "range-align", "pointer", "mismatch"],
  ["2^53-1", 2 ** 53 - 1, false, false, "ok", "range-size", "range-align", "pointer", "mismatch"],
  [
    "2^53",
    2 ** 53,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  ["-1", -1, false, false, "range-size", "range-size", "range-align", "pointer", "range-size"],
  ["-8", -8, false, false, "range-size", "range-size", "range-align", "pointer", "range-size"],
  [
    "-2^31",
    -(2 ** 31),
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  [
    "-2^32",
    -(2 ** 32),
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  [
    "NaN",
    Number.NaN,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  [
    "+Infinity",
    Number.POSITIVE_INFINITY,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  [
    "-Infinity",
    Number.NEGATIVE_INFINITY,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  ["0.5", 0.5, false, false, "range-size", "range-size", "range-align", "pointer", "range-size"],
  ["1.5", 1.5, false, false, "range-size", "range-size", "range-align", "pointer", "range-size"],
  [
    "8.000001",
    8.000001,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  [
    "2^32-0.5",
    2 ** 32 - 0.5,
    false,
    false,
    "range-size",
    "range-size",
    "range-align",
    "pointer",
    "range-size",
  ],
  ["8n", 8n, false, false, "type", "type", "type", "type", "type"],
  ["'8'", "8", false, false, "type", "type", "type", "type", "type"],
  ["''", "", false, false, "type", "type", "type", "type", "type"],
  ["null", null, false, false, "type", "type", "type", "type", "type"],
  ["true", true, false, false, "type", "type", "type", "type", "type"],
  ["{}", {}, false, false, "type", "type", "type", "type", "type"],
  ["[8]", [8], false, false, "type", "type", "type", "type", "type"],
  ["Symbol()", Symbol("s"), false, false, "type", "type", "type", "type", "type"],
  ["new Number(8)", new Number(8), false, false, "type", "type", "type", "type", "type"],
  ["undefined", undefined, false, false, "type", "type", "type", "type", "ok"],
];

type AnyFn = (x: unknown) => unknown;

describe("boundary values (RELIABILITY.md §3.5)", () => {
  it.each(BOUNDARY)("%s", (_, x, uint32, validAlign, size, size32, align, pointer, deallocSize) => {
    expect(isUint32(x as number)).toBe(uint32);
    expect(isValidAlign(x as number)).toBe(validAlign);
    expect(outcome(() => rejectSize(x))).toBe(size);
    expect(outcome(() => (checkSize32 as AnyFn)(x))).toBe(size32);
    expect(outcome(() => (checkAlign as AnyFn)(x))).toBe(align);
    expect(outcome(() => rejectPointer(x))).toBe(pointer);
    expect(outcome(() => (checkDeallocSize as AnyFn)(x))).toBe(deallocSize);
    // rejectAlign always throws: TypeError for non-numbers, RangeError for numbers.
    expect(outcome(() => rejectAlign(x))).toBe(typeof x === "number" ? "range-align" : "type");
  });

  it("an object with valueOf is never coerced (no call to valueOf)", () => {
    let calls = 0;
    const sneaky = {
      valueOf() {
        calls++;
        return 8;
      },
    };
    expect(isUint32(sneaky as unknown as number)).toBe(false);
    expect(outcome(() => rejectSize(sneaky))).toBe("type");
    expect(outcome(() => (checkSize32 as AnyFn)(sneaky))).toBe("type");
    expect(outcome(() => rejectPointer(sneaky))).toBe("type");
    expect(outcome(() => (checkDeallocSize as AnyFn)(sneaky))).toBe("type");
    expect(calls).toBe(0);
  });
});

describe("constants", () => {
  it("MAX_ALIGN is one wasm page, DEFAULT_ALIGN 8, MAX_ALLOC_SIZE 2^32-1", () => {
    expect(MAX_ALIGN).toBe(65536);
    expect(DEFAULT_ALIGN).toBe(8);
    expect(MAX_ALLOC_SIZE).toBe(2 ** 32 - 1);
    expect(isValidAlign(MAX_ALIGN)).toBe(true);
    expect(isValidAlign(MAX_ALIGN * 2)).toBe(false);
    expect(isValidAlign(DEFAULT_ALIGN)).toBe(true);
    expect(isUint32(MAX_ALLOC_SIZE)).toBe(true);
    expect(isUint32(MAX_ALLOC_SIZE + 1)).toBe(false);
  });
});

describe("properties", () => {
  it("isUint32(x) ⇔ x is an integer 0 … 2^32-1, for any double", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
          fc.integer({ min: 2 ** 32 - 1000, max: 2 ** 32 + 1000 }),
          fc.maxSafeInteger(),
        ),
        (x) => {
          expect(isUint32(x)).toBe(Number.isInteger(x) && x >= 0 && x < 2 ** 32);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("isValidAlign(x) ⇔ x ∈ {1, 2, 4, … 2^16}, for any double", () => {
    const valid = new Set(Array.from({ length: 17 }, (_, k) => 2 ** k));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double(),
          fc.integer({ min: -70000, max: 140000 }),
          fc.integer({ min: 0, max: 40 }).map((k) => 2 ** k),
          fc.integer({ min: 0, max: 40 }).map((k) => -(2 ** k)),
          fc.integer({ min: 0, max: 20 }).map((k) => 2 ** k + 0.5),
        ),
        (x) => {
          expect(isValidAlign(x)).toBe(valid.has(x));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it("every non-negative safe integer ≥ 2^32 is the out-of-memory path: rejectSize returns", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }), (x) => {
        expect(rejectSize(x)).toBeUndefined();
        // …while the 32-bit checks refuse it with the size error, not a type error.
        expect(outcome(() => checkSize32(x))).toBe("range-size");
      }),
      { numRuns: 2000 },
    );
  });

  it("every negative or fractional number is a RangeError ERR_ALLOC_SIZE", () => {
    fc.assert(
      fc.property(
        fc.double().filter((x) => !(Number.isSafeInteger(x) && x >= 0) && !Object.is(x, -0)),
        (x) => {
          expect(outcome(() => rejectSize(x))).toBe("range-size");
          expect(outcome(() => checkSize32(x))).toBe("range-size");
          expect(outcome(() => rejectPointer(x))).toBe("pointer");
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("messages name the argument and show the value exactly", () => {
  it("rejectSize", () => {
    expect(() => rejectSize("16")).toThrow(/size must be a number, got "16"/);
    expect(() => rejectSize(8n)).toThrow(/got 8n/);
    expect(() => rejectSize(null)).toThrow(/got null/);
    expect(() => rejectSize([1])).toThrow(/got an array/);
    expect(() => rejectSize({})).toThrow(/got an object/);
    expect(() => rejectSize(-1)).toThrow(/non-negative safe integer, got -1/);
    expect(() => rejectSize(Number.NaN, "newSize")).toThrow(/^newSize must be .* got NaN$/);
  });

  it("checkSize32 names the argument and says why a large integer fails", () => {
    expect(() => checkSize32(2 ** 32, "capacity")).toThrow(/capacity must be below 2\^32/);
    expect(() => checkSize32(-1, "capacity")).toThrow(/capacity must be a non-negative/);
  });

  it("rejectAlign, rejectPointer, invalidPointer", () => {
    expect(() => rejectAlign(3)).toThrow(/align must be a power of two from 1 to 65536, got 3/);
    expect(() => rejectAlign(-0)).toThrow(/got -0/);
    expect(() => rejectPointer(1.5)).toThrow(/pointer must be an integer offset .* got 1.5/);
    const e = invalidPointer(4096, "not a block start");
    expect(e).toBeInstanceOf(InvalidPointerError);
    expect(e.code).toBe("ERR_INVALID_POINTER");
    expect(e.message).toBe("invalid pointer 4096: not a block start");
  });

  it("checkDeallocSize: a size no block can have is a layout mismatch", () => {
    expect(() => checkDeallocSize(2 ** 32)).toThrow(LayoutMismatchError);
    expect(() => checkDeallocSize(2 ** 32)).toThrow(/4294967296/);
    expect(() => checkDeallocSize(undefined)).not.toThrow();
    expect(() => checkDeallocSize(0)).not.toThrow();
  });
});

describe("what the mutation run found untested (npm run mutate, issue 13)", () => {
  it("messages of the type errors, and the default names", () => {
    expect(() => rejectAlign("8")).toThrow(/^align must be a number, got "8"$/);
    expect(() => rejectPointer("64")).toThrow(/^pointer must be a number, got "64"$/);
    expect(() => rejectSize(undefined)).toThrow(/^size must be a number, got undefined$/);
    expect(() => rejectSize(true)).toThrow(/^size must be a number, got true$/);
    expect(() => checkSize32(2 ** 32)).toThrow(/^size must be below 2\^32, got 4294967296$/);
  });

  it("checkSizeFits: a size that is not an integer is the argument's error, never accepted", () => {
    expect(() => checkSizeFits(64, Number.NaN, 40)).toThrow(ArgumentRangeError);
    expect(() => checkSizeFits(64, 1.5, 40)).toThrow(ArgumentRangeError);
    expect(() => checkSizeFits(64, "8" as unknown as number, 40)).toThrow(ArgumentTypeError);
    expect(() => checkSizeFits(64, 41, 40)).toThrow(
      /^dealloc\(64, 41\): the block holds only 40 bytes$/,
    );
    expect(() => checkSizeFits(64, 2 ** 32, 40)).toThrow(LayoutMismatchError);
    expect(() => checkSizeFits(64, 41, 40, "at most")).toThrow(/^dealloc\(64, 41\): at most 40/);
    expect(() => checkSizeFits(64, 40, 40)).not.toThrow();
  });
});
