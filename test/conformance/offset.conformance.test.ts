import { OffsetAllocator } from "../../src/strategies/offset/offset-allocator.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "OffsetAllocator",
  kinds: ["fixed", "growable", "shared", "wasm", "offset"],
  make: (memory) => new OffsetAllocator(memory, { nodeCapacity: 4 }),
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
