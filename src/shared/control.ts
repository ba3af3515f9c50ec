/**
 * The control buffer of a shared heap: a small `SharedArrayBuffer`, apart from the heap's
 * bytes and never exposed to users (RELIABILITY.md §4.3.1), that holds the lock word, the
 * flags every agent checks on entry, the growth generation, the registry of agents with one
 * intent record each, and the words of the test hook that pauses an agent at a named point.
 *
 * ## Memory picture (Int32 words)
 *
 *     word  0 MAGIC        0x4d4b5348 ("MKSH")
 *     word  1 VERSION      major × 65536 + minor
 *     word  2 CONFIG       MAX_AGENTS | mode << 16 (mode 1 = synchronized, 0 = plain)
 *                          | CONFIG_CACHED (bit 24: small-block caches, cache.ts)
 *     word  3 LOCK         lock word (lock.ts): owner id | OWNER_DIED | WAITERS
 *     word  4 ATTN         ATTN_POISONED | ATTN_DEAD | ATTN_HOOK: something every entry must
 *                          look at (the lock-free cache paths too)
 *     word  5 GROWTH       bumped (under the lock) after the memory grew
 *     word  6 PAUSE_AT     test hook: pause point armed (0 = none)
 *     word  7 PAUSE_AGENT  test hook: the agent to pause (0 = any)
 *     word  8 PAUSED       test hook: id of the agent now paused (the parent waits on it)
 *     word  9 PAUSE_GATE   test hook: the paused agent waits on this word
 *     word 10 BYTE_ORDER   0x01020304 written as Int32 (detects an agent of other endianness)
 *     word 11–15           reserved
 *     word 16…             registry: MAX_AGENTS slots of SLOT_WORDS words each
 *
 *     registry slot (agent id = slot index + 1; ids are never 0)
 *     | STATE | OP | PHASE | ARG0 | ARG1 | RESULT | SEQ | PAGE |
 *       +0      +1   +2      +3     +4     +5       +6    +7
 *
 *     STATE  bits 0–1: 0 free · 1 reserved (descriptor handed out) · 2 alive · 3 dead
 *            (marked by the supervisor, not yet recovered); bits 2–31: the slot's
 *            generation, raised each time `share()` hands the slot out again, so that a
 *            supervisor's `markDead` for an agent long gone cannot hit the slot's next
 *            agent (`slotState`, `slotGeneration`, `slotStateWord`)
 *     OP     0 none · 1 alloc · 2 dealloc · 3 realloc · 4 reset · 5 allocZeroed
 *     PHASE  1 begun (the operation may be half done) · 2 done (RESULT holds its result)
 *     ARG0/ARG1/RESULT are u32 (read through a Uint32Array view); SEQ counts operations.
 *     PAGE   a cache page (cache.ts) taken from the wrapped allocator and being installed, else 0 (u32)
 *
 * An intent is written before the operation touches the heap and cleared after it, all
 * under the lock, so that the agent recovering after a death knows what was in flight.
 */

import { HeapIncompatibleError } from "../core/errors.js";

export const CONTROL_MAGIC = 0x4d4b5348;
export const CONTROL_VERSION_MAJOR = 1;
/** Minor 1: a generation in every registry slot's STATE word. */
export const CONTROL_VERSION = CONTROL_VERSION_MAJOR * 65536 + 1;

export const C_MAGIC = 0;
export const C_VERSION = 1;
export const C_CONFIG = 2;
export const C_LOCK = 3;
export const C_ATTN = 4;
export const C_GROWTH = 5;
export const C_PAUSE_AT = 6;
export const C_PAUSE_AGENT = 7;
export const C_PAUSED = 8;
export const C_PAUSE_GATE = 9;
export const C_BYTE_ORDER = 10;
export const C_REGISTRY = 16;

export const BYTE_ORDER_MARK = 0x01020304;

export const ATTN_POISONED = 1;
export const ATTN_DEAD = 2;
/** A test pause point is armed: every call takes the lock (so that it can pause there). */
export const ATTN_HOOK = 4;

export const MODE_PLAIN = 0;
export const MODE_SYNCHRONIZED = 1;
/** CONFIG bit: the heap has a cache buffer (every agent must attach with it). */
export const CONFIG_CACHED = 1 << 24;

/** Agents one heap can register (ids 1…MAX); the owner bits of the lock allow 2^30 − 1. */
export const DEFAULT_MAX_AGENTS = 64;
export const MAX_AGENTS_LIMIT = 4096;

export const SLOT_WORDS = 8;
export const S_STATE = 0;
export const S_OP = 1;
export const S_PHASE = 2;
export const S_ARG0 = 3;
export const S_ARG1 = 4;
export const S_RESULT = 5;
export const S_SEQ = 6;
export const S_PAGE = 7;

/** The STATE word's state bits (its other bits are the slot's generation). */
export const STATE_BITS = 3;

