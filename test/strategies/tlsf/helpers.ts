/**
 * What TlsfAllocator's test files share: where an owned heap's first block and state words
 * are, a heap on a fixed buffer, its words, and the two expectations of a rejected call
 * (nothing changed) and of detected corruption (poisoned for good).
 */

import { expect } from "vitest";
import { HeapCorruptedError, HeapPoisonedError } from "../../../src/core/errors.js";
import { FixedMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import { TLSF_HEADER, TLSF_METADATA_BYTES } from "../../../src/strategies/tlsf/layout.js";
import { expectRejected } from "../../helpers/rejected.js";

/** First block start of an owned heap (region at 0): its pointer is 16-aligned. */
export const FIRST = Math.ceil((TLSF_METADATA_BYTES + 8) / 16) * 16 - 4;
/** u32 index of the state words in an owned heap (region at 0). */
export const SW = TLSF_HEADER.wordsAt / 4;
export const W = TLSF_HEADER.word;

export type Tlsf = TlsfAllocator;

export function tlsf(capacity = 1 << 16, frontEnd = false): Tlsf {
  return new TlsfAllocator(new FixedMemory(new ArrayBuffer(capacity)), { frontEnd });
}

export function u32(a: Tlsf): Uint32Array {
  a.memory.refresh();
  return a.memory.u32;
}

/** The block size in the size word before `ptr`. */
export function blockSize(a: Tlsf, ptr: number): number {
  return u32(a)[(ptr - 4) >>> 2] & ~7;
}

/** A rejected call changes no byte of the memory or the metadata, and no stat. */
export function expectUnchanged(
  a: Tlsf,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
) {
  expectRejected(a, fn, cls, true);
}

/** The call must throw HeapCorruptedError, and the heap stay poisoned for every later call. */
export function expectPoisons(a: Tlsf, fn: () => unknown) {
  expect(fn).toThrow(HeapCorruptedError);
  expect(a.poisoned).toBe(true);
  expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
  expect(() => a.check()).toThrow(HeapPoisonedError);
}
