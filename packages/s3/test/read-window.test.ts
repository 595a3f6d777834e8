import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { decodeUtf8Lossy, readTextWindow } from "@deepfs/core";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { LineWindow } from "../src/read-window.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

/** Cuts bytes at the given positions (any byte, so also inside a multi-byte character). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

function windowOf(chunks: Uint8Array[], offset?: number, limit?: number) {
  const window = new LineWindow(offset, limit);
  for (const chunk of chunks) if (!window.push(chunk)) return null;
  return window.finish();
}

/** Texts made of the pieces that matter for lines: \n, \r\n, empty lines, BOM, multi-byte and astral characters. */
const text = fc
  .array(fc.constantFrom("\n", "\r\n", "\r", "a", "line", "é", "日本", "😀", "\uFEFF", " ", "\u0000"), {
    maxLength: 60,
  })
  .map((parts) => parts.join(""));
const windowArg = fc.option(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constant(Number.NaN)), { nil: undefined });

describe("LineWindow", () => {
  it("gives what readTextWindow gives, however the bytes are chunked", () => {
    fc.assert(
      fc.property(text, windowArg, windowArg, fc.array(fc.nat(), { maxLength: 8 }), (t, offset, limit, cuts) => {
        const bytes = new TextEncoder().encode(t);
        expect(windowOf(chunked(bytes, cuts), offset, limit)).toEqual(readTextWindow(t, offset, limit));
      }),
      { numRuns: 2000 },
    );
  });

  it("answers null for bytes that are not UTF-8 anywhere, including a sequence cut at the end", () => {
    fc.assert(
      fc.property(
        text,
        fc.constantFrom([0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf]),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (t, bad, at, cuts) => {
          const good = new TextEncoder().encode(t);
          // Insert between characters (a character boundary), so the only invalid bytes are `bad`.
          const boundary = new TextEncoder().encode([...t].slice(0, at % ([...t].length + 1)).join("")).length;
          const bytes = new Uint8Array([...good.subarray(0, boundary), ...bad, ...good.subarray(boundary)]);
          expect(windowOf(chunked(bytes, cuts), 0, 10)).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("S3Backend read streaming", () => {
  it("reads a window of a 256 MiB text with constant memory: the body is only iterated, never buffered", async () => {
    // A recorded-protocol fake: its body is an endless-looking stream of one reused 64 KiB chunk,
    // and it has no transformToByteArray, so a read that buffered the object would fail here.
    const line = `${"0123456789abcdef".repeat(4)}\n`; // 65 bytes
    const chunk = Buffer.from(line.repeat(1008)); // 65,520 bytes
    const chunks = 4096;
    let produced = 0;
    const fake = {
      async send(command: unknown) {
        if (!(command instanceof GetObjectCommand)) throw new Error("unexpected command");
        return {
          ETag: '"fake"',
          ContentLength: chunk.length * chunks,
          Body: (async function* () {
            for (; produced < chunks; produced++) yield chunk;
          })(),
        };
      },
      destroy() {},
    } as unknown as S3Client;
    // Within the read limit (maxFileSizeMb), which refuses larger files before reading them.
    const backend = new S3Backend({ client: fake, bucket: "b", maxFileSizeMb: 512 });
    const read = await backend.read("/huge.log", 1008 * 4096 - 2, 5);
    expect(read).toEqual({
      content: `${line.slice(0, -1)}\n${line.slice(0, -1)}`,
      totalLines: 1008 * 4096,
      startLine: 1008 * 4096 - 1,
      endLine: 1008 * 4096,
      mimeType: "text/plain",
      etag: '"fake"',
    });
    expect(produced).toBe(chunks);
  });
});

describe.skipIf(skipReason)("S3Backend read of a large text", () => {
  const client = testClient();
  const prefix = randomPrefix("read");
  const backend = new S3Backend({ client, bucket, prefix });
  // 3 MB, above the 1 MiB from which a read streams; one very long line in the middle, no final newline.
  const lines = Array.from({ length: 60_000 }, (_, i) => (i === 30_000 ? "x".repeat(200_000) : `line ${i} é😀`));
  const content = lines.join("\n");

  beforeAll(async () => {
    await ensureBucket(client);
    await backend.write("/big.txt", content);
  });
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("returns the window that readTextWindow gives on the whole text", async () => {
    const etag = (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/big.txt` }))).ETag;
    for (const [offset, limit] of [
      [undefined, undefined],
      [29_999, 3],
      [59_998, 10],
      [60_000, 5],
    ] as const) {
      const read = await backend.read("/big.txt", offset, limit);
      expect(read).toEqual({ ...readTextWindow(content, offset, limit), mimeType: "text/plain", etag });
    }
  });

  it("reads a large file that turns out not to be UTF-8 as replaced text, flagged", async () => {
    const bytes = Buffer.concat([Buffer.from(content, "utf8"), Buffer.from([0xff, 0x0a])]);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/latin1.txt`, Body: bytes }));
    const read = await backend.read("/latin1.txt", 0, 2);
    expect(read).toMatchObject({ ...readTextWindow(decodeUtf8Lossy(bytes), 0, 2), invalidUtf8: true });
    const last = await backend.read("/latin1.txt", (read.totalLines as number) - 1, 1);
    expect(last.content).toMatch(/\uFFFD$/);
  });
});
