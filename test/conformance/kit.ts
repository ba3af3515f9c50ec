/**
 * The conformance kit: one model-based property suite run for every strategy on every memory
 * kind it supports (DESIGN.md principle 3, STYLE.md habit 7, RELIABILITY.md §3.1 layer 5).
 *
 * fast-check generates programs of commands (commands.ts: alloc, allocZeroed, dealloc,
 * realloc, reset, allocations until the memory grows; misuse.ts: misuse from RELIABILITY.md
 * §2.2 A–D, dealloc with a NaN size, pointers at the region's end) and runs them against the
 * allocator and a model (model.ts: the list of live blocks). After every command:
 * - `check()` passes, and the paint of every live block is intact (each block is filled with
 *   a pattern derived from the id of the command that made it);
 * - live blocks are aligned, inside the region and pairwise disjoint;
 * - `stats()` agrees with the model (live blocks, bytes in use, conservation), and
 *   `peakInUse` is at least `inUse` and never lower than at the previous check, except
 *   across a reset().
 * After every rejected command, every byte of the memory and of the metadata, and `stats()`,
 * are exactly as before. At the end everything is freed and the whole capacity is available
 * again, as on a fresh allocator, except after a corruption: one program in eight ends with
 * one (corruption.ts: a damaged header byte, or a write past a live block into the words the
 * strategy's `afterBlock` capability declares), which must poison the heap or, where no
 * in-band word was hit, leave it working. Where the strategy grows a memory kind at all, at least a
 * tenth of the programs must have grown it. Each property is bounded in time (BOUND_MS): a
 * loop that never ends fails its test, naming the program it was running.
 *
 * Runs: MEMKIT_RUNS (default 1,000) with the fixed seed, and the same with one random seed
 * that is printed so a failure can be replayed (MEMKIT_SEED=... to pin it).
 */

import vm from "node:vm";
import fc from "fast-check";
import { describe, it } from "vitest";
import {
  AllocCmd,
  type Cmd,
  DeallocCmd,
  GROW_BLOCKS,
  GrowCmd,
  ReallocCmd,
  ResetCmd,
} from "./commands.js";
import { corruptionFor } from "./corruption.js";
import {
  BAD_ALIGNS,
  BAD_DEALLOC_SIZES,
  BAD_SIZES,
  BadAlignCmd,
  BadPointerCmd,
  BadSizeCmd,
  DeallocBadSizeCmd,
  DoubleFreeCmd,
  HUGE_SIZES,
  HugeSizeCmd,
  NotTopCmd,
  type PointerKind,
  ReallocZeroCmd,
  SizeMismatchCmd,
} from "./misuse.js";
import { type Block, claim, freeBlock, type Model, Real, verifyAll, verifyPaint } from "./model.js";
import type { KitMemoryKind, Subject } from "./subject.js";

export const FIXED_SEED = 20261121;
const RUNS = Number(process.env.MEMKIT_RUNS ?? 1000);
const MAX_COMMANDS = Number(process.env.MEMKIT_COMMANDS ?? 40);

