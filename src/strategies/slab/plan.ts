/**
 * What the SlabAllocator's constructor decides before BaseAllocator runs: the options of a
 * new slab (and its metadata block, taken from the parent), or the configuration of the
 * slab being attached to, validated read-only.
 */

import type { Allocator } from "../../core/allocator.js";
import { isPowerOfTwo } from "../../core/bits.js";
import { ArgumentRangeError, ArgumentTypeError, HeapIncompatibleError } from "../../core/errors.js";
import { H_META_BYTES, SLOT_BYTES, StrategyKind, validateHeader } from "../../core/header.js";
import { isUint32 } from "../../core/validate.js";
import {
  CLASS_COUNT,
  classAtMost,
  MAX_CLASS_SIZE,
  MAX_PAGE_SIZE,
  MIN_CLASS_SIZE,
  MIN_PAGE_SIZE,
} from "./classes.js";
import {
  CLASSES,
  DEFAULT_EMPTY_PAGES_PER_CLASS,
  DEFAULT_PAGE_SIZE,
  EMPTY_LIMIT,
  MAX_EMPTY_PAGES_PER_CLASS,
  META_AT,
  metadataBytes,
  PAGE_SIZE,
  SLAB_HEADER,
  TABLE_FIRST,
} from "./layout.js";

export interface SlabOptions {
  /** Bytes per page: a power of two, 1024 … 65536 (default 16384). */
  pageSize?: number;
  /**
   * Requests up to this many bytes use size classes; larger ones go to the parent. Rounded
   * down to a class; 8 … min(2048, pageSize / 4). Default min(2048, pageSize / 8).
   */
  maxSmall?: number;
  /** Empty pages each class keeps rather than giving them back (default 1; 0 … 65536). */
  emptyPagesPerClass?: number;
}

export function isAllocator(x: unknown): x is Allocator {
  const a = x as Allocator | null;
  return (
    typeof a === "object" &&
    a !== null &&
    typeof a.alloc === "function" &&
    typeof a.dealloc === "function" &&
    typeof a.stats === "function" &&
    typeof a.memory === "object"
  );
}

export function checkOption(value: number, what: string, min: number, max: number): number {
  if (typeof value !== "number")
    throw new ArgumentTypeError(`SlabAllocator: ${what} must be a number`);
  if (!(Number.isSafeInteger(value) && value >= min && value <= max)) {
    throw new ArgumentRangeError(
      `SlabAllocator: ${what} must be an integer ${min} … ${max}, got ${value}`,
      "ERR_ALLOC_SIZE",
    );
  }
  return value;
}

/** What the constructor decided before BaseAllocator runs. */
export interface SlabPlan {
  metaAt: number;
  pageSize: number;
  classCount: number;
  emptyLimit: number;
  attach: boolean;
}

export function planNew(parent: Allocator, options: SlabOptions): SlabPlan {
  const pageSize = checkOption(
    options.pageSize ?? DEFAULT_PAGE_SIZE,
    "pageSize",
    MIN_PAGE_SIZE,
    MAX_PAGE_SIZE,
  );
  if (!isPowerOfTwo(pageSize)) {
    throw new ArgumentRangeError(
      `SlabAllocator: pageSize must be a power of two, got ${pageSize}`,
      "ERR_ALLOC_SIZE",
    );
  }
  const maxSmall = checkOption(
    options.maxSmall ?? Math.min(MAX_CLASS_SIZE, pageSize / 8),
    "maxSmall",
    MIN_CLASS_SIZE,
    Math.min(MAX_CLASS_SIZE, pageSize / 4),
  );
  const emptyLimit = checkOption(
    options.emptyPagesPerClass ?? DEFAULT_EMPTY_PAGES_PER_CLASS,
    "emptyPagesPerClass",
    0,
    MAX_EMPTY_PAGES_PER_CLASS,
  );
  const classCount = classAtMost(maxSmall) + 1;
  const bytes = metadataBytes(classCount);
  const metaAt = parent.alloc(bytes, SLOT_BYTES);
  if (metaAt === 0) {
    throw new ArgumentRangeError(
      `SlabAllocator: the parent has no room for ${bytes} bytes of metadata`,
      "ERR_MEMORY",
    );
  }
  return { metaAt, pageSize, classCount, emptyLimit, attach: false };
}

export function planAttach(parent: Allocator, metaAt: number): SlabPlan {
  const memory = parent.memory;
  memory.refresh();
  if (
    !(
      isUint32(metaAt) &&
      metaAt % SLOT_BYTES === 0 &&
      metaAt >= memory.start &&
      metaAt + SLAB_HEADER.bytes <= memory.end
    )
  ) {
    throw new HeapIncompatibleError(
      `SlabAllocator: no slab metadata can be at ${metaAt} (not an 8-aligned address with room for a header)`,
    );
  }
  const f = memory.f64;
  const slot0 = metaAt / SLOT_BYTES;
  validateHeader(f, slot0, StrategyKind.slab, "SlabAllocator");
  const pageSize = f[slot0 + PAGE_SIZE];
  const classCount = f[slot0 + CLASSES];
  const emptyLimit = f[slot0 + EMPTY_LIMIT];
  if (
    !(
      isPowerOfTwo(pageSize) &&
      pageSize >= MIN_PAGE_SIZE &&
      pageSize <= MAX_PAGE_SIZE &&
      Number.isInteger(classCount) &&
      classCount >= 1 &&
      classCount <= CLASS_COUNT &&
      Number.isSafeInteger(emptyLimit) &&
      emptyLimit >= 0 &&
      f[slot0 + META_AT] === metaAt &&
      f[slot0 + H_META_BYTES] === metadataBytes(classCount) &&
      f[slot0 + TABLE_FIRST] === Math.floor(memory.start / pageSize)
    )
  ) {
    throw new HeapIncompatibleError(
      `SlabAllocator: the slab header at ${metaAt} has a configuration this memory cannot hold`,
      "ERR_HEAP_CONFIG",
    );
  }
  return { metaAt, pageSize, classCount, emptyLimit, attach: true };
}
