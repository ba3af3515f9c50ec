/**
 * PoolAllocator: N blocks of one size. Any free block serves any request that fits, so
 * allocation and release are O(1) and there is no external fragmentation.
 *
 * Choose it for many objects of one size that come and go in any order: nodes of a tree or
 * a list, particles, messages, entities. For many sizes use a slab (pools per size class);
 * for variable sizes a general allocator (TLSF). From the seeds: Vais Pool (`new(block_size,
 * num_blocks)`, `alloc`, `dealloc`, `num_free_blocks`, `num_allocated`, `drop`; LIFO reuse)
 * and acid_alloc's Slab (no per-block header, blocks carved on demand).
 *
 * Blocks are the block size rounded up to 8, aligned to its largest power-of-two divisor (at
 * most 4096); layout.ts has the rules and the memory picture:
 *
 *     | header + pool words | free stack | live bitmap | pad | block 0 | … | block N−1 |
 *
 * ## Cost
 * | operation              | best | worst | notes                                            |
 * | ---------------------- | ---- | ----- | ------------------------------------------------ |
 * | creation               | O(1) | O(1)  | nothing is linked up front; an owned buffer is    |
 * |                        |      |       | zero-filled by the engine                         |
 * | alloc / allocBlock     | O(1) | O(1)  | pop the free stack, else carve block CARVED       |
 * |                        |      |       | (+ growth of a growable memory, amortised O(1))   |
 * | dealloc                | O(1) | O(1)  | bit test for double free, push on the free stack  |
 * | realloc                | O(1) | O(1)  | in place up to the block size, else 0             |
 * | reset                  | O(1) | O(1)  | CARVED = NFREE = PEAK = 0; no bitmap clear        |
 * | numFree / numAllocated | O(1) | O(1)  |                                                  |
 * | check                  | O(N) | O(N)  |                                                  |
 *
 * When the last live block is freed the pool rewinds (CARVED = NFREE = 0): it then hands out
 * blocks exactly as a fresh pool, block 0 next. Only the peak words remember the blocks
 * carved before (PEAK_CARVED for `allocZeroed`, PEAK for `stats().peakInUse`).
 *
 * Fragmentation: none between blocks. Inside a block, S − size bytes are lost per request
 * (internal fragmentation); below BASE, up to A − 8 bytes of padding once.
 *
 * ## Overhead
 * Per block: nothing inside the block (no header; the pool never writes a block's bytes),
 * and out of line 4 bytes (free-stack entry) + 1 bit (live bitmap) = 4.125 bytes: 6.4% of a
 * 64-byte block, 52% of an 8-byte block. Vais threads its free list through the free blocks
 * and pays no per-block metadata; keeping it out of line costs those 4 bytes but gives one
 * code path for byte and offset-only memories, a free list that writes past a block's end or
 * after free cannot corrupt, and blocks whose bytes stay untouched until handed out. Per
 * pool: the 96-byte header, 20 bytes of pool words, up to 7 bytes to round the metadata to
 * 8, and the pad to A.
 *
 * ## Invariants (`check()`, check.ts)
 * The free stack holds distinct carved blocks whose live bit is clear, and live + free =
 * carved; the configuration slots match the handle.
 *
 * ## Misuse (misuse.ts names the errors; attach.ts checks a header a handle attaches to)
 * Every check is O(1) and made before any write (no header needed): a pointer outside the
 * blocks, or not at a block start → InvalidPointerError; a block carved but not live (freed
 * already, or released by reset or rewind) → DoubleFreeError; a block never handed out since
 * creation → InvalidPointerError; `dealloc(ptr, size)` with size > S → LayoutMismatchError.
 */

import { type AllocatorOptions, type AllocatorStats, BaseAllocator } from "../../core/allocator.js";
import { alignUp } from "../../core/bits.js";
import { ArgumentRangeError, ArgumentTypeError } from "../../core/errors.js";
import { SLOT_BYTES, StrategyKind } from "../../core/header.js";
import type { Memory } from "../../core/memory.js";
import {
  DEFAULT_ALIGN as IMPORTED_DEFAULT_ALIGN,
  isUint32 as importedIsUint32,
  rejectPointer,
  rejectSize,
} from "../../core/validate.js";
import { FixedMemory, ownedMemory } from "../../memory/memory.js";
import { checkAttachedConfig, readPoolShape } from "./attach.js";
import { checkPool } from "./check.js";
import * as layout from "./layout.js";
import {
  blocksThatFit,
  checkBlockSize,
  checkNumBlocks,
  extraMetaBytes,
  planPool,
  poolBlockAlign,
  poolBlockSize,
} from "./layout.js";
import { checkPoolAlign, checkPoolDeallocSize, liveBlockOf } from "./misuse.js";

