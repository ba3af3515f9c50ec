// The traces the benchmark replays, parsed once and cached as binary files in the system's
// temporary folder, which the row processes and the C replayer (native/replay.c) read:
//   u32 count, u32 idCount, then count × [op | zeroed << 8, id, size, align]

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { dist, TRACE_DIR } from "./paths.mjs";

export const CACHE_DIR = join(tmpdir(), "memkit-bench");

/** Writes a parsed trace (the columns of src/trace/trace.ts's `Trace`) as a binary file. */
export function writeTraceBinary(t, file) {
  const out = new Uint32Array(2 + 4 * t.count);
  out[0] = t.count;
  out[1] = t.idCount;
  for (let i = 0; i < t.count; i++) {
    const o = 2 + 4 * i;
    out[o] = t.op[i] | (t.zeroed[i] << 8);
    out[o + 1] = t.id[i];
    out[o + 2] = t.size[i];
    out[o + 3] = t.align[i];
  }
  writeFileSync(file, out);
}

/** The binary file of trace `name` (TRACE_DIR/name.trace.gz), made on first use. */
export async function traceBinary(name) {
  const src = join(TRACE_DIR, `${name}.trace.gz`);
  const st = statSync(src);
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `${name}-${st.size}-${Math.floor(st.mtimeMs)}.bin`);
  if (existsSync(file)) return file;
  const { parseTrace } = await import(dist("trace/trace.js"));
  writeTraceBinary(parseTrace(gunzipSync(readFileSync(src)).toString("latin1"), name), file);
  return file;
}

/** Reads a trace binary back into the columns of src/trace/trace.ts's `Trace`. */
export function loadTraceBinary(file, name) {
  const buf = readFileSync(file);
  const u = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const count = u[0];
  const t = {
    name,
    count,
    idCount: u[1],
    op: new Uint8Array(count),
    id: new Uint32Array(count),
    size: new Float64Array(count),
    align: new Uint32Array(count),
    zeroed: new Uint8Array(count),
    comments: [],
  };
  for (let i = 0; i < count; i++) {
    const o = 2 + 4 * i;
    t.op[i] = u[o] & 0xff;
    t.zeroed[i] = u[o] >>> 8;
    t.id[i] = u[o + 1];
    t.size[i] = u[o + 2];
    t.align[i] = u[o + 3];
  }
  const st = traceStats(t);
  t.peakLive = st.peakLive;
  t.liveAtEnd = st.liveAtEnd;
  return t;
}

/**
 * The peak live bytes a replay must report (requested sizes; a realloc counts its new size),
 * and the blocks still live at the end of the trace (a replay frees them: one op each).
 */
export function traceStats(t) {
  const live = new Uint8Array(t.idCount);
  const sizes = new Float64Array(t.idCount);
  let bytes = 0;
  let peak = 0;
  for (let i = 0; i < t.count; i++) {
    const b = t.id[i];
    if (t.op[i] === 1) {
      bytes -= sizes[b];
      sizes[b] = 0;
      live[b] = 0;
    } else {
      bytes += t.size[i] - sizes[b];
      sizes[b] = t.size[i];
      live[b] = 1;
      if (bytes > peak) peak = bytes;
    }
  }
  let liveAtEnd = 0;
  for (let b = 0; b < t.idCount; b++) liveAtEnd += live[b];
  return { peakLive: peak, liveAtEnd };
}

/**
 * The footprint floors of trace `t` (src/trace/floor.ts) as ratios to its peak live bytes:
 * `sizeWord` for the Heap's blocks (TlsfAllocator.blockLayout), `bare` for blocks with no
 * header. The notes beside a missed footprint target split what is over into the layout's
 * share and the placement's.
 */
export async function traceFloors(t) {
  const { footprintFloor, NO_HEADER_LAYOUT, TlsfAllocator } = await import(dist("index.js"));
  return {
    sizeWord: footprintFloor(t, TlsfAllocator.blockLayout).ratio,
    bare: footprintFloor(t, NO_HEADER_LAYOUT).ratio,
  };
}
