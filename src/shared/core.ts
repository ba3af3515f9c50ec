/**
 * The SharedHeap's base: one agent's handle state (control words, its registry slot, the
 * wrapped allocator, its cache handle), entering and leaving a call (the lock or the busy
 * flag, the intent record, attention: poison, dead agents, growth), recovery after an agent
 * died holding the lock, and the test pause points.
 */

import { type Allocator, BaseAllocator } from "../core/allocator.js";
import {
  AllocatorError,
  ArgumentTypeError,
  ConcurrentUseError,
  HeapCorruptedError,
  HeapPoisonedError,
} from "../core/errors.js";
import type { Memory } from "../core/memory.js";
import { cacheCorrupt, PageCache } from "./cache.js";
import {
  AGENT_DEAD,
  AGENT_FREE,
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
  MODE_SYNCHRONIZED,
  OP_ALLOC,
  OP_ALLOC_ZEROED,
  OP_DEALLOC,
  OP_NONE,
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
  slotGeneration,
  slotState,
  slotStateWord,
  slotWord,
  validateControl,
} from "./control.js";
import { type AttachOptions, LockTimeoutError, u32Arg } from "./descriptor.js";
import {
  ACQUIRED,
  ACQUIRED_OWNER_DIED,
  acquire,
  acquireAsync,
  release,
  TIMED_OUT,
  tryTake,
} from "./lock.js";

export abstract class SharedHeapCore {
  abstract readonly name: string;
  abstract alloc(size: number, align?: number): number;
  abstract dealloc(ptr: number, size?: number): void;
  /** Lock held: frees a cache block or a block of the wrapped allocator. */
  protected abstract freeAny(ptr: number, size?: number): void;

  readonly memory: Memory;
  /** The wrapped allocator (use it only through this handle). */
  readonly inner: Allocator;
  /** This agent's id (1 … maxAgents): the owner bits of the lock while it is inside a call. */
  readonly agentId: number;
  /** Whether every call takes the lock (else concurrent use is detected and refused). */
  readonly synchronized: boolean;
  /** Agents that can attach over the heap's life. */
  readonly maxAgents: number;
  /** How long a blocking call waits for the lock before `LockTimeoutError`. */
  lockTimeoutMs: number;

  protected readonly c: Int32Array;
  protected readonly cu: Uint32Array;
  /** Index of this agent's registry slot. */
  protected readonly slot: number;
  /** This agent's slot generation (control.ts): what `close()` and `markDead` compare. */
  readonly generation: number;
  protected readonly control: SharedArrayBuffer;
  protected readonly liveMap: SharedArrayBuffer | undefined;
  protected readonly wasmMaxPages: number;
  /** The GROWTH generation and memory end this agent's views were derived at. */
  protected growth: number;
  protected seenEnd: number;
  protected closed = false;
  protected testHook: ((point: PausePoint) => void) | undefined;
  /** The cache buffer, and this agent's handle on it (null: no caches, or closed). */
  protected readonly cacheBuf: SharedArrayBuffer | null;
  protected pc: PageCache | null;
  protected readonly pageHook = (): void => this.pausePoint(PAUSE_POINTS.page);

