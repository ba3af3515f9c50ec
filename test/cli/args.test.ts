import { describe, expect, it } from "vitest";
import { ALLOCATOR_NAMES, ALLOCATORS, GENERAL_NAMES } from "../../src/cli/allocators.js";
import {
  DEFAULT_REPORT,
  helpText,
  parseAllocatorList,
  parseArgs,
  UsageError,
} from "../../src/cli/args.js";

/** The UsageError parseArgs throws for `argv`. */
function usageError(argv: string[]): UsageError {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(2);
    return e as UsageError;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
}

describe("parseArgs", () => {
  it("replay: the trace, every general-purpose allocator by default, verify off", () => {
    expect(parseArgs(["replay", "mine.trace"])).toEqual({
      command: "replay",
      trace: "mine.trace",
      allocators: GENERAL_NAMES,
      verify: false,
    });
  });

  it("replay: --allocator NAME, --allocator=a,b, all, --verify, in any order", () => {
    expect(parseArgs(["replay", "--allocator", "tlsf", "t.gz", "--verify"])).toEqual({
      command: "replay",
      trace: "t.gz",
      allocators: ["tlsf"],
      verify: true,
    });
    expect(parseArgs(["replay", "t", "--allocator=heap,buddy,heap"])).toMatchObject({
      allocators: ["heap", "buddy"],
    });
    expect(parseArgs(["replay", "t", "--allocator", "all"])).toMatchObject({
      allocators: GENERAL_NAMES,
    });
    // "--" ends the options: a trace file may start with a dash.
    expect(parseArgs(["replay", "--verify", "--", "--odd.trace"])).toMatchObject({
      trace: "--odd.trace",
      verify: true,
    });
  });

  it("bench: --quick, repeatable --trace, --out or --no-report", () => {
    expect(parseArgs(["bench"])).toEqual({
      command: "bench",
      quick: false,
      traces: [],
      out: DEFAULT_REPORT,
    });
    expect(
      parseArgs(["bench", "--quick", "--trace", "a.trace", "--trace=b.trace", "--out", "r.html"]),
    ).toEqual({ command: "bench", quick: true, traces: ["a.trace", "b.trace"], out: "r.html" });
    expect(parseArgs(["bench", "--no-report"])).toMatchObject({ out: null });
    // A value given with "=" may start with a dash; a lone "-" is a value too.
    expect(parseArgs(["bench", "--trace=-odd", "--trace", "-"])).toMatchObject({
      traces: ["-odd", "-"],
    });
  });

  it("report: --out, --results, --trace", () => {
    expect(parseArgs(["report"])).toEqual({
      command: "report",
      out: DEFAULT_REPORT,
      results: null,
      traces: [],
    });
    expect(parseArgs(["report", "--out=x.html", "--results", "r.json", "--trace", "t"])).toEqual({
      command: "report",
      out: "x.html",
      results: "r.json",
      traces: ["t"],
    });
  });

  it("help and version in their usual forms", () => {
    expect(parseArgs(["--help"])).toEqual({ command: "help", topic: null });
    expect(parseArgs(["-h"])).toEqual({ command: "help", topic: null });
    expect(parseArgs(["help"])).toEqual({ command: "help", topic: null });
    expect(parseArgs(["help", "replay"])).toEqual({ command: "help", topic: "replay" });
    expect(parseArgs(["replay", "--help"])).toEqual({ command: "help", topic: "replay" });
    // --help wins over a missing or bad argument
    expect(parseArgs(["bench", "-h", "extra"])).toEqual({ command: "help", topic: "bench" });
    expect(parseArgs(["--version"])).toEqual({ command: "version" });
    expect(parseArgs(["tour"])).toEqual({ command: "tour" });
  });

  it.each([
    [[], /missing command/],
    [["frobnicate"], /unknown command "frobnicate" \(commands: bench, replay, report, tour\)/],
    [["--quick"], /unknown option --quick \(a command comes first\)/],
    [["replay"], /"memkit replay" needs TRACE/],
    [["replay", "a", "b"], /unexpected argument "b" for "memkit replay"/],
    [["replay", "t", "--fast"], /unknown option --fast for "memkit replay"/],
    [["replay", "t", "-x"], /unknown option -x for "memkit replay"/],
    [["replay", "t", "-hx"], /unknown option -x for "memkit replay"/],
    [["replay", "t", "--allocator"], /--allocator needs a value/],
    [["replay", "t", "--allocator", "--verify"], /--allocator needs a value/],
    [["replay", "t", "--allocator="], /--allocator needs a value/],
    [
      ["replay", "t", "--allocator", "jemalloc"],
      /unknown allocator "jemalloc" \(choose from heap, tlsf/,
    ],
    [
      ["replay", "t", "--allocator", "tlsf", "--allocator", "heap"],
      /--allocator is given more than once/,
    ],
    [["replay", "t", "--verify=yes"], /--verify takes no value/],
    [["bench", "--out", "r.html", "--no-report"], /--out and --no-report contradict/],
    [["bench", "--quick", "extra"], /unexpected argument "extra"/],
    [["report", "--quick"], /unknown option --quick for "memkit report"/],
    [["help", "nothing"], /no help for "nothing"/],
  ])("rejects %j with a clear message", (argv, message) => {
    expect(usageError(argv as string[]).message).toMatch(message);
  });

  it("a usage error names the command whose help to show", () => {
    expect(usageError(["replay", "t", "--fast"]).topic).toBe("replay");
    expect(usageError(["nope"]).topic).toBe(null);
  });
});

describe("allocator names", () => {
  it("all means the general-purpose allocators; every name is accepted, case-insensitively", () => {
    expect(GENERAL_NAMES).toEqual([
      "heap",
      "tlsf",
      "freelist",
      "freelist-best",
      "buddy",
      "offset",
      "slab",
    ]);
    expect(parseAllocatorList(ALLOCATOR_NAMES.join(","))).toEqual(ALLOCATOR_NAMES);
    expect(parseAllocatorList(" TLSF , Heap")).toEqual(["tlsf", "heap"]);
  });

  it("every allocator can be made and allocates", () => {
    for (const c of ALLOCATORS) {
      const a = c.make();
      const p = a.alloc(100);
      expect(p, c.name).not.toBe(0);
      a.dealloc(p, 100); // with the size: a BlockAllocator keeps none
    }
  });

  it("the help of every command shows its usage line", () => {
    expect(helpText(null)).toMatch(/Usage:\n {2}memkit bench/);
    for (const c of ["bench", "replay", "report", "tour"] as const) {
      expect(helpText(c).startsWith(`memkit ${c}`)).toBe(true);
    }
    expect(helpText("replay")).toContain(ALLOCATOR_NAMES.join(", "));
  });
});
