/**
 * UTF-8 strings in any allocator's memory: write one into a new block, read one back, count
 * its bytes. `Heap.writeString`/`readString` and the typed layer's functions are these.
 *
 * Written strings end with a 0 byte (C's convention, what a wasm module's `strlen` expects);
 * the length without it is `byteLengthUtf8(text)`. Reading without a length stops at the
 * first 0 byte inside the block (its usable size, where the allocator knows it) or, for
 * allocators that keep no block sizes (Bump, Block), inside the allocator's region.
 * Invalid UTF-8 reads as U+FFFD.
 */

import type { Allocator } from "../core/allocator.js";
import { ArgumentRangeError, ArgumentTypeError, InvalidPointerError } from "../core/errors.js";
import type { Memory } from "../core/memory.js";
import { checkSize32, DEFAULT_ALIGN, isUint32, rejectPointer } from "../core/validate.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

/** The number of bytes `text` takes in UTF-8. */
export function byteLengthUtf8(text: string): number {
  if (typeof text !== "string") throw new ArgumentTypeError("byteLengthUtf8 takes a string");
  return encoder.encode(text).length;
}

/** `text` as UTF-8 (validated: a string). */
export function encodeUtf8(text: string): Uint8Array {
  if (typeof text !== "string") throw new ArgumentTypeError("expected a string");
  return encoder.encode(text);
}

/** `bytes` (any view, shared or not) as text. */
export function decodeUtf8(bytes: Uint8Array): string {
  // TextDecoder refuses views of a SharedArrayBuffer; copy those first.
  const own = bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice();
  return decoder.decode(own);
}

/**
 * Writes `text` as UTF-8 followed by a 0 byte into a new block of `allocator`, aligned to
 * `align`; its pointer, or 0 when out of memory.
 */
export function writeString(allocator: Allocator, text: string, align = DEFAULT_ALIGN): number {
  const bytes = encodeUtf8(text);
  freshBytes(allocator.memory); // an offset-only memory is refused before anything changes
  const ptr = allocator.alloc(bytes.length + 1, align);
  if (ptr === 0) return 0;
  const u8 = freshBytes(allocator.memory);
  u8.set(bytes, ptr);
  u8[ptr + bytes.length] = 0;
  return ptr;
}

/**
 * Reads UTF-8 text at `ptr`, a block of `allocator`: `byteLength` bytes, or up to the first
 * 0 byte (see the module comment for where the search stops).
 */
export function readString(allocator: Allocator, ptr: number, byteLength?: number): string {
  if (!isUint32(ptr)) rejectPointer(ptr);
  if (byteLength !== undefined) checkSize32(byteLength, "byteLength");
  const limit = blockEnd(allocator, ptr);
  const u8 = freshBytes(allocator.memory);
  let n: number;
  if (byteLength === undefined) {
    const zero = u8.subarray(ptr, limit).indexOf(0);
    n = zero < 0 ? limit - ptr : zero;
  } else {
    if (byteLength > limit - ptr) {
      throw new ArgumentRangeError(
        `byteLength ${byteLength} runs past the block's ${limit - ptr} bytes`,
        "ERR_ALLOC_SIZE",
      );
    }
    n = byteLength;
  }
  return decodeUtf8(u8.subarray(ptr, ptr + n));
}

/**
 * Where the block at `ptr` ends: by its usable size when the allocator knows it (which also
 * validates `ptr`), else the end of the allocator's region (`ptr` must be inside it).
 */
function blockEnd(allocator: Allocator, ptr: number): number {
  let usable: number | undefined;
  try {
    usable = allocator.usableSize(ptr);
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ERR_UNSUPPORTED") throw e;
  }
  if (usable !== undefined) return ptr + usable;
  if (ptr === 0 || !allocator.owns(ptr)) {
    throw new InvalidPointerError(`invalid pointer ${ptr}: not in this allocator's region`);
  }
  return allocator.memory.end;
}

/** The memory's bytes now (a wasm module or another agent may have grown it). */
function freshBytes(memory: Memory): Uint8Array {
  if (!memory.hasBytes) {
    throw new ArgumentTypeError(
      "an offset-only memory has no bytes to hold text",
      "ERR_UNSUPPORTED",
    );
  }
  memory.refresh();
  return memory.u8;
}
