// The requests an upload batch costs: a tree copied into a new prefix is answered by one listing of
// the batch's common directory (plus a HEAD per ancestor above it), not a HEAD and a listing per
// file; and the answers it gives are the contract's (a file in the way, a directory at the path).
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

function countCommands(client: S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "?";
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  return counts;
}

describe.skipIf(skipReason)("S3Backend upload batches", () => {
  const client = testClient();
  const prefix = randomPrefix("probe");

  beforeAll(() => ensureBucket(client));
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("copying a tree of 60 files in 30 directories into a new prefix costs one listing, not 120 requests", async () => {
    const counted = testClient();
    const counts = countCommands(counted);
    const backend = new S3Backend({ client: counted, bucket, prefix });
    const files = Array.from({ length: 60 }, (_, i): [string, Uint8Array] => [
      `/tree/d${i % 30}/sub/f${i}.txt`,
      new TextEncoder().encode(`file ${i}\n`),
    ]);
    const answers = await backend.uploadFiles(files);
    expect(answers.filter((a) => a.error !== null)).toEqual([]);
    expect(counts.get("PutObjectCommand")).toBe(60);
    expect(counts.get("ListObjectsV2Command")).toBe(1);
    // The ancestors at and above the common directory (/tree), once each for the batch.
    expect(counts.get("HeadObjectCommand") ?? 0).toBeLessThanOrEqual(1);
    expect((await backend.readRaw("/tree/d7/sub/f37.txt")).data?.content).toBe("file 37\n");

    // Again over the same files: each is an overwrite, whose HEAD keeps its ETag and creation time.
    counts.clear();
    const again = await backend.uploadFiles(files);
    expect(again.filter((a) => a.error !== null)).toEqual([]);
    expect(counts.get("ListObjectsV2Command")).toBe(1);
    expect(counts.get("HeadObjectCommand")).toBeLessThanOrEqual(61);
    counted.destroy();
  });

  it("answers a file in the way and a directory at the path from the batch's listing", async () => {
    const backend = new S3Backend({ client, bucket, prefix });
    expect((await backend.write("/mixed/blocker", "a file")).error).toBeUndefined();
    expect((await backend.write("/mixed/dir/inside.txt", "x")).error).toBeUndefined();
    const answers = await backend.uploadFiles([
      ["/mixed/blocker/below.txt", new Uint8Array([1])],
      ["/mixed/dir", new Uint8Array([2])],
      ["/mixed/fine/new.txt", new Uint8Array([3])],
    ]);
    expect(answers.map((a) => a.code ?? null)).toEqual(["not_a_directory", "is_directory", null]);
  });
});
