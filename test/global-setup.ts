/**
 * Runs once per `vitest run`: an empty directory for the run's one build of the library
 * (see test/helpers/build.ts), removed when the run ends.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), "memkit-build-"));
  project.provide("memkitBuildRoot", root);
  return () => rmSync(root, { recursive: true, force: true });
}
