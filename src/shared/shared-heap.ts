/**
 * SharedHeap: one heap used by several agents (worker threads, Web Workers, the main
 * thread) at once. A wrapper, not a fork of a strategy (STYLE habit 1): it wraps any
 * `Allocator` whose whole state lives in shared buffers (by default a `TlsfAllocator` over
 * a growable `SharedArrayBuffer` or a shared `WebAssembly.Memory`) and adds what sharing
 * needs, kept in a control buffer of its own (control.ts):
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
 *   created the workers) calls `markDead(agent)` from the worker's `'exit'`/`'error'` event;
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
 *   buffer object after every grow).
 * - **small-block caches** (synchronized form, cache.ts): requests ≤ 1 KiB with align ≤ 16
 *   are served from 16 KiB pages each agent takes from TLSF under the lock and then uses
 *   without it; any agent frees a cache block without the lock (one atomic AND on the
 *   page's live bitmap, which is also how a block freed by another agent returns to its
 *   owner). Pages of a dead agent are reclaimed by recovery (empty ones back to TLSF,
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

import { type Allocator, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import { dumpState, INSPECT, summarize } from "../core/describe.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  ConcurrentUseError,
  HeapIncompatibleError,
  HeapPoisonedError,
  OutOfMemoryError,
} from "../core/errors.js";
import { type Allocation, Layout } from "../core/layout.js";
import type { Memory } from "../core/memory.js";
import { checkAlign, DEFAULT_ALIGN, isUint32, isValidAlign, rejectSize } from "../core/validate.js";
import { PAGE_BYTES, SharedMemory, WasmMemory } from "../memory/memory.js";
import { TlsfAllocator } from "../strategies/tlsf/index.js";
import {
  PAGE_BYTES as CACHE_PAGE_BYTES,
  type CacheTally,
  CLASS_OF16,
  CLASS_SIZE,
  cacheCorrupt,
  createCache,
  PAGE_USABLE,
  PageCache,
  SMALL_MAX,
  validateCache,
} from "./cache.js";
import {
  AGENT_ALIVE,
  AGENT_DEAD,
  AGENT_FREE,
  AGENT_RESERVED,
  ATTN_DEAD,
  ATTN_HOOK,
  ATTN_POISONED,
  C_ATTN,
  C_GROWTH,
  C_LOCK,
  C_PAUSE_AGENT,
  C_PAUSE_AT,
  C_PAUSE_GATE,
  C_PAUSED,
  CONTROL_VERSION,
  CONTROL_VERSION_MAJOR,
  createControl,
  DEFAULT_MAX_AGENTS,
  MAX_AGENTS_LIMIT,
  MODE_PLAIN,
  MODE_SYNCHRONIZED,
  OP_ALLOC,
  OP_ALLOC_ZEROED,
  OP_DEALLOC,
  OP_NONE,
  OP_REALLOC,
  OP_RESET,
  PAUSE_POINTS,
  type PausePoint,
  PHASE_BEGUN,
  PHASE_DONE,
  S_ARG0,
  S_ARG1,
  S_OP,
  S_PAGE,
  S_PHASE,
  S_RESULT,
  S_SEQ,
  S_STATE,
  slotWord,
  validateControl,
} from "./control.js";
import {
  ACQUIRED,
  ACQUIRED_OWNER_DIED,
  acquire,
  acquireAsync,
  markOwnerDied,
  OWNER_DIED,
  release,
  TIMED_OUT,
  tryTake,
} from "./lock.js";

/** What `tryAlloc` returns when another agent holds the lock (never a pointer). */
export const LOCK_BUSY = -1;

const DESCRIPTOR_TYPE = "memkit.SharedHeap";

/** Everything another agent needs to attach; plain data, carried by `postMessage`. */
export interface SharedHeapDescriptor {
  readonly type: typeof DESCRIPTOR_TYPE;
  readonly version: number;
  /** The heap's bytes: a growable `SharedArrayBuffer` or a shared `WebAssembly.Memory`. */
  readonly memory: SharedArrayBuffer | WebAssembly.Memory;
  /** First byte of the heap's region (a wasm module's heap base; 0 for a buffer). */
  readonly start: number;
  /** The wasm memory's maximum in pages (the object does not say). */
  readonly maximumPages: number;
  /** The TLSF live map (one bit per 8 bytes), a growable `SharedArrayBuffer`. */
  readonly liveMap: SharedArrayBuffer;
  /** Lock, flags, registry and intents (control.ts). */
  readonly control: SharedArrayBuffer;
  /** Page descriptors and page table of the small-block caches (cache.ts); null without. */
  readonly cache: SharedArrayBuffer | null;
  /** The agent id reserved for the one agent that attaches with this descriptor. */
  readonly agent: number;
}

