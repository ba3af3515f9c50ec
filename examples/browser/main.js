// The page of the browser example. It makes a SharedHeap, starts four module workers on it,
// passes the blocks each worker hands over to the next worker (keeping one block of its own
// per message), then checks every live block and draws the heap. The page's main thread must
// never block (Atomics.wait throws there), so it uses tryAlloc / allocAsync and tryDealloc /
// deallocAsync, which never wait synchronously.
import { LOCK_BUSY, SharedHeap } from "/memkit/index.js";

const WORKERS = 4;
const ROUNDS = 40;
const BATCH = 48;
const PAGE = WORKERS + 1; // the page's own number, painted into its blocks
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4"]; // workers 1-4, page
const FREE_COLOR = "#e8e8e8";
const NAMES = ["worker 1", "worker 2", "worker 3", "worker 4", "page"];

const status = document.getElementById("status");
const fmt = (n) => n.toLocaleString("en");

function fail(message) {
  status.dataset.state = "error";
  status.textContent = message;
  window.result = { error: message };
}

/** One block for the page, without ever blocking its thread. */
async function pageAlloc(heap, size) {
  const p = heap.tryAlloc(size);
  return p !== LOCK_BUSY ? p : heap.allocAsync(size);
}
async function pageFree(heap, ptr) {
  if (!heap.tryDealloc(ptr)) await heap.deallocAsync(ptr);
}

async function run() {
  if (!crossOriginIsolated) {
    fail(
      "This page is not cross-origin isolated, so SharedArrayBuffer is missing: serve it with serve.mjs.",
    );
    return;
  }
  const heap = SharedHeap.create({ initialBytes: 64 * 1024, maxBytes: 16 << 20 });
  const startBytes = heap.memory.end;
  const mine = []; // the page's blocks: ptr, size
  const pageCounts = { allocs: 0, frees: 0, bad: 0 };
  const reports = [];
  /** Does the block still hold its owner's paint? (Views are current after any heap call.) */
  const holds = (ptr, size, owner) =>
    heap.memory.u8.subarray(ptr, ptr + size).every((b) => b === owner);

  const workers = [];
  const finished = new Promise((resolve, reject) => {
    for (let i = 0; i < WORKERS; i++) {
      const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
      w.onerror = (e) => reject(new Error(`worker ${i + 1}: ${e.message}`));
      w.onmessage = async (e) => {
        const m = e.data;
        if (m.error) return reject(new Error(`worker ${i + 1}: ${m.error}`));
        if (m.done) {
          reports[i] = m;
          if (reports.filter(Boolean).length === WORKERS) resolve();
          return;
        }
        // A worker's handoff: the page frees the first block itself, allocates one block of its
        // own, and passes the rest to the next worker.
        const blocks = [];
        for (let k = 0; k < m.handoff.length; k += 2) {
          blocks.push(m.handoff[k], m.handoff[k + 1], i + 1);
        }
        const [ptr, size, owner] = blocks.splice(0, 3);
        heap.owns(ptr); // brings the page's views up to date if a worker grew the heap
        if (!holds(ptr, size, owner)) pageCounts.bad++;
        await pageFree(heap, ptr);
        pageCounts.frees++;
        const own = 64 + ((mine.length * 97) % 900);
        const p = await pageAlloc(heap, own);
        if (p === 0) return reject(new Error("the page ran out of memory"));
        pageCounts.allocs++;
        heap.owns(p);
        heap.memory.u8.fill(PAGE, p, p + own);
        mine.push(p, own);
        // Last: the next worker reports done only after its last handoff, so by then every
        // block of the page is allocated.
        workers[(i + 1) % WORKERS].postMessage({ blocks });
      };
      workers.push(w);
    }
    workers.forEach((w, i) => {
      w.postMessage({
        desc: heap.share(),
        id: i + 1,
        seed: 0x9e3779b9 * (i + 1),
        rounds: ROUNDS,
        batch: BATCH,
      });
    });
  });
  await finished;
  for (const w of workers) w.terminate();

  // Every block still live, with its owner; each must still hold its owner's paint.
  heap.owns(0);
  const live = [];
  reports.forEach((r, i) => {
    for (let k = 0; k < r.kept.length; k += 2) live.push([r.kept[k], r.kept[k + 1], i + 1]);
  });
  for (let k = 0; k < mine.length; k += 2) live.push([mine[k], mine[k + 1], PAGE]);
  const overwritten = live.filter(([p, n, o]) => !holds(p, n, o)).length;
  heap.check(); // every agent is done: the lock is free, so this does not wait
  const stats = heap.stats();
  const painted = draw(live, heap.memory.end);
  const perOwner = NAMES.map((name, i) => {
    const blocks = live.filter((b) => b[2] === i + 1);
    return {
      name,
      color: COLORS[i],
      blocks: blocks.length,
      bytes: blocks.reduce((s, b) => s + b[1], 0),
      pixels: painted[i],
    };
  });
  table([
    ["heap grew", `${fmt(startBytes)} → ${fmt(heap.memory.end)} bytes`],
    ["live blocks", fmt(stats.liveBlocks)],
    ["in use", `${fmt(stats.inUse)} bytes`],
    [
      "allocations (workers + page)",
      fmt(reports.reduce((s, r) => s + r.allocs, 0) + pageCounts.allocs),
    ],
    [
      "blocks found overwritten",
      fmt(overwritten + pageCounts.bad + reports.reduce((s, r) => s + r.bad, 0)),
    ],
  ]);
  window.result = {
    isolated: crossOriginIsolated,
    startBytes,
    endBytes: heap.memory.end,
    liveBlocks: stats.liveBlocks,
    drawn: live.length,
    bad: overwritten + pageCounts.bad + reports.reduce((s, r) => s + r.bad, 0),
    workers: reports.map(({ allocs, frees, bad }) => ({ allocs, frees, bad })),
    page: pageCounts,
    perOwner,
    freeColor: FREE_COLOR,
  };
  status.dataset.state = "done";
  status.textContent = `done: ${fmt(stats.liveBlocks)} blocks live, heap checked, no block overwritten`;
}

