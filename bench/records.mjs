// The record workload (issue 10): a million records { x, y, vx, vy: f64; id: u32; alive: u8 }
// created, updated in a loop 100 times, and a random 10% freed and re-created each round, kept
// as plain JS objects, as memkit structs in the default heap and in a pool, and in one
// hand-written ArrayBuffer indexed by hand (the floor). It reports, per variant: bytes per
// record (memory use measured, not computed), CPU time (total and the update loop alone), and
// the longest garbage-collection pause. Not a test; no assertions: it prints what it measured.
//
//   node bench/records.mjs                  every variant, 3 processes each, interleaved
//   node bench/records.mjs --quick          100,000 records, 20 rounds, one process each
//   node bench/records.mjs --json           the figures as JSON (bench/run.mjs reads it)
//   node bench/records.mjs --records N --rounds R --runs K --only objects,heap
//   (it builds the library first when dist/ is missing; MEMKIT_DIST=/dir imports another build)
//
// The method:
// - Every run of a variant is a process of its own (`--expose-gc`), so one variant's garbage,
//   compiled code and type feedback never touch another's; runs of the variants alternate.
// - The same xorshift32 stream (WORKLOADS.md's, seeded 2463534242) makes every variant's
//   records and picks the same records to free; the update is x += vx, y += vy for every
//   live record. The sum of x + y at the end must be the same in every variant (checked).
// - CPU time is the process's (`process.cpuUsage`: user + system, garbage collector threads
//   included), for the whole workload and for the update loops alone.
// - Bytes per record: the engine's own count of memory in use (`heapUsed + external`: JS
//   objects, and ArrayBuffers and wasm memories) after two forced collections once every record
//   exists, minus the same before the first was made, over the record count. It includes what
//   holds the records (the array of objects, the Uint32Array of pointers) and memory an
//   allocator reserved but has not handed out (the default heap grows ahead of need).
// - GC pauses: every `gc` entry of a `PerformanceObserver` during creation and the rounds
//   (the forced collections of the memory measurement are left out), the longest, their count
//   and their sum.
//
// Variants:
//   objects  an Array of { x, y, vx, vy, id, alive } objects; a freed record is replaced by a
//            new object (the old one is garbage)
//   heap     memkit: `struct(...)` values in the default heap (a TLSF `Heap`), one block per
//            record (`Record.alloc`/`Record.free`), their pointers in a Uint32Array, fields read
//            and written through `Record.reader`/`Record.writer` (plain functions)
//   pool     the same code over a `PoolAllocator` of record-sized blocks for every record
//   typed    the floor: one ArrayBuffer of 40-byte records, record i at byte 40·i, read and
//            written through Float64Array/Uint32Array/Uint8Array indexing written by hand; a
//            freed record's slot is re-used by the record made in its place

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const ROOT = resolve(HERE, "..");
const SEED = 2463534242;
const VARIANTS = ["objects", "heap", "pool", "typed"];

