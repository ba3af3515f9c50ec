/**
 * SharedHeap across real `worker_threads`: stress with pointers passed between workers and
 * paint verification, a worker terminated at every pause point inside the lock, the plain
 * form refusing concurrent use, the double-free race, and growth seen by every agent.
 *
 * The workers (worker.mjs) import the library compiled by `tsc` into a temporary directory
 * in `beforeAll` (not dist/, which other tests build too). Every wait is bounded.
 */

import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConcurrentUseError } from "../../src/core/errors.js";
import type { PausePoint } from "../../src/shared/control.js";
import { LOCK_BUSY, SharedHeap } from "../../src/shared/shared-heap.js";
import { buildLibrary, removeBuild } from "../helpers/build.js";
import { type Msg, nextMessage, until } from "../helpers/workers.js";

const workerFile = new URL("./worker.mjs", import.meta.url);
let outDir = "";
let lib = "";

beforeAll(() => {
  outDir = buildLibrary("memkit-shared-");
  lib = pathToFileURL(join(outDir, "shared", "shared-heap.js")).href;
});

afterAll(() => removeBuild(outDir));

function spawn(data: Record<string, unknown>): Worker {
  return new Worker(workerFile, { workerData: { lib, ...data } });
}

const next = (w: Worker, ms = 10_000): Promise<Msg> => nextMessage(w, ms);

describe("N workers share one heap", () => {
  it("allocate, paint, pass pointers on, free each other's blocks; check() at the end", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16, maxBytes: 1 << 25 });
    const n = 4;
    const workers = Array.from({ length: n }, (_, i) =>
      spawn({ task: "stress", desc: heap.share(), rounds: 40, batch: 60, seed: 1234 + i }),
    );
    const results: Msg[] = [];
    await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error("stress timed out")), 30_000);
            w.on("error", reject);
            w.on("message", (m: Msg) => {
              if (m.error) reject(new Error(`${m.error}: ${m.message}`));
              else if (m.ready) w.postMessage({});
              else if (m.blocks) workers[(i + 1) % n].postMessage({ blocks: m.blocks });
              else if (m.done) {
                clearTimeout(t);
                results[i] = m;
                resolve();
              }
            });
          }),
      ),
    );
    await Promise.all(workers.map((w) => w.terminate()));
    for (const r of results) expect(r.bad).toBe(0);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
    // The heap grew while the workers ran, and every agent used the grown memory.
    expect(heap.memory.end).toBeGreaterThan(1 << 16);
  });
});

describe("a worker terminated inside the lock", () => {
  async function killAt(
    heap: SharedHeap,
    point: PausePoint,
    op: Record<string, unknown>,
  ): Promise<Msg> {
    const desc = heap.share();
    heap.armPause(point, desc.agent);
    const w = spawn({ task: "op", desc, ...op });
    const exited = new Promise<void>((resolve) =>
      w.once("exit", () => {
        heap.markDead(desc); // the supervisor's part
        resolve();
      }),
    );
    await until(() => heap.pausedAgent === desc.agent);
    expect(heap.lockOwner).toBe(desc.agent);
    await w.terminate();
    await exited;
    heap.releasePause();
    // Another worker carries on (recovering first), then the parent checks too.
    const u = spawn({ task: "use", desc: heap.share() });
    const m = await next(u);
    await u.terminate();
    return m;
  }

  for (const point of ["locked", "begun", "done", "cleared"] as const) {
    for (const op of ["alloc", "dealloc"] as const) {
      it(`${op}, killed at "${point}": another worker recovers, check() passes`, async () => {
        const heap = SharedHeap.create({ initialBytes: 1 << 16 });
        const keep = heap.alloc(100);
        const victim = heap.alloc(200);
        const before = heap.stats().liveBlocks;
        const m = await killAt(heap, point, { op, size: 300, ptr: victim });
        expect(m).toEqual({ ok: true });
        heap.check();
        expect(heap.poisoned).toBe(false);
        expect(heap.lockOwner).toBe(0);
        // Rolled forward or back: a dead dealloc is finished unless it died before writing
        // its intent ("locked"); a dead alloc leaves no block unless it died after clearing
        // its intent ("cleared": the block was its own, as if it had returned).
        const expected =
          op === "dealloc"
            ? point === "locked"
              ? before
              : before - 1
            : point === "cleared"
              ? before + 1
              : before;
        expect(heap.stats().liveBlocks).toBe(expected);
        heap.dealloc(keep);
      });
    }
  }

  it("killed after growing the memory, before publishing it: every agent sees the growth", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16, maxBytes: 1 << 22 });
    const other = SharedHeap.attach(heap.share()); // its views stop at the first 64 KiB
    const desc = heap.share();
    heap.armPause("cleared", desc.agent); // after the growth, before it is published
    const w = spawn({ task: "op", desc, op: "alloc", size: 1 << 19 });
    const exited = new Promise<void>((resolve) =>
      w.once("exit", () => {
        heap.markDead(desc.agent);
        resolve();
      }),
    );
    await until(() => heap.pausedAgent === desc.agent);
    await w.terminate();
    await exited;
    heap.releasePause();
    heap.check(); // recovers
    expect(heap.memory.end).toBeGreaterThan(1 << 19);
    // Served from the free space past the other agent's old end.
    const ps = [1 << 14, 1 << 13, 5000].map((n) => {
      const p = other.alloc(n);
      expect(p).toBeGreaterThan(0);
      other.memory.u8.fill(5, p, p + n);
      return p;
    });
    for (const p of ps) heap.dealloc(p);
    heap.check();
    other.check();
    expect(heap.stats().liveBlocks).toBe(1); // the dead agent's block: it had received it
  });

  it("killed after tearing the metadata: the heap is poisoned for every worker", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    heap.alloc(64);
    const m = await killAt(heap, "begun", { op: "alloc", size: 64, tear: true });
    expect(m.error).toBe("HeapPoisonedError");
    expect(heap.poisoned).toBe(true);
    expect(() => heap.alloc(8)).toThrow(/poisoned/);
    expect(heap.lockOwner).toBe(0);
  });

  it("the recovering worker is killed too: the next one finishes the recovery", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    const victim = heap.alloc(200);
    // First death: inside dealloc(victim), intent begun.
    const d1 = heap.share();
    heap.armPause("begun", d1.agent);
    const w1 = spawn({ task: "op", desc: d1, op: "dealloc", ptr: victim });
    await until(() => heap.pausedAgent === d1.agent);
    await w1.terminate();
    heap.markDead(d1);
    // Second death: the agent recovering it, paused inside recovery.
    const d2 = heap.share();
    heap.armPause("recovering", d2.agent);
    const w2 = spawn({ task: "op", desc: d2, op: "alloc", size: 16 });
    await until(() => heap.pausedAgent === d2.agent);
    await w2.terminate();
    heap.markDead(d2);
    heap.releasePause();
    heap.check(); // the parent recovers both
    expect(heap.stats().liveBlocks).toBe(0);
    expect(heap.lockOwner).toBe(0);
  });
});

