/**
 * For strategies that keep their books in metadata: what a rejected call must leave as it
 * was (every metadata byte and the stats), and the assertion that it did.
 */

import { expect } from "vitest";
import type { Allocator } from "../../src/core/allocator.js";

type WithMetadata = Allocator & { metadataBytes(): Uint8Array };

/** The metadata bytes and the stats, as one comparable string. */
export function metadataState(a: WithMetadata): string {
  return `${Buffer.from(a.metadataBytes()).toString("hex")} ${JSON.stringify(a.stats())}`;
}

/** `fn` must throw `cls`, change no metadata byte and no stat, and leave `check()` passing. */
export function expectRejected(
  a: WithMetadata,
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
): void {
  const before = metadataState(a);
  expect(fn).toThrow(cls);
  expect(metadataState(a)).toBe(before);
  a.check();
}
