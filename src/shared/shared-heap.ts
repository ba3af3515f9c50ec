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
 *   on any mismatch or garbage, leaving every buffer's bytes unchanged.
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
 * - **double free across agents** (F7): the strategy's free is serialised by the lock and
 *   validated against its live map, so of two agents freeing one block exactly one succeeds
 *   and the other gets `DoubleFreeError`.
 *
 * ## Cost per call (synchronized, uncontended)
 * | part                         | cost                                            |
 * | ---------------------------- | ----------------------------------------------- |
 * | lock + unlock                | 1 CAS + 1 exchange                              |
 * | entry checks                 | 3 plain loads (attention, growth, pause hook)    |
 * | intent record                | 7 plain stores into the agent's own slot         |
 * | the wrapped operation        | unchanged                                        |
 *
 * ## Invariants
 * The lock word's owner bits name the agent inside a call, or are 0; an agent's intent is
 * non-empty only while it holds the lock (or it died holding it); ATTN_POISONED is never
 * cleared; GROWTH only increases.
 */

import { type Allocator, type AllocatorStats, BaseAllocator } from "../core/allocator.js";
import {
  AllocatorError,
  ArgumentTypeError,
  ConcurrentUseError,
  HeapIncompatibleError,
  HeapPoisonedError,
  OutOfMemoryError,
} from "../core/errors.js";
import { type Allocation, Layout } from "../core/layout.js";
import { DEFAULT_ALIGN } from "../core/validate.js";
import { type Memory, PAGE_BYTES, SharedMemory, WasmMemory } from "../memory/memory.js";
import { TlsfAllocator } from "../strategies/tlsf.js";
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

/** Numbers only go into the intent record: a non-number argument is the strategy's to reject. */
function u32Arg(x: unknown): number {
  return typeof x === "number" && x >= 0 && x <= 0xffffffff ? x : 0;
}

export class SharedHeap implements Allocator {
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