describe("two agents at once", () => {
  it("plain form: a call while a worker is inside throws ConcurrentUseError", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16, synchronized: false });
    const p = heap.alloc(32);
    const desc = heap.share();
    heap.armPause("begun", desc.agent);
    const w = spawn({ task: "op", desc, op: "alloc", size: 48 });
    await until(() => heap.pausedAgent === desc.agent);
    expect(() => heap.alloc(8)).toThrow(ConcurrentUseError);
    expect(() => heap.dealloc(p)).toThrow(ConcurrentUseError);
    heap.releasePause();
    expect(await next(w)).toEqual({ finished: true });
    await w.terminate();
    heap.dealloc(p);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(1); // the worker's block
  });

  it("synchronized form: tryAlloc answers LOCK_BUSY, allocAsync waits its turn", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    const desc = heap.share();
    heap.armPause("done", desc.agent);
    const w = spawn({ task: "op", desc, op: "alloc", size: 48 });
    await until(() => heap.pausedAgent === desc.agent);
    expect(heap.tryAlloc(8)).toBe(LOCK_BUSY);
    const pending = heap.allocAsync(8);
    heap.releasePause();
    const p = await pending;
    expect(p).toBeGreaterThan(0);
    expect(await next(w)).toEqual({ finished: true });
    await w.terminate();
    heap.check();
    expect(heap.stats().liveBlocks).toBe(2);
  });

  it("two workers free the same block at once: exactly one succeeds, every round", async () => {
    const heap = SharedHeap.create({ initialBytes: 1 << 16 });
    const rounds = 1000;
    const sync = new SharedArrayBuffer((8 + rounds * 2) * 4);
    const ws = [true, false].map((leader) =>
      spawn({ task: "race", desc: heap.share(), rounds, leader, sync }),
    );
    const ms = await Promise.all(ws.map((w) => next(w, 30_000)));
    await Promise.all(ws.map((w) => w.terminate()));
    for (const m of ms) expect(m).toEqual({ done: true });
    const c = new Int32Array(sync);
    let bad = 0;
    for (let r = 0; r < rounds; r++) {
      const a = c[8 + r * 2];
      const b = c[8 + r * 2 + 1];
      if (!((a === 1 && b === 2) || (a === 2 && b === 1))) bad++;
    }
    expect(bad).toBe(0);
    heap.check();
    expect(heap.stats().liveBlocks).toBe(0);
  });
});

describe("growth is seen by every agent", () => {
  for (const kind of ["SharedArrayBuffer", "WebAssembly.Memory"] as const) {
    it(`${kind}: a worker grows the heap; the parent and another worker use the new bytes`, async () => {
      const heap =
        kind === "SharedArrayBuffer"
          ? SharedHeap.create({
              memory: new SharedArrayBuffer(1 << 16, { maxByteLength: 1 << 24 }),
            })
          : SharedHeap.create({
              memory: new WebAssembly.Memory({ initial: 1, maximum: 256, shared: true }),
              maximumPages: 256,
            });
      const size = 3 << 20;
      const g = spawn({ task: "grow", desc: heap.share(), size });
      const m = await next(g);
      await g.terminate();
      const ptr = m.ptr as number;
      expect(ptr).toBeGreaterThan(0);
      expect(m.end as number).toBeGreaterThan(size);
      // The parent: its views predate the growth; a call refreshes them.
      expect(heap.usableSize(ptr)).toBeGreaterThanOrEqual(size);
      const u8 = heap.memory.u8;
      const v = (ptr >>> 3) & 0xff || 1;
      expect(u8[ptr]).toBe(v);
      expect(u8[ptr + size - 1]).toBe(v);
      // Another worker allocates and checks in the grown heap.
      const u = spawn({ task: "use", desc: heap.share() });
      expect(await next(u)).toEqual({ ok: true });
      await u.terminate();
      heap.dealloc(ptr);
      heap.check();
    });
  }
});
