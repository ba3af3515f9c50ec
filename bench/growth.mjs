// The growth trace: a program whose live bytes climb past 128 MiB, made at bench time (never
// committed) and replayed by the Heap, which starts at 64 KiB and grows. It measures what
// growing costs in memory: the bytes the Heap's memory holds at the end against the peak
// footprint (issue 9's target: at most 1.25×).
//
// The program, from xorshift32 seeded with 2463534242 (as WORKLOADS.md): 48 steps; each
// allocates blocks of 16 + r % 2033 bytes (one in 64 of 4 KiB + r % 252 KiB instead) until
// the live bytes reach step × 3.5 MiB (so ~168 MiB at the end), and along the way frees a
// random live block for every third allocation (churn, so the heap has holes to reuse).
// Then it frees everything in random order.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CACHE_DIR, writeTraceBinary } from "./traces.mjs";

export const GROWTH_ID = "growth";
const VERSION = 1;
const STEPS = 48;
const STEP_BYTES = 3.5 * 2 ** 20;

/** The growth trace as the columns of src/trace/trace.ts's `Trace`. */
export function growthTrace() {
  let x = 2463534242;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const op = [];
  const id = [];
  const size = [];
  const live = []; // ids of live blocks (swap-remove)
  const sizes = [];
  let bytes = 0;
  let nextId = 0;
  const free = (k) => {
    const b = live[k];
    live[k] = live[live.length - 1];
    live.pop();
    op.push(1);
    id.push(b);
    size.push(0);
    bytes -= sizes[b];
  };
  for (let step = 1; step <= STEPS; step++) {
    let n = 0;
    while (bytes < step * STEP_BYTES) {
      const r = rand();
      const s = r % 64 === 0 ? 4096 + (rand() % (252 * 1024)) : 16 + (r % 2033);
      const b = nextId++;
      sizes[b] = s;
      live.push(b);
      op.push(0);
      id.push(b);
      size.push(s);
      bytes += s;
      if (++n % 3 === 0) free(rand() % live.length);
    }
  }
  while (live.length > 0) free(rand() % live.length);
  const count = op.length;
  return {
    name: GROWTH_ID,
    count,
    idCount: nextId,
    op: Uint8Array.from(op),
    id: Uint32Array.from(id),
    size: Float64Array.from(size),
    align: new Uint32Array(count).fill(16),
    zeroed: new Uint8Array(count),
    comments: [],
  };
}

/** The growth trace's binary file (traces.mjs format), made on first use. */
export function growthBinary() {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `growth-v${VERSION}.bin`);
  if (!existsSync(file)) writeTraceBinary(growthTrace(), file);
  return file;
}

export const GROWTH_NOTE =
  "## Growth (a trace made at bench time)\n\n" +
  "bench/growth.mjs makes a program whose live bytes climb in 48 steps to about 168 MiB " +
  "(blocks of 16 B – 2 KiB, one in 64 of 4 – 256 KiB, one free for every third allocation), " +
  "then frees everything. The Heap starts at 64 KiB and grows; `reserved` is what its memory " +
  "holds after the replay (a WebAssembly.Memory never shrinks, so this is its most), against " +
  "the peak footprint (the highest block end). The target: reserved ≤ 1.25 × peak footprint.";
