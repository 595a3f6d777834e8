/**
 * The content of one version of an object: reading it (within the read limit when it goes to the
 * model) and writing it back as the current object (`restore`), by a server-side copy when no
 * condition has to hold, so that no byte of it crosses the wire whatever its size.
 */
import { randomUUID } from "node:crypto";
import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getMimeType } from "@deepfs/core";
import { type Fault, fault } from "@deepfs/core/kit";
import { isNotFound, readLimitFault } from "./errors.js";
import type { KeyMapper } from "./keys.js";
import { CREATED_AT_METADATA, NEW_METADATA, OP_METADATA, WRITE_ID_METADATA } from "./probe.js";
import { createdAtOf } from "./put-object.js";
import { bodyOf, readAtMost } from "./read-window.js";
import { WriteProbe } from "./write-probe.js";

/** What reading and copying versions needs. */
export interface VersionStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly keys: KeyMapper;
  readonly pageSize: number | undefined;
}

/** Largest object CopyObject copies in one request (5 GiB). */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;

/** The fault of an unknown version id. */
export function noVersion(version: string): Fault {
  return fault("file_not_found", { reason: "no_version", detail: version.slice(0, 40) });
}

/**
 * The fault a request on one version failed with when the version is not there: a delete marker
 * (405) is `deleted_version`, an unknown id `no_version`; undefined for any other error.
 */
function missingVersion(error: unknown, version: string): Fault | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (error as { name?: string }).name;
  if (status === 405 || name === "MethodNotAllowed")
    return fault("file_not_found", { reason: "deleted_version", detail: version.slice(0, 40) });
  if (isNotFound(error) || status === 400 || name === "NoSuchVersion" || name === "InvalidArgument")
    return noVersion(version);
  return undefined;
}

/**
 * GetObject of one version, its bytes read whole when there are at most `maxBytes` of them. A
 * larger version answers `too_large` from the length its response announces, before the body is
 * read (the body is dropped), or as soon as more arrived than announced.
 */
export async function getVersion(
  store: VersionStore,
  key: string,
  version: string,
  maxBytes: number,
  signal: AbortSignal | undefined,
): Promise<{ response: GetObjectCommandOutput; bytes: Uint8Array } | Fault> {
  let response: GetObjectCommandOutput;
  try {
    response = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key, VersionId: version }), {
      abortSignal: signal,
    });
  } catch (error) {
    const missing = missingVersion(error, version);
    if (missing) return missing;
    throw error;
  }
  const size = response.ContentLength;
  if (size !== undefined && size > maxBytes) {
    bodyOf(response).destroy?.();
    return readLimitFault(size, maxBytes);
  }
  const bytes = await readAtMost(bodyOf(response), maxBytes);
  return bytes === null ? readLimitFault(size, maxBytes) : { response, bytes };
}

/**
 * Copies one version of `key` over the current object, inside the store (CopyObject with the
 * version id), as a write with op `restore` would store it: the same checks of the path (a
 * directory, a file in the way), the creation time of the file it replaces, the version's op and
 * whether the file was new in the metadata. Unconditional: destination conditions on CopyObject
 * are not honoured by every S3-compatible store (moto ignores them), so a conditional restore
 * goes through a conditional PUT instead (see `S3History.restore`).
 */
export async function copyVersion(
  store: VersionStore,
  path: string,
  key: string,
  version: string,
  signal: AbortSignal | undefined,
): Promise<{ etag: string } | Fault> {
  const { client, bucket } = store;
  // A HEAD first: a delete marker or an unknown id answers as readVersion does, and the size says
  // whether one CopyObject can copy it.
  let size: number;
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: version }), {
      abortSignal: signal,
    });
    size = head.ContentLength ?? 0;
  } catch (error) {
    const missing = missingVersion(error, version);
    if (missing) return missing;
    throw error;
  }
  if (size > MAX_COPY_BYTES) return fault("too_large", { detail: `${size} bytes, over S3's 5 GiB copy limit` });
  const site = await new WriteProbe(client, bucket, store.keys, store.pageSize).inspect(path, signal);
  if (site.isDirectory) return fault("is_directory");
  if (site.fileAncestor !== undefined)
    return fault("not_a_directory", { path: site.fileAncestor, reason: "file_in_way" });
  const metadata: Record<string, string> = {
    [CREATED_AT_METADATA]: createdAtOf(site.existing),
    [WRITE_ID_METADATA]: randomUUID(),
    [OP_METADATA]: "restore",
  };
  if (site.existing === undefined) metadata[NEW_METADATA] = "1";
  const source = `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}?versionId=${encodeURIComponent(version)}`;
  const copied = await client.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: key,
      CopySource: source,
      MetadataDirective: "REPLACE",
      Metadata: metadata,
      ContentType: getMimeType(path),
    }),
    { abortSignal: signal },
  );
  return { etag: copied.CopyObjectResult?.ETag ?? "" };
}
