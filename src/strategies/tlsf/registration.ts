/** TLSF in the registry (src/registry.ts): see core/registration.ts. */

import { StrategyKind } from "../../core/header.js";
import { GENERAL_PURPOSE, type Registration } from "../../core/registration.js";
import { traceMemory } from "../../memory/trace-memory.js";
import { TlsfAllocator } from "./allocator.js";

export const tlsfRegistration: Registration = {
  name: "tlsf",
  label: "TlsfAllocator (fixed, 8× the peak)",
  strategy: "TlsfAllocator",
  kind: StrategyKind.tlsf,
  memories: ["fixed", "growable", "shared", "wasm"],
  general: true,
  capabilities: GENERAL_PURPOSE,
  make: (memory) => new TlsfAllocator(memory),
  forTrace: (sizing) => new TlsfAllocator(traceMemory(sizing)),
};
