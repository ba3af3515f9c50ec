/** FreeListAllocator: the public surface of the folder (see allocator.ts). */

export { FreeListAllocator } from "./allocator.js";
export type { FitPolicy, FreeListOptions } from "./layout.js";
