/**
 * Attaching a PoolAllocator handle to a pool already in a memory: the configuration read
 * from the header (validated read-only), and the check that the header describes exactly the
 * pool a handle computed from it. The strategy and its costs: allocator.ts.
 */

import { ArgumentTypeError, HeapIncompatibleError } from "../../core/errors.js";
import {
  H_CONFIG,
  H_DATA_START,
  H_META_BYTES,
  headerOffset,
  SLOT_BYTES,
  StrategyKind,
  validateHeader,
} from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import { MAX_BLOCK_SIZE, MAX_BLOCKS, MAX_POOL_BYTES, POOL_HEADER, POOL_LAYOUT } from "./layout.js";

const { BLOCK_SIZE, NUM_BLOCKS, BASE, BLOCK_ALIGN } = POOL_HEADER.slot;

/** A pool's shape as its header states it. */
export interface PoolShape {
  readonly blockSize: number;
  readonly numBlocks: number;
}

/**
 * The block size and count of the pool in `memory`, from its header; throws
 * HeapIncompatibleError when the bytes are not a pool or its configuration is out of range,
 * and ArgumentTypeError for an offset-only memory (it has no header to read).
 */
export function readPoolShape(memory: Memory): PoolShape {
  if (!memory.hasBytes) {
    throw new ArgumentTypeError("PoolAllocator: an offset-only memory has no heap to attach to");
  }
  memory.refresh();
  const f = memory.f64;
  const slot0 = headerOffset(memory.start) / SLOT_BYTES;
  validateHeader(f, slot0, StrategyKind.pool, "PoolAllocator");
  checkLayout(f, slot0);
  const size = f[slot0 + BLOCK_SIZE];
  const n = f[slot0 + NUM_BLOCKS];
  if (!(Number.isSafeInteger(size) && size >= 8 && size <= MAX_BLOCK_SIZE && size % 8 === 0)) {
    throw new HeapIncompatibleError(
      `PoolAllocator: header block size ${size} is not a multiple of 8 in 8 … 2^31`,
      "ERR_HEAP_CONFIG",
    );
  }
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= MAX_BLOCKS && n * size <= MAX_POOL_BYTES)) {
    throw new HeapIncompatibleError(
      `PoolAllocator: header block count ${n} is not in 1 … 2^29 (or the blocks exceed 4 GiB)`,
      "ERR_HEAP_CONFIG",
    );
  }
  return { blockSize: size, numBlocks: n };
}

/** What a handle computed for the pool it attached to. */
export interface PoolHandleConfig {
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly base: number;
  readonly blockAlign: number;
  readonly metaBytes: number;
  readonly dataStart: number;
}

/**
 * The header's CONFIG slot must name this layout of the pool's slots and words: a pool laid
 * out otherwise would be misread. Throws HeapIncompatibleError `ERR_HEAP_CONFIG`; reads only.
 */
function checkLayout(slots: Float64Array, slot0: number): void {
  const layout = slots[slot0 + H_CONFIG];
  if (layout !== POOL_LAYOUT) {
    throw new HeapIncompatibleError(
      `PoolAllocator: the pool here has header layout ${layout}, not ${POOL_LAYOUT} ` +
        `(made by another version of memkit)`,
      "ERR_HEAP_CONFIG",
    );
  }
}

/** On attach: the header at `slots[slot0 …]` must describe exactly the pool `c` computed. */
export function checkAttachedConfig(slots: Float64Array, slot0: number, c: PoolHandleConfig): void {
  checkLayout(slots, slot0);
  if (
    slots[slot0 + BLOCK_SIZE] !== c.blockSize ||
    slots[slot0 + NUM_BLOCKS] !== c.numBlocks ||
    slots[slot0 + BASE] !== c.base ||
    slots[slot0 + BLOCK_ALIGN] !== c.blockAlign ||
    slots[slot0 + H_META_BYTES] !== c.metaBytes ||
    slots[slot0 + H_DATA_START] !== c.dataStart
  ) {
    throw new HeapIncompatibleError(
      `PoolAllocator: the pool in this memory has blocks of ${slots[slot0 + BLOCK_SIZE]} × ` +
        `${slots[slot0 + NUM_BLOCKS]} at ${slots[slot0 + BASE]}, not ${c.blockSize} × ${c.numBlocks} ` +
        `at ${c.base}`,
      "ERR_HEAP_CONFIG",
    );
  }
}
