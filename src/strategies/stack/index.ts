/** StackAllocator: the public surface of the folder (see allocator.ts). */

export { StackAllocator, type StackOptions } from "./allocator.js";
