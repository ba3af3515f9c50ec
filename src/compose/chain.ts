/**
 * ChainAllocator: try the first allocator, fall back to the next when it is out of memory
 * (stalloc's `AllocChain`, `SyncStalloc::new().chain(&System)`). `dealloc`, `realloc` and
 * `usableSize` go to the member that owns the pointer (`owns(ptr)`, O(1) in every strategy).
 *
 * Choose it to put a fast, bounded allocator in front of a general one: a bump arena or a
 * pool of one object size that serves most requests, with a TLSF heap behind it for
 * whatever does not fit; or several fixed regions tried in order. The chain keeps no state
 * of its own: it is a list of members, checked once at construction.
 *
 *     const arena = childOf(heap, 64 * 1024, (region) => new BumpAllocator(region));
 *     const chain = new ChainAllocator([arena, heap]); // arena first, the heap when it is full
 *
 * ## One pointer space
 * Pointers of different members are compared by address, so the members must live in one
 * pointer space, without ambiguity. The constructor checks (else RangeError ERR_MEMORY, or
 * TypeError for a mix of memories with and without bytes):
 * - every member's memory has bytes and all of them are over the same buffer (regions of
 *   one memory: `memory.region(…)`, or children carved with `carve`/`childOf`), or every
 *   member's memory is offset-only (then their offset ranges are the one space);
 * - no two members' regions `[start, maxEnd)` overlap (the most a growable one can reach),
 *   except a child inside its parent: a member whose region was carved (`carve`/`childOf`,
 *   directly or through other carvings) from a block of a LATER member. Ownership then
 *   picks the child for pointers in its region and the parent for the rest, because
 *   members are asked in order and the child's region is one live block of the parent;
 * - the chain's `memory` contains every member's region: `options.memory`, or by default
 *   the memory of a member whose region contains all the others (the parent of nested
 *   children). Disjoint regions of one memory need `{ memory }`.
 *
 *     disjoint:  | header | member 0: Bump region | member 1: TLSF region …         |
 *                ^ chain memory start          (pointers in a region go to its member) end ^
 *
 *     nested:    | TLSF header | … | TLSF block = member 0's region | … TLSF blocks … |
 *                                  (member 0: a child, asked first)   (member 1: the TLSF)
 *
 * ## Rules
 * - `alloc`/`allocZeroed`/`allocate` validate size and alignment once, before any member
 *   is asked, so a rejected call changes no member. Members are then asked in order; 0
 *   (out of memory) moves on to the next. A member that refuses a valid request it can
 *   never serve (a pool asked for an alignment above its blocks': RangeError
 *   ERR_ALLOC_ALIGN / ERR_ALLOC_SIZE, thrown before it changed anything) is skipped like
 *   one out of memory; only when every member refused is the first refusal thrown. Any other
 *   error (poisoned or dropped member) propagates.
 * - `dealloc(ptr, size)` and `usableSize(ptr)` go to the first member that owns `ptr`; none
 *   → `InvalidPointerError` ERR_FOREIGN_POINTER, nothing changed. The owner checks the rest.
 * - `realloc(ptr, newSize, align, oldSize?)` validates, then asks the owner (resize in
 *   place or move within it). When the owner answers 0, the block moves to another member
 *   (in chain order): alloc there, copy min(old size, newSize) bytes, dealloc from the
 *   owner. The old size is the owner's `usableSize`, else `oldSize` (passed through to
 *   owners that need it, like BlockAllocator); a block whose size nobody knows (a Bump
 *   block other than the newest) cannot move and the answer is 0, the block untouched.
 * - `stats()` sums the members' figures; `capacity` is the chain memory's, so gaps between
 *   regions and members' headers are overhead. A nested member's region is one live block
 *   of its parent: its bytes are counted once (the parent's in-use bytes and live blocks
 *   exclude it), so `liveBlocks` counts only blocks handed out through the members.
 *   `peakInUse` is the sum of the members' peaks (less nested regions): an upper bound of
 *   the chain's own peak, which no member records.
 *   `largestFree` is the largest of the members'.
 * - `check()` checks every member, and that each nested member's region is still a live
 *   block of its parent (a parent reset under a live child is reported as corruption).
 * - Corruption a member reports (`HeapCorruptedError`, from `check()` or any call) poisons
 *   the chain: every later call throws `HeapPoisonedError`, even one another member could
 *   serve (a child inside a corrupt parent's block cannot be trusted either).
 * - `reset()` resets every member in order. With nested members it throws ERR_UNSUPPORTED
 *   and changes nothing: resetting the parent would free the child's region under it;
 *   reset the members you mean, or drop the child first.
 *
 * ## Cost (k members)
 * | operation        | best                     | worst                                       |
 * | ---------------- | ------------------------ | ------------------------------------------- |
 * | alloc            | first member's alloc     | every member's alloc                        |
 * | dealloc, usableSize | one owns + the owner's | k owns + the owner's                        |
 * | realloc          | owns + owner's realloc   | + owner's usableSize, k allocs, copy, dealloc |
 * | stats, check, reset | k × the member's       |                                             |
 *
 * No memory of its own: no header, no per-block overhead beyond the members'. The hot
 * path allocates no JS object (a `try` around each member's call costs nothing unless a
 * member throws). Measured (W1-like alloc/free pairs of 8–63 bytes, 256 live, Node 20, a
 * loaded 2-core machine): a 64-byte pool alone ~13 ns per pair, the same pool as the
 * first member of a chain in front of a TLSF ~26–30 ns; a TLSF alone ~100 ns, as the only
 * member of a chain ~113 ns. The cost is the call through the member list and `owns`.
 *
 * ## Invariants (`check()`)
 * Every member's own `check()`; every nested member's carving is unreleased and its block
 * is live in its parent with at least the region's bytes. The pointer-space conditions above
 * hold from construction on (memories never shrink, regions never move).
 */

