// The garbage collector as a peer: every block is `new Uint8Array(size)` (zero-filled, as
// typed arrays are), and freeing drops the reference. The workload loops do this inline
// (bench/workloads.mjs, kind "gc"); this file replays a trace the same way, with the
// semantics of src/trace/replay.ts: `a` allocates, `f` drops, `r` makes a new array and
// copies min(old, new) bytes; at the end the blocks still live are dropped (one op each,
// as the other rows free them). There is no footprint to report: the engine decides where
// the bytes live (on the V8 heap up to 64 bytes, in backing stores above).

import { OP_ALLOC, OP_FREE } from "../../dist/trace/trace.js";

/**
 * Replays `trace` with typed arrays. Stops early (and says so) when `Date.now()` passes
 * `deadline`, checked every 65,536 operations as the other rows' replays do.
 */
export function replayGc(trace, deadline = Number.POSITIVE_INFINITY) {
  const { op, id, size, count } = trace;
  const blocks = new Array(trace.idCount).fill(null);
  const sizes = new Float64Array(trace.idCount);
  let live = 0;
  let peakLive = 0;
  let i = 0;
  let stopped = false;
  const c0 = process.cpuUsage();
  for (; i < count; i++) {
    if ((i & 0xffff) === 0xffff && Date.now() > deadline) {
      stopped = true;
      break;
    }
    const k = op[i];
    const b = id[i];
    if (k === OP_ALLOC) {
      const n = size[i];
      blocks[b] = new Uint8Array(n);
      sizes[b] = n;
      live += n;
      if (live > peakLive) peakLive = live;
    } else if (k === OP_FREE) {
      live -= sizes[b];
      blocks[b] = null;
    } else {
      const n = size[i];
      const old = blocks[b];
      const q = new Uint8Array(n);
      q.set(n >= old.length ? old : old.subarray(0, n));
      blocks[b] = q;
      live += n - sizes[b];
      sizes[b] = n;
      if (live > peakLive) peakLive = live;
    }
  }
  if (!stopped) {
    // What the trace leaves live is dropped too, one op each (as the other rows free it).
    for (let b = 0; b < blocks.length; b++) {
      if (blocks[b] !== null) {
        blocks[b] = null;
        i++;
      }
    }
  }
  const c = process.cpuUsage(c0);
  // CPU time of the process, as the other rows measure (the collector's threads included)
  const ns = (c.user + c.system) * 1000;
  return { ops: i, failures: 0, ns, peakLiveBytes: peakLive, peakFootprint: null, stopped };
}
