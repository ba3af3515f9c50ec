/** BumpAllocator: the public surface of the folder (see allocator.ts). */

export { BumpAllocator, type BumpOptions } from "./allocator.js";
