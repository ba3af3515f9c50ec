/**
 * examples/gpu-buffer: meshes streamed through one buffer the OffsetAllocator never touches.
 * The script checks every step itself (WebGPU's writeBuffer rules, every live mesh read back,
 * `check()`); this test runs it as a user would, in a project where "memkit" is the built
 * library, and checks what it reports.
 */

import { spawnSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildProject, removeBuild, repoRoot } from "../helpers/build.js";

let project = "";

beforeAll(() => {
  project = buildProject("memkit-example-gpu-");
  copyFileSync(join(repoRoot, "examples", "gpu-buffer", "run.mjs"), join(project, "run.mjs"));
}, 180_000);

afterAll(() => removeBuild(project));

it("streams meshes through one buffer, evicting when full, every byte read back intact", () => {
  const r = spawnSync(process.execPath, ["run.mjs", "--json"], {
    cwd: project,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "");
  expect(out.uploads).toBe(1200);
  expect(out.evictions).toBeGreaterThan(0); // the buffer filled up
  expect(out.liveBlocks).toBeGreaterThan(0);
  expect(out.free).toBeGreaterThan(0);
});
