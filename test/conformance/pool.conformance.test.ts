import { PoolAllocator } from "../../src/strategies/pool.js";
import { runConformance } from "./kit.js";

const common = {
  kinds: ["fixed", "growable", "shared", "wasm", "offset"],
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  reclaimsAll: true,
  hasReset: true,
} as const;

// 7 blocks of 16 KiB (4096-aligned, the cap): the growable kinds' first 16 KiB hold none of
// them and the wasm memory's first page 3, so carving grows the memory (and a wasm grow
// replaces every view) within a program's 40 commands, and runs the pool dry.
runConformance({
  ...common,
  name: "PoolAllocator 16384 × 7",
  make: (memory) => new PoolAllocator(16384, 7, { memory }),
  sizes: { min: 0, max: 2048 }, // of 16384: painting whole blocks would only slow the run
  maxAlign: 4096,
});

// 20 blocks of 48 bytes (16-aligned): a program of 40 commands runs the pool dry, so the
// out-of-memory answers and reuse of freed blocks are exercised.
runConformance({
  ...common,
  name: "PoolAllocator 48 × 20",
  make: (memory) => new PoolAllocator(48, 20, { memory }),
  sizes: { min: 0, max: 48 },
  maxAlign: 16,
});
