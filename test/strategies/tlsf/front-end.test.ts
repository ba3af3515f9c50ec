/**
 * TlsfAllocator's front end (the Heap's per-size stacks of freed small blocks), a handle
 * whose views another handle outgrew, the state words, a heap near 4 GiB, and what a second
 * handle checks before attaching.
 */

import { describe, expect, it } from "vitest";
import {
  DoubleFreeError,
  HeapIncompatibleError,
  InvalidPointerError,
  StaleViewError,
} from "../../../src/core/errors.js";
import { Heap } from "../../../src/heap/index.js";
import {
  FixedMemory,
  GrowableMemory,
  SharedMemory,
  WasmMemory,
} from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import {
  FRONT_CAPACITY,
  FRONT_LIMIT,
  FRONT_MIN_BUDGET,
} from "../../../src/strategies/tlsf/layout.js";
import { BLOCK_OVERHEAD, blockSizeFor, MIN_BLOCK } from "../../../src/strategies/tlsf/mapping.js";
import { expectUnchanged, FIRST, SW, tlsf, u32, W } from "./helpers.js";

describe("TlsfAllocator: the front end", () => {
  it("serves a freed block's size from its stack, last freed first, without merging", () => {
    const a = tlsf(1 << 16, true);
    const ps = [a.alloc(40), a.alloc(40), a.alloc(40), a.alloc(40)];
    a.alloc(8);
    a.dealloc(ps[1]);
    a.dealloc(ps[3]);
    expect(a.alloc(40)).toBe(ps[3]);
    expect(a.alloc(40)).toBe(ps[1]);
    // Other sizes of the same 8-byte class share the stack: 37 … 44 bytes are 48-byte blocks.
    a.dealloc(ps[2]);
    expect(a.alloc(44)).toBe(ps[2]);
    a.check();
  });

  it("holds only blocks whose neighbours are both used; others merge as in TLSF alone", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    const q = a.alloc(40);
    const r = a.alloc(40); // its right neighbour is the free end of the heap
    a.dealloc(r); // merged with the end
    a.dealloc(p); // held
    expect(a.stats().liveBlocks).toBe(1);
    a.dealloc(q); // its left neighbour is held (used), its right one free: merged
    a.check();
    expect(a.alloc(40)).toBe(p); // from the stack
    expect(a.alloc(100)).toBe(q); // q and the end formed one free block
  });

  it("a second free of a held block is a double free, and changes nothing", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    a.alloc(8);
    a.dealloc(p);
    expectUnchanged(a, () => a.dealloc(p), DoubleFreeError);
    expectUnchanged(a, () => a.usableSize(p), DoubleFreeError);
    expectUnchanged(a, () => a.realloc(p, 2 ** 40), DoubleFreeError);
    expectUnchanged(a, () => a.dealloc(p + 8), InvalidPointerError);
  });

  it("counts held blocks as free, not in use, and an empty heap as a fresh one", () => {
    const a = tlsf(1 << 16, true);
    const fresh = a.stats();
    const ps: number[] = [];
    for (let i = 0; i < 50; i++) ps.push(a.alloc(24 + (i % 5) * 8));
    const full = a.stats();
    for (let i = 0; i < 50; i += 2) a.dealloc(ps[i]);
    const half = a.stats();
    expect(half.liveBlocks).toBe(25);
    expect(half.inUse).toBe(
      ps.filter((_, i) => i % 2 === 1).reduce((s, p) => s + a.usableSize(p), 0),
    );
    expect(half.free).toBeGreaterThan(full.free);
    expect(half.inUse + half.free + half.overhead).toBe(half.capacity);
    expect(half.peakInUse).toBe(full.inUse);
    for (let i = 1; i < 50; i += 2) a.dealloc(ps[i]);
    const empty = a.stats();
    expect(empty.liveBlocks).toBe(0);
    expect(empty.free).toBe(fresh.free);
    expect(empty.largestFree).toBe(fresh.largestFree);
    // And the heap delivers it: the whole space in one block (the stacks are given back).
    const all = a.alloc(fresh.largestFree, 1);
    expect(all).toBe(FIRST + 4);
    a.check();
  });

  it("gives its blocks back before the heap grows, and before it would fail", () => {
    const m = new GrowableMemory(1 << 16, 1 << 22);
    const a = new TlsfAllocator(m, { frontEnd: true });
    const ps: number[] = [];
    for (let i = 0; i < 300; i++) ps.push(a.alloc(100));
    a.alloc(8);
    const end = m.end;
    for (const p of ps) a.dealloc(p); // held (up to capacity) or merged
    // 31,000 bytes fit neither the free end (30,912) nor any held block: only the blocks
    // given back and merged into one (31,200).
    const q = a.alloc(31_000);
    expect(q).toBe(ps[0]);
    expect(m.end).toBe(end);
    a.check();
  });

  it("holds at most its capacity per size and its budget in all", () => {
    const a = tlsf(1 << 22, true);
    const ps: number[] = [];
    for (let i = 0; i < 2 * FRONT_CAPACITY + 2; i++) {
      ps.push(a.alloc(40));
      a.alloc(8); // separators: every 48-byte block has used neighbours
    }
    for (const p of ps) a.dealloc(p);
    const w = u32(a);
    expect(w[SW + W.CACHED]).toBe(FRONT_CAPACITY * 48);
    a.check();
    const big: number[] = [];
    for (let i = 0; i < 600; i++) {
      big.push(a.alloc(FRONT_LIMIT - 12 - (i % 16) * 8));
      a.alloc(8);
    }
    for (const p of big) a.dealloc(p);
    expect(u32(a)[SW + W.CACHED]).toBeLessThanOrEqual(
      Math.max(FRONT_MIN_BUDGET, u32(a)[SW + W.PEAK] >>> 4),
    );
    a.check();
  });

  it("reset forgets every held block; a Heap has the front end, a TlsfAllocator not by default", () => {
    const a = tlsf(1 << 16, true);
    const p = a.alloc(40);
    a.alloc(8);
    a.dealloc(p);
    a.reset();
    expect(u32(a)[SW + W.CACHED]).toBe(0);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.check();
    const h = new Heap();
    const x = h.malloc(40);
    h.malloc(8);
    h.free(x);
    expect(h.malloc(40)).toBe(x);
    const t = tlsf();
    const y = t.alloc(40);
    t.alloc(8);
    t.dealloc(y);
    expect((u32(t)[(y - 4) >>> 2] & 1) === 1).toBe(true); // on a free list
  });

  it("a heap with a front end cannot be attached to", () => {
    const m = new FixedMemory(new ArrayBuffer(1 << 16));
    const a = new TlsfAllocator(m, { frontEnd: true });
    a.alloc(40);
    expect(() => TlsfAllocator.attach(m, a.liveMapBuffer)).toThrow(HeapIncompatibleError);
    const n = new FixedMemory(new ArrayBuffer(1 << 16));
    const b = new TlsfAllocator(n);
    const p = b.alloc(40);
    const c = TlsfAllocator.attach(n, b.liveMapBuffer);
    expect(c.usableSize(p)).toBe(44);
  });
});

