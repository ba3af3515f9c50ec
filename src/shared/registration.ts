/**
 * SharedHeap as the conformance kit and the bad-input probe see it (core/registration.ts):
 * one agent using the heap, over TLSF with the small-block caches (the defaults). It is not
 * in the registry's REGISTRY (src/registry.ts: the CLI's and the bench's rows) but in
 * SHARED_REGISTRY, which only the kit and the probe read: its bench is bench/shared.mjs,
 * with workers.
 *
 * Memories: only shared ones, a growable `SharedArrayBuffer` ("shared") or a shared
 * `WebAssembly.Memory` ("wasm", made shared for it: `sharedMemory`). A `fixed` or
 * `growable` memory is a plain `ArrayBuffer` no other agent can see, and an `offset` memory
 * has no bytes for the caches' pages and TLSF's size words: SharedHeap refuses all three.
 */

import { StrategyKind } from "../core/header.js";
import type { Memory } from "../core/memory.js";
import { GENERAL_PURPOSE, type Registration } from "../core/registration.js";
import { MAX_MEMORY_BYTES, PAGE_BYTES, WasmMemory } from "../memory/memory.js";
import type { SharedHeapOptions } from "./descriptor.js";
import { SharedHeap } from "./shared-heap.js";

/** A SharedHeap with `options` over the buffer of `memory` (a shared memory), as agent 1. */
export function sharedHeapOver(memory: Memory, options: SharedHeapOptions = {}): SharedHeap {
  if (memory instanceof WasmMemory) {
    return SharedHeap.create({
      ...options,
      memory: memory.memory,
      start: memory.start,
      maximumPages: memory.maxEnd / PAGE_BYTES,
    });
  }
  return SharedHeap.create({ ...options, memory: memory.buffer as SharedArrayBuffer });
}

export const sharedHeapRegistration: Registration = {
  name: "shared",
  label: "SharedHeap (TLSF with per-agent caches, one agent)",
  strategy: "SharedHeap",
  // The header in the memory is the wrapped TLSF's.
  kind: StrategyKind.tlsf,
  memories: ["shared", "wasm"],
  sharedMemory: true,
  general: true,
  capabilities: {
    ...GENERAL_PURPOSE,
    // Empty cache pages stay parked (cacheEmptyPages, 16 by default) after everything is freed.
    reclaimsAll: false,
    // A cache block's slots are out of line (a page's bitmap): past it lies the next slot,
    // or, after a page's last slot, TLSF's next size word; past a TLSF block, its size word.
    afterBlock: "some",
  },
  make: (memory) => sharedHeapOver(memory),
  forTrace: () => SharedHeap.create({ initialBytes: 1 << 20, maxBytes: MAX_MEMORY_BYTES }),
};