export interface SharedHeapOptions {
  /** Bytes of a new heap (default 1 MiB; rounded up to 64 KiB pages). */
  initialBytes?: number;
  /** How far it may grow (default: `initialBytes`, no growth). */
  maxBytes?: number;
  /**
   * Use this memory instead of a new shared `WebAssembly.Memory`: a shared
   * `WebAssembly.Memory`, or a (growable) `SharedArrayBuffer`. The default is a wasm memory
   * because a growable SharedArrayBuffer's length-tracking views are several times slower
   * on every access (measured on W1: ~9x for TLSF over SharedMemory, Node 20).
   */
  memory?: WebAssembly.Memory | SharedArrayBuffer;
  /** With `memory`: the heap's first byte (default 0) and the memory's maximum pages. */
  start?: number;
  maximumPages?: number;
  /** Lock-based (default) or plain (concurrent use detected and refused). */
  synchronized?: boolean;
  /** Agents that can attach over the heap's life (default 64). */
  maxAgents?: number;
  /** How long a blocking call waits for the lock before `LockTimeoutError` (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Synchronized form: how many 16 KiB cache pages (all agents together) may hold small
   * blocks; 0 turns the per-agent caches off. Default: one per page of the memory's maximum
   * size, at most 2,048 (32 MiB).
   */
  cachePages?: number;
}

export interface AttachOptions {
  lockTimeoutMs?: number;
}

/** A blocking call waited `lockTimeoutMs` for the lock. The heap is unchanged. */
export class LockTimeoutError extends ConcurrentUseError {
  constructor(message: string) {
    super(message, "ERR_LOCK_TIMEOUT");
    this.name = "LockTimeoutError";
  }
}

const ALIGN8 = 8;

/** Numbers only go into the intent record: a non-number argument is the strategy's to reject. */
function u32Arg(x: unknown): number {
  return typeof x === "number" && x >= 0 && x <= 0xffffffff ? x : 0;
}

export class SharedHeap implements Allocator {
  readonly name = "SharedHeap";
  readonly memory: Memory;
  /** The wrapped allocator (use it only through this handle). */
  readonly inner: Allocator;
  /** This agent's id (1 … maxAgents): the owner bits of the lock while it is inside a call. */
  readonly agentId: number;
  readonly synchronized: boolean;
  readonly maxAgents: number;
  lockTimeoutMs: number;

  private readonly c: Int32Array;
  private readonly cu: Uint32Array;
  /** Index of this agent's registry slot. */
  private readonly slot: number;
  private readonly control: SharedArrayBuffer;
  private readonly liveMap: SharedArrayBuffer | undefined;
  private readonly wasmMaxPages: number;
  /** The GROWTH generation and memory end this agent's views were derived at. */
  private growth: number;
  private seenEnd: number;
  private closed = false;
  private testHook: ((point: PausePoint) => void) | undefined;
  /** The cache buffer, and this agent's handle on it (null: no caches, or closed). */
  private readonly cacheBuf: SharedArrayBuffer | null;
  private pc: PageCache | null;
  private readonly pageHook = (): void => this.pausePoint(PAUSE_POINTS.page);

  /**
   * Wraps `inner` (whose state must live in shared buffers) as agent `agentId` of the
   * control buffer `control`. Most code uses `SharedHeap.create` and `SharedHeap.attach`.
   */
  constructor(
    inner: Allocator,
    control: SharedArrayBuffer,
    agentId: number,
    options: AttachOptions & {
      liveMap?: SharedArrayBuffer;
      maximumPages?: number;
      cache?: SharedArrayBuffer | null;
    } = {},
  ) {
    const { maxAgents, mode, cached } = validateControl(control);
    if (!(Number.isInteger(agentId) && agentId >= 1 && agentId <= maxAgents)) {
      throw new ArgumentTypeError(`agent id ${agentId} is not 1 … ${maxAgents}`);
    }
    if (!inner.memory.shared) {
      throw new ArgumentTypeError("SharedHeap needs an allocator over shared memory");
    }
    this.inner = inner;
    this.memory = inner.memory;
    this.control = control;
    this.c = new Int32Array(control);
    this.cu = new Uint32Array(control);
    this.agentId = agentId;
    this.slot = slotWord(agentId, 0);
    this.synchronized = mode === MODE_SYNCHRONIZED;
    this.maxAgents = maxAgents;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.liveMap = options.liveMap;
    this.wasmMaxPages = options.maximumPages ?? 65536;
    this.growth = Atomics.load(this.c, C_GROWTH);
    this.seenEnd = this.memory.end;
    this.cacheBuf = options.cache ?? null;
    if (cached !== (this.cacheBuf !== null)) {
      throw new ArgumentTypeError("SharedHeap: the cache buffer does not match the control's");
    }
    this.pc = this.cacheBuf === null ? null : new PageCache(this.cacheBuf, agentId);
    this.pc?.rebuild();
  }

