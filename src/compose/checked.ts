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

export class CheckedAllocator implements Allocator {
  readonly memory: Memory;
  readonly name: string;

  constructor(readonly inner: Allocator) {
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
  stats(): AllocatorStats {
    return this.inner.stats();
  }
  check(): void {
    this.inner.check();
  }
  [INSPECT](): string {
    return summarize(this.name, this);
  }
  dump(): string {
    return dumpState(this.name, this, [dumpOf(this.inner)]);
  }
}
