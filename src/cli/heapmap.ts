/**
 * Heap maps: which bytes of an allocator's region are live, overhead, free or metadata at
 * the moment a trace's live bytes peak, computed from the replayer's view of the blocks,
 * so it works for any allocator:
 *
 * 1. `traceStats` walks the trace once (no allocator) and finds the op after which the
 *    sum of live requested sizes is highest.
 * 2. `snapshotAtPeak` replays the trace up to that op on a fresh allocator (with `replay`)
 *    and reads every live block's pointer, requested size and `usableSize`.
 * 3. The bytes are classed:
 *    - **live**: the bytes the program asked for, `[ptr, ptr + size)`;
 *    - **overhead**: bytes a block takes beyond the request: its rounding
 *      `[ptr + size, ptr + usable)` and its header, taken to be the smallest gap seen
 *      between one live block's usable end and the next block's pointer (4 bytes for TLSF
 *      and the free list, 0 for the buddy);
 *    - **metadata**: the region below the first block an empty allocator of the same kind
 *      hands out (allocator header, free-list heads, bitmaps kept in-band);
 *    - **free**: everything else up to the highest block end the replay reached.
 * 4. `heapMapSvg` draws the region as a grid of cells (rows of 256), each cell coloured by
 *    the class holding most of its bytes, runs of one colour merged into one rectangle.
 */

import type { Allocator } from "../core/allocator.js";
import { replay } from "../trace/replay.js";
import { OP_ALLOC, OP_FREE, type Trace } from "../trace/trace.js";

export interface TraceStats {
  readonly ops: number;
  readonly allocs: number;
  readonly frees: number;
  readonly reallocs: number;
  /** The highest sum of requested sizes alive at once. */
  readonly peakLiveBytes: number;
  /** The most blocks alive at once. */
  readonly peakLiveBlocks: number;
  /** Ops to replay to reach the live-bytes peak (the peak holds right after op `peakOps - 1`). */
  readonly peakOps: number;
}

/** Counts and the live-bytes peak of a trace, assuming every allocation succeeds. */
export function traceStats(trace: Trace): TraceStats {
  const { op, id, size, count } = trace;
  const sizes = new Float64Array(trace.idCount);
  let allocs = 0;
  let frees = 0;
  let live = 0;
  let blocks = 0;
  let peakLive = 0;
  let peakBlocks = 0;
  let peakOps = 0;
  for (let i = 0; i < count; i++) {
    const k = op[i];
    const b = id[i];
    if (k === OP_ALLOC) {
      allocs++;
      blocks++;
      sizes[b] = size[i];
      live += size[i];
    } else if (k === OP_FREE) {
      frees++;
      blocks--;
      live -= sizes[b];
    } else {
      live += size[i] - sizes[b];
      sizes[b] = size[i];
    }
    if (blocks > peakBlocks) peakBlocks = blocks;
    if (live > peakLive) {
      peakLive = live;
      peakOps = i + 1;
    }
  }
  return {
    ops: count,
    allocs,
    frees,
    reallocs: count - allocs - frees,
    peakLiveBytes: peakLive,
    peakLiveBlocks: peakBlocks,
    peakOps,
  };
}

/** The classes of bytes in a heap map, in legend order. */
export const KINDS = ["live", "overhead", "free", "metadata"] as const;
export type Kind = (typeof KINDS)[number];
const K_LIVE = 0;
const K_OVERHEAD = 1;
const K_FREE = 2;
const K_METADATA = 3;

export const KIND_COLORS: Record<Kind, string> = {
  live: "#2f6fdf",
  overhead: "#f0a030",
  free: "#d3d9e1",
  metadata: "#6b4fa8",
};

export const KIND_MEANING: Record<Kind, string> = {
  live: "bytes the program asked for",
  overhead: "block headers and rounding beyond the request",
  free: "reusable by later allocations",
  metadata: "allocator metadata below the first block",
};

/** A heap at its peak: the region's bytes as runs of one class each. */
export interface HeapMap {
  readonly allocator: string;
  readonly label: string;
  /** Ops replayed to reach the peak, of `totalOps`. */
  readonly ops: number;
  readonly totalOps: number;
  /** The bytes shown: from the region start to the highest block end the replay reached. */
  readonly start: number;
  readonly end: number;
  /** The memory's size at the peak (it may extend past `end`). */
  readonly memoryBytes: number;
  readonly liveBlocks: number;
  /** Failed allocations while replaying up to the peak. */
  readonly failures: number;
  /** The header bytes assumed in front of each block (the smallest gap seen). */
  readonly headerBytes: number;
  readonly bytes: Readonly<Record<Kind, number>>;
  /** Runs: `kinds[i]` (an index into KINDS) covers `[from[i], to[i])`, in address order. */
  readonly kinds: Uint8Array;
  readonly from: Float64Array;
  readonly to: Float64Array;
}

