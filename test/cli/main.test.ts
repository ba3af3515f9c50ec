/** The commands run in-process through `main(argv, io)`, output captured. */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { GENERAL_NAMES } from "../../src/cli/allocators.js";
import { BUNDLED_TRACE, main, PACKAGE_ROOT } from "../../src/cli/main.js";
import { captureIo, smallTraceText } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "memkit-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bundled = join(PACKAGE_ROOT, BUNDLED_TRACE);
const small = join(dir, "small.trace");
writeFileSync(small, smallTraceText(3000));

/** Runs `memkit argv` with the package root `root`; returns status and output. */
async function run(argv: string[], root = PACKAGE_ROOT, isTTY = false) {
  const io = captureIo(root, dir, isTTY);
  const status = await main(argv, io);
  return { status, out: io.out(), err: io.err() };
}

describe("memkit (in-process)", () => {
  it("--help prints the usage and exits 0; a bad command line exits 2 with the reason", async () => {
    const help = await run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.out).toMatch(/Usage:\n {2}memkit bench/);
    const bad = await run(["replay", "x.trace", "--allocator", "nope"]);
    expect(bad.status).toBe(2);
    expect(bad.out).toBe("");
    expect(bad.err).toMatch(/^memkit: unknown allocator "nope"/);
    expect(bad.err).toContain("memkit replay TRACE"); // the command's help follows
    const none = await run([]);
    expect(none.status).toBe(2);
    expect(none.err).toMatch(/^memkit: missing command\n\nUsage:/);
  });

  it("replay: the trace summary, a row per allocator, and the recommendation", async () => {
    const r = await run(["replay", bundled, "--allocator", "heap,freelist"]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(
      /^sqlite3-100k: 100,000 ops \(47,913 allocs, 47,613 frees, 4,474 reallocs\); peak 209,972 live bytes/,
    );
    expect(r.out).toMatch(
      /\nheap +Heap \(TLSF, grows from 64 KiB\) +[\d.]+ +[\d.]+–[\d.]+ +[\d,]+ +[\d.]+ +0\n/,
    );
    expect(r.out).toMatch(/\nfreelist +FreeListAllocator, first fit +[\d.]+ /);
    // the floors of the bundled trace (trace/floor.ts), before the table
    expect(r.out.replace(/\n/g, " ")).toContain(
      "Footprint floor, whatever the placement: 213,424 bytes (1.016× the peak live bytes) for " +
        "blocks with a 4-byte size word (TLSF, the Heap), 211,296 (1.006×) for blocks with no header",
    );
    // the advice names one, or says they are within noise; the free list is the tighter
    expect(r.out).toMatch(/\n(Choose (heap|freelist) |No winner between heap, freelist: )/);
    expect(r.out).toMatch(/CPU time, the median of 9 timed runs/);
    expect(r.out).toMatch(/Load average \(1 min\) [\d.]+–[\d.]+/);
    for (const line of r.out.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    expect(r.err).toBe(""); // not a terminal: no progress bar
  });

  it("replay --verify checks every block and says so", async () => {
    const r = await run(["replay", small, "--allocator", "tlsf", "--verify"]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^small: 3,000 ops/);
    expect(r.out).toMatch(/\ntlsf +TlsfAllocator \(fixed, 8× the peak\) +— +— +[\d,]+ /); // no time
    expect(r.out).toContain("no advice on speed");
    expect(r.out).toMatch(/--verify: every block painted and checked.*: passed\.\n$/s);
  });

  it("replay --verify of several allocators makes no speed claim anywhere", async () => {
    const r = await run(["replay", small, "--allocator", "tlsf,freelist,offset", "--verify"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("no advice on speed");
    expect(r.out).toMatch(/\nTightest[,:] /);
    // no figure of time, no ranking by it, no choice on it
    expect(r.out).not.toMatch(/\d ns\/op|faster|fastest|slower|× the time|Choose|within noise/);
    for (const name of ["tlsf", "freelist", "offset"]) {
      expect(r.out).toMatch(new RegExp(`\\n${name} +.*? +— +— +[\\d,]+ `));
    }
    expect(r.out).toMatch(/all 3 passed\.\n$/);
    for (const line of r.out.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });

  it("replay and report of an empty trace are an error, and write nothing", async () => {
    const empty = join(dir, "empty.trace");
    writeFileSync(empty, "# trace empty\n");
    const r = await run(["replay", empty]);
    expect(r.status).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toBe(`memkit: ${empty}: the trace has no operations\n`);
    // gzip-compressed, and only a header: the same
    const gz = join(dir, "empty.trace.gz");
    writeFileSync(gz, gzipSync("# trace empty\n# nothing recorded\n"));
    const z = await run(["replay", gz, "--allocator", "all", "--verify"]);
    expect(z.status).toBe(1);
    expect(z.err).toBe(`memkit: ${gz}: the trace has no operations\n`);
    const out = join(dir, "empty-report.html");
    const report = await run(["report", "--trace", empty, "--out", out]);
    expect(report.status).toBe(1);
    expect(report.err).toBe(`memkit: ${empty}: the trace has no operations\n`);
    expect(existsSync(out)).toBe(false);
  });

  it("a progress bar on a terminal, for long replays only", async () => {
    // 45,000 ops × 9 runs: long enough for a bar
    const long = join(dir, "long.trace");
    writeFileSync(long, smallTraceText(45_000, 5));
    const r = await run(["replay", long, "--allocator", "tlsf"], PACKAGE_ROOT, true);
    expect(r.status).toBe(0);
    expect(r.err).toMatch(/\rtlsf 1\/9 +\[#+-*\] +\d+% [\d,]+ \/ 45,000 ops/);
    expect(r.err).toMatch(/\rtlsf 9\/9 +\[#{30}\] 100% 45,000 \/ 45,000 ops/);
    expect(r.err.endsWith("\r\x1b[K")).toBe(true); // the bar is cleared at the end
    const short = await run(["replay", small, "--allocator", "tlsf"], PACKAGE_ROOT, true);
    expect(short.err).not.toContain("ops");
  });

  it("replay of a missing or malformed trace exits 1 and names the file and line", async () => {
    const missing = await run(["replay", join(dir, "none.trace")]);
    expect(missing.status).toBe(1);
    expect(missing.err).toMatch(/^memkit: cannot read .*none\.trace: ENOENT\n$/);
    const bad = join(dir, "bad.trace");
    writeFileSync(bad, "# trace bad\na 0 16 16\nf 0\nf 0\n");
    const r = await run(["replay", bad]);
    expect(r.status).toBe(1);
    expect(r.err).toBe(`memkit: ${bad}: trace line 4: block 0 is not live: "f 0"\n`);
  });

  it("report: one HTML file from the results and the trace", async () => {
    const results = join(dir, "results.json");
    writeFileSync(
      results,
      JSON.stringify({
        meta: { command: "npm run bench", date: "d", node: "n", cpu: "c" },
        results: [
          { workload: "W2", row: "memkit PoolAllocator (64 B)", netNsPerOp: 2, footprintRatio: 1 },
        ],
      }),
    );
    const out = join(dir, "r.html");
    const r = await run(["report", "--results", results, "--trace", small, "--out", out]);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`Report: ${out}`);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("W2 fixed-64");
    expect(html).toContain("memkit PoolAllocator (64 B)");
    expect(html).toContain("<h2>Trace replay: small</h2>");
    // One per general-purpose allocator.
    expect(html.match(/<svg class="heapmap"/g)).toHaveLength(GENERAL_NAMES.length);
  });

  it("report: a results file that is missing or not results exits 1", async () => {
    const r = await run([
      "report",
      "--results",
      join(dir, "none.json"),
      "--out",
      join(dir, "x.html"),
    ]);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/cannot read the benchmark results/);
    const notResults = join(dir, "not.json");
    writeFileSync(notResults, "{}");
    const r2 = await run(["report", "--results", notResults, "--out", join(dir, "x.html")]);
    expect(r2.status).toBe(1);
    expect(r2.err).toMatch(/is not a benchmark results file/);
  });
});

describe("memkit bench (with stand-in runners)", () => {
  /** A package root with a bench/run.mjs of the given source, and the bundled trace. */
  function root(name: string, runner: string | null): string {
    const r = join(dir, name);
    mkdirSync(join(r, "bench", "out"), { recursive: true });
    mkdirSync(join(r, "traces"), { recursive: true });
    // A small trace where the bundled one goes, so the default path is what is tested.
    writeFileSync(join(r, BUNDLED_TRACE), gzipSync(smallTraceText(2000)));
    if (runner !== null) writeFileSync(join(r, "bench", "run.mjs"), runner);
    return r;
  }

  it("runs the runner with --quick, replays the bundled trace, writes the report with both", async () => {
    const r = root(
      "ok",
      `import { writeFileSync } from "node:fs";
       console.log("| W1 table | args " + process.argv.slice(2).join(" ") + " |");
       writeFileSync("bench/out/quick.json", JSON.stringify({ meta: { command: "npm run bench -- --quick" },
         results: [{ workload: "W1", row: "memkit Heap (stand-in)", netNsPerOp: 9, footprintRatio: 1.02 }] }));`,
    );
    const out = join(dir, "bench.html");
    const res = await run(["bench", "--quick", "--out", out], r);
    expect(res.status).toBe(0);
    // the runner's summary first, then one line on the bundled trace, then the report
    expect(res.out).toMatch(/^\| W1 table \| args --quick \|\nTrace sqlite3-100k \(2,000 ops\): /);
    expect(res.out).toMatch(/\nReport: .*bench\.html \([\d.]+ KiB\)\n$/);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("memkit Heap (stand-in)");
    expect(html).toContain("<h2>Trace replay: sqlite3-100k</h2>");
  });

  it("goes on when the runner fails, says so, and exits 1 at the end", async () => {
    const r = root("failing", `console.error("peer missing"); process.exit(3);`);
    const out = join(dir, "failing.html");
    const res = await run(["bench", "--quick", "--out", out], r);
    expect(res.status).toBe(1);
    expect(res.err).toContain("peer missing");
    expect(res.err).toContain(
      "the benchmark runner failed (exit 3); going on with the trace replay",
    );
    expect(res.out).toMatch(/Trace sqlite3-100k \(2,000 ops\): /);
    expect(readFileSync(out, "utf8")).toContain("The benchmark runner failed (exit 3)");
  });

  it("without bench/ (an installed package) it replays and reports, with --no-report it writes nothing", async () => {
    const r = root("installed", null);
    const res = await run(["bench", "--quick", "--no-report", "--trace", small], r);
    expect(res.status).toBe(0);
    expect(res.err).toMatch(/bench\/run\.mjs\) is not here/);
    expect(res.out).toMatch(/Trace small \(3,000 ops\): /);
    expect(res.out).not.toContain("Report:");
    expect(existsSync(join(dir, "memkit-report.html"))).toBe(false);
  });
});