  /** A new shared TLSF heap; this agent is its first (agent 1). */
  static create(options: SharedHeapOptions = {}): SharedHeap {
    if (typeof SharedArrayBuffer !== "function") {
      throw new ArgumentTypeError(
        "SharedArrayBuffer is not available here (a browser page needs cross-origin isolation)",
        "ERR_SAB_UNAVAILABLE",
      );
    }
    const maxAgents = options.maxAgents ?? DEFAULT_MAX_AGENTS;
    if (!(Number.isInteger(maxAgents) && maxAgents >= 1 && maxAgents <= MAX_AGENTS_LIMIT)) {
      throw new ArgumentTypeError(`maxAgents must be an integer 1 … ${MAX_AGENTS_LIMIT}`);
    }
    let memory: Memory;
    let maximumPages = 65536;
    if (options.memory instanceof SharedArrayBuffer) {
      memory = new SharedMemory(options.memory);
    } else if (options.memory !== undefined) {
      maximumPages = options.maximumPages ?? 65536;
      memory = new WasmMemory(options.memory, options.start ?? 0, maximumPages);
      if (!memory.shared) {
        throw new ArgumentTypeError("SharedHeap needs a shared WebAssembly.Memory");
      }
    } else {
      const initial = options.initialBytes ?? 1 << 20;
      const pages = Math.max(1, Math.ceil(initial / PAGE_BYTES));
      maximumPages = Math.max(pages, Math.ceil((options.maxBytes ?? initial) / PAGE_BYTES));
      if (maximumPages > 65536) {
        throw new ArgumentTypeError("maxBytes must be at most 4 GiB");
      }
      memory = WasmMemory.create(pages, maximumPages, true);
    }
    const tlsf = new TlsfAllocator(memory);
    const cachePages = options.cachePages;
    if (cachePages !== undefined && !(Number.isInteger(cachePages) && cachePages >= 0)) {
      throw new ArgumentTypeError("cachePages must be a non-negative integer");
    }
    const cache =
      options.synchronized === false || cachePages === 0
        ? null
        : createCache(memory.maxEnd, cachePages);
    const control = createControl(
      maxAgents,
      options.synchronized === false ? MODE_PLAIN : MODE_SYNCHRONIZED,
      cache !== null,
    );
    const c = new Int32Array(control);
    c[slotWord(1, S_STATE)] = AGENT_ALIVE;
    return new SharedHeap(tlsf, control, 1, {
      lockTimeoutMs: options.lockTimeoutMs,
      liveMap: tlsf.liveMapBuffer as SharedArrayBuffer,
      maximumPages,
      cache,
    });
  }

  /**
   * Attaches this agent to the heap `descriptor` describes (from `share()` in another
   * agent). Validated read-only; `HeapIncompatibleError` on any mismatch or garbage.
   */
  static attach(descriptor: SharedHeapDescriptor, options: AttachOptions = {}): SharedHeap {
    const d = descriptor as unknown as Record<string, unknown>;
    if (typeof d !== "object" || d === null || d.type !== DESCRIPTOR_TYPE) {
      throw new HeapIncompatibleError("SharedHeap.attach: not a shared heap descriptor");
    }
    if (typeof d.version !== "number" || Math.floor(d.version / 65536) !== CONTROL_VERSION_MAJOR) {
      throw new HeapIncompatibleError(
        `SharedHeap.attach: descriptor version ${String(d.version)} is not ${CONTROL_VERSION_MAJOR}.x`,
        "ERR_HEAP_VERSION",
      );
    }
    const { maxAgents, cached } = validateControl(d.control);
    const agent = d.agent;
    if (
      !(typeof agent === "number" && Number.isInteger(agent) && agent >= 1 && agent <= maxAgents)
    ) {
      throw new HeapIncompatibleError(`SharedHeap.attach: agent id ${String(agent)} is invalid`);
    }
    const control = d.control as SharedArrayBuffer;
    const c = new Int32Array(control);
    if (Atomics.load(c, slotWord(agent, S_STATE)) !== AGENT_RESERVED) {
      throw new HeapIncompatibleError(
        `SharedHeap.attach: agent slot ${agent} is not reserved (each share() serves one attach)`,
        "ERR_HEAP_CONFIG",
      );
    }
    const start = d.start;
    const maximumPages = d.maximumPages;
    if (!(typeof start === "number" && Number.isSafeInteger(start) && start >= 0)) {
      throw new HeapIncompatibleError(`SharedHeap.attach: start ${String(start)} is invalid`);
    }
    if (!(typeof maximumPages === "number" && Number.isInteger(maximumPages))) {
      throw new HeapIncompatibleError("SharedHeap.attach: maximumPages is invalid");
    }
    let memory: Memory;
    if (typeof WebAssembly === "object" && d.memory instanceof WebAssembly.Memory) {
      memory = new WasmMemory(d.memory, start, maximumPages);
      if (!memory.shared)
        throw new HeapIncompatibleError("SharedHeap.attach: memory is not shared");
    } else if (typeof SharedArrayBuffer === "function" && d.memory instanceof SharedArrayBuffer) {
      if (start !== 0) throw new HeapIncompatibleError("SharedHeap.attach: start must be 0");
      memory = new SharedMemory(d.memory);
    } else {
      throw new HeapIncompatibleError(
        "SharedHeap.attach: memory is neither a SharedArrayBuffer nor a WebAssembly.Memory",
      );
    }
    if (!(typeof SharedArrayBuffer === "function" && d.liveMap instanceof SharedArrayBuffer)) {
      throw new HeapIncompatibleError("SharedHeap.attach: the live map is not a SharedArrayBuffer");
    }
    // The strategy validates its own header and the live map, read-only. Another agent may
    // grow the memory meanwhile (the header then names an end past the bytes this agent
    // saw): look at the memory again and retry while it keeps growing.
    let tlsf: TlsfAllocator;
    for (let attempt = 0; ; attempt++) {
      const seen = memory.end;
      try {
        tlsf = TlsfAllocator.attach(memory, d.liveMap);
        break;
      } catch (e) {
        memory.refresh();
        if (attempt >= 8 || memory.end === seen) throw e;
      }
    }
    const cache = d.cache ?? null;
    if (cached !== (cache !== null)) {
      throw new HeapIncompatibleError(
        `SharedHeap.attach: the heap ${cached ? "has" : "has no"} small-block cache, the descriptor ${cache !== null ? "has" : "has no"} cache buffer`,
        "ERR_HEAP_CONFIG",
      );
    }
    if (cache !== null) validateCache(cache, memory.maxEnd, maxAgents);
    // Validation passed: the first write claims the reserved slot.
    if (
      Atomics.compareExchange(c, slotWord(agent, S_STATE), AGENT_RESERVED, AGENT_ALIVE) !==
      AGENT_RESERVED
    ) {
      throw new HeapIncompatibleError(`SharedHeap.attach: agent slot ${agent} was taken meanwhile`);
    }
    return new SharedHeap(tlsf, control, agent, {
      lockTimeoutMs: options.lockTimeoutMs,
      liveMap: d.liveMap,
      maximumPages,
      cache: cache as SharedArrayBuffer | null,
    });
  }

