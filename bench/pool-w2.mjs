// W2 (fixed-64 churn, the team's WORKLOADS.md) for PoolAllocator against a minimal JS pool and an
// empty-loop baseline: the quick local check that the pool's hot path stays close to the
// minimal one. Not the benchmark suite; no assertions.
//
//   npx tsc -p tsconfig.build.json && node bench/pool-w2.mjs
//   (MEMKIT_DIST=/some/dir imports a build from elsewhere; RUNS, PROCESSES change the counts)
//
// W2: slots = 1,000 (all empty). 2,000,000 times: s = rand() % 1000; if slot s holds a block,
// free it and empty the slot; else allocate 64 bytes (align 8) into it. Then free the rest.
// The sequence of s is computed before timing (see SEQUENCE).
// Heap: 64 MiB (1,048,576 blocks of 64 bytes; the pool carves only the ~1,000 it needs).
//
// Each variant runs in processes of its own (PROCESSES of them), because loops for several
// allocators in one process disturb each other's compiled code (measured: every variant got
// slower by several ns/op when all four ran in one process). In each process: one warm-up run
// of the baseline and the variant, then RUNS timed runs of both, interleaved; the allocator
// is made before the clock starts. Reported: the median over processes of the median ns per
// op (an op is one alloc or free call), raw and net of the baseline (the same loop with no
// allocator calls), and the best process's minimum net figure.

import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SLOTS = 1000;
const ITERATIONS = 2_000_000;
const SIZE = 64;
const HEAP = 64 * 1024 * 1024;
const BLOCKS = HEAP / SIZE;
const RUNS = Number(process.env.RUNS ?? 7);
const PROCESSES = Number(process.env.PROCESSES ?? 3);

/**
 * The slot of every iteration, s = rand() % SLOTS with W2's xorshift32, computed before any
 * timing. In the timed loop, `(x >>> 0) % SLOTS` compiles either to an integer remainder or
 * to a floating-point one (a call), depending on the feedback the engine saw: the same
 * baseline loop measured 8 or 24 ns/op from one process to the next, which swamps the
 * allocator. Reading the precomputed slot costs the same in every loop.
 */
const SEQUENCE = new Int32Array(ITERATIONS);
{
  let x = 2463534242;
  for (let i = 0; i < ITERATIONS; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    SEQUENCE[i] = (x >>> 0) % SLOTS;
  }
}

function baseline(_pool) {
  const slots = new Float64Array(SLOTS);
  let ops = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const s = SEQUENCE[i];
    if (slots[s] !== 0) {
      slots[s] = 0;
    } else {
      slots[s] = 64 + s;
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) if (slots[s] !== 0) ops++;
  return ops;
}

/** The minimal JS pool: a u32 stack of free block numbers, no checks at all. */
class MinimalPool {
  constructor(blockSize, numBlocks) {
    this.size = blockSize;
    this.base = blockSize;
    this.stack = new Uint32Array(numBlocks);
    for (let i = 0; i < numBlocks; i++) this.stack[i] = numBlocks - 1 - i;
    this.top = numBlocks;
  }
  alloc() {
    if (this.top === 0) return 0;
    return this.base + this.stack[--this.top] * this.size;
  }
  free(p) {
    this.stack[this.top++] = (p - this.base) / this.size;
  }
}

function minimal(pool) {
  const slots = new Float64Array(SLOTS);
  let ops = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const s = SEQUENCE[i];
    const p = slots[s];
    if (p !== 0) {
      pool.free(p);
      slots[s] = 0;
    } else {
      slots[s] = pool.alloc();
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      pool.free(slots[s]);
      ops++;
    }
  }
  return ops;
}

function poolAlloc(pool) {
  const slots = new Float64Array(SLOTS);
  let ops = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const s = SEQUENCE[i];
    const p = slots[s];
    if (p !== 0) {
      pool.dealloc(p);
      slots[s] = 0;
    } else {
      slots[s] = pool.alloc(SIZE, 8);
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      pool.dealloc(slots[s]);
      ops++;
    }
  }
  return ops;
}

function poolAllocBlock(pool) {
  const slots = new Float64Array(SLOTS);
  let ops = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const s = SEQUENCE[i];
    const p = slots[s];
    if (p !== 0) {
      pool.dealloc(p);
      slots[s] = 0;
    } else {
      slots[s] = pool.allocBlock();
    }
    ops++;
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      pool.dealloc(slots[s]);
      ops++;
    }
  }
  return ops;
}

const VARIANTS = [
  ["minimal JS pool (u32 stack, no checks)", minimal, () => new MinimalPool(SIZE, BLOCKS)],
  ["PoolAllocator alloc(64, 8) / dealloc", poolAlloc, (P) => new P(SIZE, BLOCKS)],
  ["PoolAllocator allocBlock() / dealloc", poolAllocBlock, (P) => new P(SIZE, BLOCKS)],
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * ns per op of one run, in CPU time (user + system) rather than wall time: on a shared,
 * loaded machine the process is descheduled now and then, and wall time counts that.
 */
function timeOnce(fn, pool) {
  const c0 = process.cpuUsage();
  const ops = fn(pool);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / ops;
}

/** One process: the baseline and variant `v`, interleaved. Prints JSON. */
async function child(v) {
  const dist = resolve(
    process.env.MEMKIT_DIST ?? fileURLToPath(new URL("../dist", import.meta.url)),
  );
  const { PoolAllocator } = await import(pathToFileURL(`${dist}/strategies/pool/index.js`).href);
  const [, fn, make] = VARIANTS[v];
  baseline(null);
  fn(make(PoolAllocator));
  const base = [];
  const time = [];
  for (let r = 0; r < RUNS; r++) {
    base.push(timeOnce(baseline, null));
    time.push(timeOnce(fn, make(PoolAllocator)));
  }
  const net = time.map((t, i) => t - base[i]);
  process.stdout.write(
    JSON.stringify({
      raw: median(time),
      base: median(base),
      net: median(net),
      best: Math.min(...net),
    }),
  );
}

function main() {
  const self = fileURLToPath(import.meta.url);
  console.log(
    `W2 fixed-64: ${ITERATIONS.toLocaleString()} iterations, ${SLOTS} slots, ` +
      `${PROCESSES} processes × ${RUNS} runs per variant, node ${process.version}`,
  );
  console.log(
    "variant".padEnd(40),
    "raw".padStart(7),
    "baseline".padStart(9),
    "net".padStart(7),
    "best net".padStart(9),
  );
  const nets = [];
  VARIANTS.forEach(([name], v) => {
    const rs = [];
    for (let p = 0; p < PROCESSES; p++) {
      const out = execFileSync(process.execPath, [self, String(v)], { encoding: "utf8" });
      rs.push(JSON.parse(out));
    }
    const net = median(rs.map((r) => r.net));
    nets.push(net);
    console.log(
      name.padEnd(40),
      median(rs.map((r) => r.raw))
        .toFixed(2)
        .padStart(7),
      median(rs.map((r) => r.base))
        .toFixed(2)
        .padStart(9),
      net.toFixed(2).padStart(7),
      Math.min(...rs.map((r) => r.best))
        .toFixed(2)
        .padStart(9),
    );
  });
  console.log(
    `ns per op (one alloc or free call). PoolAllocator − minimal, net: ` +
      `alloc ${(nets[1] - nets[0]).toFixed(2)}, allocBlock ${(nets[2] - nets[0]).toFixed(2)}`,
  );
}

if (process.argv[2] !== undefined) await child(Number(process.argv[2]));
else main();
