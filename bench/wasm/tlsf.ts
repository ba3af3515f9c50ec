// @ts-nocheck: AssemblyScript, not TypeScript (usize, heap, __heap_base are its builtins); the
// project's tsc includes bench/ and must not check this file.
// AssemblyScript's own TLSF (std/assembly/rt/tlsf.ts), exported so the benchmark can call it
// from JS once per operation: the "AssemblyScript TLSF in wasm" peer. Compiled at bench time
// by bench/peers/as-tlsf.mjs with the `assemblyscript` dev dependency (no committed binary):
//
//   asc bench/wasm/tlsf.ts -o bench/wasm/build/tlsf.wasm -O3 --runtime minimal
//
// `heap.alloc`/`heap.free`/`heap.realloc` are the runtime's raw TLSF calls (no GC header,
// no tracing); the runtime grows the memory by itself. Blocks are 16-aligned, with a 4-byte
// header (BLOCK_OVERHEAD) and a 12-byte minimum payload. Assertions are kept, as in
// AssemblyScript's default release build (they check the pointer handed to free/realloc).

/** A block of at least `size` bytes (16-aligned); traps only when the memory cannot grow. */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

/** Frees a block from `alloc`, `calloc` or `realloc`. */
export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Resizes a block, keeping its contents up to the smaller size; it may move. */
export function realloc(ptr: usize, size: usize): usize {
  return heap.realloc(ptr, size);
}

/** `alloc` and zero-fill. */
export function calloc(size: usize): usize {
  const p = heap.alloc(size);
  memory.fill(p, 0, size);
  return p;
}

/** The first byte after the module's static data: where the TLSF root and heap begin. */
export function heapBase(): usize {
  return __heap_base;
}
