import { createInterface } from "node:readline/promises";
import type { Readable, Writable } from "node:stream";

/** Where a command reads and writes: the process's streams, or others in a program embedding the CLI. */
export interface Streams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** Writes `data` and waits until the stream took it (so large outputs are not cut short on exit). */
export function writeAll(stream: Writable, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/** Everything on a readable stream, as bytes. */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** What a command prints: text lines for people, or one JSON document with --json. */
export class Output {
  constructor(
    readonly streams: Streams,
    readonly json: boolean,
  ) {}

  line(text: string): Promise<void> {
    return writeAll(this.streams.stdout, `${text}\n`);
  }

  bytes(data: Uint8Array): Promise<void> {
    return writeAll(this.streams.stdout, data);
  }

  document(value: unknown): Promise<void> {
    return writeAll(this.streams.stdout, `${JSON.stringify(value)}\n`);
  }

  /** The JSON document with --json, else the text lines. */
  async print(value: unknown, lines: () => string[]): Promise<void> {
    if (this.json) return this.document(value);
    const text = lines();
    if (text.length > 0) await writeAll(this.streams.stdout, `${text.join("\n")}\n`);
  }
}

/** Human-readable size: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A yes/no question on the terminal for each call an `ask` permission rule covers, one at a time
 * (a copy of many files asks in turn). Only "y" or "yes" approves.
 */
export function terminalApproval(streams: Streams): (request: { operation: string; path: string }) => Promise<boolean> {
  let queue: Promise<unknown> = Promise.resolve();
  return (request) => {
    const asked = queue.then(async () => {
      const rl = createInterface({ input: streams.stdin, output: streams.stderr, terminal: false });
      try {
        const answer = await rl.question(`deepfs: allow ${request.operation} of ${request.path}? [y/N] `);
        return /^(y|yes)$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    });
    queue = asked.catch(() => undefined);
    return asked;
  };
}
