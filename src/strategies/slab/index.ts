/** SlabAllocator: the public surface of the folder (see allocator.ts). */

export { SlabAllocator, type SlabClassStats, type SlabOptions } from "./allocator.js";
