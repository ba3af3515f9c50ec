// The C rows: bench/native/*.c compiled here with the machine's `cc` and run once per
// workload or trace; each prints its results as one JSON object.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { HERE } from "./paths.mjs";

const NATIVE_DIR = join(HERE, "native");
const NATIVE_BUILD = join(NATIVE_DIR, "build");
export const CFLAGS = ["-O2", "-fno-builtin-malloc", "-fno-builtin-free"];

export function have(cmd) {
  try {
    execFileSync(cmd, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Compiles bench/native/NAME.c; returns the binary's path, or a note saying why not. */
export function buildNative(name) {
  const src = join(NATIVE_DIR, `${name}.c`);
  const bin = join(NATIVE_BUILD, name);
  try {
    if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return { bin };
    mkdirSync(NATIVE_BUILD, { recursive: true });
    execFileSync("cc", [...CFLAGS, "-o", bin, src], { stdio: ["ignore", "pipe", "pipe"] });
    return { bin };
  } catch (e) {
    return {
      note: `cc failed on ${name}.c: ${
        String(e.stderr ?? e)
          .trim()
          .split("\n")[0]
      }`,
    };
  }
}

export function runNative(bin, argv) {
  try {
    const out = execFileSync(bin, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return JSON.parse(out);
  } catch (e) {
    return {
      error: String(e.stderr ?? e)
        .trim()
        .split("\n")[0],
    };
  }
}

/**
 * Builds both C programs when `cc` is there. Returns { workloads, replay, cc, notes } with
 * `workloads` and `replay` as buildNative gives them (null when skipped).
 */
export function prepareNative(skip) {
  if (skip)
    return { workloads: null, replay: null, cc: null, notes: ["C rows skipped (--no-native)."] };
  if (!have("cc")) {
    return {
      workloads: null,
      replay: null,
      cc: null,
      notes: ["C rows skipped: no `cc` on this machine."],
    };
  }
  const native = {
    workloads: buildNative("workloads"),
    replay: buildNative("replay"),
    cc: execFileSync("cc", ["--version"], { encoding: "utf8" }).split("\n")[0],
  };
  native.notes = [native.workloads, native.replay].filter((n) => n.note).map((n) => n.note);
  return native;
}
