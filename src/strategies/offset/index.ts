/** The OffsetAllocator's public face: the handle and the types of its report. */

export { OffsetAllocator, type OffsetAllocatorOptions } from "./offset-allocator.js";
export type { FreeBin, FreeSpaceReport } from "./report.js";
