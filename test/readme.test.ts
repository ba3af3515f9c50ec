/**
 * Every TypeScript code block of README.md (a fence opened with ```ts or ```typescript), and
 * every such block in a doc comment under src/ (the `@example`s the API reference shows), is
 * a program a reader may paste: each one is written to a module of its own in a temporary
 * project where "memkit" is the built library, type-checked by `tsc` (strict, against the
 * library's declarations and @types/node), compiled, and run by plain Node in a fresh working
 * directory. A block must therefore import what it uses and define what it names. A
 * failure says which block, at which line of which file, and what went wrong, with every
 * line number translated to that file's own.
 *
 * Blocks in other languages (```js for browser pages, ```sh, …) are not run.
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProject, removeBuild, repoRoot } from "./helpers/build.js";

interface CodeBlock {
  /** The line of the block's first code line in its file (1-based). */
  readonly line: number;
  /** 1-based position among the TypeScript blocks of its file. */
  readonly index: number;
  readonly code: string;
}

/** A block with the file it is in (relative to the repository) and its place among all. */
interface Located extends CodeBlock {
  readonly file: string;
  /** 1-based position among every block run. */
  readonly n: number;
}

/** The TypeScript blocks of a Markdown text. */
function typeScriptBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[2];
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
    if (open[3] === "ts" || open[3] === "typescript") {
      blocks.push({
        line: i + 2,
        index: blocks.length + 1,
        code: lines.slice(i + 1, end).join("\n"),
      });
    }
    i = end;
  }
  return blocks;
}

/**
 * The TypeScript blocks in the doc comments of a source file: the text of every `/** … *\/`
 * comment with its leading ` * ` taken off, every other line blank, so lines keep their
 * numbers.
 */
function docCommentBlocks(source: string): CodeBlock[] {
  const lines = source.split("\n");
  const text: string[] = [];
  let inDoc = false;
  for (const line of lines) {
    if (!inDoc && /^\s*\/\*\*/.test(line) && !line.includes("*/")) {
      inDoc = true;
      text.push("");
    } else if (inDoc && /\*\//.test(line)) {
      inDoc = false;
      text.push("");
    } else text.push(inDoc ? line.replace(/^\s*\* ?/, "") : "");
  }
  return typeScriptBlocks(text.join("\n"));
}

/** Every `.ts` file under `dir`, relative to the repository, in a stable order. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .sort()
    .map((f) => relative(repoRoot, join(dir, f)));
}

const README = join(repoRoot, "README.md");
const readmeBlocks = typeScriptBlocks(readFileSync(README, "utf8"));
const blocks: Located[] = [];
for (const b of readmeBlocks) blocks.push({ ...b, file: "README.md", n: blocks.length + 1 });
for (const file of sourceFiles(join(repoRoot, "src"))) {
  for (const b of docCommentBlocks(readFileSync(join(repoRoot, file), "utf8"))) {
    blocks.push({ ...b, file, n: blocks.length + 1 });
  }
}
const fileOf = (b: Located): string => `block-${b.n}`;
const name = (b: Located): string =>
  b.file === "README.md"
    ? `README.md block ${b.index} (line ${b.line})`
    : `${b.file} example ${b.index} (line ${b.line})`;

/** Rewrites `block-N.ts:L:C`, `block-N.ts(L,C)` and `block-N.js:L:C` to the blocks' files' lines. */
function toSourceLines(text: string): string {
  return text.replace(
    /(?:file:\/\/)?[^\s(]*block-(\d+)\.(?:ts|js)(?::(\d+)(?::(\d+))?|\((\d+),(\d+)\))/g,
    (_m, n: string, l1?: string, c1?: string, l2?: string, c2?: string) => {
      const b = blocks[Number(n) - 1];
      const line = Number(l1 ?? l2);
      const col = c1 ?? c2;
      return `${b.file}:${b.line + line - 1}${col !== undefined ? `:${col}` : ""}`;
    },
  );
}

let project = "";
let work = "";
/** tsc's diagnostics per block, already in README lines. */
const typeErrors = new Map<number, string[]>();
/** The main classes and functions: each has an example in its doc comment. */
const MAIN_CLASSES = [
  "Heap",
  "TlsfAllocator",
  "SharedHeap",
  "SlabAllocator",
  "Vec",
  "StructVec",
  "struct",
  "OffsetAllocator",
  "BumpAllocator",
  "PoolAllocator",
  "StackAllocator",
  "BuddyAllocator",
  "FreeListAllocator",
  "BlockAllocator",
  "SlabAllocator",
  "Layout",
  "RecordingAllocator",
  "HardenedAllocator",
  "CheckedAllocator",
];

beforeAll(() => {
  project = buildProject("memkit-readme-");
  work = mkdtempSync(join(tmpdir(), "memkit-readme-run-"));
  for (const b of blocks) writeFileSync(join(project, `${fileOf(b)}.ts`), `${b.code}\n`);
  writeFileSync(
    join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2024", "DOM"],
        typeRoots: [join(repoRoot, "node_modules", "@types")],
        types: ["node"],
        strict: true,
        skipLibCheck: true,
        outDir: "out",
        inlineSourceMap: true,
        inlineSources: true,
      },
      files: blocks.map((b) => `${fileOf(b)}.ts`),
    }),
  );
  // One tsc run for all blocks; it still emits when a block has a type error.
  const r = spawnSync(
    process.execPath,
    [
      join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      "tsconfig.json",
      "--pretty",
      "false",
    ],
    { cwd: project, encoding: "utf8", timeout: 120_000 },
  );
  for (const line of `${r.stdout}${r.stderr}`.split("\n")) {
    const m = /^block-(\d+)\.ts\(/.exec(line);
    if (m === null) continue;
    const n = Number(m[1]);
    typeErrors.set(n, [...(typeErrors.get(n) ?? []), toSourceLines(line)]);
  }
}, 180_000);

