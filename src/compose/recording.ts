/**
 * `RecordingAllocator`: wraps any allocator, passes every call through unchanged, and
 * records the calls that change the heap as an allocation trace in the text format of
 * `traces/README.md`. Record your own program's pattern, save `toText()` to a file,
 * and replay it against every strategy: `memkit replay mine.trace --allocator all`.
 *
 *     # trace DESCRIPTION                              header
 *     # program NAME                                   (when given)
 *     # format: a ID SIZE ALIGN [z] | f ID | r ID SIZE
 *     a 0 48 8                                         alloc(48)
 *     a 1 200 16 z                                     allocZeroed(200, 16)
 *     r 0 1000                                         realloc(p0, 1000)
 *     f 1                                              dealloc(p1)
 *     # unknown-frees 0                                trailer
 *     # unknown-reallocs 0
 *     # threads 1
 *     # failed-allocations 0
 *     # end
 *
 * What is recorded, and the choices where the format is silent:
 * - **IDs** are dense, exactly as the format's README says: a freed block's ID goes onto a
 *   stack and the next allocation takes the most recently freed ID, else the next new
 *   number. So the largest ID + 1 is the peak number of live blocks.
 * - **Sizes** are the sizes asked for, **ALIGN** the alignment asked for (8 when none was
 *   given; the allocator raises smaller ones itself, and so will the replaying one).
 * - **Only calls that succeeded** are recorded. The format has no line for a failure: an
 *   allocation that returned 0 made no block (nothing later can free it), and a realloc
 *   that returned 0 left its block as it was. Both are counted in the trailer line
 *   `# failed-allocations N` (a comment: parsers ignore it). A call that threw (bad size,
 *   bad pointer, double free) changed nothing and is not recorded either.
 * - `realloc(0, n)` is written as an `a` line, as C's `realloc(NULL, n)` is. An `r` line
 *   carries no alignment: replayers resize with 16 (malloc's).
 * - `dealloc(0)` is not written (`free(NULL)` never appears). A free or realloc of a pointer
 *   allocated before recording began is counted as `# unknown-frees` / `# unknown-reallocs`;
 *   the realloc is written as an `a` of a new ID.
 * - `reset()` is written as an `f` line for every live block.
 *
 * Cost: a `Map` lookup and a few typed-array writes per call on top of the wrapped
 * allocator (the ops are kept in columns, about 18 bytes each; the text is made only by
 * `toText()`). For profiling and tests, not a production hot path.
 */

import {
  type Allocator,
  type AllocatorStats,
  allocateLayout,
  deallocateLayout,
  orOutOfMemory,
} from "../core/allocator.js";
import { dumpOf, dumpState, INSPECT, summarize } from "../core/describe.js";
import type { Allocation, Layout } from "../core/layout.js";
import type { Memory } from "../core/memory.js";
import { DEFAULT_ALIGN } from "../core/validate.js";
import { OP_ALLOC, OP_FREE, OP_REALLOC, type Trace, TraceBuilder } from "../trace/trace.js";

/** The `# format` line every trace carries. */
const FORMAT_LINE = "format: a ID SIZE ALIGN [z] | f ID | r ID SIZE";

/** Options of {@link RecordingAllocator}. */
export interface RecordingOptions {
  /** The `# trace` line: what was recorded. */
  description?: string;
  /** The `# program` line, when given. */
  program?: string;
}

/**
 * Wraps any allocator, passes every call through unchanged, and records the calls that
 * change the heap as an allocation trace (the text format `parseTrace` reads). Save
 * `toText()` to a file and replay it against every strategy with
 * `npx memkit replay mine.trace --allocator all`, or in code with {@link replay}.
 * Only calls that succeeded are recorded; failed allocations are counted in the trailer.
 *
 * @example
 * ```ts
 * import { parseTrace, RecordingAllocator, replay, TlsfAllocator } from "memkit";
 *
 * const heap = new RecordingAllocator(new TlsfAllocator(64 * 1024), { description: "demo" });
 * const a = heap.alloc(48);
 * const b = heap.allocZeroed(200, 16);
 * heap.dealloc(a);
 * heap.dealloc(heap.realloc(b, 1000));
 * const trace = parseTrace(heap.toText()); // 4 operations
 * console.log(replay(trace, new TlsfAllocator(1 << 20)).ops); // 4
 * ```
 */
export class RecordingAllocator implements Allocator {
  /** The memory the blocks live in (the wrapped allocator's). */
  readonly memory: Memory;
  /** The allocator's name, as messages and `console.log` show it. */
  readonly name: string;
  /** Frees of pointers that were not allocated while recording (not written). */
  unknownFrees = 0;
  /** Reallocs of pointers that were not allocated while recording (written as `a`). */
  unknownReallocs = 0;
  /** Allocations and reallocs that returned 0 (not written: the format has no such line). */
  failedAllocations = 0;

  private readonly ops = new TraceBuilder();
  /** Live pointer → its ID. */
  private readonly idOf = new Map<number, number>();
  /** Freed IDs, most recent last: the next allocation takes the top one. */
  private readonly freeIds: number[] = [];
  private nextId = 0;
  private readonly header: string[];

