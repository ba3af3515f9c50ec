/**
 * Compiles the library with `tsc` into a fresh temporary directory, for tests whose workers,
 * pages, examples or README blocks run the built JavaScript. Not dist/: the package test
 * builds that one concurrently. Emit only (`--noCheck`): the type check is CI's own step.
 */

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

function tsc(outDir: string, declarations: boolean): void {
  execFileSync(
    process.execPath,
    [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"]
      .concat(["--outDir", outDir, "--noCheck", "--sourceMap", "false"])
      .concat(["--declaration", String(declarations), "--declarationMap", "false"]),
    { cwd: repoRoot, stdio: "pipe", timeout: 120_000 },
  );
}

/** Builds into a new temporary directory and returns it; `removeBuild` deletes it. */
export function buildLibrary(prefix: string): string {
  const outDir = mkdtempSync(join(tmpdir(), prefix));
  tsc(outDir, false);
  return outDir;
}

/**
 * A new temporary ES-module project in which `import … from "memkit"` loads the library as
 * a user's project would: node_modules/memkit holds the repository's package.json and the
 * built dist/ (with declarations, so `tsc` can check code that uses it). Returns the
 * project's directory; `removeBuild` deletes it.
 */
export function buildProject(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const pkg = join(dir, "node_modules", "memkit");
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(repoRoot, "package.json"), join(pkg, "package.json"));
  tsc(join(pkg, "dist"), true);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "project", type: "module" }));
  return dir;
}

export function removeBuild(outDir: string): void {
  if (outDir !== "") rmSync(outDir, { recursive: true, force: true });
}
