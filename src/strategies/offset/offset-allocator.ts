/**
 * OffsetAllocator: suballocation of a range of offsets whose bytes the allocator never
 * touches: a GPU buffer, a file, a region of another process. Blocks of any size, freed in
 * any order, in O(1), with every piece of metadata out of line. The reference design is
 * Sebastian Aaltonen's OffsetAllocator (C++, MIT): TLSF's two-level bins over a pool of
 * out-of-line nodes that also link the blocks in address order for merging. memkit's version
 * uses TLSF's finer bins (`bins.ts`), frees by offset alone through a live table
 * (`live-table.ts`), serves alignments up to 64 KiB, and grows its node pool and a growable
 * memory on demand.
 *
 * Choose it for an `OffsetMemory` (the only strategy besides Buddy, Pool and Bump that runs
 * on one) when sizes vary: Buddy rounds every block to a power of two. On a memory with bytes
 * it works too, and no block ever has a header or footer beside it, so a user overflow
 * cannot reach the allocator's books; TLSF is faster there and needs no out-of-line memory.
 *
 * ## Memory picture
 *
 *     memory with bytes:  start                                                           end
 *                         | common header (64 B) | pad | block | block | … | block | < 8 B |
 *                                                      ^ FIRST (16-aligned)          ^ END
 *     offset-only:        0                                                               end
 *                         | null (8) | pad (8) | block | block | … | block | < 8 B |
 *
 * Nothing else lies in the region: no size words, no links, no footers. The common header
 * (magic, kind, poison state) sits in-band on a memory with bytes, below every block, as for
 * every memkit strategy; on an offset-only memory it is out of line too. Offset 0 means null,
 * so a region starting at 0 never hands out its first granule. Out of line, in `Int32Array`s:
 *
 *     state record   FIRST, END, HEAD, TAIL, counters, bitmaps, bin heads   kernel.ts
 *     node pool      8 words per block: offset, size, bin links,            nodes.ts
 *                    neighbour links, bin, state
 *     spare stack    indices of nodes not describing a block now            nodes.ts
 *     live table     (offset, node) slots of every used block               live-table.ts
 *
 * Sizes are rounded up to the granule (8 bytes); a request aligned to 16 is rounded to 16
 * and, because FIRST is 16-aligned, a heap asked only for 16 keeps every block 16-aligned
 * with no padding (glibc does the same). A larger alignment takes a block with room for the
 * padding and leaves the padding as a free block before it.
 *
 * ## Cost
 * | operation     | best | worst     | notes                                                  |
 * | ------------- | ---- | --------- | ------------------------------------------------------ |
 * | alloc         | O(1) | O(1)*     | ≤ 8 nodes of one bin, two bitmap scans (`Math.clz32`), |
 * |               |      |           | one split                                              |
 * | dealloc       | O(1) | O(1)†     | live-table lookup, merge with both neighbours          |
 * | realloc       | O(1) | O(1) + copy | in place when shrinking, into a free next block, or  |
 * |               |      |           | at the end of a growable memory                        |
 * | reset         | O(N) | O(N)      | N = nodes and table slots ever used                    |
 * | growth        | O(1) | O(1)      | new space joins the last block                         |
 * | check, report | O(N) | O(N)      | not on the hot path                                    |
 * | bad pointer   | O(N) | O(N)      | naming the error (double free or interior) walks nodes |
 *
 * \* amortised: the node pool doubles (one copy) when full; `nodeCapacity` sizes it up front.
 * † expected: a lookup reads one or two adjacent slots (linear probing at load ≤ ½,
 *   Fibonacci hashing); the table doubles (one rehash) when half full.
 *
 * Fragmentation: good fit from 800 bins whose blocks differ by at most 1/32 of their size,
 * split exactly (the rest of a block goes back as a free block), and immediate coalescing:
 * no two free blocks are ever adjacent, so after freeing everything the region is one free
 * block again. Internal waste: the rounding to 8 (16 for 16-aligned requests).
 *
 * Metadata per block, all out of line: a node (32 bytes), a spare-stack slot (4 bytes) and,
 * for a used block, at least two live-table slots of 8 bytes (the table is at most half full
 * and never shrinks); none in the region.
 *
 * ## Invariants (`check()`, in check.ts)
 * The neighbour walk from HEAD tiles [FIRST, END) exactly, ending at TAIL, with symmetric
 * links; no two adjacent blocks are free; the counters match the walk. Every free block is on
 * exactly the bin its size maps to, with symmetric bin links, and the bitmaps mark exactly
 * the non-empty bins. The live table finds every used block by its offset, and holds nothing
 * else. Every node the pool handed out is a block of the walk or on the spare stack, never
 * both.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  InvalidPointerError,
} from "../../core/errors.js";
import { declareHeader, StrategyKind } from "../../core/header.js";
import {
  checkAlign,
  checkSizeFits,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
} from "../../core/validate.js";
import { type Memory, OffsetMemory } from "../../memory/memory.js";
import { BINS_PER_LEVEL_LOG2, GRANULE, GRANULE_LOG2, MAX_GRANULES } from "./bins.js";
import { checkKernel } from "./check.js";
import {
  END,
  FIRST,
  FREE_GRANULES,
  HEAD,
  LIVE,
  OffsetKernel,
  PEAK,
  USED_GRANULES,
} from "./kernel.js";
import {
  DEFAULT_NODE_CAPACITY,
  FREE,
  MAX_NODES,
  NEIGHBOR_NEXT,
  NODE_SHIFT,
  NONE,
  OFFSET,
  SIZE,
  STATE,
} from "./nodes.js";
import { type FreeSpaceReport, freeSpaceReport } from "./report.js";

// The hot path compares with a module-local constant (an imported binding is a load from its
// module cell on every use).
const ALIGN8 = 8;
if (ALIGN8 !== DEFAULT_ALIGN) {
  throw new Error("offset-allocator.ts: local constants disagree with core/");
}

/** No header slots of its own: the books are in its side buffers (nodes.ts, live-table.ts). */
const OFFSET_HEADER = declareHeader([]);

