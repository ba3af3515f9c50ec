/**
 * The owner's side of the page cache (cache.ts): one agent's bookkeeping over the cache
 * buffer and the paths that run without the lock: allocating from its own pages, freeing
 * any agent's block (and noting a page it emptied), taking back its own parked pages. The
 * methods that park, take, give back, adopt, repair or check pages run under the lock:
 * cache.ts.
 */

import { DoubleFreeError, InvalidPointerError, LayoutMismatchError } from "../core/errors.js";
import { isUint32, rejectSize } from "../core/validate.js";
import {
  BLOCKS_PER_WORD,
  CLASS_BLOCKS,
  CLASS_COUNT,
  CLASS_SIZE,
  CLASS_TAIL,
  CLASS_WORDS,
  D_BITMAP,
  D_PAGE,
  D_REMOTE,
  D_TAG,
  DESC_WORDS,
  HEADER_WORDS,
  K_DESCRIPTORS,
  K_PARK_BOUND,
  K_PARKED,
  K_PT_ENTRIES,
  OWNER_BITS,
  PAGE_BYTES,
  PAGE_LOG2,
  SEAL_BIT,
  TAG_PARKED,
  tagOf,
} from "./cache-layout.js";

/** A page slot above every real one. */
const NO_SLOT = 0x7fffffff;

/** One agent's handle on the cache buffer: its bookkeeping and the lock-free paths. */
export abstract class OwnerPages {
  /** The whole cache buffer: header, descriptors, page table. */
  readonly k: Int32Array;
  readonly descriptors: number;
  readonly ptEntries: number;
  /** Word index of the page table. */
  readonly ptBase: number;
  readonly agentId: number;
  /** Parked pages the heap keeps before giving the rest back (K_PARK_BOUND). */
  readonly parkBound: number;
  /** This agent's TAG for each class. */
  protected readonly tags: Int32Array;
  /** Per class: the page allocated from last (descriptor index, −1 = none). */
  protected readonly cur: Int32Array;
  /** Per class: this agent's lowest page of the class (−1 = none); `ring` links the rest upwards. */
  protected readonly first: Int32Array;
  protected readonly ring: Int32Array;
  /**
   * Per class: the lowest page that may have room (−1: none known), and its page slot.
   * Pages below it were full when last passed, and this agent has freed none of their blocks since.
   */
  protected readonly low: Int32Array;
  protected readonly lowSlot: Int32Array;
  /** Per descriptor: the bitmap word to resume scanning at (owner's hint). */
  protected readonly hint: Int32Array;
  /** Set when the hints disagree with the descriptors (pages taken away by reset/recovery). */
  stale = false;
  /** Set when this agent's park took the parked pages past the bound: `releaseParked` is due. */
  overBound = false;
  /** A page this agent's free left with no live block (−1: none): to be parked (`settle`). */
  emptied = -1;
  /** `overBound` or `emptied`: the heap calls `settle` under the lock (its next blocking call at the latest). */
  due = false;

  constructor(sab: SharedArrayBuffer, agentId: number) {
    const k = new Int32Array(sab);
    this.k = k;
    this.descriptors = k[K_DESCRIPTORS];
    this.ptEntries = k[K_PT_ENTRIES];
    this.ptBase = HEADER_WORDS + this.descriptors * DESC_WORDS;
    this.parkBound = k[K_PARK_BOUND];
    this.agentId = agentId;
    this.tags = new Int32Array(CLASS_COUNT);
    for (let c = 0; c < CLASS_COUNT; c++) this.tags[c] = tagOf(c, agentId);
    this.cur = new Int32Array(CLASS_COUNT).fill(-1);
    this.first = new Int32Array(CLASS_COUNT).fill(-1);
    this.ring = new Int32Array(this.descriptors).fill(-1);
    this.hint = new Int32Array(this.descriptors);
    this.low = new Int32Array(CLASS_COUNT).fill(-1);
    this.lowSlot = new Int32Array(CLASS_COUNT).fill(NO_SLOT);
  }

  // ---- lock-free paths -----------------------------------------------------------------------

