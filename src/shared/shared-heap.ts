/**
 * SharedHeap: one heap used by several agents (worker threads, Web Workers, the main
 * thread) at once. A wrapper, not a fork of a strategy (STYLE habit 1): it wraps any
 * allocator that offers the contract of inner.ts, its whole state in shared buffers (by
 * default a `TlsfAllocator` over a growable `SharedArrayBuffer` or a shared
 * `WebAssembly.Memory`), and adds what sharing needs, kept in a control buffer of its own
 * (control.ts):
 *
 * - **attach** (RELIABILITY F2/F3): `heap.share()` gives a plain descriptor (buffers and
 *   numbers only, so `postMessage` carries it); `SharedHeap.attach(descriptor)` in another
 *   agent validates it read-only (descriptor shape, control magic/version/byte order/config,
 *   then the heap header, config, sizes and live map) and throws `HeapIncompatibleError`
 *   on any mismatch or garbage (`HeapPoisonedError` for a heap found corrupt earlier),
 *   leaving every buffer's bytes unchanged.
 * - **two forms**, chosen at creation and shared by every agent:
 *   *synchronized* (stalloc's `SyncStalloc`): every call takes the robust lock (lock.ts);
 *   a contended call waits up to `lockTimeoutMs` and then throws `LockTimeoutError`.
 *   Where blocking is impossible (a browser's main thread) use `tryAlloc`/`tryDealloc`
 *   (never wait; LOCK_BUSY when another agent holds the lock) or `allocAsync`/
 *   `deallocAsync` (`Atomics.waitAsync`).
 *   *plain* (stalloc's `UnsafeStalloc`): the same word is a busy flag; a call that finds
 *   it taken throws `ConcurrentUseError` without touching the heap (RELIABILITY F1, W5).
 * - **faults** (F4, W1–W3): each agent has a registry slot with an intent record written
 *   before, and cleared after, each operation under the lock. The supervisor (the code that
 *   created the workers) calls `markDead(descriptor)` from the worker's `'exit'`/`'error'` event;
 *   if the dead agent held the lock, its word gets OWNER_DIED. The next caller recovers:
 *   it runs `check()` (fails → the heap is poisoned: every later call in every agent throws
 *   `HeapPoisonedError`), then rolls the dead agent's intent forward or back:
 *
 *   | op in flight        | phase begun (maybe half done)     | phase done (result recorded) |
 *   | ------------------- | --------------------------------- | ---------------------------- |
 *   | alloc / allocZeroed | nothing (at worst one block leaks) | free the result: nobody got it |
 *   | dealloc(p)          | finish it: free p if still live   | nothing                       |
 *   | realloc / reset     | nothing                           | nothing                       |
 *
 *   and runs `check()` again. A death that tore the strategy's metadata is caught by the
 *   first `check()`: the heap is poisoned, never silently used.
 * - **growth** (W6): growth happens under the lock; the agent that grew the memory bumps the
 *   control's GROWTH word before releasing; every call compares it with the generation it
 *   last saw and re-derives its views first (a shared `WebAssembly.Memory` hands out a new
 *   buffer object after every grow). An attaching agent reads the generation before it makes
 *   its views (a growth in between then still differs), and recovery bumps it (a dead agent
 *   may have grown the memory without publishing it). A view that stops short of the heap's
 *   end reads `undefined` past it, which TLSF would take for block 0: its links would be
 *   written over the heap's header.
 * - **small-block caches** (synchronized form, cache.ts): requests ≤ 1 KiB with align ≤ 16
 *   are served from 8 KiB pages each agent takes from TLSF under the lock and then uses
 *   without it; any agent frees a cache block without the lock (one atomic AND on the
 *   page's live bitmap, which is also how a block freed by another agent returns to its
 *   owner). A page whose last block is freed, by its owner or any other agent, is parked by
 *   the agent that freed it (under the lock, whether or not its owner is idle: cache.ts's
 *   claim protocol): any agent needing a page takes it before asking TLSF, and past
 *   `cacheEmptyPages` parked pages the rest go back to TLSF.
 *   Pages of a dead agent are reclaimed by recovery (empty ones back to TLSF,
 *   the others ABANDONED and adopted by the next agent needing their class); `close()`
 *   does the same for its own. While a test pause point is armed (ATTN_HOOK), every call
 *   takes the lock, so the points are reached on every path.
 * - **double free across agents** (F7): a TLSF block's free is serialised by the lock and
 *   validated against its live map; a cache block's free is one `Atomics.and` whose old
 *   value says whether it was live. Either way, of two agents freeing one block exactly one
 *   succeeds and the other gets `DoubleFreeError`.
 *
 * Recovery with caches, before the intents are rolled: a page install or release cut
 * between its steps is finished (the page goes back to TLSF: `PageCache.repair`, and the
 * PAGE word of the dead agent's slot for a page taken but not yet published); after them,
 * the dead agents' pages are released or abandoned, then the whole heap is checked again.
 *
 * ## Cost per call (synchronized, uncontended)
 * | path                              | cost                                               |
 * | --------------------------------- | -------------------------------------------------- |
 * | cache alloc / free (small blocks) | 2 control loads, a table load, 1 atomic RMW; no lock |
 * | locked call: lock + unlock        | 1 CAS + 1 exchange                                 |
 * | locked call: entry checks         | 3 plain loads (attention, growth, pause hook)      |
 * | locked call: intent record        | 7 plain stores into the agent's own slot           |
 * | the wrapped operation             | unchanged                                          |
 *
 * ## Invariants
 * The lock word's owner bits name the agent inside a call, or are 0; an agent's intent is
 * non-empty only while it holds the lock (or it died holding it); ATTN_POISONED is never
 * cleared; GROWTH only increases.
 */