/** The most a block header is assumed to be; larger gaps are free space. */
const MAX_HEADER = 64;

/** Replays `trace` on `make()` up to its live-bytes peak and classes the region's bytes. */
export function snapshotAtPeak(
  trace: Trace,
  make: () => Allocator,
  allocator: string,
  label: string,
  stats: TraceStats = traceStats(trace),
): HeapMap {
  // Where blocks begin in an empty allocator of this kind: below is metadata.
  const probe = make();
  const firstPtr = probe.alloc(1, 8);
  const a = make();
  const base = a.memory.start;
  const ptrs = new Float64Array(trace.idCount);
  const sizes = new Float64Array(trace.idCount);
  const r = replay(trace, a, { ops: stats.peakOps, freeAtEnd: false, blocks: { ptrs, sizes } });
  const failures = r.failures;
  let peakEnd = base + r.peakFootprint;

  // The live blocks in address order, with their usable ends.
  const order: number[] = [];
  for (let b = 0; b < ptrs.length; b++) if (ptrs[b] !== 0) order.push(b);
  order.sort((x, y) => ptrs[x] - ptrs[y]);
  const n = order.length;
  const ptr = new Float64Array(n);
  const req = new Float64Array(n);
  const usable = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const b = order[j];
    ptr[j] = ptrs[b];
    req[j] = sizes[b];
    usable[j] = Math.max(sizes[b], a.usableSize(ptrs[b]));
    if (ptr[j] + usable[j] > peakEnd) peakEnd = ptr[j] + usable[j];
  }
  let header = MAX_HEADER;
  for (let j = 1; j < n; j++) {
    const gap = ptr[j] - (ptr[j - 1] + usable[j - 1]);
    if (gap >= 0 && gap < header) header = gap;
  }
  if (n < 2) header = 0;
  // Metadata ends at the first block of an empty allocator, and never reaches into a live one.
  let metaEnd = firstPtr === 0 ? base : Math.max(base, firstPtr - header);
  if (n > 0) metaEnd = Math.min(metaEnd, ptr[0] - header);

  const runs = new RunList();
  runs.add(K_METADATA, base, metaEnd);
  for (let j = 0; j < n; j++) {
    const p = ptr[j];
    const hdr = Math.max(runs.cursor, p - header);
    runs.add(K_FREE, runs.cursor, hdr);
    runs.add(K_OVERHEAD, hdr, p);
    runs.add(K_LIVE, p, p + req[j]);
    runs.add(K_OVERHEAD, p + req[j], p + usable[j]);
  }
  runs.add(K_FREE, runs.cursor, peakEnd);

  return {
    allocator,
    label,
    ops: stats.peakOps,
    totalOps: trace.count,
    start: base,
    end: Math.max(base, peakEnd),
    memoryBytes: a.memory.end - a.memory.start,
    liveBlocks: n,
    failures,
    headerBytes: header,
    bytes: {
      live: runs.totals[K_LIVE],
      overhead: runs.totals[K_OVERHEAD],
      free: runs.totals[K_FREE],
      metadata: runs.totals[K_METADATA],
    },
    kinds: Uint8Array.from(runs.kinds),
    from: Float64Array.from(runs.from),
    to: Float64Array.from(runs.to),
  };
}

/** Address-ordered runs; adjacent runs of one class merge, empty or backward ones vanish. */
class RunList {
  readonly kinds: number[] = [];
  readonly from: number[] = [];
  readonly to: number[] = [];
  readonly totals = [0, 0, 0, 0];
  cursor = 0;
  private started = false;

  add(kind: number, from: number, to: number): void {
    if (!this.started) {
      this.cursor = from;
      this.started = true;
    }
    const f = Math.max(from, this.cursor);
    if (to <= f) return;
    const last = this.kinds.length - 1;
    if (last >= 0 && this.kinds[last] === kind && this.to[last] === f) {
      this.to[last] = to;
    } else {
      this.kinds.push(kind);
      this.from.push(f);
      this.to.push(to);
    }
    this.totals[kind] += to - f;
    this.cursor = to;
  }
}

