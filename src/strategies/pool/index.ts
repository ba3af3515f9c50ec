/** PoolAllocator: the public surface of the folder (see allocator.ts). */

export { PoolAllocator, type PoolOptions } from "./allocator.js";
export { MAX_BLOCK_ALIGN, poolBlockAlign, poolBlockSize } from "./layout.js";
