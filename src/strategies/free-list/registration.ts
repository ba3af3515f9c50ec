/** FreeListAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../../core/registration.js";
import { traceMemory } from "../../memory/trace-memory.js";
import { FreeListAllocator } from "./allocator.js";

export const freeListRegistration: Registration = {
  name: "freelist",
  label: "FreeListAllocator, first fit",
  strategy: "FreeListAllocator",
  kind: StrategyKind.freeList,
  memories: ["fixed", "growable", "shared", "wasm"],
  general: true,
  capabilities: GENERAL_PURPOSE,
  make: (memory) => new FreeListAllocator(memory),
  forTrace: (sizing) => new FreeListAllocator(traceMemory(sizing), { fit: "first" }),
  variants: [
    {
      name: "freelist-best",
      label: "FreeListAllocator, best fit",
      general: true,
      make: (memory) => new FreeListAllocator(memory, { fit: "best" }),
      forTrace: (sizing) => new FreeListAllocator(traceMemory(sizing), { fit: "best" }),
    },
    {
      name: "freelist-next",
      label: "FreeListAllocator, next fit",
      general: false,
      make: (memory) => new FreeListAllocator(memory, { fit: "next" }),
      forTrace: (sizing) => new FreeListAllocator(traceMemory(sizing), { fit: "next" }),
    },
  ],
};
