/**
 * SharedHeap in a real browser: Web Workers in headless Chromium share one heap with the
 * page (issue 6, "Real use"). Chromium comes from test/helpers/browser.ts; the page comes
 * from a tiny HTTP server on 127.0.0.1 (a random free port) that sends the cross-origin
 * isolation headers SharedArrayBuffer needs, and serves the library compiled by `tsc` into a
 * temporary directory in `beforeAll` (as test/shared/workers.test.ts does) as ES modules.
 *
 * If Chromium is missing, `beforeAll` installs it with apt-get when it can (root, apt-get
 * present); only if that is impossible do the tests skip, saying why. With
 * MEMKIT_REQUIRE_BROWSER=1 (CI) a missing Chromium fails instead of skipping.
 *
 * Every wait is bounded; the whole file takes a few seconds plus the `tsc` build.
 */

import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import {
  type Chromium,
  ensureChromium,
  ISOLATION_HEADERS,
  launchChromium,
} from "../helpers/browser.js";
import { buildLibrary, removeBuild } from "../helpers/build.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
};

const pageDir = fileURLToPath(new URL("./page/", import.meta.url));

let skipReason = "";
let outDir = "";
let server: Server | undefined;
let base = "";
let context: BrowserContext | undefined;
let browser: Chromium | undefined;

/** Serves page/ (isolated at /, not isolated under /plain/) and the built library at /lib/. */
function serve(): Promise<string> {
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    let root = pageDir;
    let rel = path;
    let isolated = true;
    if (path.startsWith("/lib/")) {
      root = outDir;
      rel = path.slice("/lib".length);
    } else if (path.startsWith("/plain/")) {
      rel = path.slice("/plain".length);
      isolated = false;
    }
    const file = normalize(join(root, rel));
    const type = CONTENT_TYPES[extname(file)];
    if (!(file.startsWith(normalize(root + sep)) && type !== undefined && existsSync(file))) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res
      .writeHead(200, {
        "Content-Type": type,
        "Cache-Control": "no-store",
        ...(isolated ? ISOLATION_HEADERS : {}),
      })
      .end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server!.once("error", reject);
    server!.listen(0, "127.0.0.1", () => {
      const { port } = server!.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

beforeAll(async () => {
  skipReason = ensureChromium("browser test");
  if (skipReason !== "") return;
  outDir = buildLibrary("memkit-browser-lib-");
  base = await serve();
  browser = await launchChromium();
  context = browser.context;
}, 360_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  removeBuild(outDir);
}, 30_000);

type Scenario = "stress" | "fault" | "unisolated";
type Result = Record<string, unknown>;

/** Opens `path`, waits for main.mjs, runs `window.memkit[name](arg)` within `ms`. */
async function run(path: string, name: Scenario, arg: unknown, ms: number): Promise<Result> {
  const page: Page = await context!.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  try {
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => "memkit" in window, null, { timeout: 10_000 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}: no result within ${ms} ms`)), ms);
    });
    const call = page.evaluate(
      ([n, a]) =>
        (window as unknown as { memkit: Record<string, (x: unknown) => Promise<Result>> }).memkit[
          n as string
        ](a),
      [name, arg] as const,
    );
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    throw new Error(`${String(e)}\n${problems.join("\n")}`);
  } finally {
    await page.close().catch(() => {});
  }
}

function skipIfNoBrowser(ctx: TestContext): void {
  if (skipReason !== "") ctx.skip(skipReason);
}

describe("a shared heap in headless Chromium", () => {
  it("Web Workers and the page allocate, paint, pass pointers and free each other's blocks", async (ctx) => {
    skipIfNoBrowser(ctx);
    const workers = 3;
    const rounds = 30;
    const r = await run("/index.html", "stress", { workers, rounds, batch: 100 }, 40_000);
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.waitThrows).toBe(true); // why the page uses only tryAlloc / allocAsync
    const reports = r.workerReports as { bad: number; allocs: number; frees: number }[];
    expect(reports).toHaveLength(workers);
    for (const w of reports) {
      expect(w.bad).toBe(0);
      expect(w.allocs).toBe(rounds * 100);
    }
    expect(r.bad).toBe(0);
    // The page freed one block of every worker batch and added one of its own to it.
    expect(r.mainFrees).toBe(workers * rounds);
    expect(r.mainAllocs).toBe(workers * rounds);
    expect(r.lockOwnerAtEnd).toBe(0);
    expect(r.checked).toBe(true);
    expect(r.liveBlocks).toBe(0);
    expect(r.grew).toBe(true); // growth by one agent was seen by all (paint verified)
  }, 60_000);

  it("a worker terminated inside the lock: the page marks it dead and tryAlloc recovers", async (ctx) => {
    skipIfNoBrowser(ctx);
    const r = await run("/index.html", "fault", null, 20_000);
    expect(r.lockOwnerWhilePaused).toBe(r.agent);
    expect(r.tryAllocWhilePaused).toBe(-1); // LOCK_BUSY: the page never waits
    expect(r.heldLock).toBe(true);
    expect(r.allocAfter as number).toBeGreaterThan(0);
    expect(r.poisoned).toBe(false);
    expect(r.lockOwnerAfter).toBe(0);
    expect(r.liveBlocks).toBe(2); // the dead worker's dealloc was rolled forward
    expect(r.liveBlocksAtEnd).toBe(0);
  }, 30_000);

  it("a page without cross-origin isolation gets a clear error from SharedHeap.create", async (ctx) => {
    skipIfNoBrowser(ctx);
    const r = await run("/plain/plain.html", "unisolated", null, 10_000);
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.typeofSharedArrayBuffer).toBe("undefined");
    expect(r.created).toBeUndefined();
    const e = r.error as { name: string; code: string; message: string; isTypeError: boolean };
    expect(e.isTypeError).toBe(true);
    expect(e.name).toBe("ArgumentTypeError");
    expect(e.message).toMatch(/SharedArrayBuffer is not available.*cross-origin isolation/);
    expect(e.code).toBe("ERR_SAB_UNAVAILABLE");
  }, 20_000);
});
