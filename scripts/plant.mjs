// Planted bugs: each row below changes one line of the source the way a real mistake would
// (an off-by-one in a split, a missing double-free check, a skipped stats update, a wrong
// merge, a missing zero fill…), runs the tests that cover that code, and puts the file back
// byte for byte. A bug is caught when a test fails: first the strategy's unit tests, then,
// only if they all passed, the conformance kit on that strategy (fewer runs than CI's).
// Not part of `npm test`: it runs vitest once or twice per bug, niced.
//
//   node scripts/plant.mjs [--only ID[,ID…]] [--runs N] [--list]
//     --only   plant only these bugs
//     --runs   MEMKIT_RUNS for the kit (default 200)
//     --list   print the bugs and exit
//
// A row whose line is no longer in its file (the code moved on) is reported as stale and
// counted apart: update its `find`.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));

const FL = ["test/strategies/free-list.test.ts"];
const KIT = {
  freelist: ["test/conformance/registry-3.conformance.test.ts", "FreeListAllocator \\[freelist\\]"],
  bump: ["test/conformance/registry-3.conformance.test.ts", "BumpAllocator"],
  block: ["test/conformance/registry-3.conformance.test.ts", "BlockAllocator \\[block\\]"],
  buddy: ["test/conformance/registry-3.conformance.test.ts", "BuddyAllocator \\[buddy\\]"],
  stack: ["test/conformance/registry-1.conformance.test.ts", "StackAllocator"],
  offset: ["test/conformance/registry-1.conformance.test.ts", "OffsetAllocator"],
  pool: ["test/conformance/registry-2.conformance.test.ts", "PoolAllocator"],
  slab: ["test/conformance/registry-2.conformance.test.ts", "SlabAllocator"],
  tlsf: ["test/conformance/registry-2.conformance.test.ts", "TlsfAllocator \\[tlsf\\]"],
  heap: ["test/conformance/registry-1.conformance.test.ts", "Heap \\[heap\\]"],
  hardened: ["test/conformance/hardened.conformance.test.ts", "HardenedAllocator"],
  chain: ["test/conformance/chain.conformance.test.ts", "ChainAllocator"],
};

