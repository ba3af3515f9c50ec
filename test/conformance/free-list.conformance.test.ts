import { FreeListAllocator } from "../../src/strategies/free-list.js";
import { runConformance } from "./kit.js";
import type { Subject } from "./subject.js";

const common: Omit<Subject, "name" | "make"> = {
  kinds: ["fixed", "growable", "shared", "wasm"],
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: { min: 0, max: 8192 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
};

runConformance({ ...common, name: "FreeListAllocator", make: (m) => new FreeListAllocator(m) });
// The policies differ only in which free block they pick: two memory kinds each suffice.
runConformance({
  ...common,
  kinds: ["fixed", "growable"],
  name: "FreeListAllocator (best fit)",
  make: (m) => new FreeListAllocator(m, { fit: "best" }),
});
runConformance({
  ...common,
  kinds: ["fixed", "growable"],
  name: "FreeListAllocator (next fit)",
  make: (m) => new FreeListAllocator(m, { fit: "next" }),
});
