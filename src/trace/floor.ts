/**
 * The footprint floor of a trace: the least peak footprint any allocator with a given block
 * layout can reach on it, whatever its placement. Pure: no Node API.
 *
 * Every live block occupies its span: the request, the bytes the layout puts before it (a
 * size word), rounded up to the block's alignment (at least the layout's granule) and to the
 * layout's smallest block. Live spans never overlap and all lie below the highest block end,
 * so at every moment the footprint is at least the sum of the live spans; the floor is the
 * highest such sum over the trace. An allocator's footprint minus the floor is what its
 * placement cost (fragmentation); the floor minus the live bytes is what its layout cost.
 *
 * The floor is exact as a bound when every block's span is a whole number of its alignment
 * and the blocks around it share that alignment (the traces here ask 16 of every block); a
 * trace that mixes alignments can, in principle, fit some blocks into the padding of others.
 */

import { isPowerOfTwo } from "../core/bits.js";
import { ArgumentRangeError } from "../core/errors.js";
import type { BlockLayout } from "../core/layout.js";
import { OP_ALLOC, OP_FREE, type Trace } from "./trace.js";

export type { BlockLayout } from "../core/layout.js";

/** Blocks with nothing before the pointer (metadata out of line), in multiples of 8. */
export const NO_HEADER_LAYOUT: BlockLayout = Object.freeze({ header: 0, granule: 8, minBlock: 8 });

/** The floor of a trace for one block layout, and the live bytes it compares with. */
export interface FootprintFloor {
  /** The highest sum of live spans (bytes). */
  readonly floorBytes: number;
  /** The highest sum of live requested sizes (bytes), as `traceStats` counts it. */
  readonly peakLiveBytes: number;
  /** floorBytes / peakLiveBytes (1 for a trace that allocates nothing). */
  readonly ratio: number;
}

/**
 * The span of a block of `size` bytes aligned to `align` under `layout`.
 *
 * @throws {@link ArgumentRangeError} `ERR_LAYOUT` for a layout whose header or smallest block
 *   is not a non-negative integer, or whose granule is not a power of two
 */
export function blockSpan(size: number, align: number, layout: BlockLayout): number {
  checkBlockLayout(layout);
  return spanOf(size, align, layout);
}

function spanOf(size: number, align: number, layout: BlockLayout): number {
  const a = Math.max(align, layout.granule);
  const span = Math.ceil((size + layout.header) / a) * a;
  return Math.max(span, layout.minBlock);
}

function checkBlockLayout(layout: BlockLayout): void {
  const { header, granule, minBlock } = layout;
  if (
    !(Number.isSafeInteger(header) && header >= 0) ||
    !(Number.isSafeInteger(minBlock) && minBlock >= 0) ||
    !(Number.isSafeInteger(granule) && isPowerOfTwo(granule))
  ) {
    throw new ArgumentRangeError(
      `block layout: header ${header} and smallest block ${minBlock} must be integers ≥ 0, ` +
        `granule ${granule} a power of two`,
      "ERR_LAYOUT",
    );
  }
}

/**
 * The footprint floor of `trace` under `layout`. A resize keeps the block's alignment and
 * changes its span to the new size's. O(ops), one pass, no allocator.
 *
 * @throws {@link ArgumentRangeError} `ERR_LAYOUT` for a bad layout (as `blockSpan`)
 */
export function footprintFloor(trace: Trace, layout: BlockLayout): FootprintFloor {
  checkBlockLayout(layout);
  const { op, id, size, align, count } = trace;
  const sizes = new Float64Array(trace.idCount);
  const spans = new Float64Array(trace.idCount);
  const aligns = new Uint32Array(trace.idCount);
  let live = 0;
  let peakLive = 0;
  let used = 0;
  let floor = 0;
  for (let i = 0; i < count; i++) {
    const k = op[i];
    const b = id[i];
    if (k === OP_FREE) {
      live -= sizes[b];
      used -= spans[b];
      sizes[b] = 0;
      spans[b] = 0;
      continue;
    }
    if (k === OP_ALLOC) aligns[b] = align[i];
    const span = spanOf(size[i], aligns[b], layout);
    live += size[i] - sizes[b];
    used += span - spans[b];
    sizes[b] = size[i];
    spans[b] = span;
    if (live > peakLive) peakLive = live;
    if (used > floor) floor = used;
  }
  return {
    floorBytes: floor,
    peakLiveBytes: peakLive,
    ratio: peakLive === 0 ? 1 : floor / peakLive,
  };
}
