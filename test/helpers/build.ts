/**
 * Compiles the library with `tsc` for tests whose workers, pages, examples or README blocks
 * run the built JavaScript. Not dist/: the package test builds that one concurrently. Emit
 * only (`--noCheck`): the type check is CI's own step.
 *
 * One build serves a whole run: test/global-setup.ts makes an empty directory and hands its
 * path to every test file (`inject("memkitBuildRoot")`); the first file that asks for the
 * library builds it there under a lock (a directory that only one process can create), and
 * the others wait for it and reuse it. A run that needs no build makes none. Without that
 * directory (a file run outside this config) each call builds into a temporary directory of
 * its own.
 */

import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** An empty directory for the run's one build of the library ("" for none). */
    memkitBuildRoot: string;
  }
}

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** How long a file waits for another file's build before it gives up. */
const WAIT_MS = 300_000;

function tsc(outDir: string): void {
  execFileSync(
    process.execPath,
    [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"]
      .concat(["--outDir", outDir, "--noCheck", "--sourceMap", "false"])
      .concat(["--declaration", "true", "--declarationMap", "false"]),
    { cwd: repoRoot, stdio: "pipe", timeout: 180_000 },
  );
}

/** Builds `root`/node_modules/memkit (the package.json and dist/, with declarations). */
function buildPackage(root: string): string {
  const pkg = join(root, "node_modules", "memkit");
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(repoRoot, "package.json"), join(pkg, "package.json"));
  tsc(join(pkg, "dist"));
  return pkg;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function sharedRoot(): string {
  try {
    return inject("memkitBuildRoot") ?? "";
  } catch {
    return ""; // not inside a vitest run
  }
}

/**
 * The run's one built package (node_modules/memkit under the shared root), built by the
 * first caller; "" when there is no shared root.
 */
function sharedPackage(): string {
  const root = sharedRoot();
  if (root === "") return "";
  const pkg = join(root, "node_modules", "memkit");
  const done = join(root, "built");
  const lock = join(root, "building");
  const until = Date.now() + WAIT_MS;
  for (;;) {
    if (existsSync(done)) return pkg;
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > until) throw new Error(`no build of the library after ${WAIT_MS} ms`);
      sleep(200);
      continue;
    }
    try {
      if (!existsSync(done)) {
        rmSync(join(root, "node_modules"), { recursive: true, force: true }); // a failed try
        buildPackage(root);
        writeFileSync(done, "");
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** The built library's directory (its index.js); `removeBuild` lets it go. */
export function buildLibrary(prefix: string): string {
  const pkg = sharedPackage();
  if (pkg !== "") return join(pkg, "dist");
  const outDir = mkdtempSync(join(tmpdir(), prefix));
  tsc(outDir);
  return outDir;
}

/**
 * A new temporary ES-module project in which `import … from "memkit"` loads the library as
 * a user's project would: node_modules/memkit holds the repository's package.json and the
 * built dist/ (with declarations, so `tsc` can check code that uses it); in a run it is a
 * link to the run's one build. Returns the project's directory; `removeBuild` deletes it.
 */
export function buildProject(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "project", type: "module" }));
  const pkg = sharedPackage();
  if (pkg === "") {
    buildPackage(dir);
  } else {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(pkg, join(dir, "node_modules", "memkit"), "dir");
  }
  return dir;
}

/** Deletes what `buildLibrary` or `buildProject` made; the run's one build stays. */
export function removeBuild(outDir: string): void {
  if (outDir === "") return;
  const root = sharedRoot();
  if (root !== "" && outDir.startsWith(root)) return;
  rmSync(outDir, { recursive: true, force: true });
}