import {
  type Allocator,
  type AllocatorStats,
  deallocateLayout,
  isAllocator as isAnAllocator,
  orOutOfMemory,
} from "../core/allocator.js";
import { dumpOf, dumpState, INSPECT, summarize } from "../core/describe.js";
import {
  AllocatorError,
  ArgumentRangeError,
  ArgumentTypeError,
  DoubleFreeError,
  HeapCorruptedError,
  HeapPoisonedError,
  InvalidPointerError,
} from "../core/errors.js";
import { type Allocation, Layout } from "../core/layout.js";
import {
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
  outOfRangeSize,
  rejectAlign,
  rejectPointer,
  rejectSize,
} from "../core/validate.js";
import { Memory } from "../memory/memory.js";
import {
  carvedFrom,
  checkOneSpace,
  containingMemory,
  contains,
  nameOf,
  overlaps,
  span,
} from "./chain-members.js";
import { carvingOf } from "./child.js";

export interface ChainOptions {
  /**
   * The memory the chain reports as its own (`memory`, `stats().capacity`): it must contain
   * every member's region. Default: the memory of a member whose region contains all the
   * others' (the parent of nested children).
   */
  memory?: Memory;
}

/** `realloc` with the old size as a fourth argument (BlockAllocator needs it; others ignore it). */
type SizedRealloc = (ptr: number, newSize: number, align?: number, oldSize?: number) => number;

/** What the chain answers when every member it asked refused the request outright. */
const ALL_REFUSED = -1;

/** A member's refusal of a valid request it can never serve: skip it like one out of memory. */
function isRefusal(e: unknown): boolean {
  return (
    e instanceof ArgumentRangeError && (e.code === "ERR_ALLOC_ALIGN" || e.code === "ERR_ALLOC_SIZE")
  );
}

/** Whether `x` is an allocator (core's `isAllocator`) whose memory is one of memkit's. */
export function isAllocator(x: unknown): x is Allocator {
  return isAnAllocator(x) && x.memory instanceof Memory;
}

export class ChainAllocator implements Allocator {
  /** `"ChainAllocator"`, as messages and `console.log` show it. */
  readonly name = "ChainAllocator";
  /** The memory the blocks live in (the wrapped allocator's). */
  readonly memory: Memory;
  /** The members, in the order they are asked. */
  readonly members: readonly Allocator[];
  /** 1 where the member's region is a carved block of a later member. */
  private readonly nested: Uint8Array;
  private readonly anyNested: boolean;
  /** The first refusal of the last `allocIn` that returned ALL_REFUSED (thrown by callers). */
  private refusal: unknown = undefined;
  /** The first corruption a member reported: the chain is poisoned when it is not "". */
  private poison = "";

