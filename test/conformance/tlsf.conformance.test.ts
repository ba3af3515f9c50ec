import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "TlsfAllocator",
  kinds: ["fixed", "growable", "shared", "wasm"],
  make: (memory) => new TlsfAllocator(memory),
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
