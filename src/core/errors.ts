/**
 * The error classes. Every error memkit throws has a stable `code`.
 *
 * Two families (RELIABILITY.md §2.1, P3):
 * - caller errors (bad argument, bad pointer, double free, …): thrown *before* any state
 *   changes, so the heap is exactly as it was and stays usable;
 * - heap corruption (`HeapCorruptedError`): the allocator found its own metadata broken. The
 *   heap is poisoned and every later call throws `HeapPoisonedError`.
 *
 * Argument type and range errors are the platform's own `TypeError` and `RangeError`
 * (subclasses that carry a `code`), as Node's validators do, so `instanceof RangeError` works.
 */

/**
 * The stable `code` of every error memkit throws, to test with `err.code === "ERR_…"`.
 *
 * Caller errors, thrown before anything changes: `ERR_ALLOC_ARG_TYPE` (not a number),
 * `ERR_ALLOC_SIZE` (a size that is negative, fractional or 0 where 0 is not allowed),
 * `ERR_ALLOC_ALIGN` (an alignment that is not a power of two up to 64 KiB), `ERR_LAYOUT`,
 * `ERR_INVALID_POINTER`, `ERR_FOREIGN_POINTER` (a pointer of another allocator),
 * `ERR_NOT_TOP` (a stack block freed out of order), `ERR_DOUBLE_FREE`, `ERR_STALE_POINTER`,
 * `ERR_LAYOUT_MISMATCH` (a size that is not the block's), `ERR_DESTROYED` (a dropped
 * allocator), `ERR_LIVE_CHILDREN`, `ERR_UNSUPPORTED`, `ERR_MEMORY` (a bad memory
 * argument, such as one too small for the heap's metadata, when creating or attaching), `ERR_SAB_UNAVAILABLE` (no `SharedArrayBuffer` here), and the typed layer's codes
 * below. Out of memory: `ERR_OUT_OF_MEMORY`, only from the throwing forms. Attaching to bytes
 * that are not a compatible heap: `ERR_HEAP_MAGIC`, `ERR_HEAP_VERSION`, `ERR_HEAP_CONFIG`.
 * Concurrency: `ERR_CONCURRENT_USE`, `ERR_LOCK_TIMEOUT`, `ERR_OWNER_DIED`. Views:
 * `ERR_DETACHED`, `ERR_STALE_VIEW`. Corruption: `ERR_HEAP_CORRUPTED`, then
 * `ERR_HEAP_POISONED` on every later call.
 */
export type ErrorCode =
  | "ERR_ALLOC_ARG_TYPE"
  | "ERR_ALLOC_SIZE"
  | "ERR_ALLOC_ALIGN"
  | "ERR_LAYOUT"
  | "ERR_INVALID_POINTER"
  | "ERR_FOREIGN_POINTER"
  | "ERR_NOT_TOP"
  | "ERR_DOUBLE_FREE"
  | "ERR_STALE_POINTER"
  | "ERR_LAYOUT_MISMATCH"
  | "ERR_OUT_OF_MEMORY"
  | "ERR_HEAP_MAGIC"
  | "ERR_HEAP_VERSION"
  | "ERR_HEAP_CONFIG"
  | "ERR_CONCURRENT_USE"
  | "ERR_LOCK_TIMEOUT"
  | "ERR_DETACHED"
  | "ERR_STALE_VIEW"
  | "ERR_OWNER_DIED"
  | "ERR_HEAP_CORRUPTED"
  | "ERR_HEAP_POISONED"
  | "ERR_DESTROYED"
  | "ERR_LIVE_CHILDREN"
  | "ERR_UNSUPPORTED"
  | "ERR_SAB_UNAVAILABLE"
  | "ERR_MEMORY"
  // The typed layer (src/typed/): caller errors, thrown before anything changes.
  /** A value of the wrong type for an element or field (`"5"` into a Float64 vector), or not a typed-array type. */
  | "ERR_ELEMENT_TYPE"
  /** A number the element or field type cannot hold (`300` into a u8, `1.5` into an i32). */
  | "ERR_ELEMENT_RANGE"
  /** An index outside `[0, length)`. */
  | "ERR_INDEX"
  /** A struct field name the struct does not have. */
  | "ERR_UNKNOWN_FIELD"
  /** A struct declared with a duplicate or invalid field name, or an invalid field type. */
  | "ERR_STRUCT_DEFINITION"
  /** A vector, box or slice used after `free()`, or a view or accessor kept across it. */
  | "ERR_FREED";

