#!/usr/bin/env node
// Streaming meshes through one GPU buffer that the allocator never touches.
//
// A renderer keeps one large vertex buffer and suballocates it: meshes come and go as the
// camera moves, each gets a range of the buffer, and its vertices are uploaded with
// GPUQueue.writeBuffer(buffer, offset, data). The OffsetAllocator hands out the ranges over an
// OffsetMemory (offsets only, no bytes) and keeps all its books in its own typed arrays.
//
// No GPU here: an ArrayBuffer stands in for the GPUBuffer, and writeBuffer copies into it
// with WebGPU's rules (offset and size multiples of 4, inside the buffer). After every step
// the script reads every live mesh back from the stand-in buffer and checks it, so two
// meshes given overlapping ranges, or a range past the end, would be caught. It exits 1 at
// the first step that goes wrong.
//
//   npm run build && node examples/gpu-buffer/run.mjs [--json]
//
// --json prints what was measured as one JSON line at the end (for the test).

import { OffsetAllocator, OffsetMemory } from "memkit";

const json = process.argv.includes("--json");
const say = (line) => {
  if (!json) console.log(line);
};
function check(ok, what) {
  if (!ok) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

// ---- the stand-in GPU -------------------------------------------------------------------

const BUFFER_BYTES = 4 << 20; // a 4 MiB vertex buffer: the stream fills it
const gpuBuffer = new ArrayBuffer(BUFFER_BYTES);

/** GPUQueue.writeBuffer(buffer, bufferOffset, data): its validation, then the copy. */
function writeBuffer(buffer, offset, data) {
  check(offset % 4 === 0 && data.byteLength % 4 === 0, `writeBuffer: ${offset} not 4-aligned`);
  check(offset + data.byteLength <= buffer.byteLength, `writeBuffer past the end at ${offset}`);
  new Uint8Array(buffer, offset, data.byteLength).set(
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
}

// ---- meshes -----------------------------------------------------------------------------

/** A deterministic stream of meshes: each a Float32Array of x, y, z per vertex. */
let seed = 12345;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
function makeMesh(id) {
  // Mostly small props, sometimes a large piece of terrain: sizes from 36 B to ~600 KB.
  const vertices =
    random() < 0.05 ? 20_000 + Math.floor(random() * 30_000) : 3 + Math.floor(random() * 3000);
  const data = new Float32Array(vertices * 3);
  for (let i = 0; i < data.length; i++) data[i] = id + i / 65536;
  return data;
}

const ranges = new OffsetAllocator(new OffsetMemory(0, BUFFER_BYTES));
/** Live meshes: id → { offset, data }. */
const live = new Map();
let uploads = 0;
let evictions = 0;

function verifyAll(when) {
  const view = new Float32Array(gpuBuffer);
  for (const [id, { offset, data }] of live) {
    const at = offset / 4;
    for (let i = 0; i < data.length; i += 97) {
      check(view[at + i] === data[i], `${when}: mesh ${id} at ${offset} reads back wrong`);
    }
    check(view[at + data.length - 1] === data[data.length - 1], `${when}: mesh ${id} tail`);
  }
  ranges.check(); // the allocator's own invariants
}

/** Uploads mesh `id`, evicting the oldest meshes while the buffer has no room for it. */
function upload(id) {
  const data = makeMesh(id);
  let offset = ranges.alloc(data.byteLength, 16);
  while (offset === 0) {
    const [oldest] = live.keys();
    check(oldest !== undefined, `mesh ${id} (${data.byteLength} B) does not fit an empty buffer`);
    ranges.dealloc(live.get(oldest).offset);
    live.delete(oldest);
    evictions++;
    offset = ranges.alloc(data.byteLength, 16);
  }
  check(offset % 16 === 0, `mesh ${id} at ${offset}: not 16-aligned`);
  writeBuffer(gpuBuffer, offset, data);
  live.set(id, { offset, data });
  uploads++;
}

// ---- the stream -------------------------------------------------------------------------

for (let frame = 0; frame < 400; frame++) {
  // A few meshes come into view, a few go out of view (not the oldest: any of them).
  for (let k = 0; k < 3; k++) upload(frame * 3 + k);
  for (const id of [...live.keys()]) {
    if (random() < 0.03) {
      ranges.dealloc(live.get(id).offset);
      live.delete(id);
    }
  }
  if (frame % 50 === 49) verifyAll(`frame ${frame}`);
}
verifyAll("end of stream");

const stats = ranges.stats();
const report = ranges.freeSpaceReport();
let liveBytes = 0;
for (const { data } of live.values()) liveBytes += data.byteLength;
check(stats.liveBlocks === live.size, "stats().liveBlocks counts the live meshes");
check(report.totalFree === stats.free, "the report's free bytes are the stats'");
check(stats.inUse >= liveBytes, "every live byte is in a block");
say(
  `${uploads} meshes uploaded; ${evictions} of them evicted to make room when the buffer was full`,
);
say(`${live.size} live meshes, ${liveBytes} bytes; the allocator holds ${stats.inUse} in use`);
say(
  `free: ${report.totalFree} bytes in ${report.freeBlocks} blocks, the largest ` +
    `${report.largestFreeBlock}; a request of up to ${stats.largestFree} bytes succeeds now`,
);
for (const bin of report.bins.slice(-5)) {
  say(`  ${bin.blocks} free block(s) of ${bin.minSize}…${bin.maxSize} bytes: ${bin.bytes}`);
}

// Everything freed: the buffer is one free range again.
for (const { offset } of live.values()) ranges.dealloc(offset);
live.clear();
const empty = ranges.freeSpaceReport();
check(empty.freeBlocks === 1 && empty.largestFreeBlock === BUFFER_BYTES - 16, "one block again");
say("all meshes freed: the buffer is one free range again");

if (json) {
  console.log(
    JSON.stringify({ uploads, evictions, liveBlocks: stats.liveBlocks, free: report.totalFree }),
  );
}
