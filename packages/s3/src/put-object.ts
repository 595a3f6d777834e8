import {
  type GetObjectCommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getMimeType, type VersionOp } from "@deepfs/core";
import { CREATED_AT_METADATA, NEW_METADATA, type ObjectHead, OP_METADATA, WRITE_ID_METADATA } from "./probe.js";

/** One PUT of a file's bytes. */
export interface PutRequest {
  bucket: string;
  key: string;
  /** The file's path (its MIME type becomes the Content-Type). */
  path: string;
  bytes: Uint8Array;
  /** Kept in `x-amz-meta-created-at`. */
  createdAt: string;
  /** Kept in `x-amz-meta-deepfs-write-id` (see {@link WRITE_ID_METADATA}). */
  writeId: string;
  ifMatch?: string | undefined;
  ifNoneMatch?: "*" | undefined;
  /** With history on: the version's op and whether the file was new, kept in the object's metadata. */
  version?: { op: VersionOp; fresh: boolean } | undefined;
}

/**
 * PUTs an object (multipart above `multipartThresholdBytes`) with the given conditions; returns
 * its ETag. A conditional write on `ifMatch` is always a single PUT (up to 5 GB): some
 * S3-compatible stores (moto among them) ignore If-Match on CompleteMultipartUpload, which would
 * turn a compare-and-swap into last-write-wins.
 */
export async function putObject(
  client: S3Client,
  request: PutRequest,
  multipartThresholdBytes: number,
  signal: AbortSignal | undefined,
): Promise<string> {
  const { bytes, ifMatch, ifNoneMatch, version } = request;
  const metadata: Record<string, string> = {
    [CREATED_AT_METADATA]: request.createdAt,
    [WRITE_ID_METADATA]: request.writeId,
  };
  if (version) {
    metadata[OP_METADATA] = version.op;
    if (version.fresh) metadata[NEW_METADATA] = "1";
  }
  const input: PutObjectCommandInput = {
    Bucket: request.bucket,
    Key: request.key,
    Body: bytes,
    ContentType: getMimeType(request.path),
    Metadata: metadata,
    ...(ifMatch !== undefined ? { IfMatch: ifMatch } : {}),
    ...(ifNoneMatch !== undefined ? { IfNoneMatch: ifNoneMatch } : {}),
  };
  if (bytes.byteLength <= multipartThresholdBytes || ifMatch !== undefined) {
    const put = await client.send(new PutObjectCommand(input), { abortSignal: signal });
    return put.ETag ?? "";
  }
  const controller = new AbortController();
  const abort = () => controller.abort();
  signal?.addEventListener("abort", abort, { once: true });
  try {
    // Parts are uploaded in parallel; a failure aborts the multipart upload, so no partial object appears.
    const upload = new Upload({ client, params: input, abortController: controller, queueSize: 4 });
    const done = await upload.done();
    return done.ETag ?? "";
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

/** The facts of a fetched object (its content is the caller's to shape). */
export function storedFileOf(response: GetObjectCommandOutput) {
  const modifiedAt = iso(response.LastModified);
  const createdAt = response.Metadata?.[CREATED_AT_METADATA] || modifiedAt;
  return { etag: response.ETag ?? "", createdAt, modifiedAt };
}

/** The creation time to keep when overwriting `existing` (now, for a new file). */
export function createdAtOf(existing: ObjectHead | undefined): string {
  return (existing ? (existing.createdAt ?? iso(existing.lastModified)) : "") || wholeSecondsNow();
}

/** True when the SDK sent the request more than once, so an earlier attempt may have taken effect. */
export function retriedBySdk(error: unknown): boolean {
  const attempts = (error as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts;
  return typeof attempts === "number" && attempts > 1;
}

export function iso(date: Date | undefined): string {
  return date ? date.toISOString() : "";
}

/** Now, in the whole seconds of S3's LastModified, so that a new file's created_at never follows its modified_at. */
function wholeSecondsNow(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
}

/** Versions remembered at most. */
const REMEMBERED = 1024;

/**
 * The creation time of the version of each path last read or written, by etag: an edit reads the
 * file and then PUTs with If-Match on that etag, and the new object must carry the same creation
 * time, which the read already told. A PUT on If-Match lands only on that very version, so the
 * remembered time is the stored one (as when the edit carried it itself); an unknown version costs
 * one HEAD. Bounded: the oldest entries are dropped first.
 */
export class CreatedAtCache {
  private readonly byPath = new Map<string, { etag: string; createdAt: string }>();

  remember(path: string, etag: string, createdAt: string): void {
    if (etag === "" || createdAt === "") return;
    this.byPath.delete(path);
    this.byPath.set(path, { etag, createdAt });
    if (this.byPath.size > REMEMBERED) this.byPath.delete(this.byPath.keys().next().value as string);
  }

  /** The creation time of version `etag` of `path`, when known. */
  recall(path: string, etag: string): string | undefined {
    const known = this.byPath.get(path);
    return known?.etag === etag ? known.createdAt : undefined;
  }
}
