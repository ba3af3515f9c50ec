/**
 * The `memkit` command line, parsed without side effects: `parseArgs(argv)` returns what to
 * do or throws `UsageError` (exit status 2) with a message that names the bad part.
 *
 * Options take their value as `--out FILE` or `--out=FILE`; `--` ends the options; `-h` /
 * `--help` anywhere asks for the command's help. Node's `util.parseArgs` splits the line.
 */

import { parseArgs as nodeParseArgs, type ParseArgsConfig } from "node:util";
import { ALLOCATOR_NAMES, GENERAL_NAMES } from "./allocators.js";

export const DEFAULT_REPORT = "memkit-report.html";

export type CommandName = "bench" | "replay" | "report" | "tour";

export type Invocation =
  | { readonly command: "help"; readonly topic: CommandName | null }
  | { readonly command: "version" }
  | {
      readonly command: "bench";
      readonly quick: boolean;
      /** Traces to replay after the workloads; empty: the bundled one. */
      readonly traces: readonly string[];
      /** Where the report goes; null with `--no-report`. */
      readonly out: string | null;
    }
  | {
      readonly command: "replay";
      readonly trace: string;
      readonly allocators: readonly string[];
      readonly verify: boolean;
    }
  | {
      readonly command: "report";
      readonly out: string;
      /** The benchmark results file; null: the newest in bench/results. */
      readonly results: string | null;
      /** Traces to replay and map; empty: the bundled one. */
      readonly traces: readonly string[];
    }
  | { readonly command: "tour" };

/** A bad command line: the message says what, the exit status is 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(
    message: string,
    readonly topic: CommandName | null = null,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure while running a command (unreadable trace, verify failure): exit status 1. */
export class CliError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** The options of one command, in `util.parseArgs` form (`multiple`: may be repeated). */
type Options = NonNullable<ParseArgsConfig["options"]>;

interface Spec {
  readonly options: Options;
  /** Names of the positional arguments, all required. */
  readonly positionals: readonly string[];
}

const flag = { type: "boolean" } as const;
const value = { type: "string" } as const;
const values = { type: "string", multiple: true } as const;

const SPECS: Record<CommandName, Spec> = {
  bench: {
    options: { quick: flag, "no-report": flag, trace: values, out: value },
    positionals: [],
  },
  replay: { options: { verify: flag, allocator: value }, positionals: ["TRACE"] },
  report: { options: { out: value, results: value, trace: values }, positionals: [] },
  tour: { options: {}, positionals: [] },
};

const COMMANDS = Object.keys(SPECS) as CommandName[];

function isCommand(s: string): s is CommandName {
  return Object.hasOwn(SPECS, s);
}

interface Parsed {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
  readonly help: boolean;
}

/**
 * `util.parseArgs` in its lenient mode does the splitting (`--out FILE`, `--out=FILE`, `--`,
 * `-h`); its tokens are then checked here, in command-line order, so that each mistake gets
 * a message naming the option as the user typed it.
 */
function parseCommandArgs(command: CommandName, args: readonly string[]): Parsed {
  const spec = SPECS[command];
  const options: Options = { ...spec.options, help: { type: "boolean", short: "h" } };
  const parsed = nodeParseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option") continue;
    const o = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (o === undefined)
      throw new UsageError(`unknown option ${t.rawName} for "memkit ${command}"`, command);
    if (o.type === "boolean") {
      if (t.inlineValue) throw new UsageError(`--${t.name} takes no value`, command);
      continue;
    }
    const v = t.value;
    // A value that looks like an option is one the user forgot to give ("-" is a value).
    if (v === undefined || v === "" || (!t.inlineValue && v.startsWith("-") && v !== "-")) {
      throw new UsageError(`--${t.name} needs a value`, command);
    }
    if (seen.has(t.name) && o.multiple !== true) {
      throw new UsageError(`--${t.name} is given more than once`, command);
    }
    seen.add(t.name);
  }
  const help = parsed.values.help === true;
  const { positionals } = parsed;
  if (!help) {
    if (positionals.length < spec.positionals.length) {
      throw new UsageError(
        `"memkit ${command}" needs ${spec.positionals.slice(positionals.length).join(" ")}`,
        command,
      );
    }
    if (positionals.length > spec.positionals.length) {
      throw new UsageError(
        `unexpected argument "${positionals[spec.positionals.length]}" for "memkit ${command}"`,
        command,
      );
    }
  }
  return { values: parsed.values, positionals, help };
}

