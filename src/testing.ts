/**
 * `memkit/testing`: hooks for testing code built on memkit (and memkit itself), kept out of
 * the public entry point: the pause points a SharedHeap test arms (`heap.armPause(point)`)
 * to stop an agent between the steps of a call, and one agent's handle on the shared
 * heap's small-block caches.
 */

export { PageCache } from "./shared/cache.js";
export { PAUSE_POINTS, type PausePoint } from "./shared/control.js";