import {
  type Allocator,
  type AllocatorStats,
  allocateLayout,
  deallocateLayout,
  orOutOfMemory,
} from "../core/allocator.js";
import { dumpState, INSPECT, summarize } from "../core/describe.js";
import { AllocatorError, ArgumentTypeError } from "../core/errors.js";
import type { Allocation, Layout } from "../core/layout.js";
import { DEFAULT_ALIGN, isUint32 } from "../core/validate.js";
import { WasmMemory } from "../memory/memory.js";
import { type CacheTally, CLASS_OF16, CLASS_SIZE, SMALL_MAX } from "./cache.js";
import {
  AGENT_ALIVE,
  AGENT_DEAD,
  AGENT_FREE,
  AGENT_RESERVED,
  ATTN_DEAD,
  ATTN_POISONED,
  C_ATTN,
  C_GROWTH,
  C_LOCK,
  CONTROL_VERSION,
  OP_ALLOC,
  OP_ALLOC_ZEROED,
  OP_DEALLOC,
  OP_NONE,
  OP_REALLOC,
  OP_RESET,
  S_STATE,
  slotGeneration,
  slotState,
  slotStateWord,
  slotWord,
} from "./control.js";
import {
  ALIGN8,
  type AttachOptions,
  attachParts,
  createParts,
  DESCRIPTOR_TYPE,
  type SharedHeapDescriptor,
  type SharedHeapOptions,
} from "./descriptor.js";
import { SharedHeapKernel } from "./kernel.js";
import { markOwnerDied, OWNER_DIED } from "./lock.js";

export {
  type AttachOptions,
  LOCK_BUSY,
  LockTimeoutError,
  type SharedHeapDescriptor,
  type SharedHeapOptions,
} from "./descriptor.js";

/** A slot generation's bits (control.ts: the STATE word's bits 2–31). */
const GENERATION_MASK = 0x3fffffff;

/**
 * One heap used by several threads at once (worker threads, Web Workers, the main thread),
 * in shared memory. `share()` gives a plain descriptor that `postMessage` carries;
 * `SharedHeap.attach(descriptor)` in another thread opens the same heap, validated first.
 * A pointer from one thread is valid in every other. Synchronized (the default), every
 * call takes a lock that survives a thread dying; `tryAlloc`/`tryDealloc` never wait, and
 * `allocAsync`/`deallocAsync` wait without blocking (for a browser's main thread). Small
 * blocks come from per-thread caches. Needs `SharedArrayBuffer` (in a browser, a
 * cross-origin isolated page).
 *
 * @example
 * ```ts
 * import { SharedHeap } from "memkit";
 *
 * const heap = SharedHeap.create({ initialBytes: 1 << 20, maxBytes: 16 << 20 });
 * const descriptor = heap.share(); // postMessage(descriptor) to a worker, which then calls:
 * const other = SharedHeap.attach(descriptor); // (here in the same thread, as a stand-in)
 * const p = heap.alloc(64);
 * heap.memory.u8[p] = 42;
 * console.log(other.memory.u8[p]); // 42: one heap, one memory
 * other.dealloc(p); // any handle may free any block
 * other.close();
 * heap.close();
 * ```
 */
