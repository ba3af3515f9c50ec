/**
 * What a strategy tells the rest of memkit about itself, so that adding a strategy is one
 * folder and one line in the registry (src/registry.ts): the conformance kit runs it on
 * every memory it supports, the CLI offers it to `memkit replay --allocator`, the bench and
 * the tour build it, all from its `Registration`.
 */

import type { Allocator } from "./allocator.js";
import type { Memory, MemoryKind } from "./memory.js";

/**
 * What the strategy's contract promises, for the conformance kit: a flag set to false turns
 * off only the checks that need it.
 */
export interface Capabilities {
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
  /** Request sizes to test with: every size in [min, max] is valid to ask for. */
  readonly sizes: { readonly min: number; readonly max: number };
  /** The largest alignment it serves (alloc with align ≤ this succeeds when space allows). */
  readonly maxAlign: number;
  /**
   * After every block is freed (or `reset`), `alloc(stats().largestFree, 1)` succeeds and
   * `largestFree` equals a fresh allocator's: full coalescing.
   */
  readonly reclaimsAll: boolean;
  /** Offers `reset()`. */
  readonly hasReset: boolean;
  /**
   * What lies right after a live block's usable bytes, where a write past the block lands:
   * `"words"`, in-band words the strategy trusts after every block (the next block's size
   * word, a footer, a canary), so that `check()`, and freeing the block whose header was
   * hit, throw `HeapCorruptedError` and poison the heap; `"headers"`, the same words only
   * where another block follows (a header before each block, free space past the newest);
   * `"some"`, such words after some blocks only (a free run's header, a page's header after
   * its last block); `"none"`, nothing the strategy reads (its metadata is out of line), so
   * the heap keeps working.
   */
  readonly afterBlock: "words" | "headers" | "some" | "none";
  /**
   * How to resize a block where the contract's `realloc(ptr, newSize, align)` is not enough
   * (a block allocator must be told the old size).
   */
  realloc?(a: Allocator, ptr: number, oldSize: number, newSize: number, align: number): number;
}

/**
 * The promises of a general-purpose strategy: any size freed in any order, every misuse the
 * kit tries caught, sizes known, full coalescing, a reset. Registrations spread it and
 * override what differs.
 */
export const GENERAL_PURPOSE: Capabilities = Object.freeze({
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: Object.freeze({ min: 0, max: 8192 }),
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
  afterBlock: "words",
});

/** What a trace replay needs, for strategies sized up front. */
export interface Sizing {
  /** The trace's peak of live bytes. */
  readonly peakLiveBytes: number;
}

/** One named configuration of a strategy. */
export interface Configuration {
  /** The name on the command line (`memkit replay --allocator NAME`). */
  readonly name: string;
  /** What it is, in tables, the report and test titles. */
  readonly label: string;
  /** Part of `--allocator all`: serves any size freed in any order. */
  readonly general: boolean;
  /** A fresh allocator managing `memory` (the conformance kit's memories, about 128 KiB). */
  make(memory: Memory): Allocator;
  /**
   * A fresh allocator for a trace replay (`memkit replay` and the benchmark's trace rows): the
   * general strategies on a fixed memory sized to the trace (memory/trace-memory.ts), the
   * Heap and the specialists on a memory that grows. A strategy whose metadata is sized up
   * front for its largest capacity sizes it from `sizing` (as a program that knows its peak
   * would), and for the most any trace needs without it.
   */
  forTrace(sizing?: Sizing): Allocator;
}

/** A strategy: its header kind, its memories and promises, and its configurations. */
export interface Registration extends Configuration {
  /** The class, as errors and titles name it. */
  readonly strategy: string;
  /** The KIND word its heaps carry in their header (`StrategyKind`). */
  readonly kind: number;
  /** The memory kinds it runs on. */
  readonly memories: readonly MemoryKind[];
  /**
   * Its memory must be shared between agents: the kit and the probe make their `wasm`
   * memory a shared `WebAssembly.Memory` for it (their `shared` one always is).
   */
  readonly sharedMemory?: boolean;
  readonly capabilities: Capabilities;
  /**
   * Further configurations that differ only in a policy (the free list's fits): the CLI
   * offers each, and the kit runs each on the first two of `memories`.
   */
  readonly variants?: readonly Configuration[];
}
