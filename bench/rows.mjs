// The rows of the benchmark: for each workload (W1-W4) and trace, which allocators run, in
// what order, and how each is made. The parent process lists them; the row process
// (child.mjs) makes the one it was asked for.
//
// A row: { key, label, short, group, kind, make(mk, heapBytes, id) -> allocator or adapter,
//          passSize, note }
//   key     stable id within a workload (the --profile and --rows options take it)
//   label   what the tables call it; short: its name in the summary (a few words)
//   group   memkit | peer | reference | baseline
//   kind    alloc (alloc/dealloc) | reset (W3: reset() releases a round) | gc | baseline
//   make    called once per row process, before anything is timed; `mk` is dist/index.js
//           (a trace row: traceRowAllocator below)
//   passSize  dealloc(p, size) instead of dealloc(p)
//
// memkit's rows come from the strategy registry (src/registry.ts): one row per registered
// configuration, built for the workloads as BENCH below says (MEMKIT_ROWS), and for the traces
// as `memkit replay` builds it (traceRowAllocator), so both report the same footprint.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { configurations, traceAllocator } from "./lib.mjs";
import { ROOT } from "./paths.mjs";
import { asTlsf, codemixMalloc, thingMalloc } from "./peers/adapters.mjs";
import { MinimalBump, MinimalPool } from "./reference.mjs";

export const versionOf = (name) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8"))
      .version;
  } catch {
    return "?";
  }
};

/**
 * W2's pools hold 2,048 blocks of 64 bytes: twice the most W2 can have live (1,000 slots), as
 * a pool is sized for its work. (A pool's free stack and live bitmap are sized for all its blocks up
 * front, before the first block: sized for the whole 64 MiB heap, 1,048,576 blocks, they put
 * the first block ~4.2 MiB up, which the footprint would count.)
 */
const POOL_BLOCKS = 2048;

const fixed = (mk, n) => new mk.FixedMemory(new ArrayBuffer(n));
const ALL = ["W1", "W2", "W3", "W4", "trace"];

/**
 * How the bench builds a registered strategy (src/registry.ts) for the workloads, by its
 * registry name: on which workloads it runs (`on`; "trace": every trace replay, "growth": the
 * growth trace), with what `kind` of loop, and `make(mk, heapBytes, id)` on the workload's
 * memory (WORKLOADS.md: a fixed 64 MiB for W1-W3, 256 MiB for W4; or growing where the
 * allocator only grows). On the traces `make` is not used: traceRowAllocator builds memkit's
 * rows as `memkit replay` does. `first`: listed before the general allocators (the
 * specialists their workload is about).
 */
const BENCH = {
  heap: {
    label: "memkit Heap (default: TLSF, grows from 64 KiB)",
    short: "Heap",
    on: [...ALL, "growth"],
    make: (mk) => new mk.Heap(),
  },
  tlsf: {
    label: "memkit TlsfAllocator",
    short: "TLSF",
    on: ALL,
    make: (mk, n) => new mk.TlsfAllocator(fixed(mk, n)),
  },
  freelist: {
    label: "memkit FreeListAllocator (first fit)",
    short: "FreeList",
    on: ALL,
    make: (mk, n) => new mk.FreeListAllocator(fixed(mk, n)),
  },
  buddy: {
    label: "memkit BuddyAllocator (16-byte blocks)",
    short: "Buddy",
    on: ALL,
    make: (mk, n) => new mk.BuddyAllocator(fixed(mk, n), { minBlockSize: 16 }),
  },
  offset: {
    label: "memkit OffsetAllocator (offset-only memory)",
    short: "Offset",
    on: ALL,
    make: (mk, n) => new mk.OffsetAllocator(new mk.OffsetMemory(0, n)),
  },
  slab: {
    label: "memkit SlabAllocator (over TlsfAllocator)",
    short: "Slab",
    on: ["W1", "W2", "W3", "trace"],
    make: (mk, n) => new mk.SlabAllocator(new mk.TlsfAllocator(fixed(mk, n))),
  },
  bump: {
    label: "memkit BumpAllocator (reset)",
    short: "Bump",
    on: ["W3"],
    kind: "reset",
    first: true,
    make: (mk, n) => new mk.BumpAllocator(n),
  },
  stack: {
    label: "memkit StackAllocator (reset)",
    short: "Stack",
    on: ["W3"],
    kind: "reset",
    first: true,
    make: (mk, n) => new mk.StackAllocator(n),
  },
  pool: {
    label: "memkit PoolAllocator (64 B)",
    short: "Pool",
    on: ["W2"],
    first: true,
    make: (mk) => new mk.PoolAllocator(64, POOL_BLOCKS),
  },
  block: {
    label: "memkit BlockAllocator (16-byte blocks)",
    short: "Block",
    on: ["W1"],
    make: (mk, n) => new mk.BlockAllocator(Math.floor(n / 16) - 64, 16),
  },
};

/** Registered configurations the bench does not run, and why (the results say so). */
export const NOT_BENCHED = {
  "freelist-best": "a fit policy of FreeListAllocator: the bench runs first fit",
  "freelist-next": "a fit policy of FreeListAllocator: the bench runs first fit",
};

/**
 * memkit's rows: every configuration of the registry, in the registry's order (specialists
 * first), built for the workloads as BENCH says; a registered strategy BENCH does not know yet
 * runs as its registration builds it for a trace (`forTrace`, on a growing memory) on every
 * workload and trace when it is general. `passSize` when its contract needs the size on
 * dealloc.
 */