// Module-local constants: the engine folds them into the code, while an imported binding is
// loaded from its module cell on every use.
const { BITS_PER_WORD, POOL_HEADER, POOL_LAYOUT, STACK, WORD_SHIFT } = layout;

const { BLOCK_SIZE, NUM_BLOCKS, BASE, BLOCK_ALIGN } = POOL_HEADER.slot;
const { NFREE, CARVED, LIMIT, PEAK_CARVED, PEAK } = POOL_HEADER.word;

// Module-local copies of the imported values the hot path uses. V8 reads an imported binding
// from its module cell on every use, but folds a module-local const: on W2 the copies made
// alloc + dealloc about 1 ns faster per call.
const DEFAULT_ALIGN = IMPORTED_DEFAULT_ALIGN;
const isUint32 = importedIsUint32;

export interface PoolOptions extends AllocatorOptions {
  /**
   * Where the pool lives: any `Memory` (fixed, growable, shared, wasm, offset-only), or a
   * region of one (`memory.region(start, end)`), e.g. a block of a parent allocator. Without
   * it the pool owns a fresh, zeroed ArrayBuffer of exactly the size it needs.
   */
  memory?: Memory;
  /**
   * Grow a growable memory as blocks are carved, instead of needing all N blocks' bytes up
   * front (default: whenever the memory can grow).
   */
  grow?: boolean;
}

/**
 * A pool of N blocks of one size: any free block serves any request that fits, so
 * allocation and release are O(1) and there is no external fragmentation. Use it for many
 * objects of one size that come and go in any order (tree nodes, particles, messages).
 * No header per block: the free blocks are a stack beside them, the live ones a bitmap.
 *
 * @example
 * ```ts
 * import { PoolAllocator } from "memkit";
 *
 * const pool = new PoolAllocator(64, 100); // 100 blocks of 64 bytes
 * const a = pool.alloc(64);
 * const b = pool.alloc(48); // any size up to 64 takes one block
 * pool.dealloc(a);
 * console.log(pool.numFree()); // 99
 * console.log(pool.alloc(65)); // 0: larger than a block
 * pool.dealloc(b);
 * ```
 */
export class PoolAllocator extends BaseAllocator {
  readonly name = "PoolAllocator";
  /** Bytes per block (the requested size rounded up to 8): every block's usable size. */
  readonly blockSize: number;
  /** The alignment of every block (see the header comment). */
  readonly blockAlign: number;
  /** Number of blocks. */
  readonly numBlocks: number;
  /** Offset of block 0. */
  private readonly base: number;
  /** log2(blockSize) when it is a power of two (dealloc then shifts), else −1 (it divides). */
  private readonly shift: number;
  private readonly growable: boolean;
  /** Word index of the live bitmap in `words`. */
  private readonly bitsAt: number;

  /** Bytes of header a PoolAllocator places before its free stack and bitmap. */
  static readonly headerSize: number = POOL_HEADER.wordsAt;

  /**
   * Bytes of memory, from an offset aligned to the block alignment (such as 0), that a pool of
   * `numBlocks` blocks of `blockSize` needs: header, free stack, bitmap, blocks. This is what
   * the pool allocates when it owns its memory, and the region to carve from a parent for it.
   */
  static bytesFor(blockSize: number, numBlocks: number): number {
    checkBlockSize(blockSize);
    checkNumBlocks(numBlocks, poolBlockSize(blockSize));
    return planPool(0, true, poolBlockSize(blockSize), numBlocks).end;
  }

