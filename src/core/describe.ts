/**
 * Readable state for every allocator: the one-line summary `console.log` and `util.inspect`
 * print instead of an allocator's raw fields, and the multi-line `dump()`.
 *
 * Browser-safe: the hook is the registered symbol `Symbol.for("nodejs.util.inspect.custom")`,
 * which Node's `util.inspect` (and so `console.log`) looks up, without importing `node:util`.
 * Elsewhere the symbol is an ordinary property key nobody reads.
 *
 *     TlsfAllocator { capacity 64 KiB, in use 1536 B in 12 blocks, free 62 KiB
 *       (largest 62 KiB, fragmentation 0%), overhead 512 B, peak 2048 B, ok }
 *
 * (one line when printed). The figures are `stats()`'s; fragmentation is the share of free
 * bytes outside the largest free block, `1 − largestFree / free` (0 when nothing is free): 0%
 * means any free byte can serve one request, 90% that the free space is in small pieces. A
 * heap whose `stats()` throws prints why instead (`poisoned`, `dropped`, …), so printing
 * never throws.
 */

import type { AllocatorStats } from "./allocator.js";

/** The key `util.inspect` and `console.log` look up on an object to print it. */
export const INSPECT: unique symbol = Symbol.for("nodejs.util.inspect.custom") as never;

/** What a summary needs: anything with `stats()`. */
export interface Describable {
  stats(): AllocatorStats;
}

/** `n` bytes for people: exact below 10 KiB, else KiB/MiB/GiB with up to one decimal. */
export function formatBytes(n: number): string {
  if (n < 10 * 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, "");
  return `${text} ${units[u]}`;
}

/** The share of free bytes outside the largest free block, 0 … 1. */
export function fragmentation(s: AllocatorStats): number {
  if (!(s.free > 0)) return 0;
  return Math.min(1, Math.max(0, 1 - s.largestFree / s.free));
}

function percent(x: number): string {
  const p = x * 100;
  return `${p === 0 || p >= 10 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** Why `stats()` failed, in a word or two (the error's code says which). */
function stateOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "ERR_HEAP_POISONED" || code === "ERR_HEAP_CORRUPTED") return "poisoned";
  if (code === "ERR_DESTROYED") return "dropped";
  if (typeof code === "string") return `unreadable: ${code}`;
  return `unreadable: ${e instanceof Error ? e.message : String(e)}`;
}

/** `stats()`, or the reason it cannot be read. */
function readStats(a: Describable): AllocatorStats | string {
  try {
    return a.stats();
  } catch (e) {
    return stateOf(e);
  }
}

/** The one-line summary: `Kind { capacity …, in use … in N blocks, free … (largest …, fragmentation …), … }`. */
export function summarize(kind: string, a: Describable): string {
  const s = readStats(a);
  if (typeof s === "string") return `${kind} { ${s} }`;
  const blocks = `${s.liveBlocks} block${s.liveBlocks === 1 ? "" : "s"}`;
  return (
    `${kind} { capacity ${formatBytes(s.capacity)}, in use ${formatBytes(s.inUse)} in ${blocks}, ` +
    `free ${formatBytes(s.free)} (largest ${formatBytes(s.largestFree)}, ` +
    `fragmentation ${percent(fragmentation(s))}), overhead ${formatBytes(s.overhead)}, ` +
    `peak ${formatBytes(s.peakInUse)}, ok }`
  );
}

/**
 * The state one figure a line, exact bytes (stalloc's `{GLOBAL:?}`); `detail` lines (the
 * members of a chain, the inner allocator of a wrapper) follow, indented by two spaces.
 *
 *     TlsfAllocator: 65536 bytes, ok
 *       in use     1536 bytes in 12 blocks (peak 2048)
 *       free       63488 bytes, largest free block 63488 (fragmentation 0%)
 *       overhead   512 bytes
 */
export function dumpState(kind: string, a: Describable, detail: readonly string[] = []): string {
  const s = readStats(a);
  const lines: string[] = [];
  if (typeof s === "string") {
    lines.push(`${kind}: ${s}`);
  } else {
    lines.push(
      `${kind}: ${s.capacity} bytes, ok`,
      `  in use     ${s.inUse} bytes in ${s.liveBlocks} block${s.liveBlocks === 1 ? "" : "s"} (peak ${s.peakInUse})`,
      `  free       ${s.free} bytes, largest free block ${s.largestFree} (fragmentation ${percent(fragmentation(s))})`,
      `  overhead   ${s.overhead} bytes`,
    );
  }
  for (const d of detail) for (const line of d.split("\n")) lines.push(`  ${line}`);
  return lines.join("\n");
}

/** The `name` an allocator gives itself, else `fallback`. */
export function kindOf(a: unknown, fallback: string): string {
  const name = (a as { name?: unknown } | null)?.name;
  return typeof name === "string" && name !== "" ? name : fallback;
}

/** The allocator's `dump()` when it has one, else its generic dump. */
export function dumpOf(a: Describable): string {
  const f = (a as { dump?: unknown }).dump;
  return typeof f === "function" ? String(f.call(a)) : dumpState(kindOf(a, "allocator"), a);
}
