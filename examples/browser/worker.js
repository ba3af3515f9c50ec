// A module Web Worker of the browser example. Its first message carries the heap's
// descriptor (from the page's share()); it attaches, then allocates and paints blocks: a third
// it frees at once, a third it keeps to the end, a third it hands to the page. Later messages
// bring blocks another worker handed over, which it checks and frees. Workers may block
// (Atomics.wait is allowed in them), so they use the plain alloc and dealloc.
import { SharedHeap } from "/memkit/index.js";

let heap;
let cfg;
let received = 0;
const kept = [];
const counts = { allocs: 0, frees: 0, bad: 0 };

let seed = 1;
function random() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

/** Fills a block with its owner's number, so whoever frees it can check nobody overwrote it. */
function paint(ptr, size, owner) {
  heap.memory.u8.fill(owner, ptr, ptr + size);
}
function isPainted(ptr, size, owner) {
  const u8 = heap.memory.u8;
  for (let i = ptr; i < ptr + size; i++) if (u8[i] !== owner) return false;
  return true;
}

function work() {
  for (let round = 0; round < cfg.rounds; round++) {
    const handoff = [];
    for (let i = 0; i < cfg.batch; i++) {
      const size = 16 + Math.floor(random() ** 2 * 2032);
      const ptr = heap.alloc(size);
      if (ptr === 0) throw new Error(`out of memory allocating ${size} bytes`);
      counts.allocs++;
      paint(ptr, size, cfg.id);
      const fate = i % 3;
      if (fate === 0) {
        heap.dealloc(ptr);
        counts.frees++;
      } else if (fate === 1) {
        kept.push(ptr, size);
      } else {
        handoff.push(ptr, size);
      }
    }
    postMessage({ handoff });
  }
}

function finishIfDone() {
  if (received < cfg.rounds) return;
  for (let i = 0; i < kept.length; i += 2)
    if (!isPainted(kept[i], kept[i + 1], cfg.id)) counts.bad++;
  heap.close(); // leaves the agent slot; the kept blocks stay live in the heap
  postMessage({ done: true, kept, ...counts });
}

self.onmessage = (e) => {
  try {
    const m = e.data;
    if (m.desc !== undefined) {
      cfg = m;
      seed = m.seed;
      heap = SharedHeap.attach(m.desc);
      work();
    } else {
      // Blocks another worker painted: check and free them.
      for (let i = 0; i < m.blocks.length; i += 3) {
        const [ptr, size, owner] = m.blocks.slice(i, i + 3);
        heap.usableSize(ptr); // any call brings this worker's views up to date after growth
        if (!isPainted(ptr, size, owner)) counts.bad++;
        heap.dealloc(ptr);
        counts.frees++;
      }
      received++;
    }
    finishIfDone();
  } catch (err) {
    postMessage({ error: `${err?.name ?? "Error"}: ${err?.message ?? err}` });
  }
};
