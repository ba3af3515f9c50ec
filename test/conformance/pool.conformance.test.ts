import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { poolRegistration } from "../../src/strategies/pool/registration.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

// The registry's pool (48 × 20) runs in registry-N.conformance.test.ts. Here: 7 blocks of
// 16 KiB (4096-aligned, the cap): the growable kinds' first 16 KiB hold none of them and the
// wasm memory's first page 3, so carving grows the memory (and a wasm grow replaces every
// view) within a program's 40 commands, and runs the pool dry.
runConformance({
  ...subjectOf(poolRegistration),
  name: "PoolAllocator 16384 × 7",
  make: (memory) => new PoolAllocator(16384, 7, { memory }),
  sizes: { min: 0, max: 2048 }, // of 16384: painting whole blocks would only slow the run
  maxAlign: 4096,
});
