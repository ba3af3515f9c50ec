/**
 * The error taxonomy of RELIABILITY.md §2.1: argument errors are the platform's TypeError /
 * RangeError (with a `code`), heap-level errors share `AllocatorError`, and every error
 * carries a stable `code` and a `name` equal to its class name.
 */

import { describe, expect, it } from "vitest";
import * as errors from "../../src/core/errors.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  ConcurrentUseError,
  DoubleFreeError,
  type ErrorCode,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutError,
  LayoutMismatchError,
  OutOfMemoryError,
  OwnerDiedError,
  StaleViewError,
} from "../../src/core/errors.js";
import * as api from "../../src/index.js";

type Ctor = abstract new (...args: never[]) => Error;

interface Row {
  make: () => Error;
  cls: Ctor;
  /** Every class it must be an instance of, nearest first (Error implied). */
  chain: Ctor[];
  code: ErrorCode;
}

const ROWS: Row[] = [
  {
    make: () => new ArgumentTypeError("m"),
    cls: ArgumentTypeError,
    chain: [TypeError],
    code: "ERR_ALLOC_ARG_TYPE",
  },
  {
    make: () => new ArgumentRangeError("m", "ERR_ALLOC_SIZE"),
    cls: ArgumentRangeError,
    chain: [RangeError],
    code: "ERR_ALLOC_SIZE",
  },
  {
    make: () => new LayoutError("m"),
    cls: LayoutError,
    chain: [ArgumentRangeError, RangeError],
    code: "ERR_LAYOUT",
  },
  {
    make: () => new AllocatorError("m", "ERR_DESTROYED"),
    cls: AllocatorError,
    chain: [],
    code: "ERR_DESTROYED",
  },
  {
    make: () => new InvalidPointerError("m"),
    cls: InvalidPointerError,
    chain: [AllocatorError],
    code: "ERR_INVALID_POINTER",
  },
  {
    make: () => new DoubleFreeError("m"),
    cls: DoubleFreeError,
    chain: [AllocatorError],
    code: "ERR_DOUBLE_FREE",
  },
  {
    make: () => new LayoutMismatchError("m"),
    cls: LayoutMismatchError,
    chain: [AllocatorError],
    code: "ERR_LAYOUT_MISMATCH",
  },
  {
    make: () => new OutOfMemoryError("m"),
    cls: OutOfMemoryError,
    chain: [AllocatorError],
    code: "ERR_OUT_OF_MEMORY",
  },
  {
    make: () => new HeapIncompatibleError("m"),
    cls: HeapIncompatibleError,
    chain: [AllocatorError],
    code: "ERR_HEAP_MAGIC",
  },
  {
    make: () => new ConcurrentUseError("m"),
    cls: ConcurrentUseError,
    chain: [AllocatorError],
    code: "ERR_CONCURRENT_USE",
  },
  {
    make: () => new StaleViewError("m"),
    cls: StaleViewError,
    chain: [AllocatorError],
    code: "ERR_STALE_VIEW",
  },
  {
    make: () => new OwnerDiedError("m"),
    cls: OwnerDiedError,
    chain: [AllocatorError],
    code: "ERR_OWNER_DIED",
  },
  {
    make: () => new HeapCorruptedError("m"),
    cls: HeapCorruptedError,
    chain: [AllocatorError],
    code: "ERR_HEAP_CORRUPTED",
  },
  {
    make: () => new HeapPoisonedError("m"),
    cls: HeapPoisonedError,
    chain: [HeapCorruptedError, AllocatorError],
    code: "ERR_HEAP_POISONED",
  },
];

/** Built-in and library bases a class must NOT be an instance of unless listed. */
const BASES: Ctor[] = [
  TypeError,
  RangeError,
  AllocatorError,
  ArgumentRangeError,
  HeapCorruptedError,
];

