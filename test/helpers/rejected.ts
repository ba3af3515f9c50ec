/**
 * What a rejected call must leave as it was (every metadata byte and the stats, and for
 * strategies with words in band the memory's bytes), and the assertion that it did.
 */

import { expect } from "vitest";
import type { Allocator } from "../../src/core/allocator.js";

type WithMetadata = Allocator & { metadataBytes(): Uint8Array };

/**
 * The metadata bytes and the stats, as one comparable string; with `bytes`, the memory's
 * bytes too (for strategies that keep words in band: size words, footers, links).
 */
export function metadataState(a: WithMetadata, bytes = false): string {
  const meta = `${Buffer.from(a.metadataBytes()).toString("hex")} ${JSON.stringify(a.stats())}`;
  if (!bytes) return meta;
  const m = a.memory;
  m.refresh();
  return `${meta} ${Buffer.from(m.u8.slice(m.start, m.end)).toString("base64")}`;
}

/**
 * `fn` must throw `cls`, change no metadata byte and no stat (with `bytes`, no byte of the
 * memory either), and leave `check()` passing.
 */
export function expectRejected(
  a: WithMetadata,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  bytes = false,
): void {
  const before = metadataState(a, bytes);
  expect(fn).toThrow(cls);
  expect(metadataState(a, bytes)).toBe(before);
  a.check();
}

/** Every byte of the allocator's memory and its stats, comparable. */
function memoryState(a: Allocator): { bytes: Uint8Array; stats: string } {
  const m = a.memory;
  return { bytes: m.u8.slice(m.start, m.end), stats: JSON.stringify(a.stats()) };
}

/** `fn` must throw `cls` and leave every byte of the memory and the stats as they were. */
export function expectMemoryUnchanged(
  a: Allocator,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
): void {
  const before = memoryState(a);
  expect(fn).toThrow(cls);
  const after = memoryState(a);
  expect(Buffer.compare(before.bytes, after.bytes)).toBe(0);
  expect(after.stats).toBe(before.stats);
}
