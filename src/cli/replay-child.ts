/// <reference types="node" />
/**
 * The process of one allocator in `memkit replay` (replays.ts forks it): reads the trace, runs
 * `measureAllocator` and sends the result, with progress on the way. Message in:
 * `{ path, name, verify }`; out: `{ type: "progress", … }`, then `{ type: "result",
 * measured }` or `{ type: "error", error }`.
 */

import { measureAllocator } from "./replays.js";
import { readTraceFile } from "./trace-file.js";

interface Job {
  readonly path: string;
  readonly name: string;
  readonly verify: boolean;
}

const send = (m: object): Promise<void> =>
  new Promise((resolve) => {
    process.send?.(m, undefined, undefined, () => resolve());
  });

process.once("message", async (job: Job) => {
  try {
    const trace = await readTraceFile(job.path);
    let last = -1;
    const measured = measureAllocator(trace, job.name, job.verify, (run, runs, done, total) => {
      const pct = Math.floor((100 * done) / total);
      if (pct === last) return;
      last = pct;
      process.send?.({ type: "progress", run, runs, done, total });
    });
    await send({ type: "result", measured });
  } catch (e) {
    await send({ type: "error", error: (e as Error).message });
  }
  process.disconnect();
});
