/**
 * The global allocator: what the typed layer uses when a call is given no allocator (the
 * seeds' `#[global_allocator]`). It is the default `Heap` (`getDefaultHeap()`: a TLSF heap
 * over its own growable `WebAssembly.Memory`) until `setDefaultAllocator` names another one,
 * such as a `ChainAllocator` with a `BlockAllocator` in front (stalloc's
 * `SyncStalloc::new().chain(&System)`).
 *
 * Changing it affects only calls made afterwards: a vector or box keeps the allocator it was
 * made with, so it is freed where it was allocated.
 */

import { isAllocator } from "../compose/chain.js";
import type { Allocator } from "../core/allocator.js";
import { ArgumentTypeError } from "../core/errors.js";
import { getDefaultHeap } from "../heap/index.js";

let current: Allocator | null = null;

/** The allocator typed values go to when none is given. */
export function getDefaultAllocator(): Allocator {
  return current ?? getDefaultHeap();
}

/**
 * Makes `allocator` the default for typed values made from now on; `null` goes back to the
 * default heap. Returns the previous default, to put back later.
 */
export function setDefaultAllocator(allocator: Allocator | null): Allocator {
  if (allocator !== null && !isAllocator(allocator)) {
    throw new ArgumentTypeError("setDefaultAllocator takes an Allocator or null");
  }
  const previous = getDefaultAllocator();
  current = allocator;
  return previous;
}

/** `allocator`, the default when it is undefined; `ArgumentTypeError` for anything else. */
export function allocatorOr(allocator: Allocator | undefined): Allocator {
  if (allocator === undefined) return getDefaultAllocator();
  if (!isAllocator(allocator)) {
    throw new ArgumentTypeError("expected an Allocator (or nothing, for the default one)");
  }
  if (!allocator.memory.hasBytes) {
    throw new ArgumentTypeError(
      "typed values need bytes: this allocator manages an offset-only memory",
      "ERR_UNSUPPORTED",
    );
  }
  return allocator;
}
