import { MAX_ALIGN } from "../../src/core/validate.js";
import { StackAllocator } from "../../src/strategies/stack.js";
import { runConformance } from "./kit.js";

runConformance({
  name: "StackAllocator",
  // No offset-only memories: every block has an in-band 8-byte header.
  kinds: ["fixed", "growable", "shared", "wasm"],
  make: (memory) => new StackAllocator(memory),
  freeOrder: "lifo",
  deallocNeedsSize: false,
  // A popped block's pointer is at or above TOP: freeing it again is InvalidPointerError.
  detectsDoubleFree: false,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: { min: 0, max: 4096 },
  maxAlign: MAX_ALIGN,
  reclaimsAll: true,
  hasReset: true,
});
