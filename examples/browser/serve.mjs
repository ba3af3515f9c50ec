#!/usr/bin/env node
// Serves the browser example on http://127.0.0.1:PORT/ with the two headers that make a page
// cross-origin isolated, which SharedArrayBuffer (and so a SharedHeap) needs in a browser:
//
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
//
// The page and its workers load the built library from /memkit/ (the repository's dist/, or
// --lib DIR), as plain ES modules: no bundler.
//
//   npm run build && node examples/browser/serve.mjs [--port 8080] [--lib DIR]
//
// then open the address it prints. It listens on 127.0.0.1 only.

import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = fileURLToPath(new URL(".", import.meta.url));

export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/**
 * Starts the server; resolves with it and its address once it listens. `lib` is the built
 * library's folder (the one holding index.js); port 0 picks a free port.
 */
export function startServer({ port = 8080, lib = join(here, "..", "..", "dist") } = {}) {
  const roots = { "/memkit/": resolve(lib), "/": resolve(here) };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const prefix = path.startsWith("/memkit/") ? "/memkit/" : "/";
    const root = roots[prefix];
    const rel = path.slice(prefix.length) || "index.html";
    const file = normalize(join(root, rel));
    const type = TYPES[extname(file)];
    const ok = file.startsWith(root + sep) && type !== undefined && existsSync(file);
    if (!ok || !statSync(file).isFile()) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end(`not found: ${path}\n`);
      return;
    }
    res
      .writeHead(200, { "Content-Type": type, "Cache-Control": "no-store", ...ISOLATION_HEADERS })
      .end(readFileSync(file));
  });
  return new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => {
      const { port: p } = server.address();
      done({ server, url: `http://127.0.0.1:${p}/` });
    });
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: "string" }, lib: { type: "string" } } });
  const lib = values.lib ?? join(here, "..", "..", "dist");
  if (!existsSync(join(lib, "index.js"))) {
    console.error(`serve.mjs: no built library in ${lib}: run npm run build first`);
    process.exit(1);
  }
  const { url } = await startServer({ port: Number(values.port ?? 8080), lib });
  console.log(`memkit browser example: open ${url} (Ctrl-C stops)`);
}
