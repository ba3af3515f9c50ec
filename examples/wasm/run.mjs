#!/usr/bin/env node
// A real WebAssembly module and JavaScript sharing one memkit heap.
//
// text.c is a small C library; alloc.c turns its whole C allocator (malloc, free, calloc,
// realloc, aligned_alloc, posix_memalign, malloc_usable_size) into imports that this script
// answers with a memkit Heap living in the module's own memory, above its __heap_base. So:
// JavaScript writes strings and arrays the C code reads, the C code allocates results that
// JavaScript reads and frees, and the memory grows while both use it. Each step checks what
// it prints; the script exits 1 at the first step that goes wrong.
//
//   npm run build && node examples/wasm/run.mjs [--json]
//
// Needs clang with the wasm32-wasi target, wasm-ld and wasi-libc (Debian: clang lld
// wasi-libc libclang-rt-dev-wasm32). The module is compiled into build/ beside this file.
// --json prints what was measured as one JSON line at the end (for the test).

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WASI } from "node:wasi";
import { DoubleFreeError, Heap } from "memkit";

const here = dirname(fileURLToPath(import.meta.url));
const json = process.argv.includes("--json");
const say = (line) => {
  if (!json) console.log(line);
};
const results = {};
function check(ok, what) {
  if (!ok) {
    console.error(`wasm example: FAILED: ${what}`);
    process.exit(1);
  }
}

// WASI's errno numbers (wasi-libc's <errno.h>).
const EINVAL = 28;
const ENOMEM = 48;

// ---- build ------------------------------------------------------------------------------

