// The anchor workloads of shared/WORKLOADS.md (W1-W4), exactly: the same xorshift32 PRNG
// seeded with 2463534242 at the start of every run, the same slot counts, sizes and
// iteration counts, for every allocator.
//
// Each (workload, allocator) pair gets its own copy of the loop, compiled with `new Function`,
// so every call site sees one allocator class and stays monomorphic: one row cannot slow
// another down through shared type feedback.
//
// A run returns { ns, ops, failures, peakLive, footprint }:
//   ops       alloc + free calls (W3: a bump's reset stands for the 1,000 frees it replaces)
//   peakLive  the highest sum of requested sizes alive at once
//   footprint the highest byte of any block, from the allocator's region start

export const SEED = 2463534242;

/** The four workloads (WORKLOADS.md). */
export const WORKLOADS = {
  W1: { name: "W1 churn-small", slots: 10_000, iterations: 2_000_000, heap: 64 << 20 },
  W2: { name: "W2 fixed-64", slots: 1_000, iterations: 2_000_000, heap: 64 << 20 },
  W3: { name: "W3 arena", rounds: 1_000, perRound: 1_000, heap: 64 << 20 },
  W4: { name: "W4 large", slots: 100, iterations: 20_000, heap: 256 << 20 },
};

const PRNG = `
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    r = x >>> 0;`;

// `a.alloc(n, 8)` / `a.dealloc(p)` are spliced in as ALLOC(n) / FREE(p, n); a baseline row
// replaces them with plain bookkeeping (a fake pointer, nothing freed).
function churnSource(sizeExpr) {
  return `
  let x = ${SEED} | 0, r = 0;
  const slots = new Float64Array(SLOTS);
  const sizes = new Float64Array(SLOTS);
  let ops = 0, failures = 0, live = 0, peakLive = 0, top = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) {${PRNG}
    const s = r % SLOTS;
    const p = slots[s];
    if (p !== 0) {
      FREE(p, sizes[s]);
      live -= sizes[s];
      slots[s] = 0;
      ops++;
    } else {
      let n;
      ${sizeExpr}
      const q = ALLOC(n);
      ops++;
      if (q === 0) {
        failures++;
      } else {
        slots[s] = q;
        sizes[s] = n;
        live += n;
        if (live > peakLive) peakLive = live;
        if (q + n > top) top = q + n;
      }
    }
  }
  for (let s = 0; s < SLOTS; s++) {
    if (slots[s] !== 0) {
      FREE(slots[s], sizes[s]);
      ops++;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { ns, ops, failures, peakLive, top };`;
}

const ARENA_SOURCE = `
  let x = ${SEED} | 0, r = 0;
  const ptrs = new Float64Array(PER_ROUND);
  const sizes = new Float64Array(PER_ROUND);
  let ops = 0, failures = 0, peakLive = 0, top = 0;
  const t0 = process.hrtime.bigint();
  for (let round = 0; round < ROUNDS; round++) {
    let live = 0;
    for (let j = 0; j < PER_ROUND; j++) {${PRNG}
      const n = 16 + (r % 49);
      const q = ALLOC(n);
      ops++;
      ptrs[j] = q;
      sizes[j] = n;
      if (q === 0) failures++;
      else {
        live += n;
        if (q + n > top) top = q + n;
      }
    }
    if (live > peakLive) peakLive = live;
    RELEASE_ALL
    ops += PER_ROUND;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { ns, ops, failures, peakLive, top };`;

const FREE_EACH = `for (let j = 0; j < PER_ROUND; j++) if (ptrs[j] !== 0) FREE(ptrs[j], sizes[j]);`;

/**
 * Compiles the loop of workload `id` for one allocator row.
 * row.kind: "alloc" (a.alloc/a.dealloc), "reset" (W3 only: a.reset() releases a round),
 * or "baseline" (no allocator calls).
 * row.passSize: dealloc(p, size) instead of dealloc(p) (for strategies that need it).
 */
export function compile(id, row) {
  const w = WORKLOADS[id];
  let body;
  if (id === "W3") {
    const release = row.kind === "reset" ? "a.reset();" : row.kind === "baseline" ? "" : FREE_EACH;
    body = ARENA_SOURCE.replace("RELEASE_ALL", release)
      .replaceAll("PER_ROUND", String(w.perRound))
      .replaceAll("ROUNDS", String(w.rounds));
  } else {
    // W1 and W4 draw the size with a second rand(); W2 does not.
    const sizeExpr =
      id === "W2"
        ? "n = 64;"
        : `${PRNG}\n      n = ${id === "W1" ? "8 + (r % 505)" : "4096 + (r % 1048576)"};`;
    body = churnSource(sizeExpr)
      .replaceAll("SLOTS", String(w.slots))
      .replaceAll("ITERATIONS", String(w.iterations));
  }
  if (row.kind === "baseline") {
    body = body
      .replace(/ALLOC\((\w+)\)/g, "(64 + ($1 & 0))")
      .replace(/FREE\(([^,]+), ([^)]+)\)/g, "void 0");
  } else {
    body = body
      .replace(/ALLOC\((\w+)\)/g, "a.alloc($1, 8)")
      .replace(/FREE\(([^,]+), ([^)]+)\)/g, row.passSize ? "a.dealloc($1, $2)" : "a.dealloc($1)");
  }
  // A fresh Function per row: its own type feedback.
  return new Function("a", "process", body);
}
