/** What the SlabAllocator's test files share: a slab over a BlockAllocator, the parent's state, internals. */

import { expect } from "vitest";
import type { Allocator } from "../../../src/core/allocator.js";
import { FixedMemory } from "../../../src/memory/memory.js";
import { BlockAllocator } from "../../../src/strategies/block/index.js";
import { SlabAllocator, type SlabOptions } from "../../../src/strategies/slab/index.js";

/** Bytes of a large block's header. */
export const LARGE_HEADER = 32;

/** A slab over a BlockAllocator (B = 64) over a fresh `bytes`-byte buffer (1 MiB). */
export function makeSlab(options: SlabOptions = {}, bytes = 1 << 20) {
  const memory = new FixedMemory(new ArrayBuffer(bytes), 0, bytes, true);
  const parent = new BlockAllocator(memory, 64);
  const baseline = parent.stats();
  const slab = new SlabAllocator(parent, options);
  return { memory, parent, slab, baseline };
}

/** The parent's state that must come back when the slab gives everything back (not its peak). */
export function parentState(p: Allocator) {
  const { inUse, free, largestFree, liveBlocks } = p.stats();
  return { inUse, free, largestFree, liveBlocks };
}

/** The slab's internals the white-box tests read. */
interface Internals {
  livePageOf(ptr: number): number;
  w0: number;
  recBase: number;
  tableShift: number;
  tableFirst: number;
}

export function internals(slab: SlabAllocator): Internals {
  return slab as unknown as Internals;
}

/** The page holding the live block `ptr` (from the slab's page table). */
export function pageOf(slab: SlabAllocator, ptr: number): number {
  const page = internals(slab).livePageOf(ptr);
  expect(page, `page of ${ptr}`).not.toBe(0);
  return page;
}
