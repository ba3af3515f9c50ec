import {
  checkAlign,
  checkReallocSize,
  DEFAULT_ALIGN,
  isUint32,
  isValidAlign,
} from "../core/validate.js";
import {
  PAGE_BYTES as CACHE_PAGE_BYTES,
  CLASS_OF16,
  CLASS_SIZE,
  PAGE_USABLE,
  type PageCache,
  SMALL_MAX,
} from "./cache.js";
import {
  C_ATTN,
  C_GROWTH,
  C_PAUSE_AT,
  OP_ALLOC,
  OP_ALLOC_ZEROED,
  OP_DEALLOC,
  OP_NONE,
  S_PAGE,
} from "./control.js";
import { SharedHeapCore } from "./core.js";
import { ALIGN8, LOCK_BUSY } from "./descriptor.js";

export abstract class SharedHeapKernel extends SharedHeapCore {
  // ---- the cache's side of a call ------------------------------------------------------------

  /** The lock-free allocation of `alloc`, or 0 (then take the lock). */

  protected allocFast(size: number, align: number): number {
    const pc = this.pc;
    if (
      pc === null ||
      align !== ALIGN8 ||
      typeof size !== "number" ||
      size > SMALL_MAX ||
      size >>> 0 !== size ||
      this.c[C_ATTN] !== 0 ||
      this.c[C_GROWTH] !== this.growth
    ) {
      return 0;
    }
    const cls = CLASS_OF16[(size + 15) >>> 4];
    const r = pc.alloc(cls);
    return r !== 0 || pc.stale ? r : pc.allocNext(cls);
  }

  /** The lock-free free of `dealloc`: true when done (a cache block, or 0). */
  protected deallocFast(ptr: number, size: number | undefined): boolean {
    const pc = this.pc;
    if (pc === null || !isUint32(ptr) || this.c[C_ATTN] !== 0) return false;
    const d = pc.pageOf(ptr);
    if (d >= 0) {
      pc.free(d, ptr, size);
      if (pc.due) this.settle(pc, false); // never waits: if busy, the next call settles
      return true;
    }
    return ptr === 0;
  }

  protected allocLocked(op: number, size: number, align: number): number {
    this.begin(op, size, align);
    return this.allocHeld(size, align, op === OP_ALLOC_ZEROED);
  }

