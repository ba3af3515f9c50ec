/**
 * The package as a consumer sees it: built with `tsc -p tsconfig.build.json`, resolved as
 * "memkit" through `exports` from a directory outside the repository (node_modules/memkit is
 * a symlink to the repo root), run by plain Node (no vitest transform), and type-checked by
 * `tsc` against the emitted declarations. Also: zero runtime dependencies.
 */

import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as src from "../src/index.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as Record<
  string,
  unknown
>;

/** Runs a command; on failure the assertion shows its output. */
function run(file: string, args: string[], cwd: string): string {
  try {
    return execFileSync(file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(
      `${file} ${args.join(" ")} exited ${err.status}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
    );
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

const CONSUMER_MJS = `
import { BumpAllocator, Layout, WasmMemory, layoutForI64 } from "memkit";
import * as memkit from "memkit";

const bump = new BumpAllocator(1024);
const a = bump.alloc(24);
const b = bump.alloc(8, 64);
const s = Layout.i64.extend(Layout.i32);
const arr = bump.allocate(Layout.array(Layout.f64, 4));
bump.memory.f64[arr.ptr / 8] = 1.5;
let oom = bump.alloc(2 ** 32);
let threw = null;
try { bump.alloc(-1); } catch (e) { threw = [e.name, e.code, e instanceof RangeError]; }

const wasm = new BumpAllocator(WasmMemory.create(1, 4));
const big = wasm.alloc(100000);

console.log(JSON.stringify({
  a, b, bAligned: b % 64 === 0,
  struct: [s.layout.size, s.layout.align, s.offset],
  i64: [layoutForI64().size, layoutForI64().align],
  arr, f: bump.memory.f64[arr.ptr / 8],
  oom, threw,
  live: bump.stats().liveBlocks,
  big: big > 0, wasmEnd: wasm.memory.end,
  exports: Object.keys(memkit).sort(),
}));
`;

const CONSUMER_TS = `
import { BumpAllocator, Layout, type Allocation, type AllocatorStats } from "memkit";

const bump = new BumpAllocator(1024);
const p: number = bump.alloc(16);
const a: Allocation | null = bump.allocate(Layout.of(8, 8));
const s: AllocatorStats = bump.stats();
// The declarations are real types, not \`any\`: these must be errors.
// @ts-expect-error a size is a number
bump.alloc("16");
// @ts-expect-error Layout's constructor is private
new Layout(8, 8);
// @ts-expect-error stats has no such field
s.nothing;
export { p, a };
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2024", "DOM"],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: false, // check memkit's emitted .d.ts files too…
    skipDefaultLibCheck: true, // …but not TypeScript's own lib files (slow, not ours)
  },
  files: ["consumer.ts"],
};

describe("the built package, imported as 'memkit' from outside the repository", () => {
  let dir = "";
  let buildError = "";

  beforeAll(() => {
    // Always build: an mtime check cannot tell a dist written by a build that started before
    // the last source edit. tsc still emits on a type error; that is reported by its own test
    // below, so the consumer tests still say whether the emitted package works.
    try {
      run(process.execPath, [tsc, "-p", "tsconfig.build.json"], repoRoot);
    } catch (e) {
      buildError = (e as Error).message;
    }
    dir = mkdtempSync(join(tmpdir(), "memkit-consumer-"));
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(repoRoot, join(dir, "node_modules", "memkit"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
    writeFileSync(join(dir, "consumer.mjs"), CONSUMER_MJS);
    writeFileSync(join(dir, "consumer.ts"), CONSUMER_TS);
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(CONSUMER_TSCONFIG));
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("builds without errors (npx tsc -p tsconfig.build.json)", () => {
    expect(buildError).toBe("");
  });

  it("the build emits JavaScript and declarations where exports point", () => {
    expect(existsSync(join(repoRoot, "dist", "index.js"))).toBe(true);
    expect(existsSync(join(repoRoot, "dist", "index.d.ts"))).toBe(true);
  });

  it("a plain Node script imports, allocates and prints the expected JSON", () => {
    const out = JSON.parse(run(process.execPath, ["consumer.mjs"], dir));
    expect(out.a).toBeGreaterThan(0);
    expect(out.a % 8).toBe(0);
    expect(out.b).toBeGreaterThanOrEqual(out.a + 24);
    expect(out.bAligned).toBe(true);
    expect(out.struct).toEqual([12, 8, 8]);
    expect(out.i64).toEqual([8, 8]);
    expect(out.arr.size).toBeGreaterThanOrEqual(32);
    expect(out.arr.ptr % 8).toBe(0);
    expect(out.f).toBe(1.5);
    expect(out.oom).toBe(0);
    expect(out.threw).toEqual(["ArgumentRangeError", "ERR_ALLOC_SIZE", true]);
    expect(out.live).toBe(3);
    expect(out.big).toBe(true);
    expect(out.wasmEnd).toBeGreaterThanOrEqual(100000);
    // The built package exports exactly what src/index.ts exports.
    expect(out.exports).toEqual(Object.keys(src).sort());
  });

  it("only the entry point is exported: deep imports are refused", () => {
    const script = `
      try { await import("memkit/dist/core/bits.js"); console.log("imported"); }
      catch (e) { console.log(e.code); }
      const { default: p } = await import("memkit/package.json", { with: { type: "json" } });
      console.log(p.name);
    `;
    writeFileSync(join(dir, "deep.mjs"), script);
    const lines = run(process.execPath, ["deep.mjs"], dir).trim().split("\n");
    expect(lines).toEqual(["ERR_PACKAGE_PATH_NOT_EXPORTED", "memkit"]);
  });

  it("TypeScript resolves the declarations through exports (NodeNext) and they type-check", () => {
    run(process.execPath, [tsc, "-p", "tsconfig.json"], dir);
  });
});

describe("the public entry point", () => {
  it("exports every class of every strategy, composition and shared module", () => {
    const missing: string[] = [];
    for (const dir of ["strategies", "compose", "shared"]) {
      for (const file of listFiles(join(repoRoot, "src", dir)).filter((f) => f.endsWith(".ts"))) {
        for (const m of readFileSync(file, "utf8").matchAll(/^export class (\w+)/gm)) {
          if (!(m[1] in src)) missing.push(`${m[1]} (${file})`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe("package.json", () => {
  it("has zero runtime dependencies", () => {
    for (const field of [
      "dependencies",
      "peerDependencies",
      "optionalDependencies",
      "bundleDependencies",
    ]) {
      const deps = pkg[field] as Record<string, string> | undefined;
      expect(deps === undefined || Object.keys(deps).length === 0, field).toBe(true);
    }
  });

  it("the emitted JavaScript imports nothing but its own relative modules (the CLI also Node's)", () => {
    const bare: string[] = [];
    const cliDir = join(repoRoot, "dist", "cli") + sep;
    for (const file of listFiles(join(repoRoot, "dist")).filter((f) => f.endsWith(".js"))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /(?:^|[\s;])(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gm,
      )) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith("./") || spec.startsWith("../")) continue;
        // The memkit command is a Node program; the library itself stays free of Node APIs.
        if (file.startsWith(cliDir) && spec.startsWith("node:")) continue;
        bare.push(`${file}: ${spec}`);
      }
    }
    expect(bare).toEqual([]);
  });

  it("is an ES module whose exports point to dist, with types first", () => {
    expect(pkg.name).toBe("memkit");
    expect(pkg.type).toBe("module");
    expect(pkg.main).toBe("./dist/index.js");
    expect(pkg.types).toBe("./dist/index.d.ts");
    const exportsField = pkg.exports as Record<string, Record<string, string>>;
    const dot = exportsField["."]!;
    expect(dot).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
    expect(Object.keys(dot)[0]).toBe("types"); // TypeScript needs "types" before "import"
    expect(pkg.files).toContain("dist");
    expect(pkg.sideEffects).toBe(false);
  });
});
