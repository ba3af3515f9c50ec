// A CPU profile of one row (by default the Heap on W1): the row's process runs under
// `node --cpu-prof` for its warm-up and timed runs, and the profile is summed up by self time
// per function, as text.
//
//   npm run profile                      the Heap on W1
//   node bench/run.mjs --profile W2:pool another row (workload:key; keys are in rows.mjs)
//
// The .cpuprofile file stays beside the text (bench/out/) for Chrome DevTools' or VS Code's
// profiler view.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT } from "./paths.mjs";
import { spawnRow } from "./runner.mjs";

/** Self time per function of a .cpuprofile, highest first: { name, where, ms, percent }. */
export function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const fns = new Map();
  for (const [id, us] of self) {
    const f = byId.get(id).callFrame;
    const file = f.url
      ? relative(ROOT, f.url.startsWith("file:") ? fileURLToPath(f.url) : f.url)
      : "";
    const name = f.functionName || (file ? "(anonymous)" : "(the workload's loop)");
    const where = file ? `${file}:${f.lineNumber + 1}` : "";
    const key = `${name} ${where}`;
    const e = fns.get(key) ?? { name, where, us: 0 };
    e.us += us;
    fns.set(key, e);
  }
  return [...fns.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, percent: (100 * e.us) / total }));
}

/**
 * Profiles row `key` of workload `id` (warm-up + `runs` runs) and writes
 * OUT/profile-ID-KEY.{cpuprofile,txt}. Returns { file, text, top } or { error }.
 */
export async function profileRow(id, key, runs, outDir, setup = {}) {
  const dir = join(outDir, `profile-tmp-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const proc = spawnRow({ id, key, ...setup }, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  const ready = await proc.ready;
  if (ready.type !== "ready") return { error: ready.error };
  let ns = 0;
  let ops = 0;
  for (let i = 0; i <= runs; i++) {
    const m = await proc.ask({ type: "run", deadline: Date.now() + 60_000 });
    if (m.type !== "result") return { error: m.error };
    if (i > 0) {
      ns += m.result.ns;
      ops += m.result.ops;
    }
  }
  await proc.close();
  const written = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  if (written.length === 0) return { error: "the row process wrote no profile" };
  const stem = `profile-${id}-${key}`;
  const cpuprofile = join(outDir, `${stem}.cpuprofile`);
  renameSync(join(dir, written[0]), cpuprofile);
  rmSync(dir, { recursive: true, force: true });
  const fns = selfTimes(JSON.parse(readFileSync(cpuprofile, "utf8")));
  const top = fns.slice(0, 15);
  const rel = relative(ROOT, cpuprofile);
  const text = [
    `CPU profile of ${key} on ${id}: one warm-up and ${runs} timed runs in one process ` +
      `(${(ns / ops).toFixed(1)} ns/op raw over the timed runs; the profiler itself slows it).`,
    `Self time per function, the top ${top.length} of ${fns.length}; the whole profile: ${rel}`,
    "",
    ...top.map(
      (f) =>
        `${f.percent.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}${f.where ? `  ${f.where}` : ""}`,
    ),
  ].join("\n");
  writeFileSync(join(outDir, `${stem}.txt`), `${text}\n`);
  return {
    file: relative(ROOT, join(outDir, `${stem}.txt`)),
    text,
    top: top.map(({ name, where, percent }) => ({ name, where, percent })),
  };
}
