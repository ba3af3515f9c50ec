/**
 * SharedHeap in one thread: several handles on one heap are several agents, so attach
 * validation, the lock protocol, the plain form's detection, markDead recovery, poisoning
 * and growth seen by another handle can be driven deterministically here. The worker tests
 * (workers.test.ts) do the same across real threads.
 */

import { describe, expect, it } from "vitest";
import {
  ArgumentTypeError,
  ConcurrentUseError,
  DoubleFreeError,
  HeapIncompatibleError,
  HeapPoisonedError,
} from "../../src/core/errors.js";
import {
  C_LOCK,
  C_MAGIC,
  C_VERSION,
  S_ARG0,
  S_OP,
  S_PHASE,
  slotWord,
} from "../../src/shared/control.js";
import { TLSF_SHARED } from "../../src/shared/inner.js";
import { OWNER_DIED } from "../../src/shared/lock.js";
import {
  LOCK_BUSY,
  LockTimeoutError,
  SharedHeap,
  type SharedHeapDescriptor,
} from "../../src/shared/shared-heap.js";

/** Byte-equality of two snapshots (toEqual on big typed arrays is slow). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function bytes(d: SharedHeapDescriptor): Uint8Array[] {
  const mem = d.memory instanceof SharedArrayBuffer ? d.memory : d.memory.buffer;
  return [mem, d.liveMap, d.control].map((b) => new Uint8Array(b as ArrayBufferLike).slice());
}

describe("attach", () => {
  it("a second handle sees the first one's blocks and frees them", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16 });
    const b = SharedHeap.attach(a.share());
    expect(b.agentId).toBe(2);
    const p = a.alloc(100);
    expect(b.usableSize(p)).toBeGreaterThanOrEqual(100);
    b.dealloc(p);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.check();
    b.check();
  });

  it("rejects garbage and every altered field with HeapIncompatibleError, bytes unchanged", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16 });
    a.alloc(64);
    const d = a.share();
    const before = bytes(d);
    const cases: Array<(d: SharedHeapDescriptor) => unknown> = [
      () => null,
      () => ({}),
      (d) => ({ ...d, type: "other" }),
      (d) => ({ ...d, version: 2 * 65536 }),
      (d) => ({ ...d, control: new SharedArrayBuffer(d.control.byteLength) }),
      (d) => ({ ...d, control: new ArrayBuffer(8) }),
      (d) => ({ ...d, agent: 0 }),
      (d) => ({ ...d, agent: 1.5 }),
      (d) => ({ ...d, agent: 1 }), // alive, not reserved
      (d) => ({ ...d, start: -1 }),
      (d) => ({ ...d, memory: new ArrayBuffer(1 << 16) }),
      (d) => ({ ...d, memory: new SharedArrayBuffer(1 << 16) }), // zeros: no heap
      (d) => ({ ...d, memory: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) }),
      (d) => ({ ...d, liveMap: new SharedArrayBuffer(8) }),
      (d) => ({ ...d, liveMap: undefined }),
    ];
    for (const make of cases) {
      expect(() => SharedHeap.attach(make(d) as SharedHeapDescriptor)).toThrow(
        HeapIncompatibleError,
      );
    }
    // Each header word altered, one at a time, on a copy of the control and the memory.
    const c = new Int32Array(d.control);
    // magic, major version, agent count in the config, byte order mark.
    for (const [word, flip] of [
      [C_MAGIC, 1],
      [C_VERSION, 0x20000],
      [2, 1],
      [10, 0x01000000],
    ]) {
      const copy = new SharedArrayBuffer(d.control.byteLength);
      new Uint8Array(copy).set(new Uint8Array(d.control));
      new Int32Array(copy)[word] ^= flip;
      expect(() => SharedHeap.attach({ ...d, control: copy })).toThrow(HeapIncompatibleError);
      expect(c[word]).not.toBe(new Int32Array(copy)[word]);
    }
    const mem = (d.memory as WebAssembly.Memory).buffer as unknown as SharedArrayBuffer;
    // The common header's float64 slots (not state or reserved), then TLSF's uint32 state
    // words after them (u32 index 16 on): END, the counters, CACHED and BUDGET (a handle
    // with a front end cannot be attached to).
    const alter: [string, (copy: SharedArrayBuffer) => void][] = [];
    for (const slot of [0, 1, 2, 4, 5, 6]) {
      alter.push([
        `slot ${slot}`,
        (copy) => {
          new Float64Array(copy)[slot] += slot === 1 ? 65536 : 0.5;
        },
      ]);
    }
    const end = new Uint32Array(mem)[16];
    for (const [word, value] of [
      [16, end + (1 << 20)],
      [17, end + 8],
      [18, end + 8],
      [19, end + 8],
      [20, end + 8],
      [21, end + 8],
      [22, 16],
      [23, 65536],
    ]) {
      alter.push([
        `word ${word}`,
        (copy) => {
          new Uint32Array(copy)[word] = value;
        },
      ]);
    }
    for (const [what, change] of alter) {
      const copy = new SharedArrayBuffer(mem.byteLength, { maxByteLength: mem.byteLength });
      new Uint8Array(copy).set(new Uint8Array(mem));
      change(copy);
      const snap = new Uint8Array(copy).slice();
      expect(() => SharedHeap.attach({ ...d, memory: copy }), what).toThrow(HeapIncompatibleError);
      expect(same(new Uint8Array(copy), snap)).toBe(true);
    }
    const after = bytes(d);
    for (let i = 0; i < before.length; i++) expect(same(after[i], before[i])).toBe(true);
    // The descriptor is still good.
    SharedHeap.attach(d).check();
  });
});

describe("synchronized form", () => {
  it("never-blocking and bounded-wait paths when another agent holds the lock", async () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16, lockTimeoutMs: 30 });
    const b = SharedHeap.attach(a.share(), { lockTimeoutMs: 30 });
    const c = new Int32Array(a.share().control);
    Atomics.store(c, C_LOCK, b.agentId); // b is "inside a call"
    const snap = new Uint8Array(a.memory.buffer).slice();
    expect(a.tryAlloc(8)).toBe(LOCK_BUSY);
    expect(a.tryDealloc(8)).toBe(false);
    expect(() => a.alloc(8)).toThrow(LockTimeoutError);
    expect(same(new Uint8Array(a.memory.buffer), snap)).toBe(true);
    const pending = a.allocAsync(24);
    setTimeout(() => {
      Atomics.store(c, C_LOCK, 0);
      Atomics.notify(c, C_LOCK);
    }, 5);
    const p = await pending;
    expect(p).toBeGreaterThan(0);
    await a.deallocAsync(p);
    expect(a.lockOwner).toBe(0);
    a.check();
  });

  it("markDead with a descriptor never hits a later agent given the same id (issue 13)", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16 });
    const d1 = a.share();
    const b = SharedHeap.attach(d1);
    b.alloc(16);
    b.close(); // the slot is free again …
    const d2 = a.share(); // … and handed to the next agent
    expect(d2.agent).toBe(d1.agent);
    expect(d2.generation).toBe(d1.generation + 1);
    // A descriptor already used, or of another generation, attaches nothing.
    expect(() => SharedHeap.attach(d1)).toThrow(HeapIncompatibleError);
    const c = SharedHeap.attach(d2);
    // The first worker's 'exit' arrives late: its descriptor no longer names the slot.
    expect(a.markDead(d1)).toBe(false);
    expect(a.markDead(d1.agent, d1.generation)).toBe(false);
    a.dealloc(a.alloc(8)); // any call recovers agents marked dead: none is
    const d3 = a.share();
    expect(d3.agent).not.toBe(d1.agent); // the slot is still the second agent's
    const p = c.alloc(64);
    expect(p).not.toBe(0);
    c.dealloc(p);
    a.check();
    expect(a.poisoned).toBe(false);
    // The second one's own descriptor marks it.
    expect(a.markDead(d2)).toBe(false); // it held no lock
    a.dealloc(a.alloc(8)); // recovery frees its slot
    expect(a.share().agent).toBe(d1.agent);
    expect(() => a.markDead(d2.agent, -1)).toThrow(ArgumentTypeError);
  });

  it("markDead on a lock holder: the next caller recovers and rolls the intent", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16 });
    const d = a.share();
    const b = SharedHeap.attach(d);
    const c = new Int32Array(d.control);
    const p = b.alloc(40);
    const q = b.alloc(40);
    // b "died" inside dealloc(p), intent begun, nothing done yet; holding the lock.
    Atomics.store(c, C_LOCK, b.agentId);
    c[slotWord(b.agentId, S_OP)] = 2;
    c[slotWord(b.agentId, S_PHASE)] = 1;
    c[slotWord(b.agentId, S_ARG0)] = p;
    expect(a.markDead(b.agentId, b.generation)).toBe(true);
    expect(a.lockOwner).toBe(-b.agentId);
    a.check(); // recovers first: p is freed (rolled forward)
    expect(a.lockOwner).toBe(0);
    expect(() => a.dealloc(p)).toThrow(DoubleFreeError);
    a.dealloc(q);
    a.check();
    expect(a.poisoned).toBe(false);
    expect(() => b.alloc(8)).not.toThrow(); // a dead handle's calls are the supervisor's problem
  });

  it("a torn update found by recovery poisons the heap for every handle", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16 });
    const b = SharedHeap.attach(a.share());
    const c = new Int32Array(a.share().control);
    b.alloc(40);
    Atomics.store(c, C_LOCK, b.agentId | (OWNER_DIED * 0));
    // Half an update: TLSF's USED_COUNT state word (u32 17) bumped, no block behind it.
    new Uint32Array(a.memory.buffer)[17] += 1;
    a.markDead(b.agentId, b.generation);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    expect(() => a.alloc(8)).toThrow(HeapPoisonedError);
    // A new agent is refused at attach (read-only: the heap says it is poisoned).
    expect(() => SharedHeap.attach(a.share())).toThrow(HeapPoisonedError);
    expect(a.lockOwner).toBe(0);
  });
});

describe("plain form", () => {
  it("a call while another agent is inside throws ConcurrentUseError and changes nothing", () => {
    const a = SharedHeap.create({ initialBytes: 1 << 16, synchronized: false });
    const b = SharedHeap.attach(a.share());
    expect(b.synchronized).toBe(false);
    const p = a.alloc(16);
    const c = new Int32Array(a.share().control);
    Atomics.store(c, C_LOCK, b.agentId);
    const snap = new Uint8Array(a.memory.buffer).slice();
    expect(() => a.alloc(8)).toThrow(ConcurrentUseError);
    expect(() => a.dealloc(p)).toThrow(ConcurrentUseError);
    expect(same(new Uint8Array(a.memory.buffer), snap)).toBe(true);
    Atomics.store(c, C_LOCK, 0);
    a.dealloc(p);
    b.check();
  });
});

describe("growth", () => {
  it("a SharedArrayBuffer heap grown by one handle is used by the other", () => {
    const a = SharedHeap.create({
      memory: new SharedArrayBuffer(1 << 16, { maxByteLength: 1 << 22 }),
    });
    const b = SharedHeap.attach(a.share());
    const big = a.alloc(1 << 20);
    expect(big).toBeGreaterThan(0);
    expect(b.owns(big + (1 << 19))).toBe(true);
    b.memory.u8.fill(7, big, big + (1 << 20));
    b.dealloc(big);
    b.check();
    a.check();
  });

  it("a shared WebAssembly.Memory grown by one handle: the other refreshes its views", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
    const a = SharedHeap.create({ memory, maximumPages: 64 });
    const b = SharedHeap.attach(a.share());
    const oldBuffer = b.memory.buffer;
    const big = a.alloc(1 << 20);
    expect(big).toBeGreaterThan(0);
    const p = b.alloc(1 << 18); // b's views predate the growth
    expect(p).toBeGreaterThan(0);
    expect(b.memory.buffer).not.toBe(oldBuffer);
    b.memory.u8.fill(1, p, p + (1 << 18));
    b.dealloc(big);
    a.dealloc(p);
    b.check();
    a.check();
  });

  // Another agent grows the memory after this agent's views were made but before its
  // handle is finished (a worker still attaching while the others already allocate). The
  // attach must not take the growth as seen: its views stop at the old end, and TLSF would
  // read undefined for blocks past it and write through "block 0" over the heap's header.
  for (const kind of ["SharedArrayBuffer", "WebAssembly.Memory"] as const) {
    it(`${kind}: growth while a handle attaches is seen by its first call`, () => {
      const a =
        kind === "SharedArrayBuffer"
          ? SharedHeap.create({
              memory: new SharedArrayBuffer(1 << 16, { maxByteLength: 1 << 22 }),
            })
          : SharedHeap.create({
              memory: new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }),
              maximumPages: 64,
            });
      let big = 0;
      const growing = {
        ...TLSF_SHARED,
        attach: (memory: Parameters<typeof TLSF_SHARED.attach>[0], side: SharedArrayBuffer) => {
          const inner = TLSF_SHARED.attach(memory, side);
          big = a.alloc(1 << 19); // grows the memory and publishes it
          return inner;
        },
      };
      const b = SharedHeap.attach(a.share(), { strategy: growing });
      expect(big).toBeGreaterThan(0);
      expect(b.memory.end).toBeLessThan(big + (1 << 19)); // b's views predate the growth
      // Served from the free space past b's old end, which b must see to split it.
      const ps = [1 << 14, 1 << 13, 5000, 3000].map((n) => {
        const p = b.alloc(n);
        expect(p).toBeGreaterThan(0);
        b.memory.u8.fill(3, p, p + n);
        return p;
      });
      b.dealloc(big);
      for (const p of ps) a.dealloc(p);
      a.check();
      b.check();
      expect(a.stats().liveBlocks).toBe(0);
    });
  }
});
