import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Writable } from "node:stream";
import { StateBackend } from "@deepfs/core";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { type BackendSpec, type OpenedBackend, openSpec } from "@deepfs/url";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../src/program.js";
import { type Cli, removeRoundTripDirs, roundTrip } from "./round-trip.js";
import { deepfs, tempDir, writeTree } from "./support.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  removeRoundTripDirs();
});

/** The CLI in this process, over one `memory:` store kept between commands (a one-shot run forgets it). */
function inProcess(): Cli {
  const store = new StateBackend();
  const kept = async (spec: BackendSpec): Promise<OpenedBackend> => {
    if (spec.scheme !== "memory") return openSpec(spec);
    const close = async () => {};
    return { backend: store, label: "memory:", close, [Symbol.asyncDispose]: close };
  };
  return async (args) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const sink = (chunks: Buffer[]) =>
      new Writable({
        write(chunk, _encoding, done) {
          chunks.push(Buffer.from(chunk));
          done();
        },
      });
    const stdin = new PassThrough();
    stdin.end();
    const status = await run(args, { stdin, stdout: sink(stdout), stderr: sink(stderr) }, { openSpec: kept });
    return { status, text: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") };
  };
}

describe("deepfs on memory:", () => {
  it("copies 1,000 files into memory and back, byte for byte, and syncs only changes", {
    timeout: 600_000,
  }, async () => {
    await roundTrip((path) => `memory:#${path}`, {}, inProcess());
  });
});

const s3Skip = requireOrSkipReason("s3");
const s3 = serviceStatus("s3");

describe.skipIf(s3Skip !== undefined)("deepfs on S3", () => {
  it("copies 1,000 files into a bucket and back, byte for byte, and syncs only changes", {
    timeout: 600_000,
  }, async () => {
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
  it("copies 1,000 files into a namespace and back, byte for byte, and syncs only changes", {
    timeout: 600_000,
  }, async () => {
    if (!pg.available) return;
    const base = pg.env.DEEPFS_PG_URL as string;
    const namespace = `cli-${randomBytes(5).toString("hex")}`;
    const withNamespace = `${base}${base.includes("?") ? "&" : "?"}namespace=${namespace}`;
    await roundTrip((path) => `${withNamespace}#${path}`);
  });
});

describe("deepfs on a local directory", () => {
  it("copies 1,000 files into another directory and back, byte for byte, and syncs only changes", {
    timeout: 600_000,
  }, async () => {
    const target = tempDir("svc-local");
    dirs.push(target);
    await roundTrip((path) => `${target}${path}`);
  });
});

describe("deepfs on embedded PostgreSQL (PGlite)", () => {
  it("keeps files in its data directory across runs", async () => {
    const data = tempDir("pglite");
    dirs.push(data);
    const url = `pglite://${join(data, "pg")}?namespace=cli`;
    const source = tempDir("pglite-src");
    dirs.push(source);
    const files = writeTree(source, 30);
    const into = await deepfs(["--json", "cp", source, `${url}#/t/`]);
    expect(into.status, into.stderr).toBe(0);
    expect(JSON.parse(into.text)).toMatchObject({ files: 30, failed: [] });
    const blob = await deepfs(["cat", `${url}#/t/bin/blob-10.png`]);
    expect(blob.stdout.equals(files.get("bin/blob-10.png") as Buffer)).toBe(true);
  });
});
