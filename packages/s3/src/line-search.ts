import { isUtf8 } from "node:buffer";

const NEWLINE = 0x0a;
const NUL = 0x00;

/** A matching line: 1-based number and text without the `\n` (a `\r` kept). */
export interface LineMatch {
  line: number;
  text: string;
}

/**
 * Literal search of one file fed as a byte stream, with the rules of the core matcher (`grepText`
 * over text that `contentFromBytes` accepts): lines split on `\n`, a final `\n` starts no extra
 * line, and a file holding a NUL byte or invalid UTF-8 anywhere is binary and yields nothing.
 *
 * Memory stays at one line plus one chunk (and under `maxBytes`): complete lines are searched as bytes (UTF-8 is
 * self-synchronising, so a byte match of a valid pattern in valid text is a character match) and
 * only matching lines are decoded.
 */
export class LineSearcher {
  private readonly pattern: Buffer;
  private readonly limit: number;
  /** Bytes of the current, unfinished line. */
  private pending: Buffer[] = [];
  /** Number of complete lines seen so far. */
  private lines = 0;
  private readonly found: LineMatch[] = [];
  /** Characters of the matching lines kept. */
  private foundText = 0;
  private isBinary = false;
  /** Bytes fed so far. */
  private received = 0;

  /**
   * `pattern` must not contain `\n` and must be well-formed; `limit` caps the matches kept, and so
   * does `maxText`: none is kept after the one that brings their text (in UTF-16 code units) over
   * it. A file of more than `maxBytes` bytes is skipped as it passes that size (so no line is held
   * past it). Past either cap the file is still read to its end, to tell whether it is binary.
   */
  constructor(
    pattern: string,
    limit: number,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
    private readonly maxText = Number.POSITIVE_INFINITY,
  ) {
    this.pattern = Buffer.from(pattern, "utf8");
    this.limit = limit;
  }

  /** True once the file is known to be binary (or too large); further input is ignored. */
  get binary(): boolean {
    return this.isBinary;
  }

  /** Feeds the next chunk; returns false once the file is known to be binary or too large (stop reading). */
  push(chunk: Uint8Array): boolean {
    if (this.isBinary) return false;
    this.received += chunk.byteLength;
    if (this.received > this.maxBytes) return this.markBinary();
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.includes(NUL)) return this.markBinary();
    const lastNewline = bytes.lastIndexOf(NEWLINE);
    if (lastNewline === -1) {
      this.pending.push(bytes);
      return true;
    }
    const head = bytes.subarray(0, lastNewline + 1);
    const block = this.pending.length === 0 ? head : Buffer.concat([...this.pending, head]);
    this.pending = lastNewline + 1 < bytes.length ? [bytes.subarray(lastNewline + 1)] : [];
    return this.scan(block);
  }

  /** Ends the input: the matches, or `null` for a binary (or too large) file. */
  finish(): LineMatch[] | null {
    if (!this.isBinary && this.pending.length > 0) {
      const last = Buffer.concat(this.pending);
      this.pending = [];
      this.scan(last);
    }
    return this.isBinary ? null : this.found;
  }

  private markBinary(): false {
    this.isBinary = true;
    this.pending = [];
    this.found.length = 0;
    return false;
  }

  /** True once no further match is kept (see the constructor). */
  private get full(): boolean {
    return this.found.length >= this.limit || this.foundText > this.maxText;
  }

  /** Searches whole lines (`block` ends with `\n`, or is the file's last line). */
  private scan(block: Buffer): boolean {
    if (!isUtf8(block)) return this.markBinary();
    if (this.full) return true;
    const base = this.lines;
    let line = base;
    let counted = 0;
    const emit = (start: number, end: number): void => {
      // Count the newlines before `start` to number the line.
      for (let nl = block.indexOf(NEWLINE, counted); nl !== -1 && nl < start; nl = block.indexOf(NEWLINE, nl + 1)) {
        line++;
        counted = nl + 1;
      }
      const text = block.toString("utf8", start, end);
      this.found.push({ line: line + 1, text });
      this.foundText += text.length;
    };
    let from = 0;
    while (from < block.length && !this.full) {
      const hit = this.pattern.length === 0 ? from : block.indexOf(this.pattern, from);
      if (hit === -1) break;
      const start = hit === 0 ? 0 : block.lastIndexOf(NEWLINE, hit - 1) + 1;
      const newline = block.indexOf(NEWLINE, hit + this.pattern.length);
      const end = newline === -1 ? block.length : newline;
      emit(start, end);
      from = end + 1;
    }
    this.lines = base + countNewlines(block);
    return true;
  }
}

function countNewlines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(NEWLINE); i !== -1; i = bytes.indexOf(NEWLINE, i + 1)) n++;
  return n;
}
