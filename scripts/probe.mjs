// The bad-input probe: every row of bad input (sizes, alignments, argument types; foreign,
// interior, misaligned, freed, header and region-end pointers; double frees; realloc of a
// freed pointer to a huge size; bad sizes given to dealloc and realloc) against every
// registered allocator (src/registry.ts: REGISTRY's and SHARED_REGISTRY's, so SharedHeap
// too) on every memory kind it runs on. Around each call every byte of the
// memory (the whole buffer, not only the region), the metadata (`metadataBytes()`) and
// `stats()` are compared: a probe passes when the call threw a typed error (memkit's
// AllocatorError, ArgumentRangeError or ArgumentTypeError, with an ERR_ code) or, for a size no heap can hold, answered 0, changed
// nothing, and left `check()` passing and the heap unpoisoned. A strategy that cannot tell a
// misuse from a valid call (an interior pointer to a bump) may instead do nothing at all.
//
//   npm run probe                    (builds dist/, then runs this)
//   node scripts/probe.mjs [--only NAME] [--json]
//
// `probe(lib)` is exported for test/probe.test.ts, which runs it over the sources.

import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const KIT_BYTES = 128 * 1024;
const START_BYTES = 6 * 1024;
const FIXED_OFFSET = 36;

/**
 * The memory kinds, made as the conformance kit makes them (test/conformance/memories.ts);
 * `shared`: the wasm memory is a shared one (a registration's `sharedMemory`).
 */
function makeMemory(lib, kind, shared) {
  switch (kind) {
    case "fixed": {
      const buf = new ArrayBuffer(KIT_BYTES + FIXED_OFFSET + 64);
      new Uint8Array(buf).fill(0xaa);
      return new lib.FixedMemory(buf, FIXED_OFFSET, KIT_BYTES, false);
    }
    case "growable":
      return new lib.GrowableMemory(START_BYTES, KIT_BYTES);
    case "shared":
      return new lib.SharedMemory(START_BYTES, KIT_BYTES);
    case "wasm": {
      const pages = Math.ceil(KIT_BYTES / 65536);
      const memory = new WebAssembly.Memory({ initial: 1, maximum: pages + 1, shared });
      return new lib.WasmMemory(memory, 65536 - START_BYTES, pages + 1);
    }
    case "offset":
      return new lib.OffsetMemory(0, KIT_BYTES);
  }
  throw new Error(`unknown memory kind ${kind}`);
}

/**
 * A fresh allocator with live blocks A (64 bytes), B (100) and C (24), and, where blocks are
 * freed in any order, D (40) freed between live blocks.
 */
function setUp(lib, config, caps, kind, shared) {
  const a = config.make(makeMemory(lib, kind, shared === true));
  // The allocator's own view of the region (a SharedHeap makes one over the same buffer).
  const memory = a.memory;
  const size = (n) => Math.min(n, caps.sizes.max);
  const A = a.alloc(size(64));
  const B = a.alloc(size(100));
  const C = a.alloc(size(24));
  let D;
  if (caps.freeOrder === "any") {
    D = a.alloc(size(40));
    a.alloc(size(16));
    free(a, caps, D, size(40));
  }
  // A heap too small for the four blocks is reported, not probed.
  if (A === 0 || B === 0 || C === 0 || D === 0) return null;
  return { a, memory, caps, A, B, C, D, sizeA: size(64), sizeD: size(40) };
}

function free(a, caps, ptr, size) {
  a.dealloc(ptr, caps.deallocNeedsSize ? size : undefined);
}

function realloc(s, ptr, newSize, align = 8, oldSize = 8) {
  return s.caps.realloc
    ? s.caps.realloc(s.a, ptr, oldSize, newSize, align)
    : s.a.realloc(ptr, newSize, align);
}

/** Everything a rejected call must leave as it was. */
function snapshot(s) {
  const m = s.a.memory;
  m.refresh();
  return {
    bytes: m.hasBytes ? m.u8.slice() : new Uint8Array(0),
    meta: typeof s.a.metadataBytes === "function" ? s.a.metadataBytes() : new Uint8Array(0),
    stats: JSON.stringify(s.a.stats()),
  };
}

function changed(before, after) {
  if (Buffer.compare(before.bytes, after.bytes) !== 0) return "memory bytes changed";
  if (Buffer.compare(before.meta, after.meta) !== 0) return "metadata bytes changed";
  if (before.stats !== after.stats) return `stats changed: ${before.stats} -> ${after.stats}`;
  return "";
}

