/** BlockAllocator: the public surface of the folder (see allocator.ts). */

export { BlockAllocator } from "./allocator.js";
export type { BlockOptions } from "./layout.js";