  /**
   * A descriptor for one more agent: reserves an agent id for it (its `agent` field; the
   * supervisor passes that id to `markDead` if the agent dies). Plain data: `postMessage` it.
   */
  share(): SharedHeapDescriptor {
    this.checkOpen();
    if (this.liveMap === undefined) {
      throw new ArgumentTypeError("share(): this SharedHeap was not made by create/attach");
    }
    let agent = 0;
    for (let id = 1; id <= this.maxAgents && agent === 0; id++) {
      if (
        Atomics.compareExchange(this.c, slotWord(id, S_STATE), AGENT_FREE, AGENT_RESERVED) ===
        AGENT_FREE
      ) {
        agent = id;
      }
    }
    if (agent === 0) {
      throw new AllocatorError(
        `share(): all ${this.maxAgents} agent slots are taken (raise maxAgents)`,
        "ERR_UNSUPPORTED",
      );
    }
    const m = this.memory;
    return {
      type: DESCRIPTOR_TYPE,
      version: CONTROL_VERSION,
      memory: m instanceof WasmMemory ? m.memory : (m.buffer as SharedArrayBuffer),
      start: m.start,
      maximumPages: this.wasmMaxPages,
      liveMap: this.liveMap,
      control: this.control,
      cache: this.cacheBuf,
      agent,
    };
  }

  // ---- supervision ---------------------------------------------------------------------------