function commandsFor(s: Subject): fc.Arbitrary<Iterable<Cmd>> {
  const { min, max } = s.sizes;
  const size = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min, max: Math.min(max, Math.max(min, 256)) }) },
    { weight: 2, arbitrary: fc.integer({ min, max }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
  );
  const align = fc
    .integer({ min: 0, max: Math.log2(s.maxAlign) })
    .map((k) => 2 ** k)
    .chain((a) => fc.constantFrom(a, 8, 8));
  const index = fc.nat({ max: 1000 });
  // GrowCmd's sizes: large enough that GROW_BLOCKS of them outgrow the kit's memories.
  const growMax = Math.min(max, 4096);
  const growMin = Math.min(growMax, Math.max(min, 1024));
  const cmds: fc.Arbitrary<Cmd>[] = [
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    fc.tuple(size, align, fc.boolean()).map(([n, a, z]) => new AllocCmd(n, a, z)),
    index.map((i) => new DeallocCmd(i)),
    index.map((i) => new DeallocCmd(i)),
    fc
      .tuple(index, fc.integer({ min: Math.max(min, 1), max }), align)
      .map(([i, n, a]) => new ReallocCmd(i, n, a)),
    fc
      .tuple(
        fc.constantFrom(...BAD_SIZES),
        fc.constantFrom("alloc" as const, "allocZeroed" as const),
      )
      .map(([v, via]) => new BadSizeCmd(v, via)),
    fc.constantFrom(...HUGE_SIZES).map((v) => new HugeSizeCmd(v)),
    fc.constantFrom(...BAD_ALIGNS).map((v) => new BadAlignCmd(v)),
    fc
      .tuple(
        fc.constantFrom<PointerKind>(
          "negative",
          "fraction",
          "nan",
          "string",
          "bigint",
          "beyondEnd",
          "atEnd",
          "lastGranule",
          "over32",
          "interior",
          "misaligned",
          "header",
        ),
        fc.constantFrom("dealloc" as const, "realloc" as const, "usableSize" as const),
        index,
      )
      .map(([k, via, i]) => new BadPointerCmd(k, via, i)),
    fc
      .tuple(fc.integer({ min: growMin, max: growMax }), fc.boolean())
      .map(([n, z]) => new GrowCmd(n, z)),
    fc
      .tuple(index, fc.constantFrom(...BAD_DEALLOC_SIZES))
      .map(([i, v]) => new DeallocBadSizeCmd(i, v)),
    index.map((i) => new ReallocZeroCmd(i)),
    index.map((i) => new SizeMismatchCmd(i)),
  ];
  if (s.hasReset) cmds.push(fc.constant(new ResetCmd()));
  if (s.detectsDoubleFree && s.freeOrder === "any") {
    cmds.push(
      fc
        .tuple(index, fc.constantFrom("dealloc" as const, "realloc" as const))
        .map(([i, via]) => new DoubleFreeCmd(i, via)),
    );
  }
  if (s.freeOrder === "lifo") cmds.push(index.map((i) => new NotTopCmd(i)));
  return fc.commands(cmds, { maxCommands: MAX_COMMANDS });
}

/** Frees everything the model holds, in an order the strategy accepts, and checks the end. */
function freeEverything(m: Model, r: Real): void {
  const s = r.subject;
  if (s.freeOrder === "none") {
    for (const b of m.live) verifyPaint(r, b);
    r.a.reset();
    m.live = [];
    m.peak = 0;
  } else {
    while (m.live.length > 0) {
      const b = m.live.pop()!;
      freeBlock(r, b);
    }
  }
  verifyAll(m, r);
  const st = r.a.stats();
  claim(st.liveBlocks === 0, "liveBlocks after freeing everything", st.liveBlocks, 0);
  claim(st.inUse === 0, "inUse after freeing everything", st.inUse, 0);
  if (!s.reclaimsAll) return;
  const { free, largestFree } = r.fresh;
  if (st.capacity !== r.fresh.capacity) {
    // The memory grew: at least as much free space, in pieces at least as large.
    claim(st.free >= free, "free ≥ a fresh allocator's", st.free, free);
    claim(
      st.largestFree >= largestFree,
      "largestFree ≥ a fresh one's",
      st.largestFree,
      largestFree,
    );
  } else {
    claim(st.free === free, "free = a fresh allocator's", st.free, free);
    claim(
      st.largestFree === largestFree,
      "largestFree = a fresh one's",
      st.largestFree,
      largestFree,
    );
  }
  // The whole capacity can be allocated again: greedily, in the largest pieces on offer.
  const taken: Block[] = [];
  let got = 0;
  for (let guard = 0; guard < 100_000; guard++) {
    const n = r.a.stats().largestFree;
    if (n === 0) break;
    const p = r.a.alloc(n, 1);
    if (p === 0) throw new Error(`alloc(largestFree = ${n}, 1) failed after freeing everything`);
    got += n;
    taken.push({ id: -1, ptr: p, size: n });
  }
  claim(got >= st.largestFree, "bytes allocated again ≥ largestFree", got, st.largestFree);
  if (s.hasReset) r.a.reset();
  else {
    for (let t = taken.pop(); t !== undefined; t = taken.pop()) {
      r.a.dealloc(t.ptr, s.deallocNeedsSize ? t.size : undefined);
    }
  }
  r.a.check();
}

