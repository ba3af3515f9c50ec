// How close the OffsetAllocator's bins come to an exact fit, on the three real traces replayed
// offset-only: its footprint (highest offset reached / peak live requested bytes) beside two
// exact placements over the same out-of-line blocks, each a sorted array of free blocks:
//   first fit   the lowest-addressed free block that holds the request
//   best fit    the smallest free block that holds it (the lowest address among equals)
// Both round sizes to 16 bytes as the OffsetAllocator does for the traces' 16-aligned requests,
// coalesce immediately, grow and shrink in place when the next block allows, and take new
// space from the top. They are O(free blocks) per call: a yardstick, not an allocator.
// Then, per trace, the call that set the OffsetAllocator's highest end: the request, where it
// went, the bytes free below it then, the largest free block among them, and the live blocks
// above that free block and below the request (what kept the request from a lower start).
//
//   npm run build && node bench/offset-fit.mjs [trace,...]

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { dist, TRACE_DIR, TRACE_NAMES } from "./paths.mjs";

const mk = await import(dist("index.js"));
const GRANULE = 16;
const FIRST = 16;
const roundUp = (n) => Math.max(GRANULE, Math.ceil(n / GRANULE) * GRANULE);

/** Free blocks sorted by address (starts, sizes), coalesced, below `top`. */
class ExactFit {
  constructor(best) {
    this.best = best;
    this.starts = [];
    this.sizes = [];
    this.top = FIRST;
  }

  /** Index of the first free block at or above `at`. */
  indexAt(at) {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.starts[m] < at) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  alloc(n) {
    const { starts, sizes } = this;
    let pick = -1;
    for (let i = 0; i < starts.length; i++) {
      if (sizes[i] < n) continue;
      if (!this.best) {
        pick = i;
        break;
      }
      if (pick < 0 || sizes[i] < sizes[pick]) pick = i;
    }
    if (pick < 0) {
      const p = this.top;
      this.top += n;
      return p;
    }
    const p = starts[pick];
    if (sizes[pick] === n) {
      starts.splice(pick, 1);
      sizes.splice(pick, 1);
    } else {
      starts[pick] += n;
      sizes[pick] -= n;
    }
    return p;
  }

  free(p, n) {
    const { starts, sizes } = this;
    let i = this.indexAt(p);
    if (i > 0 && starts[i - 1] + sizes[i - 1] === p) {
      i--;
      sizes[i] += n;
    } else {
      starts.splice(i, 0, p);
      sizes.splice(i, 0, n);
    }
    if (i + 1 < starts.length && starts[i] + sizes[i] === starts[i + 1]) {
      sizes[i] += sizes[i + 1];
      starts.splice(i + 1, 1);
      sizes.splice(i + 1, 1);
    }
    if (starts[i] + sizes[i] === this.top) {
      this.top = starts[i];
      starts.splice(i, 1);
      sizes.splice(i, 1);
    }
  }

  /** Resizes [p, p + old) to n bytes, in place when it can; returns the block's address. */
  realloc(p, old, n) {
    if (n <= old) {
      if (n < old) this.free(p + n, old - n);
      return p;
    }
    if (p + old === this.top) {
      this.top = p + n;
      return p;
    }
    const i = this.indexAt(p + old);
    const extra = n - old;
    if (i < this.starts.length && this.starts[i] === p + old && this.sizes[i] >= extra) {
      if (this.sizes[i] === extra) {
        this.starts.splice(i, 1);
        this.sizes.splice(i, 1);
      } else {
        this.starts[i] += extra;
        this.sizes[i] -= extra;
      }
      return p;
    }
    const q = this.alloc(n);
    this.free(p, old);
    return q;
  }
}

/** The footprint of an exact placement replaying `t` (requested sizes, as replay.ts counts). */
function exactFootprint(t, best) {
  const fit = new ExactFit(best);
  const ptr = new Float64Array(t.idCount);
  const held = new Float64Array(t.idCount);
  const asked = new Float64Array(t.idCount);
  let live = 0;
  let peakLive = 0;
  let peakEnd = 0;
  for (let i = 0; i < t.count; i++) {
    const b = t.id[i];
    const size = t.size[i];
    if (t.op[i] === mk.OP_ALLOC) {
      ptr[b] = fit.alloc(roundUp(size));
      held[b] = roundUp(size);
      live += size;
      asked[b] = size;
    } else if (t.op[i] === mk.OP_FREE) {
      fit.free(ptr[b], held[b]);
      live -= asked[b];
      continue;
    } else {
      ptr[b] = fit.realloc(ptr[b], held[b], roundUp(size));
      held[b] = roundUp(size);
      live += size - asked[b];
      asked[b] = size;
    }
    if (live > peakLive) peakLive = live;
    if (ptr[b] + size > peakEnd) peakEnd = ptr[b] + size;
  }
  return peakEnd / peakLive;
}

