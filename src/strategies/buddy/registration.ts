/** BuddyAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration, type Sizing } from "../../core/registration.js";
import { MAX_MEMORY_BYTES } from "../../memory/memory.js";
import { traceMemory } from "../../memory/trace-memory.js";
import { BuddyAllocator } from "./allocator.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * The buddy's capacity for a trace: its metadata is sized up front for its largest capacity
 * (0.51 bytes per 16 bytes, out of line at the memory's start), so a capacity sized for
 * 1 GiB on a trace with 200 KB live makes the metadata, not the allocator, the footprint.
 * The power of two at or above 4× the peak (blocks round up to powers of two, so live bytes
 * can take twice their size, and splitting leaves free blocks between them), at least
 * 1 MiB; 1 GiB when the peak is unknown.
 */
export function buddyCapacity(sizing?: Sizing): number {
  if (sizing === undefined) return GiB;
  const want = Math.max(MiB, 4 * sizing.peakLiveBytes);
  return Math.min(MAX_MEMORY_BYTES, 2 ** Math.ceil(Math.log2(want)));
}

export const buddyRegistration: Registration = {
  name: "buddy",
  label: "BuddyAllocator (4× the peak)",
  strategy: "BuddyAllocator",
  kind: StrategyKind.buddy,
  memories: ["fixed", "growable", "shared", "wasm", "offset"],
  general: true,
  // Every word it keeps is out of line: nothing follows a block.
  capabilities: { ...GENERAL_PURPOSE, afterBlock: "none" },
  // maxCapacity: the whole region the memory can grow to, so the growable kinds grow.
  make: (memory) =>
    new BuddyAllocator(memory, { minBlockSize: 16, maxCapacity: memory.maxEnd - memory.start }),
  forTrace: (sizing) =>
    new BuddyAllocator(traceMemory(sizing), {
      minBlockSize: 16,
      maxCapacity: buddyCapacity(sizing),
    }),
};
