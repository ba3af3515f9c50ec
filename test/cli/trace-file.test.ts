import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/args.js";
import { BUNDLED_TRACE, PACKAGE_ROOT } from "../../src/cli/main.js";
import { readTraceFile, traceName } from "../../src/cli/trace-file.js";
import {
  OP_ALLOC,
  OP_FREE,
  OP_REALLOC,
  parseTrace,
  TraceFormatError,
  TraceParser,
} from "../../src/trace/trace.js";

const dir = mkdtempSync(join(tmpdir(), "memkit-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = [
  "# trace a small one",
  "# format: a ID SIZE ALIGN [z] | f ID | r ID SIZE",
  "a 0 48 16",
  "a 1 200 16 z",
  "",
  "r 0 1000",
  "f 1",
  "a 1 64 4096",
  "# end",
  "",
].join("\n");

/** The TraceFormatError that parsing `text` throws. */
function formatError(text: string): TraceFormatError {
  try {
    parseTrace(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TraceFormatError);
    return e as TraceFormatError;
  }
  throw new Error("parsed without an error");
}

describe("TraceParser", () => {
  it("parses every kind of line into columns, skipping comments and blank lines", () => {
    const t = parseTrace(GOOD, "small");
    expect(t.name).toBe("small");
    expect(t.count).toBe(5);
    expect(Array.from(t.op)).toEqual([OP_ALLOC, OP_ALLOC, OP_REALLOC, OP_FREE, OP_ALLOC]);
    expect(Array.from(t.id)).toEqual([0, 1, 0, 1, 1]);
    expect(Array.from(t.size)).toEqual([48, 200, 1000, 0, 64]);
    expect(Array.from(t.align)).toEqual([16, 16, 0, 0, 4096]);
    expect(Array.from(t.zeroed)).toEqual([0, 1, 0, 0, 0]);
    expect(t.idCount).toBe(2);
    expect(t.comments).toEqual([
      "trace a small one",
      "format: a ID SIZE ALIGN [z] | f ID | r ID SIZE",
      "end",
    ]);
  });

  it("gives the same trace whatever the chunks (split anywhere, CRLF endings, no final newline)", () => {
    const crlf = GOOD.replace(/\n/g, "\r\n").trimEnd();
    const whole = parseTrace(crlf);
    for (const size of [1, 2, 3, 7, 16]) {
      const p = new TraceParser();
      for (let i = 0; i < crlf.length; i += size) p.feed(crlf.slice(i, i + size));
      const t = p.finish("trace");
      expect(Array.from(t.op)).toEqual(Array.from(whole.op));
      expect(Array.from(t.size)).toEqual(Array.from(whole.size));
      expect(t.comments).toEqual(whole.comments);
    }
  });

  it.each([
    ["x 0 8 8", 1, /unknown operation \(expected a, f, r or #\): "x 0 8 8"/],
    ["a 0 8", 1, /expected ALIGN/],
    ["a 0 -8 8", 1, /expected SIZE \(a non-negative integer\)/],
    ["a 0 8.5 8", 1, /bad SIZE/],
    ["a 0 8 3", 1, /ALIGN must be a power of two/],
    ["a 0 8 16 zz", 1, /unexpected "zz" after ALIGN/],
    ["a 0 8 16\nf 0 9", 2, /unexpected text after ID/],
    ["a 0 8 16\nr 0", 2, /expected SIZE/],
    ["a 0 8 16\nr 0 10 16", 2, /unexpected text after SIZE/],
    ["# ok\na 0 8 16\n\nf 1", 4, /block 1 is not live: "f 1"/],
    ["a 0 8 16\nf 0\nf 0", 3, /block 0 is not live/],
    ["a 0 8 16\na 0 8 16", 2, /block 0 is allocated while it is live/],
    ["a 0 8 16\nr 5 10", 2, /block 5 is not live/],
    ["a 99999999999999999999 8 16", 1, /ID is too large/],
    ["a 0 99999999999999999999 16", 1, /SIZE is too large/],
    ["a0 8 16", 1, /expected ID/],
  ])("%j: a clear error with line number %i", (text, line, message) => {
    const e = formatError(text);
    expect(e.line).toBe(line);
    expect(e.message).toMatch(new RegExp(`^trace line ${line}: `));
    expect(e.message).toMatch(message);
    expect(e.code).toBe("ERR_TRACE_FORMAT");
  });

  it("counts lines across chunk boundaries and CRLF endings", () => {
    const p = new TraceParser();
    p.feed("# c\r\na 0 8 16\r\na 1 8");
    expect(() => p.feed(" 16\r\n\r\nf 7\r\n")).toThrow(/^trace line 5: block 7 is not live/);
    // A bad last line without a newline is found by finish().
    const q = new TraceParser();
    q.feed("a 0 8 16\nf 0\nr 0 ");
    expect(() => q.finish("t")).toThrow(/^trace line 3: expected SIZE/);
  });
});

describe("readTraceFile", () => {
  const write = (name: string, data: string | Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };

  it("reads plain and gzip traces alike (gzip told by its bytes, not its name)", async () => {
    const plain = await readTraceFile(write("small.trace", GOOD));
    const gz = await readTraceFile(write("small.trace.gz", gzipSync(GOOD)));
    const disguised = await readTraceFile(write("other.txt", gzipSync(GOOD)));
    for (const t of [plain, gz, disguised]) {
      expect(t.count).toBe(5);
      expect(Array.from(t.size)).toEqual([48, 200, 1000, 0, 64]);
    }
    expect(plain.name).toBe("small");
    expect(gz.name).toBe("small");
    expect(disguised.name).toBe("other");
  });

  it("reports bytes read as it goes", async () => {
    const big = `${Array.from({ length: 50_000 }, (_, i) => `a ${i} 8 16`).join("\n")}\n`;
    const seen: number[] = [];
    const t = await readTraceFile(write("big.trace", big), (done, total) => {
      expect(total).toBe(big.length);
      seen.push(done);
    });
    expect(t.count).toBe(50_000);
    expect(seen.at(-1)).toBe(big.length);
  });

  it("a bad line deep in a gzip stream names the file and its line", async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => `a ${i} 16 16`);
    lines[25_000] = "a 25000 16 16 q";
    const p = write("bad.trace.gz", gzipSync(lines.join("\n")));
    await expect(readTraceFile(p)).rejects.toThrow(
      new CliError(`${p}: trace line 25001: unexpected "q" after ALIGN: "a 25000 16 16 q"`),
    );
  });

  it("a missing file, a directory and a broken gzip stream are CliErrors", async () => {
    await expect(readTraceFile(join(dir, "nope.trace"))).rejects.toThrow(
      /cannot read .*nope\.trace: ENOENT/,
    );
    await expect(readTraceFile(dir)).rejects.toThrow(/is not a file/);
    const gz = gzipSync(GOOD);
    const truncated = write("cut.trace.gz", gz.subarray(0, gz.length - 12));
    await expect(readTraceFile(truncated)).rejects.toThrow(/broken gzip data/);
    await expect(readTraceFile(truncated)).rejects.toBeInstanceOf(CliError);
  });

  it("names: the file name without .gz and .trace", () => {
    expect(traceName("/x/y/mine.trace.gz")).toBe("mine");
    expect(traceName("mine.TXT")).toBe("mine");
    expect(traceName("plain")).toBe("plain");
  });

  it("the bundled trace is a consistent 100,000-op trace with its header and trailer", async () => {
    const t = await readTraceFile(join(PACKAGE_ROOT, BUNDLED_TRACE));
    expect(t.count).toBe(100_000);
    expect(t.comments[0]).toMatch(/^trace the first 100,000 operations/);
    expect(t.comments.at(-1)).toBe("end");
  });
});