export class SharedHeap extends SharedHeapKernel implements Allocator {
  /** `"SharedHeap"`, as messages and `console.log` show it. */
  readonly name = "SharedHeap";
  /**
   * A new shared heap (TLSF by default); this thread is its first agent.
   *
   * @param options - sizes, the memory, synchronized or not, the strategy, caches
   * @returns the heap
   * @throws {@link AllocatorError} `ERR_SAB_UNAVAILABLE` where `SharedArrayBuffer` is missing
   * @throws {@link ArgumentRangeError} `ERR_ALLOC_SIZE` or `ERR_MEMORY` for bad sizes
   */
  static create(options: SharedHeapOptions = {}): SharedHeap {
    const p = createParts(options);
    return new SharedHeap(p.inner, p.control, p.agent, p);
  }

  /**
   * Attaches this agent to the heap `descriptor` describes (from `share()` in another
   * agent). Validated read-only; `HeapIncompatibleError` on any mismatch or garbage.
   *
   * @param descriptor - what `share()` returned in the other agent
   * @param options - the lock timeout, the strategy the heap was made with
   * @returns this agent's handle
   * @throws {@link HeapIncompatibleError} `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION` or
   *   `ERR_HEAP_CONFIG` when the descriptor or the buffers are not such a heap
   * @throws {@link HeapPoisonedError} `ERR_HEAP_POISONED` for a heap found corrupt earlier
   */
  static attach(descriptor: SharedHeapDescriptor, options: AttachOptions = {}): SharedHeap {
    const p = attachParts(descriptor, options);
    return new SharedHeap(p.inner, p.control, p.agent, p);
  }

  /**
   * A descriptor for one more agent: reserves an agent id for it (its `agent` field, and the
   * slot's `generation`; the supervisor passes the descriptor to `markDead` if the agent
   * dies). Plain data: `postMessage` it.
   */
  share(): SharedHeapDescriptor {
    this.checkOpen();
    if (this.liveMap === undefined) {
      throw new ArgumentTypeError("share(): this SharedHeap was not made by create/attach");
    }
    let agent = 0;
    let generation = 0;
    for (let id = 1; id <= this.maxAgents && agent === 0; id++) {
      const s = slotWord(id, S_STATE);
      const word = Atomics.load(this.c, s);
      if (slotState(word) !== AGENT_FREE) continue;
      const next = (slotGeneration(word) + 1) & GENERATION_MASK;
      if (Atomics.compareExchange(this.c, s, word, slotStateWord(AGENT_RESERVED, next)) === word) {
        agent = id;
        generation = next;
      }
    }
    if (agent === 0) {
      throw new AllocatorError(
        `share(): all ${this.maxAgents} agent slots are taken (raise maxAgents)`,
        "ERR_UNSUPPORTED",
      );
    }
    const memory = this.memory;
    return {
      type: DESCRIPTOR_TYPE,
      version: CONTROL_VERSION,
      memory: memory instanceof WasmMemory ? memory.memory : (memory.buffer as SharedArrayBuffer),
      start: memory.start,
      maximumPages: this.wasmMaxPages,
      liveMap: this.liveMap,
      control: this.control,
      cache: this.cacheBuf,
      agent,
      generation,
    };
  }

  // ---- supervision ---------------------------------------------------------------------------

  /**
   * The supervisor's call when an agent died (a worker's `'exit'` or `'error'`, or after
   * `terminate()`): marks it dead and, if it held the lock, sets OWNER_DIED on the lock word
   * so that the next caller recovers. Returns whether it held the lock.
   *
   * Pass the agent's descriptor (or its `agent` and `generation`): an id alone names
   * whoever holds the slot now, which may be a later agent given the same id after the
   * dead one closed. With a generation that is not the slot's any more, nothing is marked
   * (false).
   */
  markDead(
    agent: number | Pick<SharedHeapDescriptor, "agent" | "generation">,
    generation?: number,
  ): boolean {
    let agentId: number;
    let gen: number | undefined;
    if (typeof agent === "object" && agent !== null) {
      agentId = agent.agent;
      gen = agent.generation;
    } else {
      agentId = agent;
      gen = generation;
    }
    if (!(Number.isInteger(agentId) && agentId >= 1 && agentId <= this.maxAgents)) {
      throw new ArgumentTypeError(`markDead: agent id ${agentId} is not 1 … ${this.maxAgents}`);
    }
    if (gen !== undefined && !(Number.isInteger(gen) && gen >= 0)) {
      throw new ArgumentTypeError(`markDead: generation ${gen} is not a non-negative integer`);
    }
    if (agentId === this.agentId) {
      throw new ArgumentTypeError("markDead: an agent cannot mark itself dead (use close())");
    }
    const c = this.c;
    const s = slotWord(agentId, S_STATE);
    for (;;) {
      const word = Atomics.load(c, s);
      const state = slotState(word);
      if (state !== AGENT_ALIVE && state !== AGENT_RESERVED) return false;
      if (gen !== undefined && slotGeneration(word) !== gen) return false; // reused slot
      const dead = slotStateWord(AGENT_DEAD, slotGeneration(word));
      if (Atomics.compareExchange(c, s, word, dead) === word) break;
    }
    Atomics.or(c, C_ATTN, ATTN_DEAD);
    return markOwnerDied(c, C_LOCK, agentId);
  }

