/**
 * The adapter a strategy gives the conformance kit: how to make one, and what it promises.
 * The kit (kit.ts) runs the same model-based property tests for every subject on every
 * memory kind it supports; a capability set to false turns off only the checks that need
 * it. Every registered strategy is a subject (`subjectOf`, registry-N.conformance.test.ts);
 * the per-strategy files add configurations of their own.
 */

import type { Allocator } from "../../src/core/allocator.js";
import type { Memory, MemoryKind } from "../../src/core/memory.js";
import {
  type Capabilities,
  type Configuration,
  REGISTRY,
  type Registration,
  SHARED_REGISTRY,
} from "../../src/registry.js";

/** The memory kinds the kit can make (see memories.ts). */
export type KitMemoryKind = MemoryKind;

export interface Subject extends Capabilities {
  /** Name shown in test titles. */
  readonly name: string;
  /** The memory kinds this strategy supports. */
  readonly kinds: readonly KitMemoryKind[];
  /** A fresh allocator managing `memory` (the kit makes the memory, about 128 KiB). */
  make(memory: Memory): Allocator;
  /** Runs per property, for slow subjects (default, and the most: MEMKIT_RUNS or 1,000). */
  readonly runs?: number;
  /** Needs a shared memory: the kit's `wasm` memory is made shared (memories.ts). */
  readonly sharedMemory?: boolean;
}

/**
 * The subject of a registered strategy, or of one of its variants (which differ only in a
 * policy, so the kit runs them on the first two of the strategy's memories).
 */
export function subjectOf(r: Registration, variant?: Configuration): Subject {
  const c = variant ?? r;
  return {
    ...r.capabilities,
    name: `${r.strategy} [${c.name}]`,
    kinds: variant === undefined ? r.memories : r.memories.slice(0, 2),
    make: (memory) => c.make(memory),
    sharedMemory: r.sharedMemory,
  };
}

/** Every registered strategy and variant (REGISTRY's, then SHARED_REGISTRY's), as the kit runs them. */
export function registeredSubjects(): Subject[] {
  return [...REGISTRY, ...SHARED_REGISTRY].flatMap((r) => [
    subjectOf(r),
    ...(r.variants ?? []).map((v) => subjectOf(r, v)),
  ]);
}

/** The registry's subjects run in REGISTRY_PARTS files, registry-1 … registry-N.conformance.test.ts. */
export const REGISTRY_PARTS = 3;

/** Part `k` (1 … REGISTRY_PARTS) of the registered subjects: every REGISTRY_PARTS-th one. */
export function registeredPart(k: number): Subject[] {
  return registeredSubjects().filter((_, i) => i % REGISTRY_PARTS === k - 1);
}
