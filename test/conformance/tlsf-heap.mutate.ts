/**
 * The conformance kit on TLSF and Heap alone, for mutation testing (vitest.mutate.config.ts);
 * the full kit runs every strategy in registry-1..3.conformance.test.ts.
 */

import { REGISTRY } from "../../src/registry.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

for (const r of REGISTRY.filter((x) => x.name === "tlsf" || x.name === "heap")) {
  runConformance(subjectOf(r));
}
