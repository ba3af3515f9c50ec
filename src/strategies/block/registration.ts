/** BlockAllocator in the registry (src/registry.ts): see core/registration.ts. */

import type { Allocator } from "../../core/allocator.js";
import { StrategyKind } from "../../core/header.js";
import type { Registration } from "../../core/registration.js";
import { growingMemory } from "../../memory/memory.js";
import { BlockAllocator } from "./allocator.js";

/** The contract's realloc does not know the old size; BlockAllocator takes it fourth. */
function realloc(a: Allocator, ptr: number, oldSize: number, newSize: number, align: number) {
  return (a as BlockAllocator).realloc(ptr, newSize, align, oldSize);
}

export const blockRegistration: Registration = {
  name: "block",
  label: "BlockAllocator (16-byte blocks; dealloc needs the size, which a trace does not pass)",
  strategy: "BlockAllocator",
  kind: StrategyKind.block,
  memories: ["fixed", "growable", "shared", "wasm"],
  general: false,
  // A free whose first block is free throws DoubleFreeError until the blocks are reused; a
  // pointer inside a live block is refused by its start bit.
  capabilities: {
    freeOrder: "any",
    deallocNeedsSize: true,
    detectsDoubleFree: true,
    detectsInteriorPointers: true,
    knowsSizes: false,
    sizes: { min: 0, max: 4096 },
    maxAlign: 4096,
    reclaimsAll: true,
    hasReset: true,
    // A free run's header sits in its first block; a live neighbour has none.
    afterBlock: "some",
    realloc,
  },
  // 8-byte blocks: wide (u32) run headers, alignment 8 from the blocks themselves.
  make: (memory) => new BlockAllocator(memory, 8),
  forTrace: () => new BlockAllocator(growingMemory(), 16),
};