describe("TlsfAllocator: a memory another handle grew", () => {
  /** Two handles on one growable SharedArrayBuffer; `b`'s memory shows growth `lag` calls late. */
  function lagging(lag: number) {
    const m1 = new SharedMemory(1 << 16, 1 << 22);
    const a = new TlsfAllocator(m1);
    const m2 = new SharedMemory(m1.buffer as SharedArrayBuffer);
    const b = TlsfAllocator.attach(m2, a.liveMapBuffer);
    const refresh = m2.refresh.bind(m2);
    let late = lag;
    (m2 as { refresh: () => boolean }).refresh = () => (late-- > 0 ? false : refresh());
    return { a, b, m2 };
  }

  it("waits until this handle's memory shows the length the heap's end needs", () => {
    // A shared WebAssembly.Memory shows other agents its new length only when they next check
    // for interrupts; the lag stands in for that.
    const { a, b, m2 } = lagging(1000);
    const p = a.alloc(1 << 20);
    b.refreshViews();
    expect(m2.end).toBeGreaterThanOrEqual(p + (1 << 20));
    expect(b.usableSize(p)).toBe(a.usableSize(p));
    b.check();
  });

  it("a handle whose view ends before the heap catches up before it reads a block", () => {
    // Another handle grew the heap; this one was not told (no refreshViews). Its calls must
    // neither read past its view (undefined as a block) nor poison the heap.
    for (const call of ["alloc", "allocAligned", "dealloc", "usableSize", "check"]) {
      const { a, b } = lagging(10);
      const keep = a.alloc(100);
      const big = a.alloc(1 << 20); // grows the memory
      a.dealloc(big);
      if (call === "alloc") expect(b.alloc(1 << 19)).toBeGreaterThan(big - 8);
      else if (call === "allocAligned") expect(b.alloc(1 << 19, 64) % 64).toBe(0);
      else if (call === "dealloc") b.dealloc(keep);
      else if (call === "usableSize") expect(b.usableSize(keep)).toBe(a.usableSize(keep));
      else b.check();
      expect(b.poisoned).toBe(false);
      a.check();
      b.check();
    }
  });

  it("gives up with StaleViewError (nothing changed) when the memory never shows it", () => {
    const { a, b } = lagging(Number.POSITIVE_INFINITY);
    a.alloc(1 << 20);
    const before = Buffer.from(a.metadataBytes()).toString("base64");
    expect(() => b.refreshViews()).toThrow(StaleViewError);
    expect(Buffer.from(a.metadataBytes()).toString("base64")).toBe(before);
    a.check();
  });
});

