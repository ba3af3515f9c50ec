/** Loads the real allocation traces in the repository's traces/ folder, parsed once per process. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { parseTrace, type Trace } from "../../src/trace/trace.js";

export const TRACE_DIR = fileURLToPath(new URL("../../traces/", import.meta.url));
export const TRACE_NAMES = ["python-json", "gcc-lvm", "sqlite3"] as const;

const cache = new Map<string, Trace>();

export function loadTrace(name: string): Trace {
  let t = cache.get(name);
  if (t === undefined) {
    const text = gunzipSync(readFileSync(join(TRACE_DIR, `${name}.trace.gz`))).toString("latin1");
    t = parseTrace(text, name);
    cache.set(name, t);
  }
  return t;
}
