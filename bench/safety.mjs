// What each allocator does with three caller mistakes: freeing a block twice, freeing an
// address it never handed out (a pointer 8 bytes into a block), and writing 8 bytes past the
// end of a block, then freeing it. For each: did the call throw (the mistake is reported
// where it happens), and did the allocator then hand out one address twice (two live blocks
// on the same bytes: the program's data would be silently shared)?
//
// Each case runs in a process of its own, stopped after 20 s (a call that never returns is a
// finding too). AssemblyScript's TLSF is not probed here.
//
//   npm run build && node bench/safety.mjs
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { codemixMalloc, thingMalloc } from "./peers/adapters.mjs";

const mk = await import("../dist/index.js");

const subjects = {
  "memkit Heap": async () => {
    const h = new mk.Heap();
    return { alloc: (n) => h.alloc(n), free: (p) => h.free(p), u8: () => h.u8 };
  },
  "@thi.ng/malloc MemPool": async () => {
    const a = await thingMalloc(1 << 20);
    return { alloc: a.alloc, free: a.dealloc, u8: () => new Uint8Array(a.pool.buf) };
  },
  "malloc (codemix)": async () => {
    const a = codemixMalloc(1 << 20);
    // The adapter keeps its buffer to itself: the overflow case writes nothing here.
    return { alloc: a.alloc, free: a.dealloc, u8: () => null };
  },
};

/** Allocates 64 blocks of 32 bytes and reports whether any address came out twice. */
function handsOutTwice(a, live) {
  const seen = new Set(live);
  for (let i = 0; i < 64; i++) {
    const p = a.alloc(32);
    if (p === 0) break;
    if (seen.has(p)) return true;
    seen.add(p);
  }
  return false;
}

const mistakes = {
  "double free": (a) => {
    const keep = a.alloc(32);
    const p = a.alloc(32);
    a.free(p);
    return { act: () => a.free(p), live: [keep] };
  },
  "free of an inner address": (a) => {
    const p = a.alloc(32);
    return { act: () => a.free(p + 8), live: [p] };
  },
  "overflow by 8 bytes, then free": (a) => {
    const p = a.alloc(32);
    const q = a.alloc(32);
    return {
      act: () => {
        const u8 = a.u8();
        if (u8 !== null) u8.fill(0xff, p + 32, p + 40);
        a.free(p);
      },
      live: [q],
    };
  },
};

async function runCase(name, what) {
  const a = await subjects[name]();
  if (what.startsWith("overflow") && a.u8() === null) {
    console.log(`| ${name} | ${what} | not probed (no access to its bytes) | |`);
    return;
  }
  const { act, live } = mistakes[what](a);
  let threw = "no";
  try {
    act();
  } catch (e) {
    threw = `yes (${e.code ?? e.name ?? "error"})`;
  }
  let twice;
  try {
    twice = handsOutTwice(a, live) ? "**yes**" : "no";
  } catch (e) {
    twice = `later calls throw (${e.code ?? e.name})`;
  }
  console.log(`| ${name} | ${what} | ${threw} | ${twice} |`);
}

if (process.argv[2] === "--case") {
  await runCase(process.argv[3], process.argv[4]);
} else {
  console.log("| allocator | mistake | reported (threw) | then handed out an address twice |");
  console.log("| --- | --- | --- | --- |");
  const self = fileURLToPath(import.meta.url);
  for (const name of Object.keys(subjects)) {
    for (const what of Object.keys(mistakes)) {
      const r = spawnSync(process.execPath, [self, "--case", name, what], {
        encoding: "utf8",
        timeout: 20_000,
      });
      if (r.status === 0) process.stdout.write(r.stdout);
      else
        console.log(`| ${name} | ${what} | — | the next call never returned (stopped at 20 s) |`);
    }
  }
}