/**
 * The longest one property may run: a loop that never ends in an allocator fails its test
 * with the program it was running, instead of hanging the test run (vitest's timeout cannot
 * stop synchronous code; vm's watchdog interrupts it).
 */
const BOUND_MS = Number(process.env.MEMKIT_KIT_BOUND_MS ?? 110_000);
const boundedScript = new vm.Script("globalThis.__memkitBounded()");

/** Runs `fn`, throwing `what()`'s story if it has not returned after `ms`. */
export function bounded(ms: number, what: () => string, fn: () => void): void {
  const g = globalThis as { __memkitBounded?: () => void };
  g.__memkitBounded = fn;
  try {
    boundedScript.runInThisContext({ timeout: ms });
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw e;
    throw new Error(`no answer within ${ms} ms (a loop that never ends?): ${what()}`);
  } finally {
    g.__memkitBounded = undefined;
  }
}

/** Whether `subject` grows a `kind` memory when GrowCmd's largest request is repeated. */
function growsOn(subject: Subject, kind: KitMemoryKind): boolean {
  const real = new Real(subject, kind);
  const end = real.mem.end;
  const size = Math.min(subject.sizes.max, 4096);
  for (let i = 0; i < GROW_BLOCKS && real.mem.end === end; i++) {
    if (real.a.alloc(size, 8) === 0) break;
  }
  return real.mem.end !== end;
}

/** Registers the conformance properties of `subject` with vitest. */
export function runConformance(subject: Subject): void {
  const randomSeed = Number(
    process.env.MEMKIT_SEED ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0,
  );
  describe(`conformance: ${subject.name}`, () => {
    for (const kind of subject.kinds) {
      let running: Iterable<Cmd> = [];
      const runs = { all: 0, grown: 0 };
      const probe = new Real(subject, kind);
      const corruption = corruptionFor(probe.bytes, probe.a);
      const property = fc.property(commandsFor(subject), corruption, (cmds, last) => {
        running = cmds;
        const real = new Real(subject, kind);
        const end = real.mem.end;
        const model: Model = { live: [], nextId: 1, peak: 0 };
        verifyAll(model, real);
        fc.modelRun(() => ({ model, real }), cmds);
        runs.all++;
        if (real.mem.end !== end) runs.grown++;
        // A corruption ends the program: poisoned, or (no in-band words hit) still working.
        if (last?.check(model) && last.corrupt(model, real) === "poisoned") return;
        freeEverything(model, real);
      });
      const numRuns = Math.min(subject.runs ?? RUNS, RUNS);
      const assertBounded = (seed: number) => {
        runs.all = 0;
        runs.grown = 0;
        bounded(
          BOUND_MS,
          () => `conformance ${subject.name} on ${kind}, seed ${seed}, program ${String(running)}`,
          () => fc.assert(property, { numRuns, seed }),
        );
        // Growth is part of most programs wherever the strategy grows its memory at all.
        if (runs.grown < runs.all / 10 && growsOn(subject, kind)) {
          throw new Error(
            `the memory grew in only ${runs.grown} of ${runs.all} runs of ${subject.name} on ${kind}`,
          );
        }
      };
      it(`${kind} memory, fixed seed ${FIXED_SEED}`, () => {
        assertBounded(FIXED_SEED);
      });
      it(`${kind} memory, random seed`, () => {
        console.log(`conformance ${subject.name} on ${kind}: random seed ${randomSeed}`);
        assertBounded(randomSeed);
      });
    }
  });
}
