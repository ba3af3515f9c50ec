/**
 * The checks ChainAllocator makes of its members when it is built (chain.ts): one pointer
 * space, regions that do not overlap unless one member was carved from another, and the
 * memory that contains them all; and the names its messages give them.
 */

import type { Allocator } from "../core/allocator.js";
import { ArgumentRangeError, ArgumentTypeError } from "../core/errors.js";
import type { Memory } from "../memory/memory.js";
import { carvingOf } from "./child.js";

export function nameOf(a: Allocator): string {
  const name = (a as { name?: unknown }).name;
  return typeof name === "string" ? name : "allocator";
}

/** `[start, maxEnd)` of a memory: every address it holds now or after growing. */
export function span(memory: Memory): string {
  return `[${memory.start}, ${memory.maxEnd})`;
}

export function overlaps(a: Memory, b: Memory): boolean {
  return a.start < b.maxEnd && b.start < a.maxEnd && a.start < a.maxEnd && b.start < b.maxEnd;
}

export function contains(outer: Memory, inner: Memory): boolean {
  return outer.start <= inner.start && inner.maxEnd <= outer.maxEnd;
}

/** Whether `child`'s region was carved, directly or through other carvings, from `parent`. */
export function carvedFrom(child: Allocator, parent: Allocator): boolean {
  let c = carvingOf(child.memory);
  for (let guard = 0; c !== undefined && guard < 1000; guard++) {
    if (c.parent === parent) return true;
    c = carvingOf(c.parent.memory);
  }
  return false;
}

/** All members in one pointer space: one buffer, or all offset-only (see the header). */
export function checkOneSpace(list: readonly Allocator[], memory: Memory | undefined): void {
  const all =
    memory === undefined
      ? list.map((member) => member.memory)
      : [memory, ...list.map((member) => member.memory)];
  const first = all[0];
  first.refresh();
  for (let i = 1; i < all.length; i++) {
    const other = all[i];
    if (other.hasBytes !== first.hasBytes) {
      throw new ArgumentTypeError(
        "ChainAllocator: memories with bytes and offset-only memories cannot be chained " +
          "(their pointers are not in one space)",
        "ERR_MEMORY",
      );
    }
    other.refresh();
    if (other.hasBytes && other.buffer !== first.buffer) {
      throw new ArgumentRangeError(
        "ChainAllocator: every member must be over the same buffer (regions of one memory, " +
          "or children carved from one parent), so that their pointers are comparable",
        "ERR_MEMORY",
      );
    }
  }
}

/** The memory of a member whose region contains every other member's (the last such). */
export function containingMemory(list: readonly Allocator[]): Memory {
  for (let i = list.length - 1; i >= 0; i--) {
    const outer = list[i].memory;
    if (list.every((member) => contains(outer, member.memory))) return outer;
  }
  throw new ArgumentTypeError(
    "ChainAllocator: no member's region contains all the others: pass { memory }, the " +
      "memory the members' regions were taken from",
    "ERR_MEMORY",
  );
}