  /**
   * The supervisor's call when agent `agentId` died (a worker's `'exit'` or `'error'`, or
   * after `terminate()`): marks it dead and, if it held the lock, sets OWNER_DIED on the lock
   * word so that the next caller recovers. Returns whether it held the lock.
   */
  markDead(agentId: number): boolean {
    if (!(Number.isInteger(agentId) && agentId >= 1 && agentId <= this.maxAgents)) {
      throw new ArgumentTypeError(`markDead: agent id ${agentId} is not 1 … ${this.maxAgents}`);
    }
    if (agentId === this.agentId) {
      throw new ArgumentTypeError("markDead: an agent cannot mark itself dead (use close())");
    }
    const c = this.c;
    const s = slotWord(agentId, S_STATE);
    for (;;) {
      const state = Atomics.load(c, s);
      if (state !== AGENT_ALIVE && state !== AGENT_RESERVED) return false;
      if (Atomics.compareExchange(c, s, state, AGENT_DEAD) === state) break;
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
          this.abort();
          throw e;
        }
        this.end(0);
      } catch {
        // Poisoned, or the lock timed out: see above.
      }
    }
    this.pc = null;
    this.closed = true;
    Atomics.compareExchange(this.c, this.slot + S_STATE, AGENT_ALIVE, AGENT_FREE);
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
        return;
      }
      if (ptr === 0) return;
    }
    this.begin(OP_DEALLOC, ptr, size);
    try {
      this.deallocInside(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
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
      this.abort();
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
      this.abort();
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
      this.abort();
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
      this.abort();
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
              liveBlocks: 0,
              liveBytes: 0,
              freeBlocks: 0,
              freeBytes: 0,
              largestFree: 0,
            }
          : pc.tally(this.inner);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
    return t;
  }

  /**
   * Checks the wrapped heap and the cache (descriptors ↔ page table ↔ TLSF blocks); a
   * failure poisons the heap. Safe while other agents use it.
   */
  check(): void {
    this.begin(OP_NONE, 0, 0);
    try {
      this.checkAll();
    } catch (e) {
      this.abort();
      if (e instanceof AllocatorError && e.code === "ERR_HEAP_CORRUPTED") {
        this.poison(`check() found: ${e.message}`);
      }
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
      this.abort();
      throw e;
    }
    this.end(0);
    return n;
  }

  allocate(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocate takes a Layout");
    const ptr = this.alloc(layout.size, layout.align);
    return ptr === 0 ? null : { ptr, size: this.usableSize(ptr) };
  }

  allocateZeroed(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocateZeroed takes a Layout");
    const ptr = this.allocZeroed(layout.size, layout.align);
    return ptr === 0 ? null : { ptr, size: this.usableSize(ptr) };
  }

  deallocate(ptr: number, layout?: Layout): void {
    if (layout !== undefined && !(layout instanceof Layout)) {
      throw new ArgumentTypeError("deallocate takes a Layout");
    }
    this.dealloc(ptr, layout?.size);
  }

  allocOrThrow(size: number, align: number = DEFAULT_ALIGN): number {
    const ptr = this.alloc(size, align);
    if (ptr === 0) throw new OutOfMemoryError(`SharedHeap: out of memory for ${size} bytes`);
    return ptr;
  }

  // ---- never-blocking forms (a browser's main thread) ---------------------------------------

  /** As `alloc`, but returns LOCK_BUSY at once instead of waiting when the lock is taken. */
  tryAlloc(size: number, align: number = DEFAULT_ALIGN): number {
    const fast = this.allocFast(size, align);
    if (fast !== 0) return fast;
    if (!this.tryBegin(OP_ALLOC, size, align)) return LOCK_BUSY;
    let r: number;
    try {
      r = this.allocInside(size, align, false);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  /** As `dealloc`, but returns false at once (nothing done) when the lock is taken. */
  tryDealloc(ptr: number, size?: number): boolean {
    if (this.deallocFast(ptr, size)) return true;
    if (!this.tryBegin(OP_DEALLOC, ptr, size)) return false;
    try {
      this.deallocInside(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
    return true;
  }

  /** As `alloc`, waiting for the lock with `Atomics.waitAsync` (never blocks the agent). */
  async allocAsync(size: number, align: number = DEFAULT_ALIGN): Promise<number> {
    const fast = this.allocFast(size, align);
    if (fast !== 0) return fast;
    await this.lockAsync();
    this.afterLock(OP_ALLOC, size, align);
    let r: number;
    try {
      r = this.allocInside(size, align, false);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  /** As `dealloc`, waiting for the lock with `Atomics.waitAsync`. */
  async deallocAsync(ptr: number, size?: number): Promise<void> {
    if (this.deallocFast(ptr, size)) return;
    await this.lockAsync();
    this.afterLock(OP_DEALLOC, ptr, size);
    try {
      this.deallocInside(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
  }

  // ---- the cache's side of a call ------------------------------------------------------------

  /** The lock-free allocation of `alloc`, or 0 (then take the lock). */
  private allocFast(size: number, align: number): number {
    const pc = this.pc;
    if (
      pc === null ||
      align !== ALIGN8 ||
      typeof size !== "number" ||
      size > SMALL_MAX ||
      size >>> 0 !== size ||
      this.c[C_ATTN] !== 0 ||
      this.c[C_GROWTH] !== this.growth
    ) {
      return 0;
    }
    const cls = CLASS_OF16[(size + 15) >>> 4];
    const r = pc.alloc(cls);
    return r !== 0 || pc.stale ? r : pc.allocNext(cls);
  }

  /** The lock-free free of `dealloc`: true when done (a cache block, or 0). */
  private deallocFast(ptr: number, size: number | undefined): boolean {
    const pc = this.pc;
    if (pc === null || !isUint32(ptr) || this.c[C_ATTN] !== 0) return false;
    const d = pc.pageOf(ptr);
    if (d >= 0) {
      pc.free(d, ptr, size);
      return true;
    }
    return ptr === 0;
  }

  private allocLocked(op: number, size: number, align: number): number {
    this.begin(op, size, align);
    let r: number;
    try {
      r = this.allocInside(size, align, op === OP_ALLOC_ZEROED);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  /**
   * Lock held: a small request from this agent's pages (its current ones, then an
   * abandoned page of the class, then a new page from TLSF), else from TLSF; when TLSF is
   * out of memory, empty cache pages go back to it and it is asked again.
   */
  private allocInside(size: number, align: number, zeroed: boolean): number {
    const pc = this.pc;
    if (
      pc !== null &&
      typeof size === "number" &&
      size <= SMALL_MAX &&
      size >>> 0 === size &&
      isValidAlign(align) &&
      align <= 16
    ) {
      const cls = CLASS_OF16[(size + 15) >>> 4];
      if (pc.stale) pc.rebuild();
      let r = pc.alloc(cls);
      if (r === 0) r = pc.allocNext(cls);
      if (r === 0 && pc.stale) {
        pc.rebuild();
        r = pc.allocNext(cls);
      }
      if (r === 0) r = pc.adopt(cls);
      if (r === 0) r = this.newPage(pc, cls);
      if (r !== 0) {
        if (zeroed) this.memory.u8.fill(0, r, r + CLASS_SIZE[cls]);
        return r;
      }
    }
    let r = zeroed ? this.inner.allocZeroed(size, align) : this.inner.alloc(size, align);
    if (r === 0 && pc !== null && pc.trim(this.inner) > 0) {
      r = zeroed ? this.inner.allocZeroed(size, align) : this.inner.alloc(size, align);
    }
    return r;
  }

  /** Lock held: a new page of `cls` from TLSF, and a block from it (0 when none). */
  private newPage(pc: PageCache, cls: number): number {
    const inner = this.inner;
    let page = inner.alloc(PAGE_USABLE, CACHE_PAGE_BYTES);
    if (page === 0 && pc.trim(inner) > 0) page = inner.alloc(PAGE_USABLE, CACHE_PAGE_BYTES);
    if (page === 0) return 0;
    // Recorded in the intent slot until installed: a death in between gives the page back.
    this.cu[this.slot + S_PAGE] = page;
    const ok = pc.install(page, cls, this.c[C_PAUSE_AT] !== 0 ? this.pageHook : undefined);
    this.cu[this.slot + S_PAGE] = 0;
    if (!ok) {
      inner.dealloc(page);
      return 0;
    }
    return pc.alloc(cls);
  }

  /** Lock held: frees a cache block or a TLSF block. */
  private deallocInside(ptr: number, size: number | undefined): void {
    const pc = this.pc;
    if (pc !== null && isUint32(ptr)) {
      const d = pc.pageOf(ptr);
      if (d >= 0) {
        pc.free(d, ptr, size);
        return;
      }
    }
    this.inner.dealloc(ptr, size);
  }

  /** realloc of a cache block: kept when the new size fits its block, else moved. */
  private reallocCached(
    pc: PageCache,
    d: number,
    ptr: number,
    newSize: number,
    align: number,
  ): number {
    // The pointer before the size: a freed block throws even with a size no heap holds.
    this.touch();
    const bsize = pc.liveSize(d, ptr);
    if (!isUint32(newSize)) {
      rejectSize(newSize, "newSize");
      return 0;
    }
    if (newSize === 0) {
      throw new ArgumentRangeError(
        "realloc to size 0 is not allowed: dealloc the block instead",
        "ERR_ALLOC_SIZE",
      );
    }
    checkAlign(align);
    if (newSize <= bsize && ptr % Math.max(align, ALIGN8) === 0) return ptr;
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    this.touch();
    this.memory.u8.copyWithin(to, ptr, ptr + Math.min(bsize, newSize));
    this.dealloc(ptr);
    return to;
  }

  /** When something needs attention (poison, recovery, growth), an empty call under the lock. */
  private touch(): void {
    if (this.c[C_ATTN] !== 0 || this.c[C_GROWTH] !== this.growth || this.closed) {
      this.begin(OP_NONE, 0, 0);
      this.end(0);
    }
  }

  /** Lock held: the wrapped heap's check, then the cache's. */
  private checkAll(): void {
    this.inner.check();
    this.pc?.check(this.inner, this.maxAgents, cacheCorrupt);
  }

  /** Lock held: frees `ptr` wherever it lives (recovery's roll forward and back). */
  private freeAny(ptr: number): void {
    this.deallocInside(ptr, undefined);
  }

  // ---- entering and leaving a call -----------------------------------------------------------

  /** Takes the lock (or the busy flag), handles attention, writes the intent. */
  private begin(op: number, a0: unknown, a1: unknown): void {
    if (this.closed) this.checkOpen();
    if (Atomics.compareExchange(this.c, C_LOCK, 0, this.agentId) !== 0) this.lockSlow();
    this.afterLock(op, a0, a1);
  }

  /** As `begin` without waiting: false (nothing done) when another agent is inside. */
  private tryBegin(op: number, a0: unknown, a1: unknown): boolean {
    this.checkOpen();
    const r = tryTake(this.c, C_LOCK, this.agentId);
    if (r === TIMED_OUT) return false;
    if (r === ACQUIRED_OWNER_DIED) this.recover();
    this.afterLock(op, a0, a1);
    return true;
  }

  private async lockAsync(): Promise<void> {
    this.checkOpen();
    const r = this.synchronized
      ? await acquireAsync(this.c, C_LOCK, this.agentId, this.lockTimeoutMs)
      : tryTake(this.c, C_LOCK, this.agentId);
    this.onAcquire(r);
  }

  private lockSlow(): void {
    this.checkOpen();
    const r = this.synchronized
      ? acquire(this.c, C_LOCK, this.agentId, this.lockTimeoutMs)
      : tryTake(this.c, C_LOCK, this.agentId);
    this.onAcquire(r);
  }

  private onAcquire(r: number): void {
    if (r === ACQUIRED) return;
    if (r === ACQUIRED_OWNER_DIED) {
      this.recover();
      return;
    }
    const owner = Atomics.load(this.c, C_LOCK) & 0x3fffffff;
    if (!this.synchronized) {
      throw new ConcurrentUseError(
        `SharedHeap (plain form): agent ${this.agentId} called while agent ${owner} is inside ` +
          "a call; use the synchronized form to share it between agents at once",
      );
    }
    throw new LockTimeoutError(
      `SharedHeap: agent ${this.agentId} waited ${this.lockTimeoutMs} ms for the lock held by ` +
        `agent ${owner}; if that agent died, its supervisor must call markDead(${owner})`,
    );
  }

  /** Lock held: attention flags, growth, the test hook, then the intent record. */
  private afterLock(op: number, a0: unknown, a1: unknown): void {
    const c = this.c;
    if (c[C_ATTN] !== 0 || c[C_GROWTH] !== this.growth) this.attention();
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.locked);
    const s = this.slot;
    const cu = this.cu;
    cu[s + S_ARG0] = u32Arg(a0);
    cu[s + S_ARG1] = u32Arg(a1);
    c[s + S_OP] = op;
    c[s + S_PHASE] = PHASE_BEGUN;
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.begun);
  }

  /** Records the result, clears the intent, publishes growth, releases. */
  private end(result: number): void {
    const c = this.c;
    const s = this.slot;
    this.cu[s + S_RESULT] = result;
    c[s + S_PHASE] = PHASE_DONE;
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.done);
    c[s + S_OP] = OP_NONE;
    c[s + S_PHASE] = 0;
    c[s + S_SEQ]++;
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.cleared);
    if (this.memory.end !== this.seenEnd) this.publishGrowth();
    release(c, C_LOCK);
  }

  /** The operation threw (a caller error: nothing changed): clear the intent and release. */
  private abort(): void {
    const c = this.c;
    c[this.slot + S_OP] = OP_NONE;
    c[this.slot + S_PHASE] = 0;
    if (this.memory.end !== this.seenEnd) this.publishGrowth();
    release(c, C_LOCK);
  }

  private publishGrowth(): void {
    this.seenEnd = this.memory.end;
    this.growth = Atomics.add(this.c, C_GROWTH, 1) + 1;
  }

  /** Something is flagged: poison, a dead agent to recover, or growth by another agent. */
  private attention(): void {
    const c = this.c;
    const attn = Atomics.load(c, C_ATTN);
    if ((attn & ATTN_POISONED) !== 0) {
      release(c, C_LOCK);
      throw new HeapPoisonedError(
        "SharedHeap: heap is poisoned (an agent died leaving it inconsistent, or corruption " +
          "was found); no call can succeed",
      );
    }
    if ((attn & ATTN_DEAD) !== 0) this.recover();
    if (c[C_GROWTH] !== this.growth) this.syncViews();
  }

  /** Re-derives this agent's views after another agent grew the memory. */
  private syncViews(): void {
    this.growth = Atomics.load(this.c, C_GROWTH);
    this.memory.refresh();
    // The wrapped strategy re-reads its cached views.
    if (this.inner instanceof BaseAllocator) this.inner.refreshViews();
    this.seenEnd = this.memory.end;
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new AllocatorError("SharedHeap: this handle was closed", "ERR_DESTROYED");
    }
  }

  // ---- recovery ------------------------------------------------------------------------------

  /**
   * Lock held (by this agent now): recover every agent marked dead. Check the heap (a torn
   * update fails here → poison), roll each dead agent's intent forward or back (the header
   * table), free its slot, and check again.
   */
  private recover(): void {
    const c = this.c;
    const cu = this.cu;
    const pc = this.pc;
    Atomics.and(c, C_ATTN, ~ATTN_DEAD);
    this.syncViews(); // the dead agent may have grown the memory without publishing it
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.recovering);
    try {
      this.inner.check();
    } catch (e) {
      this.poison(`an agent died in the middle of an update: ${(e as Error).message}`);
    }
    let applied = false;
    if (pc !== null) {
      // A page install or release cut between its steps: finish it (the page goes back).
      pc.repair(this.inner);
      applied = true;
    }
    for (let id = 1; id <= this.maxAgents; id++) {
      const s = slotWord(id, 0);
      if (Atomics.load(c, s + S_STATE) !== AGENT_DEAD) continue;
      const page = cu[s + S_PAGE];
      if (page !== 0) {
        // Taken from TLSF for a page install that never published it: give it back.
        if (pc === null || !pc.hasPage(page)) {
          try {
            this.inner.dealloc(page);
          } catch {
            // Given back already (by repair).
          }
        }
        cu[s + S_PAGE] = 0;
      }
      const op = c[s + S_OP];
      const phase = c[s + S_PHASE];
      try {
        if ((op === OP_ALLOC || op === OP_ALLOC_ZEROED) && phase === PHASE_DONE) {
          const r = cu[s + S_RESULT];
          if (r !== 0) {
            applied = true;
            this.freeAny(r); // roll back: nobody received this block
          }
        } else if (op === OP_DEALLOC && phase === PHASE_BEGUN && cu[s + S_ARG0] !== 0) {
          applied = true;
          this.freeAny(cu[s + S_ARG0]); // roll forward
        }
      } catch {
        // Already done (DoubleFreeError) or never valid (InvalidPointerError): nothing to do.
      }
      c[s + S_OP] = OP_NONE;
      c[s + S_PHASE] = 0;
      // Its cache pages: empty ones back to TLSF, the others abandoned for adoption (W4).
      // Before the slot is freed: a new agent given this id must not find them as its own.
      pc?.releaseOrAbandon(id, this.inner);
      Atomics.store(c, s + S_STATE, AGENT_FREE);
    }
    // Abandoned pages whose blocks were all freed since: back to TLSF.
    pc?.releaseOrAbandon(0, this.inner);
    if (applied) {
      try {
        this.checkAll();
      } catch (e) {
        this.poison(`recovery left the heap inconsistent: ${(e as Error).message}`);
      }
    }
  }

  /** Poisons the heap for every agent, releases the lock, throws `HeapPoisonedError`. */
  private poison(cause: string): never {
    const c = this.c;
    Atomics.or(c, C_ATTN, ATTN_POISONED);
    c[this.slot + S_OP] = OP_NONE;
    c[this.slot + S_PHASE] = 0;
    if ((Atomics.load(c, C_LOCK) & 0x3fffffff) === this.agentId) release(c, C_LOCK);
    throw new HeapPoisonedError(`SharedHeap: the heap is poisoned; no call can succeed (${cause})`);
  }

  // ---- test hook -----------------------------------------------------------------------------

  /**
   * Test only: arm pause point `point` for agent `agentId` (0 = any). The agent that reaches
   * it runs its `setTestHook` function, announces itself in `pausedAgent`, and blocks (up to
   * 30 s) until `releasePause()` — or until its worker is terminated, which is the point.
   */
  armPause(point: PausePoint, agentId = 0): void {
    const c = this.c;
    Atomics.store(c, C_PAUSED, 0);
    Atomics.store(c, C_PAUSE_GATE, 0);
    Atomics.store(c, C_PAUSE_AGENT, agentId);
    Atomics.store(c, C_PAUSE_AT, PAUSE_POINTS[point]);
    Atomics.or(c, C_ATTN, ATTN_HOOK); // every call takes the lock, where the points are
  }

  /** Test only: the agent now paused at the armed point, or 0. */
  get pausedAgent(): number {
    return Atomics.load(this.c, C_PAUSED);
  }

  /** Test only: disarm and let a paused agent continue. */
  releasePause(): void {
    const c = this.c;
    Atomics.store(c, C_PAUSE_AT, 0);
    Atomics.and(c, C_ATTN, ~ATTN_HOOK);
    Atomics.store(c, C_PAUSE_GATE, 1);
    Atomics.notify(c, C_PAUSE_GATE);
  }

  /** Test only: a function this agent runs when it reaches an armed pause point. */
  setTestHook(hook: ((point: PausePoint) => void) | undefined): void {
    this.testHook = hook;
  }

  private pausePoint(code: number): void {
    const c = this.c;
    if (Atomics.load(c, C_PAUSE_AT) !== code) return;
    const who = Atomics.load(c, C_PAUSE_AGENT);
    if (who !== 0 && who !== this.agentId) return;
    if (Atomics.compareExchange(c, C_PAUSED, 0, this.agentId) !== 0) return;
    const name = (Object.keys(PAUSE_POINTS) as PausePoint[]).find((k) => PAUSE_POINTS[k] === code);
    if (name !== undefined) this.testHook?.(name);
    Atomics.notify(c, C_PAUSED);
    const deadline = performance.now() + 30_000;
    while (Atomics.load(c, C_PAUSE_GATE) === 0 && performance.now() < deadline) {
      Atomics.wait(c, C_PAUSE_GATE, 0, 100);
    }
  }
}
