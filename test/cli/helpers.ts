/** Shared by the CLI tests: a small recorded trace, and an in-memory `Io`. */

import type { Io } from "../../src/cli/main.js";
import { RecordingAllocator } from "../../src/compose/recording.js";
import { Heap } from "../../src/heap/index.js";

/**
 * The text of a small trace, recorded from a program that keeps up to 400 blocks of
 * 8 … 3,000 bytes alive and resizes some of them.
 */
export function smallTraceText(ops = 6000, seed = 99): string {
  const rec = new RecordingAllocator(new Heap(), { description: "a test program" });
  let x = seed;
  const rand = (n: number): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const live: number[] = [];
  while (rec.count < ops) {
    const r = rand(10);
    if (live.length < 400 && (r < 5 || live.length === 0)) {
      live.push(rec.alloc(8 + rand(3000)));
    } else if (r < 6) {
      const j = rand(live.length);
      live[j] = rec.realloc(live[j], 8 + rand(6000), 16);
    } else {
      const j = rand(live.length);
      rec.dealloc(live[j]);
      live[j] = live[live.length - 1];
      live.pop();
    }
  }
  return rec.toText();
}

export interface CapturedIo extends Io {
  out(): string;
  err(): string;
}

/** An `Io` whose output is kept in strings. */
export function captureIo(root: string, cwd: string, isTTY = false): CapturedIo {
  let out = "";
  let err = "";
  return {
    stdout: {
      write: (s: string) => {
        out += s;
        return true;
      },
    },
    stderr: {
      isTTY,
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    root,
    cwd,
    out: () => out,
    err: () => err,
  };
}
