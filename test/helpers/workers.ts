/** Bounded waits for worker_threads tests: nothing here can hang a test run. */

import type { Worker } from "node:worker_threads";

export type Msg = Record<string, unknown>;

/**
 * The next message of `w` (or its error / exit), within `ms`. With `rejectReported`, a
 * message carrying `error` (a worker reporting its own failure) rejects too.
 */
export function nextMessage(w: Worker, ms = 10_000, rejectReported = false): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(() => reject(new Error(`no message within ${ms} ms`))), ms);
    const onMsg = (m: Msg) =>
      done(() =>
        rejectReported && m.error ? reject(new Error(`${m.error}: ${m.message}`)) : resolve(m),
      );
    const onErr = (e: Error) => done(() => reject(e));
    const onExit = (code: number) => done(() => reject(new Error(`worker exited (${code})`)));
    function done(f: () => void) {
      clearTimeout(t);
      w.off("message", onMsg);
      w.off("error", onErr);
      w.off("exit", onExit);
      f();
    }
    w.on("message", onMsg);
    w.on("error", onErr);
    w.on("exit", onExit);
  });
}

/** Polls `cond` every few ms; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
