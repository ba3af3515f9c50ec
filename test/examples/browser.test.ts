/**
 * examples/browser: the page a user opens after `node examples/browser/serve.mjs`, in
 * headless Chromium. The example's own server (with the library built into a temporary
 * directory) serves it cross-origin isolated; four module workers and the page share one
 * heap. The test reads what the page reports and checks the screenshot: the heap map shows
 * every agent's colour on exactly the pixels the page painted for its live blocks. Chromium
 * as in test/browser (skips, or fails in CI, without it).
 */

import type { Server } from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { type Chromium, ensureChromium, launchChromium } from "../helpers/browser.js";
import { buildLibrary, removeBuild, repoRoot } from "../helpers/build.js";
import { countColours, decodePng } from "../helpers/png.js";

interface Result {
  error?: string;
  isolated: boolean;
  startBytes: number;
  endBytes: number;
  liveBlocks: number;
  drawn: number;
  bad: number;
  workers: { allocs: number; frees: number; bad: number }[];
  page: { allocs: number; frees: number; bad: number };
  perOwner: { name: string; color: string; blocks: number; bytes: number; pixels: number }[];
  freeColor: string;
}

let skipReason = "";
let lib = "";
let server: Server | undefined;
let url = "";
let browser: Chromium | undefined;

beforeAll(async () => {
  skipReason = ensureChromium("browser example test");
  if (skipReason !== "") return;
  lib = buildLibrary("memkit-browser-example-");
  const serve = pathToFileURL(join(repoRoot, "examples", "browser", "serve.mjs")).href;
  const { startServer } = (await import(serve)) as {
    startServer(o: { port: number; lib: string }): Promise<{ server: Server; url: string }>;
  };
  ({ server, url } = await startServer({ port: 0, lib }));
  browser = await launchChromium();
}, 360_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  removeBuild(lib);
}, 30_000);

describe("examples/browser: one heap shared by Web Workers", () => {
  it("the page runs, every block checks out, and the screenshot shows each agent's blocks", async (ctx: TestContext) => {
    if (skipReason !== "") ctx.skip(skipReason);
    const page = await browser!.context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    try {
      await page.setViewportSize({ width: 800, height: 900 });
      await page.goto(url);
      await page.waitForSelector('#status:not([data-state="running"])', { timeout: 30_000 });
      const r = (await page.evaluate("window.result")) as Result;
      expect(r.error, problems.join("\n")).toBeUndefined();
      expect(await page.getAttribute("#status", "data-state")).toBe("done");
      expect(r.isolated).toBe(true);
      expect(r.bad).toBe(0);
      expect(r.endBytes).toBeGreaterThan(r.startBytes); // the heap grew while shared
      // 4 workers × 40 rounds × 48 blocks: a third kept, a third freed at once, a third handed
      // to the page, which frees one per message and passes the rest to the next worker.
      expect(r.workers).toHaveLength(4);
      for (const w of r.workers) {
        expect(w).toEqual({ allocs: 40 * 48, frees: 40 * 16 + 40 * 15, bad: 0 });
      }
      expect(r.page).toEqual({ allocs: 160, frees: 160, bad: 0 });
      expect(r.liveBlocks).toBe(4 * 40 * 16 + 160);
      expect(r.drawn).toBe(r.liveBlocks);

      const png = await page.locator("#map").screenshot();
      const image = decodePng(png);
      expect(image.width).toBeGreaterThanOrEqual(640); // the canvas, with its border
      expect(image.height).toBeGreaterThanOrEqual(240);
      const colours = [...r.perOwner.map((o) => o.color), r.freeColor];
      const counts = countColours(image, colours);
      // The map is exactly what the page says it drew from the live blocks: each agent's
      // colour on as many pixels as it painted (a bar 18 pixels high per cell), and free
      // space on every other pixel of the 640 × 240 canvas.
      let owned = 0;
      for (const o of r.perOwner) {
        expect(o.blocks, `${o.name}'s live blocks`).toBeGreaterThan(0);
        expect(o.pixels, `${o.name}'s pixels on the map`).toBeGreaterThan(0);
        expect(counts.get(o.color), `${o.name}'s pixels in the screenshot`).toBe(o.pixels);
        owned += o.pixels;
      }
      expect(counts.get(r.freeColor), "free space on the map").toBe(640 * 240 - owned);
      const text = await page.textContent("#stats");
      expect(text).toContain("blocks found overwritten0");
    } finally {
      await page.close().catch(() => {});
    }
  }, 90_000);
});
