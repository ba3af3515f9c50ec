// Minimal JS allocators with no checks at all: the floor the W2 and W3 targets are measured
// against ("minimal JS versions reach about 0.5-1.7 ns and 0.2 ns", issue 5). Not memkit.

/** A pool of fixed blocks: a free stack of block indices in an Int32Array. */
export class MinimalPool {
  constructor(blockSize, count) {
    this.blockSize = blockSize;
    this.free = new Int32Array(count);
    this.top = 0;
    this.next = 1; // block 0 is never handed out: pointer 0 means "none"
    this.count = count;
    this.memory = null;
  }
  alloc() {
    if (this.top > 0) return this.free[--this.top] * this.blockSize;
    if (this.next < this.count) return this.next++ * this.blockSize;
    return 0;
  }
  dealloc(p) {
    this.free[this.top++] = p / this.blockSize;
  }
}

/** A bump pointer over nothing: align up, add, compare. */
export class MinimalBump {
  constructor(bytes) {
    this.end = bytes;
    this.top = 8;
    this.memory = null;
  }
  alloc(n, align) {
    const p = (this.top + align - 1) & -align;
    const t = p + n;
    if (t > this.end) return 0;
    this.top = t;
    return p;
  }
  reset() {
    this.top = 8;
  }
}
