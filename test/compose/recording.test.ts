import { describe, expect, it } from "vitest";
import { RecordingAllocator } from "../../src/compose/recording.js";
import type { Allocator } from "../../src/core/allocator.js";
import { InvalidPointerError } from "../../src/core/errors.js";
import { Layout } from "../../src/core/layout.js";
import { FixedMemory } from "../../src/memory/memory.js";
import { FreeListAllocator } from "../../src/strategies/free-list/index.js";
import { TlsfAllocator } from "../../src/strategies/tlsf/index.js";
import { replay } from "../../src/trace/replay.js";
import { OP_ALLOC, parseTrace, type Trace } from "../../src/trace/trace.js";

const tlsf = (bytes: number): TlsfAllocator =>
  new TlsfAllocator(new FixedMemory(new ArrayBuffer(bytes)));

/** The op lines of a trace text (no comments). */
const opLines = (text: string): string[] =>
  text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

/** Wraps an allocator and logs every pointer alloc/allocZeroed/realloc returns. */
function logging(inner: Allocator, log: number[]): Allocator {
  return new Proxy(inner, {
    get(target, key) {
      const v = Reflect.get(target, key, target);
      if (typeof v !== "function") return v;
      if (key === "alloc" || key === "allocZeroed" || key === "realloc") {
        return (...args: number[]) => {
          const p = (v as (...a: number[]) => number).apply(target, args);
          if (p !== 0) log.push(p);
          return p;
        };
      }
      return v.bind(target);
    },
  });
}

/**
 * A random program over `a`: allocations of many sizes and alignments, zeroed ones,
 * reallocs (with 16, the alignment an `r` line replays with), frees, and allocations too
 * large for the heap (which fail).
 */
function runProgram(a: Allocator, steps: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  const rand = (n: number): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const live: number[] = [];
  const got: number[] = [];
  for (let i = 0; i < steps; i++) {
    const r = rand(100);
    let p = 0;
    if (r < 35 || live.length === 0) {
      p = a.alloc(rand(10) === 0 ? 0 : 1 + rand(2000));
    } else if (r < 45) {
      p = a.allocZeroed(1 + rand(600), 16);
    } else if (r < 50) {
      p = a.alloc(1 + rand(300), rand(2) === 0 ? 64 : 256);
    } else if (r < 52) {
      p = a.alloc(300_000); // larger than the heap: fails, is not recorded
    } else if (r < 62) {
      const j = rand(live.length);
      const q = a.realloc(live[j], 1 + rand(4000), 16);
      if (q !== 0) {
        live[j] = q;
        got.push(q);
      }
      continue;
    } else if (r < 64) {
      p = a.realloc(0, 1 + rand(100), 16);
    } else {
      const j = rand(live.length);
      a.dealloc(live[j]);
      live[j] = live[live.length - 1];
      live.pop();
      continue;
    }
    if (p !== 0) {
      live.push(p);
      got.push(p);
    }
  }
  return got;
}

function columns(t: Trace): unknown {
  return {
    count: t.count,
    op: Array.from(t.op),
    id: Array.from(t.id),
    size: Array.from(t.size),
    align: Array.from(t.align),
    zeroed: Array.from(t.zeroed),
    idCount: t.idCount,
    comments: t.comments,
  };
}

