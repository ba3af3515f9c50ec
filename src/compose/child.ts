/**
 * Allocators inside allocators: a region carved from one block of a PARENT allocator, any
 * strategy built on it, and `drop()` giving the block back (the seeds' `drop` and their
 * custom-arena pattern, with the arena's bytes coming from a heap instead of the caller).
 *
 * Choose it for memory whose blocks die together or follow their own pattern inside a
 * longer-lived heap: a 1 MiB bump arena per request or frame, a pool of nodes for one
 * document, a stack for one parse. The arena is one block of the parent, so the parent sees
 * one allocation, and dropping the arena returns all of it in one `dealloc`.
 *
 *     const heap = new Heap();
 *     const arena = childOf(heap, 1 << 20, (m) => new BumpAllocator(m));
 *     arena.alloc(256); … arena.reset(); …
 *     arena.drop(); // the 1 MiB block is back in the heap; arena.alloc now throws ERR_DESTROYED
 *
 * Two levels of API:
 * - `carve(parent, bytes, align)`: a `Carving`, one block of the parent and a `Memory`
 *   region over exactly its bytes, or `null` when the parent is out of memory.
 *   `carving.release()` deallocs the block (once). For code that builds its own things on
 *   the region.
 * - `childOf(parent, bytes, make, align)`: carves, calls `make(region)` (any strategy's
 *   constructor: `(m) => new TlsfAllocator(m)`, `(m) => new PoolAllocator(64, undefined,
 *   { memory: m })`, …) and returns that allocator, whose `drop()` now also gives the block
 *   back to the parent. No strategy file knows about it: `drop` is wrapped on the instance.
 *
 * ## Memory picture
 *
 *     parent's memory (one buffer, shared by parent and child)
 *     | parent header | … | parent block at `ptr` (usable ≥ bytes asked)          | … |
 *                           | child header | child metadata | child's blocks …   |
 *                           ^ region.start = ptr             region.end = ptr + len ^
 *
 * The region spans the block's whole usable size when the parent can tell it
 * (`usableSize`), else the bytes asked (a BlockAllocator parent). It is a `Memory.region`
 * of the parent's memory: it shares the parent's buffer, takes its views from it (so when
 * the parent grows a `WebAssembly.Memory` and the buffer is replaced, the child's next call
 * finds its views stale and re-derives them, RELIABILITY.md E1), never grows itself, and is
 * not assumed zero (the parent may have used the bytes before). A pointer from the child is
 * an offset into the same buffer as the parent's pointers.
 *
 * ## Cost
 * | operation          | cost                                                          |
 * | ------------------ | ------------------------------------------------------------- |
 * | carve / childOf    | parent.alloc + parent.usableSize + the child's constructor    |
 * | drop / release     | child.stats() (entry check) + parent.dealloc + the child's drop |
 * | child's own calls  | the strategy's own: no wrapper on any call but `drop`          |
 *
 * Overhead: the parent's per-block overhead once, the child's header and metadata inside
 * the region, and (TLSF, pool and other rounding parents) the rounding of `bytes`, which
 * the child gets to use since the region covers the usable size.
 *
 * ## Rules
 * - `drop()` checks everything before it changes anything: a child already dropped throws
 *   `AllocatorError` ERR_DESTROYED; a poisoned child throws `HeapPoisonedError` and its
 *   block stays in the parent (its bytes are not trusted to anyone again until the parent
 *   is reset); a parent that refuses the dealloc (a StackAllocator parent, children dropped
 *   out of LIFO order: ERR_NOT_TOP) throws and the child stays alive. Only then is the
 *   block given back and the child's handle finished (every later call: ERR_DESTROYED).
 * - `carving.release()` of a region that holds a child made by `childOf` throws
 *   ERR_UNSUPPORTED: drop the child instead, so no live handle is left on freed bytes.
 * - The parent must outlive its children (the rule Rust's lifetimes put on an arena):
 *   dropping a parent while a region carved from it is alive throws `AllocatorError`
 *   ERR_LIVE_CHILDREN naming them, and changes nothing; drop the children first. Resetting
 *   the parent while a child lives frees the child's block under it; that is not checked
 *   (`ChainAllocator.check()` catches it for chained children).
 * - Another handle attached to the child's heap (`attach`) is not dropped with it.
 *
 * ## Invariants
 * A carving not released is a live block of its parent, and its region is
 * `[ptr, ptr + bytes)` inside the parent's memory; `carvingOf(region)` finds it, which is how
 * `ChainAllocator` knows that a child's region may lie inside its parent's.
 */

