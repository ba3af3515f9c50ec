// What a headerless small-object layer in front of the Heap would hold on the real traces: a
// simulation, to weigh the design before building it (issue 9's footprint targets). Requests
// of at most SMALL bytes (and alignment ≤ 16) are rounded up to a class (a multiple of 16) and
// served from pages of their class: each page is one block of the Heap (no front end of its
// own: { frontEnd: false }) of PAGE bytes, cut into slots with no header; which slots are free
// is kept in JS, outside the memory (as a real layer would keep it out of line). A page that
// empties goes back to the Heap at once, or is kept (KEEP empty pages per class). Larger
// requests go to the Heap itself. A resize is a free and a new allocation of the new size.
// The footprint is the highest end of a Heap block (a page counts whole) over the memory's
// start, against the peak live bytes, as the benchmark measures it.
//
//   npm run build && node bench/segregated.mjs [trace,...]
//
// Printed per trace: the floors (src/trace/floor.ts), the Heap as it is, the Heap without its
// front end, and the layer for a few page sizes and small limits. A simulation of footprint
// only: no time is measured (the layer's bookkeeping here is JS arrays, not int32 words).

import { dist, TRACE_NAMES } from "./paths.mjs";
import { loadTraceBinary, traceBinary, traceFloors } from "./traces.mjs";

const { Heap, replay } = await import(dist("index.js"));

const CLASS = 16;

/** One class's pages: those with a free slot (the last is the one allocations take from). */
class SizeClass {
  constructor(size, page) {
    this.size = size;
    this.slots = Math.floor(page / size);
    this.open = [];
    this.empty = [];
  }
}

/** The layer over `heap`; `top` tracks the highest end of any Heap block it took. */
class Segregated {
  constructor(heap, small, page, keep) {
    this.heap = heap;
    this.small = small;
    this.page = page;
    this.keep = keep;
    this.classes = new Map();
    this.top = 0;
  }

  alloc(size, align) {
    if (size > this.small || align > CLASS) return this.big(size, align);
    const c = Math.max(CLASS, Math.ceil(size / CLASS) * CLASS);
    let k = this.classes.get(c);
    if (k === undefined) {
      k = new SizeClass(c, this.page);
      this.classes.set(c, k);
    }
    let pg = k.open.at(-1);
    if (pg === undefined) {
      pg = k.empty.pop() ?? this.newPage(k);
      if (pg === null) return null;
      k.open.push(pg);
    }
    const slot = pg.free.pop();
    pg.used++;
    if (pg.free.length === 0) k.open.pop();
    return { pg, slot, k };
  }

  newPage(k) {
    const bytes = k.slots * k.size;
    const p = this.heap.alloc(bytes, CLASS);
    if (p === 0) return null;
    this.top = Math.max(this.top, p + bytes);
    const free = [];
    for (let i = k.slots - 1; i >= 0; i--) free.push(i);
    return { p, free, used: 0 };
  }

  big(size, align) {
    const p = this.heap.alloc(size, align);
    if (p === 0) return null;
    this.top = Math.max(this.top, p + size);
    return { p };
  }

  free(h) {
    if (h.pg === undefined) {
      this.heap.dealloc(h.p);
      return;
    }
    const { pg, k } = h;
    if (pg.free.length === 0) k.open.push(pg);
    pg.free.push(h.slot);
    pg.used--;
    if (pg.used > 0) return;
    k.open.splice(k.open.indexOf(pg), 1);
    if (k.empty.length < this.keep) k.empty.push(pg);
    else this.heap.dealloc(pg.p);
  }
}

/** Footprint / peak live of the layer on trace `t`. */
function simulate(t, small, page, keep) {
  const heap = new Heap({ frontEnd: false, maxBytes: 1 << 30 });
  const layer = new Segregated(heap, small, page, keep);
  const held = new Array(t.idCount);
  const sizes = new Float64Array(t.idCount);
  const aligns = new Uint32Array(t.idCount);
  let live = 0;
  let peak = 0;
  for (let i = 0; i < t.count; i++) {
    const b = t.id[i];
    if (t.op[i] !== 0) layer.free(held[b]);
    live -= sizes[b];
    sizes[b] = 0;
    if (t.op[i] === 1) continue;
    if (t.op[i] === 0) aligns[b] = t.align[i];
    const h = layer.alloc(t.size[i], aligns[b]);
    if (h === null) throw new Error(`${t.name}: out of memory at op ${i}`);
    held[b] = h;
    sizes[b] = t.size[i];
    live += t.size[i];
    if (live > peak) peak = live;
  }
  return (layer.top - heap.memory.start) / peak;
}

/** Footprint / peak live of the Heap itself (as the benchmark builds it, or without front end). */
function heapRatio(t, frontEnd) {
  return replay(t, new Heap({ frontEnd, maxBytes: 1 << 30 })).footprintRatio;
}

const names = process.argv[2]?.split(",") ?? TRACE_NAMES;
const CONFIGS = [
  { small: 256, page: 4096, keep: 0 },
  { small: 256, page: 8192, keep: 0 },
  { small: 256, page: 8192, keep: 1 },
  { small: 512, page: 8192, keep: 0 },
  { small: 512, page: 16384, keep: 0 },
];
for (const name of names) {
  const t = loadTraceBinary(await traceBinary(name), name);
  const f = await traceFloors(t);
  const cells = CONFIGS.map(
    (c) =>
      `≤${c.small} B in ${c.page / 1024} KiB pages, keep ${c.keep}: ${simulate(t, c.small, c.page, c.keep).toFixed(3)}`,
  );
  console.log(
    `${name}: floors ${f.sizeWord.toFixed(3)} (size word) / ${f.bare.toFixed(3)} (no header); ` +
      `Heap ${heapRatio(t, true).toFixed(3)}, without its front end ${heapRatio(t, false).toFixed(3)}; ` +
      `a headerless layer: ${cells.join("; ")}`,
  );
}
