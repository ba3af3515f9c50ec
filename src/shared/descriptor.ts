/**
 * What SharedHeap agents hand each other and the options they take: the descriptor
 * (`share()` → `attach()`), creation and attach options, the lock-timeout error, the
 * choice of the wrapped strategy (inner.ts), and the parts a handle is made of, built for
 * a new heap or validated read-only from a descriptor.
 */

import type { Allocator } from "../core/allocator.js";
import { ArgumentTypeError, ConcurrentUseError, HeapIncompatibleError } from "../core/errors.js";
import type { Memory } from "../core/memory.js";
import { PAGE_BYTES, SharedMemory, WasmMemory } from "../memory/memory.js";
import {
  PAGE_BYTES as CACHE_PAGE_BYTES,
  createCache,
  PAGE_USABLE,
  validateCache,
} from "./cache.js";
import {
  AGENT_ALIVE,
  AGENT_RESERVED,
  C_GROWTH,
  CONTROL_VERSION_MAJOR,
  createControl,
  DEFAULT_MAX_AGENTS,
  MAX_AGENTS_LIMIT,
  MODE_PLAIN,
  MODE_SYNCHRONIZED,
  S_STATE,
  slotStateWord,
  slotWord,
  validateControl,
} from "./control.js";
import { type SharedStrategy, TLSF_SHARED } from "./inner.js";
/** The strategy to wrap: `TLSF_SHARED` unless another fits the cache's page geometry. */
export function usableStrategy(strategy: SharedStrategy | undefined): SharedStrategy {
  const s = strategy ?? TLSF_SHARED;
  if (!(s.blockHeaderBytes >= 0 && s.blockHeaderBytes <= CACHE_PAGE_BYTES - PAGE_USABLE)) {
    throw new ArgumentTypeError(
      `SharedHeap: ${s.name} keeps ${s.blockHeaderBytes} bytes before each block; cache pages ` +
        `leave room for ${CACHE_PAGE_BYTES - PAGE_USABLE}`,
    );
  }
  return s;
}

/** What `tryAlloc` returns when another agent holds the lock (never a pointer). */
export const LOCK_BUSY = -1;

export const DESCRIPTOR_TYPE = "memkit.SharedHeap";

/** Everything another agent needs to attach; plain data, carried by `postMessage`. */
export interface SharedHeapDescriptor {
  /** `"memkit.SharedHeap"`. */
  readonly type: typeof DESCRIPTOR_TYPE;
  /** The descriptor format's version. */
  readonly version: number;
  /** The heap's bytes: a growable `SharedArrayBuffer` or a shared `WebAssembly.Memory`. */
  readonly memory: SharedArrayBuffer | WebAssembly.Memory;
  /** First byte of the heap's region (a wasm module's heap base; 0 for a buffer). */
  readonly start: number;
  /** The wasm memory's maximum in pages (the object does not say). */
  readonly maximumPages: number;
  /** The wrapped allocator's side buffer (TLSF: its live map), a growable `SharedArrayBuffer`. */
  readonly liveMap: SharedArrayBuffer;
  /** Lock, flags, registry and intents (control.ts). */
  readonly control: SharedArrayBuffer;
  /** Page descriptors and page table of the small-block caches (cache.ts); null without. */
  readonly cache: SharedArrayBuffer | null;
  /** The agent id reserved for the one agent that attaches with this descriptor. */
  readonly agent: number;
  /**
   * The slot's generation when it was reserved (control.ts): `markDead(descriptor)` marks
   * this agent only, never a later one given the same id after it closed.
   */
  readonly generation: number;
}

/** Options of `SharedHeap.create`. */
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
  /** With `memory`: the heap's first byte (default 0). */
  start?: number;
  /** With a `WebAssembly.Memory`: its maximum in pages (the object does not say). */
  maximumPages?: number;
  /** Lock-based (default) or plain (concurrent use detected and refused). */
  synchronized?: boolean;
  /** The allocator the heap wraps (default: TLSF; see inner.ts for what one must offer). */
  strategy?: SharedStrategy;
  /** Agents that can attach over the heap's life (default 64). */
  maxAgents?: number;
  /** How long a blocking call waits for the lock before `LockTimeoutError` (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Synchronized form: how many 8 KiB cache pages (all agents together) may hold small
   * blocks; 0 turns the per-agent caches off. Default: one per page of the memory's maximum
   * size, at most 4,096 (32 MiB).
   */
  cachePages?: number;
  /**
   * Synchronized form: how many empty cache pages (all agents together) stay parked for any
   * agent to reuse before the rest go back to the wrapped allocator (default 16; 0 gives
   * every page back as soon as its owner sees it empty).
   */
  cacheEmptyPages?: number;
}

/** Options of `SharedHeap.attach`. */
export interface AttachOptions {
  /** How long a blocking call waits for the lock before `LockTimeoutError` (default 10 s). */
  lockTimeoutMs?: number;
  /** The strategy the heap was made with (default: TLSF). */
  strategy?: SharedStrategy;
}

