/// <reference types="node" />
/**
 * Reads a trace file as a stream: plain text or gzip (told by its first two bytes, not its
 * name), decoded chunk by chunk into the incremental `TraceParser`, so the text is never
 * held whole. Node only (the CLI), never imported by the library.
 */

import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { type Trace, TraceFormatError, TraceParser } from "../trace/trace.js";
import { CliError } from "./args.js";

/** A trace's name from its file name: `mine.trace.gz` → `mine`. */
export function traceName(path: string): string {
  return (
    basename(path)
      .replace(/\.gz$/i, "")
      .replace(/\.(trace|txt)$/i, "") || "trace"
  );
}

function isGzip(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses the trace in `path`. `onRead(bytesRead, fileBytes)` follows the (compressed) bytes
 * read. Throws `CliError` for a missing or unreadable file, a broken gzip stream, or a bad
 * line (the message keeps the parser's line number).
 */
export async function readTraceFile(
  path: string,
  onRead?: (bytesRead: number, fileBytes: number) => void,
): Promise<Trace> {
  let fileBytes: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new CliError(`${path} is not a file`);
    fileBytes = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const gz = isGzip(path);
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let bytesRead = 0;
  let source: Readable = file;
  if (gz) {
    // The file flows through pipe(): count its bytes as they pass.
    const gunzip = createGunzip();
    file.on("error", (e) => gunzip.destroy(e));
    file.on("data", (chunk) => {
      bytesRead += chunk.length;
      onRead?.(bytesRead, fileBytes);
    });
    source = file.pipe(gunzip);
  }
  const parser = new TraceParser();
  const decoder = new TextDecoder("utf-8");
  try {
    for await (const chunk of source) {
      if (!gz) {
        bytesRead += (chunk as Buffer).length;
        onRead?.(bytesRead, fileBytes);
      }
      parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
    }
    parser.feed(decoder.decode());
    return parser.finish(traceName(path));
  } catch (e) {
    file.destroy();
    if (e instanceof TraceFormatError) throw new CliError(`${path}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (gz && typeof code === "string" && code.startsWith("Z_")) {
      throw new CliError(`${path}: broken gzip data (${(e as Error).message})`);
    }
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
}
