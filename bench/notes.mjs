// What the results file says beside the tables: the peers, how to read the footprints, and for
// every target missed or within noise, what stands in the way, with this run's figures.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HERE } from "./paths.mjs";
import { versionOf } from "./rows.mjs";

export const PEER_NOTES = [
  `@thi.ng/malloc ${versionOf("@thi.ng/malloc")} (Apache-2.0) \`MemPool\`: first fit over an ` +
    "address-ordered free list; the used blocks are on a list too, which `free` walks to find " +
    "the block, and `compact` (on by default) walks the free list on every free. So free is " +
    "O(live + free blocks): fine for a few hundred blocks, tens of µs per op with thousands " +
    "(W1, the traces). Pool-wide alignment: 8 for the workloads, 16 for the traces.",
  `malloc ${versionOf("malloc")} (codemix, MIT): best fit over a skip list of free blocks keyed ` +
    "by size, boundary tags, coalescing on free; 8-byte alignment only; no realloc (emulated " +
    "here with alloc + copy + free). Removing a free block walks the free blocks of the same " +
    "size in turn (`remove` in its source), which degrades when thousands of free blocks share " +
    "a size (python-json).",
  `AssemblyScript ${versionOf("assemblyscript")} (Apache-2.0): the runtime's TLSF ` +
    "(std/assembly/rt/tlsf.ts) compiled from bench/wasm/tlsf.ts at bench time (`asc -O3 " +
    "--runtime minimal`, assertions kept as in AssemblyScript's default release build), one " +
    "wasm call per operation from JS. 16-byte granules, 4-byte block header; its memory grows " +
    "by itself.",
  "C malloc/free: the C library's allocator (glibc's ptmalloc2 with its per-thread cache) from " +
    "bench/native/*.c, the same workloads in C; its timing is net of the C empty loop, which " +
    "has the same bookkeeping as the JS one but is compiled ahead of time (faster), so compare " +
    "net figures. Large blocks (≥ 128 KiB at first) are mmapped and unmapped on free, which is " +
    "what W4 mostly measures for it.",
  "The garbage collector: `new Uint8Array(size)` and dropping the reference. Typed arrays up " +
    "to 64 bytes live on the V8 heap (W2, W3: cheap); larger ones get a separately allocated, " +
    "zeroed backing store that the collector must finalize (W1, W4: expensive). No footprint: " +
    "the engine decides where the bytes go.",
];

export const FOOTPRINT_NOTES = [
  "PoolAllocator and the minimal pool (W2): 2,048 blocks of 64 bytes, twice the most W2 " +
    "can hold live; the pool's free stack and live bitmap for all of them sit before the first block.",
  "BuddyAllocator: blocks are powers of two (16 bytes up), so live bytes round up to as much " +
    "as twice.",
  "SlabAllocator: whole pages per size class (4 KiB for classes up to 448 bytes, 8 or 16 KiB " +
    "above), so partly used pages count in full; each page costs its parent TLSF its page " +
    "size, and requests above 1024 bytes go to the parent behind a 32-byte header.",
  "C malloc: measured in a first, untimed pass on the fresh heap, from the start of the brk " +
    "heap (glibc's chunk headers and 16-byte granules included); mmapped chunks count at their " +
    "mapped size.",
];

const ns = (x) => (x === undefined || x === null ? "—" : `${x.toFixed(1)} ns`);

/** The profile's top functions as a clause, when the run made one. */
function profileClause(profile) {
  if (!profile?.top?.length) {
    return "`npm run profile` shows where the Heap's time goes on W1 (see the README).";
  }
  const top = profile.top
    .slice(0, 4)
    .map((f) => `\`${f.name}\` ${f.percent.toFixed(0)}%`)
    .join(", ");
  return `The CPU profile of the Heap on W1 (${profile.file}) puts the most self time in ${top}.`;
}

/**
 * The published instruction counts (bench/results/instructions.json, `node
 * bench/instructions.mjs --publish`) of workload `w` as a clause: the Heap's against
 * AssemblyScript's TLSF and the empty loop; "" when there are none for `w`.
 */
