import type { GetObjectCommandOutput } from "@aws-sdk/client-s3";
import { normalizeReadWindow, type ReadResult } from "@deepfs/core";

/** A GET body as Node gives it: an async byte stream that can be destroyed. */
export type ByteStream = (AsyncIterable<Uint8Array> | Iterable<Uint8Array>) & {
  destroy?: () => void;
  readableEnded?: boolean;
};

type Window = Pick<ReadResult, "content" | "totalLines" | "startLine" | "endLine" | "nextOffset">;

/**
 * The contract's read window (`readTextWindow` of core) over a text fed chunk by chunk: every
 * line is counted for `totalLines`, but only the lines of the window are kept, so memory stays at
 * the window plus one chunk however large the file is. The bytes are validated as UTF-8 on the way
 * (a fatal streaming decoder), because a file that is not UTF-8 anywhere is not text.
 */
export class LineWindow {
  // fatal: invalid UTF-8 is detected, not replaced; ignoreBOM: a BOM is content (as in core).
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private readonly first: number;
  private readonly end: number;
  private readonly kept: string[] = [];
  /** Index of the line being read (= newlines seen so far). */
  private line = 0;
  /** Text of the current line so far, only while that line is inside the window. */
  private partial = "";
  /** True when the current line has at least one character (it counts even if never kept). */
  private started = false;
  private invalid = false;

  constructor(offset?: number, limit?: number) {
    const window = normalizeReadWindow(offset, limit);
    this.first = window.offset;
    this.end = window.offset + window.limit;
  }

  /** Feeds the next chunk; returns false once the bytes are known not to be UTF-8 (stop reading). */
  push(chunk: Uint8Array): boolean {
    return this.take(() => this.decoder.decode(chunk, { stream: true }));
  }

  /** Ends the input: the window, or `null` when the bytes were not UTF-8. */
  finish(): Window | null {
    if (!this.take(() => this.decoder.decode())) return null;
    const totalLines = this.line + (this.started ? 1 : 0);
    if (this.started && this.inWindow()) this.kept.push(this.partial);
    // As core's readTextWindow: an empty text has no range, not `totalLines: 0`.
    if (totalLines === 0) return { content: "" };
    if (this.kept.length === 0) return { content: "", totalLines };
    const endLine = this.first + this.kept.length;
    return {
      content: this.kept.join("\n"),
      totalLines,
      startLine: this.first + 1,
      endLine,
      ...(endLine < totalLines ? { nextOffset: endLine } : {}),
    };
  }

  private take(decode: () => string): boolean {
    if (this.invalid) return false;
    let text: string;
    try {
      text = decode();
    } catch {
      this.invalid = true;
      return false;
    }
    let from = 0;
    for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", from)) {
      if (this.inWindow()) this.kept.push(this.partial + text.slice(from, newline));
      this.partial = "";
      this.started = false;
      this.line++;
      from = newline + 1;
    }
    if (from < text.length) {
      this.started = true;
      if (this.inWindow()) this.partial += text.slice(from);
    }
    return true;
  }

  private inWindow(): boolean {
    return this.line >= this.first && this.line < this.end;
  }
}

/**
 * Streams `body` through a {@link LineWindow}: the window, `null` when the bytes are not UTF-8, or
 * `"too_large"` once more than `maxBytes` arrived (reading stops there: a body whose length was
 * not announced is bounded too). The body is always consumed or destroyed, so its socket is released.
 */
export async function readWindow(
  body: ByteStream,
  offset?: number,
  limit?: number,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Window | null | "too_large"> {
  const window = new LineWindow(offset, limit);
  let received = 0;
  try {
    for await (const chunk of body) {
      received += chunk.byteLength;
      if (received > maxBytes) return "too_large";
      if (!window.push(chunk)) return null;
    }
    return window.finish();
  } finally {
    if (body.readableEnded === false) body.destroy?.();
  }
}

/** Reads `body` whole if it holds at most `maxBytes` bytes; else null, the body destroyed. */
export async function readAtMost(body: ByteStream, maxBytes: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += chunk.byteLength;
      if (total > maxBytes) return null;
      chunks.push(chunk);
    }
  } finally {
    if (body.readableEnded === false) body.destroy?.();
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The body of a GET as the byte stream it is in Node (an empty one when there is none). */
export function bodyOf(response: GetObjectCommandOutput): ByteStream {
  return (response.Body as ByteStream | undefined) ?? [];
}
