import { BlockAllocator } from "../../src/strategies/block/index.js";
import { blockRegistration } from "../../src/strategies/block/registration.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

// The registry's BlockAllocator (B = 8) runs in registry-N.conformance.test.ts.

// 4-byte blocks: narrow (u16) run headers, and every contract alloc needs 2-block alignment.
runConformance({
  ...subjectOf(blockRegistration),
  name: "BlockAllocator (B = 4)",
  make: (memory) => new BlockAllocator(memory, 4),
});

// 64-byte blocks: alignments up to 64 come free, larger ones skip blocks.
runConformance({
  ...subjectOf(blockRegistration),
  name: "BlockAllocator (B = 64)",
  make: (memory) => new BlockAllocator(memory, 64),
});