  /**
   * Wraps `inner` (whose state must live in shared buffers) as agent `agentId` of the
   * control buffer `control`. Most code uses `SharedHeap.create` and `SharedHeap.attach`.
   */
  constructor(
    inner: Allocator,
    control: SharedArrayBuffer,
    agentId: number,
    options: AttachOptions & { liveMap?: SharedArrayBuffer; maximumPages?: number } = {},
  ) {
    const { maxAgents, mode } = validateControl(control);
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
    const control = createControl(
      maxAgents,
      options.synchronized === false ? MODE_PLAIN : MODE_SYNCHRONIZED,
    );
    const c = new Int32Array(control);
    c[slotWord(1, S_STATE)] = AGENT_ALIVE;
    return new SharedHeap(tlsf, control, 1, {
      lockTimeoutMs: options.lockTimeoutMs,
      liveMap: tlsf.liveMapBuffer as SharedArrayBuffer,
      maximumPages,
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
    const { maxAgents } = validateControl(d.control);
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
    // The strategy validates its own header and the live map, read-only.
    const tlsf = TlsfAllocator.attach(memory, d.liveMap);
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

  /** This handle is finished: its agent slot is freed. Calls through it then throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.compareExchange(this.c, this.slot + S_STATE, AGENT_ALIVE, AGENT_FREE);
  }

  // ---- the contract --------------------------------------------------------------------------

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    this.begin(OP_ALLOC, size, align);
    let r: number;
    try {
      r = this.inner.alloc(size, align);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    this.begin(OP_ALLOC_ZEROED, size, align);
    let r: number;
    try {
      r = this.inner.allocZeroed(size, align);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  dealloc(ptr: number, size?: number): void {
    this.begin(OP_DEALLOC, ptr, size);
    try {
      this.inner.dealloc(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
  }

  realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN): number {
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

  reset(): void {
    this.begin(OP_RESET, 0, 0);
    try {
      this.inner.reset();
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
  }

  stats(): AllocatorStats {
    this.begin(OP_NONE, 0, 0);
    let r: AllocatorStats;
    try {
      r = this.inner.stats();
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
    return r;
  }

  check(): void {
    this.begin(OP_NONE, 0, 0);
    try {
      this.inner.check();
    } catch (e) {
      this.abort();
      if (e instanceof AllocatorError && e.code === "ERR_HEAP_CORRUPTED") this.poison();
      throw e;
    }
    this.end(0);
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
    if (!this.tryBegin(OP_ALLOC, size, align)) return LOCK_BUSY;
    let r: number;
    try {
      r = this.inner.alloc(size, align);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  /** As `dealloc`, but returns false at once (nothing done) when the lock is taken. */
  tryDealloc(ptr: number, size?: number): boolean {
    if (!this.tryBegin(OP_DEALLOC, ptr, size)) return false;
    try {
      this.inner.dealloc(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
    return true;
  }

  /** As `alloc`, waiting for the lock with `Atomics.waitAsync` (never blocks the agent). */
  async allocAsync(size: number, align: number = DEFAULT_ALIGN): Promise<number> {
    await this.lockAsync();
    this.afterLock(OP_ALLOC, size, align);
    let r: number;
    try {
      r = this.inner.alloc(size, align);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(r);
    return r;
  }

  /** As `dealloc`, waiting for the lock with `Atomics.waitAsync`. */
  async deallocAsync(ptr: number, size?: number): Promise<void> {
    await this.lockAsync();
    this.afterLock(OP_DEALLOC, ptr, size);
    try {
      this.inner.dealloc(ptr, size);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.end(0);
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
    Atomics.and(c, C_ATTN, ~ATTN_DEAD);
    this.syncViews(); // the dead agent may have grown the memory without publishing it
    if (c[C_PAUSE_AT] !== 0) this.pausePoint(PAUSE_POINTS.recovering);
    try {
      this.inner.check();
    } catch {
      this.poison();
    }
    let applied = false;
    for (let id = 1; id <= this.maxAgents; id++) {
      const s = slotWord(id, 0);
      if (Atomics.load(c, s + S_STATE) !== AGENT_DEAD) continue;
      const op = c[s + S_OP];
      const phase = c[s + S_PHASE];
      try {
        if ((op === OP_ALLOC || op === OP_ALLOC_ZEROED) && phase === PHASE_DONE) {
          const r = cu[s + S_RESULT];
          if (r !== 0) {
            applied = true;
            this.inner.dealloc(r); // roll back: nobody received this block
          }
        } else if (op === OP_DEALLOC && phase === PHASE_BEGUN && cu[s + S_ARG0] !== 0) {
          applied = true;
          this.inner.dealloc(cu[s + S_ARG0]); // roll forward
        }
      } catch {
        // Already done (DoubleFreeError) or never valid (InvalidPointerError): nothing to do.
      }
      c[s + S_OP] = OP_NONE;
      c[s + S_PHASE] = 0;
      Atomics.store(c, s + S_STATE, AGENT_FREE);
    }
    if (applied) {
      try {
        this.inner.check();
      } catch {
        this.poison();
      }
    }
  }

  /** Poisons the heap for every agent, releases the lock, throws `HeapPoisonedError`. */
  private poison(): never {
    const c = this.c;
    Atomics.or(c, C_ATTN, ATTN_POISONED);
    c[this.slot + S_OP] = OP_NONE;
    c[this.slot + S_PHASE] = 0;
    if ((Atomics.load(c, C_LOCK) & 0x3fffffff) === this.agentId) release(c, C_LOCK);
    throw new HeapPoisonedError(
      "SharedHeap: an agent died in the middle of an update and check() failed: the heap is " +
        "poisoned; no call can succeed",
    );
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
  }

  /** Test only: the agent now paused at the armed point, or 0. */
  get pausedAgent(): number {
    return Atomics.load(this.c, C_PAUSED);
  }

  /** Test only: disarm and let a paused agent continue. */
  releasePause(): void {
    const c = this.c;
    Atomics.store(c, C_PAUSE_AT, 0);
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
