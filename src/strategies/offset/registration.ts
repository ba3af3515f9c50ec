/** OffsetAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../../core/registration.js";
import { traceMemory } from "../../memory/trace-memory.js";
import { OffsetAllocator } from "./offset-allocator.js";

export const offsetRegistration: Registration = {
  name: "offset",
  label: "OffsetAllocator (metadata out of line)",
  strategy: "OffsetAllocator",
  kind: StrategyKind.offset,
  memories: ["fixed", "growable", "shared", "wasm", "offset"],
  general: true,
  // Every word it keeps is out of line: nothing follows a block.
  capabilities: { ...GENERAL_PURPOSE, afterBlock: "none" },
  // Four nodes to start with: a kit program soon makes the node pool grow.
  make: (memory) => new OffsetAllocator(memory, { nodeCapacity: 4 }),
  forTrace: (sizing) => new OffsetAllocator(traceMemory(sizing)),
};
