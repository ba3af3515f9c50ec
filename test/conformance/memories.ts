/**
 * The memories the conformance kit runs every strategy on, one per kind, each made to catch
 * a different mistake: the fixed region starts at an odd offset of a caller's buffer full of
 * 0xAA (not zero, not aligned); the growable kinds start small so allocators must grow them;
 * the wasm memory's heap base leaves the first page's last 6 KiB, as a module's would, and the
 * memory may grow to every page its WasmMemory is told it may (a strategy that grows it to
 * `maxEnd` first, as the slab's block parent does, then gets the whole region). `shared`
 * makes the wasm memory a shared one (for a SharedHeap, registration.ts's `sharedMemory`).
 */

import {
  FixedMemory,
  GrowableMemory,
  type Memory,
  OffsetMemory,
  SharedMemory,
  WasmMemory,
} from "../../src/memory/memory.js";
import type { KitMemoryKind } from "./subject.js";

/** Bytes of region the kit gives each allocator (growable kinds may grow up to this). */
export const KIT_BYTES = 128 * 1024;
const FIXED_OFFSET = 36;
/** Bytes a growable kind starts with. */
const START_BYTES = 6 * 1024;

export function makeMemory(kind: KitMemoryKind, bytes = KIT_BYTES, shared = false): Memory {
  switch (kind) {
    case "fixed": {
      const buf = new ArrayBuffer(bytes + FIXED_OFFSET + 64);
      new Uint8Array(buf).fill(0xaa);
      return new FixedMemory(buf, FIXED_OFFSET, bytes, false);
    }
    // START_BYTES: not a power of two, so growth crosses partly used blocks of buddy-like
    // layouts; small, so that most programs grow the memory.
    case "growable":
      return new GrowableMemory(START_BYTES, bytes);
    case "shared":
      return new SharedMemory(START_BYTES, bytes);
    case "wasm": {
      // The heap base leaves START_BYTES of the first page, as a module with a large data
      // section would.
      // The region spans START_BYTES of the first page and `pages` more.
      const pages = Math.ceil(bytes / 65536);
      const memory = new WebAssembly.Memory({ initial: 1, maximum: pages + 1, shared });
      return new WasmMemory(memory, 65536 - START_BYTES, pages + 1);
    }
    case "offset":
      return new OffsetMemory(0, bytes);
  }
}
