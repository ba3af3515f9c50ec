/** SlabAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../../core/registration.js";
import { traceMemory } from "../../memory/trace-memory.js";
import { BlockAllocator } from "../block/index.js";
import { TlsfAllocator } from "../tlsf/index.js";
import { SlabAllocator } from "./allocator.js";

export const slabRegistration: Registration = {
  name: "slab",
  label: "SlabAllocator over a TLSF",
  strategy: "SlabAllocator",
  kind: StrategyKind.slab,
  memories: ["fixed", "growable", "shared", "wasm"],
  general: true,
  capabilities: {
    ...GENERAL_PURPOSE,
    // Up to 4096: requests above the largest class (1024 here) take the large path.
    sizes: { min: 0, max: 4096 },
    // One empty page per class stays cached, out of the parent, after everything is freed.
    reclaimsAll: false,
    // Slots are out of line; a page's or large block's last bytes meet the parent's words.
    afterBlock: "some",
  },
  // The kit's memories are 128 KiB, so 4 KiB pages and classes up to 1024 bytes, over a
  // parent that manages the whole memory: growable kinds are grown to their maximum first,
  // because a block parent does not grow afterwards.
  make: (memory) => {
    memory.grow(memory.maxEnd);
    return new SlabAllocator(new BlockAllocator(memory, 64), { pageSize: 4096, maxSmall: 1024 });
  },
  forTrace: (sizing) => new SlabAllocator(new TlsfAllocator(traceMemory(sizing))),
};