/** Compiles text.c and alloc.c into build/text.wasm; returns the archive members linked. */
function build() {
  const out = join(here, "build");
  mkdirSync(out, { recursive: true });
  const wasm = join(out, "text.wasm");
  const args = [
    "--target=wasm32-wasi",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-mexec-model=reactor", // no main: _initialize, then the host calls the exports
    "-Wl,--export=__heap_base", // where the Heap starts: above the data and the stack
    "-Wl,--max-memory=67108864", // 64 MiB: past that, malloc returns NULL
    "-Wl,--trace", // lists every object file the linker takes
    "-o",
    wasm,
    join(here, "text.c"),
    join(here, "alloc.c"),
  ];
  const trace = execFileSync("clang", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { wasm, linked: trace.split("\n").filter((l) => l.includes(".a(")) };
}

const { wasm, linked } = build();
results.dlmallocLinked = linked.some((l) => l.includes("dlmalloc.o"));
check(!results.dlmallocLinked, "wasi-libc's dlmalloc.o was linked: alloc.c must replace it");
say(`built ${wasm} (${readFileSync(wasm).length} bytes); wasi-libc's allocator not linked`);

// ---- instantiate: the module's allocator imports call the heap ----------------------------

/** Set once the module is instantiated (its memory exists) and before it runs any code. */
let heap;
/** Every block handed to C, to check its alignment. */
const handedOut = [];
const give = (p) => {
  if (p !== 0) handedOut.push(p);
  return p;
};
// wasm passes i32 (signed); pointers and sizes are unsigned: `>>> 0`.
const memkit = {
  malloc: (size) => give(heap.malloc(size >>> 0)),
  calloc: (count, size) => give(heap.calloc(count >>> 0, size >>> 0)),
  realloc: (ptr, size) => give(heap.realloc(ptr >>> 0, size >>> 0)),
  memalign: (align, size) => give(heap.memalign(align >>> 0, size >>> 0)),
  free: (ptr) => heap.free(ptr >>> 0),
  usable_size: (ptr) => heap.usableSize(ptr >>> 0),
};

const wasi = new WASI({ version: "preview1", returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(wasm), {
  ...wasi.getImportObject(),
  memkit,
});
const c = instance.exports;
const memory = c.memory;
const heapBase = c.__heap_base.value;
heap = Heap.inWasmMemory(memory, heapBase);
wasi.initialize(instance); // C's start-up code runs now, with the heap in place
const startPages = memory.buffer.byteLength / 65536;
say(`heap in the module's memory from __heap_base = ${heapBase} (${startPages} pages of 64 KiB)`);
results.heapBase = heapBase;
results.startPages = startPages;

// ---- strings: JS writes, C reads ----------------------------------------------------------

const name = heap.writeString("memkit");
c.greet(name); // printf in C, through WASI's stdout
heap.free(name);

// ---- C allocates, JS reads and frees -------------------------------------------------------

const text = heap.writeString("hello from javascript");
const loud = c.shout(text);
results.shout = heap.readString(loud);
check(results.shout === "HELLO FROM JAVASCRIPT!", `shout returned "${results.shout}"`);
say(`C's shout("hello from javascript") = "${results.shout}" at ${loud}; JS frees it`);
heap.free(loud);

const sentence = heap.writeString("  one heap  for C and   JavaScript ");
const countSlot = heap.malloc(4);
const words = c.split_words(sentence, countSlot);
const count = heap.u32[countSlot >>> 2];
const list = heap.arrayAt(Uint32Array, words, count);
results.words = [...list.view].map((p) => heap.readString(p));
check(
  JSON.stringify(results.words) === '["one","heap","for","C","and","JavaScript"]',
  `split_words gave ${JSON.stringify(results.words)}`,
);
say(`C's split_words made ${count} strings (strndup) in an array grown by realloc; JS frees all`);
for (const p of list.view) heap.free(p);
heap.free(words);
heap.free(countSlot);
heap.free(sentence);

// ---- arrays: JS places numbers, C returns a calloc'd array ---------------------------------

const n = 1000;
const xs = heap.allocArray(Float64Array, n);
for (let i = 0; i < n; i++) xs.view[i] = i + 0.5;
const sumsPtr = c.running_sums(xs.ptr, n);
const sums = heap.arrayAt(Float64Array, sumsPtr, n);
results.lastSum = sums.view[n - 1];
check(results.lastSum === (n * n) / 2, `running sum ${results.lastSum}`);
say(`C's running_sums over JS's Float64Array[${n}]: last = ${results.lastSum}`);

// ---- growth: C's realloc grows the memory, then JS's allocation does -----------------------

const unit = heap.writeString("memkit ");
const big = c.repeat(unit, 300_000); // 2.1 MB, built by doubling realloc in C
const afterC = memory.buffer.byteLength / 65536;
results.bigLength = heap.readString(big).length;
check(results.bigLength === 2_100_000, `repeat gave ${results.bigLength} characters`);
check(afterC > startPages, "the memory did not grow");
// JS's views of its own blocks survive the growth (the HeapArray re-derives them).
check(xs.view[n - 1] === n - 0.5 && sums.view[0] === 0.5, "a JS view went stale");
const large = heap.allocArray(Float64Array, 1 << 20); // 8 MiB, grows the memory again
check(large !== null, "JS's 8 MiB array did not fit");
const afterJs = memory.buffer.byteLength / 65536;
check(afterJs > afterC, "JS's allocation did not grow the memory");
// C still reads what JS wrote before both growths.
const loudAgain = c.shout(text);
check(heap.readString(loudAgain) === "HELLO FROM JAVASCRIPT!", "C misread JS's string");
say(
  `memory grew from ${startPages} to ${afterC} pages (C's realloc) and to ${afterJs} (JS's ` +
    "8 MiB array); both sides still read each other's blocks",
);
results.pages = [startPages, afterC, afterJs];
for (const p of [big, unit, loudAgain, sumsPtr, text]) heap.free(p);
large.free();
xs.free();

// ---- alignment and the aligned forms ------------------------------------------------------

results.misaligned = handedOut.filter((p) => p % 16 !== 0);
check(results.misaligned.length === 0, `blocks not 16-aligned: ${results.misaligned}`);
say(`all ${handedOut.length} blocks C received are 16-aligned (C's max_align_t on wasm32)`);
results.blocksSeen = handedOut.length;

const page = c.make_aligned(4096, 100);
check(page !== 0 && page % 4096 === 0, `aligned_alloc(4096) = ${page}`);
const bad = c.make_aligned(24, 100);
results.alignedAllocBad = [bad, c.last_errno()];
check(bad === 0 && c.last_errno() === EINVAL, "aligned_alloc(24) should fail with EINVAL");
const slot = heap.malloc(4);
const rc = c.make_posix_aligned(slot, 256, 10);
const p256 = heap.u32[slot >>> 2];
check(rc === 0 && p256 % 256 === 0, `posix_memalign(256) = ${rc}, ${p256}`);
results.posixBad = c.make_posix_aligned(slot, 2, 10); // below sizeof(void *)
check(results.posixBad === EINVAL, `posix_memalign(2) = ${results.posixBad}`);
results.tooBig = [c.make_aligned(16, 100 << 20), c.last_errno()]; // 100 MiB > 64 MiB maximum
check(results.tooBig[0] === 0 && results.tooBig[1] === ENOMEM, "100 MiB should be ENOMEM");
say("aligned_alloc(4096), posix_memalign(256) aligned; bad alignments EINVAL; 100 MiB ENOMEM");

// malloc_usable_size in C agrees with the heap, and C frees what JS allocated.
results.usable = [c.usable(page), heap.usableSize(page)];
check(results.usable[0] === results.usable[1] && results.usable[0] >= 100, "usable sizes");
c.release(page);
c.release(p256);
heap.free(slot);

// ---- a C bug meets memkit's checks --------------------------------------------------------

const victim = heap.malloc(32);
try {
  c.free_twice(victim);
  check(false, "a double free in C was not caught");
} catch (e) {
  check(e instanceof DoubleFreeError, `a double free threw ${e}`);
  results.doubleFree = e.code;
  say(`C freed a block twice: memkit threw ${e.name} (${e.code}) out of the wasm call`);
}
heap.check(); // the heap is intact

// ---- everything was freed by one side or the other ----------------------------------------

const stats = heap.stats();
results.liveBlocks = stats.liveBlocks;
check(stats.liveBlocks === 0, `${stats.liveBlocks} blocks still live`);
say(`at the end: ${stats.liveBlocks} live blocks, heap.check() passes`);
if (json) console.log(JSON.stringify(results));
