// A module Web Worker for test/browser/shared-heap.test.ts. The first message carries the
// heap's descriptor (from `share()` on the page); the worker attaches and says so. A worker
// may block (Atomics.wait is allowed in workers), so it uses the ordinary calls.
import { SharedHeap } from "/lib/index.js";

function paint(u8, ptr, size) {
  const v = (ptr >>> 3) & 0xff;
  u8.fill(v === 0 ? 1 : v, ptr, ptr + size);
}
function painted(u8, ptr, size) {
  const v = (ptr >>> 3) & 0xff || 1;
  for (let i = ptr; i < ptr + size; i++) if (u8[i] !== v) return false;
  return true;
}

let heap;
let cfg;
let pending = 0;
let received = 0;
let bad = 0;
let allocs = 0;
let frees = 0;
let x = 1;
const rnd = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) / 4294967296;
};

/** Allocates, paints and posts one batch; about 30% die at once, freed by this worker. */
function sendBatch() {
  pending--;
  const out = [];
  for (let i = 0; i < cfg.batch; i++) {
    const n = 1 + Math.floor(rnd() ** 3 * 4096);
    const p = heap.alloc(n);
    if (p === 0) throw new Error(`out of memory at ${n}`);
    allocs++;
    paint(heap.memory.u8, p, n);
    if (rnd() < 0.3) {
      if (!painted(heap.memory.u8, p, n)) bad++;
      heap.dealloc(p);
      frees++;
    } else {
      out.push(p, n);
    }
  }
  postMessage({ blocks: out });
}

function handle(m) {
  if (m.desc) {
    cfg = m;
    heap = SharedHeap.attach(m.desc, { lockTimeoutMs: 5_000 });
    x = m.seed >>> 0 || 1;
    pending = m.rounds ?? 0;
    if (m.task === "dealloc") {
      // Hold a Web Lock for as long as this worker lives: the browser releases it only when
      // the worker is gone, which tells the page when to call markDead. Then the page's
      // armed pause point stops the dealloc inside the heap's lock.
      navigator.locks.request(`memkit-agent-${heap.agentId}`, () => {
        postMessage({ attached: true, agent: heap.agentId });
        heap.dealloc(m.ptr);
        postMessage({ finished: true });
        return new Promise(() => {});
      });
      return;
    }
    postMessage({ attached: true, agent: heap.agentId });
    return;
  }
  if (m.blocks) {
    // Blocks from other agents: verify the paint, free them.
    for (let i = 0; i < m.blocks.length; i += 2) {
      const p = m.blocks[i];
      const n = m.blocks[i + 1];
      heap.usableSize(p); // a call re-derives this agent's views if another one grew the heap
      if (!painted(heap.memory.u8, p, n)) bad++;
      heap.dealloc(p);
      frees++;
    }
    received++;
  }
  if (pending > 0) sendBatch();
  else if (received >= cfg.rounds) {
    heap.check();
    heap.close();
    postMessage({ done: true, bad, allocs, frees, agent: heap.agentId });
  }
}

self.addEventListener("message", (e) => {
  try {
    handle(e.data);
  } catch (err) {
    postMessage({ error: err?.name ?? "Error", message: String(err?.message ?? err) });
  }
});
