import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The long files first: the conformance kit's and the trace replays. Without vitest's cache
 * of durations (a fresh clone, as in CI) the default order is the larger files first, which
 * would start the kit's short registry files last and leave one worker running them alone.
 */
class LongFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const long = (f: TestSpecification) =>
      /\.conformance\.test\.ts$|[\\/]traces[\\/]/.test(f.moduleId);
    return [...sorted.filter(long), ...sorted.filter((f) => !long(f))];
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One build of the library for every test that runs the built JavaScript.
    globalSetup: ["test/global-setup.ts"],
    sequence: { sequencer: LongFirst },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