  /**
   * @param inner - the allocator to record
   * @param options - the trace's description and program lines
   */
  constructor(
    /** The wrapped allocator. */
    readonly inner: Allocator,
    options: RecordingOptions = {},
  ) {
    this.memory = inner.memory;
    const innerName = (inner as { name?: unknown }).name;
    this.name = `RecordingAllocator(${typeof innerName === "string" ? innerName : "allocator"})`;
    const description = options.description ?? `recorded by memkit's ${this.name}`;
    this.header = [`trace ${oneLine(description)}`];
    if (options.program !== undefined) this.header.push(`program ${oneLine(options.program)}`);
    this.header.push(FORMAT_LINE);
  }

  /** Operations recorded so far. */
  get count(): number {
    return this.ops.count;
  }

  /** Blocks live now, as the recorder knows them. */
  get liveCount(): number {
    return this.idOf.size;
  }

  // ---- the recorded calls ------------------------------------------------------------------

  alloc(size: number, align?: number): number {
    const ptr = this.inner.alloc(size, align);
    this.recordAlloc(ptr, size, align ?? DEFAULT_ALIGN, 0);
    return ptr;
  }

  allocZeroed(size: number, align?: number): number {
    const ptr = this.inner.allocZeroed(size, align);
    this.recordAlloc(ptr, size, align ?? DEFAULT_ALIGN, 1);
    return ptr;
  }

  dealloc(ptr: number, size?: number): void {
    this.inner.dealloc(ptr, size);
    if (ptr !== 0) this.recordFree(ptr);
  }

  /** `oldSize` goes through to allocators that need it (BlockAllocator). */
  realloc(ptr: number, newSize: number, align?: number, oldSize?: number): number {
    const to = this.inner.realloc(ptr, newSize, align, oldSize);
    if (to === 0) {
      this.failedAllocations++;
      return 0;
    }
    const id = ptr === 0 ? undefined : this.idOf.get(ptr);
    if (id === undefined) {
      if (ptr !== 0) this.unknownReallocs++;
      this.recordAlloc(to, newSize, align ?? DEFAULT_ALIGN, 0);
      return to;
    }
    if (to !== ptr) {
      this.idOf.delete(ptr);
      this.idOf.set(to, id);
    }
    this.ops.push(OP_REALLOC, id, newSize, 0, 0);
    return to;
  }

  allocate(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, false, true);
  }

  allocateZeroed(layout: Layout): Allocation | null {
    return allocateLayout(this, layout, true, true);
  }

  deallocate(ptr: number, layout?: Layout): void {
    deallocateLayout(this, ptr, layout);
  }

  allocOrThrow(size: number, align?: number): number {
    return orOutOfMemory(this.alloc(size, align), `${this.name}: out of memory`, size, align);
  }

  reset(): void {
    this.inner.reset();
    for (const id of this.idOf.values()) this.freeId(id);
    this.idOf.clear();
  }

  // ---- passed through ----------------------------------------------------------------------

  usableSize(ptr: number): number {
    return this.inner.usableSize(ptr);
  }
  owns(ptr: number): boolean {
    return this.inner.owns(ptr);
  }
  /** @returns the figures of the allocator now (see {@link AllocatorStats}) */
  stats(): AllocatorStats {
    return this.inner.stats();
  }
  check(): void {
    this.inner.check();
  }
  /** The one line `console.log` and `util.inspect` print for this object. */
  [INSPECT](): string {
    return summarize(this.name, this);
  }
  /** @returns the state for a person to read, one figure a line */
  dump(): string {
    return dumpState(this.name, this, [dumpOf(this.inner)]);
  }

  // ---- the trace ---------------------------------------------------------------------------

  /** The recording as a parsed trace (what `parseTrace(this.toText())` returns). */
  trace(name = "recorded"): Trace {
    return { ...this.ops.build(name), comments: [...this.header, ...this.trailer()] };
  }

  /** The recording in the text format, header and trailer included, ending in a newline. */
  toText(): string {
    const { op, id, size, align, zeroed, count } = this.ops;
    const lines: string[] = this.header.map((c) => `# ${c}`);
    for (let i = 0; i < count; i++) {
      const k = op[i];
      if (k === OP_ALLOC) {
        lines.push(
          zeroed[i] === 1
            ? `a ${id[i]} ${size[i]} ${align[i]} z`
            : `a ${id[i]} ${size[i]} ${align[i]}`,
        );
      } else if (k === OP_FREE) {
        lines.push(`f ${id[i]}`);
      } else {
        lines.push(`r ${id[i]} ${size[i]}`);
      }
    }
    for (const c of this.trailer()) lines.push(`# ${c}`);
    lines.push("");
    return lines.join("\n");
  }

  private trailer(): string[] {
    return [
      `unknown-frees ${this.unknownFrees}`,
      `unknown-reallocs ${this.unknownReallocs}`,
      "threads 1",
      `failed-allocations ${this.failedAllocations}`,
      "end",
    ];
  }

  private recordAlloc(ptr: number, size: number, align: number, zeroed: number): void {
    if (ptr === 0) {
      this.failedAllocations++;
      return;
    }
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.nextId++;
    this.idOf.set(ptr, id);
    this.ops.push(OP_ALLOC, id, size, align, zeroed);
  }

  private recordFree(ptr: number): void {
    const id = this.idOf.get(ptr);
    if (id === undefined) {
      this.unknownFrees++;
      return;
    }
    this.idOf.delete(ptr);
    this.freeId(id);
  }

  private freeId(id: number): void {
    this.ops.push(OP_FREE, id, 0, 0, 0);
    this.freeIds.push(id);
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}
