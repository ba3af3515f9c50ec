import type { Allocator } from "../../src/core/allocator.js";
import { BlockAllocator } from "../../src/strategies/block.js";
import { runConformance } from "./kit.js";

/** The contract's realloc does not know the old size; BlockAllocator takes it fourth. */
function realloc(a: Allocator, ptr: number, oldSize: number, newSize: number, align: number) {
  return (a as BlockAllocator).realloc(ptr, newSize, align, oldSize);
}

const common = {
  kinds: ["fixed", "growable", "shared", "wasm"],
  freeOrder: "any",
  deallocNeedsSize: true,
  // A free whose first block is free throws DoubleFreeError until the blocks are reused.
  detectsDoubleFree: true,
  // A pointer at a block boundary inside a live block cannot be told from a block start.
  detectsInteriorPointers: false,
  knowsSizes: false,
  sizes: { min: 0, max: 4096 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
  realloc,
} as const;

// 8-byte blocks: wide (u32) run headers, alignment 8 from the blocks themselves.
runConformance({
  ...common,
  name: "BlockAllocator (B = 8)",
  make: (memory) => new BlockAllocator(memory, 8),
});

// 4-byte blocks: narrow (u16) run headers, and every contract alloc needs 2-block alignment.
runConformance({
  ...common,
  name: "BlockAllocator (B = 4)",
  make: (memory) => new BlockAllocator(memory, 4),
});

// 64-byte blocks: alignments up to 64 come free, larger ones skip blocks.
runConformance({
  ...common,
  name: "BlockAllocator (B = 64)",
  make: (memory) => new BlockAllocator(memory, 64),
});