/** A wrong type where a number (or a Layout) was required: `'16'`, `8n`, `null`, `{}`. */
export class ArgumentTypeError extends TypeError {
  /** The stable error code: `ERR_ALLOC_ARG_TYPE`, or the typed layer's `ERR_ELEMENT_TYPE`. */
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = "ERR_ALLOC_ARG_TYPE") {
    super(message);
    this.name = "ArgumentTypeError";
    this.code = code;
  }
}

/** A number out of its domain: NaN, ±Infinity, negative, fractional, not a power of two. */
export class ArgumentRangeError extends RangeError {
  /** The stable error code: `ERR_ALLOC_SIZE`, `ERR_ALLOC_ALIGN`, `ERR_LAYOUT`, `ERR_INDEX`, … */
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode) {
    super(message);
    this.name = "ArgumentRangeError";
    this.code = code;
  }
}

/** An invalid `Layout`: bad size or alignment, or a size that overflows 2^32. */
export class LayoutError extends ArgumentRangeError {
  constructor(message: string) {
    super(message, "ERR_LAYOUT");
    this.name = "LayoutError";
  }
}

/** Base class of every heap-level error: `instanceof AllocatorError` catches them all. */
export class AllocatorError extends Error {
  /** The stable error code (see {@link ErrorCode}); the message may change, the code does not. */
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode) {
    super(message);
    this.name = "AllocatorError";
    this.code = code;
  }
}

/** A pointer this allocator never handed out, or that is not a block start. */
export class InvalidPointerError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_INVALID_POINTER") {
    super(message, code);
    this.name = "InvalidPointerError";
  }
}

/** A block freed twice (or used after it was freed or after a reset). */
export class DoubleFreeError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_DOUBLE_FREE") {
    super(message, code);
    this.name = "DoubleFreeError";
  }
}

/** `dealloc(ptr, size)` with a size that does not match the block. */
export class LayoutMismatchError extends AllocatorError {
  constructor(message: string) {
    super(message, "ERR_LAYOUT_MISMATCH");
    this.name = "LayoutMismatchError";
  }
}

/** Only from the throwing conveniences (`allocOrThrow`); `alloc` returns 0 instead. */
export class OutOfMemoryError extends AllocatorError {
  constructor(message: string) {
    super(message, "ERR_OUT_OF_MEMORY");
    this.name = "OutOfMemoryError";
  }
}

/** Attaching to bytes that are not a heap of this kind, version and configuration. */
export class HeapIncompatibleError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_HEAP_MAGIC") {
    super(message, code);
    this.name = "HeapIncompatibleError";
  }
}

/** An unsynchronised heap entered from two agents at once. */
export class ConcurrentUseError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_CONCURRENT_USE") {
    super(message, code);
    this.name = "ConcurrentUseError";
  }
}

/** A view over memory that was detached or replaced by growth. */
export class StaleViewError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_STALE_VIEW") {
    super(message, code);
    this.name = "StaleViewError";
  }
}

/** The lock was taken after its owner died; the heap is being recovered. */
export class OwnerDiedError extends AllocatorError {
  constructor(message: string) {
    super(message, "ERR_OWNER_DIED");
    this.name = "OwnerDiedError";
  }
}

/** The allocator found its own metadata broken. The heap is poisoned from now on. */
export class HeapCorruptedError extends AllocatorError {
  constructor(message: string, code: ErrorCode = "ERR_HEAP_CORRUPTED") {
    super(message, code);
    this.name = "HeapCorruptedError";
  }
}

/** Every call on a heap after corruption was detected. */
export class HeapPoisonedError extends HeapCorruptedError {
  constructor(message: string) {
    super(message, "ERR_HEAP_POISONED");
    this.name = "HeapPoisonedError";
  }
}
