// Where a row's time goes instruction by instruction: Linux `perf` samples the row process
// (bench/child.mjs, as `npm run bench` runs it) while V8 writes a jitdump of the code it
// compiles (`node --perf-prof`), so the samples land on JS functions and, within them, on
// machine instructions with the source line they came from. The CPU profile (`npm run
// profile`) says which function; this says which load in it stalls: a sample piles up on the
// instruction after a load that missed the cache.
//
//   npm run build && node bench/perf.mjs W4 heap [RUNS]     a workload's row (keys: rows.mjs)
//   node bench/perf.mjs python-json heap 5                  a trace's row
//
// Needs `perf` (Debian's linux-perf) and a kernel that lets this user sample its own
// processes (kernel.perf_event_paranoid ≤ 2). Writes bench/out/perf-ID-KEY.txt: the top
// symbols by samples, then for the top JS functions their hottest instructions (≥ 2% of the
// function's samples), each after the three instructions before it.

import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT } from "./paths.mjs";
import { spawnRow } from "./runner.mjs";
import { traceBinary } from "./traces.mjs";

const OUT_DIR = join(ROOT, "bench", "out");
const [first, ...rest] = process.argv.slice(2);

/** In the sampled process: run the row (a warm-up, then `runs` runs) with V8's jitdump on. */
async function child(id, key, runs) {
  const setup = id.startsWith("W") ? {} : { file: await traceBinary(id) };
  const proc = spawnRow({ id, key, ...setup }, ["--perf-prof", "--perf-prof-unwinding-info"]);
  const ready = await proc.ready;
  if (ready.type !== "ready") throw new Error(ready.error);
  let ns = 0;
  let ops = 0;
  for (let i = 0; i <= runs; i++) {
    const m = await proc.ask({ type: "run", deadline: Date.now() + 60_000 });
    if (m.type !== "result") throw new Error(m.error);
    if (i > 0) {
      ns += m.result.ns;
      ops += m.result.ops;
    }
  }
  await proc.close();
  process.stdout.write(`${(ns / ops).toFixed(1)}\n`);
}

/**
 * The hottest instructions of one function from `perf annotate --stdio` output (≥ `min`% of
 * its samples), each with the `before` instructions ahead of it: a sample lands after the
 * instruction that stalled (a load that missed), so the culprit is usually just above. No
 * source lines: for code V8 inlined, the jitdump names the outer function's script with the
 * inner function's positions, so the lines it gives cannot be trusted.
 */
export function hotInstructions(annotated, min = 2, before = 3) {
  const ins = [];
  for (const line of annotated.split("\n")) {
    const m = /^\s*([\d.]+)\s*:\s*([0-9a-f]+):\s*(.+)$/.exec(line);
    if (m) ins.push({ percent: Number(m[1]), at: m[2], code: m[3].replace(/\s+/g, " ").trim() });
  }
  const out = [];
  for (let i = 0; i < ins.length; i++) {
    if (ins[i].percent >= min)
      out.push({ ...ins[i], context: ins.slice(Math.max(0, i - before), i) });
  }
  return out;
}

async function main(id, key, runs) {
  const dir = mkdtempSync(join(tmpdir(), "memkit-perf-"));
  const data = join(dir, "perf.data");
  const injected = join(dir, "perf.jit.data");
  const me = fileURLToPath(import.meta.url);
  // V8 writes its jitdump into the working directory of the row process.
  const rec = spawnSync(
    "perf",
    [
      "record",
      "-k",
      "1",
      "-F",
      "4000",
      "-o",
      data,
      "--",
      process.execPath,
      me,
      "--child",
      id,
      key,
      String(runs),
    ],
    { cwd: dir, encoding: "utf8" },
  );
  if (rec.error || rec.status !== 0) {
    throw new Error(
      `perf record failed: ${rec.error?.message ?? rec.stderr.trim().split("\n").pop()}`,
    );
  }
  const ns = rec.stdout.trim();
  execFileSync("perf", ["inject", "--jit", "-i", data, "-o", injected], {
    cwd: dir,
    stdio: "ignore",
  });
  const report = execFileSync("perf", ["report", "-i", injected, "--sort", "sym", "--stdio"], {
    cwd: dir,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const symbols = report
    .split("\n")
    .map((l) => /^\s*([\d.]+)%\s+\[\.\]\s+(.+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ percent: Number(m[1]), name: m[2].trim() }));
  const short = (name) => name.replace(/file:\/\/\S+\/(dist|bench)\//, "$1/");
  const lines = [
    `perf samples of ${key} on ${id}: a warm-up and ${runs} runs in one row process ` +
      `(${ns} ns/op raw over the runs; sampling slows it a little). Top symbols:`,
    "",
    ...symbols.slice(0, 15).map((s) => `${s.percent.toFixed(2).padStart(6)}%  ${short(s.name)}`),
  ];
  for (const s of symbols.filter((x) => x.name.startsWith("JS:*")).slice(0, 4)) {
    const annotated = spawnSync("perf", ["annotate", "-i", injected, "--stdio", "-s", s.name], {
      cwd: dir,
      encoding: "utf8",
      maxBuffer: 64 << 20,
    }).stdout;
    lines.push(
      "",
      `${short(s.name)} (${s.percent.toFixed(1)}% of all samples): hottest instructions`,
    );
    for (const h of hotInstructions(annotated ?? "")) {
      for (const c of h.context) lines.push(`          ${c.at.padStart(5)}: ${short(c.code)}`);
      lines.push(
        `  ${h.percent.toFixed(1).padStart(5)}%  ${h.at.padStart(5)}: ${short(h.code)}`,
        "",
      );
    }
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `perf-${id}-${key}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  process.stdout.write(`${lines.join("\n")}\n\nWritten: ${relative(ROOT, file)}\n`);
}

if (process.argv[1] !== fileURLToPath(import.meta.url)) {
  // imported (the tests): nothing to run
} else if (first === "--child") {
  await child(rest[0], rest[1], Number(rest[2]));
} else if (first === undefined || first.startsWith("-")) {
  process.stderr.write("usage: node bench/perf.mjs ID KEY [RUNS]   (e.g. W4 heap 150)\n");
  process.exitCode = 2;
} else {
  const runs = Number(rest[1] ?? (first === "W4" ? 150 : 10));
  await main(first, rest[0] ?? "heap", runs);
}