  /**
   * Wraps `inner` (whose state must live in shared buffers) as agent `agentId` of the
   * control buffer `control`. Most code uses `SharedHeap.create` and `SharedHeap.attach`.
   */
  protected constructor(
    inner: Allocator,
    control: SharedArrayBuffer,
    agentId: number,
    options: AttachOptions & {
      liveMap?: SharedArrayBuffer;
      maximumPages?: number;
      cache?: SharedArrayBuffer | null;
      /**
       * The GROWTH generation read before `inner`'s views were made (attachParts). Omitted:
       * none is known, and the first call under the lock re-derives the views.
       */
      growth?: number;
      /** The slot's generation (default: the one its STATE word holds now). */
      generation?: number;
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
    this.generation =
      options.generation ?? slotGeneration(Atomics.load(this.c, this.slot + S_STATE));
    this.synchronized = mode === MODE_SYNCHRONIZED;
    this.maxAgents = maxAgents;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.liveMap = options.liveMap;
    this.wasmMaxPages = options.maximumPages ?? 65536;
    // A generation read after the views were made could name a growth they do not cover:
    // another agent may grow the memory in between, and this handle would then never look.
    this.growth = options.growth ?? Atomics.load(this.c, C_GROWTH) - 1;
    this.seenEnd = this.memory.end;
    this.cacheBuf = options.cache ?? null;
    if (cached !== (this.cacheBuf !== null)) {
      throw new ArgumentTypeError("SharedHeap: the cache buffer does not match the control's");
    }
    this.pc = this.cacheBuf === null ? null : new PageCache(this.cacheBuf, agentId);
    this.pc?.rebuild();
  }

  /** When something needs attention (poison, recovery, growth), an empty call under the lock. */
  protected touch(): void {
    if (this.c[C_ATTN] !== 0 || this.c[C_GROWTH] !== this.growth || this.closed) {
      this.begin(OP_NONE, 0, 0);
      this.end(0);
    }
  }

  /**
   * A copy of the heap's state outside the memory's bytes, to compare a heap before and
   * after a call (a rejected call leaves it unchanged; for tests, as strategies'
   * `metadataBytes`): the wrapped allocator's header and metadata, the cache buffer, then
   * the control words, each agent's record of its last call (ARG0, ARG1, RESULT, SEQ: every
   * call rewrites them, rejected or not) zeroed. Exact when no other agent is inside a call.
   */
  metadataBytes(): Uint8Array {
    this.begin(OP_NONE, 0, 0);
    let inner: Uint8Array;
    let cache: Uint8Array;
    try {
      const f = (this.inner as { metadataBytes?: () => Uint8Array }).metadataBytes;
      inner = typeof f === "function" ? f.call(this.inner) : new Uint8Array(0);
      cache = this.cacheBuf === null ? new Uint8Array(0) : new Uint8Array(this.cacheBuf).slice();
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
    const control = new Int32Array(this.control).slice();
    for (let id = 1; id <= this.maxAgents; id++) {
      for (const field of [S_ARG0, S_ARG1, S_RESULT, S_SEQ]) control[slotWord(id, field)] = 0;
    }
    const out = new Uint8Array(inner.length + cache.length + control.byteLength);
    out.set(inner, 0);
    out.set(cache, inner.length);
    out.set(new Uint8Array(control.buffer), inner.length + cache.length);
    return out;
  }

  /** Lock held: the wrapped heap's check, then the cache's. */
  protected checkAll(): void {
    this.inner.check();
    this.pc?.check(this.inner, this.maxAgents, cacheCorrupt);
  }

  // ---- entering and leaving a call -----------------------------------------------------------

  /** Takes the lock (or the busy flag), handles attention, writes the intent. */
  protected begin(op: number, a0: unknown, a1: unknown): void {
    if (this.closed) this.checkOpen();
    if (Atomics.compareExchange(this.c, C_LOCK, 0, this.agentId) !== 0) this.lockSlow();
    this.afterLock(op, a0, a1);
  }

  /** As `begin` without waiting: false (nothing done) when another agent is inside. */
  protected tryBegin(op: number, a0: unknown, a1: unknown): boolean {
    this.checkOpen();
    const r = tryTake(this.c, C_LOCK, this.agentId);
    if (r === TIMED_OUT) return false;
    if (r === ACQUIRED_OWNER_DIED) this.recover();
    this.afterLock(op, a0, a1);
    return true;
  }

  protected async lockAsync(): Promise<void> {
    this.checkOpen();
    const r = this.synchronized
      ? await acquireAsync(this.c, C_LOCK, this.agentId, this.lockTimeoutMs)
      : tryTake(this.c, C_LOCK, this.agentId);
    this.onAcquire(r);
  }

  protected lockSlow(): void {
    this.checkOpen();
    const r = this.synchronized
      ? acquire(this.c, C_LOCK, this.agentId, this.lockTimeoutMs)
      : tryTake(this.c, C_LOCK, this.agentId);
    this.onAcquire(r);
  }

  protected onAcquire(r: number): void {
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
  protected afterLock(op: number, a0: unknown, a1: unknown): void {
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
  protected end(result: number): void {
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

  /**
   * The operation threw `e`: clear the intent and release. A caller's error changed nothing;
   * corruption the wrapped allocator or the cache found (`HeapCorruptedError`) poisons the
   * heap for every agent first, the lock-free cache paths included.
   */
  protected abort(e: unknown): void {
    const c = this.c;
    if (e instanceof HeapCorruptedError) Atomics.or(c, C_ATTN, ATTN_POISONED);
    c[this.slot + S_OP] = OP_NONE;
    c[this.slot + S_PHASE] = 0;
    if (this.memory.end !== this.seenEnd) this.publishGrowth();
    release(c, C_LOCK);
  }

  protected publishGrowth(): void {
    this.seenEnd = this.memory.end;
    this.growth = Atomics.add(this.c, C_GROWTH, 1) + 1;
  }

  /** Something is flagged: poison, a dead agent to recover, or growth by another agent. */
  protected attention(): void {
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
  protected syncViews(): void {
    this.growth = Atomics.load(this.c, C_GROWTH);
    this.memory.refresh();
    // The wrapped strategy re-reads its cached views.
    if (this.inner instanceof BaseAllocator) this.inner.refreshViews();
    this.seenEnd = this.memory.end;
  }

  protected checkOpen(): void {
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
  protected recover(): void {
    const c = this.c;
    const cu = this.cu;
    const pc = this.pc;
    Atomics.and(c, C_ATTN, ~ATTN_DEAD);
    // The dead agent may have grown the memory without publishing it: publish it for every
    // agent (each re-derives its views once), then re-derive this agent's.
    Atomics.add(c, C_GROWTH, 1);
    this.syncViews();
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
      const stateWord = Atomics.load(c, s + S_STATE);
      if (slotState(stateWord) !== AGENT_DEAD) continue;
      const page = cu[s + S_PAGE];
      if (page !== 0) {
        // Taken from the wrapped allocator for a page install that never published it: give it back.
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
      // Its cache pages: empty ones back to the allocator, the others abandoned for adoption (W4).
      // Before the slot is freed: a new agent given this id must not find them as its own.
      pc?.releaseOrAbandon(id, this.inner);
      Atomics.store(c, s + S_STATE, slotStateWord(AGENT_FREE, slotGeneration(stateWord)));
    }
    // Abandoned pages whose blocks were all freed since: back to the allocator.
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
  protected poison(cause: string): never {
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

  /** Test only: the agent now paused at the armed point (its hook has run), or 0. */
  get pausedAgent(): number {
    const id = Atomics.load(this.c, C_PAUSED);
    return id > 0 ? id : 0;
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

  protected pausePoint(code: number): void {
    const c = this.c;
    if (Atomics.load(c, C_PAUSE_AT) !== code) return;
    const who = Atomics.load(c, C_PAUSE_AGENT);
    if (who !== 0 && who !== this.agentId) return;
    // Claimed as −id while the hook runs, announced as id after it: the parent, which waits
    // for id and then terminates this worker, never kills it before the hook has finished.
    if (Atomics.compareExchange(c, C_PAUSED, 0, -this.agentId) !== 0) return;
    const name = (Object.keys(PAUSE_POINTS) as PausePoint[]).find((k) => PAUSE_POINTS[k] === code);
    if (name !== undefined) this.testHook?.(name);
    Atomics.store(c, C_PAUSED, this.agentId);
    Atomics.notify(c, C_PAUSED);
    const deadline = performance.now() + 30_000;
    while (Atomics.load(c, C_PAUSE_GATE) === 0 && performance.now() < deadline) {
      Atomics.wait(c, C_PAUSE_GATE, 0, 100);
    }
  }
}
