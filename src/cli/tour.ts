/**
 * `npm start`: a short tour that uses every strategy memkit has and prints what it did.
 * (The benchmark and report will take its place as the main job.)
 */

import {
  BumpAllocator,
  getDefaultHeap,
  Heap,
  type InvalidPointerError,
  Layout,
  StackAllocator,
  TlsfAllocator,
  WasmMemory,
} from "../index.js";

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

console.log(out.join("\n").trimStart());
