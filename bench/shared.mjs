// W1 (churn-small, WORKLOADS.md) on one SharedHeap by 1, 2 and 4 workers, next to the
// single-threaded TLSF heap, for issue 14's targets: two workers' throughput ≥ 1.6× one's;
// the synchronised heap with one worker ≤ 1.5× the single-threaded heap's time per op; four
// workers on two cores finish with no error and no lost block; the footprint of the shared
// W1 run ≤ 1.25× the peak live bytes. Not a test; no assertions: it prints what it measured.
//
//   npm run build && node bench/shared.mjs          a table
//   node bench/shared.mjs --json                    the figures as JSON (run.mjs reads it)
//   (MEMKIT_DIST=/some/dir imports a build from elsewhere; RUNS changes the count, 5)
//
// Each worker runs the whole W1 with its own slots and PRNG seed, so 2 workers do twice the
// work; throughput = total alloc+free calls / wall time from "go" to the last worker's end
// (wall time: threads share the process, whose CPU time would add theirs up). One warm-up,
// then RUNS runs. Heap: 64 MiB.
//
// Also measured: the same 1-vs-2-worker ratio for a loop that touches no shared memory (W1's
// PRNG alone), which is the most this machine gives two threads right now (other processes,
// SMT siblings, CPU quotas); read the heap's ratio against it, and against the load average.
// The footprint comes from one more 2-worker run that also counts the live bytes of both
// workers in a shared counter (untimed): the highest block end above the heap's start against
// the highest sum of requested sizes alive at once.

import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

const SLOTS = 10_000;
const ITERATIONS = 2_000_000;
const HEAP = 64 << 20;
const SEED = 2463534242;
const RUNS = Number(process.env.RUNS ?? 5);
const dist = resolve(process.env.MEMKIT_DIST ?? fileURLToPath(new URL("../dist", import.meta.url)));
const lib = await import(pathToFileURL(resolve(dist, "index.js")).href);

/**
 * W1 on `a`; returns { ops, top } (top: the highest block end). With `live` (an Int32Array
 * over shared memory: [live bytes, peak]) it also keeps the live bytes of every worker.
 */
function w1(a, seed, live = null) {
  const slots = new Float64Array(SLOTS);
  const sizes = new Int32Array(SLOTS);
  let x = seed >>> 0;
  let ops = 0;
  let top = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const s = (x >>> 0) % SLOTS;
    if (slots[s] !== 0) {
      a.dealloc(slots[s]);
      if (live !== null) Atomics.sub(live, 0, sizes[s]);
      slots[s] = 0;
    } else {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const n = 8 + ((x >>> 0) % 505);
      const p = a.alloc(n);
      slots[s] = p;
      sizes[s] = n;
      if (p + n > top) top = p + n;
      if (live !== null) {
        const now = Atomics.add(live, 0, n) + n;
        let peak = Atomics.load(live, 1);
        while (now > peak) {
          const seen = Atomics.compareExchange(live, 1, peak, now);
          if (seen === peak) break;
          peak = seen;
        }
      }
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      a.dealloc(slots[s]);
      ops++;
    }
  }
  return { ops, top };
}

/**
 * This thread's CPU time in ms (Linux: /proc/thread-self/stat, user + system, in clock ticks
 * of 10 ms), or NaN where it cannot be read. On a loaded machine wall time says little about
 * scaling; CPU time per op says what each worker paid, whoever else ran meanwhile.
 */