/** `--allocator` value: `all`, or names separated by commas. */
export function parseAllocatorList(value: string): string[] {
  if (value === "all") return [...GENERAL_NAMES];
  const names: string[] = [];
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (!ALLOCATOR_NAMES.includes(name)) {
      throw new UsageError(
        `unknown allocator "${part.trim()}" (choose from ${ALLOCATOR_NAMES.join(", ")}, or all)`,
        "replay",
      );
    }
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

/** Parses `process.argv.slice(2)`. */
export function parseArgs(argv: readonly string[]): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError("missing command");
  if (first === "-h" || first === "--help") return { command: "help", topic: null };
  if (first === "-v" || first === "--version") return { command: "version" };
  if (first === "help") {
    const topic = rest[0];
    if (topic === undefined) return { command: "help", topic: null };
    if (!isCommand(topic) || rest.length > 1) {
      throw new UsageError(`no help for "${rest.join(" ")}" (commands: ${COMMANDS.join(", ")})`);
    }
    return { command: "help", topic };
  }
  if (first.startsWith("-"))
    throw new UsageError(`unknown option ${first} (a command comes first)`);
  if (!isCommand(first)) {
    throw new UsageError(`unknown command "${first}" (commands: ${COMMANDS.join(", ")})`);
  }
  const p = parseCommandArgs(first, rest);
  if (p.help) return { command: "help", topic: first };
  const one = (name: string): string | undefined => p.values[name] as string | undefined;
  const all = (name: string): string[] => (p.values[name] as string[] | undefined) ?? [];
  const has = (name: string): boolean => p.values[name] === true;
  switch (first) {
    case "bench":
      if (has("no-report") && one("out") !== undefined) {
        throw new UsageError("--out and --no-report contradict each other", "bench");
      }
      return {
        command: "bench",
        quick: has("quick"),
        traces: all("trace"),
        out: has("no-report") ? null : (one("out") ?? DEFAULT_REPORT),
      };
    case "replay":
      return {
        command: "replay",
        trace: p.positionals[0],
        allocators: parseAllocatorList(one("allocator") ?? "all"),
        verify: has("verify"),
      };
    case "report":
      return {
        command: "report",
        out: one("out") ?? DEFAULT_REPORT,
        results: one("results") ?? null,
        traces: all("trace"),
      };
    case "tour":
      return { command: "tour" };
  }
}

const USAGE = `Usage:
  memkit bench [--quick] [--trace FILE]... [--out FILE | --no-report]
  memkit replay TRACE [--allocator NAME[,NAME...] | all] [--verify]
  memkit report [--out FILE] [--results FILE] [--trace FILE]...
  memkit tour
  memkit help [COMMAND] | memkit COMMAND --help | memkit --version`;

const HELP: Record<CommandName | "main", string> = {
  main: `memkit: memory allocators for TypeScript and JavaScript, measured.

${USAGE}

Commands:
  bench    run the benchmark workloads against the peers, replay a trace against
           every general-purpose allocator, print the comparison, write the report
  replay   replay an allocation trace (yours, or a recorded one) against allocators
  report   write one self-contained HTML file: charts and heap maps
  tour     a short tour that uses every strategy and prints what it did

Exit status: 0 done, 1 failed (unreadable or malformed trace, a verify failure,
the benchmark runner failed), 2 bad command line.`,
  bench: `memkit bench [--quick] [--trace FILE]... [--out FILE | --no-report]

Runs the benchmark suite (bench/run.mjs: workloads W1-W4 for every strategy and
the peers, in the same run; it prints its table and writes bench/results/), then
replays a trace against every general-purpose allocator and prints that
comparison, then writes the HTML report.

  --quick        a short run (fewer timed runs); results go to bench/results/quick.*
  --trace FILE   a trace to replay (repeatable); default: the bundled small trace
  --out FILE     where the report goes (default ${DEFAULT_REPORT})
  --no-report    do not write the report`,
  replay: `memkit replay TRACE [--allocator NAME[,NAME...] | all] [--verify]

Replays TRACE (the text format of memkit's traces, plain or gzip, such as a
RecordingAllocator's toText()) and reports per allocator: ns/op, peak footprint
against peak live bytes, failures and the time spent; with several allocators, the
fastest and the tightest.

  --allocator    ${ALLOCATOR_NAMES.join(", ")}, or all (default):
                 ${GENERAL_NAMES.join(", ")}
  --verify       paint every block, check it before it is freed or resized, check
                 zero fills and the allocator's invariants (slower)`,
  report: `memkit report [--out FILE] [--results FILE] [--trace FILE]...

Writes one self-contained HTML file (no external assets): bar charts of ns/op and
footprint per allocator and workload from the benchmark results, the trace replay
compared across allocators, and a heap map of the replay at its peak (which bytes
are live, overhead, free, metadata) for each general-purpose allocator.

  --out FILE       the HTML file (default ${DEFAULT_REPORT})
  --results FILE   benchmark results JSON (default: the newest of bench/out/latest.json
                   and quick.json, else the published bench/results/latest.json)
  --trace FILE     a trace to replay and map (repeatable); default: the bundled one`,
  tour: `memkit tour

A short tour that uses every strategy and prints what it did.`,
};

export function helpText(topic: CommandName | null): string {
  return HELP[topic ?? "main"];
}

export function usageText(): string {
  return USAGE;
}
