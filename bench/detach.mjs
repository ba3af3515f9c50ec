// What a detached ArrayBuffer anywhere in the process costs memkit. V8 compiles typed-array
// accesses without a check for a detached buffer while no ArrayBuffer in the process has ever
// been detached; after the first detach it deoptimises that code and checks on every access.
// A WebAssembly.Memory that grows detaches its old buffer, so a growing `Heap` (and a wasm
// module's own memory.grow, and a buffer transferred with postMessage) switches the checks on
// for everything else too.
//
//   npm run build && node bench/detach.mjs        W1 and W4 on a TlsfAllocator over a fixed buffer
//
// Each case runs in processes of its own, with and without one unrelated 8-byte ArrayBuffer
// detached (structuredClone with transfer) before the allocator is made: CPU time per loop
// iteration (an alloc or a free; each run's closing frees add under 0.3%), the median of 5
// processes with their range, each process the median of 3 runs after a warm-up; and, when
// valgrind is installed, instructions per iteration (cachegrind, the difference of 3 and 7
// runs in one process).

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dist } from "./paths.mjs";
import { draws, WORKLOADS } from "./workloads.mjs";

const HEAP = { W1: 64 << 20, W4: 256 << 20 };

/** The child: one workload on one fresh TlsfAllocator, `runs` runs; prints ns/op of each. */
async function child(id, detach, runs) {
  if (detach) {
    const b = new ArrayBuffer(8);
    structuredClone(b, { transfer: [b] });
    if (b.byteLength !== 0) throw new Error("the buffer was not detached");
  }
  const { TlsfAllocator } = await import(dist("index.js"));
  const w = WORKLOADS[id];
  const { slot, size } = draws(id);
  const a = new TlsfAllocator(HEAP[id]);
  const times = [];
  for (let r = 0; r < runs; r++) {
    const ptrs = new Float64Array(w.slots);
    let k = 0;
    const c0 = process.cpuUsage();
    for (let i = 0; i < w.iterations; i++) {
      const s = slot[k++];
      if (ptrs[s] !== 0) {
        a.dealloc(ptrs[s]);
        ptrs[s] = 0;
      } else {
        ptrs[s] = a.alloc(size[k++]);
      }
    }
    for (let s = 0; s < w.slots; s++) if (ptrs[s] !== 0) a.dealloc(ptrs[s]);
    const c = process.cpuUsage(c0);
    times.push(((c.user + c.system) * 1000) / w.iterations);
  }
  console.log(JSON.stringify(times));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const self = fileURLToPath(import.meta.url);

function timed(id, detach) {
  const out = execFileSync(process.execPath, [self, "child", id, detach ? "1" : "0", "4"], {
    encoding: "utf8",
  });
  return median(JSON.parse(out).slice(1));
}

/** Instructions per iteration under cachegrind: the difference of a process with 7 runs and one with 3. */
function counted(id, detach) {
  const refs = (runs) => {
    // valgrind writes its summary to stderr; the child's own output is not needed here.
    const text = execFileSync(
      "sh",
      [
        "-c",
        'valgrind --tool=cachegrind --cachegrind-out-file=/dev/null "$0" --single-threaded "$1" child "$2" "$3" "$4" 2>&1 >/dev/null',
        process.execPath,
        self,
        id,
        detach ? "1" : "0",
        String(runs),
      ],
      { encoding: "utf8" },
    );
    const m = /I\s+refs:\s+([\d,]+)/.exec(text);
    if (!m) throw new Error(`no instruction count in valgrind's output:\n${text}`);
    return Number(m[1].replaceAll(",", ""));
  };
  return (refs(7) - refs(3)) / (4 * WORKLOADS[id].iterations);
}

async function main() {
  let valgrind = true;
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  } catch {
    valgrind = false;
  }
  for (const id of ["W1", "W4"]) {
    const t = { clean: [], detached: [] };
    for (let p = 0; p < 5; p++) {
      t.clean.push(timed(id, false));
      t.detached.push(timed(id, true));
    }
    const range = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
    const line = [
      `${id} TlsfAllocator: ${median(t.clean).toFixed(1)} ns per iteration (${range(t.clean)}), ` +
        `with a detached buffer ${median(t.detached).toFixed(1)} (${range(t.detached)}), ` +
        `${(median(t.detached) / median(t.clean)).toFixed(2)}×`,
    ];
    if (valgrind) {
      const c = counted(id, false);
      const d = counted(id, true);
      line.push(
        `; instructions per iteration ${c.toFixed(0)} and ${d.toFixed(0)} (${(d / c).toFixed(2)}×)`,
      );
    }
    console.log(line.join(""));
  }
}

if (process.argv[2] === "child") {
  await child(process.argv[3], process.argv[4] === "1", Number(process.argv[5]));
} else {
  await main();
}
