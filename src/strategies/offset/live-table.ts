/**
 * The OffsetAllocator's live table: from the offset of a used block to its node, so that
 * `dealloc(offset)` finds the node without the caller handing it back (Aaltonen's design
 * returns the node index with the offset; memkit's contract frees by offset alone).
 *
 * A hash table with chaining through the nodes themselves (their LIVE_NEXT word), in an
 * `Int32Array` of chain heads:
 *
 *     heads[c]    the first node of chain c (NONE: the chain is empty)
 *     c           = (OFFSET × 0x9E3779B1) >>> SHIFT    Fibonacci hashing: the top
 *                   32 − SHIFT bits of the product, so offsets in arithmetic progression
 *                   (blocks of one size side by side) spread over every chain
 *     counts      word 0 COUNT   used nodes in the table
 *                 word 1 SHIFT   32 − log2(chains)
 *
 * The table doubles (every chain rehashed, one pass over the used nodes) when COUNT would
 * pass the number of chains, so the load stays ≤ 1 and a lookup reads ~1.5 nodes on average:
 * O(1) expected, amortised over the doublings.
 */

import { LIVE_NEXT, NODE_SHIFT, NONE, OFFSET } from "./nodes.js";

const COUNT = 0;
const SHIFT = 1;
/** The golden-ratio multiplier of Fibonacci hashing (2^32 / φ, odd). */
const FIBONACCI = 0x9e3779b1;
/** Chains a new table starts with, as log2. */
const INITIAL_CHAINS_LOG2 = 6;

/** Offset → used node. @internal (the OffsetAllocator's own part) */
export class LiveTable {
  /** Chain heads; replaced when the table grows. */
  heads: Int32Array;
  /** COUNT and SHIFT. */
  readonly counts = new Int32Array(2);

  constructor() {
    this.heads = new Int32Array(1 << INITIAL_CHAINS_LOG2);
    this.counts[SHIFT] = 32 - INITIAL_CHAINS_LOG2;
  }

  /** Used nodes in the table. */
  get count(): number {
    return this.counts[COUNT];
  }

  /** The chain a block at `offset` (granules) hashes to. */
  chainOf(offset: number): number {
    return Math.imul(offset, FIBONACCI) >>> this.counts[SHIFT];
  }

  /** The used node at `offset` (granules), or NONE. `w` is the node pool's words. */
  find(w: Int32Array, offset: number): number {
    let n = this.heads[this.chainOf(offset)];
    while (n !== NONE && w[(n << NODE_SHIFT) + OFFSET] !== offset) {
      n = w[(n << NODE_SHIFT) + LIVE_NEXT];
    }
    return n;
  }

  /** Adds used node `n` (its OFFSET set), doubling the table first when it is full. */
  insert(w: Int32Array, n: number): void {
    const c = this.counts;
    if (c[COUNT] >= this.heads.length) this.grow(w);
    const at = n << NODE_SHIFT;
    const chain = this.chainOf(w[at + OFFSET]);
    w[at + LIVE_NEXT] = this.heads[chain];
    this.heads[chain] = n;
    c[COUNT]++;
  }

  /**
   * Removes used node `n` (found by `find` just before). False, changing nothing, when its
   * chain does not hold it: the table is corrupt.
   */
  remove(w: Int32Array, n: number): boolean {
    const at = n << NODE_SHIFT;
    const chain = this.chainOf(w[at + OFFSET]);
    const next = w[at + LIVE_NEXT];
    let p = this.heads[chain];
    if (p === n) {
      this.heads[chain] = next;
    } else {
      let q = p === NONE ? NONE : w[(p << NODE_SHIFT) + LIVE_NEXT];
      while (q !== n) {
        if (q === NONE) return false;
        p = q;
        q = w[(p << NODE_SHIFT) + LIVE_NEXT];
      }
      w[(p << NODE_SHIFT) + LIVE_NEXT] = next;
    }
    w[at + LIVE_NEXT] = NONE;
    this.counts[COUNT]--;
    return true;
  }

  /** Empties the table (its size stays). */
  clear(): void {
    this.heads.fill(NONE);
    this.counts[COUNT] = 0;
  }

  /** Doubles the chains and rehashes; when the engine refuses the memory, the load passes 1. */
  private grow(w: Int32Array): void {
    const old = this.heads;
    let heads: Int32Array;
    try {
      heads = new Int32Array(old.length * 2);
    } catch {
      return;
    }
    this.heads = heads;
    this.counts[SHIFT]--;
    for (let c = 0; c < old.length; c++) {
      let n = old[c];
      while (n !== NONE) {
        const at = n << NODE_SHIFT;
        const next = w[at + LIVE_NEXT];
        const chain = this.chainOf(w[at + OFFSET]);
        w[at + LIVE_NEXT] = heads[chain];
        heads[chain] = n;
        n = next;
      }
    }
  }
}
