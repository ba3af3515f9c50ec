/**
 * The registry: every strategy memkit offers, each described by its `Registration`
 * (core/registration.ts) in its own folder. The conformance kit runs every entry, the CLI
 * offers every entry to `memkit replay --allocator`, and the tour and the bench build them
 * from here. Adding a strategy is its folder and one line below; test/registry.test.ts
 * checks that every entry runs the kit and appears in the CLI.
 *
 * Layer: the registry lists `Heap`, so it sits at the heap layer (above strategies,
 * compose and shared), and only the CLI, the tests and the bench read it. Order is the
 * order of the CLI's tables.
 */

import type { Configuration, Registration } from "./core/registration.js";
import { heapRegistration } from "./heap/registration.js";
import { sharedHeapRegistration } from "./shared/registration.js";
import { blockRegistration } from "./strategies/block/registration.js";
import { buddyRegistration } from "./strategies/buddy/registration.js";
import { bumpRegistration } from "./strategies/bump/registration.js";
import { freeListRegistration } from "./strategies/free-list/registration.js";
import { offsetRegistration } from "./strategies/offset/registration.js";
import { poolRegistration } from "./strategies/pool/registration.js";
import { slabRegistration } from "./strategies/slab/registration.js";
import { stackRegistration } from "./strategies/stack/registration.js";
import { tlsfRegistration } from "./strategies/tlsf/registration.js";

export type { Capabilities, Configuration, Registration, Sizing } from "./core/registration.js";

export const REGISTRY: readonly Registration[] = [
  heapRegistration,
  tlsfRegistration,
  freeListRegistration,
  buddyRegistration,
  offsetRegistration,
  slabRegistration,
  bumpRegistration,
  stackRegistration,
  poolRegistration,
  blockRegistration,
];

/** Every configuration: each registration, then its variants, in registry order. */
export function configurations(): Configuration[] {
  return withVariants(REGISTRY);
}

/** Each registration of `list`, followed by its variants. */
function withVariants(list: readonly Registration[]): Configuration[] {
  return list.flatMap((r) => [r, ...(r.variants ?? [])]);
}

/**
 * Strategies that the conformance kit and the bad-input probe (scripts/probe.mjs) run like
 * REGISTRY's, but that the CLI and the bench do not offer: SharedHeap, used by one agent
 * (its bench, with workers, is bench/shared.mjs).
 */
export const SHARED_REGISTRY: readonly Registration[] = [sharedHeapRegistration];

/** Every configuration the kit and the probe check: `configurations()`, then SHARED_REGISTRY's. */
export function checkedConfigurations(): Configuration[] {
  return withVariants([...REGISTRY, ...SHARED_REGISTRY]);
}
