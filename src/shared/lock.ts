/**
 * A robust lock in one `Int32` word of a `SharedArrayBuffer`: the futex "owner died"
 * protocol of RELIABILITY.md §4.3.3, built by hand because JavaScript has no robust mutex.
 *
 *     lock word   31        30           29                          0
 *                 | WAITERS | OWNER_DIED | owner agent id (1 … 2^30−1) |
 *
 * - Acquire: CAS 0 → id. Taking the lock *is* recording who holds it, so there is no window
 *   between "acquired" and "recorded" (fault W3).
 * - Contended: set WAITERS and `Atomics.wait` on the word, in slices, up to a deadline.
 *   An agent that ever waited acquires with WAITERS set (Drepper's "mutex 3"), so a
 *   release never forgets to wake a sleeper.
 * - Release: exchange with 0; if WAITERS was set, wake one waiter.
 * - A supervisor that saw the owner die (`markOwnerDied`) CASes OWNER_DIED into the word
 *   and wakes everyone. The next acquirer CASes the word to its own id and is told the
 *   owner died (ACQUIRED_OWNER_DIED): it must recover before doing anything else.
 * - Where blocking is not allowed (a browser's main thread: `Atomics.wait` throws there),
 *   `tryAcquire` never waits and `acquireAsync` waits with `Atomics.waitAsync`.
 *
 * | operation        | uncontended          | contended                         |
 * | ---------------- | -------------------- | --------------------------------- |
 * | acquire          | 1 CAS                | CAS + wait, bounded by the timeout |
 * | release          | 1 exchange           | + 1 notify                        |
 */

export const OWNER_MASK = 0x3fffffff;
export const OWNER_DIED = 0x40000000;
/** Bit 31, as the signed value an Int32Array holds. */
export const WAITERS = 0x80000000 | 0;

export const ACQUIRED = 0;
export const ACQUIRED_OWNER_DIED = 1;
export const TIMED_OUT = -1;

/** Longest single `Atomics.wait`; the loop re-checks the deadline in between. */
const WAIT_SLICE_MS = 50;

let blockingAllowed: boolean | undefined;

/** Whether this agent may block in `Atomics.wait` (false on a browser's main thread). */
export function canBlock(): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

/**
 * Takes the lock at `c[i]` for `id`, waiting up to `timeoutMs`. Returns ACQUIRED,
 * ACQUIRED_OWNER_DIED (the previous owner died holding it: recover first) or TIMED_OUT.
 * Where blocking is not allowed it spins instead (keep such timeouts short).
 */
export function acquire(c: Int32Array, i: number, id: number, timeoutMs: number): number {
  if (Atomics.compareExchange(c, i, 0, id) === 0) return ACQUIRED;
  return acquireSlow(c, i, id, timeoutMs);
}

function acquireSlow(c: Int32Array, i: number, id: number, timeoutMs: number): number {
  const block = canBlock();
  const deadline = performance.now() + timeoutMs;
  let mine = id;
  for (;;) {
    const r = tryTake(c, i, mine);
    if (r !== TIMED_OUT) return r;
    const w = Atomics.load(c, i);
    if (w === 0 || (w & OWNER_DIED) !== 0) continue;
    // Announce a waiter; from now on take the lock with WAITERS set.
    if ((w & WAITERS) === 0 && Atomics.compareExchange(c, i, w, w | WAITERS) !== w) continue;
    mine = id | WAITERS;
    const left = deadline - performance.now();
    if (left <= 0) return TIMED_OUT;
    if (block) Atomics.wait(c, i, w | WAITERS, Math.min(left, WAIT_SLICE_MS));
  }
}

/** One attempt: ACQUIRED, ACQUIRED_OWNER_DIED, or TIMED_OUT when another agent holds it. */
export function tryTake(c: Int32Array, i: number, value: number): number {
  const w = Atomics.load(c, i);
  if (w === 0) {
    return Atomics.compareExchange(c, i, 0, value) === 0 ? ACQUIRED : TIMED_OUT;
  }
  if ((w & OWNER_DIED) !== 0) {
    return Atomics.compareExchange(c, i, w, value | (w & WAITERS)) === w
      ? ACQUIRED_OWNER_DIED
      : TIMED_OUT;
  }
  return TIMED_OUT;
}

/** As `acquire`, waiting with `Atomics.waitAsync` (usable on a browser's main thread). */
export async function acquireAsync(
  c: Int32Array,
  i: number,
  id: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let mine = id;
  for (;;) {
    const r = tryTake(c, i, mine);
    if (r !== TIMED_OUT) return r;
    const w = Atomics.load(c, i);
    if (w === 0 || (w & OWNER_DIED) !== 0) continue;
    if ((w & WAITERS) === 0 && Atomics.compareExchange(c, i, w, w | WAITERS) !== w) continue;
    mine = id | WAITERS;
    const left = deadline - performance.now();
    if (left <= 0) return TIMED_OUT;
    const slice = Math.min(left, WAIT_SLICE_MS);
    const waitAsync = (
      Atomics as unknown as {
        waitAsync?: (
          a: Int32Array,
          i: number,
          v: number,
          t: number,
        ) => { async: boolean; value: unknown };
      }
    ).waitAsync;
    if (waitAsync !== undefined) {
      const res = waitAsync(c, i, w | WAITERS, slice);
      if (res.async) await res.value;
    } else {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/** Releases the lock; wakes one waiter if any announced itself. */
export function release(c: Int32Array, i: number): void {
  const old = Atomics.exchange(c, i, 0);
  if ((old & WAITERS) !== 0) Atomics.notify(c, i, 1);
}

/**
 * The supervisor's half: if agent `deadId` holds the lock, mark it OWNER_DIED and wake
 * every waiter. Returns whether it held the lock.
 */
export function markOwnerDied(c: Int32Array, i: number, deadId: number): boolean {
  for (;;) {
    const w = Atomics.load(c, i);
    if ((w & OWNER_MASK) !== deadId || (w & OWNER_DIED) !== 0) return false;
    if (Atomics.compareExchange(c, i, w, w | OWNER_DIED) === w) {
      Atomics.notify(c, i);
      return true;
    }
  }
}