// ---- drawing -------------------------------------------------------------------------------

/** Cells per row of the map. */
export const MAP_COLUMNS = 256;
const MAX_ROWS = 64;
const CELL_W = 2.5;
const CELL_H = 6;
const AXIS_W = 72;
/** Room above the first row for its axis label. */
const TOP = 8;

/** Bytes per cell: a power of two ≥ 8 that keeps the map within MAX_ROWS rows. */
export function bytesPerCell(span: number): number {
  let b = 8;
  while (Math.ceil(span / (b * MAP_COLUMNS)) > MAX_ROWS) b *= 2;
  return b;
}

/**
 * For each cell of the map, the class holding most of its bytes (KINDS index), or 255 past
 * the end. Ties go to the lower index: live, then overhead, free, metadata.
 */
export function mapCells(map: HeapMap): { cells: Uint8Array; rows: number; cellBytes: number } {
  const span = map.end - map.start;
  const cellBytes = bytesPerCell(Math.max(span, 1));
  const count = Math.max(1, Math.ceil(span / cellBytes));
  const rows = Math.ceil(count / MAP_COLUMNS);
  const cells = new Uint8Array(rows * MAP_COLUMNS).fill(255);
  const acc = [0, 0, 0, 0];
  let r = 0;
  for (let c = 0; c < count; c++) {
    const lo = map.start + c * cellBytes;
    const hi = Math.min(map.end, lo + cellBytes);
    acc.fill(0);
    while (r < map.kinds.length && map.to[r] <= lo) r++;
    for (let s = r; s < map.kinds.length && map.from[s] < hi; s++) {
      acc[map.kinds[s]] += Math.min(hi, map.to[s]) - Math.max(lo, map.from[s]);
    }
    let best = K_FREE;
    for (let k = 0; k < acc.length; k++) if (acc[k] > acc[best]) best = k;
    cells[c] = best;
  }
  return { cells, rows, cellBytes };
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function axisLabel(offset: number): string {
  if (offset === 0) return "0";
  if (offset % (1024 * 1024) === 0) return `${offset / (1024 * 1024)} MiB`;
  if (offset >= 1024 * 1024) return `${(offset / (1024 * 1024)).toFixed(2)} MiB`;
  if (offset % 1024 === 0) return `${offset / 1024} KiB`;
  return `${(offset / 1024).toFixed(1)} KiB`;
}

/** The map as an inline SVG: rows of cells, an address axis on the left. */
export function heapMapSvg(map: HeapMap): string {
  const { cells, rows, cellBytes } = mapCells(map);
  const width = AXIS_W + MAP_COLUMNS * CELL_W + 4;
  const height = TOP + rows * CELL_H + 4;
  const parts: string[] = [];
  parts.push(
    `<svg class="heapmap" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
      `role="img" aria-label="${esc(`heap map of ${map.label} at the peak`)}">`,
  );
  parts.push(
    `<rect x="${AXIS_W}" y="${TOP}" width="${MAP_COLUMNS * CELL_W}" height="${rows * CELL_H}" fill="#ffffff"/>`,
  );
  const colors = KINDS.map((k) => KIND_COLORS[k]);
  for (let row = 0; row < rows; row++) {
    const y = TOP + row * CELL_H;
    let c = 0;
    while (c < MAP_COLUMNS) {
      const k = cells[row * MAP_COLUMNS + c];
      let e = c + 1;
      while (e < MAP_COLUMNS && cells[row * MAP_COLUMNS + e] === k) e++;
      if (k !== 255) {
        parts.push(
          `<rect x="${AXIS_W + c * CELL_W}" y="${y}" width="${(e - c) * CELL_W}" ` +
            `height="${CELL_H - 1}" fill="${colors[k]}"/>`,
        );
      }
      c = e;
    }
  }
  const rowBytes = cellBytes * MAP_COLUMNS;
  const labelEvery = Math.max(1, Math.ceil(rows / 8));
  for (let row = 0; row < rows; row += labelEvery) {
    parts.push(
      `<text x="${AXIS_W - 6}" y="${TOP + row * CELL_H + CELL_H}" text-anchor="end" ` +
        `font-size="10" fill="#555">${axisLabel(row * rowBytes)}</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("");
}
