/** What the memory tests share: the page size, error expectations, a snapshot, a detach. */

import { expect } from "vitest";
import { ArgumentRangeError, ArgumentTypeError } from "../../src/core/errors.js";
import type { Memory } from "../../src/memory/memory.js";

export const PAGE = 65536;
export const alignUpPage = (n: number) => Math.ceil(n / PAGE) * PAGE;

export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

export function expectMemoryRangeError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ArgumentRangeError);
  expect((e as ArgumentRangeError).code).toBe("ERR_MEMORY");
}

export function expectArgTypeError(f: () => unknown): void {
  const e = thrown(f);
  expect(e).toBeInstanceOf(ArgumentTypeError);
}

/** What a memory looks like from outside, to prove a refused grow changed nothing. */
export function snapshot(m: Memory) {
  return {
    end: m.end,
    maxEnd: m.maxEnd,
    generation: m.generation,
    bufferBytes: m.buffer.byteLength,
    u8: m.u8.length,
    f64: m.f64.length,
  };
}

/** Detaches an ArrayBuffer (as a postMessage transfer would). */
export function detach(ab: ArrayBuffer): void {
  structuredClone(ab, { transfer: [ab] });
}
