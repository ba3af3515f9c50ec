/**
 * The adapter a strategy gives the conformance kit: how to make one, and what it promises.
 * The kit (kit.ts) runs the same model-based property tests for every subject on every
 * memory kind it supports; a flag set to false turns off only the checks that need it.
 */

import type { Allocator } from "../../src/core/allocator.js";
import type { Memory } from "../../src/memory/memory.js";

/** The memory kinds the kit can make (see memories.ts). */
export type KitMemoryKind = "fixed" | "growable" | "shared" | "wasm" | "offset";

export interface Subject {
  /** Name shown in test titles. */
  readonly name: string;
  /** The memory kinds this strategy supports. */
  readonly kinds: readonly KitMemoryKind[];
  /** A fresh allocator managing `memory` (the kit makes the memory, about 64 KiB). */
  make(memory: Memory): Allocator;
  /**
   * How blocks may be freed: `any` order; `lifo` (only the newest live block, others throw
   * `InvalidPointerError` ERR_NOT_TOP); `none` (dealloc accepted, memory back only on reset).
   */
  readonly freeOrder: "any" | "lifo" | "none";
  /** `dealloc` must be given the block's size (no per-block size is kept). */
  readonly deallocNeedsSize: boolean;
  /** A second free of a block (not reused since) throws `DoubleFreeError`. */
  readonly detectsDoubleFree: boolean;
  /** A pointer inside a live block (not its start) is rejected by dealloc. */
  readonly detectsInteriorPointers: boolean;
  /** `usableSize(ptr)` answers for every live block. */
  readonly knowsSizes: boolean;
  /** Request sizes the generator uses: every size in [min, max] must be valid to ask for. */
  readonly sizes: { readonly min: number; readonly max: number };
  /** The largest alignment it serves (alloc with align ≤ this must succeed when space allows). */
  readonly maxAlign: number;
  /**
   * After every block is freed (or `reset`), `alloc(stats().largestFree, 1)` succeeds and
   * `largestFree` equals the fresh allocator's: proof of full coalescing.
   */
  readonly reclaimsAll: boolean;
  /** Calls the strategy's own `reset()`; false where reset is not offered. */
  readonly hasReset: boolean;
  /**
   * How the kit resizes a block, for strategies whose resize needs more than the contract's
   * `realloc(ptr, newSize, align)` (a block allocator must be told the old size).
   */
  realloc?(a: Allocator, ptr: number, oldSize: number, newSize: number, align: number): number;
}
