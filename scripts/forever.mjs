#!/usr/bin/env node
// Reruns the conformance kit with a new random seed each round until it fails (STYLE.md
// habit 8). Not part of CI. Usage: npm run forever [-- RUNS_PER_PROPERTY]
import { spawnSync } from "node:child_process";

const runs = process.argv[2] ?? "10000";
for (let round = 1; ; round++) {
  const seed = String((Math.random() * 2 ** 31) >>> 0);
  console.log(`round ${round}: MEMKIT_SEED=${seed} MEMKIT_RUNS=${runs}`);
  const r = spawnSync("npx", ["vitest", "run", "test/conformance"], {
    stdio: "inherit",
    env: { ...process.env, MEMKIT_SEED: seed, MEMKIT_RUNS: runs },
  });
  if (r.status !== 0) {
    console.log(`failed in round ${round}; replay with MEMKIT_SEED=${seed} MEMKIT_RUNS=${runs}`);
    process.exit(1);
  }
}
