/**
 * The small-block caches across real `worker_threads`: remote frees reach the owner and
 * are reused, the double-free race on cache blocks, a worker killed while holding cache
 * pages (its pages reclaimed), and a worker killed inside a page install. Every wait is
 * bounded; nothing asserts on timing.
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SharedHeap } from "../../src/shared/shared-heap.js";
import { buildLibrary, removeBuild } from "../helpers/build.js";
import { type Msg, nextMessage, until } from "../helpers/workers.js";

const workerFile = new URL("./cache-worker.mjs", import.meta.url);
let outDir = "";
let lib = "";

beforeAll(() => {
  outDir = buildLibrary("memkit-cache-");
  lib = pathToFileURL(join(outDir, "shared", "shared-heap.js")).href;
});

afterAll(() => removeBuild(outDir));

function spawn(data: Record<string, unknown>): Worker {
  return new Worker(workerFile, { workerData: { lib, ...data } });
}

const next = (w: Worker, ms = 10_000): Promise<Msg> => nextMessage(w, ms, true);

describe("remote frees", () => {
  it("blocks freed by another worker go back to their owner, which reuses them", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20, maxBytes: 1 << 24 });
    const owner = spawn({ task: "owner", desc: heap.share() });
    const freer = spawn({ task: "freer", desc: heap.share() });
    const ready = await Promise.all([next(owner), next(freer)]);
    expect(ready).toEqual([{ ready: true }, { ready: true }]);
    let pagesAfterFirst = 0;
    for (let round = 0; round < 6; round++) {
      owner.postMessage({ batch: 400 });
      const m = await next(owner);
      if (round === 0) pagesAfterFirst = m.pages as number;
      freer.postMessage({ blocks: m.blocks });
      const f = await next(freer);
      expect(f).toEqual({ freed: 400, bad: 0 });
    }
    owner.postMessage({ finish: true });
    const end = await next(owner);
    // Rounds 2–6 were served from the pages' never-used blocks and, mostly, from the blocks
    // the freer gave back: no new pages (pages the freer emptied were parked, and past the
    // bound given back to TLSF).
    expect(end.reused as number).toBeGreaterThan(3 * 400);
    expect(end.pages as number).toBeLessThanOrEqual(pagesAfterFirst);
    await Promise.all([owner.terminate(), freer.terminate()]);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
    expect(heap.cacheStats().liveBlocks).toBe(0);
  });
});

describe("the claim protocol: pages emptied by other workers' frees", () => {
  it("go back to the heap while their owner is idle, its calling nothing", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20, cacheEmptyPages: 0 });
    const fresh = heap.stats();
    const size = 1000; // 7 blocks of 1,024 bytes a page
    const owner = spawn({ task: "fill", desc: heap.share(), count: 40, size });
    const m = await next(owner);
    const blocks = m.blocks as number[];
    expect(heap.cacheStats()).toMatchObject({ pages: 6, liveBlocks: 40 });
    for (const p of blocks) heap.dealloc(p); // remote frees: the owner waits for a message
    // Each page went back to TLSF as its last block was freed here (parked, past the bound 0).
    expect(heap.cacheStats()).toMatchObject({ pages: 0, parked: 0 });
    const now = heap.stats();
    expect(now.largestFree).toBe(fresh.largestFree);
    expect(now.liveBlocks).toBe(fresh.liveBlocks);
    heap.check();
    owner.postMessage({}); // the owner's pages are gone: it notices and takes a new one
    expect(((await next(owner)).ptr as number) > 0).toBe(true);
    await owner.terminate();
    heap.check();
  });

  it("never hand a block out twice: three workers allocate and free each other's blocks", async () => {
    const heap = SharedHeap.create({ initialBytes: 4 << 20, cacheEmptyPages: 1 });
    const slots = new SharedArrayBuffer(512 * 4);
    const own = new SharedArrayBuffer((4 << 20) / 4); // a word per 16 bytes
    const ws = [2, 3, 4].map((me) =>
      spawn({
        task: "churn",
        desc: heap.share(),
        slots,
        own,
        me,
        seed: 0x9e3779b9 * me,
        iterations: 30_000,
      }),
    );
    const res = await Promise.all(ws.map((w) => next(w, 60_000)));
    await Promise.all(ws.map((w) => w.terminate()));
    expect(res).toEqual([0, 1, 2].map(() => ({ done: true, doubles: 0 })));
    heap.check();
    const s = new Int32Array(slots);
    for (let k = 0; k < s.length; k++) if (s[k] !== 0) heap.dealloc(s[k]);
    heap.check();
    expect(heap.cacheStats().liveBlocks).toBe(0);
    expect(heap.stats().liveBlocks).toBe(0);
  });
});

describe("double free race on cache blocks", () => {
  it("two workers free the parent's block at once: exactly one wins, every round", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20 });
    const rounds = 2000;
    const sync = new SharedArrayBuffer((4 + rounds * 2) * 4);
    const c = new Int32Array(sync);
    const ws = [0, 1].map((me) => spawn({ task: "race", desc: heap.share(), rounds, me, sync }));
    const done = Promise.all(ws.map((w) => next(w, 30_000)));
    for (let r = 0; r < rounds; r++) {
      const p = heap.alloc(8 + (r % 128) * 8); // the parent's cache pages: both frees remote
      Atomics.store(c, 1, p);
      Atomics.store(c, 0, r + 1);
      Atomics.notify(c, 0);
      const deadline = Date.now() + 10_000;
      while (Atomics.load(c, 2) < 2 * (r + 1)) {
        if (Date.now() > deadline) throw new Error(`round ${r} did not finish`);
        Atomics.wait(c, 2, Atomics.load(c, 2), 50);
      }
    }
    for (const m of await done) expect(m).toEqual({ done: true });
    await Promise.all(ws.map((w) => w.terminate()));
    let bad = 0;
    for (let r = 0; r < rounds; r++) {
      const a = c[4 + r * 2];
      const b = c[4 + r * 2 + 1];
      if (!((a === 1 && b === 2) || (a === 2 && b === 1))) bad++;
    }
    expect(bad).toBe(0);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
  });
});

describe("a worker dies holding cache pages", () => {
  it("its empty pages go back to the heap, the others are adopted; check() passes", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20 });
    const before = heap.stats();
    const desc = heap.share();
    const w = spawn({ task: "hold", desc, count: 600, keep: 5 });
    const m = await next(w);
    const kept = m.kept as number[];
    expect(m.pages as number).toBeGreaterThanOrEqual(6);
    await w.terminate();
    heap.markDead(desc);
    heap.check(); // recovers: 1 live block in each of 5 pages keeps it; the rest go back
    let t = heap.cacheStats();
    expect(t.abandoned).toBe(5);
    expect(t.pages).toBe(5);
    expect(t.liveBlocks).toBe(5);
    // The kept blocks are intact and can be freed by anyone.
    for (let i = 0; i < kept.length; i += 2) {
      const p = kept[i];
      const v = (p >>> 4) & 0xff || 1;
      expect(heap.memory.u8[p]).toBe(v);
      expect(heap.memory.u8[p + kept[i + 1] - 1]).toBe(v);
    }
    // An allocation of one of their classes adopts an abandoned page instead of a new one.
    const q = heap.alloc(16);
    t = heap.cacheStats();
    expect(t.pages).toBe(5);
    expect(t.abandoned).toBe(4);
    // Anyone frees the kept blocks; an abandoned page goes back as its last block is freed.
    for (let i = 0; i < kept.length; i += 2) heap.dealloc(kept[i]);
    expect(heap.cacheStats()).toMatchObject({ pages: 1, abandoned: 0, liveBlocks: 1 });
    heap.dealloc(q);
    expect(heap.trim()).toBe(1);
    heap.check();
    const after = heap.stats();
    expect(after.liveBlocks).toBe(before.liveBlocks);
    expect(after.inUse).toBe(before.inUse);
    expect(after.largestFree).toBe(before.largestFree);
  });

  it("killed inside a page install: the page goes back, check() passes", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 20 });
    const before = heap.stats();
    const desc = heap.share();
    heap.armPause("page", desc.agent);
    const w = spawn({ task: "alloc", desc, size: 100 });
    await until(() => heap.pausedAgent === desc.agent);
    expect(heap.lockOwner).toBe(desc.agent);
    await w.terminate();
    heap.markDead(desc);
    heap.releasePause();
    heap.check();
    expect(heap.poisoned).toBe(false);
    expect(heap.cacheStats().pages).toBe(0);
    const after = heap.stats();
    expect(after.liveBlocks).toBe(before.liveBlocks);
    expect(after.largestFree).toBe(before.largestFree);
    // Another worker uses the same class afterwards.
    const u = spawn({ task: "alloc", desc: heap.share(), size: 100 });
    const r = await next(u);
    await u.terminate();
    expect(r.ptr as number).toBeGreaterThan(0);
    heap.check();
  });
});