export function countedClause(w, counts = readCounts()) {
  const row = (key) => counts?.rows?.find((r) => r.id === w && r.key === key);
  const heap = row("heap");
  if (!heap) return "";
  const other = (key, what) =>
    row(key) ? `, ${what} ${row(key).I.toFixed(0)} and ${row(key).D1.toFixed(1)}` : "";
  return (
    ` Counted under valgrind (bench/results/instructions.md, commit ${counts.commit}): on ${w} the ` +
    `Heap executes ${heap.I.toFixed(0)} instructions and takes ${heap.D1.toFixed(1)} L1 data ` +
    `misses per op${other("as", "AssemblyScript's TLSF")}${other("baseline", "the empty loop")}.`
  );
}

function readCounts() {
  try {
    return JSON.parse(readFileSync(join(HERE, "results", "instructions.json"), "utf8"));
  } catch {
    return null;
  }
}

/**
 * What is over a footprint target, split into the layout's share (the floor: the least any
 * placement can reach with these blocks, src/trace/floor.ts) and the placement's. `bare`:
 * the allocator's blocks have no header (the offset-only allocator); else a size word.
 */
export function floorClause(t, floors, bare, who) {
  const floor = bare ? floors.bare : floors.sizeWord;
  const layout = bare
    ? "no header, each rounded up to its alignment"
    : "a 4-byte size word each, rounded up to its alignment";
  const fx = (x) => x.toFixed(3);
  const head =
    `${who} blocks (${layout}) cannot end below ${fx(floor)}× the peak live bytes on this ` +
    "trace, whatever the placement";
  const placement = `${fx(t.value - floor)} of the ${fx(t.value)} is placement (fragmentation)`;
  if (floor > t.goalValue) {
    return (
      `${head}: the goal is under that floor, out of reach for this block layout, and ` +
      `${placement}. Blocks with no header (small objects by size class, their metadata out ` +
      `of line) have a floor of ${fx(floors.bare)} here. `
    );
  }
  return `${head}, so ${fx(t.goalValue - floor)} of the goal is left to the placement; ${placement}. `;
}

/**
 * Why target `t` is missed or within noise, with this run's figures. `results`: the rows;
 * `meta`: the run's meta (its profile summary).
 */
