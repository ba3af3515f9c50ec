/**
 * What the SlabAllocator's constructor decides before BaseAllocator runs: the options of a
 * new slab (and its metadata block, taken from the parent), or the configuration of the
 * slab being attached to, validated read-only.
 */

import type { Allocator } from "../../core/allocator.js";
import { isPowerOfTwo, log2Floor } from "../../core/bits.js";
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
  PAGE_ALIGN,
} from "./classes.js";
import {
  CLASSES,
  DEFAULT_EMPTY_PAGES_PER_CLASS,
  DEFAULT_MAX_SMALL,
  DEFAULT_MIN_PAGE_SIZE,
  DEFAULT_PAGE_SIZE,
  EMPTY_LIMIT,
  MAX_EMPTY_PAGES_PER_CLASS,
  META_AT,
  MIN_PAGE,
  metadataBytes,
  PAGE_SIZE,
  SLAB_HEADER,
  TABLE_FIRST,
  TABLE_SHIFT,
} from "./layout.js";

/** Options of {@link SlabAllocator}. */
export interface SlabOptions {
  /**
   * The largest page size: a power of two, 1024 … 65536 (default 16384). A class's page
   * size is the smallest power of two from `minPageSize` up, at most this, whose page holds
   * 8 blocks (slab/classes.ts).
   */
  pageSize?: number;
  /** The smallest page size: a power of two, 1024 … pageSize (default min(4096, pageSize)). */
  minPageSize?: number;
  /**
   * Requests up to this many bytes use size classes; larger ones go to the parent. Rounded
   * down to a class; 8 … min(2048, pageSize / 4). Default min(1024, pageSize / 8): the
   * classes above 1024 would sit in 16 KiB pages of 7 to 12 blocks, which a program with few
   * such blocks pays for in whole pages (the parent fits them closer).
   */
  maxSmall?: number;
  /**
   * Empty pages each class keeps rather than giving them back (default 1; 0 … 65536): its
   * current page when that is its only partial page, and the pages of its empty list.
   */
  emptyPagesPerClass?: number;
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

/** A page size option: a power of two, MIN_PAGE_SIZE … `max`. */
function checkPageSize(value: number, what: string, max: number): number {
  checkOption(value, what, MIN_PAGE_SIZE, max);
  if (!isPowerOfTwo(value)) {
    throw new ArgumentRangeError(
      `SlabAllocator: ${what} must be a power of two, got ${value}`,
      "ERR_ALLOC_SIZE",
    );
  }
  return value;
}

/** What the constructor decided before BaseAllocator runs. */
export interface SlabPlan {
  metaAt: number;
  pageSize: number;
  minPageSize: number;
  classCount: number;
  emptyLimit: number;
  attach: boolean;
}

export function planNew(parent: Allocator, options: SlabOptions): SlabPlan {
  const pageSize = checkPageSize(options.pageSize ?? DEFAULT_PAGE_SIZE, "pageSize", MAX_PAGE_SIZE);
  const minPageSize = checkPageSize(
    options.minPageSize ?? Math.min(DEFAULT_MIN_PAGE_SIZE, pageSize),
    "minPageSize",
    pageSize,
  );
  const maxSmall = checkOption(
    options.maxSmall ?? Math.min(DEFAULT_MAX_SMALL, pageSize / 8),
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
  const metaAt = parent.alloc(bytes, PAGE_ALIGN);
  if (metaAt === 0) {
    throw new ArgumentRangeError(
      `SlabAllocator: the parent has no room for ${bytes} bytes of metadata`,
      "ERR_MEMORY",
    );
  }
  return { metaAt, pageSize, minPageSize, classCount, emptyLimit, attach: false };
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
  const minPageSize = f[slot0 + MIN_PAGE];
  const classCount = f[slot0 + CLASSES];
  const emptyLimit = f[slot0 + EMPTY_LIMIT];
  if (
    !(
      isPowerOfTwo(pageSize) &&
      pageSize >= MIN_PAGE_SIZE &&
      pageSize <= MAX_PAGE_SIZE &&
      isPowerOfTwo(minPageSize) &&
      minPageSize >= MIN_PAGE_SIZE &&
      minPageSize <= pageSize &&
      Number.isInteger(classCount) &&
      classCount >= 1 &&
      classCount <= CLASS_COUNT &&
      Number.isSafeInteger(emptyLimit) &&
      emptyLimit >= 0 &&
      f[slot0 + META_AT] === metaAt &&
      f[slot0 + H_META_BYTES] === metadataBytes(classCount) &&
      f[slot0 + TABLE_SHIFT] === tableShiftFor(minPageSize) &&
      f[slot0 + TABLE_FIRST] === Math.floor(memory.start / 2 ** tableShiftFor(minPageSize))
    )
  ) {
    throw new HeapIncompatibleError(
      `SlabAllocator: the slab header at ${metaAt} has a configuration this memory cannot hold`,
      "ERR_HEAP_CONFIG",
    );
  }
  return { metaAt, pageSize, minPageSize, classCount, emptyLimit, attach: true };
}

/** log2 of the bytes one page-table entry covers: half the smallest page size (layout.ts). */
export function tableShiftFor(minPageSize: number): number {
  return log2Floor(minPageSize) - 1;
}
