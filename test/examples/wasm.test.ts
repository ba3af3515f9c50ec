/**
 * examples/wasm: a C program compiled here and now by clang (wasm32-wasi, wasi-libc, lld),
 * run by node:wasi, whose whole C allocator is a memkit Heap in its own memory. The example's
 * script checks every step itself; this test runs it as a user would (in a project where
 * "memkit" is the built library) and checks what it reports. A second test shows why the
 * README says the heap must be the module's only allocator: with wasi-libc's malloc left in,
 * the module's first block lands on the heap's header.
 *
 * Without the toolchain the tests skip and say why; with MEMKIT_REQUIRE_CLANG=1 (CI, whose
 * .ci/run installs it) they fail instead.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WASI } from "node:wasi";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { Heap } from "../../src/index.js";
import { buildProject, removeBuild, repoRoot } from "../helpers/build.js";

const example = join(repoRoot, "examples", "wasm");
const PACKAGES = "clang lld wasi-libc libclang-rt-dev-wasm32";

/** Why the toolchain cannot build a wasm32-wasi program here, or "" when it can. */
function toolchainMissing(): string {
  const dir = mkdtempSync(join(tmpdir(), "memkit-clang-probe-"));
  try {
    writeFileSync(join(dir, "probe.c"), "#include <stdlib.h>\nint main(void) { return 0; }\n");
    execFileSync(
      "clang",
      ["--target=wasm32-wasi", "-O2", "-o", join(dir, "probe.wasm"), join(dir, "probe.c")],
      { stdio: "pipe", timeout: 60_000 },
    );
    return "";
  } catch (e) {
    const err = e as { code?: string; stderr?: Buffer };
    const why = err.code === "ENOENT" ? "clang is not installed" : String(err.stderr ?? e);
    return `cannot build for wasm32-wasi (${why.trim().split("\n")[0]}); install Debian's ${PACKAGES}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let missing = "";
let project = "";

beforeAll(() => {
  missing = toolchainMissing();
  if (missing !== "") {
    if (process.env.MEMKIT_REQUIRE_CLANG === "1") throw new Error(missing);
    process.stderr.write(`wasm example test SKIPPED: ${missing}\n`);
    return;
  }
  project = buildProject("memkit-wasm-example-");
  mkdirSync(join(project, "wasm"));
  for (const f of ["run.mjs", "text.c", "alloc.c"]) {
    copyFileSync(join(example, f), join(project, "wasm", f));
  }
}, 180_000);

afterAll(() => removeBuild(project));

function skipIfMissing(ctx: TestContext): void {
  if (missing !== "") ctx.skip(missing);
}

describe("examples/wasm: a C module and JavaScript share one heap", () => {
  it("node examples/wasm/run.mjs builds the module and every step checks out", (ctx) => {
    skipIfMissing(ctx);
    const r = spawnSync(
      process.execPath,
      ["--disable-warning=ExperimentalWarning", join("wasm", "run.mjs"), "--json"],
      { cwd: project, encoding: "utf8", timeout: 120_000 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("hello, memkit, from C"); // C's printf, through node:wasi
    const out = JSON.parse(lines[lines.length - 1]);
    expect(out.dlmallocLinked).toBe(false);
    expect(out.heapBase % 16).toBe(0);
    expect(out.shout).toBe("HELLO FROM JAVASCRIPT!");
    expect(out.words).toEqual(["one", "heap", "for", "C", "and", "JavaScript"]);
    expect(out.lastSum).toBe(500_000);
    expect(out.bigLength).toBe(2_100_000);
    const [start, afterC, afterJs] = out.pages as number[];
    expect(afterC).toBeGreaterThan(start);
    expect(afterJs).toBeGreaterThan(afterC);
    expect(out.misaligned).toEqual([]);
    expect(out.blocksSeen).toBeGreaterThan(20);
    expect(out.alignedAllocBad).toEqual([0, 28]); // NULL, EINVAL
    expect(out.posixBad).toBe(28);
    expect(out.tooBig).toEqual([0, 48]); // NULL, ENOMEM
    expect(out.usable[0]).toBe(out.usable[1]);
    expect(out.doubleFree).toBe("ERR_DOUBLE_FREE");
    expect(out.liveBlocks).toBe(0);
  }, 120_000);

  it("with wasi-libc's own malloc left in, the module's first block lands on the heap's header", async (ctx) => {
    skipIfMissing(ctx);
    const wasm = join(project, "dlmalloc.wasm");
    const args = ["--target=wasm32-wasi", "-O2", "-mexec-model=reactor"];
    args.push("-Wl,--export=__heap_base", "-o", wasm, join(example, "text.c")); // no alloc.c
    execFileSync("clang", args, { stdio: "pipe", timeout: 120_000 });
    const wasi = new WASI({ version: "preview1", returnOnExit: true });
    const { instance } = await WebAssembly.instantiate(
      readFileSync(wasm),
      wasi.getImportObject() as WebAssembly.Imports,
    );
    const c = instance.exports as Record<string, (...a: number[]) => number> & {
      memory: WebAssembly.Memory;
      __heap_base: WebAssembly.Global;
    };
    wasi.initialize(instance);
    const heapBase = c.__heap_base.value as number;
    const heap = Heap.inWasmMemory(c.memory, heapBase);
    const text = heap.writeString("a string from JavaScript");
    heap.check();
    const loud = c.shout(text) >>> 0; // dlmalloc's block
    // Inside the heap's own header, which starts at __heap_base.
    expect(loud).toBeGreaterThanOrEqual(heapBase);
    expect(loud).toBeLessThan(text);
    // The heap notices at its next check: its metadata was overwritten.
    expect(() => heap.check()).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^ERR_HEAP_(CORRUPTED|POISONED)$/) }),
    );
  }, 120_000);
});
