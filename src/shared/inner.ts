/**
 * What a SharedHeap needs of the allocator it wraps (STYLE habit 1: the sharing is a
 * wrapper, not a fork of a strategy). Any strategy qualifies whose whole state lives in
 * buffers other agents can see (the memory, and one side buffer the descriptor carries),
 * and whose per-block header leaves room for the small-block caches' pages (cache.ts).
 * A `BaseAllocator` re-derives its views when told another agent grew the memory.
 */

import type { Allocator } from "../core/allocator.js";
import type { Memory } from "../core/memory.js";
import { TlsfAllocator } from "../strategies/tlsf/index.js";
import { BLOCK_OVERHEAD } from "../strategies/tlsf/mapping.js";

/** How a SharedHeap makes, or attaches to, the allocator it wraps. */
export interface SharedStrategy {
  /** The strategy's name in messages. */
  readonly name: string;
  /**
   * Bytes the strategy keeps in front of each block's pointer. A cache page is one block
   * whose pointer is page-aligned and whose usable size ends 8 bytes before the next page
   * (PAGE_USABLE), so this must be at most 8.
   */
  readonly blockHeaderBytes: number;
  /** A new heap over `memory` (a shared memory): this agent's handle on it. */
  create(memory: Memory): Allocator;
  /** A handle on the heap another agent made in `memory`, validated read-only. */
  attach(memory: Memory, side: SharedArrayBuffer): Allocator;
  /**
   * The state outside the memory that other agents must be handed to attach, a growable
   * `SharedArrayBuffer` (TLSF: its live map).
   */
  sideBuffer(inner: Allocator): SharedArrayBuffer;
}

/** The default: TLSF (a 4-byte size word before each block, the live map out of line). */
export const TLSF_SHARED: SharedStrategy = {
  name: "TlsfAllocator",
  blockHeaderBytes: BLOCK_OVERHEAD,
  create: (memory) => new TlsfAllocator(memory),
  attach: (memory, side) => TlsfAllocator.attach(memory, side),
  sideBuffer: (inner) => (inner as TlsfAllocator).liveMapBuffer as SharedArrayBuffer,
};
