/**
 * SharedHeap, used by one agent, in the conformance kit. The registry's configuration (TLSF
 * with the small-block caches, synchronized) runs in registry-N.conformance.test.ts on both
 * shared memories; here, two forms that take other paths, on one memory each and with fewer
 * runs (SHARED_REGISTRY's entry covers the shared code they have in common):
 * - without caches, every block is a TLSF block, so its size word follows every block
 *   (`afterBlock: "words"`), and everything freed is whole again (`reclaimsAll`);
 * - the plain form (a busy flag instead of the lock, no caches either).
 * A SharedHeap cannot run on the kit's fixed, growable or offset memories: the first two
 * are plain ArrayBuffers no other agent can see, the last has no bytes for TLSF's words.
 */

import { SHARED_REGISTRY } from "../../src/registry.js";
import { sharedHeapOver } from "../../src/shared/registration.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

const registered = subjectOf(SHARED_REGISTRY[0]);

runConformance({
  ...registered,
  name: "SharedHeap without caches",
  kinds: ["wasm"],
  make: (memory) => sharedHeapOver(memory, { cachePages: 0 }),
  afterBlock: "words",
  reclaimsAll: true,
  runs: 300,
});

runConformance({
  ...registered,
  name: "SharedHeap, plain form",
  kinds: ["shared"],
  make: (memory) => sharedHeapOver(memory, { synchronized: false }),
  afterBlock: "words",
  reclaimsAll: true,
  runs: 300,
});