export const MEMKIT_ROWS = configurations()
  .filter((c) => !(c.name in NOT_BENCHED))
  .map((c) => {
    const b = BENCH[c.name] ?? {
      label: `memkit ${c.label}`,
      short: c.name,
      on: c.general ? ALL : [],
      make: () => c.forTrace(),
    };
    const passSize = c.capabilities?.deallocNeedsSize === true;
    return {
      key: c.name,
      ...b,
      traceLabel: `memkit ${c.label}`,
      ...(passSize ? { passSize } : {}),
    };
  })
  .sort((a, b) => (b.first === true) - (a.first === true));

/** The peers a user would pick instead, on every workload and trace. */
function peerRows(trace) {
  return [
    {
      key: "thing",
      label: `@thi.ng/malloc ${versionOf("@thi.ng/malloc")} MemPool`,
      short: "thi.ng MemPool",
      make: (_mk, n) => thingMalloc(n, trace ? 16 : 8),
    },
    {
      key: "codemix",
      label: `malloc ${versionOf("malloc")} (codemix)`,
      short: "codemix malloc",
      make: (_mk, n) => codemixMalloc(n),
      note: trace ? "8-byte alignment only (the traces ask for 16); realloc emulated" : undefined,
    },
    {
      key: "as",
      label: `AssemblyScript ${versionOf("assemblyscript")} TLSF (wasm, called per op)`,
      short: "AS TLSF (wasm)",
      make: () => asTlsf(),
    },
    {
      key: "gc",
      label: "garbage collector (new Uint8Array)",
      short: "GC (Uint8Array)",
      kind: "gc",
      make: () => null,
      note: "zero-fills every block; no footprint (the engine places the bytes)",
    },
  ];
}

/** The empty loop's allocator (for trace replays): a fake pointer, nothing freed. */
export function fakeAllocator() {
  return {
    memory: { start: 0, hasBytes: false },
    alloc: (n) => 64 + (n & 0),
    allocZeroed: (n) => 64 + (n & 0),
    realloc: (_p, n) => 64 + (n & 0),
    dealloc() {},
  };
}

const BASELINE = {
  key: "baseline",
  label: "baseline (empty loop)",
  short: "empty loop",
  group: "baseline",
  kind: "baseline",
  make: () => fakeAllocator(),
};

/**
 * W1 under the hardening ladder's wrapper (compose/hardened.ts) over the default heap: what
 * each level costs. Its `check` level walks the whole heap on every call (O(heap)), which
 * W1's 10,000 live blocks make a run of hours; it is left out.
 */
const LADDER = ["canary", "quarantine"].map((level) => ({
  key: `heap-${level}`,
  label: `memkit Heap under HardenedAllocator (level ${level})`,
  short: `Heap, ${level}`,
  group: "memkit",
  make: (mk) => new mk.HardenedAllocator(new mk.Heap(), { level }),
}));

/**
 * W1's hardening ladder; W2 and W3's minimal JS references (no checks), and W3's baseline
 * without a free pass.
 */
const EXTRA = {
  W1: LADDER,
  W2: [
    {
      key: "minpool",
      label: "reference: minimal JS pool (no checks)",
      short: "minimal pool",
      group: "reference",
      make: () => new MinimalPool(64, POOL_BLOCKS),
    },
  ],
  W3: [
    {
      key: "baseline-reset",
      label: "baseline (empty loop without the free pass: for the reset rows)",
      short: "empty loop (reset)",
      group: "baseline",
      kind: "baseline",
      reset: true,
      make: () => fakeAllocator(),
    },
    {
      key: "minbump",
      label: "reference: minimal JS bump (no checks)",
      short: "minimal bump",
      group: "reference",
      kind: "reset",
      make: (_mk, n) => new MinimalBump(n),
    },
  ],
};

/**
 * The rows of workload `id` (W1-W4), of the growth trace ("growth": the strategies that grow
 * their memory), or of a trace (any other id), in table order.
 */
export function rowsFor(id) {
  const trace = !id.startsWith("W");
  const on = id === "growth" ? "growth" : trace ? "trace" : id;
  const memkit = MEMKIT_ROWS.filter((r) => r.on.includes(on)).map(
    ({ on: _, first: __, traceLabel, ...r }) => ({
      group: "memkit",
      ...r,
      ...(on === "trace" ? { label: traceLabel, asReplay: true } : {}),
    }),
  );
  const rows = [
    BASELINE,
    ...(EXTRA[id] ?? []),
    ...memkit,
    ...(on === "growth" ? [] : peerRows(trace).map((r) => ({ group: "peer", ...r }))),
  ];
  return rows.map((r) => ({ kind: "alloc", ...r }));
}

/** The memory a trace row's peer gets when it takes a fixed size. */
export const TRACE_HEAP = 128 * 1024 * 1024;

/**
 * The allocator of trace row `row` for `trace` (null for the garbage collector's row):
 * memkit's rows of the three traces (`asReplay`) as `memkit replay` builds them
 * (src/cli/allocators.ts's `traceAllocator`: the registry's trace configuration, sized to the
 * trace); the growth trace's Heap, the peers and the baseline by their `make`, the fixed ones
 * over TRACE_HEAP.
 */
export async function traceRowAllocator(mk, row, trace) {
  if (row.kind === "gc") return null;
  if (row.asReplay === true) return traceAllocator(row.key, trace);
  return await row.make(mk, TRACE_HEAP, trace.name);
}
