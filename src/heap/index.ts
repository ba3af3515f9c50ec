/** The default allocator: `Heap` (heap.ts), its typed arrays (array.ts), the default heap. */

export { HeapArray, type TypedArray, type TypedArrayConstructor } from "./array.js";
export { getDefaultHeap } from "./default.js";
export { byteLengthUtf8, Heap, type HeapOptions } from "./heap.js";