  /**
   * `new PoolAllocator(blockSize, numBlocks)` owns a fresh, zeroed buffer holding the pool;
   * `new PoolAllocator(blockSize, numBlocks, { memory })` places it in any `Memory` or region,
   * with `numBlocks` omitted (undefined) meaning as many blocks as fit in it now.
   *
   * @param blockSize - bytes per block (rounded up to 8)
   * @param numBlocks - how many blocks (default with `memory`: as many as fit)
   * @param options - `memory` to place the pool in, `attach`
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for a bad size or memory
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or `ERR_HEAP_CONFIG`
   *   with `attach` when the bytes are not such a heap
   */
  constructor(blockSize: number, numBlocks?: number, options: PoolOptions = {}) {
    checkBlockSize(blockSize);
    const size = poolBlockSize(blockSize);
    const given = options.memory;
    let n: number;
    if (numBlocks === undefined) {
      if (given === undefined) {
        throw new ArgumentTypeError(
          "PoolAllocator: numBlocks is required unless a memory is given",
        );
      }
      n = blocksThatFit(given.start, given.end, given.hasBytes, size);
      if (n === 0) {
        throw new ArgumentRangeError(
          `PoolAllocator: region [${given.start}, ${given.end}) cannot hold one ${size}-byte block`,
          "ERR_MEMORY",
        );
      }
    } else {
      checkNumBlocks(numBlocks, size);
      n = numBlocks;
    }
    let memory: Memory;
    if (given === undefined) {
      const meta = alignUp(POOL_HEADER.bytes + extraMetaBytes(n), SLOT_BYTES);
      memory = ownedMemory(planPool(0, true, size, n).end - meta, meta);
    } else {
      memory = given;
    }
    const plan = planPool(memory.start, memory.hasBytes, size, n);
    const growable = options.grow ?? memory.maxEnd > memory.end;
    // Validate first: nothing is written to the memory unless the whole pool can fit.
    if (!(plan.end <= memory.end || (growable && plan.end <= memory.maxEnd))) {
      throw new ArgumentRangeError(
        `PoolAllocator: ${n} blocks of ${size} bytes need [${memory.start}, ${plan.end}), ` +
          `more than the memory's [${memory.start}, ${growable ? memory.maxEnd : memory.end})`,
        "ERR_MEMORY",
      );
    }
    const attach = options.attach === true;
    super(
      memory,
      StrategyKind.pool,
      POOL_HEADER,
      extraMetaBytes(n),
      POOL_LAYOUT,
      attach,
      "PoolAllocator",
    );
    this.blockSize = size;
    this.blockAlign = poolBlockAlign(size);
    this.numBlocks = n;
    this.base = plan.base;
    this.shift = (size & (size - 1)) === 0 ? 31 - Math.clz32(size) : -1;
    this.growable = growable;
    this.bitsAt = STACK + n;
    if (attach) {
      checkAttachedConfig(this.slots, this.slot0, {
        blockSize: size,
        numBlocks: n,
        base: plan.base,
        blockAlign: this.blockAlign,
        metaBytes: this.metaBytes,
        dataStart: this.dataStart,
      });
      return;
    }
    const slots = this.slots;
    const slot0 = this.slot0;
    slots[slot0 + BLOCK_SIZE] = size;
    slots[slot0 + NUM_BLOCKS] = n;
    slots[slot0 + BASE] = plan.base;
    slots[slot0 + BLOCK_ALIGN] = this.blockAlign;
    // The free stack and bitmap are left as they are: nothing is listed yet (O(1) creation).
    const words = this.words;
    words[NFREE] = 0;
    words[CARVED] = 0;
    words[LIMIT] = this.blocksInMemory();
    words[PEAK_CARVED] = 0;
    words[PEAK] = 0;
  }

  /**
   * A pool over `[byteOffset, byteOffset + byteLength)` of a caller's buffer (the seeds'
   * `from_buffer`): non-owning, and the bytes are not assumed to be zero. `numBlocks`
   * omitted: as many as fit.
   */
  static fromBuffer(
    buffer: ArrayBufferLike,
    blockSize: number,
    numBlocks?: number,
    byteOffset = 0,
    byteLength?: number,
  ): PoolAllocator {
    const memory = new FixedMemory(buffer, byteOffset, byteLength, false);
    return new PoolAllocator(blockSize, numBlocks, { memory });
  }

  /**
   * Attaches a second handle to a pool already in `memory` (another worker's, or bytes saved
   * and loaded): the header is validated read-only and the configuration read from it.
   */
  static attach(
    memory: Memory,
    options: Omit<PoolOptions, "memory" | "attach"> = {},
  ): PoolAllocator {
    const shape = readPoolShape(memory);
    return new PoolAllocator(shape.blockSize, shape.numBlocks, {
      ...options,
      memory,
      attach: true,
    });
  }

  // ---- the hot path ----------------------------------------------------------------------

