/**
 * Allocation traces: the text format of `traces/README.md`, parsed into columns.
 *
 *     # comment lines start with '#'
 *     a ID SIZE ALIGN [z]    allocate SIZE bytes aligned to ALIGN as block ID (z: zeroed)
 *     f ID                   free block ID
 *     r ID SIZE              resize block ID to SIZE, keeping min(old, new) bytes
 *
 * The parser is pure (no Node API) and fast (one pass over character codes, no split):
 * a 20 MB trace parses in a fraction of a second. A bad line throws `TraceFormatError` with
 * its line number. The op order is checked as it is parsed: `a` never names a live ID, and
 * `f`/`r` always name one.
 */

/** `Trace.op` of an allocation (an `a` line). */
export const OP_ALLOC = 0;
/** `Trace.op` of a free (an `f` line). */
export const OP_FREE = 1;
/** `Trace.op` of a resize (an `r` line). */
export const OP_REALLOC = 2;

/** A parsed trace: one row per operation, in columns. */
export interface Trace {
  /** The name given to the parser (a file name, say). */
  readonly name: string;
  /** Operations: the length of every column. */
  readonly count: number;
  /** OP_ALLOC, OP_FREE or OP_REALLOC. */
  readonly op: Uint8Array;
  /** The block each operation names; IDs are reused after a free. */
  readonly id: Uint32Array;
  /** Requested size (alloc, realloc); 0 for free. */
  readonly size: Float64Array;
  /** Requested alignment (alloc); 0 otherwise. */
  readonly align: Uint32Array;
  /** 1 when the allocation must be zero-filled (calloc). */
  readonly zeroed: Uint8Array;
  /** Largest ID + 1: the size of a table indexed by ID. */
  readonly idCount: number;
  /** The comment lines (`# trace …`, `# program …`), without the '#'. */
  readonly comments: readonly string[];
}

/** A line of trace text that is not in the format, or that breaks the order of operations. */
export class TraceFormatError extends Error {
  /** The stable error code. */
  readonly code = "ERR_TRACE_FORMAT";
  /**
   * @param line - the 1-based line number of the bad line
   * @param message - what is wrong with it
   */
  constructor(
    /** The 1-based line number of the bad line. */
    readonly line: number,
    message: string,
  ) {
    super(`trace line ${line}: ${message}`);
    this.name = "TraceFormatError";
  }
}

/** Grows column arrays as a trace is parsed (or recorded). */
export class TraceBuilder {
  /** Operations so far. */
  count = 0;
  /** The operation column (`OP_ALLOC`, …); its first `count` entries are used. */
  op = new Uint8Array(1024);
  /** The block ID column. */
  id = new Uint32Array(1024);
  /** The size column. */
  size = new Float64Array(1024);
  /** The alignment column. */
  align = new Uint32Array(1024);
  /** The zero-fill column. */
  zeroed = new Uint8Array(1024);
  /** Largest ID + 1. */
  idCount = 0;
  /** Comment lines, without the '#'. */
  readonly comments: string[] = [];
  private liveIds = new Uint8Array(1024);

  /** Appends one operation; returns an error message (not thrown) when it breaks the order. */
  push(op: number, id: number, size: number, align: number, zeroed: number): string | null {
    if (id >= this.liveIds.length) this.liveIds = grow(this.liveIds, id + 1);
    const live = this.liveIds[id] === 1;
    if (op === OP_ALLOC) {
      if (live) return `block ${id} is allocated while it is live`;
      this.liveIds[id] = 1;
    } else {
      if (!live) return `block ${id} is not live`;
      if (op === OP_FREE) this.liveIds[id] = 0;
    }
    if (this.count === this.op.length) {
      const n = this.count * 2;
      this.op = grow(this.op, n);
      this.id = grow(this.id, n);
      this.size = grow(this.size, n);
      this.align = grow(this.align, n);
      this.zeroed = grow(this.zeroed, n);
    }
    const i = this.count++;
    this.op[i] = op;
    this.id[i] = id;
    this.size[i] = size;
    this.align[i] = align;
    this.zeroed[i] = zeroed;
    if (id + 1 > this.idCount) this.idCount = id + 1;
    return null;
  }

  /**
   * The trace so far, its columns trimmed to `count`.
   *
   * @param name - the trace's name
   * @returns the trace
   */
  build(name: string): Trace {
    const n = this.count;
    return {
      name,
      count: n,
      op: this.op.subarray(0, n),
      id: this.id.subarray(0, n),
      size: this.size.subarray(0, n),
      align: this.align.subarray(0, n),
      zeroed: this.zeroed.subarray(0, n),
      idCount: this.idCount,
      comments: this.comments,
    };
  }
}

