// The page side of test/browser/shared-heap.test.ts, run on a browser's main thread. It
// imports the built library (served from /lib/) and sets `window.memkit` to the scenarios the
// test calls with `page.evaluate`. The main thread never blocks: it allocates and frees with
// tryAlloc / tryDealloc (retried from the event loop on LOCK_BUSY) and allocAsync /
// deallocAsync (Atomics.waitAsync), because Atomics.wait throws on a page's main thread.
import { LOCK_BUSY, SharedHeap } from "/lib/index.js";

const WORKER_URL = new URL("./worker.mjs", import.meta.url);

/** The paint of a block: every byte derived from its pointer, so any agent can verify it. */
function paint(u8, ptr, size) {
  const v = (ptr >>> 3) & 0xff;
  u8.fill(v === 0 ? 1 : v, ptr, ptr + size);
}
function painted(u8, ptr, size) {
  const v = (ptr >>> 3) & 0xff || 1;
  for (let i = ptr; i < ptr + size; i++) if (u8[i] !== v) return false;
  return true;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const errorOf = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e) });

/** Rejects after `ms` unless `promise` settles first. */
function within(promise, ms, what) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** Does Atomics.wait throw here (as it must on a page's main thread)? */
function waitThrows() {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** A module worker; resolves with it once it attached to the heap `desc` describes. */
function startWorker(desc, extra) {
  const w = new Worker(WORKER_URL, { type: "module" });
  const attached = new Promise((resolve, reject) => {
    w.onerror = (e) => reject(new Error(`worker error: ${e.message ?? e}`));
    w.onmessage = (e) => {
      if (e.data.error) reject(new Error(`worker: ${e.data.error}: ${e.data.message}`));
      else if (e.data.attached) resolve(w);
    };
  });
  w.postMessage({ desc, ...extra });
  return within(attached, 10_000, "worker attach");
}

/** tryAlloc, retried from the event loop while another agent holds the lock. */
async function tryAllocRetry(heap, size, counters) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const p = heap.tryAlloc(size);
    if (p !== LOCK_BUSY) return p;
    counters.busy++;
    if (performance.now() > deadline) throw new Error("tryAlloc: lock busy for 10 s");
    await tick();
  }
}

async function tryDeallocRetry(heap, ptr, counters) {
  const deadline = performance.now() + 10_000;
  while (!heap.tryDealloc(ptr)) {
    counters.busy++;
    if (performance.now() > deadline) throw new Error("tryDealloc: lock busy for 10 s");
    await tick();
  }
}

/**
 * `n` workers in a ring: each allocates a batch, paints it and posts it here; the main thread
 * verifies and frees the first block of the batch, adds a block of its own, and forwards the
 * batch to the next worker, which verifies and frees all of it. The heap starts at 64 KiB
 * and grows while they run.
 */