const BAD_SIZES = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -1,
  1.5,
  2 ** 53,
  "16",
  null,
  undefined,
  true,
  {},
  8n,
];
const HUGE_SIZES = [2 ** 32, 2 ** 40, 2 ** 53 - 1];
const BAD_ALIGNS = [0, 3, 24, 2.5, Number.NaN, "8", 2 ** 17, -8, 8n, null];
const BAD_DEALLOC_SIZES = [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5];
const BAD_REALLOC_SIZES = [Number.NaN, -1, 1.5, "16", 0];

/**
 * The pointers a caller may get wrong: name → (set-up) → pointer, or undefined where the row
 * does not apply. `noop`: a strategy without that detection may ignore the call.
 */
const POINTERS = [
  ["negative", () => -8],
  ["fraction", (s) => s.A + 0.5],
  ["NaN", () => Number.NaN],
  ["string", (s) => String(s.A)],
  ["bigint", () => 8n],
  ["beyond the end", (s) => s.memory.end + 64],
  ["at the region's end", (s) => s.memory.end],
  ["past 2^32", () => 2 ** 32 + 64],
  ["misaligned", (s) => s.A + 1],
  ["interior", (s) => s.A + 16, (c) => !c.detectsInteriorPointers],
  ["the heap's header", (s) => (s.memory.hasBytes ? s.memory.start + 8 : undefined)],
  ["below the region", (s) => (s.memory.start >= 16 ? s.memory.start - 8 : undefined)],
  ["freed", (s) => s.D, (c) => !c.detectsDoubleFree],
];

/** Every row: [name, applies(caps), call(s)] plus what it must do: "throw" or "zero". */
function rows() {
  const out = [];
  for (const v of BAD_SIZES) {
    for (const via of ["alloc", "allocZeroed"]) {
      out.push({ name: `${via}(${show(v)})`, expect: "throw", call: (s) => s.a[via](v, 8) });
    }
  }
  for (const v of HUGE_SIZES) {
    for (const via of ["alloc", "allocZeroed"]) {
      out.push({ name: `${via}(${show(v)})`, expect: "zero", call: (s) => s.a[via](v, 8) });
    }
  }
  for (const v of BAD_ALIGNS) {
    out.push({ name: `alloc(8, align ${show(v)})`, expect: "throw", call: (s) => s.a.alloc(8, v) });
  }
  for (const [what, pointer, noop] of POINTERS) {
    out.push({
      name: `dealloc(${what})`,
      expect: "throw",
      noop,
      pointer,
      call: (s, p) => s.a.dealloc(p, s.caps.deallocNeedsSize ? 8 : undefined),
    });
    out.push({
      name: `realloc(${what}, 16)`,
      expect: "throw",
      noop,
      pointer,
      call: (s, p) => realloc(s, p, 16),
    });
    out.push({
      name: `usableSize(${what})`,
      expect: "throw",
      noop,
      pointer,
      call: (s, p) => s.a.usableSize(p),
    });
  }
  out.push({
    name: "realloc(freed, 2^32)",
    expect: "throw",
    noop: (c) => !c.detectsDoubleFree,
    pointer: (s) => s.D,
    call: (s, p) => realloc(s, p, 2 ** 32),
  });
  out.push({
    name: "realloc(freed, 2^53 - 1)",
    expect: "throw",
    noop: (c) => !c.detectsDoubleFree,
    pointer: (s) => s.D,
    call: (s, p) => realloc(s, p, 2 ** 53 - 1),
  });
  for (const how of ["dealloc", "realloc"]) {
    out.push({
      name: `double free: dealloc(A) then ${how}(A)`,
      expect: "throw",
      noop: (c) => !c.detectsDoubleFree,
      // The first free is the caller's valid call; only the second is compared.
      first: (s) => (s.caps.freeOrder === "any" ? free(s.a, s.caps, s.A, s.sizeA) : "skip"),
      pointer: (s) => s.A,
      call: (s, p) =>
        how === "dealloc"
          ? s.a.dealloc(p, s.caps.deallocNeedsSize ? s.sizeA : undefined)
          : realloc(s, p, 16, 8, s.sizeA),
    });
  }
  for (const v of BAD_REALLOC_SIZES) {
    out.push({
      name: `realloc(live, ${show(v)})`,
      expect: "throw",
      pointer: (s) => (s.caps.freeOrder === "lifo" ? s.C : s.A),
      call: (s, p) => realloc(s, p, v, 8, s.caps.freeOrder === "lifo" ? 24 : s.sizeA),
    });
  }
  out.push({
    name: "realloc(live, 16, align 3)",
    expect: "throw",
    pointer: (s) => (s.caps.freeOrder === "lifo" ? s.C : s.A),
    call: (s, p) => realloc(s, p, 16, 3, s.caps.freeOrder === "lifo" ? 24 : s.sizeA),
  });
  out.push({
    name: "realloc(live, 2^32)",
    expect: "zero",
    pointer: (s) => (s.caps.freeOrder === "lifo" ? s.C : s.A),
    call: (s, p) => realloc(s, p, 2 ** 32, 8, s.caps.freeOrder === "lifo" ? 24 : s.sizeA),
  });
  for (const v of BAD_DEALLOC_SIZES) {
    out.push({
      name: `dealloc(live, size ${show(v)})`,
      expect: "throw",
      pointer: (s) => (s.caps.freeOrder === "lifo" ? s.C : s.A),
      call: (s, p) => s.a.dealloc(p, v),
    });
  }
  out.push({
    name: "dealloc(live, size 2^31)",
    expect: "throw",
    pointer: (s) => (s.caps.freeOrder === "lifo" ? s.C : s.A),
    call: (s, p) => s.a.dealloc(p, 2 ** 31),
  });
  return out;
}

