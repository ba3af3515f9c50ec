/**
 * The `memkit` executable end to end: built with tsc into a package laid out as npm installs
 * it (dist/, package.json, traces/) in a temporary directory — not the repository's dist/,
 * which other tests build at the same time — and run by plain Node.
 */

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../src/cli/main.js";

let pkg = "";

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), "memkit-bin-"));
  const tsc = join(PACKAGE_ROOT, "node_modules", "typescript", "bin", "tsc");
  const build = spawnSync(
    process.execPath,
    [tsc, "-p", "tsconfig.build.json", "--outDir", join(pkg, "dist")].concat(
      ["--declaration", "false", "--declarationMap", "false", "--sourceMap", "false"],
      // Emit only: the type check is CI's own step, and skipping it halves the time.
      ["--noCheck"],
    ),
    { cwd: PACKAGE_ROOT, encoding: "utf8" },
  );
  if (build.status !== 0) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
  copyFileSync(join(PACKAGE_ROOT, "package.json"), join(pkg, "package.json"));
  symlinkSync(join(PACKAGE_ROOT, "traces"), join(pkg, "traces"), "dir");
}, 120_000);

afterAll(() => {
  if (pkg) rmSync(pkg, { recursive: true, force: true });
});

function memkit(...args: string[]) {
  const r = spawnSync(process.execPath, [join(pkg, "dist", "cli", "memkit.js"), ...args], {
    cwd: pkg,
    encoding: "utf8",
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

describe("the memkit executable", () => {
  it("is package.json's bin, and starts with a node shebang", () => {
    const json = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"));
    expect(json.bin).toEqual({ memkit: "dist/cli/memkit.js" });
    const text = readFileSync(join(pkg, "dist", "cli", "memkit.js"), "utf8");
    expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("--version and --help exit 0", () => {
    const version = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;
    expect(memkit("--version")).toEqual({ status: 0, out: `memkit ${version}\n`, err: "" });
    const help = memkit("--help");
    expect(help.status).toBe(0);
    expect(help.out).toContain("memkit replay TRACE");
  });

  it("replays the bundled trace, found relative to the working directory", () => {
    const r = memkit("replay", "traces/sqlite3-100k.trace.gz", "--allocator", "heap");
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^sqlite3-100k: 100,000 ops/);
    expect(r.out).toMatch(/\nheap +Heap \(TLSF, grows from 64 KiB\) +[\d.]+ /);
    expect(r.out).toMatch(/each allocator in a process of its own/); // the built child script
    expect(r.err).toBe("");
  });

  it("exits 2 on a bad option and 1 on a missing file, with the reason on stderr", () => {
    const bad = memkit("replay", "t.trace", "--fast");
    expect(bad.status).toBe(2);
    expect(bad.out).toBe("");
    expect(bad.err).toMatch(/^memkit: unknown option --fast for "memkit replay"\n/);
    const missing = memkit("replay", "nowhere.trace");
    expect(missing.status).toBe(1);
    expect(missing.err).toMatch(/^memkit: cannot read .*nowhere\.trace: ENOENT\n$/);
  });
});