  constructor(members: readonly Allocator[], options: ChainOptions = {}) {
    if (!Array.isArray(members) || members.length === 0) {
      throw new ArgumentTypeError("ChainAllocator needs a non-empty array of allocators");
    }
    const list = members.slice();
    for (let i = 0; i < list.length; i++) {
      if (!isAllocator(list[i])) {
        throw new ArgumentTypeError(`ChainAllocator: member ${i} is not an Allocator`);
      }
      if (list.indexOf(list[i]) !== i) {
        throw new ArgumentTypeError(`ChainAllocator: member ${i} appears twice`);
      }
    }
    const memory = options.memory;
    if (memory !== undefined && !(memory instanceof Memory)) {
      throw new ArgumentTypeError("ChainAllocator: options.memory must be a Memory");
    }
    checkOneSpace(list, memory);
    this.nested = new Uint8Array(list.length);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i];
        const b = list[j];
        if (!overlaps(a.memory, b.memory)) continue;
        if (carvedFrom(a, b)) {
          this.nested[i] = 1;
          continue;
        }
        if (carvedFrom(b, a)) {
          throw new ArgumentRangeError(
            `ChainAllocator: member ${j} (${nameOf(b)}) was carved from member ${i} ` +
              `(${nameOf(a)}): a child must come before its parent in the chain`,
            "ERR_MEMORY",
          );
        }
        throw new ArgumentRangeError(
          `ChainAllocator: the regions of member ${i} (${nameOf(a)}, ${span(a.memory)}) and ` +
            `member ${j} (${nameOf(b)}, ${span(b.memory)}) overlap, so a pointer could not ` +
            "be told apart; give each member its own region of the memory, or carve one from " +
            "the other (carve/childOf) and put the child first",
          "ERR_MEMORY",
        );
      }
    }
    this.anyNested = this.nested.includes(1);
    this.memory = memory ?? containingMemory(list);
    for (let i = 0; i < list.length; i++) {
      if (!contains(this.memory, list[i].memory)) {
        throw new ArgumentRangeError(
          `ChainAllocator: member ${i}'s region ${span(list[i].memory)} is not inside the ` +
            `chain's memory ${span(this.memory)}`,
          "ERR_MEMORY",
        );
      }
    }
    this.members = Object.freeze(list);
  }

  // ---- allocation --------------------------------------------------------------------------

  alloc(size: number, align: number = DEFAULT_ALIGN): number {
    if (!isUint32(size)) {
      rejectSize(size);
      return 0; // a valid integer ≥ 2^32: no member can hold it
    }
    if (align !== DEFAULT_ALIGN && !isValidAlign(align)) rejectAlign(align);
    const p = this.allocIn(size, align, false, null);
    if (p === ALL_REFUSED) this.throwRefusal();
    return p;
  }

  allocZeroed(size: number, align: number = DEFAULT_ALIGN): number {
    if (!isUint32(size)) return outOfRangeSize(size);
    if (align !== DEFAULT_ALIGN && !isValidAlign(align)) rejectAlign(align);
    const p = this.allocIn(size, align, true, null);
    if (p === ALL_REFUSED) this.throwRefusal();
    return p;
  }

  allocate(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocate takes a Layout");
    return this.allocateIn(layout, false);
  }

  allocateZeroed(layout: Layout): Allocation | null {
    if (!(layout instanceof Layout)) throw new ArgumentTypeError("allocateZeroed takes a Layout");
    return this.allocateIn(layout, true);
  }

  allocOrThrow(size: number, align: number = DEFAULT_ALIGN): number {
    const what = "ChainAllocator: every member is out of memory";
    return orOutOfMemory(this.alloc(size, align), what, size, align);
  }

  // ---- by owner ----------------------------------------------------------------------------

  dealloc(ptr: number, size?: number): void {
    if (ptr === 0) return;
    if (!isUint32(ptr)) rejectPointer(ptr);
    const owner = this.ownerOf(ptr);
    try {
      owner.dealloc(ptr, size);
    } catch (e) {
      this.failed(e);
    }
  }

  deallocate(ptr: number, layout?: Layout): void {
    deallocateLayout(this, ptr, layout);
  }

  usableSize(ptr: number): number {
    if (!isUint32(ptr)) rejectPointer(ptr);
    const owner = this.ownerOf(ptr);
    try {
      return owner.usableSize(ptr);
    } catch (e) {
      return this.failed(e);
    }
  }

  owns(ptr: number): boolean {
    const ms = this.members;
    for (let i = 0; i < ms.length; i++) if (ms[i].owns(ptr)) return true;
    return false;
  }

  /** The member that owns `ptr` (the first that says so), or undefined. */
  memberOf(ptr: number): Allocator | undefined {
    const ms = this.members;
    for (let i = 0; i < ms.length; i++) if (ms[i].owns(ptr)) return ms[i];
    return undefined;
  }

  /** The owner of a pointer the caller validated as an integer; ERR_FOREIGN_POINTER if none. */
  private ownerOf(ptr: number): Allocator {
    if (this.poison !== "") this.throwPoisoned();
    const ms = this.members;
    for (let i = 0; i < ms.length; i++) if (ms[i].owns(ptr)) return ms[i];
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: no member of this ChainAllocator owns it (regions ` +
        `${ms.map((member) => `[${member.memory.start}, ${member.memory.end})`).join(", ")})`,
      "ERR_FOREIGN_POINTER",
    );
  }

  /**
   * Resizes in the owner when it can; else moves the block to another member (see the
   * header comment). `oldSize` is passed to the owner's realloc (BlockAllocator needs it).
   */
  realloc(ptr: number, newSize: number, align: number = DEFAULT_ALIGN, oldSize?: number): number {
    if (ptr === 0) return this.alloc(newSize, align);
    if (!isUint32(ptr)) rejectPointer(ptr);
    const owner = this.ownerOf(ptr);
    const fits = isUint32(newSize);
    if (!fits || newSize === 0 || (align !== DEFAULT_ALIGN && !isValidAlign(align))) {
      // Arguments no member takes (or a size no heap holds): the owner checks the pointer
      // first (a freed one throws), then throws for them, or answers 0 for the huge size.
      return (owner.realloc as SizedRealloc).call(owner, ptr, newSize, align, oldSize);
    }
    let refused: unknown;
    let q = 0;
    try {
      q = (owner.realloc as SizedRealloc).call(owner, ptr, newSize, align, oldSize);
    } catch (e) {
      if (!isRefusal(e)) this.failed(e);
      refused = e;
    }
    if (q !== 0 || !fits || this.members.length === 1) {
      if (refused !== undefined) throw refused;
      return q;
    }
    // The owner cannot hold it: move it to another member, if its size is known.
    let old = oldSize;
    try {
      old = owner.usableSize(ptr); // also validates ptr before anything else is touched
    } catch (e) {
      if (!(e instanceof AllocatorError && e.code === "ERR_UNSUPPORTED")) throw e;
    }
    if (old === undefined) {
      if (refused !== undefined) throw refused;
      return 0;
    }
    const to = this.allocIn(newSize, align, false, owner);
    if (to === ALL_REFUSED) {
      if (refused !== undefined) throw refused;
      return 0;
    }
    if (to === 0) return 0;
    const mem = this.memory;
    if (mem.hasBytes) {
      mem.refresh();
      mem.u8.copyWithin(to, ptr, ptr + Math.min(old, newSize));
    }
    try {
      owner.dealloc(ptr, oldSize);
    } catch (e) {
      this.ownerOf(to).dealloc(to, newSize); // put the new block back: the call changed nothing
      throw e;
    }
    return to;
  }

  // ---- the whole chain ---------------------------------------------------------------------

  /** Resets every member; throws ERR_UNSUPPORTED (nothing changed) when members are nested. */
  reset(): void {
    if (this.anyNested) {
      throw new AllocatorError(
        "ChainAllocator: cannot reset a chain with a child carved from another member " +
          "(resetting the parent would free the child's region under it): reset the members " +
          "one by one, or drop the child first",
        "ERR_UNSUPPORTED",
      );
    }
    for (const member of this.members) member.reset();
  }

  /** @returns the figures of the allocator now (see {@link AllocatorStats}) */
  stats(): AllocatorStats {
    if (this.poison !== "") this.throwPoisoned();
    const ms = this.members;
    let inUse = 0;
    let free = 0;
    let liveBlocks = 0;
    let peakInUse = 0;
    let largestFree = 0;
    for (let i = 0; i < ms.length; i++) {
      let s: AllocatorStats;
      try {
        s = ms[i].stats();
      } catch (e) {
        return this.failed(e);
      }
      inUse += s.inUse;
      free += s.free;
      liveBlocks += s.liveBlocks;
      peakInUse += s.peakInUse;
      if (s.largestFree > largestFree) largestFree = s.largestFree;
      if (this.nested[i] === 1) {
        // Its region is one live block of its parent, already counted there.
        inUse -= s.capacity;
        peakInUse -= s.capacity;
        liveBlocks -= 1;
      }
    }
    const mem = this.memory;
    mem.refresh();
    const capacity = mem.end - mem.start;
    return {
      capacity,
      inUse,
      free,
      overhead: capacity - inUse - free,
      liveBlocks,
      peakInUse: Math.max(peakInUse, inUse),
      largestFree,
    };
  }

  check(): void {
    if (this.poison !== "") this.throwPoisoned();
    const ms = this.members;
    try {
      // Regions first: a child whose block its parent freed has metadata nobody can trust.
      for (let i = 0; i < ms.length; i++) if (this.nested[i] === 1) this.checkNested(i);
      for (let i = 0; i < ms.length; i++) ms[i].check();
    } catch (e) {
      this.failed(e);
    }
  }

  /** Whether a member reported corruption (every call now throws `HeapPoisonedError`). */
  get poisoned(): boolean {
    return this.poison !== "";
  }

  /** Rethrows `e`, poisoning the chain first when it reports corruption. */
  private failed(e: unknown): never {
    if (e instanceof HeapCorruptedError && this.poison === "") this.poison = e.message;
    throw e;
  }

  private throwPoisoned(): never {
    throw new HeapPoisonedError(`ChainAllocator: poisoned (${this.poison}); no call can succeed`);
  }

  /** The one-line summary `console.log` and `util.inspect` print (core/describe.ts). */
  [INSPECT](): string {
    return summarize(`ChainAllocator of ${this.members.length}`, this);
  }

  /** The chain's figures, then each member's `dump()`, indented. */
  dump(): string {
    return dumpState(this.name, this, this.members.map(dumpOf));
  }

  /** The members' header and metadata bytes, one after another (for tests, as strategies'). */
  metadataBytes(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (const member of this.members) {
      const f = (member as { metadataBytes?: () => Uint8Array }).metadataBytes;
      if (typeof f === "function") parts.push(f.call(member));
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * Asks the members in order (skipping `skip`) for a validated request: the first non-zero
   * pointer, 0 when every member asked is out of memory or refused, or ALL_REFUSED when
   * every member asked refused (the first refusal is kept in `this.refusal`).
   */
  private allocIn(size: number, align: number, zeroed: boolean, skip: Allocator | null): number {
    if (this.poison !== "") this.throwPoisoned();
    const ms = this.members;
    let asked = 0;
    let refusals = 0;
    for (let i = 0; i < ms.length; i++) {
      const member = ms[i];
      if (member === skip) continue;
      asked++;
      let p = 0;
      try {
        p = zeroed ? member.allocZeroed(size, align) : member.alloc(size, align);
      } catch (e) {
        if (!isRefusal(e)) this.failed(e);
        if (refusals++ === 0) this.refusal = e;
        continue;
      }
      if (p !== 0) return p;
    }
    return asked > 0 && refusals === asked ? ALL_REFUSED : 0;
  }

  private allocateIn(layout: Layout, zeroed: boolean): Allocation | null {
    if (this.poison !== "") this.throwPoisoned();
    const ms = this.members;
    let first: unknown;
    let refusals = 0;
    for (let i = 0; i < ms.length; i++) {
      const member = ms[i];
      let a: Allocation | null = null;
      try {
        a = zeroed ? member.allocateZeroed(layout) : member.allocate(layout);
      } catch (e) {
        if (!isRefusal(e)) this.failed(e);
        if (refusals++ === 0) first = e;
        continue;
      }
      if (a !== null) return a;
    }
    if (refusals === ms.length) throw first;
    return null;
  }

  private throwRefusal(): never {
    const e = this.refusal;
    this.refusal = undefined;
    throw e;
  }

  /** A nested member's region must still be a live block of its parent. */
  private checkNested(i: number): void {
    const member = this.members[i];
    const c = carvingOf(member.memory);
    const where = `member ${i} (${nameOf(member)}) region [${member.memory.start}, ${member.memory.end})`;
    if (c === undefined || c.released) {
      throw new HeapCorruptedError(`ChainAllocator: ${where} was given back to its parent`);
    }
    let usable: number;
    try {
      usable = c.parent.usableSize(c.ptr);
    } catch (e) {
      if (e instanceof AllocatorError && e.code === "ERR_UNSUPPORTED") return;
      if (e instanceof InvalidPointerError || e instanceof DoubleFreeError) {
        throw new HeapCorruptedError(
          `ChainAllocator: ${where} is no longer a live block of its parent ` +
            `${nameOf(c.parent)} (was the parent reset while the child lived?): ${e.message}`,
        );
      }
      throw e;
    }
    if (usable < c.bytes) {
      throw new HeapCorruptedError(
        `ChainAllocator: ${where} is larger than its parent's block (${usable} bytes)`,
      );
    }
  }
}