const { values: opt } = parseArgs({
  options: {
    child: { type: "string" },
    records: { type: "string" },
    rounds: { type: "string" },
    runs: { type: "string" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const N = Number(opt.records ?? (opt.quick ? 100_000 : 1_000_000));
const ROUNDS = Number(opt.rounds ?? (opt.quick ? 20 : 100));
const RUNS = Number(opt.runs ?? process.env.RUNS ?? (opt.quick ? 1 : 3));

// ---- the child: one variant, once ------------------------------------------------------------

/** Records as plain JS objects. */
class ObjectRecords {
  constructor(n) {
    this.recs = new Array(n);
  }
  make(i, v, id) {
    this.recs[i] = { x: v[0], y: v[1], vx: v[2], vy: v[3], id, alive: 1 };
  }
  free(_i) {}
  update() {
    const recs = this.recs;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      r.x += r.vx;
      r.y += r.vy;
    }
  }
  sum() {
    let s = 0;
    for (const r of this.recs) s += r.x + r.y;
    return s;
  }
}

/** memkit structs, one block per record in `allocator`, pointers in a Uint32Array. */
class StructRecords {
  constructor(n, lib, allocator) {
    this.a = allocator;
    const R = lib.struct(
      { x: "f64", y: "f64", vx: "f64", vy: "f64", id: "u32", alive: "u8" },
      "Record",
    );
    this.R = R;
    this.ptrs = new Uint32Array(n);
    this.x = R.reader("x", allocator);
    this.y = R.reader("y", allocator);
    this.vx = R.reader("vx", allocator);
    this.vy = R.reader("vy", allocator);
    this.setX = R.writer("x", allocator);
    this.setY = R.writer("y", allocator);
    this.setVx = R.writer("vx", allocator);
    this.setVy = R.writer("vy", allocator);
    this.setId = R.writer("id", allocator);
    this.setAlive = R.writer("alive", allocator);
  }
  make(i, v, id) {
    const p = this.R.alloc(undefined, this.a);
    if (p === 0) throw new Error(`out of memory at record ${i}`);
    this.setX(p, v[0]);
    this.setY(p, v[1]);
    this.setVx(p, v[2]);
    this.setVy(p, v[3]);
    this.setId(p, id);
    this.setAlive(p, 1);
    this.ptrs[i] = p;
  }
  free(i) {
    this.R.free(this.ptrs[i], this.a);
  }
  update() {
    const { ptrs, x, y, vx, vy, setX, setY } = this;
    for (let i = 0; i < ptrs.length; i++) {
      const p = ptrs[i];
      setX(p, x(p) + vx(p));
      setY(p, y(p) + vy(p));
    }
  }
  sum() {
    let s = 0;
    for (const p of this.ptrs) s += this.x(p) + this.y(p);
    return s;
  }
}

/** The floor: 40-byte records in one ArrayBuffer, indexed by hand. */
class TypedRecords {
  static BYTES = 40;
  constructor(n) {
    const buf = new ArrayBuffer(n * TypedRecords.BYTES);
    this.n = n;
    this.f64 = new Float64Array(buf);
    this.u32 = new Uint32Array(buf);
    this.u8 = new Uint8Array(buf);
  }
  make(i, v, id) {
    const k = i * 5;
    const f = this.f64;
    f[k] = v[0];
    f[k + 1] = v[1];
    f[k + 2] = v[2];
    f[k + 3] = v[3];
    this.u32[i * 10 + 8] = id;
    this.u8[i * 40 + 36] = 1;
  }
  free(i) {
    this.u8[i * 40 + 36] = 0;
  }
  update() {
    const f = this.f64;
    const end = this.n * 5;
    for (let k = 0; k < end; k += 5) {
      f[k] += f[k + 2];
      f[k + 1] += f[k + 3];
    }
  }
  sum() {
    let s = 0;
    for (let k = 0; k < this.n * 5; k += 5) s += this.f64[k] + this.f64[k + 1];
    return s;
  }
}

async function child(variant) {
  const dist = resolve(process.env.MEMKIT_DIST ?? resolve(ROOT, "dist"));
  const lib = await import(pathToFileURL(resolve(dist, "index.js")).href);
  if (typeof globalThis.gc !== "function") throw new Error("run the child with --expose-gc");
  const gc = globalThis.gc;
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };

  // The harness makes no garbage of its own: a number outside the int32 range returned
  // from, or a double passed to, a function the engine did not inline is boxed in a heap
  // object. So xorshift32 keeps its state in an Int32Array and returns it signed (callers
  // take `>>> 0`), and a new record's four numbers go through a Float64Array.
  const state = new Int32Array([SEED | 0]);
  const rand = () => {
    let x = state[0];
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    state[0] = x;
    return x;
  };
  const vals = new Float64Array(4);
  const draw = () => {
    vals[0] = ((rand() >>> 0) / 2 ** 32) * 1000;
    vals[1] = ((rand() >>> 0) / 2 ** 32) * 1000;
    vals[2] = (rand() >>> 0) / 2 ** 32 - 0.5;
    vals[3] = (rand() >>> 0) / 2 ** 32 - 0.5;
    return vals;
  };

  const before = used();
  let recs;
  let allocator = null;
  if (variant === "objects") recs = new ObjectRecords(N);
  else if (variant === "typed") recs = new TypedRecords(N);
  else if (variant === "heap") {
    allocator = lib.getDefaultHeap();
    recs = new StructRecords(N, lib, allocator);
  } else if (variant === "pool") {
    const R = lib.struct({ x: "f64", y: "f64", vx: "f64", vy: "f64", id: "u32", alive: "u8" });
    allocator = new lib.PoolAllocator(R.size, N);
    recs = new StructRecords(N, lib, allocator);
  } else throw new Error(`unknown variant ${variant}`);

  const pauses = [];
  const forced = constants.NODE_PERFORMANCE_GC_FLAGS_FORCED;
  let observing = true;
  let createGcs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (observing && !((e.detail?.flags ?? 0) & forced)) pauses.push(e.duration);
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  const drain = () => new Promise((r) => setTimeout(r, 20));

  const t0 = cpu();
  let id = 0;
  for (let i = 0; i < N; i++) recs.make(i, draw(), id++);
  const createSeconds = cpu() - t0;
  await drain();
  createGcs = pauses.length;
  observing = false;
  const after = used(); // forced collections: not pauses of the workload
  await drain();
  observing = true;

  let updateSeconds = 0;
  let churnSeconds = 0;
  const churn = Math.floor(N / 10);
  for (let round = 0; round < ROUNDS; round++) {
    const u = cpu();
    recs.update();
    const c = cpu();
    updateSeconds += c - u;
    for (let k = 0; k < churn; k++) {
      const i = (rand() >>> 0) % N;
      recs.free(i);
      recs.make(i, draw(), id++);
    }
    churnSeconds += cpu() - c;
  }
  const totalSeconds = cpu() - t0;
  await drain();
  obs.disconnect();

  const stats = allocator?.stats();
  return {
    variant,
    records: N,
    rounds: ROUNDS,
    bytesPerRecord: (after - before) / N,
    allocatorBytesPerRecord: stats ? (stats.inUse + stats.overhead) / N : null,
    capacityBytesPerRecord: stats ? stats.capacity / N : null,
    createSeconds,
    updateSeconds,
    churnSeconds,
    totalSeconds,
    gcCount: pauses.length,
    gcCreateCount: createGcs,
    gcTotalMs: pauses.reduce((a, b) => a + b, 0),
    gcMaxMs: pauses.length ? Math.max(...pauses) : 0,
    sum: recs.sum(),
    load: loadavg()[0],
  };
}

// ---- the parent: every variant, each run in a process of its own ---------------------------

function ensureBuilt() {
  if (process.env.MEMKIT_DIST || existsSync(resolve(ROOT, "dist", "index.js"))) return;
  process.stderr.write("records: building the library (dist/ is missing)…\n");
  execFileSync(process.execPath, [resolve(ROOT, "scripts", "build.mjs")], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
}

function runChild(variant) {
  const out = execFileSync(
    process.execPath,
    [
      "--expose-gc",
      fileURLToPath(import.meta.url),
      "--child",
      variant,
      "--records",
      String(N),
      "--rounds",
      String(ROUNDS),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 20 },
  );
  return JSON.parse(out);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Every variant's runs (interleaved), and the medians. */
function measureRecords(variants = VARIANTS, log = () => {}) {
  ensureBuilt();
  const runs = Object.fromEntries(variants.map((v) => [v, []]));
  const errors = [];
  for (let r = 0; r < RUNS; r++) {
    for (const v of variants) {
      log(`records: ${v}, run ${r + 1} of ${RUNS}`);
      try {
        runs[v].push(runChild(v));
      } catch (e) {
        errors.push(
          `${v}: ${String(e.stderr || e.message)
            .trim()
            .split("\n")
            .pop()}`,
        );
      }
    }
  }
  const keys = [
    "bytesPerRecord",
    "createSeconds",
    "updateSeconds",
    "churnSeconds",
    "totalSeconds",
    "gcCount",
    "gcTotalMs",
    "gcMaxMs",
  ];
  const rows = variants
    .filter((v) => runs[v].length > 0)
    .map((v) => {
      const rs = runs[v];
      const row = { variant: v, runs: rs.length, samples: {} };
      for (const k of keys) {
        row.samples[k] = rs.map((x) => x[k]);
        row[k] = median(row.samples[k]);
      }
      row.gcMaxMs = Math.max(...row.samples.gcMaxMs); // the longest pause of every run
      row.allocatorBytesPerRecord = rs[0].allocatorBytesPerRecord;
      row.capacityBytesPerRecord = rs[0].capacityBytesPerRecord;
      row.sum = rs[0].sum;
      row.load = rs.map((x) => x.load);
      return row;
    });
  const sums = new Set(rows.map((r) => r.sum));
  if (sums.size > 1) {
    errors.push(
      `the variants disagree on the final sum of x + y: ${rows.map((r) => `${r.variant} ${r.sum}`).join(", ")}`,
    );
  }
  return { records: N, rounds: ROUNDS, runs: RUNS, rows, errors };
}

function table(res) {
  const floor = res.rows.find((r) => r.variant === "typed");
  const lines = [
    `${res.records.toLocaleString("en-US")} records, ${res.rounds} rounds, ${res.runs} process(es) per variant; medians (longest GC pause: of all runs)`,
    "",
    "| variant | bytes/record | total CPU s | update loop s | × floor | create s | churn s | GCs | GC total ms | longest GC pause ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of res.rows) {
    const ratio = floor ? (r.updateSeconds / floor.updateSeconds).toFixed(2) : "—";
    lines.push(
      `| ${r.variant} | ${r.bytesPerRecord.toFixed(1)} | ${r.totalSeconds.toFixed(3)} | ` +
        `${r.updateSeconds.toFixed(3)} | ${ratio} | ${r.createSeconds.toFixed(3)} | ` +
        `${r.churnSeconds.toFixed(3)} | ${r.gcCount} | ${r.gcTotalMs.toFixed(1)} | ${r.gcMaxMs.toFixed(2)} |`,
    );
  }
  for (const r of res.rows) {
    if (r.allocatorBytesPerRecord !== null) {
      lines.push(
        "",
        `${r.variant}: the allocator holds ${r.allocatorBytesPerRecord.toFixed(1)} bytes per record (in use + overhead) of a ${r.capacityBytesPerRecord.toFixed(1)}-byte-per-record capacity`,
      );
    }
  }
  for (const e of res.errors) lines.push("", `error: ${e}`);
  return lines.join("\n");
}

if (opt.child !== undefined) {
  process.stdout.write(`${JSON.stringify(await child(opt.child))}\n`);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const variants = opt.only ? opt.only.split(",").filter((v) => v !== "") : VARIANTS;
  const res = measureRecords(variants, opt.json ? () => {} : (s) => process.stderr.write(`${s}\n`));
  process.stdout.write(opt.json ? `${JSON.stringify(res)}\n` : `${table(res)}\n`);
}