  /** Whether the heap was poisoned (every call now throws `HeapPoisonedError`). */
  get poisoned(): boolean {
    return (Atomics.load(this.c, C_ATTN) & ATTN_POISONED) !== 0;
  }

  /** The id of the agent inside a call now (0 when none); OWNER_DIED shows as negative. */
  get lockOwner(): number {
    const w = Atomics.load(this.c, C_LOCK);
    return (w & OWNER_DIED) !== 0 ? -(w & 0x3fffffff) : w & 0x3fffffff;
  }

  /**
   * This handle is finished: its empty cache pages go back to the heap, the others are
   * left ABANDONED for other agents to adopt, and its agent slot is freed. Calls through it
   * then throw. (When the heap is poisoned or the lock cannot be had, the pages stay tagged
   * with this agent's id: the next agent given that id takes them over.)
   */
  close(): void {
    if (this.closed) return;
    const pc = this.pc;
    if (pc !== null) {
      try {
        this.begin(OP_NONE, 0, 0);
        try {
          pc.releaseOrAbandon(this.agentId, this.inner);
        } catch (e) {
          this.abort(e);
          throw e;
        }
        this.end(0);
      } catch {
        // Poisoned, or the lock timed out: see above.
      }
    }
    this.pc = null;
    this.closed = true;
    Atomics.compareExchange(
      this.c,
      this.slot + S_STATE,
      slotStateWord(AGENT_ALIVE, this.generation),
      slotStateWord(AGENT_FREE, this.generation),
    );
  }