export function obstacle(t, results, meta) {
  const w = t.id.slice(0, t.id.length - t.family.length - 1);
  const row = (key) => results.find((r) => r.workload === w && r.key === key && !r.error);
  const net = (key) => row(key)?.netNsPerOp;
  switch (t.family) {
    case "heap-c":
      return (
        `C malloc serves ${w}'s sizes from glibc's per-thread cache (tcache: a few instructions ` +
        "per malloc/free, no boundary-tag merging, few checks), compiled ahead of time; the " +
        `Heap (${ns(net("heap"))} net against ${ns(net("c"))}) runs JIT-compiled JS that keeps ` +
        `the contract's checks (size, alignment, foreign pointer, double free) and the start-map ` +
        "checks of every in-band word it trusts. Its own cache (a stack per size under 512 " +
        "bytes) takes only blocks whose neighbours are in use and holds at most a sixteenth of " +
        `the peak, so the other frees and allocations take TLSF's general path. ${profileClause(meta.profile)}` +
        countedClause(w)
      );
    case "heap-as":
      return (
        `on ${w} AssemblyScript's TLSF in wasm takes ${ns(net("as"))} net per op against the ` +
        `Heap's ${ns(net("heap"))}. Per call the JS Heap also does what the wasm build does not: ` +
        "the contract's checks and bounds-checked typed-array accesses. " +
        profileClause(meta.profile) +
        countedClause(w)
      );
    case "heap-footprint":
    case "offset": {
      const rows = results.filter((r) => r.workload === w && r.footprintRatio != null && !r.error);
      const best = rows.sort((a, b) => a.footprintRatio - b.footprintRatio)[0];
      const offset = t.family === "offset";
      const who = offset ? "the offset-only allocator's" : "the Heap's";
      const tightest =
        `The tightest row here is ${best?.short ?? "—"} at ` +
        `${best?.footprintRatio?.toFixed(3) ?? "—"}.`;
      const floors = meta.floors?.[w.replace(/^trace /, "")];
      if (floors === undefined) {
        return (
          `what is over is ${who} own fragmentation on ${w} (every block at the alignment the ` +
          `trace asks for). ${tightest}`
        );
      }
      return floorClause(t, floors, offset, who) + tightest;
    }
    case "growth": {
      const r = results.find((x) => x.suite === "growth" && x.key === "heap");
      const m = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
      return (
        `the growing Heap held ${m(r.reserved)} for a peak footprint of ${m(r.footprint)} ` +
        `(${m(r.peakLiveBytes)} live at the peak): its memory doubles below 8 MiB and ` +
        "grows by an eighth above (src/memory/memory.ts growTarget), so the last step can " +
        "leave up to about an eighth of the memory unused."
      );
    }
    case "pool":
      return (
        `PoolAllocator ${ns(net("pool"))} net against the minimal pool's ${ns(net("minpool"))}: ` +
        "beyond a stack pop and push it checks the heap's state, the size and alignment on " +
        "alloc, and on free the pointer's range, its block alignment and the live bitmap " +
        "(double free, foreign pointers)."
      );
    case "bump":
      return (
        `BumpAllocator ${ns(net("bump"))} net against the minimal bump's ${ns(net("minbump"))}: ` +
        "beyond align-add-compare-store it checks the heap's state and the size, aligns without " +
        "overflow, and keeps its header's counters up to date."
      );
    case "slab-speed":
      return (
        `Slab ${ns(net("slab"))} net against TLSF's ${ns(net("tlsf"))} on ${w}: sizes above the ` +
        "slab's classes and page refills go to its parent TLSF, so the slab pays its own " +
        "lookup on top of TLSF's work for those."
      );
    case "slab-footprint":
      return "whole pages per size class: partly used pages of every class count in full, and the parent's free space between pages counts too.";
    case "records": {
      const r = results.find((x) => x.suite === "records" && x.key === t.rows[0] && !x.error);
      if (!r) return "";
      if (t.id.startsWith("records-bytes")) {
        return (
          `the allocator itself holds ${r.allocatorBytesPerRecord?.toFixed(1) ?? "—"} bytes per ` +
          `record (a 40-byte record and its block overhead), of ${r.capacityBytesPerRecord?.toFixed(1) ?? "—"} ` +
          "bytes of capacity per record; the measured figure adds the 4-byte pointer of each " +
          "record in the Uint32Array that holds them" +
          (t.rows[0] === "heap"
            ? ", and the memory the default heap reserved ahead as it grew."
            : ".")
        );
      }
      if (t.id.startsWith("records-gc")) {
        if (t.rows[0] === "heap") {
          return (
            `${r.gcCount} collections during the workload, ${r.gcTotalMs.toFixed(1)} ms in all: ` +
            "the records make no garbage; the default heap's memory detaches its old buffer " +
            "when it grows, which deoptimizes compiled code, and unoptimized code boxes the " +
            "numbers it passes (see the update-loop target). A pause is wall time: on a " +
            "loaded machine it includes time the collector waited for a core."
          );
        }
        return (
          `${r.gcCount} collections during the workload, ${r.gcTotalMs.toFixed(1)} ms in all: ` +
          "memkit's records make no garbage, so these are the collector's work on what the " +
          "program around them allocates (and, on a loaded machine, time the collector's " +
          "threads waited for a core: a pause is wall time)."
        );
      }
      return (
        "each record is read and written through checked functions (an integer, aligned " +
        "pointer inside the memory; a value of the field's type) at a pointer taken from a " +
        "Uint32Array, where the floor indexes one array directly" +
        (t.rows[0] === "heap"
          ? ". The default heap's blocks are 48 bytes apart (a 4-byte size word, 8-byte " +
            "rounding), the floor's 40; and its WebAssembly.Memory detaches its old buffer each " +
            "time it grows, after which V8 checks every typed-array access in the process for " +
            "a detached buffer and deoptimizes code compiled without that check (the update " +
            "loop then runs unoptimized for a while, boxing the numbers it passes: the " +
            "collections of this row)."
          : ".")
      );
    }
    case "shared": {
      const r = results.find((x) => x.suite === "shared" && x.shared);
      if (!r) return "";
      if (t.id === "shared-footprint") {
        return (
          "each worker keeps pages of small blocks in its own cache, and blocks free in one " +
          "worker's pages are not used by the other: the highest block end counts both."
        );
      }
      const load = r.load ? `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}` : "?";
      return (
        `with no heap at all (W1's PRNG alone) this machine gave 2 threads ` +
        `${r.shared.ceiling.toFixed(2)}× one just before (1-minute load ${load}): a scaling ` +
        "target needs an otherwise idle machine to be read, and this run does not break down " +
        "the heap's own share of what is left."
      );
    }
    default:
      return "";
  }
}
