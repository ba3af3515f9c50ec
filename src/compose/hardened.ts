/**
 * `HardenedAllocator`: the hardening and debug ladder (STYLE.md habit 10, RELIABILITY.md
 * §2.3) as one wrapper over any allocator. Each level adds to the one before; without the
 * wrapper nothing is paid.
 *
 * | level        | adds                                                               | costs                                                        |
 * | ------------ | ------------------------------------------------------------------ | ------------------------------------------------------------ |
 * | (no wrapper) | argument, pointer and block-state checks; the header's magic read on every call | nothing beyond the strategy                       |
 * | `canary`     | 8 canary bytes after every block, checked by dealloc, realloc and check(): an overflow is `HeapCorruptedError` | 8 bytes a block (+ the strategy's rounding), a map entry a live block, an 8-byte compare a free |
 * | `quarantine` | freed blocks filled with 0xDF and held back (first in, first out, at most `quarantineBlocks` blocks and `quarantineBytes` bytes); the fill is checked when a block leaves and by check() (a write after free); freeing a held block again is `DoubleFreeError` | a fill a free, a compare an eviction, the held bytes |
 * | `check`      | the strategy's full check() before and after every call              | O(heap) a call                                               |
 *
 * Why the fill is checked when a block leaves the quarantine and not when the strategy hands
 * it out again: a strategy writes its own words into a freed block (links, footers, the
 * headers of merged neighbours), which a wrapper cannot tell from a write through a stale
 * pointer. Held in the quarantine, the block is not the strategy's yet; leaving it is the
 * last moment before it can be handed out again. A double free is caught deterministically
 * while the block is held: at most `quarantineBlocks` frees (and `quarantineBytes`) later.
 *
 * The wrapper keeps its books out of line (a map of live blocks and the quarantine list):
 * a write past a block can break the canary but never the wrapper's state. Detected
 * corruption poisons the wrapper: every later call throws `HeapPoisonedError`. On an
 * offset-only memory (no bytes) there is nothing to fill or guard: the levels keep only the
 * quarantine's double-free check and the walks.
 *
 * Memory picture of a block (canary and higher):
 *
 *     | strategy's header | user bytes [ptr, ptr + size) | canary (8 bytes) | strategy's rounding |
 *
 * `usableSize(ptr)` is exactly the size asked: a byte past it is the canary's.
 */

