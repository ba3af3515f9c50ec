/** Heap in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../core/registration.js";
import { MAX_MEMORY_BYTES } from "../memory/memory.js";
import { Heap } from "./heap.js";

export const heapRegistration: Registration = {
  name: "heap",
  label: "Heap (TLSF, grows from 64 KiB)",
  strategy: "Heap",
  // A Heap is a TLSF heap: its header says so, and TlsfAllocator.attach reads it.
  kind: StrategyKind.tlsf,
  memories: ["fixed", "growable", "wasm"],
  general: true,
  capabilities: GENERAL_PURPOSE,
  make: (memory) => new Heap({ memory }),
  forTrace: () => new Heap({ initialBytes: 64 * 1024, maxBytes: MAX_MEMORY_BYTES }),
};
