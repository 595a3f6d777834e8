import { randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { requireOrSkipReason, serviceStatus } from "@deepfs/harness";
import { S3Backend, type S3Config } from "../src/index.js";

/** Why the S3 tests cannot run (printed loudly by the harness), or undefined. */
export const skipReason = requireOrSkipReason("s3");

const status = serviceStatus("s3");
const env = status.available ? status.env : {};

/** The bucket the tests use. */
export const bucket = env.DEEPFS_S3_BUCKET ?? "deepfs-test";

/** The test service's endpoint (moto started by the harness, or DEEPFS_S3_ENDPOINT). */
export const endpoint = env.DEEPFS_S3_ENDPOINT;

/** A client for the test service, as a user would configure it. */
export function testClient(): S3Client {
  return new S3Client({
    endpoint,
    region: env.DEEPFS_S3_REGION ?? "us-east-1",
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.DEEPFS_S3_ACCESS_KEY_ID || "test",
      secretAccessKey: env.DEEPFS_S3_SECRET_ACCESS_KEY || "test",
    },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** A fresh random prefix, so that every test has its own part of the bucket. */
export function randomPrefix(label = "t"): string {
  return `deepfs-s3-test/${label}-${randomBytes(6).toString("hex")}`;
}

/** A backend built from the test service's S3Config (it owns its client); `overrides` win. */
export function configuredBackend(prefix: string, overrides: Partial<S3Config> = {}): S3Backend {
  return new S3Backend({
    bucket,
    prefix,
    endpointUrl: endpoint,
    region: env.DEEPFS_S3_REGION ?? "us-east-1",
    accessKeyId: env.DEEPFS_S3_ACCESS_KEY_ID || "test",
    secretAccessKey: env.DEEPFS_S3_SECRET_ACCESS_KEY || "test",
    ...overrides,
  });
}

/** Creates the bucket when the service does not have it yet (an external endpoint). */
export async function ensureBucket(client: S3Client): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
  }
}

/** Deletes every object below a prefix. */
export async function removePrefix(client: S3Client, prefix: string): Promise<void> {
  const full = prefix.endsWith("/") ? prefix : `${prefix}/`;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: full, ContinuationToken: token }),
    );
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
    if (keys.length > 0)
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Creates a fresh bucket (`versioned`: with bucket versioning Enabled) and returns its name. */
export async function freshBucket(client: S3Client, versioned: boolean, label = "h"): Promise<string> {
  const name = `deepfs-${label}-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  if (versioned) await enableVersioning(client, name);
  return name;
}

/** Turns bucket versioning on (PutBucketVersioning, Status Enabled). */
export async function enableVersioning(client: S3Client, name: string): Promise<void> {
  await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Enabled" } }));
}

/** Deletes every version and delete marker below `prefix` (all of the bucket by default), then with `drop` the bucket. */
export async function emptyBucket(client: S3Client, name: string, prefix = "", drop = true): Promise<void> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: name,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    );
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].flatMap((v) =>
      v.Key ? [{ Key: v.Key, VersionId: v.VersionId }] : [],
    );
    if (objects.length > 0)
      await client.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: objects, Quiet: true } }));
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker !== undefined);
  if (drop) await client.send(new DeleteBucketCommand({ Bucket: name }));
}

/**
 * Makes `client` answer a delimited ListObjectsV2 as AWS S3 and Ceph do on a versioned bucket: moto
 * also lists, as common prefixes, "directories" whose every key is delete-marked (a moto quirk; AWS
 * derives common prefixes from current, not-deleted objects only). Each listed prefix is checked
 * with an undelimited listing of one key, which moto answers correctly. For test clients only.
 */
export function withoutDeletedPrefixes(client: S3Client): S3Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { Bucket?: string; Delimiter?: string };
      if (context.commandName !== "ListObjectsV2Command" || !input.Delimiter) return result;
      const output = result.output as { CommonPrefixes?: Array<{ Prefix?: string }>; KeyCount?: number };
      const kept: Array<{ Prefix?: string }> = [];
      for (const common of output.CommonPrefixes ?? []) {
        const below = await client.send(
          new ListObjectsV2Command({ Bucket: input.Bucket, Prefix: common.Prefix, MaxKeys: 1 }),
        );
        if ((below.KeyCount ?? 0) > 0) kept.push(common);
      }
      if (output.KeyCount !== undefined) output.KeyCount -= (output.CommonPrefixes?.length ?? 0) - kept.length;
      output.CommonPrefixes = kept;
      return result;
    },
    { step: "initialize", name: "withoutDeletedPrefixes" },
  );
  return client;
}

/**
 * Why the history suites cannot run on the test service (it cannot create a bucket with versioning:
 * single-drive MinIO, say), printed once; undefined when they can, or when S3 itself is skipped.
 * With DEEPFS_REQUIRE_SERVICES=1 (CI) a service that cannot is an error, not a skip.
 */
export async function versioningSkipReason(): Promise<string | undefined> {
  if (skipReason) return skipReason;
  const client = testClient();
  try {
    const name = await freshBucket(client, true, "probe");
    await emptyBucket(client, name);
    return undefined;
  } catch (error) {
    const reason = `the S3 test service cannot create a versioned bucket (${(error as { name?: string }).name ?? "error"}): history suites skipped`;
    if (process.env.DEEPFS_REQUIRE_SERVICES === "1") throw new Error(reason);
    console.warn(`[deepfs] ${reason}`);
    return reason;
  } finally {
    client.destroy();
  }
}