import { type Allocator, BaseAllocator, isAllocator } from "../core/allocator.js";
import { addDependent, type Dependent, dependentsOf, removeDependent } from "../core/children.js";
import {
  AllocatorError,
  ArgumentTypeError,
  HeapPoisonedError,
  OutOfMemoryError,
} from "../core/errors.js";
import type { Memory } from "../core/memory.js";
import { DEFAULT_ALIGN } from "../core/validate.js";

/** One block of a parent allocator and the region of memory over it. */
export interface Carving {
  /** The allocator the block came from. */
  readonly parent: Allocator;
  /** The block's pointer in the parent: the region's start. */
  readonly ptr: number;
  /** Bytes of the region (the block's usable size where the parent knows it). */
  readonly bytes: number;
  /** The region `[ptr, ptr + bytes)` of the parent's memory. */
  readonly memory: Memory;
  /** Whether the block was given back to the parent. */
  readonly released: boolean;
  /** The allocator `childOf` built on the region, or null. */
  readonly child: Allocator | null;
  /**
   * Gives the block back to the parent (`parent.dealloc(ptr, bytes)`), once. Throws
   * `AllocatorError` ERR_DESTROYED the second time, ERR_UNSUPPORTED when a child made by
   * `childOf` lives on the region (drop it instead), and whatever the parent throws (then
   * nothing changed).
   */
  release(): void;
}

/** An allocator whose handle can be finished: every `BaseAllocator` strategy and Heap. */
export interface Droppable extends Allocator {
  /**
   * Finishes the handle; an allocator carved from a parent gives its region back.
   *
   * @throws {@link AllocatorError} `ERR_DESTROYED` when dropped already, `ERR_LIVE_CHILDREN`
   *   while an allocator carved from it is alive
   */
  drop(): void;
}

/** Every region carved and not yet released, by its memory (for `carvingOf`). */
const carvings = new WeakMap<Memory, RegionBlock>();

class RegionBlock implements Carving, Dependent {
  readonly parent: Allocator;
  readonly ptr: number;
  readonly bytes: number;
  readonly memory: Memory;
  released = false;
  child: Allocator | null = null;

  constructor(parent: Allocator, ptr: number, bytes: number, memory: Memory) {
    this.parent = parent;
    this.ptr = ptr;
    this.bytes = bytes;
    this.memory = memory;
  }

  release(): void {
    if (this.child !== null && !this.released) {
      throw new AllocatorError(
        `the region [${this.ptr}, ${this.ptr + this.bytes}) holds a live child allocator: ` +
          "drop() the child, which gives the region back",
        "ERR_UNSUPPORTED",
      );
    }
    this.giveBack();
  }

  /** parent.dealloc first (it may refuse: then nothing changed), then mark released. */
  giveBack(): void {
    if (this.released) {
      throw new AllocatorError(
        `the region [${this.ptr}, ${this.ptr + this.bytes}) was already given back to its parent`,
        "ERR_DESTROYED",
      );
    }
    this.parent.dealloc(this.ptr, this.bytes);
    this.released = true;
    carvings.delete(this.memory);
    removeDependent(this.parent, this);
  }

  describe(): string {
    const region = `region [${this.ptr}, ${this.ptr + this.bytes})`;
    return this.child === null ? region : `${nameOf(this.child)} in ${region}`;
  }
}

function nameOf(a: Allocator): string {
  const name = (a as { name?: unknown }).name;
  return typeof name === "string" ? name : "the allocator";
}

/**
 * Takes a block of at least `bytes` bytes aligned to `align` from `parent` and returns the
 * region over it, or `null` when the parent is out of memory (nothing changed). `bytes` and
 * `align` are validated by the parent's `alloc` (invalid ones throw its errors).
 */
export function carve(
  parent: Allocator,
  bytes: number,
  align: number = DEFAULT_ALIGN,
): Carving | null {
  if (!isAllocator(parent)) throw new ArgumentTypeError("carve needs a parent Allocator");
  const ptr = parent.alloc(bytes, align);
  if (ptr === 0) return null;
  let length = bytes;
  try {
    length = Math.max(bytes, parent.usableSize(ptr));
  } catch (e) {
    // A parent that keeps no per-block size (BlockAllocator) says so; the region is then
    // exactly the bytes asked, which is also the size its dealloc is given back.
    if (!(e instanceof AllocatorError && e.code === "ERR_UNSUPPORTED")) {
      parent.dealloc(ptr, bytes);
      throw e;
    }
  }
  const pm = parent.memory;
  let region: Memory;
  try {
    pm.refresh();
    region = pm.region(ptr, ptr + length);
  } catch (e) {
    parent.dealloc(ptr, bytes); // a parent whose block is not inside its memory: give it back
    throw e;
  }
  const block = new RegionBlock(parent, ptr, length, region);
  carvings.set(block.memory, block);
  addDependent(parent, block);
  return block;
}

