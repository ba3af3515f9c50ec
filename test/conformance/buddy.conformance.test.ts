import { BuddyAllocator } from "../../src/strategies/buddy.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "BuddyAllocator",
  kinds: ["fixed", "growable", "shared", "wasm", "offset"],
  // maxCapacity: the whole region the memory can grow to, so the growable kinds grow.
  make: (memory) =>
    new BuddyAllocator(memory, { minBlockSize: 16, maxCapacity: memory.maxEnd - memory.start }),
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: { min: 0, max: 8192 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
});
