import { Writable } from "node:stream";

/**
 * Collects bytes up to a cap, remembering whether more arrived. Several writers may share one
 * collector: chunks are kept in the order they were written.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** True once bytes beyond the cap were dropped. */
  truncated = false;

  constructor(private readonly maxBytes: number = Number.POSITIVE_INFINITY) {}

  push(chunk: Buffer): void {
    const room = this.maxBytes - this.size;
    if (chunk.length > room) {
      this.truncated = true;
      if (room <= 0) return;
      chunk = chunk.subarray(0, room);
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** A writable stream that feeds this collector. */
  sink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.push(chunk);
        callback();
      },
    });
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }

  /** The text collected; a character cut by the cap is dropped rather than shown as U+FFFD. */
  text(): string {
    const bytes = this.bytes();
    return bytes.subarray(0, this.truncated ? completeUtf8Length(bytes) : bytes.length).toString("utf8");
  }
}

/** Length of `bytes` without a trailing incomplete UTF-8 sequence. */
function completeUtf8Length(bytes: Buffer): number {
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last sequence.
  let i = bytes.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && ((bytes[i] as number) & 0xc0) === 0x80) {
    i--;
    back++;
  }
  if (i < 0) return bytes.length;
  const lead = bytes[i] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - i >= need ? bytes.length : i;
}