/** A blocking call waited `lockTimeoutMs` for the lock. The heap is unchanged. */
export class LockTimeoutError extends ConcurrentUseError {
  constructor(message: string) {
    super(message, "ERR_LOCK_TIMEOUT");
    this.name = "LockTimeoutError";
  }
}

export const ALIGN8 = 8;

/** Numbers only go into the intent record: a non-number argument is the strategy's to reject. */
export function u32Arg(x: unknown): number {
  return typeof x === "number" && x >= 0 && x <= 0xffffffff ? x : 0;
}

/** What a SharedHeap handle is made of: the wrapped allocator, the shared buffers, its id. */
export interface SharedParts extends AttachOptions {
  readonly inner: Allocator;
  readonly control: SharedArrayBuffer;
  readonly agent: number;
  /** The agent's slot generation (control.ts). */
  readonly generation: number;
  readonly liveMap: SharedArrayBuffer;
  readonly maximumPages: number;
  readonly cache: SharedArrayBuffer | null;
  /** The control's GROWTH generation, read before the memory's views were made. */
  readonly growth: number;
}

/** The parts of a new shared heap; the creating agent is agent 1. */
export function createParts(options: SharedHeapOptions): SharedParts {
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
  const strategy = usableStrategy(options.strategy);
  const inner = strategy.create(memory);
  const cachePages = options.cachePages;
  if (cachePages !== undefined && !(Number.isInteger(cachePages) && cachePages >= 0)) {
    throw new ArgumentTypeError("cachePages must be a non-negative integer");
  }
  const emptyPages = options.cacheEmptyPages;
  if (emptyPages !== undefined && !(Number.isInteger(emptyPages) && emptyPages >= 0)) {
    throw new ArgumentTypeError("cacheEmptyPages must be a non-negative integer");
  }
  const cache =
    options.synchronized === false || cachePages === 0
      ? null
      : createCache(memory.maxEnd, cachePages, emptyPages);
  const control = createControl(
    maxAgents,
    options.synchronized === false ? MODE_PLAIN : MODE_SYNCHRONIZED,
    cache !== null,
  );
  const c = new Int32Array(control);
  c[slotWord(1, S_STATE)] = slotStateWord(AGENT_ALIVE, 1);
  return {
    inner,
    control,
    agent: 1,
    generation: 1,
    lockTimeoutMs: options.lockTimeoutMs,
    liveMap: strategy.sideBuffer(inner),
    maximumPages,
    cache,
    growth: 0,
  };
}

/**
 * The parts of this agent's handle on the heap `descriptor` describes, validated
 * read-only; `HeapIncompatibleError` on any mismatch or garbage.
 */
export function attachParts(descriptor: SharedHeapDescriptor, options: AttachOptions): SharedParts {
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
  if (!(typeof agent === "number" && Number.isInteger(agent) && agent >= 1 && agent <= maxAgents)) {
    throw new HeapIncompatibleError(`SharedHeap.attach: agent id ${String(agent)} is invalid`);
  }
  const control = d.control as SharedArrayBuffer;
  const c = new Int32Array(control);
  const g = d.generation;
  const generation = typeof g === "number" && Number.isInteger(g) && g >= 0 ? g : -1;
  const reserved = slotStateWord(AGENT_RESERVED, generation);
  if (generation < 0 || Atomics.load(c, slotWord(agent, S_STATE)) !== reserved) {
    throw new HeapIncompatibleError(
      `SharedHeap.attach: agent slot ${agent} is not reserved for this descriptor (each ` +
        "share() serves one attach)",
      "ERR_HEAP_CONFIG",
    );
  }
  // Read before this agent's views of the memory are made: any growth published after this
  // load (so possibly not covered by those views) makes the generations differ, and the
  // first call under the lock re-derives the views (core.ts, afterLock).
  const growth = Atomics.load(c, C_GROWTH);
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
    if (!memory.shared) throw new HeapIncompatibleError("SharedHeap.attach: memory is not shared");
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
  const strategy = usableStrategy(options.strategy);
  let inner: Allocator;
  for (let attempt = 0; ; attempt++) {
    const seen = memory.end;
    try {
      inner = strategy.attach(memory, d.liveMap);
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
  const alive = slotStateWord(AGENT_ALIVE, generation);
  if (Atomics.compareExchange(c, slotWord(agent, S_STATE), reserved, alive) !== reserved) {
    throw new HeapIncompatibleError(`SharedHeap.attach: agent slot ${agent} was taken meanwhile`);
  }
  return {
    inner,
    control,
    agent,
    generation,
    lockTimeoutMs: options.lockTimeoutMs,
    liveMap: d.liveMap,
    maximumPages,
    cache: cache as SharedArrayBuffer | null,
    growth,
  };
}