  /**
   * A block of class `cls` from this agent's current page of the class, or 0.
   *
   * The claim protocol (cache.ts, "Empty pages"): a lock holder may park this agent's page
   * while it allocates here, so the TAG read before the bit is set can be stale. Only a
   * sealed page is parked, and a parked page is unsealed only by whoever takes it, after its
   * TAG changed: so the `Atomics.or` either finds the word sealed (SEAL_BIT), or the bit set
   * (another agent's stale bit, about to be cleared), or the TAG read after it differs from
   * this agent's (the page went on). Each time the bit is not this agent's block: 0 is
   * returned, and in the last case the bit this OR set is cleared again. That is safe: while
   * the bit is set the word cannot be sealed (a seal is a CAS from the empty word), so nobody
   * re-initialises the word or hands the bit out meanwhile.
   */
  alloc(cls: number): number {
    const d = this.cur[cls];
    if (d < 0) return 0;
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = this.tags[cls];
    if (k[base + D_TAG] !== tag) return this.lost(d, cls);
    const end = CLASS_WORDS[cls];
    for (let w = this.hint[d]; w < end; w++) {
      const word = k[base + D_BITMAP + w];
      if ((word | SEAL_BIT) !== -1) {
        const bit = ~word & (word + 1); // lowest clear bit (not bit 31: a sealed word has it)
        const old = Atomics.or(k, base + D_BITMAP + w, bit);
        if ((old & (bit | SEAL_BIT)) !== 0 || Atomics.load(k, base + D_TAG) !== tag) {
          if ((old & (bit | SEAL_BIT)) === 0) Atomics.and(k, base + D_BITMAP + w, ~bit);
          return this.lost(d, cls);
        }
        this.hint[d] = w;
        const i = w * BLOCKS_PER_WORD + 31 - Math.clz32(bit);
        return k[base + D_PAGE] * PAGE_BYTES + i * CLASS_SIZE[cls];
      }
    }
    this.hint[d] = end;
    return 0;
  }

  /**
   * Page `d` of `cls` is not (or not now) this agent's to allocate from: parked (it stays in
   * the ring: `scan` may take it back), being sealed by a lock holder (it stays current: the
   * lock decides), or gone (the rings are rebuilt). Returns 0.
   */
  private lost(d: number, cls: number): number {
    const t = Atomics.load(this.k, HEADER_WORDS + d * DESC_WORDS + D_TAG);
    if (t === (this.tags[cls] | TAG_PARKED)) {
      if (this.cur[cls] === d) this.cur[cls] = -1;
    } else if (t !== this.tags[cls]) {
      this.stale = true;
    }
    return 0;
  }

  /**
   * The current page of `cls` is full: look through this agent's pages of the class from
   * the lowest (draining the remote frees of flagged ones) and allocate from the first with
   * room; failing that, take back one of its parked pages of the class. 0 when none has room
   * (then the lock: another agent's parked page, or a new one).
   */
  allocNext(cls: number): number {
    const low = this.low[cls];
    const first = this.first[cls];
    if (low >= 0 && low !== first) {
      // Every page below `low` was full when last seen and has had no free by this agent
      // since: start there. Remote frees and parked pages below it are the full pass's.
      const r = this.scan(cls, low, false);
      if (r !== 0 || this.stale) return r;
    }
    return this.scan(cls, first, true);
  }

  /**
   * allocNext's pass over the ring of `cls` from page `from`; on the full pass (`all`),
   * takes back a parked page of the class when no other has room.
   */
  private scan(cls: number, from: number, all: boolean): number {
    const k = this.k;
    const tag = this.tags[cls];
    const end = CLASS_WORDS[cls];
    let parked = -1;
    for (let d = from; d >= 0; d = this.ring[d]) {
      const base = HEADER_WORDS + d * DESC_WORDS;
      const t = k[base + D_TAG];
      if (t !== tag) {
        if (t !== (tag | TAG_PARKED)) {
          this.stale = true; // taken away (another agent took it parked, reset, recovery)
          return 0;
        }
        if (parked < 0) parked = d;
        continue;
      }
      if (k[base + D_REMOTE] !== 0) {
        Atomics.store(k, base + D_REMOTE, 0);
        this.hint[d] = 0;
      }
      if (this.hint[d] < end) {
        this.cur[cls] = d;
        this.low[cls] = d;
        this.lowSlot[cls] = k[base + D_PAGE];
        const r = this.alloc(cls);
        if (r !== 0) return r;
      }
    }
    if (all && parked >= 0 && this.unpark(parked, cls)) {
      this.cur[cls] = parked;
      return this.alloc(cls);
    }
    return 0;
  }