function threadCpuMs() {
  try {
    const f = readFileSync("/proc/thread-self/stat", "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * 10; // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN;
  }
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
  return { ops: acc > 0 ? ITERATIONS * 40 : 0, top: 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * `n` workers on one heap (none with `bare`): `runs` timed runs after a warm-up. Returns the
 * ops per second of every timed run, the errors, the heap's state after all of them, and
 * with `track` the footprint and peak live bytes of one more run.
 */
async function shared(n, { bare = false, runs = RUNS, track = false } = {}) {
  const heap = bare ? null : lib.SharedHeap.create({ initialBytes: HEAP });
  const workers = [];
  for (let i = 0; i < n; i++) {
    workers.push(
      new Worker(fileURLToPath(import.meta.url), {
        workerData: { desc: bare ? null : heap.share(), seed: SEED + i * 7919 },
      }),
    );
  }
  await Promise.all(workers.map((w) => new Promise((r) => w.once("message", r))));
  const errors = [];
  const round = async (live) => {
    const go = new Int32Array(new SharedArrayBuffer(8));
    const done = workers.map((w) => new Promise((res) => w.once("message", res)));
    for (const w of workers) w.postMessage({ go: go.buffer, live: live?.buffer ?? null });
    while (Atomics.load(go, 1) < n) await new Promise((r) => setTimeout(r, 1));
    const t0 = now();
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    const res = await Promise.all(done);
    for (const r of res) if (r.error) errors.push(r.error);
    const t1 = Math.max(...res.map((x) => x.end));
    const ops = res.reduce((s, x) => s + (x.ops ?? 0), 0);
    const cpuNsPerOp = (res.reduce((s, x) => s + (x.cpuMs ?? 0), 0) * 1e6) / ops;
    return { res, opsPerSecond: ops / ((t1 - t0) / 1000), cpuNsPerOp };
  };
  const out = [];
  const cpu = [];
  for (let r = 0; r <= runs; r++) {
    const { opsPerSecond, cpuNsPerOp } = await round(null);
    if (r > 0) {
      out.push(opsPerSecond);
      cpu.push(cpuNsPerOp);
    }
  }
  let footprint = null;
  if (track) {
    const live = new Int32Array(new SharedArrayBuffer(8));
    const { res } = await round(live);
    footprint = { top: Math.max(...res.map((x) => x.top)) - heap.memory.start, peakLive: live[1] };
  }
  let state = null;
  if (heap !== null) {
    try {
      heap.check();
      const st = heap.stats();
      state = { liveBlocks: st.liveBlocks, inUse: st.inUse, checked: true };
    } catch (e) {
      errors.push(`check: ${e.message}`);
      state = { checked: false };
    }
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return { opsPerSecond: out, cpuNsPerOp: cpu, errors, state, footprint };
}

async function main() {
  const load0 = loadavg()[0];
  // Single-threaded TLSF heap over 64 MiB, in this thread, wall time as the workers'.
  const single = [];
  const a = new lib.TlsfAllocator(HEAP);
  for (let r = 0; r <= RUNS; r++) {
    const t0 = now();
    const { ops } = w1(a, SEED);
    if (r > 0) single.push(((now() - t0) * 1e6) / ops);
  }
  const one = await shared(1);
  const two = await shared(2, { track: true });
  const four = await shared(4, { runs: 1 });
  const bare1 = await shared(1, { bare: true, runs: 3 });
  const bare2 = await shared(2, { bare: true, runs: 3 });
  const result = {
    runs: RUNS,
    singleNsPerOp: single,
    oneOpsPerSecond: one.opsPerSecond,
    twoOpsPerSecond: two.opsPerSecond,
    oneCpuNsPerOp: one.cpuNsPerOp,
    twoCpuNsPerOp: two.cpuNsPerOp,
    ceiling: median(bare2.opsPerSecond) / median(bare1.opsPerSecond),
    errors: [...one.errors, ...two.errors],
    four: { errors: four.errors, state: four.state },
    twoState: two.state,
    footprint: two.footprint,
    load: [load0, loadavg()[0]],
  };
  if (process.argv.includes("--json")) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const singleNs = median(single);
  const oneNs = 1e9 / median(one.opsPerSecond);
  const scaling = median(two.opsPerSecond) / median(one.opsPerSecond);
  const lines = [
    `W1, ${RUNS} runs (median), ${ITERATIONS.toLocaleString()} iterations per agent; load ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`,
    `single-threaded TlsfAllocator      ${singleNs.toFixed(1)} ns/op`,
    `SharedHeap, 1 worker               ${oneNs.toFixed(1)} ns/op  (${(oneNs / singleNs).toFixed(2)}x single; target <= 1.5x)`,
    `SharedHeap, 2 workers              throughput ${scaling.toFixed(2)}x 1 worker (target >= 1.6x)`,
    `no heap (PRNG only), 2 vs 1 worker  ${result.ceiling.toFixed(2)}x: what this machine gives 2 threads now`,
    `CPU ns/op per worker               1 worker ${median(one.cpuNsPerOp).toFixed(1)}, 2 workers ${median(two.cpuNsPerOp).toFixed(1)}: 2 workers on 2 idle cores ≈ ${((2 * median(one.cpuNsPerOp)) / median(two.cpuNsPerOp)).toFixed(2)}x 1 worker`,
    `SharedHeap, 4 workers              errors ${four.errors.length}, live blocks after ${four.state?.liveBlocks ?? "?"}`,
    `footprint / peak live (2 workers)  ${(two.footprint.top / two.footprint.peakLive).toFixed(3)} (target <= 1.25)`,
  ];
  console.log(lines.join("\n"));
}

if (!isMainThread) {
  const heap = workerData.desc === null ? null : lib.SharedHeap.attach(workerData.desc);
  parentPort.on("message", (m) => {
    const go = new Int32Array(m.go);
    Atomics.add(go, 1, 1); // ready
    while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 1000);
    try {
      const live = m.live ? new Int32Array(m.live) : null;
      const c0 = threadCpuMs();
      const r = heap === null ? spin(workerData.seed) : w1(heap, workerData.seed, live);
      parentPort.postMessage({ ...r, end: now(), cpuMs: threadCpuMs() - c0 });
    } catch (e) {
      parentPort.postMessage({ error: String(e?.message ?? e), end: now() });
    }
  });
  parentPort.postMessage("ready");
} else {
  await main();
}
