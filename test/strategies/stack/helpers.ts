/** What the StackAllocator tests share: its offsets, a no-change check, a block's header words. */

import { expect } from "vitest";
import { COMMON_SLOTS } from "../../../src/core/header.js";
import { StackAllocator } from "../../../src/strategies/stack/index.js";

/** dataStart of a stack made with `new StackAllocator(capacity)`: right after its header. */
export const DS = StackAllocator.metadataSize;
export const HDR = StackAllocator.blockHeaderSize;
/** Header slots LIVE and INUSE, and the words PREV/SIZE inside a block header (white-box corruption tests). */
export const LIVE_SLOT = COMMON_SLOTS + 4;
export const INUSE_SLOT = COMMON_SLOTS + 5;
export const PREV_WORD = 0;
export const SIZE_WORD = 1;

export function snapshot(a: StackAllocator): { bytes: Uint8Array; stats: string } {
  const m = a.memory;
  return { bytes: m.u8.slice(m.start, m.end), stats: JSON.stringify(a.stats()) };
}

/** `fn` must throw `cls` with `code`, and leave every byte and the stats as they were. */
export function expectRejected(
  a: StackAllocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  code?: string,
): void {
  const before = snapshot(a);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(cls);
  if (code !== undefined) expect((thrown as { code: string }).code).toBe(code);
  const after = snapshot(a);
  expect(Buffer.compare(before.bytes, after.bytes)).toBe(0);
  expect(after.stats).toBe(before.stats);
}

export function headerWords(a: StackAllocator, ptr: number): { prev: number; size: number } {
  const w = (ptr - HDR) / 4;
  return { prev: a.memory.u32[w + PREV_WORD], size: a.memory.u32[w + SIZE_WORD] };
}
