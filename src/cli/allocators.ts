/**
 * The allocators `memkit replay --allocator NAME` and the report can run, each on a memory
 * that starts small and grows (up to 4 GiB, so any trace fits). An allocator whose metadata is
 * sized up front for its largest capacity (the buddy: 0.51 bytes per 16 bytes, out of line
 * at the memory's start) is sized to the trace it replays (`Sizing`), as a program that knows
 * its peak would size it: a capacity sized for 1 GiB on a trace with 200 KB live makes the
 * metadata, not the allocator, the footprint.
 */

import type { Allocator } from "../core/allocator.js";
import { Heap } from "../heap/index.js";
import { GrowableMemory } from "../memory/memory.js";
import { BuddyAllocator } from "../strategies/buddy.js";
import { BumpAllocator } from "../strategies/bump.js";
import { FreeListAllocator } from "../strategies/free-list.js";
import { OffsetAllocator } from "../strategies/offset/index.js";
import { SlabAllocator } from "../strategies/slab.js";
import { TlsfAllocator } from "../strategies/tlsf/index.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** The most a growable memory may reach: 4 GiB, the limit of 32-bit offsets. */
const MAX_BYTES = 4 * GiB;

export interface AllocatorChoice {
  /** The name on the command line. */
  readonly name: string;
  /** What it is, in tables and the report. */
  readonly label: string;
  /** Part of `--allocator all`: handles any size freed in any order. */
  readonly general: boolean;
  /** A fresh allocator; `sizing` says what the work needs, for allocators sized up front. */
  make(sizing?: Sizing): Allocator;
}

/** What a replay needs, for allocators sized up front. */
export interface Sizing {
  /** The trace's peak of live bytes. */
  readonly peakLiveBytes: number;
}

/**
 * The buddy's capacity for a peak of `live` bytes: the power of two at or above 4× the peak
 * (blocks round up to powers of two, so live bytes can take twice their size, and splitting
 * leaves free blocks between them), at least 1 MiB; 1 GiB when the peak is unknown.
 */
export function buddyCapacity(sizing?: Sizing): number {
  if (sizing === undefined) return GiB;
  const want = Math.max(MiB, 4 * sizing.peakLiveBytes);
  return Math.min(MAX_BYTES, 2 ** Math.ceil(Math.log2(want)));
}

const growable = (): GrowableMemory => new GrowableMemory(MiB, MAX_BYTES);

export const ALLOCATORS: readonly AllocatorChoice[] = [
  {
    name: "heap",
    label: "Heap (TLSF, grows from 64 KiB)",
    general: true,
    make: () => new Heap({ initialBytes: 64 * 1024, maxBytes: MAX_BYTES }),
  },
  {
    name: "tlsf",
    label: "TlsfAllocator (grows from 1 MiB)",
    general: true,
    make: () => new TlsfAllocator(growable()),
  },
  {
    name: "freelist",
    label: "FreeListAllocator, first fit",
    general: true,
    make: () => new FreeListAllocator(growable(), { fit: "first" }),
  },
  {
    name: "freelist-best",
    label: "FreeListAllocator, best fit",
    general: true,
    make: () => new FreeListAllocator(growable(), { fit: "best" }),
  },
  {
    name: "freelist-next",
    label: "FreeListAllocator, next fit",
    general: false,
    make: () => new FreeListAllocator(growable(), { fit: "next" }),
  },
  {
    name: "buddy",
    label: "BuddyAllocator (4× the peak)",
    general: true,
    make: (sizing) =>
      new BuddyAllocator(growable(), { minBlockSize: 16, maxCapacity: buddyCapacity(sizing) }),
  },
  {
    name: "offset",
    label: "OffsetAllocator (metadata out of line)",
    general: true,
    make: () => new OffsetAllocator(growable()),
  },
  {
    name: "slab",
    label: "SlabAllocator over a TLSF",
    general: true,
    make: () => new SlabAllocator(new TlsfAllocator(growable())),
  },
  {
    name: "bump",
    label: "BumpAllocator (never reuses bytes)",
    general: false,
    make: () => new BumpAllocator(growable()),
  },
];

/** Names accepted by `--allocator`, in table order. */
export const ALLOCATOR_NAMES: readonly string[] = ALLOCATORS.map((a) => a.name);
/** What `--allocator all` means. */
export const GENERAL_NAMES: readonly string[] = ALLOCATORS.filter((a) => a.general).map(
  (a) => a.name,
);

export function allocatorChoice(name: string): AllocatorChoice {
  const c = ALLOCATORS.find((a) => a.name === name);
  if (c === undefined) throw new Error(`unknown allocator ${name}`);
  return c;
}
