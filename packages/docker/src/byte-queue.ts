/** Bytes received in chunks, consumed from the front without copying more than once. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes held. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Offset of the first `byte` among the first `limit` bytes held, or -1. */
  indexOf(byte: number, limit: number): number {
    let base = 0;
    for (const chunk of this.chunks) {
      if (base >= limit) break;
      const found = chunk.subarray(0, limit - base).indexOf(byte);
      if (found !== -1) return base + found;
      base += chunk.length;
    }
    return -1;
  }

  /** Removes and returns the first `n` bytes (at most {@link length}). */
  take(n: number): Buffer {
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0];
      if (!chunk) break;
      if (chunk.length <= left) {
        parts.push(chunk);
        this.chunks.shift();
        left -= chunk.length;
      } else {
        parts.push(chunk.subarray(0, left));
        this.chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    const taken = n - left;
    this.length -= taken;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, taken);
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}