import {
  type Allocator,
  type AllocatorStats,
  allocateLayout,
  deallocateLayout,
  orOutOfMemory,
} from "../core/allocator.js";
import {
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutMismatchError,
} from "../core/errors.js";
import type { Allocation, Layout } from "../core/layout.js";
import type { Memory } from "../core/memory.js";
import {
  checkAlign,
  checkReallocSize,
  DEFAULT_ALIGN,
  isUint32,
  outOfRangeSize,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { StackAllocator } from "../strategies/stack/index.js";

/** The rungs of the ladder, lowest first. */
export type HardeningLevel = "canary" | "quarantine" | "check";

const LEVELS: readonly HardeningLevel[] = ["canary", "quarantine", "check"];

/** Options of {@link HardenedAllocator}. */
export interface HardenedOptions {
  /** Which rung (default `quarantine`). */
  level?: HardeningLevel;
  /** The most blocks the quarantine holds (default 256). */
  quarantineBlocks?: number;
  /** The most bytes the quarantine holds (default 1 MiB). */
  quarantineBytes?: number;
}

/** Bytes of the canary after each block. */
export const CANARY_BYTES = 8;
/** The byte freed blocks are filled with. */
export const FREED_FILL = 0xdf;
const FILL_WORD = 0xdfdfdfdf | 0;

/** The canary's byte `i` for a block at `ptr`: tied to the address, so a copied block's fails. */
function canaryByte(ptr: number, i: number): number {
  return (0xa5 ^ (ptr >>> ((i & 3) * 8)) ^ (i * 0x3b)) & 0xff;
}

/**
 * Wraps any allocator with one rung of a debug ladder, each rung adding to the one below:
 * `"canary"` puts 8 check bytes after every block (an overflow is found at the block's free or
 * at `check()`), `"quarantine"` also fills freed blocks with 0xDF and holds them back a while
 * (a write after free, or a second free of a held block, is found), and `"check"` also runs
 * the full invariant check around every call. Corruption found poisons the wrapper.
 *
 * @example
 * ```ts
 * import { HardenedAllocator, TlsfAllocator } from "memkit";
 *
 * const heap = new HardenedAllocator(new TlsfAllocator(64 * 1024), { level: "quarantine" });
 * const p = heap.alloc(16);
 * heap.dealloc(p);
 * heap.memory.u8[p] = 1; // a write after free…
 * try {
 *   heap.check(); // …is found: the freed block's fill changed
 * } catch (e) {
 *   console.log((e as { code?: string }).code); // ERR_HEAP_CORRUPTED
 * }
 * ```
 */
export class HardenedAllocator implements Allocator {
  /** The memory the blocks live in (the wrapped allocator's). */
  readonly memory: Memory;
  /** The allocator's name, as messages and `console.log` show it. */
  readonly name: string;
  /** The rung in force. */
  readonly level: HardeningLevel;
  /** The most blocks the quarantine holds. */
  readonly quarantineBlocks: number;
  /** The most bytes the quarantine holds. */
  readonly quarantineBytes: number;

  private readonly rung: number;
  /** Bytes the wrapper adds after each block: the canary, where the memory has bytes. */
  private readonly extra: number;
  /** Live block → the size asked for it. */
  private readonly live = new Map<number, number>();
  /** Held freed blocks → the bytes they were filled over (size + canary), oldest first. */
  private readonly held = new Map<number, number>();
  private heldBytes = 0;
  private liveBytes = 0;
  private peak = 0;
  private poison = "";

  /**
   * @param inner - the allocator to harden
   * @param options - the rung (default `"quarantine"`) and the quarantine's limits
   * @throws {@link ArgumentTypeError} `ERR_ALLOC_ARG_TYPE` when `inner` is not an allocator;
   *   `ERR_UNSUPPORTED` for a quarantine over a `StackAllocator` (it would reorder its frees)
   * @throws {@link ArgumentRangeError} `ERR_UNSUPPORTED` for an unknown level
   */
  constructor(
    /** The wrapped allocator. */
    readonly inner: Allocator,
    options: HardenedOptions = {},
  ) {
    if (typeof inner !== "object" || inner === null || typeof inner.alloc !== "function") {
      throw new ArgumentTypeError("HardenedAllocator wraps an Allocator");
    }
    const level = options.level ?? "quarantine";
    const rung = LEVELS.indexOf(level);
    if (rung < 0) {
      throw new ArgumentRangeError(
        `level must be one of ${LEVELS.join(", ")}, got ${String(level)}`,
        "ERR_UNSUPPORTED",
      );
    }
    if (rung >= 1 && inner instanceof StackAllocator) {
      // Held blocks would reach the stack out of order, and a non-top free would go unseen.
      throw new ArgumentTypeError(
        `a StackAllocator frees in LIFO order only: a quarantine would reorder its frees; use level "canary"`,
        "ERR_UNSUPPORTED",
      );
    }
    this.quarantineBlocks = count(options.quarantineBlocks, 256, "quarantineBlocks");
    this.quarantineBytes = count(options.quarantineBytes, 1 << 20, "quarantineBytes");
    this.memory = inner.memory;
    this.level = level;
    this.rung = rung;
    this.extra = inner.memory.hasBytes ? CANARY_BYTES : 0;
    const innerName = (inner as { name?: unknown }).name;
    this.name = `HardenedAllocator(${typeof innerName === "string" ? innerName : "allocator"}, ${level})`;
  }

  // ---- entering a call -------------------------------------------------------------------

  private enter(): void {
    // Corruption the wrapped allocator found poisons the wrapper too.
    if (this.poison === "" && (this.inner as { poisoned?: unknown }).poisoned === true) {
      this.poison = "the wrapped allocator is poisoned";
    }
    if (this.poison !== "") {
      throw new HeapPoisonedError(
        `${this.name}: heap is poisoned (${this.poison}); no call can succeed`,
      );
    }
    if (this.rung >= 2) this.checkAll();
  }

  private leave(): void {
    if (this.rung >= 2) this.checkAll();
  }

  /** Detected corruption: poison the wrapper and throw. */
  private corrupt(what: string): never {
    this.poison = what;
    throw new HeapCorruptedError(`${this.name}: heap corrupted: ${what}`);
  }

  private bytes(): Uint8Array {
    this.memory.refresh();
    return this.memory.u8;
  }

  // ---- canaries and fill ------------------------------------------------------------------

  private writeCanary(ptr: number, size: number): void {
    if (this.extra === 0) return;
    const u8 = this.bytes();
    for (let i = 0; i < CANARY_BYTES; i++) u8[ptr + size + i] = canaryByte(ptr, i);
  }

  private verifyCanary(ptr: number, size: number): void {
    if (this.extra === 0) return;
    const u8 = this.bytes();
    for (let i = 0; i < CANARY_BYTES; i++) {
      if (u8[ptr + size + i] !== canaryByte(ptr, i)) {
        this.corrupt(
          `the canary after block ${ptr} (${size} bytes) is broken at byte ${i}: ` +
            "something wrote past the end of the block",
        );
      }
    }
  }

  private verifyFill(ptr: number, span: number): void {
    if (this.extra === 0) return;
    this.bytes(); // re-derives the views
    // Blocks are 8-aligned: compare whole words first, then the tail bytes.
    const i32 = this.memory.i32;
    const words = span >>> 2;
    for (let w = ptr >>> 2, end = w + words; w < end; w++) {
      if (i32[w] !== FILL_WORD) this.verifyFillBytes(ptr, (w << 2) - ptr, 4);
    }
    this.verifyFillBytes(ptr, words * 4, span - words * 4);
  }

  /** Bytes `[from, from + n)` of the freed block at `ptr` must still be the fill. */
  private verifyFillBytes(ptr: number, from: number, n: number): void {
    const u8 = this.memory.u8;
    for (let i = from; i < from + n; i++) {
      if (u8[ptr + i] !== FREED_FILL) {
        this.corrupt(
          `freed block ${ptr} was written after it was freed (byte ${i} is ${u8[ptr + i]})`,
        );
      }
    }
  }

  // ---- pointers ---------------------------------------------------------------------------

  /** The size of the live block at `ptr`; throws (changing nothing) for anything else. */
  private sizeOf(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const size = this.live.get(ptr);
    if (size !== undefined) return size;
    if (this.held.has(ptr)) {
      throw new DoubleFreeError(`block ${ptr} is not live: it was freed already (in quarantine)`);
    }
    // Not ours: let the strategy name the error (usableSize only reads).
    try {
      this.inner.usableSize(ptr);
    } catch (e) {
      if (e instanceof InvalidPointerError || e instanceof DoubleFreeError) throw e;
    }
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not a live block handed out by ${this.name}`,
    );
  }

  // ---- the contract -----------------------------------------------------------------------

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (!isUint32(size)) return outOfRangeSize(size);
    checkAlign(align);
    const ptr = this.inner.alloc(size + this.extra, align);
    if (ptr !== 0) this.adopt(ptr, size);
    this.leave();
    return ptr;
  }

  allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (!isUint32(size)) return outOfRangeSize(size);
    checkAlign(align);
    const ptr = this.inner.allocZeroed(size + this.extra, align);
    if (ptr !== 0) this.adopt(ptr, size);
    this.leave();
    return ptr;
  }

  private adopt(ptr: number, size: number): void {
    this.writeCanary(ptr, size);
    this.live.set(ptr, size);
    this.liveBytes += size;
    if (this.liveBytes > this.peak) this.peak = this.liveBytes;
  }

  dealloc(ptr: number, size?: number): void {
    this.enter();
    if (ptr === 0) return;
    const n = this.sizeOf(ptr);
    if (size !== undefined) {
      if (!isUint32(size)) rejectSize(size);
      if (size > n) {
        throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block holds only ${n} bytes`);
      }
    }
    this.verifyCanary(ptr, n);
    this.release(ptr, n);
    this.leave();
  }

  /** Takes a live block out of the books: into the quarantine, or back to the strategy. */
  private release(ptr: number, size: number): void {
    if (this.rung === 0) {
      this.inner.dealloc(ptr, size + this.extra); // may refuse (a stack's non-top block)
      this.live.delete(ptr);
      this.liveBytes -= size;
      return;
    }
    this.live.delete(ptr);
    this.liveBytes -= size;
    const span = size + this.extra;
    if (this.extra !== 0) this.bytes().fill(FREED_FILL, ptr, ptr + span);
    this.held.set(ptr, span);
    this.heldBytes += span;
    while (this.held.size > this.quarantineBlocks || this.heldBytes > this.quarantineBytes) {
      this.evictOldest();
    }
  }

  /** The oldest held block leaves the quarantine: its fill is checked, then it is freed. */
  private evictOldest(): void {
    const first = this.held.entries().next();
    if (first.done === true) return;
    const [ptr, span] = first.value;
    this.verifyFill(ptr, span);
    this.held.delete(ptr);
    this.heldBytes -= span;
    this.inner.dealloc(ptr, span);
  }

  /** Empties the quarantine (each block's fill checked), giving every held block back. */
  flush(): void {
    this.enter();
    while (this.held.size > 0) this.evictOldest();
    this.leave();
  }

  realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    this.enter();
    if (ptr === 0) return this.alloc(newSize, align);
    const old = this.sizeOf(ptr); // the pointer before the size
    if (!checkReallocSize(newSize)) return 0;
    checkAlign(align);
    this.verifyCanary(ptr, old);
    let to: number;
    if (this.rung === 0) {
      // In place where the strategy can: the canary moves with the end.
      to = (this.inner.realloc as SizedRealloc).call(
        this.inner,
        ptr,
        newSize + this.extra,
        align,
        old + this.extra,
      );
      if (to === 0) {
        this.leave(); // out of memory: the block is as it was, canary included
        return 0;
      }
      this.live.delete(ptr);
      this.liveBytes -= old;
    } else {
      // Always moves, so the old address goes into the quarantine and a stale pointer to
      // it is caught like any other use after free.
      to = this.inner.alloc(newSize + this.extra, align);
      if (to === 0) {
        this.leave();
        return 0;
      }
      this.bytes().copyWithin(to, ptr, ptr + Math.min(old, newSize));
      this.release(ptr, old);
    }
    this.adopt(to, newSize);
    this.leave();
    return to;
  }

  usableSize(ptr: number): number {
    this.enter();
    return this.sizeOf(ptr);
  }

  owns(ptr: number): boolean {
    return this.inner.owns(ptr);
  }

  reset(): void {
    this.enter();
    this.inner.reset();
    this.live.clear();
    this.held.clear();
    this.heldBytes = 0;
    this.liveBytes = 0;
    this.leave();
  }

  /**
   * The strategy's figures as the caller sees them: held blocks and canaries are overhead,
   * `inUse` counts the bytes asked for, and `largestFree` leaves room for a canary.
   */
  stats(): AllocatorStats {
    this.enter();
    const s = this.inner.stats();
    const inUse = this.liveBytes;
    const free = s.free;
    return {
      capacity: s.capacity,
      inUse,
      free,
      overhead: s.capacity - inUse - free,
      liveBlocks: this.live.size,
      peakInUse: this.peak,
      largestFree: Math.max(0, s.largestFree - this.extra),
    };
  }

  /** The strategy's check, every live block's canary and every held block's fill. */
  check(): void {
    this.enter();
    this.checkAll();
  }

  private checkAll(): void {
    this.inner.check();
    for (const [ptr, size] of this.live) this.verifyCanary(ptr, size);
    for (const [ptr, span] of this.held) this.verifyFill(ptr, span);
    // At least the wrapper's blocks (a bump counts the blocks it cannot free until reset).
    const s = this.inner.stats();
    if (s.liveBlocks < this.live.size + this.held.size) {
      this.corrupt(
        `the strategy has ${s.liveBlocks} live blocks, the wrapper ${this.live.size} live ` +
          `and ${this.held.size} held`,
      );
    }
  }

  allocate(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, false, false);
  }

  allocateZeroed(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, true, false);
  }

  deallocate(ptr: number, layout?: Layout): void {
    deallocateLayout(this, ptr, layout);
  }

  allocOrThrow(size: number, align: number = DEFAULT_ALIGN): number {
    return orOutOfMemory(this.alloc(size, align), `${this.name}: out of memory`, size, align);
  }

  /** Whether corruption was found (every call now throws `HeapPoisonedError`). */
  get poisoned(): boolean {
    return this.poison !== "";
  }

  /** Blocks and bytes the quarantine holds now. */
  get quarantined(): {
    /** Blocks held. */
    readonly blocks: number;
    /** Bytes held. */
    readonly bytes: number;
  } {
    return { blocks: this.held.size, bytes: this.heldBytes };
  }
}

/** `realloc` with the old size as a fourth argument (a BlockAllocator needs it). */
type SizedRealloc = (ptr: number, newSize: number, align: number, oldSize: number) => number;

function count(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
    throw new ArgumentRangeError(`${what} must be a non-negative integer`, "ERR_UNSUPPORTED");
  }
  return value;
}
