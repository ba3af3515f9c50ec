import { Heap } from "../../src/heap/index.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "Heap",
  kinds: ["fixed", "growable", "wasm"],
  make: (memory) => new Heap({ memory }),
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