describe("TlsfAllocator: state words", () => {
  it("are uint32: heap offsets and counters past 2^31 read back exact", () => {
    const a = tlsf();
    const w = u32(a);
    expect(w[SW + W.END]).toBe(1 << 16);
    const p = a.alloc(100);
    expect(w[SW + W.USED_COUNT]).toBe(1);
    expect(w[SW + W.USED_BYTES]).toBe(104);
    expect(w[SW + W.PEAK] - w[SW + W.SLACK]).toBe(100);
    a.dealloc(p);
    expect(w[SW + W.SLACK]).toBe(100);
    expect(w[SW + W.PEAK]).toBe(100);
  });
});

describe("TlsfAllocator: a heap near 4 GiB", () => {
  it("keeps block sizes of 2 GiB and more exact", () => {
    let mem: WebAssembly.Memory;
    try {
      mem = new WebAssembly.Memory({ initial: 40_000, maximum: 65_536 });
    } catch {
      return; // the engine cannot reserve 2.5 GiB here
    }
    const a = new TlsfAllocator(new WasmMemory(mem, 0, 65_536));
    const p = a.alloc(2 ** 31 + 4096);
    expect(p).not.toBe(0);
    expect(a.usableSize(p)).toBe(blockSizeFor(2 ** 31 + 4096) - 4);
    const q = a.alloc(100);
    a.dealloc(p);
    const r = a.alloc(2 ** 31);
    expect(r).toBe(p);
    a.dealloc(q);
    a.dealloc(r);
    a.check();
  });
});