  /** Lock held, intent begun: `allocInside`, then ends the call (aborts it on a throw). */
  protected allocHeld(size: number, align: number, zeroed: boolean): number {
    let r: number;
    try {
      r = this.allocInside(size, align, zeroed);
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(r);
    return r;
  }

  /**
   * Lock held, intent begun: `deallocInside` and what its free left to do (`settle`), then
   * ends the call (aborts it on a throw).
   */
  protected deallocHeld(ptr: number, size: number | undefined): void {
    try {
      this.deallocInside(ptr, size);
      const pc = this.pc;
      if (pc?.due) pc.settle(this.inner);
    } catch (e) {
      this.abort(e);
      throw e;
    }
    this.end(0);
  }

  /**
   * Lock held: a small request from this agent's pages (its current ones, then an
   * abandoned page of the class, then a new page from TLSF), else from TLSF; when TLSF is
   * out of memory for a size the memory could hold, empty cache pages go back to it and it
   * is asked again.
   */
  protected allocInside(size: number, align: number, zeroed: boolean): number {
    const pc = this.pc;
    if (
      pc !== null &&
      typeof size === "number" &&
      size <= SMALL_MAX &&
      size >>> 0 === size &&
      isValidAlign(align) &&
      align <= 16
    ) {
      const cls = CLASS_OF16[(size + 15) >>> 4];
      if (pc.stale) pc.rebuild();
      if (pc.due) pc.settle(this.inner);
      let r = pc.alloc(cls);
      if (r === 0) r = pc.allocNext(cls);
      if (r === 0 && pc.stale) {
        pc.rebuild();
        r = pc.allocNext(cls);
      }
      if (r === 0) r = pc.adopt(cls);
      if (r === 0) r = this.newPage(pc, cls);
      if (r !== 0) {
        if (zeroed) this.memory.u8.fill(0, r, r + CLASS_SIZE[cls]);
        return r;
      }
    }
    let r = zeroed ? this.inner.allocZeroed(size, align) : this.inner.alloc(size, align);
    // A size the memory cannot hold even at its largest fails without giving pages back: a
    // failed allocation changes nothing it need not.
    if (r === 0 && pc !== null && size <= this.memory.maxEnd && pc.trim(this.inner) > 0) {
      r = zeroed ? this.inner.allocZeroed(size, align) : this.inner.alloc(size, align);
    }
    return r;
  }

  /**
   * Lock held: a page for `cls` and a block from it (0 when none): an empty page from the
   * cache (parked by any agent, or abandoned; re-cut when of another class), else a new one
   * from the wrapped allocator.
   */
  protected newPage(pc: PageCache, cls: number): number {
    pc.sweep();
    const d = pc.claimEmpty(cls);
    if (d >= 0) {
      if (pc.classOf(d) === cls) return pc.use(d, cls);
      // Re-cut for `cls`: its address is in the intent slot until installed again.
      const page = pc.pageAddress(d);
      this.cu[this.slot + S_PAGE] = page;
      pc.unpublish(d);
      return this.installPage(pc, page, cls);
    }
    let page = this.takePage();
    if (page === 0 && pc.trim(this.inner) > 0) page = this.takePage();
    if (page === 0) return 0;
    // Recorded in the intent slot until installed: a death in between gives the page back.
    this.cu[this.slot + S_PAGE] = page;
    return this.installPage(pc, page, cls);
  }

  /**
   * Lock held: a PAGE_BYTES-aligned block of PAGE_USABLE bytes from the wrapped allocator, or
   * 0. An aligned request makes TLSF look for a free block of the size plus the alignment
   * (it cannot know where in a block an aligned start falls), so the slot of a page given
   * back, exactly a page, would never serve one: new pages would go ever higher while such
   * holes stay empty. So when an aligned block is found, a plain request of the size is made
   * too (pages tile the memory: a page's old slot starts aligned), and the lower of the two
   * aligned blocks is kept, the other given back. When none is found, none is taken (the last
   * free bytes of a full heap stay for the wrapped allocator's own blocks).
   */
  private takePage(): number {
    const inner = this.inner;
    const a = inner.alloc(PAGE_USABLE, CACHE_PAGE_BYTES);
    if (a === 0) return 0;
    const p = inner.alloc(PAGE_USABLE, ALIGN8);
    if (p !== 0 && p % CACHE_PAGE_BYTES === 0 && p < a) {
      inner.dealloc(a);
      return p;
    }
    if (p !== 0) inner.dealloc(p);
    return a;
  }

  /** Lock held, `page` in the intent slot: installs it for `cls` and allocates from it. */
  private installPage(pc: PageCache, page: number, cls: number): number {
    const ok = pc.install(page, cls, this.c[C_PAUSE_AT] !== 0 ? this.pageHook : undefined);
    this.cu[this.slot + S_PAGE] = 0;
    if (!ok) {
      this.inner.dealloc(page);
      return 0;
    }
    return pc.alloc(cls);
  }

  /**
   * After a lock-free free left something to do under the lock (`pc.due`: a page it emptied
   * to park, parked pages past the bound to give back): takes the lock, waiting (`wait`) or
   * not (a never-blocking form: when another agent holds it, `due` stays set and the next
   * call meets it), and runs `pc.settle`, the one path every form of dealloc shares. The free
   * has happened; a failure here (lock timeout, poison) is left for the next call to meet.
   */
  protected settle(pc: PageCache, wait: boolean): void {
    try {
      if (wait) this.begin(OP_NONE, 0, 0);
      else if (!this.tryBegin(OP_NONE, 0, 0)) return;
    } catch {
      return;
    }
    try {
      pc.settle(this.inner);
    } catch (e) {
      this.abort(e);
      return;
    }
    this.end(0);
  }

  /** Lock held: frees a cache block or a TLSF block. */
  protected deallocInside(ptr: number, size: number | undefined): void {
    const pc = this.pc;
    if (pc !== null && isUint32(ptr)) {
      const d = pc.pageOf(ptr);
      if (d >= 0) {
        pc.free(d, ptr, size);
        return;
      }
    }
    this.inner.dealloc(ptr, size);
  }

  /** realloc of a cache block: kept when the new size fits its block, else moved. */
  protected reallocCached(
    pc: PageCache,
    d: number,
    ptr: number,
    newSize: number,
    align: number,
  ): number {
    // The pointer before the size: a freed block throws even with a size no heap holds.
    this.touch();
    const bsize = pc.liveSize(d, ptr);
    if (!checkReallocSize(newSize)) return 0;
    checkAlign(align);
    if (newSize <= bsize && ptr % Math.max(align, ALIGN8) === 0) return ptr;
    const to = this.alloc(newSize, align);
    if (to === 0) return 0;
    this.touch();
    this.memory.u8.copyWithin(to, ptr, ptr + Math.min(bsize, newSize));
    this.dealloc(ptr);
    return to;
  }

  /** Lock held: frees `ptr` wherever it lives (recovery's roll forward and back). */
  protected freeAny(ptr: number): void {
    this.deallocInside(ptr, undefined);
  }

  // ---- never-blocking forms (a browser's main thread) ---------------------------------------

  /** As `alloc`, but returns LOCK_BUSY at once instead of waiting when the lock is taken. */
  tryAlloc(size: number, align: number = DEFAULT_ALIGN): number {
    const fast = this.allocFast(size, align);
    if (fast !== 0) return fast;
    if (!this.tryBegin(OP_ALLOC, size, align)) return LOCK_BUSY;
    return this.allocHeld(size, align, false);
  }

  /** As `dealloc`, but returns false at once (nothing done) when the lock is taken. */
  tryDealloc(ptr: number, size?: number): boolean {
    if (this.deallocFast(ptr, size)) return true;
    if (!this.tryBegin(OP_DEALLOC, ptr, size)) return false;
    this.deallocHeld(ptr, size);
    return true;
  }

  /** As `alloc`, waiting for the lock with `Atomics.waitAsync` (never blocks the agent). */
  async allocAsync(size: number, align: number = DEFAULT_ALIGN): Promise<number> {
    const fast = this.allocFast(size, align);
    if (fast !== 0) return fast;
    await this.lockAsync();
    this.afterLock(OP_ALLOC, size, align);
    return this.allocHeld(size, align, false);
  }

  /** As `dealloc`, waiting for the lock with `Atomics.waitAsync`. */
  async deallocAsync(ptr: number, size?: number): Promise<void> {
    if (this.deallocFast(ptr, size)) return;
    await this.lockAsync();
    this.afterLock(OP_DEALLOC, ptr, size);
    this.deallocHeld(ptr, size);
  }
}