/** [id, file, find, replace, unit test paths, kit subject] */
const BUGS = [
  // FreeList
  [
    "fl-split-tail",
    "src/strategies/free-list/kernel.ts",
    "    if (tail < MIN_BLOCK) {",
    "    if (tail < MIN_BLOCK - 8) {",
    FL,
    KIT.freelist,
  ],
  [
    "fl-take-peak",
    "src/strategies/free-list/kernel.ts",
    "    slots[slot0 + IN_USE] = inUse;\n    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;\n    return p;",
    "    slots[slot0 + IN_USE] = inUse;\n    return p;",
    FL,
    KIT.freelist,
  ],
  [
    "fl-grow-peak",
    "src/strategies/free-list/kernel.ts",
    "    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;\n    const rover",
    "    const rover",
    FL,
    KIT.freelist,
  ],
  [
    "fl-free-live",
    "src/strategies/free-list/kernel.ts",
    "    slots[slot0 + LIVE]--;\n    slots[slot0 + IN_USE] -= s - SIZE_WORD_BYTES;",
    "    slots[slot0 + IN_USE] -= s - SIZE_WORD_BYTES;",
    FL,
    KIT.freelist,
  ],
  [
    "fl-shrink-no-split",
    "src/strategies/free-list/kernel.ts",
    "    } else if (slack >= MIN_BLOCK) {",
    "    } else if (slack >= MIN_BLOCK && slack < 0) {",
    FL,
    KIT.freelist,
  ],
  [
    "fl-grow-prev-used",
    "src/strategies/free-list/kernel.ts",
    "      u[(b + total) >>> 2] |= PREV_USED;\n",
    "",
    FL,
    KIT.freelist,
  ],
  [
    "fl-double-free",
    "src/strategies/free-list/kernel.ts",
    "    if ((this.u[b >>> 2] & USED) === 0) throw this.freeBlockError(ptr, b);\n",
    "",
    FL,
    KIT.freelist,
  ],
  // Bump
  [
    "bump-live",
    "src/strategies/bump/allocator.ts",
    "    if (top > w[END] >>> 0) return this.allocSlow(size, align);\n    w[TOP] = top;\n    w[LAST] = ptr;\n    w[LIVE]++;\n",
    "    if (top > w[END] >>> 0) return this.allocSlow(size, align);\n    w[TOP] = top;\n    w[LAST] = ptr;\n",
    ["test/strategies/bump.test.ts"],
    KIT.bump,
  ],
  [
    "bump-zero-fill",
    "src/strategies/bump/allocator.ts",
    "      this.memory.u8.fill(0, ptr, Math.min(ptr + size, zeroFrom));",
    "      this.memory.u8.fill(0, ptr, Math.min(ptr + size - 1, zeroFrom));",
    ["test/strategies/bump.test.ts"],
    KIT.bump,
  ],
  [
    "bump-free-any",
    "src/strategies/bump/allocator.ts",
    "    if (ptr === this.last()) {",
    "    if (ptr <= this.last()) {",
    ["test/strategies/bump.test.ts"],
    KIT.bump,
  ],
  // Stack
  [
    "stack-pop-inuse",
    "src/strategies/stack/allocator.ts",
    "    slots[slot0 + LIVE]--;\n    slots[slot0 + INUSE] -= size;",
    "    slots[slot0 + LIVE]--;",
    ["test/strategies/stack"],
    KIT.stack,
  ],
  [
    "stack-top-check",
    "src/strategies/stack/allocator.ts",
    "    if (ptr + size !== slots[slot0 + TOP]) {",
    "    if (ptr + size > slots[slot0 + TOP]) {",
    ["test/strategies/stack"],
    KIT.stack,
  ],
  [
    "stack-alloc-zero",
    "src/strategies/stack/allocator.ts",
    "    const need = size === 0 ? ptr + 1 : end;",
    "    const need = end;",
    ["test/strategies/stack"],
    KIT.stack,
  ],
  // Pool
  [
    "pool-double-free",
    "src/strategies/pool/allocator.ts",
    "    if ((w & mask) === 0) this.liveBlock(ptr); // not live: throws DoubleFreeError\n",
    "",
    ["test/strategies/pool.test.ts"],
    KIT.pool,
  ],
  [
    "pool-rewind",
    "src/strategies/pool/allocator.ts",
    "    if (nfree + 1 === carved) {",
    "    if (nfree + 2 === carved) {",
    ["test/strategies/pool.test.ts"],
    KIT.pool,
  ],
  [
    "pool-grow-zero",
    "src/strategies/pool/allocator.ts",
    "    if (!(this.memory.freshZero && block >= untouchedFrom)) {",
    "    if (!(block >= untouchedFrom)) {",
    ["test/strategies/pool.test.ts"],
    KIT.pool,
  ],
  // Block
  [
    "block-double-free",
    "src/strategies/block/kernel.ts",
    "    if ((prev !== none && prevEnd > k) || r === k) {",
    "    if (r === k) {",
    ["test/strategies/block.test.ts"],
    KIT.block,
  ],
  [
    "block-live",
    "src/strategies/block/kernel.ts",
    "    this.clearStart(k);\n    this.slots[this.slot0 + LIVE]--;",
    "    this.clearStart(k);",
    ["test/strategies/block.test.ts"],
    KIT.block,
  ],
  [
    "block-peak",
    "src/strategies/block/kernel.ts",
    "    if (this.blockCount - free > slots[slot0 + PEAK]) slots[slot0 + PEAK] = this.blockCount - free;\n",
    "",
    ["test/strategies/block.test.ts"],
    KIT.block,
  ],
  // Buddy
  [
    "buddy-live",
    "src/strategies/buddy/kernel.ts",
    "    slots[slot0 + FREE_BYTES] += this.unit * (1 << k);\n    slots[slot0 + LIVE]--;",
    "    slots[slot0 + FREE_BYTES] += this.unit * (1 << k);",
    ["test/strategies/buddy.test.ts"],
    KIT.buddy,
  ],
  [
    "buddy-peak",
    "src/strategies/buddy/kernel.ts",
    "    if (inUse > slots[slot0 + PEAK]) slots[slot0 + PEAK] = inUse;\n    return this.origin + j * this.unit;",
    "    return this.origin + j * this.unit;",
    ["test/strategies/buddy.test.ts"],
    KIT.buddy,
  ],
  [
    "buddy-double-free",
    "src/strategies/buddy/kernel.ts",
    "    if (this.isFree(start, k)) {",
    "    if (this.isFree(start, k) && k < 0) {",
    ["test/strategies/buddy.test.ts"],
    KIT.buddy,
  ],
  // Offset
  [
    "offset-merge-next",
    "src/strategies/offset/kernel.ts",
    "    s[LIVE]--;\n    const next = w[at + NEIGHBOR_NEXT];\n    if (next !== NONE && w[(next << NODE_SHIFT) + STATE] === FREE) {",
    "    s[LIVE]--;\n    const next = w[at + NEIGHBOR_NEXT];\n    if (next !== NONE && next < 0) {",
    ["test/strategies/offset"],
    KIT.offset,
  ],
  [
    "offset-used",
    "src/strategies/offset/kernel.ts",
    "    s[USED_GRANULES] -= size;\n",
    "",
    ["test/strategies/offset"],
    KIT.offset,
  ],
  // Slab
  [
    "slab-page-live",
    "src/strategies/slab/kernel.ts",
    "    const live = u32[h + P_LIVE] - 1;",
    "    const live = u32[h + P_LIVE];",
    ["test/strategies/slab"],
    KIT.slab,
  ],
  [
    "slab-peak",
    "src/strategies/slab/kernel.ts",
    "    if (inUse > u32[w + W_PEAK]) u32[w + W_PEAK] = inUse;\n",
    "",
    ["test/strategies/slab"],
    KIT.slab,
  ],
  // TLSF (a split that leaves a tail too small to be a block)
  [
    "tlsf-split",
    "src/strategies/tlsf/blocks.ts",
    "    if (rest < MIN_BLOCK) return 0;",
    "    if (rest < MIN_BLOCK - 8) return 0;",
    ["test/strategies/tlsf"],
    KIT.tlsf,
  ],
  // Core
  [
    "validate-align-max",
    "src/core/validate.ts",
    "    align <= MAX_ALIGN &&\n",
    "",
    ["test/core"],
    KIT.heap,
  ],
  [
    "validate-uint32",
    "src/core/validate.ts",
    '  return typeof x === "number" && x >>> 0 === x;',
    '  return typeof x === "number" && x >>> 0 === Math.floor(x);',
    ["test/core"],
    KIT.heap,
  ],
  [
    "validate-size-fits",
    "src/core/validate.ts",
    "  if (size > most) {",
    "  if (size > most + 8) {",
    ["test/core"],
    KIT.stack,
  ],
  [
    "header-version",
    "src/core/allocator.ts",
    "      if (!Object.is(v, made[i])) {",
    "      if (i !== 1 && !Object.is(v, made[i])) {",
    ["test/core"],
    KIT.heap,
  ],
  // Compose
  [
    "hardened-canary-byte0",
    "src/compose/hardened.ts",
    "    for (let i = 0; i < CANARY_BYTES; i++) {\n      if (u8[ptr + size + i] !== canaryByte(ptr, i)) {",
    "    for (let i = 1; i < CANARY_BYTES; i++) {\n      if (u8[ptr + size + i] !== canaryByte(ptr, i)) {",
    ["test/compose/hardened.test.ts"],
    KIT.hardened,
  ],
  [
    "chain-poison",
    "src/compose/chain.ts",
    '    if (e instanceof HeapCorruptedError && this.poison === "") this.poison = e.message;',
    "    void HeapCorruptedError;",
    ["test/compose/chain.test.ts"],
    KIT.chain,
  ],
];

