// A worker for cache-workers.test.ts (plain JavaScript, imports the library that the test
// compiled into a temporary directory: workerData.lib).
import { parentPort, workerData } from "node:worker_threads";

const { SharedHeap } = await import(workerData.lib);
const { task } = workerData;

function paint(u8, ptr, size) {
  const v = (ptr >>> 4) & 0xff || 1;
  u8.fill(v, ptr, ptr + size);
}
function painted(u8, ptr, size) {
  const v = (ptr >>> 4) & 0xff || 1;
  for (let i = ptr; i < ptr + size; i++) if (u8[i] !== v) return false;
  return true;
}
const errName = (e) => (e && typeof e === "object" && "name" in e ? e.name : String(e));

try {
  const heap = SharedHeap.attach(workerData.desc, { lockTimeoutMs: 5_000 });
  if (task === "owner") {
    // Allocates and paints batches; the parent hands them to a "freer" worker. Between
    // batches it counts how many of its new blocks reuse addresses it handed out before.
    const seen = new Set();
    let reused = 0;
    parentPort.on("message", (m) => {
      if (m.batch) {
        const out = [];
        for (let i = 0; i < m.batch; i++) {
          const n = 8 + ((i * 37) % 500);
          const p = heap.alloc(n);
          if (p === 0) throw new Error("out of memory");
          if (seen.has(p)) reused++;
          seen.add(p);
          paint(heap.memory.u8, p, n);
          out.push(p, n);
        }
        parentPort.postMessage({ blocks: out, pages: heap.cacheStats().pages });
      } else if (m.finish) {
        parentPort.postMessage({ reused, pages: heap.cacheStats().pages });
      }
    });
    parentPort.postMessage({ ready: true });
  } else if (task === "freer") {
    // Verifies the paint of every block it is given and frees it (a remote free).
    let bad = 0;
    parentPort.on("message", (m) => {
      const b = m.blocks;
      for (let i = 0; i < b.length; i += 2) {
        heap.usableSize(b[i]); // sees growth by others before reading bytes
        if (!painted(heap.memory.u8, b[i], b[i + 1])) bad++;
        heap.dealloc(b[i]);
      }
      parentPort.postMessage({ freed: b.length / 2, bad });
    });
    parentPort.postMessage({ ready: true });
  } else if (task === "hold") {
    // Takes pages in several classes, keeps `keep` blocks live, frees the rest, reports the
    // kept ones and then idles (the parent terminates it).
    const kept = [];
    const all = [];
    for (let i = 0; i < workerData.count; i++) {
      const n = 16 << (i % 6);
      const p = heap.alloc(n);
      paint(heap.memory.u8, p, n);
      all.push(p, n);
    }
    for (let i = 0; i < all.length; i += 2) {
      if (i / 2 < workerData.keep) kept.push(all[i], all[i + 1]);
      else heap.dealloc(all[i]);
    }
    parentPort.postMessage({ kept, pages: heap.cacheStats().pages });
  } else if (task === "race") {
    // Both workers free the block the parent allocated for this round, at a barrier.
    const { rounds, me, sync } = workerData;
    const c = new Int32Array(sync);
    for (let r = 0; r < rounds; r++) {
      const deadline = Date.now() + 10_000;
      while (Atomics.load(c, 0) !== r + 1) {
        if (Date.now() > deadline) throw new Error("no round");
        Atomics.wait(c, 0, r, 50);
      }
      const p = Atomics.load(c, 1);
      try {
        heap.dealloc(p);
        c[4 + r * 2 + me] = 1;
      } catch (e) {
        c[4 + r * 2 + me] = errName(e) === "DoubleFreeError" ? 2 : 3;
      }
      Atomics.add(c, 2, 1);
      Atomics.notify(c, 2);
    }
    parentPort.postMessage({ done: true });
  } else if (task === "fill") {
    // Allocates `count` blocks of `size` (its own pages), reports them, then idles: it calls
    // nothing until the parent asks for one more block.
    const blocks = [];
    for (let i = 0; i < workerData.count; i++) blocks.push(heap.alloc(workerData.size));
    parentPort.on("message", () => {
      const p = heap.alloc(workerData.size);
      heap.dealloc(p);
      heap.check();
      parentPort.postMessage({ ptr: p });
    });
    parentPort.postMessage({ blocks });
  } else if (task === "churn") {
    // Shared slots: take a slot's block and free it (most often another worker's: a remote
    // free), or put a new block into an empty one. Every block handed out is stamped in
    // `own` (one word per 16 bytes) with a CAS: a stamp already there is a block handed out
    // twice. Counts, not time, bound the run.
    const s = new Int32Array(workerData.slots);
    const own = new Int32Array(workerData.own);
    const sizes = [1024, 1000, 700, 512, 300, 64, 16];
    let x = workerData.seed >>> 0;
    const rnd = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    let doubles = 0;
    for (let i = 0; i < workerData.iterations; i++) {
      const k = rnd() % s.length;
      const p = Atomics.exchange(s, k, 0);
      if (p !== 0) {
        Atomics.store(own, p >>> 4, 0);
        heap.dealloc(p);
      } else {
        const q = heap.alloc(sizes[rnd() % sizes.length]);
        if (q === 0) throw new Error("out of memory");
        if (Atomics.compareExchange(own, q >>> 4, 0, workerData.me) !== 0) doubles++;
        if (Atomics.compareExchange(s, k, 0, q) !== 0) {
          Atomics.store(own, q >>> 4, 0);
          heap.dealloc(q);
        }
      }
    }
    parentPort.postMessage({ done: true, doubles });
  } else if (task === "alloc") {
    // One small allocation (the parent arms a pause point inside the page install).
    const p = heap.alloc(workerData.size);
    parentPort.postMessage({ ptr: p });
  }
} catch (e) {
  parentPort.postMessage({ error: errName(e), message: String(e?.message ?? e) });
}