/** The state (AGENT_*) in a slot's STATE word. */
export function slotState(word: number): number {
  return word & STATE_BITS;
}

/** The generation in a slot's STATE word (30 bits, wrapping). */
export function slotGeneration(word: number): number {
  return word >>> 2;
}

/** A STATE word: `state` (AGENT_*) in generation `generation`. */
export function slotStateWord(state: number, generation: number): number {
  return (generation << 2) | state | 0;
}

export const AGENT_FREE = 0;
export const AGENT_RESERVED = 1;
export const AGENT_ALIVE = 2;
export const AGENT_DEAD = 3;

export const OP_NONE = 0;
export const OP_ALLOC = 1;
export const OP_DEALLOC = 2;
export const OP_REALLOC = 3;
export const OP_RESET = 4;
export const OP_ALLOC_ZEROED = 5;

export const PHASE_BEGUN = 1;
export const PHASE_DONE = 2;

/** Named pause points of the test hook (see SharedHeap.pausePoint). */
export const PAUSE_POINTS = {
  /** Lock held (the lock word names the agent), no intent written yet. */
  locked: 1,
  /** Intent written, operation not started. */
  begun: 2,
  /** Operation done, result recorded in the intent, not yet cleared. */
  done: 3,
  /** Intent cleared, lock not yet released. */
  cleared: 4,
  /** Inside recovery, after the dead agents' intents were read, before check(). */
  recovering: 5,
  /** Inside a cache page install: descriptor published, page table not yet naming it. */
  page: 6,
} as const;
/** The name of a pause point: a key of {@link PAUSE_POINTS}. */
export type PausePoint = keyof typeof PAUSE_POINTS;

/** Bytes of a control buffer for `maxAgents` agents. */
export function controlBytes(maxAgents: number): number {
  return (C_REGISTRY + maxAgents * SLOT_WORDS) * 4;
}

/** Index of word `field` of agent `id`'s registry slot. */
export function slotWord(id: number, field: number): number {
  return C_REGISTRY + (id - 1) * SLOT_WORDS + field;
}

/** A fresh control buffer. */
export function createControl(maxAgents: number, mode: number, cached = false): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(controlBytes(maxAgents));
  const c = new Int32Array(sab);
  c[C_VERSION] = CONTROL_VERSION;
  c[C_CONFIG] = maxAgents | (mode << 16) | (cached ? CONFIG_CACHED : 0);
  c[C_BYTE_ORDER] = BYTE_ORDER_MARK;
  Atomics.store(c, C_MAGIC, CONTROL_MAGIC); // last: a half-made buffer has no magic
  return sab;
}

/**
 * Validates a control buffer read-only: type, size, magic, version, byte order, config.
 * Returns its number of agent slots and mode; throws `HeapIncompatibleError` otherwise.
 */
export function validateControl(sab: unknown): {
  maxAgents: number;
  mode: number;
  cached: boolean;
} {
  if (!(typeof SharedArrayBuffer === "function" && sab instanceof SharedArrayBuffer)) {
    throw new HeapIncompatibleError("shared heap: the control buffer is not a SharedArrayBuffer");
  }
  if (sab.byteLength < controlBytes(1) || sab.byteLength % 4 !== 0) {
    throw new HeapIncompatibleError(`shared heap: control buffer of ${sab.byteLength} bytes`);
  }
  const c = new Int32Array(sab);
  if (Atomics.load(c, C_MAGIC) !== CONTROL_MAGIC) {
    throw new HeapIncompatibleError("shared heap: no control block here (bad magic)");
  }
  if (c[C_BYTE_ORDER] !== BYTE_ORDER_MARK) {
    throw new HeapIncompatibleError("shared heap: control block of another byte order");
  }
  const v = c[C_VERSION];
  if (Math.floor(v / 65536) !== CONTROL_VERSION_MAJOR) {
    throw new HeapIncompatibleError(
      `shared heap: control format ${Math.floor(v / 65536)}.${v % 65536} is not ${CONTROL_VERSION_MAJOR}.x`,
      "ERR_HEAP_VERSION",
    );
  }
  const config = c[C_CONFIG];
  const maxAgents = config & 0xffff;
  const mode = (config >>> 16) & 0xff;
  const cached = (config & CONFIG_CACHED) !== 0;
  if (
    maxAgents < 1 ||
    maxAgents > MAX_AGENTS_LIMIT ||
    (mode !== MODE_PLAIN && mode !== MODE_SYNCHRONIZED) ||
    (config & ~(0xffff | (0xff << 16) | CONFIG_CACHED)) !== 0 ||
    (cached && mode !== MODE_SYNCHRONIZED) ||
    sab.byteLength !== controlBytes(maxAgents)
  ) {
    throw new HeapIncompatibleError(
      `shared heap: control config ${config} does not match a ${sab.byteLength}-byte buffer`,
      "ERR_HEAP_CONFIG",
    );
  }
  return { maxAgents, mode, cached };
}
