/**
 * The OffsetAllocator's node pool: one out-of-line record per block, free or used, in an
 * `Int32Array`. Nothing about a block is ever stored in the bytes it describes.
 *
 * ## A node
 * Offsets and sizes are in granules (8 bytes), so a 4 GiB region needs only 29 bits and every
 * field is a non-negative int32. Node indices start at 1: index 0 is NONE, so a zeroed link
 * means "no node".
 *
 *     node n = words [n × NODE_WORDS, (n + 1) × NODE_WORDS) of `words`
 *
 *     word  0 OFFSET          block start / GRANULE
 *           1 SIZE            block size / GRANULE (≥ 1)
 *           2 BIN_PREV        free block: the node before it in its bin's list (NONE: head)
 *           3 BIN_NEXT        free block: the node after it in its bin's list (NONE: tail)
 *           4 NEIGHBOR_PREV   the block just below it in address order (NONE: the first)
 *           5 NEIGHBOR_NEXT   the block just above it in address order (NONE: the last)
 *           6 BIN             free block: the bin it is listed in
 *           7 STATE           SPARE (in the pool), FREE or USED
 *
 * The bin links and the neighbour links are kept apart: a free block is on both lists, a
 * used block only on the neighbour list (and in the live table, which holds its offset).
 *
 * ## The pool
 * Nodes 1 … TOP have been handed out at least once; those not describing a block now are
 * SPARE and their indices sit on the spare stack (`spare[0 … SPARE_COUNT)`), which
 * `acquire` pops before it takes TOP + 1. `reserve(k)` makes room for k more nodes, doubling
 * both arrays when full (one copy: amortised O(1) per node), so the kernel reserves what an
 * operation may need before it changes anything and `acquire` itself never fails.
 *
 *     counts   word 0 TOP           highest node index handed out
 *              word 1 SPARE_COUNT   entries on the spare stack
 */

/** Words per node, and its log2 (a node's first word is n << NODE_SHIFT). */
export const NODE_SHIFT = 3;
export const NODE_WORDS = 1 << NODE_SHIFT;

export const OFFSET = 0;
export const SIZE = 1;
export const BIN_PREV = 2;
export const BIN_NEXT = 3;
export const NEIGHBOR_PREV = 4;
export const NEIGHBOR_NEXT = 5;
export const BIN = 6;
export const STATE = 7;

/** "No node": index 0 is never handed out. */
export const NONE = 0;

/** Values of a node's STATE word. */
export const SPARE = 0;
export const FREE = 1;
export const USED = 2;

const TOP = 0;
const SPARE_COUNT = 1;

/** The default number of nodes a pool starts with. */
export const DEFAULT_NODE_CAPACITY = 256;
/** The most nodes a pool can hold: one per granule of a 4 GiB region, plus NONE. */
export const MAX_NODES = 2 ** 29 + 1;

/** The node records and the spare stack. @internal (the OffsetAllocator's own part) */
export class NodePool {
  /** The node records (index 0 unused); replaced when the pool grows. */
  words: Int32Array;
  /** The spare stack: indices of SPARE nodes; replaced when the pool grows. */
  spare: Int32Array;
  /** TOP and SPARE_COUNT. */
  readonly counts = new Int32Array(2);

  constructor(capacity: number) {
    this.words = new Int32Array((capacity + 1) << NODE_SHIFT);
    this.spare = new Int32Array(capacity + 1);
  }

  /** Nodes the arrays hold (index 0 excluded). */
  get capacity(): number {
    return (this.words.length >>> NODE_SHIFT) - 1;
  }

  /** Highest node index handed out since creation or `clear()`. */
  get top(): number {
    return this.counts[TOP];
  }

  /** Nodes on the spare stack. */
  get spareCount(): number {
    return this.counts[SPARE_COUNT];
  }

  /**
   * Makes sure `k` nodes can be acquired without growing. False, changing nothing, when the
   * arrays cannot grow (past MAX_NODES, or the engine refused the memory).
   */
  reserve(k: number): boolean {
    const c = this.counts;
    if (c[SPARE_COUNT] + this.capacity - c[TOP] >= k) return true;
    return this.grow(c[TOP] - c[SPARE_COUNT] + k);
  }

  private grow(need: number): boolean {
    const capacity = Math.min(MAX_NODES - 1, Math.max(need, this.capacity * 2));
    if (capacity < need) return false;
    let words: Int32Array;
    let spare: Int32Array;
    try {
      words = new Int32Array((capacity + 1) << NODE_SHIFT);
      spare = new Int32Array(capacity + 1);
    } catch {
      return false;
    }
    words.set(this.words);
    spare.set(this.spare);
    this.words = words;
    this.spare = spare;
    return true;
  }

  /** A SPARE node's index (its fields are stale: the caller sets every one). Reserve first. */
  acquire(): number {
    const c = this.counts;
    const s = c[SPARE_COUNT];
    if (s > 0) {
      c[SPARE_COUNT] = s - 1;
      return this.spare[s - 1];
    }
    return ++c[TOP];
  }

  /** Returns node `n` to the pool. */
  release(n: number): void {
    this.words[(n << NODE_SHIFT) + STATE] = SPARE;
    this.spare[this.counts[SPARE_COUNT]++] = n;
  }

  /** Every node back to the pool, none handed out. */
  clear(): void {
    this.words.fill(0, 0, (this.counts[TOP] + 1) << NODE_SHIFT);
    this.counts[TOP] = 0;
    this.counts[SPARE_COUNT] = 0;
  }
}