/** Replays `t` on a fresh OffsetAllocator up to op `stop` (all: -1); the blocks and the peak. */
function replayOffset(t, stop) {
  const a = new mk.OffsetAllocator(new mk.OffsetMemory(0, 2 ** 32));
  const ptr = new Float64Array(t.idCount);
  const asked = new Float64Array(t.idCount);
  let peakEnd = 0;
  let peakOp = -1;
  const count = stop < 0 ? t.count : stop;
  for (let i = 0; i < count; i++) {
    const b = t.id[i];
    const size = t.size[i];
    if (t.op[i] === mk.OP_FREE) {
      if (ptr[b] !== 0) a.dealloc(ptr[b]);
      ptr[b] = 0;
      continue;
    }
    const p =
      t.op[i] === mk.OP_ALLOC || ptr[b] === 0
        ? a.alloc(size, t.align[i])
        : a.realloc(ptr[b], size, 16);
    if (p === 0) continue;
    ptr[b] = p;
    asked[b] = size;
    if (p + size > peakEnd) {
      peakEnd = p + size;
      peakOp = i;
    }
  }
  return { ptr, asked, peakOp };
}

/** The call that set the highest end of `t` replayed on an OffsetAllocator, and what lay below it. */
function peakSetter(t) {
  const { peakOp } = replayOffset(t, -1);
  const { ptr, asked } = replayOffset(t, peakOp);
  const b = t.id[peakOp];
  const live = [];
  for (let i = 0; i < t.idCount; i++)
    if (ptr[i] !== 0 && i !== b) live.push([ptr[i], roundUp(asked[i])]);
  live.sort((x, y) => x[0] - y[0]);
  const { ptr: after } = replayOffset(t, peakOp + 1);
  const start = after[b];
  let at = FIRST;
  let free = 0;
  let largest = 0;
  let largestAt = 0;
  for (const [p, n] of live) {
    if (p >= start) break;
    if (p - at > largest) [largest, largestAt] = [p - at, at];
    free += p - at;
    at = p + n;
  }
  const above = live.filter(([p]) => p >= largestAt + largest && p < start);
  const kb = (x) => `${(x / 1024).toFixed(0)} KiB`;
  return (
    `op ${peakOp} of ${t.count}, ${t.op[peakOp] === mk.OP_ALLOC ? "alloc" : "realloc"} of ` +
    `${kb(t.size[peakOp])} at ${kb(start)}: ${kb(free)} free below it, the largest free block ` +
    `${kb(largest)}; ${above.length} live blocks (${kb(above.reduce((s, [, n]) => s + n, 0))}) ` +
    `above that free block and below the request`
  );
}

const names = process.argv[2] ? process.argv[2].split(",") : TRACE_NAMES;
console.log("footprint / peak live, offset-only\n");
console.log("trace        OffsetAllocator  exact first fit  exact best fit");
for (const name of names) {
  const text = gunzipSync(readFileSync(join(TRACE_DIR, `${name}.trace.gz`))).toString("latin1");
  const t = mk.parseTrace(text, name);
  const r = mk.replay(t, new mk.OffsetAllocator(new mk.OffsetMemory(0, 2 ** 32)));
  const cells = [r.footprintRatio, exactFootprint(t, false), exactFootprint(t, true)];
  console.log(`${name.padEnd(12)} ${cells.map((v) => v.toFixed(4).padStart(15)).join("  ")}`);
}
console.log("\nthe call that set the OffsetAllocator's highest end\n");
for (const name of names) {
  const text = gunzipSync(readFileSync(join(TRACE_DIR, `${name}.trace.gz`))).toString("latin1");
  console.log(`${name.padEnd(12)} ${peakSetter(mk.parseTrace(text, name))}`);
}
