/** StackAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import type { Registration } from "../../core/registration.js";
import { MAX_ALIGN } from "../../core/validate.js";
import { growingMemory } from "../../memory/memory.js";
import { StackAllocator } from "./allocator.js";

export const stackRegistration: Registration = {
  name: "stack",
  label: "StackAllocator (frees in LIFO order only: a trace's other frees are refused)",
  strategy: "StackAllocator",
  kind: StrategyKind.stack,
  // No offset-only memories: every block has an in-band 8-byte header.
  memories: ["fixed", "growable", "shared", "wasm"],
  general: false,
  // A popped block's pointer is at or above TOP: freeing it again is InvalidPointerError,
  // not DoubleFreeError.
  capabilities: {
    freeOrder: "lifo",
    deallocNeedsSize: false,
    detectsDoubleFree: false,
    detectsInteriorPointers: true,
    knowsSizes: true,
    sizes: { min: 0, max: 4096 },
    maxAlign: MAX_ALIGN,
    reclaimsAll: true,
    hasReset: true,
    // The header of the block above; free space past the top.
    afterBlock: "headers",
  },
  make: (memory) => new StackAllocator(memory),
  forTrace: () => new StackAllocator(growingMemory()),
};
