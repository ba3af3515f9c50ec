import type { Memory } from "../../src/memory/memory.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { SlabAllocator, type SlabOptions } from "../../src/strategies/slab/index.js";
import { slabRegistration } from "../../src/strategies/slab/registration.js";
import { PageParent } from "../helpers/page-parent.js";
import { runConformance } from "./kit.js";
import { subjectOf } from "./subject.js";

/**
 * The kit's memories are 128 KiB, so the slab uses 4 KiB pages and classes up to 1024 bytes;
 * sizes up to 4096 also exercise the large path (requests above 1024 go to the parent). The
 * parent manages the whole memory: growable kinds are grown to their maximum first, because
 * the parents here do not grow afterwards.
 */
function parentMemory(memory: Memory): Memory {
  memory.grow(memory.maxEnd);
  return memory;
}

const small: SlabOptions = { pageSize: 4096, maxSmall: 1024 };

// The registry's slab (over BlockAllocator, B = 64, with the default page cache) runs in
// registry-N.conformance.test.ts.
const common = subjectOf(slabRegistration);

// Without the cache every empty page goes straight back, so the parent is whole again.
runConformance({
  ...common,
  name: "SlabAllocator over BlockAllocator (B = 64), no page cache",
  make: (memory) =>
    new SlabAllocator(new BlockAllocator(parentMemory(memory), 64), {
      ...small,
      emptyPagesPerClass: 0,
    }),
  reclaimsAll: true,
});

// Smallest pages (1 KiB, classes up to 256) over a parent of whole 1 KiB units: pages turn
// over constantly and most requests take the large path.
runConformance({
  ...common,
  name: "SlabAllocator over PageParent (1 KiB pages), no page cache",
  make: (memory) =>
    new SlabAllocator(new PageParent(parentMemory(memory), 1024), {
      pageSize: 1024,
      emptyPagesPerClass: 0,
    }),
  reclaimsAll: true,
});
