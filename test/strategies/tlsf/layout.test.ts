/**
 * TLSF's bytes (src/strategies/tlsf/layout.ts): the header and state words where its picture
 * puts them (a saved heap and another handle read them there), the word a merge leaves in an
 * absorbed block's place, and the used block over pages someone else added at unaligned
 * offsets.
 */

import { describe, expect, it } from "vitest";
import { DoubleFreeError, InvalidPointerError } from "../../../src/core/errors.js";
import { FixedMemory, GrowableMemory } from "../../../src/memory/memory.js";
import { TlsfAllocator } from "../../../src/strategies/tlsf/index.js";
import {
  FRONT_CLASSES,
  FRONT_LIMIT,
  TLSF_METADATA_BYTES,
} from "../../../src/strategies/tlsf/layout.js";
import { FL_COUNT, GRANULE, LIST_COUNT, listOf } from "../../../src/strategies/tlsf/mapping.js";
import { thrown } from "../../helpers/thrown.js";

describe("TlsfAllocator's bytes: the header", () => {
  it("puts the state words right after the 8 common slots, then the bitmaps and list heads", () => {
    const buf = new ArrayBuffer(1 << 16);
    const a = new TlsfAllocator(new FixedMemory(buf));
    const p = a.alloc(100);
    const q = a.alloc(300);
    a.dealloc(p);
    const v = new DataView(buf);
    // The common header: slot 4 META_BYTES and slot 5 DATA_START (float64 each).
    const metaBytes = 8 * 8 + 8 * 4 + (1 + FL_COUNT + LIST_COUNT) * 4;
    expect(v.getFloat64(4 * 8, true)).toBe(metaBytes);
    expect(v.getFloat64(5 * 8, true)).toBe(metaBytes);
    // The state words at byte 64: END, USED_COUNT, USED_BYTES, SLACK, PEAK, CLEAN_FROM,
    // CACHED, BUDGET.
    const words = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => v.getUint32(64 + 4 * i, true));
    // In use: q's 300 usable bytes; the peak was 100 + 300 before p was freed.
    expect(words).toEqual([1 << 16, 1, 304, 100, 400, q + 300, 0, 0]);
    // The first block's pointer: dataStart + 8 rounded up to 16.
    expect(p).toBe(Math.ceil((metaBytes + 8) / 16) * 16);
    // The FL bitmap after the state words: p's freed block (104 bytes, FL 0) and the rest.
    expect(v.getUint32(96, true) & 1).toBe(1);
  });
});

describe("TlsfAllocator's bytes: the live and start maps", () => {
  it("take 2 bits per 8-byte granule of the heap, and one spare word pair at most", () => {
    for (const bytes of [1 << 12, 5000, 1 << 16, 99_992, 1 << 20]) {
      const a = new TlsfAllocator(new FixedMemory(new ArrayBuffer(bytes)));
      const heap = bytes - TLSF_METADATA_BYTES; // from dataStart to the end
      const map = a.liveMapBuffer.byteLength;
      expect(map).toBeGreaterThanOrEqual(heap / 32);
      expect(map).toBeLessThanOrEqual(heap / 32 + 17);
    }
  });
});

describe("TlsfAllocator's bytes: the front end's classes", () => {
  it("are the exact lists below FRONT_LIMIT: class c holds blocks of 8c bytes, list c's size", () => {
    expect(FRONT_CLASSES * GRANULE).toBe(FRONT_LIMIT);
    expect(FRONT_CLASSES).toBeLessThanOrEqual(LIST_COUNT);
    for (let c = 0; c < FRONT_CLASSES; c++) {
      expect(listOf(c * GRANULE)).toBe(c);
      expect(listOf(c * GRANULE + GRANULE - 1)).toBe(c);
    }
  });
});

describe("TlsfAllocator's bytes: a merge's tombstone", () => {
  it("user words that look like a free size word do not make an interior pointer a double free", () => {
    const buf = new ArrayBuffer(1 << 16);
    const a = new TlsfAllocator(new FixedMemory(buf));
    const p = a.alloc(200);
    a.alloc(8);
    const u32 = new Uint32Array(buf);
    // A word with the free bit and a size below one granule (1, 3, 5, 7) before an interior,
    // 8-aligned pointer: not a block start, so an invalid pointer, whatever the word.
    for (const q of [p + 8, p + 64, p + 136]) {
      for (const word of [1, 3, 5, 7]) {
        u32[(q - 4) >>> 2] = word;
        expect(thrown(() => a.dealloc(q))).toBeInstanceOf(InvalidPointerError);
      }
    }
    a.check();
    // A block merged into its free neighbour leaves its tombstone: freeing it again is a
    // double free.
    const r = a.alloc(40);
    const s = a.alloc(40);
    a.alloc(8);
    a.dealloc(r);
    a.dealloc(s); // merged into r's block
    expect(thrown(() => a.dealloc(s))).toBeInstanceOf(DoubleFreeError);
    a.check();
  });
});

describe("TlsfAllocator's bytes: pages someone else added", () => {
  it("covers foreign pages ending at an unaligned offset with one used block, untouched", () => {
    // Someone else resizes the buffer to 2 bytes past a multiple of 8 and fills the new
    // bytes: [8192, 65538) is theirs. (A foreign range starts at the region's end, which is
    // 8-aligned: a growable memory's length is a multiple of 8, and it grows in pages.)
    const m = new GrowableMemory(8192, 1 << 20);
    const a = new TlsfAllocator(m);
    const keep = a.alloc(100);
    const theirs = [8192, 65538] as const;
    (m.buffer as ArrayBuffer).resize(theirs[1]);
    new Uint8Array(m.buffer).fill(0xa5, theirs[0], theirs[1]);
    const untouched = () =>
      new Uint8Array(m.buffer, theirs[0], theirs[1] - theirs[0]).every((x) => x === 0xa5);
    const q = a.alloc(20_000); // grows past their pages
    expect(m.foreign).toEqual([theirs]);
    // The first block after theirs starts 4 past the next multiple of 8 after 65538.
    expect(q).toBe(65544 + 8);
    a.check();
    expect(untouched()).toBe(true);
    const fill = () => {
      const ps: number[] = [];
      for (let p = a.alloc(1000); p !== 0; p = a.alloc(1000)) {
        expect(p % 8).toBe(0);
        m.u8.fill(0, p, p + 1000);
        ps.push(p);
      }
      return ps;
    };
    const ps = fill();
    expect(ps.length).toBeGreaterThan(100);
    expect(untouched()).toBe(true);
    a.check();
    a.dealloc(keep);
    a.reset(); // lays the heap out again around their pages
    a.check();
    expect(untouched()).toBe(true);
    const again = fill();
    expect(again.length).toBeGreaterThanOrEqual(ps.length + 20); // keep's and q's bytes too
    expect(untouched()).toBe(true);
    const s = a.stats();
    expect(s.inUse + s.free + s.overhead).toBe(s.capacity);
    expect(s.overhead).toBeGreaterThanOrEqual(theirs[1] - theirs[0]);
    a.check();
  });
});
