import { BumpAllocator } from "../../src/strategies/bump.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "BumpAllocator",
  kinds: ["fixed", "growable", "shared", "wasm", "offset"],
  make: (memory) => new BumpAllocator(memory),
  freeOrder: "none",
  deallocNeedsSize: false,
  detectsDoubleFree: false,
  detectsInteriorPointers: false,
  knowsSizes: false,
  sizes: { min: 0, max: 4096 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
});
