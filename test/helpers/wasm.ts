/**
 * A tiny WebAssembly binary encoder for tests, and one hand-assembled module that imports its
 * memory and grows it itself (the situation `WasmMemory.refresh()` exists for).
 *
 * The module, in text form:
 *
 *     (module
 *       (type $i32_i32 (func (param i32) (result i32)))
 *       (type $i32x2_void (func (param i32 i32)))
 *       (type $void_i32 (func (result i32)))
 *       (import "env" "memory" (memory min max?))        ;; shared when asked
 *       (func $grow (param $pages i32) (result i32) (memory.grow (local.get $pages)))
 *       (func $store (param $addr i32) (param $value i32)
 *         (i32.store (local.get $addr) (local.get $value)))
 *       (func $load (param $addr i32) (result i32) (i32.load (local.get $addr)))
 *       (func $size (result i32) (memory.size))
 *       (export "grow" (func $grow)) (export "store" (func $store))
 *       (export "load" (func $load)) (export "size" (func $size)))
 *
 * Binary format reference: WebAssembly Core Specification, chapter 5 ("Binary Format").
 */

/** Section ids (spec §5.5.2). */
const SECTION_TYPE = 1;
const SECTION_IMPORT = 2;
const SECTION_FUNCTION = 3;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;

/** Value and type constructors. */
const I32 = 0x7f;
const FUNC_TYPE = 0x60;

/** Import/export descriptor kinds. */
const KIND_FUNC = 0x00;
const KIND_MEMORY = 0x02;

/** Limits flags: min only, min and max, shared with min and max (threads proposal). */
const LIMITS_MIN = 0x00;
const LIMITS_MIN_MAX = 0x01;
const LIMITS_SHARED = 0x03;

/** The instructions the module uses. */
const OP_END = 0x0b;
const OP_LOCAL_GET = 0x20;
const OP_I32_LOAD = 0x28;
const OP_I32_STORE = 0x36;
const OP_MEMORY_SIZE = 0x3f;
const OP_MEMORY_GROW = 0x40;
/** memarg alignment exponent for a 4-byte access (2^2) and the memory index byte. */
const ALIGN_4 = 2;
const MEMORY_0 = 0x00;

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const VERSION = [0x01, 0x00, 0x00, 0x00];

/** Unsigned LEB128 (spec §5.2.2). */
export function uleb128(value: number): number[] {
  if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`uleb128(${value})`);
  const out: number[] = [];
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** A name: its UTF-8 length, then its bytes. */
export function encodeName(name: string): number[] {
  const bytes = [...new TextEncoder().encode(name)];
  return [...uleb128(bytes.length), ...bytes];
}

/** A vector: its element count, then the elements' bytes. */
export function encodeVector(items: number[][]): number[] {
  return [...uleb128(items.length), ...items.flat()];
}

/** A section: its id, its byte size, then its contents. */
export function encodeSection(id: number, contents: number[]): number[] {
  return [id, ...uleb128(contents.length), ...contents];
}

function funcType(params: number[], results: number[]): number[] {
  return [
    FUNC_TYPE,
    ...encodeVector(params.map((p) => [p])),
    ...encodeVector(results.map((r) => [r])),
  ];
}

/** A function body with no locals: its byte size, the empty locals vector, the code, `end`. */
function funcBody(code: number[]): number[] {
  const body = [...encodeVector([]), ...code, OP_END];
  return [...uleb128(body.length), ...body];
}

export interface MemoryImport {
  /** Minimum pages the imported memory must have. */
  minPages: number;
  /** Maximum pages (required for a shared memory). */
  maxPages?: number;
  shared?: boolean;
}

/** The bytes of the module described in the file comment. */
export function growModuleBytes(mem: MemoryImport): Uint8Array<ArrayBuffer> {
  const TYPE_I32_I32 = 0;
  const TYPE_I32X2_VOID = 1;
  const TYPE_VOID_I32 = 2;
  const types = encodeVector([
    funcType([I32], [I32]),
    funcType([I32, I32], []),
    funcType([], [I32]),
  ]);

  let limits: number[];
  if (mem.shared) {
    if (mem.maxPages === undefined) throw new RangeError("a shared memory needs maxPages");
    limits = [LIMITS_SHARED, ...uleb128(mem.minPages), ...uleb128(mem.maxPages)];
  } else if (mem.maxPages !== undefined) {
    limits = [LIMITS_MIN_MAX, ...uleb128(mem.minPages), ...uleb128(mem.maxPages)];
  } else {
    limits = [LIMITS_MIN, ...uleb128(mem.minPages)];
  }
  const imports = encodeVector([
    [...encodeName("env"), ...encodeName("memory"), KIND_MEMORY, ...limits],
  ]);

  // Function indices: imports define no functions, so these start at 0.
  const FN_GROW = 0;
  const FN_STORE = 1;
  const FN_LOAD = 2;
  const FN_SIZE = 3;
  const functions = encodeVector([
    [TYPE_I32_I32],
    [TYPE_I32X2_VOID],
    [TYPE_I32_I32],
    [TYPE_VOID_I32],
  ]);
  const exports = encodeVector([
    [...encodeName("grow"), KIND_FUNC, FN_GROW],
    [...encodeName("store"), KIND_FUNC, FN_STORE],
    [...encodeName("load"), KIND_FUNC, FN_LOAD],
    [...encodeName("size"), KIND_FUNC, FN_SIZE],
  ]);
  const memarg4 = [...uleb128(ALIGN_4), ...uleb128(0)]; // align 4, offset 0
  const code = encodeVector([
    funcBody([OP_LOCAL_GET, 0, OP_MEMORY_GROW, MEMORY_0]),
    funcBody([OP_LOCAL_GET, 0, OP_LOCAL_GET, 1, OP_I32_STORE, ...memarg4]),
    funcBody([OP_LOCAL_GET, 0, OP_I32_LOAD, ...memarg4]),
    funcBody([OP_MEMORY_SIZE, MEMORY_0]),
  ]);

  return new Uint8Array([
    ...MAGIC,
    ...VERSION,
    ...encodeSection(SECTION_TYPE, types),
    ...encodeSection(SECTION_IMPORT, imports),
    ...encodeSection(SECTION_FUNCTION, functions),
    ...encodeSection(SECTION_EXPORT, exports),
    ...encodeSection(SECTION_CODE, code),
  ]);
}

/** The module's exports. Addresses and values are i32 (JS numbers; results are signed). */
export interface GrowModule {
  /** `memory.grow(pages)`: the old size in pages, or -1 when the engine refuses. */
  grow(pages: number): number;
  /** `i32.store(addr, value)`. Traps (throws `WebAssembly.RuntimeError`) out of bounds. */
  store(addr: number, value: number): void;
  /** `i32.load(addr)`. */
  load(addr: number): number;
  /** `memory.size`: the size in pages. */
  size(): number;
}

/** Compiles and instantiates the module over `memory` (synchronously: it is tiny). */
export function instantiateGrowModule(memory: WebAssembly.Memory, mem: MemoryImport): GrowModule {
  const module = new WebAssembly.Module(growModuleBytes(mem));
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as GrowModule;
}
