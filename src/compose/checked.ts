/**
 * `CheckedAllocator`: the debug rung of the hardening ladder. Wraps any allocator and runs
 * its `check()` (the full invariant walk) before and after every call that can change the
 * heap, so corruption is reported at the call that caused it, not thousands of calls later.
 * Costs O(heap) per call: for tests and debugging, not production.
 */

import type { Allocator, AllocatorStats } from "../core/allocator.js";
import { dumpOf, dumpState, INSPECT, kindOf, summarize } from "../core/describe.js";
import type { Allocation, Layout } from "../core/layout.js";
import type { Memory } from "../core/memory.js";

/**
 * Wraps any allocator and runs its full invariant check (`check()`) before and after every
 * call that can change the heap, so corruption is reported at the call that caused it.
 * Costs O(heap) per call: for tests and debugging, not production.
 *
 * @example
 * ```ts
 * import { CheckedAllocator, TlsfAllocator } from "memkit";
 *
 * const heap = new CheckedAllocator(new TlsfAllocator(64 * 1024));
 * const p = heap.alloc(100);
 * heap.memory.u8[p + 100 + 8] = 0xff; // scribbles past the block, on the next block's header
 * try {
 *   heap.dealloc(p); // the check finds the damage here, not thousands of calls later
 * } catch (e) {
 *   console.log((e as Error).name); // HeapCorruptedError
 * }
 * ```
 */
export class CheckedAllocator implements Allocator {
  /** The memory the blocks live in (the wrapped allocator's). */
  readonly memory: Memory;
  /** The allocator's name, as messages and `console.log` show it. */
  readonly name: string;

  /** @param inner - the allocator to check around every call */
  constructor(
    /** The wrapped allocator. */
    readonly inner: Allocator,
  ) {
    this.memory = inner.memory;
    this.name = `CheckedAllocator(${kindOf(inner, "allocator")})`;
  }

  private around<T>(f: () => T): T {
    this.inner.check();
    const r = f();
    this.inner.check();
    return r;
  }

  alloc(size: number, align?: number): number {
    return this.around(() => this.inner.alloc(size, align));
  }
  allocZeroed(size: number, align?: number): number {
    return this.around(() => this.inner.allocZeroed(size, align));
  }
  dealloc(ptr: number, size?: number): void {
    this.around(() => this.inner.dealloc(ptr, size));
  }
  /** `oldSize` goes through to allocators that need it (BlockAllocator). */
  realloc(ptr: number, newSize: number, align?: number, oldSize?: number): number {
    return this.around(() => this.inner.realloc(ptr, newSize, align, oldSize));
  }
  allocate(layout: Layout): Allocation | null {
    return this.around(() => this.inner.allocate(layout));
  }
  allocateZeroed(layout: Layout): Allocation | null {
    return this.around(() => this.inner.allocateZeroed(layout));
  }
  deallocate(ptr: number, layout?: Layout): void {
    this.around(() => this.inner.deallocate(ptr, layout));
  }
  allocOrThrow(size: number, align?: number): number {
    return this.around(() => this.inner.allocOrThrow(size, align));
  }
  usableSize(ptr: number): number {
    return this.around(() => this.inner.usableSize(ptr));
  }
  owns(ptr: number): boolean {
    return this.inner.owns(ptr);
  }
  reset(): void {
    this.around(() => this.inner.reset());
  }
  /** @returns the figures of the allocator now (see {@link AllocatorStats}) */
  stats(): AllocatorStats {
    return this.inner.stats();
  }
  check(): void {
    this.inner.check();
  }
  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): string {
    return summarize(this.name, this);
  }
  /** @returns the state for a person to read, one figure a line */
  dump(): string {
    return dumpState(this.name, this, [dumpOf(this.inner)]);
  }
}