  // ---- the contract --------------------------------------------------------------------------
  //
  // Small requests go to this agent's cache pages without the lock when nothing needs
  // attention (no poison, no dead agent to recover, no growth to see, no armed test hook);
  // everything else, and a small request whose pages are full, takes the lock.

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    const pc = this.pc;
    if (
      pc !== null &&
      align === ALIGN8 &&
      typeof size === "number" &&
      size <= SMALL_MAX &&
      size >>> 0 === size
    ) {
      const c = this.c;
      if (c[C_ATTN] === 0 && c[C_GROWTH] === this.growth) {
        const cls = CLASS_OF16[(size + 15) >>> 4];
        let r = pc.alloc(cls);
        if (r === 0 && !pc.stale) r = pc.allocNext(cls);
        if (r !== 0) return r;
      }
    }
    return this.allocLocked(OP_ALLOC, size, align);
  }

  allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    const pc = this.pc;
    if (
      pc !== null &&
      align === ALIGN8 &&
      typeof size === "number" &&
      size <= SMALL_MAX &&
      size >>> 0 === size
    ) {
      const c = this.c;
      if (c[C_ATTN] === 0 && c[C_GROWTH] === this.growth) {
        const cls = CLASS_OF16[(size + 15) >>> 4];
        let r = pc.alloc(cls);
        if (r === 0 && !pc.stale) r = pc.allocNext(cls);
        if (r !== 0) {
          this.memory.u8.fill(0, r, r + CLASS_SIZE[cls]);
          return r;
        }
      }
    }
    return this.allocLocked(OP_ALLOC_ZEROED, size, align);
  }

  dealloc(ptr: number, size?: number): void {
    const pc = this.pc;
    if (pc !== null && typeof ptr === "number" && ptr >>> 0 === ptr && this.c[C_ATTN] === 0) {
      const d = pc.pageOf(ptr);
      if (d >= 0) {
        pc.free(d, ptr, size);
        if (pc.due) this.settle(pc, true);
        return;
      }
      if (ptr === 0) return;
    }
    this.begin(OP_DEALLOC, ptr, size);
    this.deallocHeld(ptr, size);
  }

  realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
    const pc = this.pc;
    if (pc !== null && isUint32(ptr) && ptr !== 0) {
      const d = pc.pageOf(ptr);
      if (d >= 0) return this.reallocCached(pc, d, ptr, newSize, align);
    }
    this.begin(OP_REALLOC, ptr, newSize);
    let r: number;
    try {
      r = this.inner.realloc(ptr, newSize, align);
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(r);
    return r;
  }

  usableSize(ptr: number): number {
    const pc = this.pc;
    if (pc !== null && isUint32(ptr)) {
      const d = pc.pageOf(ptr);
      if (d >= 0) {
        this.touch();
        return pc.liveSize(d, ptr);
      }
    }
    this.begin(OP_NONE, ptr, 0);
    let r: number;
    try {
      r = this.inner.usableSize(ptr);
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
    return r;
  }

  owns(ptr: number): boolean {
    if (this.c[C_GROWTH] !== this.growth) this.memory.refresh();
    return this.inner.owns(ptr);
  }

  /**
   * Releases every block at once. Every agent's cache pages go back too: no other agent may
   * be inside a call meanwhile (its lock-free allocation could hand out a block of a page
   * the reset took back).
   */
  reset(): void {
    this.begin(OP_RESET, 0, 0);
    try {
      this.inner.reset();
      this.pc?.clear();
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
  }

  /**
   * The heap's figures with cache pages seen through: a page counts as its blocks (live
   * ones in `inUse`/`liveBlocks`, free ones in `free`), the rest of its TLSF block as
   * overhead. Exact when no other agent is inside an allocation.
   */
  stats(): AllocatorStats {
    this.begin(OP_NONE, 0, 0);
    let r: AllocatorStats;
    try {
      r = this.inner.stats();
      const pc = this.pc;
      if (pc !== null) {
        const t = pc.tally(this.inner);
        const inUse = r.inUse - t.pageBytes + t.liveBytes;
        const free = r.free + t.freeBytes;
        r = {
          ...r,
          inUse,
          free,
          overhead: r.capacity - inUse - free,
          liveBlocks: r.liveBlocks - t.pages + t.liveBlocks,
          largestFree: Math.max(r.largestFree, t.largestFree),
        };
      }
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
    return r;
  }

  /** The one-line summary `console.log` and `util.inspect` print (core/describe.ts). */
  [INSPECT](): string {
    return summarize(`SharedHeap agent ${this.agentId}`, this);
  }

  /**
   * The heap's figures (cache pages seen through), read under the lock. The wrapped
   * allocator is not dumped: reading it outside the lock could see another agent's torn
   * update.
   */
  dump(): string {
    return dumpState(`SharedHeap agent ${this.agentId}`, this);
  }

  /** The cache pages and their blocks (`pages` 0 without caches). */
  cacheStats(): CacheTally {
    this.begin(OP_NONE, 0, 0);
    let t: CacheTally;
    try {
      const pc = this.pc;
      t =
        pc === null
          ? {
              pages: 0,
              abandoned: 0,
              parked: 0,
              liveBlocks: 0,
              liveBytes: 0,
              freeBlocks: 0,
              freeBytes: 0,
              largestFree: 0,
            }
          : pc.tally(this.inner);
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
    return t;
  }

  /**
   * Checks the wrapped heap and the cache (descriptors ↔ page table ↔ TLSF blocks); a
   * failure (`HeapCorruptedError`) poisons the heap. Safe while other agents use it.
   */
  check(): void {
    this.begin(OP_NONE, 0, 0);
    try {
      this.checkAll();
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
  }

  /**
   * Gives this agent's empty cache pages (and empty abandoned ones) back to the shared
   * heap; the lock-holding path does it by itself when an allocation runs out of memory.
   * Returns the number of pages given back.
   */
  trim(): number {
    this.begin(OP_NONE, 0, 0);
    let n = 0;
    try {
      n = this.pc?.trim(this.inner) ?? 0;
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
    return n;
  }

  allocate(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, false, true);
  }

  allocateZeroed(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, true, true);
  }

  deallocate(ptr: number, layout?: Layout): void {
    deallocateLayout(this, ptr, layout);
  }

  allocOrThrow(size: number, align: number = DEFAULT_ALIGN): number {
    return orOutOfMemory(this.alloc(size, align), "SharedHeap: out of memory", size, align);
  }
}