function vitest(args, env) {
  const r = spawnSync("nice", ["-n", "19", "npx", "vitest", "run", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 900_000,
  });
  return r.status === 0 ? "passed" : "failed";
}

let restore = () => {};
process.on("SIGINT", () => {
  restore();
  process.exit(130);
});

function plant([id, file, find, replace, unit, kit], runs) {
  const path = join(root, file);
  const original = readFileSync(path, "utf8");
  if (original.split(find).length !== 2) return { id, result: "stale" };
  restore = () => writeFileSync(path, original);
  const t0 = Date.now();
  let result = "survived";
  try {
    writeFileSync(path, original.replace(find, replace));
    if (vitest(unit, {}) === "failed") result = "caught by unit tests";
    else if (vitest([kit[0], "-t", kit[1]], { MEMKIT_RUNS: String(runs) }) === "failed") {
      result = "caught by the kit";
    }
  } finally {
    restore();
    restore = () => {};
  }
  if (readFileSync(path, "utf8") !== original) throw new Error(`${file} was not restored`);
  return { id, result, seconds: Math.round((Date.now() - t0) / 1000) };
}

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    runs: { type: "string", default: "200" },
    list: { type: "boolean" },
  },
});
const only = values.only?.split(",");
const chosen = BUGS.filter((b) => only === undefined || only.includes(b[0]));
if (values.list) {
  for (const b of chosen) console.log(`${b[0]}: ${b[1]}`);
} else {
  const results = [];
  for (const bug of chosen) {
    const r = plant(bug, Number(values.runs));
    results.push(r);
    console.log(`${r.id}: ${r.result}${r.seconds === undefined ? "" : ` (${r.seconds} s)`}`);
  }
  const stale = results.filter((r) => r.result === "stale").length;
  const caught = results.filter((r) => r.result.startsWith("caught")).length;
  const planted = results.length - stale;
  console.log(`caught ${caught} of ${planted} planted bugs${stale ? `; ${stale} stale` : ""}`);
  for (const r of results) if (r.result === "survived") console.log(`SURVIVED ${r.id}`);
  process.exitCode = caught === planted ? 0 : 1;
}
