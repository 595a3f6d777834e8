/**
 * The versions of objects as S3 bucket versioning keeps them: ListObjectVersions pages grouped by
 * key, each key's versions and delete markers merged into one chronology, the server's clock, and
 * the HEAD of one version for the metadata a listing does not carry.
 */
import {
  type DeleteMarkerEntry,
  GetBucketVersioningCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ObjectVersion,
  type S3Client,
} from "@aws-sdk/client-s3";
import { RepeatedContinuationTokenError } from "./errors.js";
import { NEW_METADATA, OP_METADATA } from "./probe.js";

/** One version of an object, or one delete marker. */
export interface VersionItem {
  key: string;
  /** S3's VersionId ("null" for an object written before versioning was enabled). */
  versionId: string;
  /** A delete marker (a tombstone). */
  marker: boolean;
  /** S3's IsLatest: the current version of the key. */
  latest: boolean;
  /** LastModified in milliseconds (whole seconds on S3 and moto). */
  at: number;
  etag: string;
  size: number;
}

/** Every version and delete marker of one key, as listed (each kind newest first). */
export interface KeyVersions {
  key: string;
  objects: VersionItem[];
  markers: VersionItem[];
}

export interface VersionListRequest {
  bucket: string;
  /** Every key starting with this; with `exact`, only the key equal to it. */
  prefix: string;
  exact?: boolean;
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

function itemOf(entry: ObjectVersion | DeleteMarkerEntry, marker: boolean): VersionItem | null {
  if (entry.Key === undefined) return null;
  const object = entry as ObjectVersion;
  return {
    key: entry.Key,
    versionId: entry.VersionId ?? "null",
    marker,
    latest: entry.IsLatest === true,
    at: entry.LastModified?.getTime() ?? 0,
    etag: marker ? "" : (object.ETag ?? ""),
    size: marker ? 0 : (object.Size ?? 0),
  };
}

/**
 * The versions of every key below `prefix`, one key at a time (keys in listing order), paging with
 * KeyMarker / VersionIdMarker. A key's versions may span pages: a group is handed out once the
 * listing has moved past its key. With `exact`, stops after the key itself (it sorts first among
 * the keys it is a prefix of).
 */
export async function* keyVersions(client: S3Client, request: VersionListRequest): AsyncGenerator<KeyVersions> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let open: KeyVersions | undefined;
  const seen = new Set<string>();
  while (true) {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: request.bucket,
        Prefix: request.prefix,
        MaxKeys: request.pageSize,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
      { abortSignal: request.signal },
    );
    const items = [
      ...(page.Versions ?? []).map((v) => itemOf(v, false)),
      ...(page.DeleteMarkers ?? []).map((m) => itemOf(m, true)),
    ].filter((i): i is VersionItem => i !== null);
    // Both lists are in S3's key order (UTF-8 bytes), newest first within a key: a stable sort by
    // that order keeps it.
    items.sort((a, b) => Buffer.compare(Buffer.from(a.key, "utf8"), Buffer.from(b.key, "utf8")));
    for (const item of items) {
      if (request.exact && item.key !== request.prefix) {
        if (open) yield open;
        return;
      }
      if (open && open.key !== item.key) {
        yield open;
        open = undefined;
      }
      open ??= { key: item.key, objects: [], markers: [] };
      (item.marker ? open.markers : open.objects).push(item);
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
    const token = `${keyMarker ?? ""}\u0000${versionIdMarker ?? ""}`;
    if (keyMarker === undefined || seen.has(token)) throw new RepeatedContinuationTokenError(request.prefix);
    seen.add(token);
  }
  if (open) yield open;
}

/** The versions of exactly `key`, newest first (see {@link chronology}). */
export async function versionsOfKey(
  client: S3Client,
  request: Omit<VersionListRequest, "exact">,
  fresh: (item: VersionItem) => Promise<boolean>,
): Promise<VersionItem[]> {
  for await (const group of keyVersions(client, { ...request, exact: true })) return chronology(group, fresh);
  return [];
}

/**
 * One key's versions and delete markers merged newest first. A listing gives each kind in order
 * but not how they interleave, and LastModified has whole seconds, so a delete marker and versions
 * of the same second are ordered by what deepfs writes: a delete follows a version, and the version
 * after a delete is one marked new (`fresh`, read by HEAD, only for such ties). IsLatest names the
 * newest.
 */
export async function chronology(
  group: KeyVersions,
  fresh: (item: VersionItem) => Promise<boolean>,
): Promise<VersionItem[]> {
  const { objects, markers } = group;
  if (markers.length === 0) return objects;
  if (objects.length === 0) return markers;
  const olds = [...objects].reverse();
  const oldm = [...markers].reverse();
  const out: VersionItem[] = [];
  let i = 0;
  let j = 0;
  while (i < olds.length || j < oldm.length) {
    const o = olds[i];
    const m = oldm[j];
    let takeMarker: boolean;
    if (o === undefined) takeMarker = true;
    else if (m === undefined) takeMarker = false;
    else if (m.latest) takeMarker = false;
    else if (o.latest) takeMarker = true;
    else if (m.at !== o.at) takeMarker = m.at < o.at;
    else {
      const last = out[out.length - 1];
      takeMarker = last !== undefined && !last.marker && (await fresh(o));
    }
    if (takeMarker) out.push(oldm[j++] as VersionItem);
    else out.push(olds[i++] as VersionItem);
  }
  return out.reverse();
}

/** What the HEAD of one version tells. */
export interface VersionMeta {
  /** The op kept in its metadata (undefined: written without history, or by another tool). */
  op: string | undefined;
  /** The file did not exist just before this version. */
  fresh: boolean;
}

/** HEAD of one version of `key`. */
export async function headVersion(
  client: S3Client,
  bucket: string,
  item: VersionItem,
  signal?: AbortSignal,
): Promise<VersionMeta> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: item.key, VersionId: item.versionId }), {
    abortSignal: signal,
  });
  return { op: head.Metadata?.[OP_METADATA], fresh: head.Metadata?.[NEW_METADATA] === "1" };
}

/** The bucket's versioning status and the server's clock (the Date of the answer, whole seconds). */
export async function bucketClock(
  client: S3Client,
  bucket: string,
  signal?: AbortSignal,
): Promise<{ enabled: boolean; serverTime: number | undefined }> {
  const command = new GetBucketVersioningCommand({ Bucket: bucket });
  let date: string | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string | undefined> } | undefined)?.headers;
      date = headers?.date ?? headers?.Date;
      return result;
    },
    { step: "initialize", name: "deepfsServerDate" },
  );
  const answer = await client.send(command, { abortSignal: signal });
  const parsed = date === undefined ? Number.NaN : Date.parse(date);
  return { enabled: answer.Status === "Enabled", serverTime: Number.isFinite(parsed) ? parsed : undefined };
}
