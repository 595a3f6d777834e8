import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeepfsError } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { S3Backend } from "../src/index.js";
import { FaultProxy } from "./support/fault-proxy.js";
import {
  bucket,
  configuredBackend,
  endpoint,
  ensureBucket,
  randomPrefix,
  removePrefix,
  skipReason,
  testClient,
} from "./support.js";

const MIB = 1024 * 1024;
/** Over the default read limit (maxFileSizeMb 10). */
const BIG = 24 * MIB;

/** `size` bytes of 100-byte text lines. */
function textOf(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x61);
  for (let i = 99; i < size; i += 100) bytes[i] = 0x0a;
  return bytes;
}

// The backend talks to moto through a proxy that counts the response bytes it forwards, so that
// "refused before its body was read" is seen on the wire.
describe.skipIf(skipReason)("S3Backend size limits", () => {
  const plain = testClient();
  const prefix = randomPrefix("limits");
  const observer = new S3Backend({ client: plain, bucket, prefix });
  let proxy: FaultProxy;
  let backend: S3Backend;
  const put = (path: string, body: Uint8Array | string) =>
    plain.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${path}`, Body: body }));

  beforeAll(async () => {
    await ensureBucket(plain);
    proxy = await FaultProxy.start(endpoint ?? "");
    backend = configuredBackend(prefix, { endpointUrl: proxy.url });
  });
  afterAll(async () => {
    await backend?.close();
    await proxy?.close();
    await removePrefix(plain, prefix);
    plain.destroy();
  });

  /** Runs `action`; with the response bytes forwarded meanwhile. */
  async function onTheWire<T>(action: () => Promise<T>): Promise<{ result: T; bytes: number }> {
    const before = proxy.bytesForwarded;
    const result = await action();
    return { result, bytes: proxy.bytesForwarded - before };
  }

  it("answers too_large for read, readRaw and edit of a file over maxFileSizeMb without downloading it; downloads stay whole", async () => {
    const log = textOf(BIG);
    const pdf = Buffer.alloc(BIG, 7);
    await put("/big/log.txt", log);
    await put("/big/doc.pdf", pdf);
    for (const [label, call] of [
      ["read text window", () => backend.read("/big/log.txt", 0, 1)],
      ["read binary", () => backend.read("/big/doc.pdf", 0, 10)],
      ["readRaw", () => backend.readRaw("/big/log.txt")],
      ["edit", () => backend.edit("/big/log.txt", "a", "b", true)],
    ] as const) {
      const [bytesBefore, cutBefore] = [proxy.bytesForwarded, proxy.responsesCutShort];
      const result = await call();
      expect(result.code, label).toBe("too_large");
      expect(result.error, label).toMatch(/25165824 bytes, over the maxFileSizeMb limit of 10 MiB/);
      // The body was dropped after the headers: the client left before the end (the proxy sees
      // it close a moment later), having taken a little of the 24 MiB (what socket buffers hold).
      await vi.waitFor(() => expect(proxy.responsesCutShort - cutBefore, label).toBe(1));
      expect(proxy.bytesForwarded - bytesBefore, label).toBeLessThan(BIG / 2);
    }
    expect((await observer.readRaw("/big/log.txt")).code).toBe("too_large");
    // A download moves bytes, not model context: no limit.
    const [download] = await backend.downloadFiles(["/big/doc.pdf"]);
    expect(download?.error).toBeNull();
    expect(Buffer.from(download?.content ?? []).equals(pdf)).toBe(true);

    // A larger limit reads them (the text still streamed for its window).
    const roomy = configuredBackend(prefix, { maxFileSizeMb: 32 });
    try {
      expect(await roomy.read("/big/log.txt", 2, 1)).toMatchObject({
        content: "a".repeat(99),
        totalLines: Math.ceil(BIG / 100),
      });
      const raw = (await roomy.readRaw("/big/doc.pdf")).data?.content;
      expect(raw instanceof Uint8Array && Buffer.from(raw).equals(pdf)).toBe(true);
    } finally {
      await roomy.close();
    }
  });

  it("applies maxFileSizeMb to files up to it exactly, and refuses a limit that is not a positive number", async () => {
    await put("/edge/at-limit.txt", textOf(MIB));
    await put("/edge/over-limit.txt", textOf(MIB + 1));
    const small = configuredBackend(prefix, { maxFileSizeMb: 1 });
    try {
      expect((await small.read("/edge/at-limit.txt", 0, 1)).content).toBe("a".repeat(99));
      expect((await small.edit("/edge/at-limit.txt", "a".repeat(99), "b", true)).occurrences).toBe(
        Math.floor(MIB / 100),
      );
      expect((await small.read("/edge/over-limit.txt")).code).toBe("too_large");
      // grep's limit follows maxFileSizeMb unless maxGrepFileSizeMb is set.
      expect((await small.grep("b", "/edge")).matches?.map((m) => m.path)).toContain("/edge/at-limit.txt");
      expect((await small.grep("a", "/edge")).matches?.some((m) => m.path === "/edge/over-limit.txt")).toBe(false);
    } finally {
      await small.close();
    }
    for (const bad of [0, -1, Number.NaN]) {
      expect(() => new S3Backend({ client: plain, bucket, maxFileSizeMb: bad })).toThrow(DeepfsError);
    }
  });

  it("grep skips an object replaced by a larger one after the listing, fetching no more than the limit of it", async () => {
    await put("/swap/a.txt", "needle in a\n");
    await put("/swap/y.txt", "needle in y\n");
    await put("/swap/z.txt", "needle in z\n");
    // One line of 4 MiB, the needle at its end: over the 1 MiB grep limit of this backend.
    const huge = Buffer.concat([Buffer.alloc(4 * MIB, 0x61), Buffer.from(" needle")]);
    const grepping = configuredBackend(prefix, { endpointUrl: proxy.url, maxGrepFileSizeMb: 1, grepConcurrency: 1 });
    try {
      // Listed small, then replaced (z.txt) or emptied (y.txt) just before its GET.
      proxy.delay(1, { method: "GET", url: /swap\/z\.txt/ }, () => put("/swap/z.txt", huge));
      proxy.delay(1, { method: "GET", url: /swap\/y\.txt/ }, () => put("/swap/y.txt", new Uint8Array()));
      const { result, bytes } = await onTheWire(() => grepping.grep("needle", "/swap"));
      expect(result).toEqual({ matches: [{ path: "/swap/a.txt", line: 1, text: "needle in a" }] });
      // Listing pages and a.txt aside, at most the 1 MiB asked for of the 4 MiB object came.
      expect(bytes).toBeLessThan(MIB + 64 * 1024);
    } finally {
      proxy.heal();
      await grepping.close();
      await plain.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/swap/z.txt` }));
    }
  });
});