  /**
   * A block for `size` ≤ blockSize bytes aligned to `align` ≤ blockAlign, or 0 when the pool
   * is full or `size` exceeds the block size. `alloc(0)` takes a whole block.
   */
  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    // The common case only: a heap in order, the default alignment, a size a block holds.
    // Everything else takes `allocSlow`, which makes every check again.
    if (this.blocked() || align !== DEFAULT_ALIGN || !isUint32(size) || size > this.blockSize) {
      return this.allocSlow(size, align);
    }
    return this.take();
  }

  /** alloc's general path: the entry guard's slow half, the alignment, the size. */
  private allocSlow(size: number, align: number): number {
    if (this.blocked()) return this.reenterAlloc(size, align);
    if (align !== DEFAULT_ALIGN) checkPoolAlign(align, this.blockAlign, this.blockSize);
    if (!isUint32(size)) {
      rejectSize(size);
      return 0; // a valid integer ≥ 2^32
    }
    if (size > this.blockSize) return 0; // no block can ever hold it
    return this.take();
  }

  /** A block: the free stack's top, else the next never-used block; 0 when the pool is full. */
  private take(): number {
    const words = this.words;
    const nfree = words[NFREE];
    let block: number;
    if (nfree !== 0) {
      block = words[STACK + nfree - 1];
      words[NFREE] = nfree - 1;
    } else {
      block = words[CARVED];
      if (block >= words[LIMIT]) return this.carveSlow();
      words[CARVED] = block + 1;
    }
    words[this.bitsAt + (block >> WORD_SHIFT)] |= 1 << (block & (BITS_PER_WORD - 1));
    return this.base + block * this.blockSize;
  }

  /** The seeds' `alloc()`: one block (`alloc(blockSize)`), or 0 when the pool is full. */
  allocBlock(): number {
    return this.alloc(this.blockSize);
  }

  /**
   * Returns a block to the pool. `size`, when given, must be at most the block size
   * (LayoutMismatchError). A pointer that is not a live block's start throws before any change.
   */
  dealloc(ptr: number, size?: number): void {
    if (this.blocked()) {
      this.reenterDealloc(ptr, size);
      return;
    }
    if (ptr === 0) return;
    if (!isUint32(ptr)) rejectPointer(ptr);
    const words = this.words;
    const carved = words[CARVED];
    const off = ptr - this.base;
    const shift = this.shift;
    let block: number;
    if (shift >= 0) {
      // A power-of-two block size: a shift instead of a division. The low bits of `off`
      // (ToInt32 keeps them) say whether it is a block start; off < 2^32 and blocks of 8
      // bytes or more make `off >>> shift` < 2^29, an int32.
      block = (off >>> shift) | 0;
      if (off < 0 || (off & (this.blockSize - 1)) !== 0 || block >= carved) this.liveBlock(ptr);
    } else {
      const q = off / this.blockSize;
      // |q| < 2^29 (ptr < 2^32, blocks of 8 bytes or more), so `q | 0` is exact for an
      // integer q and the block number is an int32 from here on. One test for "a block
      // start in [BASE, block CARVED)": an interior pointer gives a fraction, one below BASE
      // a negative number; both fail it, as do blocks not carved.
      block = q | 0;
      if (block !== q || block < 0 || block >= carved) this.liveBlock(ptr); // throws the error
    }
    const word = this.bitsAt + (block >> WORD_SHIFT);
    const mask = 1 << (block & (BITS_PER_WORD - 1));
    const w = words[word];
    if ((w & mask) === 0) this.liveBlock(ptr); // not live: throws DoubleFreeError
    if (size !== undefined && size !== this.blockSize) {
      checkPoolDeallocSize(ptr, size, this.blockSize);
    }
    words[word] = w ^ mask;
    const nfree = words[NFREE];
    if (nfree + 1 === carved) {
      this.rewind(); // the last live block: back to a fresh pool
      return;
    }
    words[STACK + nfree] = block;
    words[NFREE] = nfree + 1;
  }

  // ---- the rest of the contract ----------------------------------------------------------

  /** @inheritDoc Allocator.allocZeroed */
  override allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    const untouchedFrom = Math.max(this.words[PEAK_CARVED], this.words[CARVED]);
    const ptr = this.alloc(size, align);
    if (ptr === 0 || !this.memory.hasBytes) return ptr;
    const block = (ptr - this.base) / this.blockSize;
    // A block never handed out since creation still holds the memory's fresh zeros.
    if (!(this.memory.freshZero && block >= untouchedFrom)) {
      this.memory.u8.fill(0, ptr, ptr + size);
    }
    return ptr;
  }

  /**
   * In place whenever `newSize` ≤ blockSize (every block has the block alignment); 0 for a
   * larger size, with the block untouched. The pointer is validated first.
   */
  override realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    this.liveBlock(ptr);
    if (!this.checkReallocSize(newSize)) return 0;
    if (align !== DEFAULT_ALIGN) checkPoolAlign(align, this.blockAlign, this.blockSize);
    return newSize <= this.blockSize ? ptr : 0;
  }

  /** The block size, for every live block. */
  usableSize(ptr: number): number {
    this.enter();
    this.liveBlock(ptr);
    return this.blockSize;
  }

  /** Frees every block at once, in O(1). Earlier pointers become invalid (DoubleFreeError). */
  reset(): void {
    this.enter();
    this.rewind();
    this.words[PEAK] = 0; // peakInUse counts from here
  }

  /**
   * Blocks that can still be allocated (the seeds' `num_free_blocks`): N − numAllocated(). On
   * a growable memory some of them need the memory to grow first.
   */
  numFree(): number {
    this.enter();
    return this.numBlocks - this.live();
  }

  /** Blocks handed out and not yet freed (the seeds' `num_allocated`). */
  numAllocated(): number {
    this.enter();
    return this.live();
  }

  /** @inheritDoc Allocator.stats */
  stats(): AllocatorStats {
    this.enter();
    const words = this.words;
    const size = this.blockSize;
    const live = this.live();
    const freeBlocks = words[NFREE] + words[LIMIT] - words[CARVED];
    const capacity = this.memory.end - this.memory.start;
    const inUse = live * size;
    const free = freeBlocks * size;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks: live,
      // Blocks are carved only when none is free, so the most live at once since the last
      // rewind is CARVED; PEAK holds the most before it, back to the last reset.
      peakInUse: Math.max(words[PEAK], words[CARVED]) * size,
      largestFree: freeBlocks > 0 ? size : 0,
    };
  }

  protected checkStrategy(): void {
    checkPool(
      {
        slots: this.slots,
        slot0: this.slot0,
        words: this.words,
        blockSize: this.blockSize,
        numBlocks: this.numBlocks,
        blockAlign: this.blockAlign,
        base: this.base,
        bitsAt: this.bitsAt,
        dataStart: this.dataStart,
        memoryEnd: this.memory.end,
      },
      (what) => this.corrupt(what),
    );
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Blocks live now: carved and not on the free stack. */
  private live(): number {
    return this.words[CARVED] - this.words[NFREE];
  }

  /** Whole blocks inside the memory now, at most N. */
  private blocksInMemory(): number {
    const room = this.memory.end - this.base;
    return room <= 0 ? 0 : Math.min(this.numBlocks, Math.floor(room / this.blockSize));
  }

  /**
   * Back to a fresh pool: nothing carved, nothing listed. Folds CARVED into PEAK_CARVED and
   * PEAK first (reset then zeroes PEAK).
   */
  private rewind(): void {
    const words = this.words;
    const carved = words[CARVED];
    if (carved > words[PEAK_CARVED]) words[PEAK_CARVED] = carved;
    if (carved > words[PEAK]) words[PEAK] = carved;
    words[CARVED] = 0;
    words[NFREE] = 0;
  }

  /**
   * Carving when block CARVED is not inside the memory yet: pick up growth by another agent
   * or a wasm module, grow a growable memory, or answer 0 (the pool is full).
   */
  private carveSlow(): number {
    const block = this.words[CARVED];
    if (block >= this.numBlocks) return 0;
    this.syncViews();
    let limit = this.blocksInMemory();
    if (limit <= block && this.growable) {
      // Ask for one block more; the memory grows by doubling, so this is amortised O(1).
      if (this.memory.grow(this.base + (block + 1) * this.blockSize)) {
        this.syncViews();
        limit = this.blocksInMemory();
      }
    }
    if (limit <= block) return 0;
    const words = this.words; // growth may have replaced the views
    words[LIMIT] = limit;
    words[CARVED] = block + 1;
    words[this.bitsAt + (block >> WORD_SHIFT)] |= 1 << (block & (BITS_PER_WORD - 1));
    return this.base + block * this.blockSize;
  }

  /** The block number of the live block at `ptr`; throws the precise error otherwise. */
  private liveBlock(ptr: number): number {
    return liveBlockOf(this.words, this.base, this.blockSize, this.numBlocks, this.bitsAt, ptr);
  }
}
