/**
 * The allocators `memkit replay --allocator NAME` and the report can run, each on the memory
 * it would run on for a program whose peak is unknown: a memory that starts small and grows
 * (up to 4 GiB, so any trace fits; 1 GiB for the buddy, whose out-of-line metadata is sized
 * for its largest capacity up front: 0.51 bytes per 16 bytes).
 */

import type { Allocator } from "../core/allocator.js";
import { Heap } from "../heap.js";
import { GrowableMemory } from "../memory/memory.js";
import { BuddyAllocator } from "../strategies/buddy.js";
import { BumpAllocator } from "../strategies/bump.js";
import { FreeListAllocator } from "../strategies/free-list.js";
import { SlabAllocator } from "../strategies/slab.js";
import { TlsfAllocator } from "../strategies/tlsf.js";

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
  make(): Allocator;
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
    label: "BuddyAllocator (metadata sized for 1 GiB)",
    general: true,
    make: () => new BuddyAllocator(growable(), { minBlockSize: 16, maxCapacity: GiB }),
  },
  {
    name: "slab",
    label: "SlabAllocator over a TLSF",
    general: true,
    make: () => new SlabAllocator(new TlsfAllocator(growable())),
  },
  {
    name: "bump",
    label: "BumpAllocator (never reuses freed bytes)",
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
