// The peers a user would pick instead of memkit, each behind a small adapter with the shape
// the benchmark loops and the trace replayer call:
//
//   alloc(size, align) -> pointer, or 0 when out of memory
//   dealloc(ptr, size?)
//   realloc(ptr, size, align) -> pointer (moves keep min(old, new) bytes), 0 on failure
//   allocZeroed(size, align) -> pointer to zeroed bytes
//   memory: { start, hasBytes } where the allocator's region begins (the footprint counts
//           from there; hasBytes false: the replayer does not paint or verify blocks)
//
// The adapters add no work of their own beyond a method call that V8 inlines: alignment is a
// pool-wide setting in @thi.ng/malloc (8 for the workloads, 16 for the traces, which ask for
// 16), fixed at 8 in codemix's malloc and at 16 in AssemblyScript's TLSF.
//
//   @thi.ng/malloc 6.1.150 (Apache-2.0)  MemPool: first fit over an address-ordered free list,
//       the used blocks on a list too (free walks it to find the block), 8-byte block header,
//       optional compaction of neighbours on every free (on: the default).
//   malloc 1.1.0 (codemix, MIT)  Allocator: best fit over a skip list of free blocks keyed by
//       size, boundary tags, coalescing on free. No realloc: emulated with alloc + copy + free.
//   AssemblyScript 0.28.20 (Apache-2.0)  the runtime's TLSF (std/assembly/rt/tlsf.ts) compiled
//       to WebAssembly (bench/wasm/tlsf.ts) and called from JS once per operation.

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, "..");

/** @thi.ng/malloc's MemPool over a new ArrayBuffer of `bytes`. */
export async function thingMalloc(bytes, align = 8) {
  const { MemPool } = await import("@thi.ng/malloc");
  const pool = new MemPool({ size: bytes, align });
  return {
    pool,
    memory: { start: 0, hasBytes: false },
    alloc(n) {
      return pool.malloc(n);
    },
    dealloc(p) {
      pool.free(p);
    },
    allocZeroed(n) {
      return pool.calloc(n);
    },
    realloc(p, n) {
      return pool.realloc(p, n);
    },
  };
}

/** codemix's `malloc` Allocator over a new ArrayBuffer of `bytes` (8-aligned blocks). */
export function codemixMalloc(bytes) {
  const Allocator = require("malloc");
  const buffer = new ArrayBuffer(bytes);
  const m = new Allocator(buffer);
  const u8 = new Uint8Array(buffer);
  return {
    m,
    memory: { start: 0, hasBytes: false },
    alloc(n) {
      return m.alloc(n);
    },
    dealloc(p) {
      m.free(p);
    },
    allocZeroed(n) {
      return m.calloc(n);
    },
    /** No realloc in codemix: alloc, copy min(old block, n) bytes, free. */
    realloc(p, n) {
      const q = m.alloc(n);
      if (q === 0) return 0;
      const old = m.sizeOf(p);
      u8.copyWithin(q, p, p + Math.min(old, n));
      m.free(p);
      return q;
    },
  };
}

// ---- AssemblyScript's TLSF in wasm --------------------------------------------------------

export const AS_SOURCE = join(benchDir, "wasm", "tlsf.ts");
export const AS_OUTPUT = join(benchDir, "wasm", "build", "tlsf.wasm");

/**
 * Compiles bench/wasm/tlsf.ts with the `assemblyscript` dev dependency when the binary is
 * missing or older than its source. Returns a note on failure, null on success.
 */
export function buildAssemblyScript() {
  try {
    if (existsSync(AS_OUTPUT) && statSync(AS_OUTPUT).mtimeMs >= statSync(AS_SOURCE).mtimeMs) {
      return null;
    }
    mkdirSync(dirname(AS_OUTPUT), { recursive: true });
    const asc = join(dirname(require.resolve("assemblyscript/package.json")), "bin", "asc.js");
    execFileSync(
      process.execPath,
      [asc, AS_SOURCE, "-o", AS_OUTPUT, "-O3", "--runtime", "minimal"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    return null;
  } catch (e) {
    return `AssemblyScript build failed: ${
      String(e.stderr ?? e)
        .trim()
        .split("\n")[0]
    }`;
  }
}

let asModule = null;

/** A fresh instance of the AssemblyScript TLSF module (its own memory), as an adapter. */
export function asTlsf() {
  asModule ??= new WebAssembly.Module(readFileSync(AS_OUTPUT));
  const instance = new WebAssembly.Instance(asModule, {
    env: {
      abort(_msg, _file, line, col) {
        throw new Error(`AssemblyScript abort at tlsf.ts:${line}:${col}`);
      },
    },
  });
  const x = instance.exports;
  // The exports are called directly (a wasm function ignores the extra align argument).
  return {
    exports: x,
    memory: { start: x.heapBase(), hasBytes: false },
    alloc: x.alloc,
    dealloc: x.free,
    allocZeroed: x.calloc,
    realloc(p, n) {
      return x.realloc(p, n);
    },
  };
}
