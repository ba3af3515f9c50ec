/**
 * Headless Chromium for the browser tests: Debian's `chromium` package at /usr/bin/chromium,
 * driven by the `playwright-core` devDependency. `ensureChromium` installs the package with
 * apt-get when it is missing and it may (root, apt-get present); `launchChromium` starts it
 * with a fresh profile.
 */

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The headers that make a page cross-origin isolated (SharedArrayBuffer needs them). */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/**
 * Finds Chromium, installing Debian's package when it is missing and we may. Returns why the
 * tests must skip, or "" when Chromium is there. With MEMKIT_REQUIRE_BROWSER=1 (CI) a missing
 * Chromium throws instead.
 */
export function ensureChromium(what: string): string {
  let reason = "";
  if (!existsSync(CHROMIUM)) {
    const root = process.getuid?.() === 0;
    const apt = existsSync("/usr/bin/apt-get");
    if (!(root && apt)) {
      reason = `${CHROMIUM} is missing and cannot be installed here (${root ? "no apt-get" : "not root"}); install Debian's chromium package`;
    } else {
      process.stderr.write(`${what}: ${CHROMIUM} missing, running apt-get install chromium\n`);
      try {
        execFileSync("sh", ["-c", "apt-get update && apt-get install -y chromium"], {
          stdio: "pipe",
          timeout: 300_000,
          env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        });
        if (!existsSync(CHROMIUM))
          reason = `${CHROMIUM} still missing after apt-get install chromium`;
      } catch (e) {
        reason = `${CHROMIUM} is missing and apt-get install chromium failed: ${String(e).slice(0, 300)}`;
      }
    }
  }
  if (reason !== "") {
    if (process.env.MEMKIT_REQUIRE_BROWSER === "1") throw new Error(reason);
    process.stderr.write(`${what} SKIPPED: ${reason}\n`);
  }
  return reason;
}

/** A running headless Chromium with a fresh profile; `close` ends it and deletes the profile. */
export interface Chromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), "memkit-chromium-profile-"));
  // A persistent context is how Playwright takes a --user-data-dir (a fresh one, here).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20_000,
  });
  context.setDefaultTimeout(15_000);
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
