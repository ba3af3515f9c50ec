// `memkit replay` and the benchmark's trace rows build memkit's allocators with one function
// (src/cli/allocators.ts's traceAllocator), so they report the same footprint and failures.
// Checked on a prefix of each bundled trace, for every allocator either runs: the CLI's
// allocator-process code (measureAllocator on the trace read as replay-child.ts reads it)
// against the bench's row-process code (traceRowAllocator and timedReplay on the trace read
// back from the bench's binary file, as child.mjs does). Nothing here is timed.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it, vi } from "vitest";
// @ts-expect-error plain JS module without types
import { NOT_BENCHED, rowsFor, traceRowAllocator } from "../../bench/rows.mjs";
// @ts-expect-error plain JS module without types
import { loadTraceBinary, writeTraceBinary } from "../../bench/traces.mjs";
import {
  ALLOCATOR_NAMES,
  GENERAL_NAMES,
  sizingOf,
  traceAllocator,
} from "../../src/cli/allocators.js";
import { measureAllocator } from "../../src/cli/replays.js";
import { timedReplay } from "../../src/cli/timed-replay.js";
import { readTraceFile } from "../../src/cli/trace-file.js";
import * as mk from "../../src/index.js";
import { OffsetMemory } from "../../src/memory/memory.js";
import { traceMemoryBytes } from "../../src/memory/trace-memory.js";
import { OffsetAllocator } from "../../src/strategies/offset/index.js";
import type { Trace } from "../../src/trace/trace.js";
import { TRACE_DIR, TRACE_NAMES } from "../traces/load.js";

// bench/lib.mjs loads the library from the build (dist/); here, from the sources.
vi.mock("../../bench/lib.mjs", async () => ({
  mk: await import("../../src/index.js"),
  configurations: (await import("../../src/registry.js")).configurations,
  traceAllocator: (await import("../../src/cli/allocators.js")).traceAllocator,
}));

/** Operations of each bundled trace replayed here. */
const PREFIX = 5_000;

const dir = mkdtempSync(join(tmpdir(), "memkit-trace-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  key: string;
  group: string;
  kind: string;
  label: string;
  asReplay?: boolean;
}

/** The first `PREFIX` operations of bundled trace `name`, as a trace file of its own. */
function prefixFile(name: string): string {
  const text = gunzipSync(readFileSync(join(TRACE_DIR, `${name}.trace.gz`))).toString("latin1");
  const lines: string[] = [];
  let ops = 0;
  let at = 0;
  while (ops < PREFIX && at < text.length) {
    const end = text.indexOf("\n", at);
    const line = text.slice(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    lines.push(line);
    if (line !== "" && !line.startsWith("#")) ops++;
  }
  const file = join(dir, `${name}.trace`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** The same trace as a bench row process reads it: through the bench's binary file. */
function benchTrace(t: Trace): Trace {
  const file = join(dir, `${t.name}.bin`);
  writeTraceBinary(t, file);
  return loadTraceBinary(file, t.name);
}

const memkitRows = (id: string): Row[] =>
  (rowsFor(id) as Row[]).filter((r) => r.group === "memkit");

describe("memkit replay and the bench's trace rows", () => {
  it("run the same allocators: every general one the bench does not leave out, by the same name", () => {
    const keys = memkitRows("sqlite3").map((r) => r.key);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(ALLOCATOR_NAMES).toContain(k);
    for (const n of GENERAL_NAMES) expect(keys.includes(n) || n in NOT_BENCHED, n).toBe(true);
    for (const r of memkitRows("sqlite3")) expect(r.asReplay).toBe(true);
    // the growth trace's Heap is the bench's own (not a replay of a bundled trace)
    expect(memkitRows("growth").every((r) => r.asReplay !== true)).toBe(true);
  });

  for (const name of TRACE_NAMES) {
    it(`report the same footprint, failures and peak live bytes on ${name}'s first ${PREFIX.toLocaleString("en-US")} ops`, async () => {
      const cliTrace = await readTraceFile(prefixFile(name));
      expect(cliTrace.count).toBe(PREFIX);
      const bTrace = benchTrace(cliTrace);
      for (const row of memkitRows(name)) {
        const cli = measureAllocator(cliTrace, row.key, false).first;
        const bench = timedReplay(bTrace, await traceRowAllocator(mk, row, bTrace));
        const got = { footprint: bench.footprint, failures: bench.failures, live: bench.peakLive };
        expect(got, `${name} ${row.key}`).toEqual({
          footprint: cli.footprint,
          failures: cli.failures,
          live: cli.peakLive,
        });
        expect(cli.footprint, `${name} ${row.key}`).toBeGreaterThan(0);
      }
    });
  }

  it("the offset allocator's trace configuration places blocks as on offset-only memory", async () => {
    // The bench's offset-only target reads the offset row of the traces. That row runs on a
    // memory with bytes (so that --verify can paint), where the heap's header comes first:
    // every block sits the header's size higher than on offset-only memory, and no other way.
    const t = await readTraceFile(prefixFile("python-json"));
    const replayed = measureAllocator(t, "offset", false).first;
    const bytes = traceMemoryBytes(sizingOf(t));
    const offsetOnly = () => new OffsetAllocator(new OffsetMemory(0, bytes));
    const header = traceAllocator("offset", t).alloc(16) - offsetOnly().alloc(16);
    expect(header).toBeGreaterThan(0);
    expect(header).toBeLessThanOrEqual(64);
    const r = timedReplay(t, offsetOnly());
    expect(r.failures).toBe(0);
    expect(r.footprint).toBe((replayed.footprint ?? 0) - header);
  });
});
