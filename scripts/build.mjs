// npm run build: dist/ for the package, made anew. The ES modules with their declarations first
// (tsconfig.build.json, type-checked), then a CommonJS copy of the library without the CLI in
// dist/cjs/ (tsconfig.cjs.json; emit only, the first step checked the same sources) with a
// package.json that tells Node and TypeScript its .js and .d.ts files are CommonJS.
//
//   node scripts/build.mjs [--out DIR] [--no-check]
//     --out DIR     DIR instead of dist/
//     --no-check    emit only, without the type check (tests: CI type-checks on its own)

import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: { out: { type: "string" }, "no-check": { type: "boolean" } },
});
const out = resolve(values.out ?? join(root, "dist"));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

const run = (...args) =>
  execFileSync(process.execPath, [tsc, ...args], { cwd: root, stdio: "inherit" });

rmSync(out, { recursive: true, force: true }); // no stale files from moved sources
run("-p", "tsconfig.build.json", "--outDir", out, ...(values["no-check"] ? ["--noCheck"] : []));
run("-p", "tsconfig.cjs.json", "--outDir", join(out, "cjs"), "--noCheck");
mkdirSync(join(out, "cjs"), { recursive: true });
writeFileSync(join(out, "cjs", "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
