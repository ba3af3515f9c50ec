// Where the benchmark finds things: the package root, the built library (dist/), the traces,
// and where results go.

import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, "..");

/**
 * A module of the built library (run `npm run build` first), as an import() URL; from the
 * build in MEMKIT_DIST when it is set (bench/instructions.mjs --dist: another build).
 */
export const dist = (p) =>
  pathToFileURL(join(process.env.MEMKIT_DIST ?? join(ROOT, "dist"), p)).href;

/** The three allocation traces of real programs. */
export const TRACE_DIR = join(ROOT, "traces");
export const TRACE_NAMES = ["python-json", "gcc-lvm", "sqlite3"];
