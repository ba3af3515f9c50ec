/** BumpAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import type { Registration } from "../../core/registration.js";
import { growingMemory } from "../../memory/memory.js";
import { BumpAllocator } from "./allocator.js";

export const bumpRegistration: Registration = {
  name: "bump",
  label: "BumpAllocator (never reuses bytes)",
  strategy: "BumpAllocator",
  kind: StrategyKind.bump,
  memories: ["fixed", "growable", "shared", "wasm", "offset"],
  general: false,
  capabilities: {
    freeOrder: "none",
    deallocNeedsSize: false,
    detectsDoubleFree: false,
    detectsInteriorPointers: false,
    knowsSizes: false,
    sizes: { min: 0, max: 4096 },
    maxAlign: 4096,
    reclaimsAll: true,
    hasReset: true,
    afterBlock: "none",
  },
  make: (memory) => new BumpAllocator(memory),
  forTrace: () => new BumpAllocator(growingMemory()),
};
