import { ChainAllocator } from "../../src/compose/chain.js";
import { childOf } from "../../src/compose/child.js";
import type { Memory } from "../../src/memory/memory.js";
import { BuddyAllocator } from "../../src/strategies/buddy/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { runConformance } from "./kit.js";

/**
 * Disjoint regions of one memory: a small bump arena in front of a TLSF over the rest.
 * Bump blocks come back only on reset (freeOrder "none"), and a Bump knows only its newest
 * block's size, so the chain's flags are the weaker member's.
 */
function bumpThenTlsf(memory: Memory): ChainAllocator {
  const cut = memory.start + 12 * 1024;
  const bump = new BumpAllocator(memory.region(memory.start, cut));
  const tlsf = new TlsfAllocator(memory.region(cut, memory.end));
  return new ChainAllocator([bump, tlsf], { memory });
}

runConformance({
  name: "ChainAllocator (Bump region → TLSF region)",
  kinds: ["fixed"],
  make: bumpThenTlsf,
  freeOrder: "none",
  deallocNeedsSize: false,
  detectsDoubleFree: false,
  detectsInteriorPointers: false,
  knowsSizes: false,
  sizes: { min: 0, max: 4096 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
  // The bump region keeps nothing after a block, the TLSF region its next size word.
  afterBlock: "some",
});

/**
 * Nested: a pool of 64-byte blocks carved from the TLSF that manages the whole (growing)
 * memory, asked first. Requests above 64 bytes, or aligned above 64, fall back to the TLSF;
 * a pool block resized past 64 bytes moves to the TLSF. The TLSF grows the memory, and the
 * pool, inside one of its blocks, must follow the buffer. A chain with a child inside its
 * parent cannot be reset (the parent's reset would free the child's region).
 */
function poolInsideTlsf(memory: Memory): ChainAllocator {
  const tlsf = new TlsfAllocator(memory);
  // The pool takes all but 1 KiB of the TLSF's first region, so the TLSF grows soon.
  const bytes = tlsf.stats().largestFree - 1024;
  const pool = childOf(tlsf, bytes, (m) => {
    return new PoolAllocator(64, undefined, { memory: m });
  });
  return new ChainAllocator([pool, tlsf]);
}

runConformance({
  name: "ChainAllocator (Pool child → its TLSF parent)",
  // wasm: growth replaces the buffer, the hard case for the child's views (a growable
  // ArrayBuffer's length-tracking views never go stale).
  kinds: ["wasm"],
  make: poolInsideTlsf,
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: { min: 0, max: 4096 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: false,
  // Pool blocks keep nothing after them; the TLSF's blocks their next size word.
  afterBlock: "some",
});

/**
 * Offset-only: regions of a range whose bytes live elsewhere (a GPU buffer). A pool of
 * 32-byte blocks (4 of them: programs run it dry, and small requests fall back to the
 * buddy) in front of a buddy over the rest.
 */
function poolThenBuddy(memory: Memory): ChainAllocator {
  const cut = memory.start + 4096;
  const pool = new PoolAllocator(32, 4, { memory: memory.region(memory.start, cut) });
  const buddy = new BuddyAllocator(memory.region(cut, memory.end), { minBlockSize: 16 });
  return new ChainAllocator([pool, buddy], { memory });
}

runConformance({
  name: "ChainAllocator (Pool region → Buddy region, offset-only)",
  kinds: ["offset"],
  make: poolThenBuddy,
  freeOrder: "any",
  deallocNeedsSize: false,
  detectsDoubleFree: true,
  detectsInteriorPointers: true,
  knowsSizes: true,
  sizes: { min: 0, max: 4096 },
  maxAlign: 4096,
  reclaimsAll: true,
  hasReset: true,
  afterBlock: "none",
});
