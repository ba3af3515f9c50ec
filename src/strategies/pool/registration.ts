/** PoolAllocator in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../../core/registration.js";
import { growingMemory } from "../../memory/memory.js";
import { PoolAllocator } from "./allocator.js";

/** Blocks of the pool a trace replay gets: larger requests fail (out of memory). */
const TRACE_BLOCK = 256;
/** As many as 256 MiB holds. */
const TRACE_BLOCKS = 2 ** 20;

export const poolRegistration: Registration = {
  name: "pool",
  label: `PoolAllocator (${TRACE_BLOCK}-byte blocks: larger requests fail)`,
  strategy: "PoolAllocator",
  kind: StrategyKind.pool,
  memories: ["fixed", "growable", "shared", "wasm", "offset"],
  general: false,
  // One block size: requests up to it, alignments up to the blocks' own.
  // The free stack and live bits are out of line: nothing follows a block.
  capabilities: {
    ...GENERAL_PURPOSE,
    sizes: { min: 0, max: 48 },
    maxAlign: 16,
    afterBlock: "none",
  },
  // 20 blocks of 48 bytes (16-aligned): a kit program of 40 commands runs the pool dry, so
  // the out-of-memory answers and the reuse of freed blocks are exercised.
  make: (memory) => new PoolAllocator(48, 20, { memory }),
  forTrace: () => new PoolAllocator(TRACE_BLOCK, TRACE_BLOCKS, { memory: growingMemory() }),
};
