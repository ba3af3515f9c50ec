// The built library as the bench uses it: its entry point (`mk`: every class a row makes), the
// strategy registry (src/registry.ts) and how `memkit replay` builds an allocator for a trace
// (src/cli/allocators.ts), from dist/ (`npm run bench` builds it first).

import { dist } from "./paths.mjs";

export const mk = await import(dist("index.js"));
export const { configurations } = await import(dist("registry.js"));
export const { traceAllocator } = await import(dist("cli/allocators.js"));
