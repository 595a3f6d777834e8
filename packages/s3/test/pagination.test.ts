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

/** Counts the requests of one command a client sends, and the keys of each DeleteObjects. */
function countRequests(client: S3Client, commandName: string): { count: number; sizes: number[] } {
  const counter = { count: 0, sizes: [] as number[] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName) {
        counter.count++;
        const objects = (args.input as { Delete?: { Objects?: unknown[] } }).Delete?.Objects;
        if (objects) counter.sizes.push(objects.length);
      }
      return next(args);
    },
    { step: "initialize", name: `count${commandName}` },
  );
  return counter;
}

// Seeding 2,500 objects is the slow part (moto takes ~13 ms a PUT), so it happens once.
describe.skipIf(skipReason)("S3Backend listing pagination (2,500 keys)", () => {
  const client = testClient();
  const prefix = randomPrefix("pages");
  const names = Array.from({ length: 2500 }, (_, i) => `f${String(i).padStart(4, "0")}.txt`);

  beforeAll(async () => {
    await ensureBucket(client);
    const limit = pLimit(32);
    const keys = [...names.map((n) => `many/${n}`), "many/sub/x.txt", "many-not-a-child.txt"];
    await Promise.all(
      keys.map((key) =>
        limit(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}`, Body: key }))),
      ),
    );
  }, 120_000);
  afterAll(async () => {
    await removePrefix(client, prefix);
    client.destroy();
  });

  it("follows every real 1000-key page", async () => {
    const counted = testClient();
    const listings = countRequests(counted, "ListObjectsV2Command");
    const backend = new S3Backend({ client: counted, bucket, prefix });
    const many = await backend.ls("/many");
    expect(many.files?.length).toBe(2501);
    expect(many.files?.slice(0, 2).map((f) => f.path)).toEqual(["/many/f0000.txt", "/many/f0001.txt"]);
    expect(many.files?.at(-1)).toEqual({ path: "/many/sub/", is_dir: true, size: 0 });
    expect(listings.count).toBe(3);
    counted.destroy();
  });

  it("follows many small pages (listPageSize) in ls and glob, and deletes in batches of at most 1,000", async () => {
    const counted = testClient();
    const listings = countRequests(counted, "ListObjectsV2Command");
    const deletes = countRequests(counted, "DeleteObjectsCommand");
    const backend = new S3Backend({ client: counted, bucket, prefix, listPageSize: 250 });
    expect((await backend.ls("/")).files?.map((f) => f.path)).toEqual(["/many-not-a-child.txt", "/many/"]);
    const many = await backend.ls("/many/");
    expect(many.files?.map((f) => f.path)).toEqual([...names.map((n) => `/many/${n}`), "/many/sub/"]);
    expect(listings.count).toBe(1 + 11);
    const glob = await backend.glob("**/f24*.txt", "/many");
    expect(glob.files?.map((f) => f.path)).toEqual(names.filter((n) => n.startsWith("f24")).map((n) => `/many/${n}`));
    expect((await backend.delete("/many")).code).toBeUndefined();
    expect(deletes.sizes).toEqual([1000, 1000, 501]);
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
