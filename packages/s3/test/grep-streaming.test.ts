import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { contentFromBytes, type GrepResult, grepText, grepTexts, isBinaryPath, parseGrepArgs } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { LineSearcher } from "../src/line-search.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
const bigText = Array.from({ length: 40_000 }, (_, i) => (i % 997 === 0 ? `row ${i} needle é` : `row ${i} hay`)).join(
  "\n",
);

/** A tree with every kind of content grep must get right, as the exact bytes of each file. */
const TREE: Record<string, Uint8Array> = {
  "/src/a.ts": utf8("const needle = 1;\nno match\n// needle again\n"),
  "/src/b.py": utf8("def needle():\n    return 'needle'\n"),
  "/src/deep/c.ts": utf8("needle at the end without newline"),
  "/src/deep/crlf.txt": utf8("first needle\r\nsecond\r\nthird needle\r\n"),
  "/src/bom.md": utf8("\uFEFFneedle after a BOM\n"),
  "/src/empty.txt": new Uint8Array(),
  "/src/blank-lines.txt": utf8("\n\nneedle\n\n"),
  "/src/unicode.txt": utf8("naïve needle ✓\n日本語 needle\n😀 needle 😀\n"),
  "/src/big.txt": utf8(bigText),
  "/bin/nul-late.txt": utf8(`needle\n${"x\n".repeat(50_000)}\u0000 trailing NUL\n`),
  "/bin/nul-early.txt": utf8("\u0000needle\n"),
  "/bin/invalid-late.txt": new Uint8Array([...utf8(`needle\n${"y\n".repeat(50_000)}`), 0xff, 0xfe, 0x0a]),
  "/bin/invalid-split.txt": new Uint8Array([...utf8("needle "), 0xe2, 0x82]),
  "/bin/image.png": utf8("needle inside a png"),
  "/docs/readme.md": utf8("# needle\nneedle needle on one line\n"),
  "/docs/needle.json": utf8('{"needle": true}\n'),
  "/docs/nested/x.md": utf8("plain\n"),
  "/srcx/decoy.ts": utf8("needle in a sibling that shares a prefix\n"),
};

/** What the core matcher answers on the same tree. */
function expected(pattern: string, path?: string | null, glob?: string | null, maxCount?: number | null): GrepResult {
  const parsed = parseGrepArgs(pattern, path, glob, maxCount);
  if (!parsed.ok) throw new Error(parsed.error);
  const texts = Object.entries(TREE).flatMap(([p, bytes]) => {
    const content = isBinaryPath(p) ? bytes : contentFromBytes(p, bytes);
    return typeof content === "string" ? [{ path: p, text: content }] : [];
  });
  return grepTexts(texts, parsed.query);
}

/** Counts GetObject requests and the ones still in flight when aborted. */
function countGets(client: S3Client): { count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "GetObjectCommand") counter.count++;
      return next(args);
    },
    { step: "initialize", name: "countGets" },
  );
  return counter;
}

describe("LineSearcher", () => {
  it("finds what grepText finds, however the bytes are chunked", () => {
    const texts = ["a\nb needle\r\n\nneedle", "needle\n", "\uFEFFx needle é\n日本 needle", "", "\n", "nope"];
    for (const text of texts) {
      const bytes = Buffer.from(text, "utf8");
      for (const pattern of ["needle", "", "é", "\r", "日本"]) {
        for (let size = 1; size <= bytes.length + 1; size++) {
          const searcher = new LineSearcher(pattern, Number.POSITIVE_INFINITY);
          for (let i = 0; i < bytes.length; i += size) searcher.push(bytes.subarray(i, i + size));
          expect(searcher.finish(), `${JSON.stringify(text)} / ${JSON.stringify(pattern)} / chunks of ${size}`).toEqual(
            grepText(text, pattern),
          );
        }
      }
    }
  });

  it("reports binary content (NUL or invalid UTF-8 anywhere) as null", () => {
    for (const bytes of [
      Buffer.from("needle\n\u0000"),
      Buffer.from([0x6e, 0x0a, 0xc3]),
      Buffer.from([0xed, 0xa0, 0x80, 0x0a]),
    ]) {
      const searcher = new LineSearcher("n", 10);
      for (const byte of bytes) searcher.push(new Uint8Array([byte]));
      expect(searcher.finish()).toBeNull();
    }
  });
});

describe.skipIf(skipReason)("S3Backend grep streams objects", () => {
  const client = testClient();
  const prefix = randomPrefix("grep");

  beforeAll(async () => {
    await ensureBucket(client);
    await Promise.all(
      Object.entries(TREE).map(([path, bytes]) =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/tree${path}`, Body: bytes })),
      ),
    );
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${prefix}/many/f${String(i).padStart(2, "0")}.txt`,
            Body: `needle ${i}\nneedle again\n`,
          }),
        ),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("returns exactly what the core matcher returns on the same tree", async () => {
    const backend = new S3Backend({ client, bucket, prefix: `${prefix}/tree`, grepConcurrency: 3 });
    const queries: Array<[string, string | null, string | null, number | null]> = [
      ["needle", null, null, null],
      ["needle", "/src", null, null],
      ["needle", "/src/a.ts", null, null],
      ["needle", "/src", "*.ts", null],
      ["needle", "/", "src/**/*.ts", null],
      ["needle", "/", "*.{md,json}", null],
      ["", "/src", null, null],
      ["\r", null, null, null],
      ["é", null, null, null],
      ["needle é", null, null, null],
      ["needle", null, null, 0],
      ["needle", null, null, 1],
      ["needle", null, null, 7],
      ["needle", "/src", null, 12],
      ["a\nb", null, null, null],
      ["absent", null, null, null],
      ["needle", "/missing", null, null],
    ];
    for (const [pattern, path, glob, maxCount] of queries) {
      const label = JSON.stringify([pattern, path, glob, maxCount]);
      expect(await backend.grep(pattern, path, glob, maxCount), label).toEqual(expected(pattern, path, glob, maxCount));
    }
  });

  it("stops fetching once maxCount is certain, and still orders by path", async () => {
    const counted = testClient();
    const gets = countGets(counted);
    const backend = new S3Backend({ client: counted, bucket, prefix: `${prefix}/many`, grepConcurrency: 2 });
    const result = await backend.grep("needle", "/", null, 3);
    expect(result).toEqual({
      matches: [
        { path: "/f00.txt", line: 1, text: "needle 0" },
        { path: "/f00.txt", line: 2, text: "needle again" },
        { path: "/f01.txt", line: 1, text: "needle 1" },
      ],
      truncated: true,
    });
    // 60 candidates; the window (4 × concurrency) bounds what was started before the stop.
    expect(gets.count).toBeLessThanOrEqual(10);
    const all = await backend.grep("needle");
    expect(all.matches?.length).toBe(120);
    expect(all.truncated).toBeUndefined();
    counted.destroy();
  });

  it("skips objects over maxGrepFileSizeMb", async () => {
    const backend = new S3Backend({ client, bucket, prefix: `${prefix}/tree`, maxGrepFileSizeMb: 0.1 });
    const paths = new Set((await backend.grep("needle", "/src")).matches?.map((m) => m.path));
    expect(paths.has("/src/big.txt")).toBe(false);
    expect(paths.has("/src/a.ts")).toBe(true);
  });
});