function grow<T extends Uint8Array | Uint32Array | Float64Array>(a: T, min: number): T {
  const ctor = a.constructor as new (n: number) => T;
  const b = new ctor(Math.max(min, a.length * 2));
  b.set(a);
  return b;
}

const CH_CR = 13;
const CH_SP = 32;
const CH_TAB = 9;
const CH_HASH = 35;
const CH_0 = 48;
const CH_9 = 57;

/**
 * Parses trace text. Streaming callers feed it chunk by chunk through `TraceParser`; this
 * is the one-shot form.
 *
 * @param text - the whole trace
 * @param name - the trace's name (default `"trace"`)
 * @returns the trace, in columns
 * @throws {@link TraceFormatError} `ERR_TRACE_FORMAT` with the line number of a bad line
 */
export function parseTrace(text: string, name = "trace"): Trace {
  const p = new TraceParser();
  p.feed(text);
  return p.finish(name);
}

/** An incremental parser: `feed` text in chunks of any size, then `finish`. */
export class TraceParser {
  private readonly b = new TraceBuilder();
  private line = 0;
  private rest = "";

  /**
   * Parses the next piece of text; a line may be split across pieces.
   *
   * @param chunk - text of any length
   * @throws {@link TraceFormatError} `ERR_TRACE_FORMAT` at the first bad line
   */
  feed(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      this.parseLine(text, start, nl);
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  /**
   * Parses what is left and ends the parse.
   *
   * @param name - the trace's name
   * @returns the trace
   * @throws {@link TraceFormatError} `ERR_TRACE_FORMAT` when the last line is bad
   */
  finish(name: string): Trace {
    if (this.rest.length > 0) {
      this.parseLine(this.rest, 0, this.rest.length);
      this.rest = "";
    }
    return this.b.build(name);
  }

  private parseLine(s: string, from: number, to: number): void {
    const lineNo = ++this.line;
    let end = to;
    if (end > from && s.charCodeAt(end - 1) === CH_CR) end--;
    if (end === from) return; // blank line
    const c = s.charCodeAt(from);
    if (c === CH_HASH) {
      this.b.comments.push(s.slice(from + 1, end).trim());
      return;
    }
    const fail = (why: string): never => {
      throw new TraceFormatError(lineNo, `${why}: ${JSON.stringify(s.slice(from, end))}`);
    };
    // Fields separated by single or repeated spaces/tabs.
    let i = from + 1;
    const field = (what: string): number => {
      if (i >= end || !isSpace(s.charCodeAt(i))) fail(`expected ${what}`);
      while (i < end && isSpace(s.charCodeAt(i))) i++;
      let v = 0;
      const startDigits = i;
      while (i < end) {
        const d = s.charCodeAt(i);
        if (d < CH_0 || d > CH_9) break;
        v = v * 10 + (d - CH_0);
        i++;
      }
      if (i === startDigits) fail(`expected ${what} (a non-negative integer)`);
      if (i < end && !isSpace(s.charCodeAt(i))) fail(`bad ${what}`);
      if (!(v <= Number.MAX_SAFE_INTEGER)) fail(`${what} is too large`);
      return v;
    };
    const tail = (): string => {
      while (i < end && isSpace(s.charCodeAt(i))) i++;
      const t = s.slice(i, end);
      i = end;
      return t;
    };
    let err: string | null;
    if (c === 97 /* a */) {
      const id = field("ID");
      const size = field("SIZE");
      const align = field("ALIGN");
      if (align === 0 || (align & (align - 1)) !== 0 || align > 2 ** 30)
        fail("ALIGN must be a power of two");
      const z = tail();
      if (z !== "" && z !== "z") fail(`unexpected "${z}" after ALIGN`);
      if (id > 0xfffffffe) fail("ID is too large");
      err = this.b.push(OP_ALLOC, id, size, align, z === "z" ? 1 : 0);
    } else if (c === 102 /* f */) {
      const id = field("ID");
      if (tail() !== "") fail("unexpected text after ID");
      if (id > 0xfffffffe) fail("ID is too large");
      err = this.b.push(OP_FREE, id, 0, 0, 0);
    } else if (c === 114 /* r */) {
      const id = field("ID");
      const size = field("SIZE");
      if (tail() !== "") fail("unexpected text after SIZE");
      if (id > 0xfffffffe) fail("ID is too large");
      err = this.b.push(OP_REALLOC, id, size, 0, 0);
    } else {
      throw new TraceFormatError(
        lineNo,
        `unknown operation (expected a, f, r or #): ${JSON.stringify(s.slice(from, end))}`,
      );
    }
    if (err !== null) fail(err);
  }
}

function isSpace(c: number): boolean {
  return c === CH_SP || c === CH_TAB;
}
