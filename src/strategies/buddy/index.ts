/** BuddyAllocator: the public surface of the folder (see allocator.ts). */

export { BuddyAllocator } from "./allocator.js";
export { type BuddyOptions, buddyOrder } from "./layout.js";
