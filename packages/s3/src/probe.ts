import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { isNotFound } from "./errors.js";
import type { ListedObject } from "./listing.js";

/** Metadata key (sent as `x-amz-meta-created-at`) holding a file's creation time. */
export const CREATED_AT_METADATA = "created-at";
/**
 * Metadata key (`x-amz-meta-deepfs-write-id`) holding a random id of the write that stored the
 * object, so that a write whose acknowledgement was lost can recognise itself.
 */
export const WRITE_ID_METADATA = "deepfs-write-id";
/** Metadata key (`x-amz-meta-deepfs-op`), with history on: the operation that made this version. */
export const OP_METADATA = "deepfs-op";
/**
 * Metadata key (`x-amz-meta-deepfs-new`), with history on: "1" when the file did not exist just
 * before this version (its first version, or the first after a delete), which orders a delete
 * marker against versions of the same second (see `version-listing.ts`).
 */
export const NEW_METADATA = "deepfs-new";

/** What a HEAD tells about an existing object. */
export interface ObjectHead {
  etag: string;
  size: number;
  createdAt: string | undefined;
  writeId: string | undefined;
  lastModified: Date | undefined;
}

/** HEAD of `key`, or `undefined` when there is no such object. */
export async function headObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ObjectHead | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return {
      etag: head.ETag ?? "",
      size: head.ContentLength ?? 0,
      createdAt: head.Metadata?.[CREATED_AT_METADATA],
      writeId: head.Metadata?.[WRITE_ID_METADATA],
      lastModified: head.LastModified,
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * The object whose key is exactly `key`, found with one listing request: no other key starting
 * with `key` sorts before `key` itself.
 */
export async function firstKeyAt(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<ListedObject | undefined> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), {
    abortSignal: signal,
  });
  const first = page.Contents?.[0];
  return first?.Key === key ? { key, size: first.Size ?? 0, lastModified: first.LastModified } : undefined;
}

/** True when at least one object lies below `prefix` (a directory exists there). */
export async function hasObjectsBelow(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }), {
    abortSignal: signal,
  });
  return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
}