  /** Descriptor of the cache page holding `ptr` (a uint32), or −1 when it is the wrapped allocator's. */
  pageOf(ptr: number): number {
    const slot = ptr >>> PAGE_LOG2;
    return slot < this.ptEntries ? this.k[this.ptBase + slot] - 1 : -1;
  }

  /**
   * Frees `ptr` in page `d` (from `pageOf`). Validates first (block start, size), then one
   * atomic AND: a block that was not live is reported and nothing changes (a parked page has
   * no live block: refused before the AND, whose bits are the seal's). A free that empties a
   * bitmap word looks at the whole page; when it is empty, the page is `emptied`, to be parked
   * under the lock (`settle`), whoever owns it.
   */
  free(d: number, ptr: number, size: number | undefined): void {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    const cls = (tag >>> 16) & 0xff;
    const bsize = CLASS_SIZE[cls];
    const slot = k[base + D_PAGE];
    const off = ptr - slot * PAGE_BYTES;
    const i = (off / bsize) | 0;
    if (i * bsize !== off || i >= CLASS_BLOCKS[cls] || tag === 0) this.badPointer(ptr, d);
    if (size !== undefined && !(isUint32(size) && size <= bsize)) this.badSize(ptr, size, bsize);
    if ((tag & TAG_PARKED) !== 0) this.notLive(ptr);
    const w = (i / BLOCKS_PER_WORD) | 0;
    const bit = 1 << (i - w * BLOCKS_PER_WORD);
    const old = Atomics.and(k, base + D_BITMAP + w, ~bit);
    if ((old & bit) === 0) this.notLive(ptr);
    if (old < 0) {
      // A sealed word (its page was parked after the TAG was read): the block was not live.
      // Put the seal's bit back unless the page was taken (unsealed) meanwhile.
      Atomics.compareExchange(k, base + D_BITMAP + w, old & ~bit, old);
      this.notLive(ptr);
    }
    if ((tag & OWNER_BITS) === this.agentId) {
      if (w < this.hint[d]) this.hint[d] = w;
      if (slot < this.lowSlot[cls]) this.roomAt(d, cls, slot);
    } else if (k[base + D_REMOTE] === 0) {
      Atomics.store(k, base + D_REMOTE, 1);
    }
    const rest = old ^ bit;
    if ((rest === 0 || rest === CLASS_TAIL[cls]) && this.isEmpty(d, cls)) {
      this.emptied = d;
      this.due = true;
    }
  }

  /** The block size of live block `ptr` in page `d`; throws for anything else. */
  liveSize(d: number, ptr: number): number {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS;
    const tag = k[base + D_TAG];
    const cls = (tag >>> 16) & 0xff;
    const bsize = CLASS_SIZE[cls];
    const off = ptr - k[base + D_PAGE] * PAGE_BYTES;
    const i = (off / bsize) | 0;
    if (i * bsize !== off || i >= CLASS_BLOCKS[cls] || tag === 0) this.badPointer(ptr, d);
    const w = (i / BLOCKS_PER_WORD) | 0;
    const word = Atomics.load(k, base + D_BITMAP + w);
    if ((tag & TAG_PARKED) !== 0 || word < 0 || (word & (1 << (i - w * BLOCKS_PER_WORD))) === 0) {
      this.notLive(ptr);
    }
    return bsize;
  }

  private notLive(ptr: number): never {
    throw new DoubleFreeError(`block ${ptr} is not live: it was freed already`);
  }

  /** The class of the page `d`. */
  classOf(d: number): number {
    return (this.k[HEADER_WORDS + d * DESC_WORDS + D_TAG] >>> 16) & 0xff;
  }

