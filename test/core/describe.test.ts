/**
 * Readable state: every allocator prints a one-line summary under `util.inspect` (and so
 * `console.log`) and has a multi-line `dump()`, with figures that are its `stats()`.
 */

import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ChainAllocator } from "../../src/compose/chain.js";
import { CheckedAllocator } from "../../src/compose/checked.js";
import { childOf } from "../../src/compose/child.js";
import { RecordingAllocator } from "../../src/compose/recording.js";
import type { Allocator } from "../../src/core/allocator.js";
import { formatBytes, fragmentation, INSPECT } from "../../src/core/describe.js";
import {
  H_MAGIC,
  H_STATE,
  headerOffset,
  POISONED_MAGIC,
  SLOT_BYTES,
} from "../../src/core/header.js";
import { Heap } from "../../src/heap/index.js";
import { SharedHeap } from "../../src/shared/shared-heap.js";
import { BlockAllocator } from "../../src/strategies/block/index.js";
import { BuddyAllocator } from "../../src/strategies/buddy/index.js";
import { BumpAllocator } from "../../src/strategies/bump/index.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import { PoolAllocator } from "../../src/strategies/pool/index.js";
import { SlabAllocator } from "../../src/strategies/slab/index.js";
import { StackAllocator } from "../../src/strategies/stack/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";

/** A share as the summary prints it: whole percents from 10% (and 0%), else one decimal. */
function percent(x: number): string {
  const p = x * 100;
  return `${p === 0 || p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

const ALL: [string, () => Allocator][] = [
  ["BumpAllocator", () => new BumpAllocator(8192)],
  ["StackAllocator", () => new StackAllocator(8192)],
  ["PoolAllocator", () => new PoolAllocator(64, 100)],
  ["SlabAllocator", () => new SlabAllocator(new TlsfAllocator(256 * 1024))],
  ["BlockAllocator", () => new BlockAllocator(256, 16)],
  ["FreeListAllocator", () => new FreeListAllocator(8192)],
  ["BuddyAllocator", () => new BuddyAllocator(8192)],
  ["TlsfAllocator", () => new TlsfAllocator(8192)],
  ["Heap", () => new Heap()],
  [
    "ChainAllocator of 2",
    () => {
      const tlsf = new TlsfAllocator(16384);
      return new ChainAllocator([childOf(tlsf, 2048, (m) => new BumpAllocator(m)), tlsf]);
    },
  ],
  ["CheckedAllocator(TlsfAllocator)", () => new CheckedAllocator(new TlsfAllocator(8192))],
  ["RecordingAllocator(PoolAllocator)", () => new RecordingAllocator(new PoolAllocator(64, 100))],
  ["SharedHeap agent 1", () => SharedHeap.create({ initialBytes: 65536 })],
];

describe.each(ALL)("%s", (kind, make) => {
  it("prints a one-line summary of its stats, and dumps them one figure a line", () => {
    const a = make();
    const ps = [a.alloc(40), a.alloc(16), a.alloc(8)];
    a.dealloc(ps[2], 8);
    const s = a.stats();
    const line = inspect(a);
    expect(line).toBe(
      `${kind} { capacity ${formatBytes(s.capacity)}, in use ${formatBytes(s.inUse)} in ` +
        `${s.liveBlocks} block${s.liveBlocks === 1 ? "" : "s"}, free ${formatBytes(s.free)} ` +
        `(largest ${formatBytes(s.largestFree)}, fragmentation ` +
        `${percent(fragmentation(s))}), overhead ${formatBytes(s.overhead)}, ` +
        `peak ${formatBytes(s.peakInUse)}, ok }`,
    );
    expect(line).not.toContain("\n");
    expect(inspect({ nested: [a] })).toContain(`${kind} {`); // inside other objects too
    const dump = (a as unknown as { dump(): string }).dump();
    expect(dump.split("\n").length).toBeGreaterThanOrEqual(2);
    if (kind !== "BlockAllocator") {
      expect(dump).toContain(`${s.capacity} bytes, ok`);
      expect(dump).toContain(`in use     ${s.inUse} bytes in ${s.liveBlocks} block`);
      expect(dump).toContain(`largest free block ${s.largestFree}`);
    }
  });
});

describe("summaries of heaps that cannot answer", () => {
  it("a poisoned heap says so instead of throwing", () => {
    const tlsf = new TlsfAllocator(8192);
    // Poisoned as the library poisons a heap: the state and the magic both say so.
    const h = headerOffset(tlsf.memory.start) / SLOT_BYTES;
    tlsf.memory.f64[h + H_STATE] = 1;
    tlsf.memory.f64[h + H_MAGIC] = POISONED_MAGIC;
    expect(tlsf.poisoned).toBe(true);
    expect(inspect(tlsf)).toBe("TlsfAllocator { poisoned }");
    expect(tlsf.dump()).toBe("TlsfAllocator: poisoned");
    const chain = new ChainAllocator([new CheckedAllocator(tlsf)]);
    expect(inspect(chain)).toBe("ChainAllocator of 1 { poisoned }");
  });

  it("a dropped heap says so", () => {
    const bump = new BumpAllocator(1024);
    bump.drop();
    expect(inspect(bump)).toBe("BumpAllocator { dropped }");
  });

  it("a chain's and a wrapper's dump include their members' dumps, indented", () => {
    const tlsf = new TlsfAllocator(16384);
    const blocks = childOf(tlsf, 1024, (m) => new BlockAllocator(m, 8));
    const chain = new ChainAllocator([blocks, tlsf]);
    const lines = chain.dump().split("\n");
    expect(lines[0]).toMatch(/^ChainAllocator: \d+ bytes, ok$/);
    expect(lines).toContain(`  ${blocks.dump().split("\n")[0]}`);
    expect(lines).toContain(`  ${tlsf.dump().split("\n")[0]}`);
    const checked = new CheckedAllocator(blocks);
    expect(checked.dump().split("\n").slice(4)).toEqual(
      blocks
        .dump()
        .split("\n")
        .map((l) => `  ${l}`),
    );
  });

  it("the hook is the registered symbol util.inspect looks up", () => {
    expect(INSPECT).toBe(inspect.custom);
  });
});

describe("figures", () => {
  it("formatBytes is exact below 10 KiB, then one decimal at most", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(10239)).toBe("10239 B");
    expect(formatBytes(10240)).toBe("10 KiB");
    expect(formatBytes(65536)).toBe("64 KiB");
    expect(formatBytes(1536 * 1024)).toBe("1.5 MiB");
    expect(formatBytes(2 ** 30 * 200)).toBe("200 GiB");
    expect(formatBytes(2 ** 32)).toBe("4 GiB");
  });

  it("fragmentation is the share of free bytes outside the largest free block", () => {
    const s = { capacity: 100, inUse: 0, overhead: 0, liveBlocks: 0, peakInUse: 0 };
    expect(fragmentation({ ...s, free: 0, largestFree: 0 })).toBe(0);
    expect(fragmentation({ ...s, free: 100, largestFree: 100 })).toBe(0);
    expect(fragmentation({ ...s, free: 100, largestFree: 25 })).toBe(0.75);
    expect(fragmentation({ ...s, free: 100, largestFree: 200 })).toBe(0); // growth counted: clamped
  });
});