describe("error classes", () => {
  it("the table covers every class errors.ts exports", () => {
    const exported = Object.values(errors).filter((v) => typeof v === "function");
    expect(new Set(exported)).toEqual(new Set(ROWS.map((r) => r.cls)));
  });

  it.each(ROWS.map((r) => [r.cls.name, r] as const))("%s", (_, row) => {
    const e = row.make();
    expect(e).toBeInstanceOf(row.cls);
    expect(e).toBeInstanceOf(Error);
    for (const base of row.chain) expect(e).toBeInstanceOf(base);
    for (const base of BASES) {
      if (base !== row.cls && !row.chain.includes(base)) expect(e).not.toBeInstanceOf(base);
    }
    expect(e.name).toBe(row.cls.name);
    expect((e as Error & { code: string }).code).toBe(row.code);
    expect(e.message).toBe("m");
    expect(String(e)).toBe(`${row.cls.name}: m`);
    expect(typeof e.stack).toBe("string");
    expect(Object.getPrototypeOf(e)).toBe(row.cls.prototype);
  });

  it("argument errors are not AllocatorErrors, heap errors are not TypeError/RangeError", () => {
    // So `catch (e) { if (e instanceof AllocatorError) … }` never swallows a caller's bad argument.
    expect(new ArgumentTypeError("m")).not.toBeInstanceOf(AllocatorError);
    expect(new LayoutError("m")).not.toBeInstanceOf(AllocatorError);
    expect(new InvalidPointerError("m")).not.toBeInstanceOf(TypeError);
    expect(new InvalidPointerError("m")).not.toBeInstanceOf(RangeError);
  });

  it("classes with a variable code keep the code they are given", () => {
    expect(new ArgumentTypeError("m", "ERR_UNSUPPORTED").code).toBe("ERR_UNSUPPORTED");
    expect(new InvalidPointerError("m", "ERR_FOREIGN_POINTER").code).toBe("ERR_FOREIGN_POINTER");
    expect(new InvalidPointerError("m", "ERR_NOT_TOP").code).toBe("ERR_NOT_TOP");
    expect(new DoubleFreeError("m", "ERR_STALE_POINTER").code).toBe("ERR_STALE_POINTER");
    expect(new HeapIncompatibleError("m", "ERR_HEAP_VERSION").code).toBe("ERR_HEAP_VERSION");
    expect(new HeapIncompatibleError("m", "ERR_HEAP_CONFIG").code).toBe("ERR_HEAP_CONFIG");
    expect(new StaleViewError("m", "ERR_DETACHED").code).toBe("ERR_DETACHED");
    expect(new ArgumentRangeError("m", "ERR_ALLOC_ALIGN").code).toBe("ERR_ALLOC_ALIGN");
    // The typed layer's codes (src/typed/).
    expect(new ArgumentTypeError("m", "ERR_ELEMENT_TYPE").code).toBe("ERR_ELEMENT_TYPE");
    expect(new ArgumentRangeError("m", "ERR_ELEMENT_RANGE").code).toBe("ERR_ELEMENT_RANGE");
    expect(new ArgumentRangeError("m", "ERR_INDEX").code).toBe("ERR_INDEX");
    expect(new ArgumentTypeError("m", "ERR_UNKNOWN_FIELD").code).toBe("ERR_UNKNOWN_FIELD");
    expect(new ArgumentTypeError("m", "ERR_STRUCT_DEFINITION").code).toBe("ERR_STRUCT_DEFINITION");
    expect(new StaleViewError("m", "ERR_FREED").code).toBe("ERR_FREED");
  });

  it("a thrown error keeps class, name and code through catch", () => {
    try {
      throw new HeapPoisonedError("poisoned");
    } catch (e) {
      expect(e instanceof HeapCorruptedError && e.code).toBe("ERR_HEAP_POISONED");
      expect((e as Error).name).toBe("HeapPoisonedError");
    }
  });

  it("every error class is exported from the package entry point", () => {
    const entry = api as Record<string, unknown>;
    for (const row of ROWS) expect(entry[row.cls.name], row.cls.name).toBe(row.cls);
  });
});
