// The anchor workloads of the team's WORKLOADS.md (W1-W4), exactly: the same xorshift32 PRNG
// seeded with 2463534242 at the start of every run, the same slot counts, sizes and
// iteration counts, for every allocator.
//
// The PRNG draws are computed before the clock starts. `draws(id)` runs xorshift32 from the
// seed and keeps, for the k-th draw r_k, what the workload derives from it: the slot
// (r_k % slots) and the size (W1: 8 + r_k % 505; W3: 16 + r_k % 49; W4: 4096 + r_k % 1048576).
// The timed loop consumes draws in the order WORKLOADS.md consumes rand() calls (one for the
// slot; one more for the size when it allocates), so every allocator sees the same sequence of
// operations as with rand() inline, including after a failed allocation. What this removes
// from the timed loop is the PRNG and the `%`, which V8 compiles to an integer or to a
// floating-point remainder depending on type feedback (the same empty loop measured 8 or
// 24 ns/op from one process to the next; see bench/pool-w2.mjs): noise larger than the
// allocators being measured.
//
// Each (workload, allocator) pair gets its own copy of the loop, compiled with `new Function`;
// the runner also gives every row its own process, so call sites stay monomorphic and one row
// cannot slow another down through shared type feedback or GC state.
//
// A run returns { ns, wallNs, ops, failures, peakLive, top, draws, stopped }:
//   ns        CPU time of the process (user + system) over the loop, in ns: on a shared
//             machine, time spent descheduled does not count (wallNs is the wall time)
//   ops       alloc + free calls (W3: a bump's reset stands for the 1,000 frees it replaces)
//   peakLive  the highest sum of requested sizes alive at once
//   top       the highest end (pointer + size) of any block; the runner subtracts the
//             allocator's region start to get the footprint
//   draws     PRNG draws consumed; stopped: the run passed its deadline and ended early

export const SEED = 2463534242;

/** The four workloads (WORKLOADS.md). */
export const WORKLOADS = {
  W1: { name: "W1 churn-small", slots: 10_000, iterations: 2_000_000, heap: 64 << 20 },
  W2: { name: "W2 fixed-64", slots: 1_000, iterations: 2_000_000, heap: 64 << 20 },
  W3: { name: "W3 arena", rounds: 1_000, perRound: 1_000, heap: 64 << 20 },
  W4: { name: "W4 large", slots: 100, iterations: 20_000, heap: 256 << 20 },
};

/** xorshift32 as WORKLOADS.md writes it: every value a uint32. */
export function* xorshift32(seed = SEED) {
  let x = seed >>> 0;
  for (;;) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    yield x;
  }
}

/**
 * The draws of workload `id`, derived as the workload uses them: `slot[k]` and `size[k]`
 * both come from the k-th rand() (the loop reads the one it needs). Enough draws for the
 * worst case (every iteration allocating).
 */
export function draws(id) {
  const w = WORKLOADS[id];
  const count = id === "W3" ? w.rounds * w.perRound : id === "W2" ? w.iterations : 2 * w.iterations;
  const slot = new Int32Array(id === "W3" ? 0 : count);
  const size = new Int32Array(id === "W2" ? 0 : count);
  let x = SEED;
  for (let k = 0; k < count; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = x >>> 0;
    if (id !== "W3") slot[k] = r % w.slots;
    if (id === "W1") size[k] = 8 + (r % 505);
    else if (id === "W3") size[k] = 16 + (r % 49);
    else if (id === "W4") size[k] = 4096 + (r % 1048576);
  }
  return { slot, size };
}

// ALLOC(n) / FREE(p, n) / TOP(q, n) are spliced in per row kind (see `compile`). NEW_TABLE is
// the slot table and EMPTY what an empty slot holds: a Float64Array and 0 for pointers, an
// Array and null for the garbage collector's Uint8Arrays.
function churnSource(sizeExpr) {
  return `
  const SL = D.slot, SZ = D.size;
  const slots = NEW_TABLE;
  const sizes = new Float64Array(SLOTS);
  let k = 0, ops = 0, failures = 0, live = 0, peakLive = 0, top = 0, stopped = false;
  const w0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) {
    if ((i & 16383) === 16383 && Date.now() > deadline) {
      stopped = true;
      break;
    }
    const s = SL[k++];
    const p = slots[s];
    if (p !== EMPTY) {
      FREE(p, sizes[s]);
      live -= sizes[s];
      slots[s] = EMPTY;
      ops++;
    } else {
      ${sizeExpr}
      const q = ALLOC(n);
      ops++;
      if (q === EMPTY) {
        failures++;
      } else {
        slots[s] = q;
        sizes[s] = n;
        live += n;
        if (live > peakLive) peakLive = live;
        TOP(q, n)
      }
    }
  }
  for (let s = 0; s < SLOTS; s++) {
    const p = slots[s];
    if (p !== EMPTY) {
      FREE(p, sizes[s]);
      slots[s] = EMPTY;
      ops++;
    }
  }
  const c = process.cpuUsage(c0);
  const ns = (c.user + c.system) * 1000;
  const wallNs = Number(process.hrtime.bigint() - w0);
  return { ns, wallNs, ops, failures, peakLive, top, draws: k, stopped };`;
}

