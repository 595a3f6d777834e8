// What is specific to history on S3 (the rules are in history.test.ts): a bucket without
// versioning answers `unsupported` with how to enable it, history off sends no history request,
// a write with history on costs no extra request, keys sharing a prefix are never mixed, objects
// written before versioning was enabled are first versions, and retention prunes old versions.
import type { S3Client } from "@aws-sdk/client-s3";
import { withPermissions, withQuota } from "@deepfs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Backend } from "../src/index.js";
import { emptyBucket, enableVersioning, freshBucket, testClient, versioningSkipReason } from "./support.js";

const skipReason = await versioningSkipReason();

/** A client recording the name of every command it sends (and the input of each). */
function countingClient(): { client: S3Client; sent: Array<{ name: string; input: Record<string, unknown> }> } {
  const client = testClient();
  const sent: Array<{ name: string; input: Record<string, unknown> }> = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  return { client, sent };
}

const names = (sent: Array<{ name: string }>) => sent.map((s) => s.name);

describe.skipIf(skipReason)("history on S3", () => {
  let client: S3Client;
  const buckets: string[] = [];
  const bucketOf = async (versioned: boolean) => {
    const name = await freshBucket(client, versioned);
    buckets.push(name);
    return name;
  };

  beforeAll(() => {
    client = testClient();
  });
  afterAll(async () => {
    for (const name of buckets) await emptyBucket(client, name);
    client.destroy();
  });

  it("a bucket without versioning answers unsupported, saying how to enable it; files still work", async () => {
    const bucket = await bucketOf(false);
    const b = new S3Backend({ client, bucket, prefix: "p", history: true });
    expect((await b.write("/a.txt", "one\n")).error).toBeUndefined();
    const listed = await b.history("/a.txt");
    expect(listed.code).toBe("unsupported");
    expect(listed.error).toContain(
      `aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled`,
    );
    for (const answer of [
      await b.snapshot(),
      await b.readVersion("/a.txt", "some-version"),
      await b.restore("/a.txt", "some-version"),
    ]) {
      expect(answer.code).toBe("unsupported");
      expect(answer.error).toContain("versioning");
    }
    expect((await b.readRaw("/a.txt")).data?.content).toBe("one\n");
  });

  it("history off sends no history request and keeps no op in the metadata; its methods are unsupported", async () => {
    const bucket = await bucketOf(true);
    const { client: counted, sent } = countingClient();
    try {
      const b = new S3Backend({ client: counted, bucket, prefix: "off" });
      await b.write("/a.txt", "one\n");
      await b.edit("/a.txt", "one", "two");
      await b.uploadFiles([["/u.bin", new Uint8Array([1])]]);
      await b.delete("/a.txt");
      expect((await b.history("/a.txt")).code).toBe("unsupported");
      expect((await b.snapshot()).code).toBe("unsupported");
      const used = new Set(names(sent));
      for (const name of ["ListObjectVersionsCommand", "GetBucketVersioningCommand"])
        expect(used.has(name)).toBe(false);
      for (const s of sent) expect(s.input.VersionId).toBeUndefined();
      for (const s of sent.filter((x) => x.name === "PutObjectCommand")) {
        expect(Object.keys((s.input.Metadata as Record<string, string>) ?? {})).not.toContain("deepfs-op");
      }
    } finally {
      counted.destroy();
    }
  });

  it("a write or delete with history on (no retention) sends the same requests as with history off", async () => {
    const bucket = await bucketOf(true);
    const sequences: string[][] = [];
    for (const history of [false, true]) {
      const { client: counted, sent } = countingClient();
      try {
        const b = new S3Backend({ client: counted, bucket, prefix: `same-${history}`, history });
        await b.write("/a.txt", "one\n");
        await b.edit("/a.txt", "one", "two");
        await b.delete("/a.txt");
        sequences.push(names(sent));
      } finally {
        counted.destroy();
      }
    }
    expect(sequences[1]).toEqual(sequences[0]);
  });

  it("keys sharing a prefix are not mixed, in versions or changes, nor prefixes sharing a beginning", async () => {
    const bucket = await bucketOf(true);
    const b = new S3Backend({ client, bucket, prefix: "acme", history: true });
    const corp = new S3Backend({ client, bucket, prefix: "acme-corp", history: true });
    await b.write("/a.txt", "a1\n");
    await b.write("/a.txt.bak", "bak\n");
    await b.write("/a.txt2", "two\n");
    await b.write("/a.txt-x/inner.txt", "inner\n");
    await b.write("/a.txt", "a2\n");
    await corp.write("/a.txt", "corp\n");
    const listed = await b.history("/a.txt");
    expect(listed.versions?.map((v) => v.op)).toEqual(["write", "write"]);
    for (const v of listed.versions ?? [])
      expect((await b.readVersion("/a.txt", v.version)).data?.content).toMatch(/^a/);
    expect((await b.history("/a.txt.bak")).versions).toHaveLength(1);
    expect((await corp.history("/a.txt")).versions).toHaveLength(1);
    const snap = (await b.snapshot()).snapshot as string;
    await corp.write("/a.txt", "corp again\n");
    await corp.write("/new.txt", "x\n");
    expect((await b.changesSince(snap)).changes).toEqual([]);
    expect((await corp.changesSince(snap)).code).toBe("invalid_argument");
    await b.write("/a.txt.bak", "bak2\n");
    expect((await b.changesSince(snap)).changes).toEqual([{ path: "/a.txt.bak", change: "modified" }]);
  });

  it("pages of a few versions: a file's versions and keys across page boundaries stay whole and in order", async () => {
    const bucket = await bucketOf(true);
    const b = new S3Backend({ client, bucket, prefix: "paged", history: true, listPageSize: 2 });
    await b.write("/a.txt.bak", "bak\n");
    const snap = (await b.snapshot()).snapshot as string;
    for (let i = 0; i < 4; i++) await b.write("/a.txt", `a${i}\n`);
    await b.delete("/a.txt");
    await b.write("/a.txt", "back\n");
    await b.write("/b.txt", "b\n");
    await b.write("/a.txt.bak", "bak2\n");
    const versions = (await b.history("/a.txt")).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["write", "delete", "write", "write", "write", "write"]);
    expect((await b.history("/a.txt", { limit: 3 })).versions?.map((v) => v.op)).toEqual(["write", "delete", "write"]);
    for (const [i, v] of versions.slice(2).entries()) {
      expect((await b.readVersion("/a.txt", v.version)).data?.content).toBe(`a${3 - i}\n`);
    }
    expect((await b.changesSince(snap)).changes).toEqual([
      { path: "/a.txt", change: "added" },
      { path: "/a.txt.bak", change: "modified" },
      { path: "/b.txt", change: "added" },
    ]);
  });

  it("objects written before versioning was enabled appear as a first version (id 'null')", async () => {
    const bucket = await bucketOf(false);
    const b = new S3Backend({ client, bucket, prefix: "before", history: true });
    await b.write("/old.txt", "before versioning\n");
    await enableVersioning(client, bucket);
    const later = new S3Backend({ client, bucket, prefix: "before", history: true });
    await later.write("/old.txt", "after\n");
    const versions = (await later.history("/old.txt")).versions ?? [];
    expect(versions.map((v) => v.op)).toEqual(["write", "write"]);
    expect(versions[1]?.version).toBe("null");
    expect((await later.readVersion("/old.txt", "null")).data?.content).toBe("before versioning\n");
    expect((await later.restore("/old.txt", "null")).error).toBeUndefined();
    expect((await later.readRaw("/old.txt")).data?.content).toBe("before versioning\n");
    expect((await later.history("/old.txt")).versions?.map((v) => v.op)).toEqual(["restore", "write", "write"]);
  });

  it("a delete and a write in the same second keep their order; a snapshot orders writes around it", async () => {
    const bucket = await bucketOf(true);
    const b = new S3Backend({ client, bucket, prefix: "order", history: true });
    for (let round = 0; round < 3; round++) {
      await b.write("/f.txt", `w${round}\n`);
      await b.delete("/f.txt");
    }
    await b.write("/f.txt", "last\n");
    const ops = (await b.history("/f.txt")).versions?.map((v) => v.op);
    expect(ops).toEqual(["write", "delete", "write", "delete", "write", "delete", "write"]);
    await b.write("/g.txt", "before\n");
    const snap = (await b.snapshot()).snapshot as string;
    await b.delete("/g.txt");
    await b.write("/h.txt", "after\n");
    expect((await b.changesSince(snap)).changes).toEqual([
      { path: "/g.txt", change: "deleted" },
      { path: "/h.txt", change: "added" },
    ]);
    expect((await b.restoreSnapshot(snap)).error).toBeUndefined();
    expect((await b.readRaw("/g.txt")).data?.content).toBe("before\n");
    expect((await b.read("/h.txt")).code).toBe("file_not_found");
  });

  it("a snapshot's restore copies each version inside the store, without fetching it", async () => {
    const bucket = await bucketOf(true);
    const { client: counting, sent } = countingClient();
    const b = new S3Backend({ client: counting, bucket, prefix: "copy", history: true });
    await b.write("/kept.txt", "kept\n");
    await b.write("/changed.txt", "before\n");
    await b.write("/gone.txt", "gone\n");
    const snap = (await b.snapshot()).snapshot as string;
    await b.write("/changed.txt", "after\n");
    await b.delete("/gone.txt");
    sent.length = 0;
    expect((await b.restoreSnapshot(snap)).error).toBeUndefined();
    // Two versions brought back, each by one server-side copy; no version crossed the wire.
    expect(sent.filter((s) => s.name === "GetObjectCommand" && s.input.VersionId !== undefined)).toEqual([]);
    expect(names(sent).filter((n) => n === "CopyObjectCommand")).toHaveLength(2);
    expect((await b.readRaw("/changed.txt")).data?.content).toBe("before\n");
    expect((await b.readRaw("/gone.txt")).data?.content).toBe("gone\n");
    expect((await b.history("/changed.txt")).versions?.map((v) => v.op)).toEqual(["restore", "write", "write"]);
    counting.destroy();
  });

  it("under withQuota and withPermissions a restore is still a copy inside the store", async () => {
    const bucket = await bucketOf(true);
    const { client: counting, sent } = countingClient();
    const store = new S3Backend({ client: counting, bucket, prefix: "layers", history: true });
    const layered = withPermissions(withQuota(store, { maxBytes: 1_000 }), {
      rules: [{ action: "deny", operations: ["write"], paths: ["/locked/**"] }],
    });
    await store.write("/a.txt", "first\n");
    await store.write("/locked/b.txt", "first\n");
    const snap = (await layered.snapshot()).snapshot as string;
    await store.write("/a.txt", "second, longer\n");
    await store.write("/locked/b.txt", "second\n");
    sent.length = 0;
    const restored = await layered.restoreSnapshot(snap);
    expect(restored.failed?.map((f) => [f.path, f.code])).toEqual([["/locked/b.txt", "permission_denied"]]);
    const first = (await layered.history("/a.txt")).versions?.at(-1)?.version as string;
    expect((await layered.restore("/a.txt", first)).error).toBeUndefined();
    expect(sent.filter((s) => s.name === "GetObjectCommand" && s.input.VersionId !== undefined)).toEqual([]);
    expect(names(sent).filter((n) => n === "CopyObjectCommand")).toHaveLength(2);
    expect((await store.readRaw("/a.txt")).data?.content).toBe("first\n");
    expect((await store.readRaw("/locked/b.txt")).data?.content).toBe("second\n");
    counting.destroy();
  });

  it("retention prunes noncurrent versions after a write, and a snapshot it broke is history_pruned", async () => {
    const bucket = await bucketOf(true);
    const { client: counted, sent } = countingClient();
    try {
      const b = new S3Backend({ client: counted, bucket, prefix: "keep", history: { maxVersions: 2 } });
      await b.write("/k.txt", "v0\n");
      const snap = (await b.snapshot()).snapshot as string;
      sent.length = 0;
      await b.write("/k.txt", "v1\n");
      await b.write("/k.txt", "v2\n");
      // Each write: its own requests, one ListObjectVersions of the key, one DeleteObjects when over the limit.
      expect(names(sent).filter((n) => n === "ListObjectVersionsCommand")).toHaveLength(2);
      expect(names(sent).filter((n) => n === "DeleteObjectsCommand")).toHaveLength(1);
      expect((await b.history("/k.txt")).versions?.map((v) => v.op)).toEqual(["write", "write"]);
      const changes = await b.changesSince(snap);
      expect(changes.code).toBe("unsupported");
      expect(changes.error).toContain("no longer reaches back");
      // A file added after the snapshot with fewer versions than the limit is an addition.
      const fresh = (await b.snapshot()).snapshot as string;
      await b.write("/n.txt", "new\n");
      expect((await b.changesSince(fresh)).changes).toEqual([{ path: "/n.txt", change: "added" }]);
      // maxAgeMs 0: only the current version is kept.
      const aged = new S3Backend({ client, bucket, prefix: "aged", history: { maxAgeMs: 0 } });
      for (let i = 0; i < 3; i++) await aged.write("/x.txt", `x${i}\n`);
      expect((await aged.history("/x.txt")).versions).toHaveLength(1);
    } finally {
      counted.destroy();
    }
  });

  it("refuses a history option of the wrong shape", () => {
    expect(() => new S3Backend({ client, bucket: "b", history: "yes" as never })).toThrow(/history/);
    expect(() => new S3Backend({ client, bucket: "b", history: { maxVersions: 0 } })).toThrow(/maxVersions/);
  });
});
