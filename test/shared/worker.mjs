// A worker for workers.test.ts. Plain JavaScript: it imports the library built by the test
// (workerData.lib is the file URL of dist/shared/shared-heap.js in a temporary directory),
// so it runs under vitest's forks pool without a TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";

const { SharedHeap } = await import(workerData.lib);
const { task } = workerData;

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

/** A reusable barrier for `n` parties on words [i, i + 1] of `c` (count, generation). */
function barrier(c, i, n) {
  const gen = Atomics.load(c, i + 1);
  if (Atomics.add(c, i, 1) === n - 1) {
    Atomics.store(c, i, 0);
    Atomics.add(c, i + 1, 1);
    Atomics.notify(c, i + 1);
    return;
  }
  const deadline = Date.now() + 10_000;
  while (Atomics.load(c, i + 1) === gen) {
    if (Date.now() > deadline) throw new Error("barrier timed out");
    Atomics.wait(c, i + 1, gen, 100);
  }
}

const errName = (e) => (e && typeof e === "object" && "name" in e ? e.name : String(e));

try {
  const heap = SharedHeap.attach(workerData.desc, { lockTimeoutMs: 5_000 });
  if (task === "stress") {
    // Allocate, paint, hand the batch on (through the parent) to the next worker; verify and
    // free the batches the previous worker hands over.
    const { rounds, batch, seed } = workerData;
    let x = seed >>> 0 || 1;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 4294967296;
    };
    let pending = rounds;
    let received = 0;
    let bad = 0;
    let grewTo = 0;
    parentPort.on("message", (msg) => {
      if (msg.blocks) {
        for (let i = 0; i < msg.blocks.length; i += 2) {
          const p = msg.blocks[i];
          const n = msg.blocks[i + 1];
          // Another worker may have grown the memory: a call refreshes this agent's views.
          heap.usableSize(p);
          if (!painted(heap.memory.u8, p, n)) bad++;
          heap.dealloc(p);
        }
        received++;
      }
      if (pending > 0) {
        pending--;
        const out = [];
        for (let i = 0; i < batch; i++) {
          const n = 1 + Math.floor(rnd() ** 3 * 4096);
          const p = heap.alloc(n);
          if (p === 0) throw new Error(`out of memory at ${n}`);
          paint(heap.memory.u8, p, n);
          out.push(p, n);
          // Some blocks die at once, freed by their owner.
          if (rnd() < 0.3) {
            out.pop();
            out.pop();
            if (!painted(heap.memory.u8, p, n)) bad++;
            heap.dealloc(p);
          }
        }
        grewTo = Math.max(grewTo, heap.memory.end);
        parentPort.postMessage({ blocks: out });
      } else if (received >= rounds) {
        parentPort.postMessage({ done: true, bad, grewTo });
        parentPort.close();
      }
    });
    parentPort.postMessage({ ready: true });
  } else if (task === "op") {
    // One operation, for the parent to kill it at an armed pause point. With `tear`, the
    // pause hook first breaks the heap the way a half-done update would.
    if (workerData.tear) {
      heap.setTestHook(() => {
        // A slow tear: the parent must not kill this worker before the hook has finished.
        const until = performance.now() + 50;
        while (performance.now() < until);
        new Uint32Array(heap.memory.buffer)[17] += 1; // TLSF's USED_COUNT, no block behind it
      });
    }
    if (workerData.op === "alloc") heap.alloc(workerData.size);
    else heap.dealloc(workerData.ptr);
    parentPort.postMessage({ finished: true });
  } else if (task === "use") {
    // After a death: alloc, paint, free, check. Reports the outcome.
    const ptrs = [];
    for (let i = 0; i < 50; i++) {
      const p = heap.alloc(8 + i * 8);
      paint(heap.memory.u8, p, 8 + i * 8);
      ptrs.push(p);
    }
    for (let i = 0; i < 50; i++) {
      if (!painted(heap.memory.u8, ptrs[i], 8 + i * 8)) throw new Error("paint lost");
      heap.dealloc(ptrs[i]);
    }
    heap.check();
    parentPort.postMessage({ ok: true });
  } else if (task === "race") {
    // Two workers free the same block at a barrier; each records 1 (freed) or 2 (DoubleFree).
    const { rounds, leader, sync } = workerData;
    const c = new Int32Array(sync);
    const me = leader ? 0 : 1;
    for (let r = 0; r < rounds; r++) {
      if (leader) Atomics.store(c, 4, heap.alloc(8 + (r % 64) * 8));
      barrier(c, 0, 2);
      const p = Atomics.load(c, 4);
      try {
        heap.dealloc(p);
        c[8 + r * 2 + me] = 1;
      } catch (e) {
        c[8 + r * 2 + me] = errName(e) === "DoubleFreeError" ? 2 : 3;
      }
      barrier(c, 2, 2);
    }
    parentPort.postMessage({ done: true });
  } else if (task === "grow") {
    // Grows the heap by allocating a big block, paints it, reports it (and keeps it).
    const p = heap.alloc(workerData.size);
    if (p !== 0) paint(heap.memory.u8, p, workerData.size);
    parentPort.postMessage({ ptr: p, end: heap.memory.end });
  }
} catch (e) {
  parentPort.postMessage({ error: errName(e), message: String(e?.message ?? e) });
}