/**
 * The heap as rows of pixels, from address 0 to its end; each live block in its owner's color
 * (where two blocks share a pixel, the later one in `live` paints it). Returns, per owner, how
 * many pixels of the canvas it painted.
 */
function draw(live, end) {
  const canvas = document.getElementById("map");
  const ctx = canvas.getContext("2d");
  const rows = 12;
  const rowHeight = canvas.height / rows; // whole pixels: 240 / 12
  const barHeight = rowHeight - 2;
  const cells = canvas.width * rows;
  const perPixel = end / cells;
  // Which owner each cell (one pixel wide, one row high) shows: 0 for none.
  const owners = new Uint8Array(cells);
  for (const [ptr, size, owner] of live) {
    const first = Math.floor(ptr / perPixel);
    const last = Math.max(first + 1, Math.floor((ptr + size) / perPixel));
    owners.fill(owner, first, Math.min(last, cells));
  }
  ctx.fillStyle = FREE_COLOR;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const painted = NAMES.map(() => 0);
  for (let x = 0; x < cells; ) {
    const owner = owners[x];
    let w = 1;
    while (x + w < cells && owners[x + w] === owner && (x + w) % canvas.width !== 0) w++;
    if (owner !== 0) {
      ctx.fillStyle = COLORS[owner - 1];
      ctx.fillRect(x % canvas.width, Math.floor(x / canvas.width) * rowHeight, w, barHeight);
      painted[owner - 1] += w * barHeight;
    }
    x += w;
  }
  document.getElementById("legend").innerHTML =
    NAMES.map((n, i) => `<span><i style="background:${COLORS[i]}"></i>${n}</span>`).join("") +
    `<span><i style="background:${FREE_COLOR}"></i>free or metadata</span>`;
  return painted;
}

function table(rows) {
  document.getElementById("stats").innerHTML = rows
    .map(([k, v]) => `<tr><th>${k}</th><td class="n">${v}</td></tr>`)
    .join("");
}

run().catch((e) => fail(`${e?.name ?? "Error"}: ${e?.message ?? e}`));