async function stress({ workers: n, rounds, batch }) {
  const result = {
    crossOriginIsolated: globalThis.crossOriginIsolated,
    waitThrows: waitThrows(),
    mainAllocs: 0,
    mainFrees: 0,
    busy: 0,
    bad: 0,
    workerReports: [],
  };
  const heap = SharedHeap.create({ initialBytes: 1 << 16, maxBytes: 1 << 25 });
  const startEnd = heap.memory.end;
  const ws = [];
  try {
    for (let i = 0; i < n; i++) {
      ws.push(await startWorker(heap.share(), { task: "stress", rounds, batch, seed: 99 + i }));
    }
    const pending = [];
    let mainTurn = 0;
    const finished = ws.map(
      (w, i) =>
        new Promise((resolve, reject) => {
          w.onerror = (e) => reject(new Error(`worker ${i} error: ${e.message ?? e}`));
          w.onmessage = (e) => {
            const m = e.data;
            if (m.error) reject(new Error(`worker ${i}: ${m.error}: ${m.message}`));
            else if (m.done) resolve(m);
            else if (m.blocks) {
              const job = forward(m.blocks, ws[(i + 1) % n]);
              pending.push(job);
              job.catch(reject);
            }
          };
        }),
    );
    async function forward(blocks, to) {
      const turn = mainTurn++;
      // Free the first block here (a block another agent allocated).
      if (blocks.length >= 2) {
        const [p, size] = blocks.splice(0, 2);
        heap.owns(p); // refreshes this agent's views if a worker grew the heap (never waits)
        if (!painted(heap.memory.u8, p, size)) result.bad++;
        if (turn % 2 === 0) await heap.deallocAsync(p);
        else await tryDeallocRetry(heap, p, result);
        result.mainFrees++;
      }
      // Add one of ours for the next worker to verify and free.
      const size = 1 + (((turn * 2654435761) >>> 0) % 3000);
      const p =
        turn % 2 === 0 ? await heap.allocAsync(size) : await tryAllocRetry(heap, size, result);
      if (p === 0) throw new Error(`main thread: out of memory at ${size}`);
      paint(heap.memory.u8, p, size);
      result.mainAllocs++;
      to.postMessage({ blocks: [...blocks, p, size] });
    }
    for (const w of ws) w.postMessage({ start: true });
    result.workerReports = await within(Promise.all(finished), 30_000, "workers");
    await within(Promise.all(pending), 10_000, "main thread's calls");
  } finally {
    for (const w of ws) w.terminate();
  }
  // Every worker closed its handle and stopped: nobody holds the lock, so these calls take
  // it at the first compare-and-swap and never wait.
  result.lockOwnerAtEnd = heap.lockOwner;
  heap.check();
  result.checked = true;
  result.liveBlocks = heap.stats().liveBlocks;
  result.grew = heap.memory.end > startEnd;
  result.end = heap.memory.end;
  return result;
}

/** Polls `cond` from the event loop; rejects after `ms`. */
async function until(cond, ms, what) {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * A worker terminated while it holds the lock inside dealloc: the page (the supervisor) marks
 * it dead, and its next tryAlloc recovers the heap (rolls the dealloc forward).
 */
async function fault() {
  const counters = { busy: 0 };
  const heap = SharedHeap.create({ initialBytes: 1 << 16 });
  const keep = await tryAllocRetry(heap, 100, counters);
  const victim = await tryAllocRetry(heap, 200, counters);
  const desc = heap.share();
  heap.armPause("begun", desc.agent);
  const w = await startWorker(desc, { task: "dealloc", ptr: victim });
  await until(() => heap.pausedAgent === desc.agent, 10_000, "worker inside the lock");
  const result = {
    lockOwnerWhilePaused: heap.lockOwner,
    agent: desc.agent,
    tryAllocWhilePaused: heap.tryAlloc(8),
  };
  // A Web Worker has no 'exit' event, and terminate() stops it asynchronously. The worker
  // holds a Web Lock named after its agent id for its whole life; the browser releases it
  // once the worker is gone, and only then does the page call markDead. (The pause is never
  // released either, so the worker could not move on in any case.)
  const gone = navigator.locks.request(`memkit-agent-${desc.agent}`, () => heap.markDead(desc));
  w.terminate();
  result.heldLock = await within(gone, 10_000, "the worker's Web Lock");
  const p = await tryAllocRetry(heap, 8, counters);
  result.allocAfter = p;
  heap.check();
  result.poisoned = heap.poisoned;
  result.lockOwnerAfter = heap.lockOwner;
  result.liveBlocks = heap.stats().liveBlocks; // keep and p: victim's free was rolled forward
  heap.tryDealloc(keep);
  heap.tryDealloc(p);
  heap.check();
  result.liveBlocksAtEnd = heap.stats().liveBlocks;
  return result;
}

/** On a page without cross-origin isolation: what creating a shared heap does. */
function unisolated() {
  const result = {
    crossOriginIsolated: globalThis.crossOriginIsolated,
    typeofSharedArrayBuffer: typeof SharedArrayBuffer,
  };
  try {
    SharedHeap.create();
    result.created = true;
  } catch (e) {
    result.error = { ...errorOf(e), isTypeError: e instanceof TypeError };
  }
  return result;
}

window.memkit = { stress, fault, unisolated };