/**
 * The carving a region came from: give a region `Memory`, or an allocator built on one.
 * `undefined` for memories that were not carved (or whose block was given back).
 */
export function carvingOf(memoryOrAllocator: Memory | Allocator): Carving | undefined {
  const x = memoryOrAllocator as Partial<Allocator>;
  const memory = isAllocator(x) ? x.memory : (memoryOrAllocator as Memory);
  return carvings.get(memory);
}

/**
 * An allocator made by `make` inside a block of `bytes` (at least) carved from `parent`; its
 * `drop()` gives the block back (see the header comment for the rules). Throws
 * `OutOfMemoryError` when the parent has no room, and whatever `make` throws (a region too
 * small for the strategy's metadata: RangeError ERR_MEMORY) after giving the block back.
 * `make` must build the allocator on the memory it is given and return one with `drop()`.
 */
export function childOf<A extends Droppable>(
  parent: Allocator,
  bytes: number,
  make: (memory: Memory) => A,
  align: number = DEFAULT_ALIGN,
): A {
  if (typeof make !== "function") {
    throw new ArgumentTypeError("childOf needs make(memory) returning an allocator");
  }
  const carving = carve(parent, bytes, align) as RegionBlock | null;
  if (carving === null) {
    throw new OutOfMemoryError(
      `${nameOf(parent)} has no room for a ${bytes}-byte region aligned to ${align}`,
    );
  }
  let child: A;
  try {
    child = make(carving.memory);
  } catch (e) {
    carving.giveBack();
    throw e;
  }
  if (!isAllocator(child) || typeof (child as Partial<Droppable>).drop !== "function") {
    carving.giveBack();
    throw new ArgumentTypeError("childOf: make must return an allocator with drop()");
  }
  if (child.memory !== carving.memory) {
    carving.giveBack();
    throw new ArgumentTypeError(
      "childOf: make must build the allocator on the memory it is given (the carved region)",
    );
  }
  carving.child = child;
  const ownDrop = child.drop;
  // An own property shadowing the prototype's drop: every other method stays the strategy's.
  Object.defineProperty(child, "drop", {
    value: function drop(this: A): void {
      dropChild(this, carving, ownDrop);
    },
    configurable: true,
    enumerable: false,
    writable: true,
  });
  return child;
}

/**
 * Checks the child can be dropped, gives its block back, then finishes its handle. The
 * handle is finished without the strategy's own `drop` work when it is a `BaseAllocator`:
 * once the parent has the block back, the child's metadata in it is the parent's to reuse,
 * and a strategy that tidies up on drop (a slab giving pages to the allocator under it, in
 * the same region) would write into the parent's free block.
 */
function dropChild(child: Droppable, carving: RegionBlock, ownDrop: () => void): void {
  if (carving.released) {
    throw new AllocatorError(
      `${nameOf(child)} was dropped; it can no longer be used`,
      "ERR_DESTROYED",
    );
  }
  const grandchildren = dependentsOf(child);
  if (grandchildren.length > 0) {
    throw new AllocatorError(
      `${nameOf(child)} cannot be dropped while ${grandchildren.length} region(s) carved ` +
        `from it are alive (${grandchildren.map((c) => c.describe()).join("; ")}): drop those first`,
      "ERR_LIVE_CHILDREN",
    );
  }
  // The entry check of a public call: throws for a poisoned heap and re-derives views that
  // the parent's growth made stale. A poisoned child keeps its block (see the rules).
  try {
    child.stats();
  } catch (e) {
    if (e instanceof HeapPoisonedError) {
      throw new HeapPoisonedError(
        `${nameOf(child)} is poisoned: it cannot be dropped, and its region ` +
          `[${carving.ptr}, ${carving.ptr + carving.bytes}) stays allocated in its parent`,
      );
    }
    throw e;
  }
  carving.giveBack();
  if (child instanceof BaseAllocator) BaseAllocator.prototype.drop.call(child);
  else ownDrop.call(child);
}
