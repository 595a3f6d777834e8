import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeepfsError } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import {
  bucket,
  configuredBackend,
  ensureBucket,
  randomPrefix,
  removePrefix,
  skipReason,
  testClient,
} from "./support.js";

const encoder = new TextEncoder();

describe("S3Backend configuration", () => {
  it("throws a DeepfsError for a missing bucket or a bad prefix", () => {
    expect(() => new S3Backend({ bucket: "" })).toThrowError(/bucket/);
    let thrown: unknown;
    try {
      new S3Backend({ bucket: "b", prefix: "a/../b" });
    } catch (error) {
      thrown = error;
    }
    expect(DeepfsError.isInstance(thrown)).toBe(true);
  });

  it("normalises the prefix to end with exactly one '/'", () => {
    expect(new S3Backend({ bucket: "b", prefix: "/acme//" }).prefix).toBe("acme/");
    expect(new S3Backend({ bucket: "b", prefix: "t/acme" }).prefix).toBe("t/acme/");
    expect(new S3Backend({ bucket: "b" }).prefix).toBe("");
  });
});

describe.skipIf(skipReason)("S3Backend storage layout", () => {
  const client = testClient();
  const prefix = randomPrefix("layout");
  const raw = async (key: string) => {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    return { bytes: await (object.Body as NonNullable<typeof object.Body>).transformToByteArray(), object };
  };
  const put = (key: string, body: Uint8Array | string) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: body }));

  beforeAll(() => ensureBucket(client));
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("stores exactly the file's bytes under prefix + path, with created-at metadata and the MIME type", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    const text = "héllo\r\nwörld\n\u0000?";
    expect((await backend.write("/docs/a.md", text)).code).toBeUndefined();
    const { bytes, object } = await raw("docs/a.md");
    expect(Buffer.from(bytes).equals(Buffer.from(text, "utf8"))).toBe(true);
    expect(object.ContentType).toBe("text/markdown");
    expect(object.Metadata?.["created-at"]).toMatch(/^\d{4}-\d\d-\d\dT/);

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255, 10, 13]);
    expect((await backend.write("/img/p.png", Buffer.from(png).toString("base64"))).code).toBeUndefined();
    expect(Buffer.from((await raw("img/p.png")).bytes).equals(png)).toBe(true);
    expect((await raw("img/p.png")).object.ContentType).toBe("image/png");

    const anyBytes = new Uint8Array(256).map((_, i) => i);
    expect(await backend.uploadFiles([["/bin/all.txt", anyBytes]])).toEqual([{ path: "/bin/all.txt", error: null }]);
    expect(Buffer.from((await raw("bin/all.txt")).bytes).equals(anyBytes)).toBe(true);
  });

  it("keeps created_at on overwrite and edit", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    await backend.write("/keep.txt", "one");
    const first = (await backend.readRaw("/keep.txt")).data?.created_at;
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/keep.txt` }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await backend.write("/keep.txt", "two");
    await backend.edit("/keep.txt", "two", "three");
    const after = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/keep.txt` }));
    expect(after.Metadata?.["created-at"]).toBe(head.Metadata?.["created-at"]);
    expect((await backend.readRaw("/keep.txt")).data?.created_at).toBe(first);
  });

  it("reads, lists and greps an object put by another tool (no metadata)", async () => {
    const backend = new S3Backend({ client, bucket, prefix: `${prefix}/foreign` });
    await put("foreign/notes/todo.txt", "buy milk\nfind the needle\n");
    const read = await backend.read("/notes/todo.txt");
    expect(read).toMatchObject({ content: "buy milk\nfind the needle", totalLines: 2, mimeType: "text/plain" });
    const rawData = await backend.readRaw("/notes/todo.txt");
    expect(rawData.data?.created_at).toBe(rawData.data?.modified_at);
    expect(rawData.data?.created_at).not.toBe("");
    expect((await backend.ls("/notes")).files?.map((f) => f.path)).toEqual(["/notes/todo.txt"]);
    expect((await backend.grep("needle")).matches).toEqual([
      { path: "/notes/todo.txt", line: 2, text: "find the needle" },
    ]);
    const edited = await backend.edit("/notes/todo.txt", "milk", "tea");
    expect(edited.code).toBeUndefined();
    expect(Buffer.from((await raw("foreign/notes/todo.txt")).bytes).toString()).toBe("buy tea\nfind the needle\n");
  });

  it("ignores directory markers (zero-byte keys ending in '/') as files", async () => {
    const backend = new S3Backend({ client, bucket, prefix: `${prefix}/markers` });
    await put("markers/empty/", new Uint8Array());
    await put("markers/full/", new Uint8Array());
    await put("markers/full/a.txt", "needle");
    const root = await backend.ls("/");
    expect(root.files).toEqual([
      { path: "/empty/", is_dir: true, size: 0 },
      { path: "/full/", is_dir: true, size: 0 },
    ]);
    expect((await backend.ls("/full")).files?.map((f) => f.path)).toEqual(["/full/a.txt"]);
    expect((await backend.ls("/empty")).files).toEqual([]);
    expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/full/a.txt"]);
    expect((await backend.grep("")).matches).toEqual([{ path: "/full/a.txt", line: 1, text: "needle" }]);
    expect((await backend.read("/empty")).code).toBe("is_directory");
    expect((await backend.write("/empty", "x")).code).toBe("is_directory");
    expect((await backend.delete("/full")).code).toBeUndefined();
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/empty/"]);
  });

  it("leaves out keys that are not normalised paths", async () => {
    const backend = new S3Backend({ client, bucket, prefix: `${prefix}/odd` });
    await put("odd/a//b.txt", "x");
    await put("odd/ok.txt", "x");
    expect((await backend.glob("**")).files?.map((f) => f.path)).toEqual(["/ok.txt"]);
    expect((await backend.ls("/a")).files).toEqual([]);
  });

  it("isolates tenants exactly: 'acme' never sees 'acme-corp'", async () => {
    const acme = new S3Backend({ client, bucket, prefix: `${prefix}/acme` });
    const corp = new S3Backend({ client, bucket, prefix: `${prefix}/acme-corp` });
    await acme.write("/a.txt", "needle acme");
    await corp.write("/b.txt", "needle corp");
    await put("acmefile.txt", "needle neighbour");
    expect((await acme.ls("/")).files?.map((f) => f.path)).toEqual(["/a.txt"]);
    expect((await acme.glob("**")).files?.map((f) => f.path)).toEqual(["/a.txt"]);
    expect((await acme.grep("needle")).matches?.map((m) => m.path)).toEqual(["/a.txt"]);
    expect((await acme.read("/b.txt")).code).toBe("file_not_found");
    expect((await acme.delete("/")).code).toBeUndefined();
    expect((await corp.read("/b.txt")).content).toBe("needle corp");
    expect((await raw("acmefile.txt")).bytes.byteLength).toBe(16);
  });

  it("answers invalid_path for keys longer than 1024 bytes", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    const long = `/${Array.from({ length: 5 }, () => "x".repeat(250)).join("/")}`;
    expect((await backend.write(long, "x")).code).toBe("invalid_path");
    expect((await backend.read(long)).code).toBe("invalid_path");
    expect((await backend.uploadFiles([[long, encoder.encode("x")]]))[0]?.error).toBe("invalid_path");
  });

  it("keeps both changes when two backend instances edit one file concurrently", async () => {
    const one = configuredBackend(`${prefix}/cas`);
    const two = configuredBackend(`${prefix}/cas`);
    const lines = Array.from({ length: 10 }, (_, i) => `line ${i}`);
    await one.write("/shared.txt", lines.join("\n"));
    const results = await Promise.all(
      lines.map((line, i) => (i % 2 ? one : two).edit("/shared.txt", line, `${line} edited`)),
    );
    const text = (await one.read("/shared.txt")).content as string;
    results.forEach((result, i) => {
      if (result.code === undefined) expect(text).toContain(`line ${i} edited`);
      else expect(result.code).toBe("conflict");
    });
    expect(results.filter((r) => r.code === undefined).length).toBeGreaterThan(0);
    await one.close();
    await two.close();
  });

  it("round-trips a 30 MB file through a multipart upload", { timeout: 60_000 }, async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    const big = new Uint8Array(30 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    expect(await backend.uploadFiles([["/big/blob.bin", big]])).toEqual([{ path: "/big/blob.bin", error: null }]);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/big/blob.bin` }));
    // A multipart ETag ends in "-<parts>".
    expect(head.ETag).toMatch(/-\d+"?$/);
    const [download] = await backend.downloadFiles(["/big/blob.bin"]);
    expect(download?.error).toBeNull();
    expect(Buffer.from(download?.content ?? []).equals(big)).toBe(true);
  });

  it("does not destroy an injected client on close", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    await backend.close();
    await backend.close();
    expect((await new S3Backend({ client, bucket, prefix }).ls("/")).code).toBeUndefined();
  });
});
