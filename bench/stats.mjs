// The statistics the benchmark shares with `memkit replay`: src/cli/stats.ts, from the build.

import { dist } from "./paths.mjs";

export const { bootstrap, median, quantile, shift, spread, verdict } = await import(
  dist("cli/stats.js")
);
