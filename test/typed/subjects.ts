/**
 * The allocators the typed layer's tests run over, and a wrapper that makes an allocator
 * fail on demand (fault injection, as bumpalo's tests make their backing memory fail).
 */

import { ChainAllocator } from "../../src/compose/chain.js";
import { CheckedAllocator } from "../../src/compose/checked.js";
import { childOf } from "../../src/compose/child.js";
import type { Allocator, AllocatorStats } from "../../src/core/allocator.js";
import type { Allocation, Layout } from "../../src/core/layout.js";
import { Heap } from "../../src/heap/index.js";
import type { Memory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";

export interface TypedSubject {
  readonly name: string;
  make(): Allocator;
  /** The most bytes one block can hold (a pool's block size), else undefined. */
  readonly maxBlock?: number;
  /**
   * Frees only its newest block (a bump: any other free changes nothing until reset), so
   * its live-block count stays above the blocks really in use.
   */
  readonly freesOnlyNewest?: boolean;
}

/** A Block allocator (B = 8) carved from a TLSF, asked first: the chain the seeds chain. */
export function blockThenTlsf(): ChainAllocator {
  const tlsf = new TlsfAllocator(128 * 1024);
  const blocks = childOf(tlsf, 4096, (m) => new BlockAllocator(m, 8));
  return new ChainAllocator([blocks, tlsf]);
}

export const SUBJECTS: readonly TypedSubject[] = [
  { name: "Heap", make: () => new Heap() },
  { name: "TLSF", make: () => new TlsfAllocator(64 * 1024) },
  { name: "Bump", make: () => new BumpAllocator(64 * 1024), freesOnlyNewest: true },
  { name: "Pool (256-byte blocks)", make: () => new PoolAllocator(256, 64), maxBlock: 256 },
  { name: "FreeList", make: () => new FreeListAllocator(64 * 1024) },
  { name: "Block (2048 × 8)", make: () => new BlockAllocator(2048, 8) },
  { name: "Chain (Block child → TLSF)", make: blockThenTlsf },
  { name: "Checked(Block)", make: () => new CheckedAllocator(new BlockAllocator(512, 16)) },
];

/** A copy of every byte of the allocator's region, and its figures. */
export interface Snapshot {
  readonly bytes: Uint8Array;
  readonly stats: AllocatorStats;
}

export function snapshot(a: Allocator): Snapshot {
  const m = a.memory;
  m.refresh();
  return { bytes: m.u8.slice(m.start, m.end), stats: a.stats() };
}

/** Whether nothing changed since `before` (a byte loop: `toEqual` on 64 KiB arrays is slow). */
export function unchanged(a: Allocator, before: Snapshot): boolean {
  return sameSnapshot(snapshot(a), before);
}

/** Whether nothing changed between two snapshots. */
export function sameSnapshot(x: Snapshot, y: Snapshot): boolean {
  if (JSON.stringify(x.stats) !== JSON.stringify(y.stats)) return false;
  if (x.bytes.length !== y.bytes.length) return false;
  for (let i = 0; i < x.bytes.length; i++) if (x.bytes[i] !== y.bytes[i]) return false;
  return true;
}

/**
 * Passes every call to `inner`, except that `alloc`, `allocZeroed` and `realloc` answer 0
 * (out of memory, nothing done) while `fail` returns true for them.
 */
export class FailingAllocator implements Allocator {
  readonly memory: Memory;
  readonly name = "FailingAllocator";
  fail: (op: "alloc" | "realloc") => boolean = () => false;
  failures = 0;

  constructor(readonly inner: Allocator) {
    this.memory = inner.memory;
  }

  private failed(op: "alloc" | "realloc"): boolean {
    if (!this.fail(op)) return false;
    this.failures++;
    return true;
  }

  alloc(size: number, align?: number): number {
    return this.failed("alloc") ? 0 : this.inner.alloc(size, align);
  }
  allocZeroed(size: number, align?: number): number {
    return this.failed("alloc") ? 0 : this.inner.allocZeroed(size, align);
  }
  realloc(ptr: number, newSize: number, align?: number, oldSize?: number): number {
    return this.failed("realloc") ? 0 : this.inner.realloc(ptr, newSize, align, oldSize);
  }
  dealloc(ptr: number, size?: number): void {
    this.inner.dealloc(ptr, size);
  }
  allocate(layout: Layout): Allocation | null {
    return this.failed("alloc") ? null : this.inner.allocate(layout);
  }
  allocateZeroed(layout: Layout): Allocation | null {
    return this.failed("alloc") ? null : this.inner.allocateZeroed(layout);
  }
  deallocate(ptr: number, layout?: Layout): void {
    this.inner.deallocate(ptr, layout);
  }
  allocOrThrow(size: number, align?: number): number {
    return this.inner.allocOrThrow(size, align);
  }
  usableSize(ptr: number): number {
    return this.inner.usableSize(ptr);
  }
  owns(ptr: number): boolean {
    return this.inner.owns(ptr);
  }
  reset(): void {
    this.inner.reset();
  }
  stats(): AllocatorStats {
    return this.inner.stats();
  }
  check(): void {
    this.inner.check();
  }
}