describe("TlsfAllocator.attach: what a second handle checks before using a heap", () => {
  /** A heap with a few blocks; `attachTo` attaches to a copy of its bytes, damaged by `damage`. */
  function heapAndCopies(capacity = 1 << 16) {
    const buf = new ArrayBuffer(capacity);
    const a = new TlsfAllocator(new FixedMemory(buf));
    a.alloc(100);
    a.dealloc(a.alloc(300));
    a.alloc(40);
    const attachTo = (
      damage: (u32: Uint32Array, f64: Float64Array) => void,
      ...map: unknown[] // the live map to give (default: the heap's)
    ) => {
      const liveMap = map.length > 0 ? map[0] : a.liveMapBuffer;
      const copy = buf.slice(0);
      damage(new Uint32Array(copy), new Float64Array(copy));
      const bytes = new Uint8Array(copy).slice();
      let e: unknown;
      let h: TlsfAllocator | undefined;
      try {
        h = TlsfAllocator.attach(new FixedMemory(copy), liveMap as ArrayBuffer);
      } catch (x) {
        e = x;
      }
      // Attaching only reads.
      expect(Buffer.compare(new Uint8Array(copy), bytes)).toBe(0);
      return { e, h };
    };
    return { a, attachTo };
  }

  function refused(r: { e: unknown }, what: RegExp) {
    expect(r.e).toBeInstanceOf(HeapIncompatibleError);
    expect((r.e as Error).message).toMatch(/^TlsfAllocator: cannot attach: /);
    expect((r.e as Error).message).toMatch(what);
  }

  it("an intact heap attaches, and the second handle sees its blocks", () => {
    const { a, attachTo } = heapAndCopies();
    const { e, h } = attachTo(() => {});
    expect(e).toBeUndefined();
    expect(h?.stats()).toEqual(a.stats());
    h?.check();
  });

  it("refuses a configuration, metadata size or data start other than its own", () => {
    const { attachTo } = heapAndCopies();
    refused(
      attachTo((_, f) => {
        f[6] = 4;
      }),
      /config word/,
    ); // H_CONFIG: SL_LOG2 is 5
    refused(
      attachTo((_, f) => {
        f[4] += 8;
      }),
      /metadata size/,
    ); // H_META_BYTES
    refused(
      attachTo((_, f) => {
        f[5] += 8;
      }),
      /data start/,
    ); // H_DATA_START
  });

  it("refuses a heap end that is unaligned, before room for a block, or past the memory", () => {
    const { attachTo } = heapAndCopies();
    const end = 1 << 16;
    refused(
      attachTo((u) => {
        u[SW + W.END] = end - 4;
      }),
      /heap end 65532 does not fit memory \[0, 65536\)/,
    );
    refused(
      attachTo((u) => {
        u[SW + W.END] = end + 8;
      }),
      /heap end 65544/,
    );
    const minEnd = FIRST + MIN_BLOCK + BLOCK_OVERHEAD;
    refused(
      attachTo((u) => {
        u[SW + W.END] = minEnd - 8;
      }),
      /heap end/,
    );
    // The smallest heap end that holds a block and the sentinel is a heap end.
    const counters = (u: Uint32Array) => {
      for (const w of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.PEAK, W.CLEAN_FROM]) u[SW + w] = 0;
    };
    expect(
      attachTo((u) => {
        counters(u);
        u[SW + W.END] = minEnd;
      }).e,
    ).toBeUndefined();
  });

  it("refuses counters past the heap's end", () => {
    const { attachTo } = heapAndCopies();
    for (const w of [W.USED_COUNT, W.USED_BYTES, W.SLACK, W.PEAK, W.CLEAN_FROM]) {
      refused(
        attachTo((u) => {
          u[SW + w] = (1 << 16) + 1;
        }),
        new RegExp(`state word ${w} holds 65537`),
      );
      // Up to the end is plausible.
      expect(
        attachTo((u) => {
          u[SW + w] = 1 << 16;
        }).e,
      ).toBeUndefined();
    }
  });

  it("refuses a heap with a front end's bytes or budget", () => {
    const { attachTo } = heapAndCopies();
    refused(
      attachTo((u) => {
        u[SW + W.CACHED] = 16;
      }),
      /has a front end/,
    );
    refused(
      attachTo((u) => {
        u[SW + W.BUDGET] = 16;
      }),
      /has a front end/,
    );
  });

  it("needs a live map: a buffer, shared for a shared heap, large enough for the heap", () => {
    const { a, attachTo } = heapAndCopies();
    const none = () => {};
    refused(attachTo(none, undefined), /no live map given/);
    refused(
      attachTo(none, new Uint8Array(a.liveMapBuffer.byteLength)),
      /not an ArrayBuffer or SharedArrayBuffer/,
    );
    const need = a.liveMapBuffer.byteLength;
    refused(
      attachTo(none, new ArrayBuffer(need - 8)),
      new RegExp(`the live map has ${need - 8} bytes, the heap needs ${need}`),
    );
    // A shared live map serves an unshared heap; a shared heap needs a shared map.
    const sab = new SharedArrayBuffer(need);
    new Uint8Array(sab).set(new Uint8Array(a.liveMapBuffer));
    expect(attachTo(none, sab).e).toBeUndefined();
    const m1 = new SharedMemory(1 << 16, 1 << 20);
    const s = new TlsfAllocator(m1);
    const m2 = new SharedMemory(m1.buffer as SharedArrayBuffer);
    expect(() => TlsfAllocator.attach(m2, new ArrayBuffer(s.liveMapBuffer.byteLength))).toThrow(
      /a shared heap's live map must be a SharedArrayBuffer/,
    );
    expect(TlsfAllocator.attach(m2, s.liveMapBuffer).stats()).toEqual(s.stats());
  });
});
