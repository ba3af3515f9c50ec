// W1 (churn-small, shared/WORKLOADS.md) on one shared heap by 1 and 2 workers, in the same
// run, next to the single-threaded TLSF heap. Issue 6's targets: throughput with 2 workers at
// least 1.6x that with 1, and the synchronized shared heap with one worker within 1.5x of
// the single-threaded heap. Not a test; no assertions: it prints what it measured.
//
//   npx tsc -p tsconfig.build.json && node bench/shared-w1.mjs
//   (MEMKIT_DIST=/some/dir imports a build from elsewhere; RUNS changes the count)
//
// W1: slots = 10,000 (all empty). 2,000,000 times: s = rand() % 10000; if slot s holds a
// block, free it; else allocate 8 + rand() % 505 bytes into it. Then free the rest. Each
// worker runs the whole W1 with its own slots and PRNG seed, so 2 workers do twice the work;
// throughput = total alloc+free calls / wall time from "go" to the last worker's end.
// Heap: 64 MiB. Median of RUNS runs after one warm-up.
//
// Also printed: the same 1-vs-2-worker ratio for a loop that touches no shared memory at
// all (the PRNG of W1 alone), which is the most this machine gives two threads right now
// (other processes, SMT siblings, CPU quotas); read the heap's ratio against it.

import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const SLOTS = 10_000;
const ITERATIONS = 2_000_000;
const HEAP = 64 << 20;
const RUNS = Number(process.env.RUNS ?? 5);
const dist = resolve(process.env.MEMKIT_DIST ?? fileURLToPath(new URL("../dist", import.meta.url)));
const lib = await import(pathToFileURL(resolve(dist, "index.js")).href);
const { SharedHeap } = await import(pathToFileURL(resolve(dist, "shared/shared-heap.js")).href);

/** W1 on `a`; returns the number of alloc + free calls. */
function w1(a, seed) {
  const slots = new Float64Array(SLOTS);
  let x = seed >>> 0;
  let ops = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const s = (x >>> 0) % SLOTS;
    if (slots[s] !== 0) {
      a.dealloc(slots[s]);
      slots[s] = 0;
    } else {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      slots[s] = a.alloc(8 + ((x >>> 0) % 505));
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      a.dealloc(slots[s]);
      ops++;
    }
  }
  return ops;
}

/** Wall-clock milliseconds comparable across threads (each has its own time origin). */
const now = () => performance.timeOrigin + performance.now();

/** W1's PRNG and slot choice without a heap: the machine's own scaling ceiling. */
function spin(seed) {
  let x = seed >>> 0;
  let acc = 0;
  for (let i = 0; i < ITERATIONS * 40; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    acc += (x >>> 0) % SLOTS;
  }
  return acc > 0 ? ITERATIONS * 40 : 0;
}

if (!isMainThread) {
  const heap = workerData.desc === null ? null : SharedHeap.attach(workerData.desc);
  parentPort.on("message", (m) => {
    const go = new Int32Array(m.go);
    Atomics.add(go, 1, 1); // ready
    while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 1000);
    const ops = heap === null ? spin(workerData.seed) : w1(heap, workerData.seed);
    parentPort.postMessage({ ops, end: now() });
  });
  parentPort.postMessage("ready");
} else {
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  // Single-threaded TLSF heap.
  const single = [];
  for (let r = 0; r <= RUNS; r++) {
    const a = new lib.TlsfAllocator(HEAP);
    const t0 = performance.now();
    const ops = w1(a, 2463534242);
    const ns = ((performance.now() - t0) * 1e6) / ops;
    if (r > 0) single.push(ns);
  }

  async function shared(n, bare = false) {
    const heap = bare ? null : SharedHeap.create({ initialBytes: HEAP });
    const workers = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: { desc: bare ? null : heap.share(), seed: 2463534242 + i * 7919 },
      });
      workers.push(w);
    }
    await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
    const out = [];
    for (let r = 0; r <= RUNS; r++) {
      const go = new Int32Array(new SharedArrayBuffer(8));
      const done = workers.map((w) => new Promise((res) => w.once("message", res)));
      for (const w of workers) w.postMessage({ go: go.buffer });
      while (Atomics.load(go, 1) < n) await new Promise((r) => setTimeout(r, 1));
      const t0 = now();
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      const res = await Promise.all(done);
      const t1 = Math.max(...res.map((x) => x.end));
      const ops = res.reduce((s, x) => s + x.ops, 0);
      if (r > 0) out.push(ops / ((t1 - t0) / 1000)); // ops per second
      heap?.check();
    }
    await Promise.all(workers.map((w) => w.terminate()));
    return median(out);
  }

  const one = await shared(1);
  const two = await shared(2);
  const ceiling = (await shared(2, true)) / (await shared(1, true));
  const singleNs = median(single);
  const oneNs = 1e9 / one;
  console.log(`W1, ${RUNS} runs (median), ${ITERATIONS.toLocaleString()} iterations per agent`);
  console.log(`single-threaded TlsfAllocator      ${singleNs.toFixed(1)} ns/op`);
  console.log(
    `SharedHeap, 1 worker               ${oneNs.toFixed(1)} ns/op  (${(oneNs / singleNs).toFixed(2)}x single; target <= 1.5x)`,
  );
  console.log(
    `SharedHeap, 2 workers              ${(1e9 / two).toFixed(1)} ns/op  throughput ${(two / one).toFixed(2)}x 1 worker (target >= 1.6x)`,
  );
  console.log(
    `no heap (PRNG only), 2 vs 1 worker  ${ceiling.toFixed(2)}x: what this machine gives 2 threads now`,
  );
}
