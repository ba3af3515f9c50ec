// TlsfAllocator on the three memories a program can grow or fix: a fixed ArrayBuffer, a
// resizable ArrayBuffer (GrowableMemory: length-tracking views) and a WebAssembly.Memory.
// W1 (bench/workloads.mjs: 10,000 slots, 2,000,000 iterations, 8-512-byte blocks), each
// memory in a process of its own, the kinds interleaved, CPU time over the loop.
//
//   npm run build && node bench/growable.mjs [--runs 5]
//
// Prints per kind the median ns/op with min-max over the runs, and each growable kind's
// median against the fixed one.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { draws, WORKLOADS } from "./workloads.mjs";

const KINDS = ["fixed", "growable", "wasm"];
const HEAP = 64 << 20;

async function child(kind) {
  const mk = await import("../dist/index.js");
  const memory =
    kind === "fixed"
      ? new mk.FixedMemory(new ArrayBuffer(HEAP), 0, HEAP, true)
      : kind === "growable"
        ? new mk.GrowableMemory(64 * 1024, HEAP)
        : mk.WasmMemory.create(1, HEAP / 65536);
  const a = new mk.TlsfAllocator(memory);
  const { slot, size } = draws("W1");
  const { slots: SLOTS, iterations } = WORKLOADS.W1;
  const ptrs = new Float64Array(SLOTS);
  let k = 0;
  let ops = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) {
    const s = slot[k++];
    const p = ptrs[s];
    if (p !== 0) {
      a.dealloc(p);
      ptrs[s] = 0;
    } else {
      const n = size[k++];
      ptrs[s] = a.alloc(n);
    }
    ops++;
  }
  const c = process.cpuUsage(c0);
  a.check();
  process.stdout.write(`${((c.user + c.system) * 1000) / ops}\n`);
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (process.argv[2] === "--child") {
  await child(process.argv[3]);
} else {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
  const runs = Number(values.runs);
  const ns = Object.fromEntries(KINDS.map((k) => [k, []]));
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < runs; r++) {
    for (const kind of KINDS) {
      const out = spawnSync(process.execPath, [self, "--child", kind], { encoding: "utf8" });
      if (out.status !== 0) throw new Error(`${kind}: ${out.stderr}`);
      ns[kind].push(Number(out.stdout));
    }
  }
  const load = (await import("node:os")).loadavg()[0].toFixed(2);
  console.log(`TlsfAllocator on W1, ${runs} processes per memory kind, load average ${load}`);
  for (const kind of KINDS) {
    const m = median(ns[kind]);
    const rel = kind === "fixed" ? "" : `  ${(m / median(ns.fixed)).toFixed(2)}× fixed`;
    const lo = Math.min(...ns[kind]).toFixed(1);
    const hi = Math.max(...ns[kind]).toFixed(1);
    console.log(`${kind.padEnd(9)} ${m.toFixed(1)} ns/op (min ${lo}, max ${hi})${rel}`);
  }
}
