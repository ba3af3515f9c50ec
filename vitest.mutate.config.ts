import { defineConfig } from "vitest/config";

/**
 * The tests `npm run mutate` runs against every mutant of the default path: the unit tests of
 * core, TLSF and the heap, and the conformance kit on TLSF and Heap (fewer runs: a mutant
 * the kit catches at all is caught in its first hundred programs). See stryker.config.mjs.
 */
export default defineConfig({
  test: {
    include: [
      "test/core/**/*.test.ts",
      "test/strategies/tlsf/**/*.test.ts",
      "test/heap.test.ts",
      "test/heap/**/*.test.ts",
      "test/memory/wasm-grow.test.ts",
      "test/compose/hardened.test.ts",
      "test/conformance/tlsf-heap.mutate.ts",
    ],
    testTimeout: 120_000,
    pool: "forks",
    env: { MEMKIT_RUNS: "100" },
  },
});
