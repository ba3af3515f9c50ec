/**
 * The OffsetAllocator's live table: from the offset of a used block to its node, so that
 * `dealloc(offset)` finds the node without the caller handing it back (Aaltonen's design
 * returns the node index with the offset; memkit's contract frees by offset alone).
 *
 * A hash table with open addressing and linear probing, keys and values side by side in one
 * `Int32Array`, so a lookup reads one or two adjacent slots and no node:
 *
 *     slot i      words 2i KEY (block offset in granules; 0 = empty, no block starts at 0)
 *                       2i + 1 NODE
 *     home(key)   = (key × 0x9E3779B1) >>> SHIFT     Fibonacci hashing: the top
 *                   32 − SHIFT bits of the product, so offsets in arithmetic progression
 *                   (blocks of one size side by side) spread over every slot
 *     counts      word 0 COUNT   keys in the table
 *     SHIFT       = 32 − log2(slots), MASK = slots − 1: derived from the slots' length
 *
 * A key sits at its home slot or after it, with no empty slot between (linear probing);
 * removing a key shifts the keys after it back (no tombstones), so that stays true. The table
 * doubles (every key re-placed) before COUNT passes half the slots: O(1) expected per call,
 * amortised over the doublings.
 */

const KEY = 0;
const NODE = 1;
const SLOT_WORDS = 2;
const EMPTY = 0;
const NOT_FOUND = -1;

const COUNT = 0;
/** The golden-ratio multiplier of Fibonacci hashing (2^32 / φ, odd). */
const FIBONACCI = 0x9e3779b1;
/** Slots a new table starts with, as log2. */
const INITIAL_SLOTS_LOG2 = 7;

/** Offset → used node. @internal (the OffsetAllocator's own part) */
export class LiveTable {
  /** The slots; replaced when the table grows. */
  slots: Int32Array;
  /** COUNT. */
  readonly counts = new Int32Array(1);
  /** SHIFT and MASK of the slots now (see the header). */
  private shift: number;
  private mask: number;
  /** The slot the last `find` found its key in (checked before use: a hint, not state). */
  private lastSlot = 0;

  constructor() {
    this.slots = new Int32Array(SLOT_WORDS << INITIAL_SLOTS_LOG2);
    this.shift = 32 - INITIAL_SLOTS_LOG2;
    this.mask = (1 << INITIAL_SLOTS_LOG2) - 1;
  }

  /** Keys in the table. */
  get count(): number {
    return this.counts[COUNT];
  }

  /** Slots in the table. */
  get capacity(): number {
    return this.slots.length / SLOT_WORDS;
  }

  /** The slot a key at `offset` (granules, ≥ 1) is placed from. */
  homeOf(offset: number): number {
    return Math.imul(offset, FIBONACCI) >>> this.shift;
  }

  /** The node of the used block at `offset` (granules), or 0 (NONE). */
  find(offset: number): number {
    const i = this.slotOf(offset);
    return i === NOT_FOUND ? 0 : this.slots[i * SLOT_WORDS + NODE];
  }

  /** The slot holding `offset`, or NOT_FOUND. */
  private slotOf(offset: number): number {
    const slots = this.slots;
    const mask = this.mask;
    for (let i = this.homeOf(offset); ; i = (i + 1) & mask) {
      const key = slots[i * SLOT_WORDS + KEY];
      if (key === offset) {
        this.lastSlot = i;
        return i;
      }
      if (key === EMPTY) return NOT_FOUND;
    }
  }

  /**
   * Makes sure one more key can be inserted, doubling the table when it is half full. False
   * only when it is full and the engine refused the memory to grow it.
   */
  reserve(): boolean {
    const count = this.counts[COUNT];
    if (count * 2 >= this.capacity) this.grow();
    return count + 1 < this.capacity;
  }

  /** Adds the used block at `offset` (granules, not in the table) with its node. Reserve first. */
  insert(offset: number, node: number): void {
    this.place(offset, node);
    this.counts[COUNT]++;
  }

  private place(offset: number, node: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.homeOf(offset);
    while (slots[i * SLOT_WORDS + KEY] !== EMPTY) i = (i + 1) & mask;
    slots[i * SLOT_WORDS + KEY] = offset;
    slots[i * SLOT_WORDS + NODE] = node;
  }

  /**
   * Removes the block at `offset`. False, changing nothing, when the table does not hold it
   * (the caller found it a moment ago: the table is corrupt).
   */
  remove(offset: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    // Right after `find`, the key is where it was found.
    let i =
      slots[this.lastSlot * SLOT_WORDS + KEY] === offset ? this.lastSlot : this.slotOf(offset);
    if (i === NOT_FOUND) return false;
    // Shift back every key after i (up to the next empty slot) whose home is not after i.
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const key = slots[j * SLOT_WORDS + KEY];
      if (key === EMPTY) break;
      if (((j - this.homeOf(key)) & mask) >= ((j - i) & mask)) {
        slots[i * SLOT_WORDS + KEY] = key;
        slots[i * SLOT_WORDS + NODE] = slots[j * SLOT_WORDS + NODE];
        i = j;
      }
    }
    slots[i * SLOT_WORDS + KEY] = EMPTY;
    slots[i * SLOT_WORDS + NODE] = 0;
    this.counts[COUNT]--;
    return true;
  }

  /** Empties the table (its size stays). */
  clear(): void {
    this.slots.fill(EMPTY);
    this.counts[COUNT] = 0;
  }

  /** Calls `fn(offset, node, slot)` for every key, in slot order (for the walker). */
  forEach(fn: (offset: number, node: number, slot: number) => void): void {
    const slots = this.slots;
    for (let i = 0; i < slots.length; i += SLOT_WORDS) {
      if (slots[i + KEY] !== EMPTY) fn(slots[i + KEY], slots[i + NODE], i / SLOT_WORDS);
    }
  }

  /** Doubles the slots and re-places every key; when the engine refuses, nothing changes. */
  private grow(): void {
    const old = this.slots;
    try {
      this.slots = new Int32Array(old.length * 2);
    } catch {
      return;
    }
    this.shift--;
    this.mask = this.mask * 2 + 1;
    this.lastSlot = 0;
    for (let i = 0; i < old.length; i += SLOT_WORDS) {
      if (old[i + KEY] !== EMPTY) this.place(old[i + KEY], old[i + NODE]);
    }
  }
}
