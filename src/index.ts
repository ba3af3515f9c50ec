/** memkit: memory allocators for TypeScript and JavaScript. Public exports only. */

export { ChainAllocator, type ChainOptions } from "./compose/chain.js";
export { CheckedAllocator } from "./compose/checked.js";
export { type Carving, carve, carvingOf, childOf, type Droppable } from "./compose/child.js";
export {
  CANARY_BYTES,
  FREED_FILL,
  HardenedAllocator,
  type HardenedOptions,
  type HardeningLevel,
} from "./compose/hardened.js";
export { RecordingAllocator, type RecordingOptions } from "./compose/recording.js";
export {
  type Allocator,
  type AllocatorOptions,
  type AllocatorStats,
  BaseAllocator,
} from "./core/allocator.js";
export { alignDown, alignUp, isAligned, isPowerOfTwo } from "./core/bits.js";
export {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  ConcurrentUseError,
  DoubleFreeError,
  type ErrorCode,
  HeapCorruptedError,
  HeapIncompatibleError,
  HeapPoisonedError,
  InvalidPointerError,
  LayoutError,
  LayoutMismatchError,
  OutOfMemoryError,
  OwnerDiedError,
  StaleViewError,
} from "./core/errors.js";
export { MAGIC, POISONED_MAGIC, StrategyKind, VERSION } from "./core/header.js";
export {
  type Allocation,
  Layout,
  layoutArray,
  layoutExtend,
  layoutForI32,
  layoutForI64,
  layoutForPtr,
  layoutNew,
} from "./core/layout.js";
export { DEFAULT_ALIGN, MAX_ALIGN, MAX_ALLOC_SIZE } from "./core/validate.js";
export {
  byteLengthUtf8,
  getDefaultHeap,
  Heap,
  HeapArray,
  type HeapOptions,
  type TypedArray,
  type TypedArrayConstructor,
} from "./heap/index.js";
export {
  FixedMemory,
  GrowableMemory,
  Memory,
  type MemoryKind,
  OffsetMemory,
  PAGE_BYTES,
  SharedMemory,
  WasmMemory,
} from "./memory/memory.js";
export type { CacheTally } from "./shared/cache.js";
export type { SharedStrategy } from "./shared/inner.js";
export {
  type AttachOptions,
  LOCK_BUSY,
  LockTimeoutError,
  SharedHeap,
  type SharedHeapDescriptor,
  type SharedHeapOptions,
} from "./shared/shared-heap.js";
export { BlockAllocator, type BlockOptions } from "./strategies/block/index.js";
export { BuddyAllocator, type BuddyOptions, buddyOrder } from "./strategies/buddy/index.js";
export { BumpAllocator, type BumpOptions } from "./strategies/bump/index.js";
export {
  type FitPolicy,
  FreeListAllocator,
  type FreeListOptions,
} from "./strategies/free-list/index.js";
export {
  type FreeBin,
  type FreeSpaceReport,
  OffsetAllocator,
  type OffsetAllocatorOptions,
} from "./strategies/offset/index.js";
export {
  MAX_BLOCK_ALIGN,
  PoolAllocator,
  type PoolOptions,
  poolBlockAlign,
  poolBlockSize,
} from "./strategies/pool/index.js";
export { SlabAllocator, type SlabClassStats, type SlabOptions } from "./strategies/slab/index.js";
export { StackAllocator, type StackOptions } from "./strategies/stack/index.js";
export { TlsfAllocator, type TlsfOptions } from "./strategies/tlsf/index.js";
export {
  type BlockLayout,
  blockSpan,
  type FootprintFloor,
  footprintFloor,
  NO_HEADER_LAYOUT,
} from "./trace/floor.js";
export {
  type ReplayBlocks,
  type ReplayOptions,
  type ReplayResult,
  ReplayVerifyError,
  replay,
} from "./trace/replay.js";
export {
  OP_ALLOC,
  OP_FREE,
  OP_REALLOC,
  parseTrace,
  type Trace,
  TraceBuilder,
  TraceFormatError,
  TraceParser,
} from "./trace/trace.js";
export { Box, box } from "./typed/box.js";
export { getDefaultAllocator, setDefaultAllocator } from "./typed/global.js";
export {
  allocSliceCopy,
  allocStr,
  leak,
  readString,
  Slice,
  writeString,
} from "./typed/place.js";
export { DISPOSE } from "./typed/raw.js";
export { addressOf, type StructRef } from "./typed/ref.js";
export type { ElementOf, Scalar, ScalarArray, ScalarValue } from "./typed/scalars.js";
export {
  type AnyStruct,
  type ArrayType,
  array,
  type FieldInfo,
  type Fields,
  type FieldsOf,
  type FieldType,
  type InitOf,
  type RefOf,
  type ScalarKeys,
  type StructInit,
  StructType,
  type StructValue,
  struct,
  type ValueOf,
} from "./typed/struct.js";
export { StructVec } from "./typed/struct-vec.js";
export { Vec } from "./typed/vec.js";
