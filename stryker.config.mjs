// Mutation testing (issue 13): `npm run mutate` mutates the default path (TLSF, Heap, the
// argument checks, the allocator base) and runs the tests that cover it against every
// mutant. Not part of CI: it takes hours of CPU. On a shared machine run one file at a time:
//
//   npm run mutate -- --mutate src/core/validate.ts
//
// The report is written to reports/mutation/ (ignored by git); the score goes in README.md.

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  mutate: [
    "src/strategies/tlsf/*.ts",
    "!src/strategies/tlsf/registration.ts",
    "!src/strategies/tlsf/index.ts",
    "src/heap/heap.ts",
    "src/core/validate.ts",
    "src/core/allocator.ts",
  ],
  coverageAnalysis: "perTest",
  concurrency: 1,
  timeoutMS: 60_000,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: "reports/mutation/index.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
