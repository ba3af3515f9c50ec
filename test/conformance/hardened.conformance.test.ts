/**
 * The hardening ladder's wrapper keeps every strategy's contract: the kit runs it at each
 * level over strategies that differ in what they keep (sizes or not, free order, an
 * offset-only memory). The quarantine holds freed blocks, so the capacity comes back only
 * after `flush()` (reclaimsAll is off), and the wrapper knows every block's size and start.
 * Fewer runs: `check` walks the heap on every call.
 */

import { HardenedAllocator, type HardeningLevel } from "../../src/compose/hardened.js";
import type { Registration } from "../../src/core/registration.js";
import { REGISTRY } from "../../src/registry.js";
import { runConformance } from "./kit.js";
import { type KitMemoryKind, subjectOf } from "./subject.js";

function entry(name: string): Registration {
  const r = REGISTRY.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no registration ${name}`);
  return r;
}

const CASES: Array<[name: string, level: HardeningLevel, kind: KitMemoryKind]> = [
  ["tlsf", "quarantine", "wasm"],
  ["heap", "canary", "fixed"],
  ["freelist", "check", "growable"],
  ["block", "quarantine", "fixed"],
  ["pool", "check", "shared"],
  ["bump", "canary", "fixed"],
  ["stack", "canary", "fixed"],
  ["buddy", "quarantine", "offset"],
  ["slab", "quarantine", "fixed"],
];

for (const [name, level, kind] of CASES) {
  const r = entry(name);
  const base = subjectOf(r);
  runConformance({
    ...base,
    name: `HardenedAllocator(${r.strategy}, ${level})`,
    kinds: [kind],
    make: (memory) => new HardenedAllocator(base.make(memory), { level, quarantineBlocks: 8 }),
    knowsSizes: true,
    detectsInteriorPointers: true,
    detectsDoubleFree: level !== "canary" || base.detectsDoubleFree,
    reclaimsAll: level === "canary" && base.reclaimsAll,
    // A canary follows every block at every level (on a memory with bytes).
    afterBlock: "words",
    runs: level === "check" ? 100 : 250,
  });
}
