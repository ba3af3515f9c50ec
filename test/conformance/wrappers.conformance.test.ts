/**
 * The pass-through wrappers keep the contract of what they wrap: `CheckedAllocator` (the
 * full check around every call) and `RecordingAllocator` (every call recorded as a trace).
 * They keep no bytes of their own, so the wrapped strategy's promises are theirs, what lies
 * after a block (`afterBlock`) included; the kit's header damage hits the wrapped heap's
 * header, which `check()` must find, the wrapped heap (so every call through the wrapper)
 * then poisoned. One memory each, fewer runs: Checked walks the heap twice per call.
 */

import { CheckedAllocator } from "../../src/compose/checked.js";
import { RecordingAllocator } from "../../src/compose/recording.js";
import { REGISTRY } from "../../src/registry.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

function registered(name: string) {
  const r = REGISTRY.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no registration ${name}`);
  return subjectOf(r);
}

const freeList = registered("freelist");
runConformance({
  ...freeList,
  name: `CheckedAllocator(${freeList.name})`,
  kinds: ["growable"],
  make: (memory) => new CheckedAllocator(freeList.make(memory)),
  runs: 100,
});

const buddy = registered("buddy");
runConformance({
  ...buddy,
  name: `RecordingAllocator(${buddy.name})`,
  kinds: ["wasm"],
  make: (memory) => new RecordingAllocator(buddy.make(memory)),
  runs: 250,
});