function show(v) {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "object" && v !== null) return Array.isArray(v) ? "[]" : "{}";
  return String(v);
}

/** Runs one row on a fresh allocator: "" when it held, else what went wrong. */
function runRow(lib, row, s) {
  if (row.first && row.first(s) === "skip") return "skip";
  const p = row.pointer ? row.pointer(s) : undefined;
  if (row.pointer && p === undefined) return "skip";
  const before = snapshot(s);
  let thrown;
  let result;
  try {
    result = row.call(s, p);
  } catch (e) {
    thrown = e;
  }
  const noop = row.noop?.(s.caps) === true;
  let why = "";
  if (thrown !== undefined) {
    const typed =
      thrown instanceof lib.AllocatorError ||
      thrown instanceof lib.ArgumentRangeError ||
      thrown instanceof lib.ArgumentTypeError;
    if (!typed || typeof thrown.code !== "string" || !thrown.code.startsWith("ERR_")) {
      why = `threw an untyped ${thrown?.name ?? typeof thrown}: ${thrown?.message ?? thrown}`;
    } else if (thrown instanceof lib.HeapCorruptedError) {
      why = `a caller's mistake reported as corruption: ${thrown.message}`;
    }
  } else if (row.expect === "zero") {
    if (result !== 0) why = `answered ${result}, not 0`;
  } else if (!noop) {
    why = `nothing was thrown (answered ${show(result)})`;
  }
  if (why === "") why = changed(before, snapshot(s));
  if (why === "") {
    try {
      s.a.check();
    } catch (e) {
      why = `check() then failed: ${e.message}`;
    }
  }
  return why;
}

/**
 * Runs every row on every registered configuration and memory kind (`only`: one
 * configuration's name). Returns the totals and the failures.
 */
export function probe(lib, configurations, registry, only) {
  const all = rows();
  const failures = [];
  const unprobed = [];
  let passed = 0;
  let skipped = 0;
  for (const config of configurations) {
    if (only !== undefined && config.name !== only) continue;
    const r = registry.find((x) => x === config || x.variants?.includes(config));
    for (const kind of r.memories) {
      for (const row of all) {
        const s = setUp(lib, config, r.capabilities, kind, r.sharedMemory);
        if (s === null) {
          if (!unprobed.includes(`${config.name} on ${kind}`))
            unprobed.push(`${config.name} on ${kind}`);
          skipped++;
          continue;
        }
        const why = runRow(lib, row, s);
        if (why === "skip") skipped++;
        else if (why === "") passed++;
        else failures.push({ allocator: config.name, kind, row: row.name, why });
      }
    }
  }
  return { rows: all.length, passed, failed: failures.length, skipped, failures, unprobed };
}

async function main() {
  const { values } = parseArgs({
    options: { only: { type: "string" }, json: { type: "boolean" } },
  });
  const lib = await import("../dist/index.js");
  const { checkedConfigurations, REGISTRY, SHARED_REGISTRY } = await import("../dist/registry.js");
  const configurations = checkedConfigurations();
  const result = probe(lib, configurations, [...REGISTRY, ...SHARED_REGISTRY], values.only);
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    for (const f of result.failures) {
      console.log(`FAIL ${f.allocator} on ${f.kind}: ${f.row}: ${f.why}`);
    }
    for (const u of result.unprobed) console.log(`NOT PROBED ${u}: the blocks did not fit`);
    console.log(
      `${result.rows} rows × ${configurations.length} allocators × their memory kinds: ` +
        `${result.passed} passed, ${result.failed} failed, ${result.skipped} not applicable`,
    );
  }
  process.exitCode = result.failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