afterAll(() => {
  removeBuild(project);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("README.md's TypeScript blocks and the doc comments' examples", () => {
  it("there are some, and each is found with its line", () => {
    expect(readmeBlocks.length).toBeGreaterThanOrEqual(3);
    for (const b of blocks) {
      const lines = readFileSync(join(repoRoot, b.file), "utf8").split("\n");
      expect(lines[b.line - 1]).toContain(b.code.split("\n")[0]);
    }
  });

  it("every main class's doc comment has an example", () => {
    for (const cls of MAIN_CLASSES) {
      const file = blocks.find(
        (b) => b.file !== "README.md" && new RegExp(`\\b${cls}\\b`).test(b.code),
      );
      expect(file, `no @example uses ${cls}`).toBeDefined();
    }
  });

  it.each(blocks.map((b) => [name(b), b] as const))("%s type-checks and runs", (_n, b) => {
    const errors = typeErrors.get(b.n) ?? [];
    if (errors.length > 0) {
      throw new Error(`${name(b)} does not type-check:\n${errors.join("\n")}`);
    }
    const cwd = join(work, fileOf(b));
    mkdirSync(cwd);
    const r = spawnSync(
      process.execPath,
      ["--enable-source-maps", join(project, "out", `${fileOf(b)}.js`)],
      { cwd, encoding: "utf8", timeout: 60_000 },
    );
    if (r.status !== 0) {
      const stderr = toSourceLines(r.stderr);
      const at =
        new RegExp(`${b.file.replace(/[.]/g, "\\.")}:\\d+(?::\\d+)?`).exec(stderr)?.[0] ??
        `exit ${r.status ?? r.signal}`;
      const what = /^\w*Error\b.*$/m.exec(stderr)?.[0] ?? String(r.error ?? "");
      throw new Error(`${name(b)} failed at ${at}: ${what}\n\n${stderr}`);
    }
  });
});

describe("the block extractor", () => {
  it("finds ts blocks in doc comments with their file lines, and none outside comments", () => {
    const src = [
      "/**", //                 1
      " * Text.", //            2
      " * ```ts", //            3
      " * const a = 1;", //     4
      " * ```", //              5
      " */", //                 6
      "const s = `", //         7
      "```ts", //               8
      "no();", //               9
      "```", //                 10
      "`;", //                  11
    ].join("\n");
    expect(docCommentBlocks(src)).toEqual([{ line: 4, index: 1, code: "const a = 1;" }]);
  });

  it("finds ts and typescript fences with their first line, and skips other languages", () => {
    const md = [
      "# t", //              1
      "```ts", //            2
      "const a = 1;", //     3
      "```", //              4
      "```js", //            5
      "no", //               6
      "```", //              7
      "````typescript", //   8
      "```", //              9  (inside a four-backtick fence)
      "b();", //             10
      "````", //             11
    ].join("\n");
    expect(typeScriptBlocks(md)).toEqual([
      { line: 3, index: 1, code: "const a = 1;" },
      { line: 9, index: 2, code: "```\nb();" },
    ]);
  });
});