/** FIRST is aligned to this; requests aligned up to it round their size to it instead. */
const FIRST_ALIGN = 16;

/** Nodes an operation may need: a split (alloc), a padding split (aligned), a new last block. */
const NODES_ALLOC = 1;
const NODES_ALIGNED = 2;
const NODES_GROWTH = 3;

export interface OffsetAllocatorOptions extends AllocatorOptions {
  /** Grow the memory when no free block fits (default: whenever the memory can grow). */
  grow?: boolean;
  /**
   * Nodes to make room for up front (default 256). The pool doubles when full, so this only
   * moves the copies out of the hot path: one node per block, free or used, is needed.
   */
  nodeCapacity?: number;
}

/** Granules for a request of `size` bytes (a uint32): at least one. */
function granulesFor(size: number): number {
  const g = (size >>> GRANULE_LOG2) + ((size & (GRANULE - 1)) !== 0 ? 1 : 0);
  return g === 0 ? 1 : g;
}

/**
 * Suballocates a range of offsets whose bytes it never touches: a GPU buffer, a file, a
 * region of another process. Blocks of any size and alignment, freed in any order, in O(1);
 * free neighbours merge at once. Every piece of its bookkeeping lives in typed arrays of its
 * own, so on a memory with bytes no block has a header beside it either. Offsets start at 16
 * (0 means out of memory).
 *
 * @example
 * ```ts
 * import { OffsetAllocator } from "memkit";
 *
 * const ranges = new OffsetAllocator(1 << 20); // offsets [0, 1 MiB) of a buffer kept elsewhere
 * const mesh = ranges.alloc(36); // an offset, 8-aligned; 0 = no room
 * const uniforms = ranges.alloc(64, 256); // 256-aligned, as uniform bindings need
 * console.log(uniforms % 256); // 0
 * ranges.dealloc(mesh);
 * ranges.dealloc(uniforms);
 * console.log(ranges.freeSpaceReport().freeBlocks); // 1: everything merged again
 * ```
 */
export class OffsetAllocator extends BaseAllocator {
  readonly name: string = "OffsetAllocator";

  private readonly growable: boolean;
  private readonly k: OffsetKernel;

