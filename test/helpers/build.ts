/**
 * Compiles the library with `tsc` into a fresh temporary directory, for tests whose workers
 * or pages import the built JavaScript. Not dist/: other tests build that one concurrently.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Builds into a new temporary directory and returns it; `removeBuild` deletes it. */
export function buildLibrary(prefix: string): string {
  const outDir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync(
    process.execPath,
    [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"]
      .concat(["--outDir", outDir, "--declaration", "false", "--declarationMap", "false"])
      .concat(["--sourceMap", "false"]),
    { cwd: repoRoot, stdio: "pipe", timeout: 120_000 },
  );
  return outDir;
}

export function removeBuild(outDir: string): void {
  if (outDir !== "") rmSync(outDir, { recursive: true, force: true });
}
