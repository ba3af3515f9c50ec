/** TLSF: the public surface of the folder (see allocator.ts). */

export { TlsfAllocator, type TlsfOptions } from "./allocator.js";