  /**
   * `new OffsetAllocator(capacity)` manages the offsets [0, capacity) of an `OffsetMemory`
   * (blocks start at 16: 0 is null); `new OffsetAllocator(memory)` manages any `Memory`.
   *
   * @param memoryOrCapacity - the number of offsets to manage, or the memory to manage
   * @param options - see {@link OffsetAllocatorOptions}
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(memoryOrCapacity: Memory | number, options: OffsetAllocatorOptions = {}) {
    if (options.attach === true) {
      throw new ArgumentTypeError(
        "OffsetAllocator keeps its nodes in the handle, not in the memory: there is no heap " +
          "to attach to",
        "ERR_UNSUPPORTED",
      );
    }
    const memory =
      typeof memoryOrCapacity === "number"
        ? new OffsetMemory(0, memoryOrCapacity)
        : memoryOrCapacity;
    const nodeCapacity = options.nodeCapacity ?? DEFAULT_NODE_CAPACITY;
    if (!(Number.isSafeInteger(nodeCapacity) && nodeCapacity >= 1 && nodeCapacity < MAX_NODES)) {
      throw new ArgumentRangeError(
        `nodeCapacity must be an integer 1 … ${MAX_NODES - 1}, got ${nodeCapacity}`,
        "ERR_ALLOC_SIZE",
      );
    }
    super(
      memory,
      StrategyKind.offset,
      OFFSET_HEADER,
      0,
      BINS_PER_LEVEL_LOG2,
      false,
      "OffsetAllocator",
    );
    this.growable = options.grow ?? memory.maxEnd > memory.end;
    const firstByte = alignUp(this.dataStart, FIRST_ALIGN);
    if (
      Math.floor(memory.end / GRANULE) * GRANULE <= firstByte &&
      !(this.growable && memory.grow(firstByte + FIRST_ALIGN))
    ) {
      throw new ArgumentRangeError(
        `OffsetAllocator: region [${memory.start}, ${memory.end}) leaves no room for a block`,
        "ERR_MEMORY",
      );
    }
    this.syncViews();
    this.k = new OffsetKernel(firstByte / GRANULE, Math.floor(memory.end / GRANULE), nodeCapacity);
  }

  // ---- the contract ------------------------------------------------------------------------

  /** @inheritDoc Allocator.alloc */
  alloc(size: number, align: number = ALIGN8): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== ALIGN8) {
      if (!isValidAlign(align)) rejectAlign(align);
      if (align > ALIGN8) return this.allocAligned(size, align);
    }
    const g = granulesFor(size);
    if (g > MAX_GRANULES) return 0;
    const k = this.k;
    if (!k.reserve(NODES_ALLOC)) return 0;
    const n = k.findFreeBlock(g);
    if (n === NONE) return this.allocSlow(g);
    return k.take(n, g) * GRANULE;
  }

  /** @inheritDoc Allocator.dealloc */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    const n = this.usedBlockOf(ptr);
    if (size !== undefined) this.checkSize(ptr, n, size);
    this.release(n, ptr);
  }

  /** @inheritDoc Allocator.realloc */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    if (!isUint32(ptr)) rejectPointer(ptr);
    const n = this.usedBlockOf(ptr); // the pointer before the size: a freed one throws
    if (!this.checkReallocSize(newSize)) return 0;
    checkAlign(align);
    const k = this.k;
    const g = this.granulesAligned(newSize, align);
    if (g > MAX_GRANULES) return 0;
    const size = k.sizeOf(n);
    if (ptr % Math.max(align, ALIGN8) === 0) {
      if (g <= size) {
        // Without a node for the tail (the engine refused the memory) the block stays as is.
        if (g < size && k.reserve(NODES_ALLOC)) k.shrink(n, g);
        return ptr;
      }
      // A block with only free space after it grows in place by growing the memory.
      if (k.canGrowInPlace(n, g) || (k.reachesEnd(n) && this.growFor(g - size))) {
        k.growInPlace(n, g);
        return ptr;
      }
    }
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    if (this.memory.hasBytes) {
      this.memory.u8.copyWithin(to, ptr, ptr + Math.min(size * GRANULE, newSize));
    }
    this.release(n, ptr);
    return to;
  }

  /** @inheritDoc Allocator.usableSize */
  usableSize(ptr: number): number {
    this.enter();
    const n = this.usedBlockOf(ptr);
    return this.k.sizeOf(n) * GRANULE;
  }

  /** Frees every block: the heap is one free block again (the memory keeps its size). */
  reset(): void {
    this.enter();
    const s = this.k.s;
    this.k.initialise(s[FIRST], s[END]);
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const s = this.k.s;
    const capacity = this.memory.end - this.memory.start;
    const inUse = s[USED_GRANULES] * GRANULE;
    const free = s[FREE_GRANULES] * GRANULE;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: s[LIVE],
      peakInUse: Math.max(s[PEAK] * GRANULE, inUse),
      largestFree: this.k.largestServed() * GRANULE,
    };
  }

  /**
   * Total free bytes, the largest free block, and a histogram of the free blocks by bin
   * (OffsetAllocator's storage report). O(free blocks).
   */
  freeSpaceReport(): FreeSpaceReport {
    this.enter();
    return freeSpaceReport(this.k);
  }

  /** Nodes the pool holds now (it doubles when full). */
  get nodeCapacity(): number {
    return this.k.pool.capacity;
  }

  override metadataBytes(): Uint8Array {
    const parts: ArrayBufferView[] = [
      super.metadataBytes(),
      this.k.s,
      this.k.pool.counts,
      this.k.pool.words,
      this.k.pool.spare,
      this.k.table.counts,
      this.k.table.slots,
    ];
    let length = 0;
    for (const p of parts) length += p.byteLength;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      at += p.byteLength;
    }
    return out;
  }

  protected checkStrategy(): void {
    checkKernel(this.k, this.memory.end, (what) => this.corrupt(what));
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Granules for `size` bytes at `align`: rounded to the alignment up to FIRST_ALIGN. */
  private granulesAligned(size: number, align: number): number {
    const g = granulesFor(size);
    return align > ALIGN8 && align <= FIRST_ALIGN ? alignUp(g, align / GRANULE) : g;
  }

  /** alloc with align > 8. */
  private allocAligned(size: number, align: number): number {
    const k = this.k;
    const a = align / GRANULE;
    const g = this.granulesAligned(size, align);
    // Worst case the block starts a − 1 granules into the free block it is cut from.
    const search = g + a - 1;
    if (search > MAX_GRANULES) return 0;
    if (!k.reserve(NODES_ALIGNED)) return 0;
    // A block found for the size alone that happens to be aligned needs no padding (always
    // so for a heap that asks only for 16: every block size is a multiple of 16).
    let n = k.findFreeBlock(g);
    if (n !== NONE && (k.offsetOf(n) & (a - 1)) === 0) {
      return k.take(n, g) * GRANULE;
    }
    n = k.findFreeBlock(search);
    if (n === NONE) {
      if (!this.growFor(search)) return 0;
      n = k.findFreeBlock(search);
      if (n === NONE) return 0;
    }
    return k.takeAligned(n, g, a) * GRANULE;
  }

  /** alloc's slow path: grow the memory and retry, or answer out of memory. */
  private allocSlow(granules: number): number {
    if (!this.growFor(granules)) return 0;
    const n = this.k.findFreeBlock(granules);
    return n === NONE ? 0 : this.k.take(n, granules) * GRANULE;
  }

  /**
   * Grows a growable memory so that a free block of `granules` exists at the end (and adopts
   * growth someone else made). False, changing nothing the allocator reports, if it cannot.
   */
  private growFor(granules: number): boolean {
    if (!this.growable) return false;
    const k = this.k;
    const end = k.s[END];
    const want = (end + granules - k.freeAtEnd()) * GRANULE;
    if (!(want <= this.memory.maxEnd) || !k.reserve(NODES_GROWTH)) return false;
    if (!this.memory.grow(want)) return false;
    this.syncViews();
    const newEnd = Math.floor(this.memory.end / GRANULE);
    if (newEnd <= end) return false;
    k.extend(newEnd);
    return true;
  }

  /** Frees used block `n` (at `ptr`); poisons the heap if its books disagree. */
  private release(n: number, ptr: number): void {
    if (!this.k.release(n)) this.corrupt(`block ${ptr} is live but missing from the live table`);
  }

  /** The used block at `ptr`; throws, changing nothing, for anything else. */
  private usedBlockOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const s = this.k.s;
    const first = s[FIRST] * GRANULE;
    const end = s[END] * GRANULE;
    if ((ptr & (GRANULE - 1)) !== 0 || ptr < first || ptr >= end) {
      throw new InvalidPointerError(
        `invalid pointer ${ptr}: not an 8-aligned offset inside this OffsetAllocator's ` +
          `blocks [${first}, ${end})`,
      );
    }
    const n = this.k.usedBlockAt(ptr / GRANULE);
    if (n !== NONE) return n;
    return this.rejectNotLive(ptr);
  }

  /**
   * Throws the error for an aligned offset inside the heap that starts no used block: a
   * double free when it lies in a free block (freed already, or never handed out), else an
   * interior pointer. Walks the blocks in address order: O(N), on the error path only.
   */
  private rejectNotLive(ptr: number): never {
    const k = this.k;
    const w = k.pool.words;
    const g = ptr / GRANULE;
    let n = k.s[HEAD];
    for (let i = 0; n !== NONE && i <= k.pool.top; i++) {
      const at = n << NODE_SHIFT;
      const start = w[at + OFFSET];
      const size = w[at + SIZE];
      if (g < start + size) {
        if (w[at + STATE] === FREE) {
          throw new DoubleFreeError(
            `pointer ${ptr} is not allocated: it lies in the free block at ` +
              `${start * GRANULE} of ${size * GRANULE} bytes (freed already, or never handed out)`,
          );
        }
        throw new InvalidPointerError(
          `invalid pointer ${ptr}: inside the live block at ${start * GRANULE} of ` +
            `${size * GRANULE} bytes, not its start`,
        );
      }
      n = w[at + NEIGHBOR_NEXT];
    }
    throw new InvalidPointerError(`invalid pointer ${ptr}: not the start of a live block`);
  }

  private checkSize(ptr: number, n: number, size: number): void {
    checkSizeFits(ptr, size, this.k.sizeOf(n) * GRANULE);
  }
}
