import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { afterAll, describe, expect, it } from "vitest";
import { deepfs, readTree, tempDir, writeTree } from "./support.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tree(count: number): { source: string; files: Map<string, Buffer>; back: string } {
  const source = tempDir("svc-src");
  const back = tempDir("svc-back");
  dirs.push(source, back);
  return { source, files: writeTree(source, count), back };
}

/** Copies a tree into `url`, back out to disk, and checks every byte; then grep and rm there. */
async function roundTrip(url: (path: string) => string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const { source, files, back } = tree(200);
  const into = await deepfs(["--json", "cp", source, url("/project/")], { env });
  expect(into.status, into.stderr).toBe(0);
  expect(JSON.parse(into.text)).toMatchObject({ files: 200, failed: [] });
  const out = await deepfs(["--json", "cp", url("/project/"), back], { env });
  expect(JSON.parse(out.text)).toMatchObject({ files: 200, failed: [] });
  expect(readTree(back)).toEqual(files);
  // The copy holds the same bytes: sync copies nothing (bytes compared), diff finds nothing.
  const again = await deepfs(["--json", "sync", source, url("/project/")], { env });
  expect(again.status, again.stderr).toBe(0);
  expect(JSON.parse(again.text)).toMatchObject({ added: [], updated: [], deleted: [], unchanged: 200, bytes: 0 });
  const same = await deepfs(["diff", source, url("/project/")], { env });
  expect([same.status, same.text]).toEqual([0, ""]);
  const grep = await deepfs(["grep", "TODO 199", url("/project/")], { env });
  expect(grep.status).toBe(0);
  expect(grep.text).toBe("/project/src/dir-3/file 199.md:2:TODO 199\n");
  const rm = await deepfs(["rm", "-r", url("/project/")], { env });
  expect(rm.status).toBe(0);
  const gone = await deepfs(["--json", "ls", url("/project/")], { env });
  expect(JSON.parse(gone.text).files).toEqual([]);
}

const s3Skip = requireOrSkipReason("s3");
const s3 = serviceStatus("s3");

describe.skipIf(s3Skip !== undefined)("deepfs on S3", () => {
  it("copies a tree into a bucket and back, byte for byte", async () => {
    if (!s3.available) return;
    const { DEEPFS_S3_ENDPOINT, DEEPFS_S3_BUCKET, DEEPFS_S3_REGION } = s3.env;
    const env = {
      AWS_ACCESS_KEY_ID: s3.env.DEEPFS_S3_ACCESS_KEY_ID || "test",
      AWS_SECRET_ACCESS_KEY: s3.env.DEEPFS_S3_SECRET_ACCESS_KEY || "test",
    };
    const prefix = `deepfs-cli-test/${randomBytes(6).toString("hex")}`;
    const query = `?endpoint=${DEEPFS_S3_ENDPOINT}&region=${DEEPFS_S3_REGION ?? "us-east-1"}&path-style=1`;
    await roundTrip((path) => `s3://${DEEPFS_S3_BUCKET}/${prefix}${query}#${path}`, env);
  });
});

const pgSkip = requireOrSkipReason("postgres");
const pg = serviceStatus("postgres");

describe.skipIf(pgSkip !== undefined)("deepfs on PostgreSQL", () => {
  it("copies a tree into a namespace and back, byte for byte", async () => {
    if (!pg.available) return;
    const base = pg.env.DEEPFS_PG_URL as string;
    const namespace = `cli-${randomBytes(5).toString("hex")}`;
    const withNamespace = `${base}${base.includes("?") ? "&" : "?"}namespace=${namespace}`;
    await roundTrip((path) => `${withNamespace}#${path}`);
  });
});

describe("deepfs on embedded PostgreSQL (PGlite)", () => {
  it("keeps files in its data directory across runs", async () => {
    const data = tempDir("pglite");
    dirs.push(data);
    const url = `pglite://${join(data, "pg")}?namespace=cli`;
    const { source, files } = tree(30);
    const into = await deepfs(["--json", "cp", source, `${url}#/t/`]);
    expect(into.status, into.stderr).toBe(0);
    expect(JSON.parse(into.text)).toMatchObject({ files: 30, failed: [] });
    const blob = await deepfs(["cat", `${url}#/t/bin/blob-10.png`]);
    expect(blob.stdout.equals(files.get("bin/blob-10.png") as Buffer)).toBe(true);
  });
});
