/**
 * `memkit tour`: a short walk through every strategy memkit has, and the heap and the
 * compositions built on them; each section uses one and prints what it did. `tour()` returns
 * the lines (the command prints them; the test checks them).
 */

import {
  BlockAllocator,
  BuddyAllocator,
  BumpAllocator,
  ChainAllocator,
  childOf,
  FreeListAllocator,
  getDefaultHeap,
  Heap,
  type InvalidPointerError,
  Layout,
  OffsetAllocator,
  OffsetMemory,
  PoolAllocator,
  SlabAllocator,
  StackAllocator,
  TlsfAllocator,
  WasmMemory,
} from "../index.js";

/** The tour's output, one string per line. */
export function tour(): string[] {
  const out: string[] = [];
  const say = (line = ""): void => {
    out.push(line);
  };
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

  function section(title: string): void {
    say();
    say(`== ${title}`);
  }

  section("BumpAllocator: an arena (the seeds' Bump example)");
  {
    const bump = new BumpAllocator(4096);
    const a1 = bump.allocate(Layout.i64)!;
    const a2 = bump.allocate(Layout.i32)!;
    const a3 = bump.allocate(Layout.array(Layout.i64, 10))!;
    say(`i64 at ${a1.ptr}, i32 at ${a2.ptr}, i64[10] at ${a3.ptr} (${a3.size} bytes)`);
    say(`remaining ${bump.remaining()} of 4096, totalAllocated ${bump.totalAllocated()}`);
    const mark = bump.mark();
    for (let i = 0; i < 10; i++) bump.alloc(100);
    say(`after 10 × 100 bytes past a mark: remaining ${bump.remaining()}`);
    bump.rollback(mark);
    say(
      `rolled back to the mark: remaining ${bump.remaining()}, live blocks ${bump.stats().liveBlocks}`,
    );
    bump.reset();
    say(`reset: remaining ${bump.remaining()}`);
  }

  section("BumpAllocator over a WebAssembly.Memory that grows, zeroed allocation for free");
  {
    const bump = new BumpAllocator(WasmMemory.create(1, 16));
    let n = 0;
    while (bump.allocZeroed(10_000) !== 0) n++;
    say(
      `${n} zeroed blocks of 10,000 bytes; memory grew to ${kib(bump.memory.end)} (max 16 pages = 1 MiB)`,
    );
  }

  section("StackAllocator: LIFO with pop and markers (the seeds' Stack example)");
  {
    const stack = new StackAllocator(2048);
    const a1 = stack.alloc(8);
    const a2 = stack.alloc(4);
    const a3 = stack.alloc(4);
    say(`blocks at ${a1}, ${a2}, ${a3}; remaining ${stack.remaining()}`);
    try {
      stack.dealloc(a1);
    } catch (e) {
      say(`dealloc of a block below the top: ${(e as InvalidPointerError).code}`);
    }
    stack.pop();
    stack.pop();
    say(`two pops: remaining ${stack.remaining()}, live blocks ${stack.stats().liveBlocks}`);
  }

  section("TlsfAllocator: any size, any order, O(1)");
  {
    const tlsf = new TlsfAllocator(1 << 20);
    const ptrs: number[] = [];
    let x = 2463534242;
    for (let i = 0; i < 10_000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const slot = (x >>> 0) % 100;
      if (ptrs[slot]) {
        tlsf.dealloc(ptrs[slot]);
        ptrs[slot] = 0;
      } else {
        ptrs[slot] = tlsf.alloc(8 + ((x >>> 8) % 2000));
      }
    }
    const s = tlsf.stats();
    say(
      `10,000 random operations: ${s.liveBlocks} live blocks, ${kib(s.inUse)} in use, ${kib(s.free)} free`,
    );
    for (const p of ptrs) if (p) tlsf.dealloc(p);
    tlsf.check();
    const e = tlsf.stats();
    say(
      `all freed: largest free block ${kib(e.largestFree)} of ${kib(e.free)} free (fully coalesced)`,
    );
  }

  section("PoolAllocator: many objects of one size (the seeds' Pool example)");
  {
    const pool = new PoolAllocator(64, 100);
    const blocks = Array.from({ length: 100 }, () => pool.alloc(64));
    say(`100 blocks of 64 bytes, the last at ${blocks[99]}; the 101st: ${pool.alloc(64)} (full)`);
    for (let i = 0; i < 100; i += 2) pool.dealloc(blocks[i]);
    say(`every other one freed in O(1): ${pool.numFree()} free, no header in any block`);
  }

  section("SlabAllocator: small objects of many sizes, in pages of a parent allocator");
  {
    const slab = new SlabAllocator(new TlsfAllocator(1 << 20));
    const ptrs: number[] = [];
    for (let i = 0; i < 3000; i++) ptrs.push(slab.alloc(8 + (i % 40) * 8));
    const used = slab.classStats().filter((c) => c.liveBlocks > 0);
    say(
      `3,000 blocks of 8 … 320 bytes in ${used.length} size classes, ` +
        `${used.reduce((n, c) => n + c.pages, 0)} pages of 16 KiB from the TLSF below`,
    );
    for (const p of ptrs) slab.dealloc(p);
    say(
      `all freed: ${slab.stats().liveBlocks} live blocks; trim() gives ${kib(slab.trim())} back to the TLSF`,
    );
  }

  section("BlockAllocator: a small fixed heap of whole blocks (stalloc's example)");
  {
    const blocks = new BlockAllocator(8, 4); // 8 blocks of 4 bytes
    const fours = Array.from({ length: 8 }, () => blocks.allocateBlocks(1, 1));
    say(`eight 4-byte values in blocks at ${fours.join(", ")}; full: ${blocks.isOom()}`);
    for (const p of fours) blocks.dealloc(p, 4);
    const sixteens = [blocks.alloc(16, 4), blocks.alloc(16, 4)];
    say(`freed, then two 16-byte values at ${sixteens.join(" and ")} (4 blocks each)`);
  }

  section("FreeListAllocator: variable sizes, address-ordered, first/best/next fit");
  {
    const list = new FreeListAllocator(8192, { fit: "best" });
    const a = list.alloc(1000);
    const b = list.alloc(100);
    const c = list.alloc(300);
    list.alloc(50);
    list.dealloc(a);
    list.dealloc(c);
    const d = list.alloc(250);
    say(
      `best fit put 250 bytes in the 300-byte hole (${d === c ? "same address" : d}), not the 1,000`,
    );
    list.dealloc(b);
    say(
      `freeing the 100 bytes beside the 1,000-byte hole merges them: free [offset, bytes] ${JSON.stringify(list.freeBlocks())}`,
    );
  }

  section("BuddyAllocator: power-of-two blocks, here over offsets only (a GPU buffer's ranges)");
  {
    const buddy = new BuddyAllocator(new OffsetMemory(0, 1 << 20), { minBlockSize: 256 });
    const mesh = buddy.alloc(100_000);
    const texture = buddy.alloc(300_000);
    say(
      `100,000 bytes at offset ${mesh} (a ${buddy.usableSize(mesh).toLocaleString("en")}-byte block), ` +
        `300,000 at ${texture} (${buddy.usableSize(texture).toLocaleString("en")})`,
    );
    buddy.dealloc(mesh);
    buddy.dealloc(texture);
    say(
      `both freed: the buddies merged; ${buddy.stats().free.toLocaleString("en")} bytes free again`,
    );
  }

  section("OffsetAllocator: any size over offsets only, every book kept out of line");
  {
    const ranges = new OffsetAllocator(64 << 20); // a 64 MiB GPU buffer or file
    const sizes = [100_000, 300_000, 5_000, 1_234_567];
    const offsets = sizes.map((n) => ranges.alloc(n));
    say(`${sizes.map((n, i) => `${n.toLocaleString("en")} at ${offsets[i]}`).join(", ")}`);
    say(
      `in use ${ranges.stats().inUse.toLocaleString("en")} bytes for ` +
        `${sizes.reduce((a, b) => a + b).toLocaleString("en")} asked (no power-of-two rounding)`,
    );
    for (const o of offsets) ranges.dealloc(o);
    say(`all freed: one free block of ${ranges.stats().largestFree.toLocaleString("en")} again`);
  }

  section("Heap: malloc/free, typed arrays and strings, inside a wasm module's memory");
  {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 256 });
    const heap = Heap.inWasmMemory(memory, 1024);
    const s = heap.writeString("hello from JS");
    const v = heap.allocArray(Float64Array, 1000)!;
    v.view.fill(1.5);
    const big = heap.malloc(1 << 20); // grows the wasm memory: old views are detached
    say(`string at ${s}: "${heap.readString(s)}"; Float64Array[1000] at ${v.ptr}`);
    say(`after growing the memory to ${kib(memory.buffer.byteLength)}, view[999] = ${v.view[999]}`);
    heap.free(big);
    v.free();
    heap.free(s);
    const d = getDefaultHeap();
    const p = d.calloc(16, 8);
    say(`default heap: calloc(16, 8) = ${p}; usable ${d.usableSize(p)} bytes`);
    d.free(p);
  }

  section("Allocators inside allocators: an arena carved from the heap, a pool in front of it");
  {
    const heap = new Heap();
    const arena = childOf(heap, 64 * 1024, (m) => new BumpAllocator(m));
    for (let i = 0; i < 100; i++) arena.alloc(200);
    say(
      `an arena in one heap block took 100 × 200 bytes; the heap sees ${heap.stats().liveBlocks} block`,
    );
    arena.drop();
    const nodes = childOf(heap, 4096, (m) => new PoolAllocator(64, undefined, { memory: m }));
    const chain = new ChainAllocator([nodes, heap]);
    const small = chain.alloc(48);
    const large = chain.alloc(5000);
    say(
      `a chain: 48 bytes from the pool (${nodes.owns(small)}), 5,000 from the heap (${heap.owns(large)})`,
    );
    chain.dealloc(small);
    chain.dealloc(large);
  }

  section("Misuse is a typed error, and the heap is unchanged");
  {
    const heap = new Heap();
    const p = heap.malloc(64);
    heap.free(p);
    for (const [what, call] of [
      ["free twice", () => heap.free(p)],
      ["free an interior pointer", () => heap.free(heap.malloc(64) + 8)],
      ["malloc(-1)", () => heap.malloc(-1)],
      ["alloc with align 3", () => heap.alloc(8, 3)],
    ] as const) {
      try {
        call();
        say(`${what}: no error?`);
      } catch (e) {
        const err = e as Error & { code?: string };
        say(`${what}: ${err.name} ${err.code}`);
      }
    }
    say(`malloc(2^40) = ${heap.malloc(2 ** 40)} (out of memory is 0, not an exception)`);
    heap.check();
  }

  return out.slice(1);
}
