import { defineConfig } from "vitest/config";

/**
 * The tests `npm run mutate` runs against every mutant of the default path: the unit tests of
 * core, TLSF and the heap, and the conformance kit on TLSF and Heap (fewer runs: a mutant
 * the kit catches at all is caught in its first hundred programs). See stryker.config.mjs.
 *
 * `MEMKIT_MUTATE_TESTS=allocator` adds the tests of what `src/core/allocator.ts` serves
 * beyond the default path (carved children, memories without bytes, the slab's metadata
 * placed in its parent); the score of a run names the set it used.
 *
 * `MEMKIT_MUTATE_TESTS=tlsf` runs only TLSF's own tests (test/strategies/tlsf/): a quicker
 * run on a loaded machine for the files they test on their own (check.ts's walker), whose
 * kills are a subset of the default set's.
 */
const DEFAULT_PATH = [
  "test/core/**/*.test.ts",
  "test/strategies/tlsf/**/*.test.ts",
  "test/heap.test.ts",
  "test/heap/**/*.test.ts",
  "test/memory/wasm-grow.test.ts",
  "test/compose/hardened.test.ts",
  "test/conformance/tlsf-heap.mutate.ts",
];

const SETS: Record<string, string[]> = {
  default: DEFAULT_PATH,
  tlsf: ["test/strategies/tlsf/**/*.test.ts"],
  allocator: [
    ...DEFAULT_PATH,
    "test/compose/child.test.ts",
    "test/memory/*.test.ts",
    "test/strategies/slab/slab.test.ts",
  ],
};

const set = process.env.MEMKIT_MUTATE_TESTS ?? "default";
const include = SETS[set];
if (include === undefined) {
  throw new Error(`MEMKIT_MUTATE_TESTS=${set}: no such test set (${Object.keys(SETS).join(", ")})`);
}

export default defineConfig({
  test: {
    include,
    testTimeout: 120_000,
    pool: "forks",
    env: { MEMKIT_RUNS: "100" },
  },
});
