/** The default heap, made on first use. */

import { Heap } from "./heap.js";

let defaultHeap: Heap | undefined;

/** The ready default heap (made on first use: 64 KiB, growing to 1 GiB). */
export function getDefaultHeap(): Heap {
  defaultHeap ??= new Heap();
  return defaultHeap;
}
