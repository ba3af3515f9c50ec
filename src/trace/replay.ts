/**
 * Replays a parsed trace against any allocator and reports what it cost: time per
 * operation, failures, and the peak footprint against the peak of live bytes (the
 * fragmentation figure of WORKLOADS.md). Pure: no Node API, runs in browsers too.
 *
 * With `verify`, every block is painted with a pattern of the operation that made it and
 * the pattern is checked before the block is freed or resized (a resize keeps min(old, new)
 * bytes), zeroed allocations are checked to be zero, `check()` runs every `checkEvery`
 * operations, and at the end every block is freed and the heap must be empty.
 */

import type { Allocator } from "../core/allocator.js";
import { OP_ALLOC, OP_FREE, type Trace } from "./trace.js";

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Paint and verify every block, check zero fills, run `check()` at intervals. */
  readonly verify?: boolean;
  /** Operations between two `check()` calls when verifying (default 50,000). */
  readonly checkEvery?: number;
  /** Free the blocks still live at the end of the trace (default true). */
  readonly freeAtEnd?: boolean;
  /** Called every `progressEvery` operations (default 100,000). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Operations between two `onProgress` calls (default 100,000). */
  readonly progressEvery?: number;
  /** Replay only the first `ops` operations (default all of them). */
  readonly ops?: number;
  /**
   * Where the replay keeps each id's block (pointer and requested size, 0 when none is
   * live), so that a caller can read the blocks still live afterwards; each array holds at
   * least `trace.idCount` numbers, all 0. Default: arrays of its own.
   */
  readonly blocks?: ReplayBlocks;
}

/** The replay's blocks by trace id: `ptrs[id]` (0 when not live) and `sizes[id]`. */
export interface ReplayBlocks {
  /** The block of each trace id, 0 when it is not live. */
  readonly ptrs: Float64Array;
  /** The size asked for each trace id's block. */
  readonly sizes: Float64Array;
}

/** What {@link replay} measured. */
export interface ReplayResult {
  /** The trace's name. */
  readonly trace: string;
  /** Operations replayed. */
  readonly ops: number;
  /** Allocations and reallocations that returned 0. */
  readonly failures: number;
  /** Wall-clock time of the replay loop (the loop's own work included). */
  readonly elapsedMs: number;
  /** `elapsedMs` per operation, in nanoseconds. */
  readonly nsPerOp: number;
  /** The highest sum of requested sizes alive at once. */
  readonly peakLiveBytes: number;
  /** The highest end of any block, from the start of the allocator's region. */
  readonly peakFootprint: number;
  /** peakFootprint / peakLiveBytes: 1.0 is perfect. */
  readonly footprintRatio: number;
}

/** A block's contents were wrong during a verifying replay: the allocator lost or overlapped bytes. */
export class ReplayVerifyError extends Error {
  /**
   * @param opIndex - the operation at which the damage was seen
   * @param message - what was wrong
   */
  constructor(
    /** The 0-based index of the operation at which the damage was seen. */
    readonly opIndex: number,
    message: string,
  ) {
    super(`op ${opIndex}: ${message}`);
    this.name = "ReplayVerifyError";
  }
}

function pattern(op: number): number {
  return Math.imul(op + 1, 0x9e3779b1) | 0;
}

function paint(u8: Uint8Array, i32: Int32Array, ptr: number, size: number, tag: number): void {
  if ((ptr & 3) === 0) {
    const words = size >>> 2;
    i32.fill(tag, ptr >>> 2, (ptr >>> 2) + words);
    u8.fill(tag & 0xff, ptr + words * 4, ptr + size);
  } else {
    u8.fill(tag & 0xff, ptr, ptr + size);
  }
}

function verify(u8: Uint8Array, i32: Int32Array, ptr: number, size: number, tag: number): number {
  if ((ptr & 3) === 0) {
    const w0 = ptr >>> 2;
    const words = size >>> 2;
    for (let w = 0; w < words; w++) if (i32[w0 + w] !== tag) return w * 4;
    const b = tag & 0xff;
    for (let i = words * 4; i < size; i++) if (u8[ptr + i] !== b) return i;
    return -1;
  }
  const b = tag & 0xff;
  for (let i = 0; i < size; i++) if (u8[ptr + i] !== b) return i;
  return -1;
}

/**
 * Replays a trace against an allocator: every allocation, free and resize in order, with
 * the failures, time and peak footprint it took.
 *
 * @param trace - a parsed trace ({@link parseTrace}, or `RecordingAllocator.trace()`)
 * @param a - the allocator; it should be empty, and large enough or growable
 * @param options - verify the blocks' contents, free what is left at the end, progress
 * @returns what was measured
 * @throws {@link ReplayVerifyError} with `verify`, when a block's contents were damaged
 * @throws {@link HeapCorruptedError} `ERR_HEAP_CORRUPTED` when the allocator's check fails
 */
