// How often the Heap's front end (its stacks of freed small blocks, src/strategies/tlsf)
// serves a workload, and how often TLSF's general path does: a diagnostic, not a benchmark.
// It wraps methods of the built Heap to count their calls, which slows every call, so it
// reports counts only.
//
//   npm run build && node bench/front-end.mjs            W1 and the three traces
//   node bench/front-end.mjs W1 python-json              some of them
//
// Per workload: allocations served from a stack (`pop`) and the others; frees held on a stack
// and the others (`release`: merged into TLSF's lists); how often the stacks were all given
// back (`flush`); the footprint. The W1 loop is WORKLOADS.md's, run on one fresh Heap.

import { dist, TRACE_NAMES } from "./paths.mjs";
import { loadTraceBinary, traceBinary } from "./traces.mjs";
import { draws, WORKLOADS } from "./workloads.mjs";

const { Heap } = await import(dist("index.js"));
const { replay } = await import(dist("trace/replay.js"));
const { traceAllocator } = await import(dist("cli/allocators.js"));

/** Counts calls of `names` on `obj`'s prototype chain (the methods as the class defines them). */
function counting(obj, names) {
  const counts = Object.fromEntries(names.map((n) => [n, 0]));
  for (const name of names) {
    let p = Object.getPrototypeOf(obj);
    while (p !== null && !Object.hasOwn(p, name)) p = Object.getPrototypeOf(p);
    if (p === null) throw new Error(`no method ${name}`);
    const f = p[name];
    obj[name] = function (...args) {
      counts[name]++;
      return f.apply(this, args);
    };
  }
  return counts;
}

function churn(id) {
  const w = WORKLOADS[id];
  const { slot, size } = draws(id);
  const h = new Heap();
  const c = counting(h, ["pop", "release", "flush"]);
  const ptrs = new Float64Array(w.slots);
  const sizes = new Float64Array(w.slots);
  let k = 0;
  let allocs = 0;
  let frees = 0;
  let live = 0;
  let peak = 0;
  let top = 0;
  for (let i = 0; i < w.iterations; i++) {
    const s = slot[k++];
    if (ptrs[s] !== 0) {
      h.free(ptrs[s]);
      live -= sizes[s];
      ptrs[s] = 0;
      frees++;
    } else {
      const n = size[k++];
      const p = h.malloc(n);
      allocs++;
      ptrs[s] = p;
      sizes[s] = n;
      live += n;
      peak = Math.max(peak, live);
      top = Math.max(top, p + n);
    }
  }
  return { allocs, frees, ...c, footprint: (top - h.memory.start) / peak };
}

async function trace(name) {
  const t = loadTraceBinary(await traceBinary(name), name);
  const a = traceAllocator("heap", t);
  const c = counting(a, ["pop", "release", "flush", "alloc", "allocZeroed", "dealloc"]);
  const r = replay(t, a, { freeAtEnd: false });
  return {
    allocs: c.alloc, // allocZeroed and realloc's moves call alloc too
    frees: c.dealloc,
    pop: c.pop,
    release: c.release,
    flush: c.flush,
    footprint: r.footprintRatio,
  };
}

const ids = process.argv.slice(2).length ? process.argv.slice(2) : ["W1", ...TRACE_NAMES];
const pct = (x, of) =>
  `${x.toLocaleString("en-US")} of ${of.toLocaleString("en-US")} (${((100 * x) / of).toFixed(0)}%)`;
for (const id of ids) {
  const r = id in WORKLOADS ? churn(id) : await trace(id);
  console.log(
    `${id}: allocations from a stack ${pct(r.pop, r.allocs)}; frees held on a stack ` +
      `${pct(r.frees - r.release, r.frees)}; stacks all given back ${r.flush} times; ` +
      `footprint ${r.footprint.toFixed(3)}`,
  );
}