  /** Whether page `d` of class `cls` has no live block. */
  isEmpty(d: number, cls: number = this.classOf(d)): boolean {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS + D_BITMAP;
    const last = CLASS_WORDS[cls] - 1;
    for (let w = 0; w < last; w++) if (Atomics.load(k, base + w) !== 0) return false;
    return Atomics.load(k, base + last) === CLASS_TAIL[cls];
  }

  /**
   * Seals page `d` of `cls`: every bitmap word from its empty value to all bits set (SEAL_BIT
   * among them), each with a CAS, so that an allocation racing it finds its bit taken and a
   * free finds the seal. False (the words sealed so far restored) when a word is not empty: a
   * live block, or a stale allocation's bit about to be cleared.
   */
  protected seal(d: number, cls: number): boolean {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS + D_BITMAP;
    const last = CLASS_WORDS[cls] - 1;
    for (let w = 0; w <= last; w++) {
      const empty = w === last ? CLASS_TAIL[cls] : 0;
      if (Atomics.compareExchange(k, base + w, empty, -1) !== empty) {
        for (let v = 0; v < w; v++) Atomics.store(k, base + v, 0);
        return false;
      }
    }
    return true;
  }

  /** Unseals page `d` of `cls` (its TAG already names the agent taking it): every word empty. */
  protected unseal(d: number, cls: number): void {
    const k = this.k;
    const base = HEADER_WORDS + d * DESC_WORDS + D_BITMAP;
    const last = CLASS_WORDS[cls] - 1;
    for (let w = 0; w < last; w++) Atomics.store(k, base + w, 0);
    Atomics.store(k, base + last, CLASS_TAIL[cls]);
    this.hint[d] = 0;
  }

  /** Owner only: takes back its parked page `d` of `cls`; false when another agent took it. */
  protected unpark(d: number, cls: number): boolean {
    const k = this.k;
    const t = this.tags[cls];
    if (
      Atomics.compareExchange(k, HEADER_WORDS + d * DESC_WORDS + D_TAG, t | TAG_PARKED, t) !==
      (t | TAG_PARKED)
    ) {
      this.stale = true;
      return false;
    }
    Atomics.sub(k, K_PARKED, 1);
    this.unseal(d, cls);
    return true;
  }

  protected badPointer(ptr: number, d: number): never {
    throw new InvalidPointerError(
      `invalid pointer ${ptr}: not the start of a block of cache page ${d} ` +
        `(class ${CLASS_SIZE[this.classOf(d)]} bytes)`,
    );
  }

  protected badSize(ptr: number, size: number, bsize: number): never {
    if (!isUint32(size)) rejectSize(size);
    throw new LayoutMismatchError(`dealloc(${ptr}, ${size}): the block holds only ${bsize} bytes`);
  }

  /** Rebuilds this agent's per-class rings and hints from the descriptors. */
  rebuild(): void {
    const k = this.k;
    this.cur.fill(-1);
    this.first.fill(-1);
    this.ring.fill(-1);
    this.low.fill(-1);
    this.lowSlot.fill(NO_SLOT);
    for (let d = 0; d < this.descriptors; d++) {
      const tag = k[HEADER_WORDS + d * DESC_WORDS + D_TAG];
      if (tag === 0 || (tag & OWNER_BITS) !== this.agentId) continue;
      this.link(d, (tag >>> 16) & 0xff);
    }
    this.stale = false;
  }

  /** Puts page `d` into the ring of `cls`, in address order. */
  protected link(d: number, cls: number): void {
    const k = this.k;
    const slot = k[HEADER_WORDS + d * DESC_WORDS + D_PAGE];
    let prev = -1;
    let e = this.first[cls];
    while (e >= 0 && k[HEADER_WORDS + e * DESC_WORDS + D_PAGE] < slot) {
      prev = e;
      e = this.ring[e];
    }
    this.ring[d] = e;
    if (prev < 0) this.first[cls] = d;
    else this.ring[prev] = d;
    this.hint[d] = 0;
    this.roomAt(d, cls, slot);
  }

  /** Page `d` of `cls` (at page slot `slot`) has room: it becomes `low` when below it. */
  protected roomAt(d: number, cls: number, slot: number): void {
    if (slot < this.lowSlot[cls]) {
      this.low[cls] = d;
      this.lowSlot[cls] = slot;
    }
  }
}
