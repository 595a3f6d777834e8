import type { GrepMatch, ReadResult } from "./protocol.js";

const encoder = new TextEncoder();
// fatal: invalid UTF-8 must be detected, not replaced; ignoreBOM: a BOM is content and must round-trip.
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, or returns `null` when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Decodes UTF-8, replacing invalid sequences with U+FFFD. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return lossyDecoder.decode(bytes);
}

/** Size in bytes of a string's UTF-8 encoding, without allocating it. */
export function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * Number of lines in a text: lines are separated by `\n`, and a final `\n` does not start an extra
 * line. An empty text has 0 lines.
 */
export function countLines(text: string): number {
  if (text.length === 0) return 0;
  let n = 1;
  let i = text.indexOf("\n");
  while (i !== -1) {
    if (i === text.length - 1) break;
    n++;
    i = text.indexOf("\n", i + 1);
  }
  return n;
}

/**
 * Splits a text into its lines (see {@link countLines} for what a line is). Only for texts of
 * bounded size: V8 aborts the process when a split yields more than 2^27 pieces.
 */
export function splitLines(text: string): string[] {
  if (text.length === 0) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Floors and clamps a caller's offset/limit (negative → 0, NaN/Infinity → default). */
export function normalizeReadWindow(offset?: number, limit?: number): { offset: number; limit: number } {
  const clamp = (v: number | undefined, fallback: number) =>
    typeof v === "number" && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : fallback;
  return { offset: clamp(offset, 0), limit: clamp(limit, 500) };
}

/**
 * The read window of the contract over a text: raw lines `offset .. offset+limit-1` joined by
 * `\n`, with `totalLines` (left out for an empty text), and `startLine`/`endLine`/`nextOffset`
 * when the window is not empty.
 */
export function readTextWindow(
  text: string,
  offset?: number,
  limit?: number,
): Pick<ReadResult, "content" | "totalLines" | "startLine" | "endLine" | "nextOffset"> {
  const window = normalizeReadWindow(offset, limit);
  const totalLines = countLines(text);
  // An empty file has no range at all: with `totalLines: 0`, deepagents' read_file derives the
  // range 1-1 of 0 and prints an empty "@@  @@" header; without it, it prints what it prints for
  // its own StateBackend.
  if (totalLines === 0) return { content: "" };
  if (window.offset >= totalLines || window.limit === 0) return { content: "", totalLines };
  // Find the window by scanning for newlines rather than splitting the whole text into lines.
  let start = 0;
  for (let line = 0; line < window.offset; line++) start = text.indexOf("\n", start) + 1;
  const endLine = Math.min(totalLines, window.offset + window.limit);
  let end = start;
  for (let line = window.offset; line < endLine; line++) {
    const newline = text.indexOf("\n", end);
    end = newline === -1 ? text.length : newline + 1;
  }
  const content = text.charCodeAt(end - 1) === 10 ? text.slice(start, end - 1) : text.slice(start, end);
  const result: Pick<ReadResult, "content" | "totalLines" | "startLine" | "endLine" | "nextOffset"> = {
    content,
    totalLines,
    startLine: window.offset + 1,
    endLine,
  };
  if (endLine < totalLines) result.nextOffset = endLine;
  return result;
}

/**
 * Literal, case-sensitive search of one text. Returns the matching lines (1-based numbers, text
 * without the `\n`, a `\r` kept). Stops after `limit` matches when given.
 */
export function grepText(
  text: string,
  pattern: string,
  limit = Number.POSITIVE_INFINITY,
): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  // A pattern containing "\n" can never match within one line.
  if (limit <= 0 || pattern.includes("\n")) return out;
  if (pattern.length === 0) {
    // Every line matches: take them one by one up to the cap. Splitting the whole text first costs
    // every line for one match, and past 2^27 lines aborts the process.
    for (let start = 0, line = 1; start < text.length && out.length < limit; line++) {
      const newline = text.indexOf("\n", start);
      const end = newline === -1 ? text.length : newline;
      out.push({ line, text: text.slice(start, end) });
      start = end + 1;
    }
    return out;
  }
  // Jump from hit to hit with indexOf and count the newlines skipped, instead of splitting the text.
  let line = 1;
  let counted = 0;
  let hit = text.indexOf(pattern);
  while (hit !== -1) {
    for (let nl = text.indexOf("\n", counted); nl !== -1 && nl < hit; nl = text.indexOf("\n", nl + 1)) {
      line++;
      counted = nl + 1;
    }
    const start = text.lastIndexOf("\n", hit - 1) + 1;
    const newline = text.indexOf("\n", hit + pattern.length);
    const end = newline === -1 ? text.length : newline;
    out.push({ line, text: text.slice(start, end) });
    if (out.length >= limit || newline === -1) break;
    line++;
    counted = newline + 1;
    hit = text.indexOf(pattern, newline + 1);
  }
  return out;
}

/**
 * {@link grepFileText} on the UTF-8 bytes of a text, without decoding it: only the matching lines
 * are decoded. `bytes` must be valid UTF-8 and `needle` the UTF-8 of a well-formed, non-empty
 * pattern without `\n`; then the result equals `grepFileText(path, decode(bytes), pattern, limit)`:
 * UTF-8 is self-synchronising (a needle's bytes occur exactly where its characters do) and a line
 * ends at the byte `\n`. For a store that hands out the raw bytes of its texts (a database row, a
 * file), this skips decoding every byte that is not on a matching line, which is most of them.
 */
export function grepFileUtf8(
  path: string,
  bytes: Uint8Array,
  needle: Uint8Array,
  limit = Number.POSITIVE_INFINITY,
): GrepMatch[] {
  const out: GrepMatch[] = [];
  if (limit <= 0 || needle.length === 0) return out;
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hit = buffer.indexOf(needle);
  let line = 1;
  // Start of the line `line`.
  let start = 0;
  while (hit !== -1) {
    for (let nl = buffer.indexOf(10, start); nl !== -1 && nl < hit; nl = buffer.indexOf(10, nl + 1)) {
      line++;
      start = nl + 1;
    }
    const newline = buffer.indexOf(10, hit + needle.length);
    const end = newline === -1 ? buffer.length : newline;
    out.push({ path, line, text: buffer.toString("utf8", start, end) });
    if (out.length >= limit || newline === -1) break;
    line++;
    start = newline + 1;
    hit = buffer.indexOf(needle, start);
  }
  return out;
}

/** {@link grepText} for a file, as contract `GrepMatch`es. */
export function grepFileText(path: string, text: string, pattern: string, limit?: number): GrepMatch[] {
  return grepText(text, pattern, limit).map((m) => ({ path, line: m.line, text: m.text }));
}

/** True when text content may be searched by grep: no NUL characters (ripgrep's binary rule). */
export function isSearchableText(text: string): boolean {
  return !text.includes("\u0000");
}