const ARENA_SOURCE = `
  const SZ = D.size;
  const ptrs = NEW_TABLE;
  const sizes = new Float64Array(PER_ROUND);
  let k = 0, ops = 0, failures = 0, peakLive = 0, top = 0, stopped = false;
  const w0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) {
    if (Date.now() > deadline) {
      stopped = true;
      break;
    }
    let live = 0;
    for (let j = 0; j < PER_ROUND; j++) {
      const n = SZ[k++];
      const q = ALLOC(n);
      ops++;
      ptrs[j] = q;
      sizes[j] = n;
      if (q === EMPTY) failures++;
      else {
        live += n;
        TOP(q, n)
      }
    }
    if (live > peakLive) peakLive = live;
    RELEASE_ALL
    ops += PER_ROUND;
  }
  const c = process.cpuUsage(c0);
  const ns = (c.user + c.system) * 1000;
  const wallNs = Number(process.hrtime.bigint() - w0);
  return { ns, wallNs, ops, failures, peakLive, top, draws: k, stopped };`;

const FREE_EACH = `for (let j = 0; j < PER_ROUND; j++) {
      const p = ptrs[j];
      if (p !== EMPTY) {
        FREE(p, sizes[j]);
        ptrs[j] = EMPTY;
      }
    }`;

/**
 * Compiles the loop of workload `id` for one row; returns `run(a, D, process, deadline)` where
 * `a` is the allocator (or adapter), `D` the workload's `draws(id)`, and `deadline` a
 * `Date.now()` value past which the run stops early (checked every 16,384 iterations or every
 * round, in every row alike, the baseline included) and returns `stopped: true`.
 * row.kind: "alloc" (a.alloc(n, 8) / a.dealloc(p) or a.dealloc(p, n)), "reset" (W3 only:
 * a.reset() releases a round), "gc" (new Uint8Array(n); free = drop the reference), or
 * "baseline" (no allocator calls: a fake pointer, nothing freed; with row.reset, W3's loop
 * without the pass over the round's blocks, the baseline of the reset rows).
 * row.passSize: dealloc(p, size) instead of dealloc(p) (for allocators that need the size).
 */
export function compile(id, row) {
  const w = WORKLOADS[id];
  const kind = row.kind ?? "alloc";
  let body;
  if (id === "W3") {
    // A reset row releases the round with one call; its baseline (row.reset) has no free pass.
    const release = kind === "reset" ? "a.reset();" : row.reset ? "" : FREE_EACH;
    body = ARENA_SOURCE.replace("RELEASE_ALL", release)
      .replaceAll("PER_ROUND", String(w.perRound))
      .replaceAll("ROUNDS", String(w.rounds));
  } else {
    // W1 and W4 draw the size with a second rand(); W2 does not.
    const sizeExpr = id === "W2" ? "const n = 64;" : "const n = SZ[k++];";
    body = churnSource(sizeExpr)
      .replaceAll("ITERATIONS", String(w.iterations))
      .replaceAll("SLOTS", String(w.slots));
  }
  const length = id === "W3" ? w.perRound : w.slots;
  const gc = kind === "gc";
  body = body
    .replaceAll("NEW_TABLE", gc ? `new Array(${length}).fill(null)` : `new Float64Array(${length})`)
    .replaceAll("EMPTY", gc ? "null" : "0")
    .replace(/TOP\((\w+), (\w+)\)/g, gc ? "" : "if ($1 + $2 > top) top = $1 + $2;");
  if (kind === "baseline") {
    body = body
      .replace(/ALLOC\((\w+)\)/g, "(64 + ($1 & 0))")
      .replace(/FREE\(([^,]+), ([^)]+)\);/g, "");
  } else if (gc) {
    body = body
      .replace(/ALLOC\((\w+)\)/g, "new Uint8Array($1)")
      .replace(/FREE\(([^,]+), ([^)]+)\);/g, "");
  } else {
    body = body
      .replace(/ALLOC\((\w+)\)/g, "a.alloc($1, 8)")
      .replace(/FREE\(([^,]+), ([^)]+)\)/g, row.passSize ? "a.dealloc($1, $2)" : "a.dealloc($1)");
  }
  // A fresh Function per row: its own type feedback.
  return new Function("a", "D", "process", "deadline", body);
}

/**
 * What every allocator must report for workload `id` when nothing fails: the op count, the
 * peak live bytes and the draws consumed, computed by replaying the workload's bookkeeping
 * alone (WORKLOADS.md's rules with rand() inline, no precomputed draws). The runner checks
 * every row against these.
 */
export function expected(id) {
  const w = WORKLOADS[id];
  const rand = xorshift32();
  const next = () => rand.next().value;
  let ops = 0;
  let live = 0;
  let peakLive = 0;
  let k = 0;
  if (id === "W3") {
    for (let round = 0; round < w.rounds; round++) {
      let roundLive = 0;
      for (let j = 0; j < w.perRound; j++) {
        roundLive += 16 + (next() % 49);
        k++;
      }
      ops += 2 * w.perRound;
      if (roundLive > peakLive) peakLive = roundLive;
    }
    return { ops, peakLive, draws: k };
  }
  const sizes = new Float64Array(w.slots);
  for (let i = 0; i < w.iterations; i++) {
    const s = next() % w.slots;
    k++;
    if (sizes[s] !== 0) {
      live -= sizes[s];
      sizes[s] = 0;
    } else {
      let n = 64;
      if (id !== "W2") {
        const r = next();
        k++;
        n = id === "W1" ? 8 + (r % 505) : 4096 + (r % 1048576);
      }
      sizes[s] = n;
      live += n;
      if (live > peakLive) peakLive = live;
    }
    ops++;
  }
  for (let s = 0; s < w.slots; s++) if (sizes[s] !== 0) ops++;
  return { ops, peakLive, draws: k };
}