export function replay(trace: Trace, a: Allocator, options: ReplayOptions = {}): ReplayResult {
  const checking = options.verify === true && a.memory.hasBytes;
  const checkEvery = options.checkEvery ?? 50_000;
  const progressEvery = options.progressEvery ?? 100_000;
  const onProgress = options.onProgress;
  const { op, id, size, align, zeroed } = trace;
  const count = Math.min(options.ops ?? trace.count, trace.count);
  const ptrs = options.blocks?.ptrs ?? new Float64Array(trace.idCount);
  const sizes = options.blocks?.sizes ?? new Float64Array(trace.idCount);
  const tags = new Int32Array(trace.idCount);
  const base = a.memory.start;
  let failures = 0;
  let live = 0;
  let peakLive = 0;
  let peakEnd = 0;
  const mem = a.memory;
  const fail = (i: number, why: string): never => {
    throw new ReplayVerifyError(i, why);
  };
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const k = op[i];
    const b = id[i];
    if (k === OP_ALLOC) {
      const n = size[i];
      const p = zeroed[i] === 1 ? a.allocZeroed(n, align[i]) : a.alloc(n, align[i]);
      if (p === 0) {
        failures++;
        continue;
      }
      ptrs[b] = p;
      sizes[b] = n;
      live += n;
      if (live > peakLive) peakLive = live;
      if (p + n > peakEnd) peakEnd = p + n;
      if (checking) {
        if (p % align[i] !== 0) fail(i, `alloc(${n}, ${align[i]}) = ${p} is misaligned`);
        if (zeroed[i] === 1) {
          mem.refresh();
          for (let j = 0; j < n; j++)
            if (mem.u8[p + j] !== 0) fail(i, `allocZeroed(${n}) = ${p}: byte ${j} is not 0`);
        }
        tags[b] = pattern(i);
        mem.refresh();
        paint(mem.u8, mem.i32, p, n, tags[b]);
      }
    } else if (k === OP_FREE) {
      const p = ptrs[b];
      if (p === 0) continue; // its allocation failed
      if (checking) {
        mem.refresh();
        const bad = verify(mem.u8, mem.i32, p, sizes[b], tags[b]);
        if (bad >= 0)
          fail(i, `block ${b} at ${p} (size ${sizes[b]}) lost its paint at byte ${bad}`);
      }
      a.dealloc(p);
      live -= sizes[b];
      ptrs[b] = 0;
    } else {
      const n = size[i];
      const p = ptrs[b];
      if (checking && p !== 0) {
        mem.refresh();
        const bad = verify(mem.u8, mem.i32, p, sizes[b], tags[b]);
        if (bad >= 0) fail(i, `block ${b} at ${p} lost its paint at byte ${bad} before realloc`);
      }
      const q = p === 0 ? a.alloc(n, 16) : a.realloc(p, n, 16);
      if (q === 0) {
        failures++;
        continue;
      }
      live += n - (p === 0 ? 0 : sizes[b]);
      if (live > peakLive) peakLive = live;
      if (q + n > peakEnd) peakEnd = q + n;
      if (checking) {
        mem.refresh();
        const keep = Math.min(n, sizes[b]);
        if (p !== 0) {
          const bad = verify(mem.u8, mem.i32, q, keep & ~3, tags[b]);
          if (bad >= 0) fail(i, `realloc(${p}, ${n}) = ${q} did not keep byte ${bad}`);
        }
        tags[b] = pattern(i);
        paint(mem.u8, mem.i32, q, n, tags[b]);
      }
      ptrs[b] = q;
      sizes[b] = n;
    }
    if (checking && i % checkEvery === checkEvery - 1) a.check();
    if (onProgress !== undefined && i % progressEvery === progressEvery - 1)
      onProgress(i + 1, count);
  }
  const elapsedMs = performance.now() - t0;
  if (options.freeAtEnd !== false) {
    for (let b = 0; b < ptrs.length; b++) {
      const p = ptrs[b];
      if (p === 0) continue;
      if (checking) {
        mem.refresh();
        const bad = verify(mem.u8, mem.i32, p, sizes[b], tags[b]);
        if (bad >= 0)
          fail(count, `block ${b} at ${p} lost its paint at byte ${bad} before the final free`);
      }
      a.dealloc(p);
      ptrs[b] = 0;
    }
    if (checking) {
      a.check();
      const s = a.stats();
      if (s.liveBlocks !== 0 || s.inUse !== 0) {
        fail(
          count,
          `after freeing everything: ${s.liveBlocks} live blocks, ${s.inUse} bytes in use`,
        );
      }
    }
  }
  if (onProgress !== undefined) onProgress(count, count);
  const peakFootprint = peakEnd === 0 ? 0 : peakEnd - base;
  return {
    trace: trace.name,
    ops: count,
    failures,
    elapsedMs,
    nsPerOp: (elapsedMs * 1e6) / Math.max(1, count),
    peakLiveBytes: peakLive,
    peakFootprint,
    footprintRatio: peakLive === 0 ? 1 : peakFootprint / peakLive,
  };
}