describe("RecordingAllocator", () => {
  it("a recorded program replays on an identical fresh allocator to the same blocks", () => {
    const rec = new RecordingAllocator(tlsf(256 * 1024), { description: "random program" });
    const programPtrs = runProgram(rec, 4000, 12345);
    expect(rec.failedAllocations).toBeGreaterThan(0); // the program did meet failures
    const trace = rec.trace("program");
    expect(trace.count).toBeGreaterThan(3000);

    const replayPtrs: number[] = [];
    const again = new RecordingAllocator(logging(tlsf(256 * 1024), replayPtrs));
    const r = replay(trace, again, { freeAtEnd: false });
    expect(r.failures).toBe(0);
    // Same pointers, in the same order, for every allocation and resize …
    expect(replayPtrs).toEqual(programPtrs);
    // … and recording the replay gives back the same operations, IDs included.
    expect(opLines(again.toText())).toEqual(opLines(rec.toText()));
  });

  it("the recorded text parses to exactly trace(), and replays verified on another strategy", () => {
    const rec = new RecordingAllocator(tlsf(256 * 1024), { program: "test" });
    runProgram(rec, 3000, 777);
    const text = rec.toText();
    const lines = text.split("\n");
    expect(lines[0]).toBe("# trace recorded by memkit's RecordingAllocator(TlsfAllocator)");
    expect(lines[1]).toBe("# program test");
    expect(lines[2]).toBe("# format: a ID SIZE ALIGN [z] | f ID | r ID SIZE");
    expect(lines.slice(-6)).toEqual([
      "# unknown-frees 0",
      "# unknown-reallocs 0",
      "# threads 1",
      `# failed-allocations ${rec.failedAllocations}`,
      "# end",
      "",
    ]);
    expect(columns(parseTrace(text, "recorded"))).toEqual(columns(rec.trace()));

    const other = new FreeListAllocator(new FixedMemory(new ArrayBuffer(1 << 20)));
    const r = replay(parseTrace(text), other, { verify: true, checkEvery: 500 });
    expect(r.failures).toBe(0);
    expect(other.stats().liveBlocks).toBe(0);
  });

  it("IDs are dense: the next allocation takes the most recently freed ID", () => {
    const rec = new RecordingAllocator(tlsf(64 * 1024));
    const a = rec.alloc(10);
    const b = rec.alloc(20);
    const c = rec.alloc(30);
    rec.dealloc(b);
    const d = rec.alloc(40); // takes b's ID 1
    rec.dealloc(a);
    rec.dealloc(c);
    const e = rec.alloc(50); // c's ID 2 (freed last)
    const f = rec.alloc(60); // then a's ID 0
    rec.alloc(70); // a new ID 3
    expect(opLines(rec.toText())).toEqual([
      "a 0 10 8",
      "a 1 20 8",
      "a 2 30 8",
      "f 1",
      "a 1 40 8",
      "f 0",
      "f 2",
      "a 2 50 8",
      "a 0 60 8",
      "a 3 70 8",
    ]);
    expect([d, e, f].every((p) => p !== 0)).toBe(true);
    const t = rec.trace();
    expect(t.idCount).toBe(4); // the peak number of live blocks
  });

  it("writes sizes and alignments as asked, z for zeroed, r for resizes and a for realloc(0, n)", () => {
    const rec = new RecordingAllocator(tlsf(64 * 1024));
    const p = rec.allocZeroed(100, 32);
    const q = rec.realloc(p, 5000);
    const s = rec.realloc(0, 7, 16);
    const l = rec.allocate(Layout.of(24, 64))!;
    rec.deallocate(l.ptr, Layout.of(24, 64));
    rec.dealloc(q);
    rec.dealloc(s);
    rec.dealloc(0); // free(NULL): not written
    expect(opLines(rec.toText())).toEqual([
      "a 0 100 32 z",
      "r 0 5000",
      "a 1 7 16",
      "a 2 24 64",
      "f 2",
      "f 0",
      "f 1",
    ]);
  });

  it("records nothing for calls that failed or threw, and counts the failures", () => {
    const rec = new RecordingAllocator(tlsf(64 * 1024));
    const p = rec.alloc(100);
    expect(rec.alloc(1 << 20)).toBe(0);
    expect(rec.alloc(2 ** 32)).toBe(0);
    expect(rec.realloc(p, 1 << 20)).toBe(0);
    expect(() => rec.alloc(-1)).toThrow(RangeError);
    expect(() => rec.dealloc(p + 8)).toThrow(InvalidPointerError);
    expect(() => rec.allocOrThrow(1 << 20)).toThrow(/out of memory/);
    rec.dealloc(p);
    expect(() => rec.dealloc(p)).toThrow(); // double free: the inner allocator refuses it
    expect(opLines(rec.toText())).toEqual(["a 0 100 8", "f 0"]);
    expect(rec.failedAllocations).toBe(4);
    expect(rec.toText()).toContain("# failed-allocations 4\n");
  });

  it("counts frees and reallocs of blocks allocated before recording began", () => {
    const inner = tlsf(64 * 1024);
    const early1 = inner.alloc(16);
    const early2 = inner.alloc(16);
    const rec = new RecordingAllocator(inner);
    rec.dealloc(early1);
    const moved = rec.realloc(early2, 4000);
    rec.dealloc(moved);
    expect(opLines(rec.toText())).toEqual(["a 0 4000 8", "f 0"]);
    expect(rec.unknownFrees).toBe(1);
    expect(rec.unknownReallocs).toBe(1);
    expect(rec.toText()).toContain("# unknown-frees 1\n# unknown-reallocs 1\n");
  });

  it("reset() is written as a free of every live block", () => {
    const rec = new RecordingAllocator(tlsf(64 * 1024));
    rec.alloc(8);
    const b = rec.alloc(8);
    rec.alloc(8);
    rec.dealloc(b);
    rec.reset();
    expect(rec.liveCount).toBe(0);
    expect(opLines(rec.toText())).toEqual(["a 0 8 8", "a 1 8 8", "a 2 8 8", "f 1", "f 0", "f 2"]);
    // The trace is consistent: it parses, and every block is freed.
    const t = parseTrace(rec.toText());
    expect(t.count).toBe(6);
    rec.alloc(8); // the most recently freed ID again
    expect(rec.trace().id[6]).toBe(2);
    expect(rec.trace().op[6]).toBe(OP_ALLOC);
  });

  it("passes everything else through to the wrapped allocator", () => {
    const inner = tlsf(64 * 1024);
    const rec = new RecordingAllocator(inner);
    const p = rec.alloc(100);
    expect(rec.memory).toBe(inner.memory);
    expect(rec.usableSize(p)).toBe(inner.usableSize(p));
    expect(rec.owns(p)).toBe(true);
    expect(rec.stats()).toEqual(inner.stats());
    expect(() => rec.check()).not.toThrow();
    expect(() => rec.allocate(8 as unknown as Layout)).toThrow(TypeError);
  });
});
