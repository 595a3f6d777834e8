import {
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { bucket, ensureBucket, randomPrefix, removePrefix, skipReason, testClient } from "./support.js";

/** Counts the requests of one command a client sends, the keys of each DeleteObjects and each MaxKeys. */
function countRequests(
  client: S3Client,
  commandName: string,
): { count: number; sizes: number[]; maxKeys: Array<number | undefined> } {
  const counter = { count: 0, sizes: [] as number[], maxKeys: [] as Array<number | undefined> };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName) {
        counter.count++;
        const input = args.input as { Delete?: { Objects?: unknown[] }; MaxKeys?: number };
        if (input.Delete?.Objects) counter.sizes.push(input.Delete.Objects.length);
        counter.maxKeys.push(input.MaxKeys);
      }
      return next(args);
    },
    { step: "initialize", name: `count${commandName}` },
  );
  return counter;
}

// Seeding is the slow part (moto serves one PUT at a time), so it happens once, with raw PUTs, and
// with just enough keys for two real 1,000-key pages and two DeleteObjects batches. Small pages
// (listPageSize) give many pages from the same keys. Listing 2,500 files with the server's page
// size is also a rule of the conformance suite.
describe.skipIf(skipReason)("S3Backend listing pagination (1,100 keys)", () => {
  const client = testClient();
  const prefix = randomPrefix("pages");
  const names = Array.from({ length: 1100 }, (_, i) => `f${String(i).padStart(4, "0")}.txt`);

  beforeAll(async () => {
    await ensureBucket(client);
    const limit = pLimit(32);
    const keys = [...names.map((n) => `many/${n}`), "many/sub/x.txt", "many-not-a-child.txt"];
    await Promise.all(
      keys.map((key) =>
        limit(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: key }))),
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("follows every real 1000-key page (the server's page size by default)", async () => {
    const counted = testClient();
    const listings = countRequests(counted, "ListObjectsV2Command");
    const backend = new S3Backend({ client: counted, bucket, prefix });
    const many = await backend.ls("/many");
    expect(many.files?.length).toBe(1101);
    expect(many.files?.slice(0, 2).map((f) => f.path)).toEqual(["/many/f0000.txt", "/many/f0001.txt"]);
    expect(many.files?.at(-1)).toEqual({ path: "/many/sub/", is_dir: true, size: 0 });
    expect(listings.count).toBe(2);
    expect(listings.maxKeys).toEqual([undefined, undefined]);
    counted.destroy();
  });

  it("follows many small pages (listPageSize) in ls and glob, and deletes in batches of at most 1,000", async () => {
    const counted = testClient();
    const listings = countRequests(counted, "ListObjectsV2Command");
    const deletes = countRequests(counted, "DeleteObjectsCommand");
    const backend = new S3Backend({ client: counted, bucket, prefix, listPageSize: 100 });
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/many-not-a-child.txt", "/many/"]);
    const many = await backend.ls("/many/");
    expect(many.files?.map((f) => f.path)).toEqual([...names.map((n) => `/many/${n}`), "/many/sub/"]);
    expect(listings.count).toBe(1 + 12);
    expect(new Set(listings.maxKeys)).toEqual(new Set([100]));
    const glob = await backend.glob("**/f10*.txt", "/many");
    expect(glob.files?.map((f) => f.path)).toEqual(names.filter((n) => n.startsWith("f10")).map((n) => `/many/${n}`));
    expect(listings.count).toBe(1 + 12 + 12);
    expect((await backend.delete("/many")).code).toBeUndefined();
    expect(deletes.sizes).toEqual([1000, 101]);
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/many-not-a-child.txt"]);
    counted.destroy();
  }, 60_000);
});

describe("S3Backend listing guard", () => {
  it("stops with backend_unavailable when the server repeats a continuation token", async () => {
    // A recorded-protocol fake: a real server cannot be made to repeat a token on demand.
    const pages: ListObjectsV2CommandOutput[] = [
      { $metadata: {}, Contents: [{ Key: "p/a.txt", Size: 1 }], IsTruncated: true, NextContinuationToken: "t1" },
      { $metadata: {}, Contents: [{ Key: "p/b.txt", Size: 1 }], IsTruncated: true, NextContinuationToken: "t1" },
      { $metadata: {}, Contents: [{ Key: "p/c.txt", Size: 1 }], IsTruncated: false },
    ];
    const tokens: Array<string | undefined> = [];
    const fake = {
      async send(command: unknown) {
        if (!(command instanceof ListObjectsV2Command)) throw new Error("unexpected command");
        tokens.push(command.input.ContinuationToken);
        const page = pages[tokens.length - 1];
        if (!page) throw new Error("listed past the recorded pages");
        return page;
      },
      destroy() {},
    } as unknown as S3Client;
    const backend = new S3Backend({ client: fake, bucket: "b", prefix: "p" });
    const listed = await backend.ls("/");
    expect(listed.code).toBe("backend_unavailable");
    expect(listed.error).toMatch(/continuation token/);
    expect(tokens).toEqual([undefined, "t1"]);
  });
});
