/**
 * {@link S3History}: the version history of an {@link S3Driver} from S3 bucket versioning. Every
 * PutObject and DeleteObject of a versioned bucket keeps a version (or a delete marker) in the same
 * step, so writes need no extra request; the op of each version travels in its metadata. A
 * snapshot is a closed second of the server's clock (see {@link S3History.snapshot}).
 *
 * `readVersion` hands a version to the model, so it has the read limit (`maxFileSizeMb`): a larger
 * version answers `too_large` before its content crosses the wire. A restore needs the whole
 * version: `restore` copies it inside the store (see `copyVersion`), a snapshot's restore asks
 * `readAt` for the version's id alone and restores it the same way, and `readAt` with content
 * (under a layer that restores by reading and writing) has no limit.
 */
import { createHash } from "node:crypto";
import { DeleteObjectsCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  contentFromBytes,
  type FileVersion,
  type HistoryRetention,
  type ReadAtCall,
  type SnapshotChange,
  type VersionedFile,
  type VersionOp,
  type VersionReadCall,
  type VersionRef,
} from "@deepfs/core";
import {
  type CallContext,
  type DriverFile,
  type DriverHistory,
  type Fault,
  fault,
  isFault,
  mapLimit,
  type WriteCall,
} from "@deepfs/core/kit";
import { keyTooLongFault, s3Fault } from "./errors.js";
import { type KeyMapper, keyTooLong } from "./keys.js";
import { iso, storedFileOf } from "./put-object.js";
import { copyVersion, getVersion, noVersion } from "./version-content.js";
import {
  bucketClock,
  chronology,
  headVersion,
  keyVersions,
  type VersionItem,
  type VersionMeta,
  versionsOfKey,
} from "./version-listing.js";

/** What the history needs of its driver. */
export interface S3HistoryHost {
  readonly client: S3Client;
  readonly bucket: string;
  readonly keys: KeyMapper;
  readonly pageSize: number | undefined;
  readonly retention: HistoryRetention;
  /** The read limit (`maxFileSizeMb`), in bytes: `readVersion` answers `too_large` past it. */
  readonly maxFileBytes: number;
  /** The driver's write, through which a conditional restore goes (a PUT with its conditions). */
  readonly write: (path: string, bytes: Uint8Array, call: WriteCall) => Promise<{ etag: string } | Fault>;
}

/** HEADs in flight at once when listing versions. */
const HEAD_CONCURRENCY = 8;
/** Noncurrent versions one write prunes at most (the rest at the next write). */
const PRUNE_PER_WRITE = 100;
const OPS = new Set<string>(["write", "edit", "upload", "delete", "restore"]);

/** HEADs of versions, each at most once per call. */
class Heads {
  private readonly known = new Map<string, Promise<VersionMeta>>();
  constructor(
    private readonly host: S3HistoryHost,
    private readonly signal: AbortSignal | undefined,
  ) {}
  meta(item: VersionItem): Promise<VersionMeta> {
    const id = `${item.key}\u0000${item.versionId}`;
    let found = this.known.get(id);
    if (!found) {
      found = headVersion(this.host.client, this.host.bucket, item, this.signal);
      this.known.set(id, found);
    }
    return found;
  }
  readonly fresh = async (item: VersionItem): Promise<boolean> => (await this.meta(item)).fresh;
}

/** The versions of one bucket and prefix, from bucket versioning. */
export class S3History implements DriverHistory {
  private readonly host: S3HistoryHost;
  /** Snapshot ids name their bucket and prefix (by a hash), so another's id is refused, not misread. */
  private readonly tag: string;
  /** Versioning was found Enabled (checked again on every call until it is). */
  private versioned = false;

  constructor(host: S3HistoryHost) {
    this.host = host;
    this.tag = `s3-${createHash("sha256").update(`${host.bucket}\u0000${host.keys.prefix}`).digest("base64url").slice(0, 16)}`;
  }

  async versions(path: string, limit: number | undefined, call: CallContext): Promise<FileVersion[] | Fault> {
    const key = this.host.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    try {
      const refused = await this.ready(call.signal);
      if (refused) return refused;
      const heads = new Heads(this.host, call.signal);
      const all = await this.historyOf(key, heads, call.signal);
      const shown = this.retained(all).slice(0, limit ?? Number.POSITIVE_INFINITY);
      return await mapLimit(shown, HEAD_CONCURRENCY, async (item): Promise<FileVersion> => {
        const modified_at = iso(new Date(item.at));
        if (item.marker) return { version: item.versionId, etag: "", size: 0, modified_at, op: "delete" };
        const { op } = await heads.meta(item);
        const known = op !== undefined && OPS.has(op) && op !== "delete" ? (op as VersionOp) : "write";
        return { version: item.versionId, etag: item.etag, size: item.size, modified_at, op: known };
      });
    } catch (error) {
      return s3Fault(error);
    }
  }

  async readVersion(path: string, version: string, call: VersionReadCall): Promise<DriverFile | Fault> {
    try {
      const key = await this.versionKey(path, version, call.signal);
      if (isFault(key)) return key;
      const limit = call.whole ? Number.POSITIVE_INFINITY : this.host.maxFileBytes;
      return await this.fetch(path, key, version, limit, call.signal);
    } catch (error) {
      return s3Fault(error);
    }
  }

  /**
   * Writes `version` back as the current object (op `restore`). Without a condition the store
   * copies it (CopyObject with its version id): no byte crosses the wire, whatever its size. With
   * `ifMatch` / `ifNoneMatch` the version is read whole and written by the driver's conditional PUT,
   * since not every S3-compatible store honours conditions on a copy and a compare-and-swap must
   * never become last-write-wins.
   */
  async restore(path: string, version: string, call: WriteCall): Promise<{ etag: string } | Fault> {
    try {
      const key = await this.versionKey(path, version, call.signal);
      if (isFault(key)) return key;
      if (call.ifMatch !== undefined || call.ifNoneMatch !== undefined) {
        const got = await getVersion(this.host, key, version, Number.POSITIVE_INFINITY, call.signal);
        return isFault(got) ? got : await this.host.write(path, got.bytes, { ...call, op: "restore" });
      }
      const copied = await copyVersion(this.host, path, key, version, call.signal);
      if (!isFault(copied)) await this.prune(key, call.signal);
      return copied;
    } catch (error) {
      return s3Fault(error);
    }
  }

  /**
   * A closed second of the server's clock: the Date of a GetBucketVersioning answer, after waiting
   * (at most about a second) until the server's clock has passed it. Every change acknowledged
   * before the call has a LastModified at or before that second, and every change begun after the
   * call returns has a later one, so the snapshot is exact for all but changes concurrent with it.
   */
  async snapshot(call: CallContext): Promise<string | Fault> {
    try {
      const first = await bucketClock(this.host.client, this.host.bucket, call.signal);
      if (!first.enabled) return this.unversioned();
      this.versioned = true;
      const at = first.serverTime;
      if (at === undefined) return fault("unsupported", { detail: "the S3 server sends no Date header" });
      for (let tries = 0; ; tries++) {
        const wait = tries === 0 ? 1000 - (Date.now() % 1000) + 20 : 100;
        await sleep(wait, call.signal);
        const now = await bucketClock(this.host.client, this.host.bucket, call.signal);
        if (now.serverTime !== undefined && now.serverTime > at) break;
        if (tries >= 40) return fault("backend_unavailable", { detail: "the S3 server's clock did not advance" });
      }
      return `${this.tag}.${Math.floor(at / 1000)}`;
    } catch (error) {
      return s3Fault(error);
    }
  }

  async changesSince(snapshot: string, call: CallContext): Promise<SnapshotChange[] | Fault> {
    const at = this.timeOf(snapshot);
    if (typeof at !== "number") return at;
    try {
      const refused = await this.ready(call.signal);
      if (refused) return refused;
      const heads = new Heads(this.host, call.signal);
      const out: SnapshotChange[] = [];
      const { keys } = this.host;
      for await (const group of keyVersions(this.host.client, this.listing(keys.prefix, call.signal))) {
        // A key changed since the snapshot has a version after it.
        if (![...group.objects, ...group.markers].some((v) => v.at > at)) continue;
        const path = group.key.endsWith("/") ? null : keys.toPath(group.key);
        if (path === null) continue;
        const chain = await chronology(group, heads.fresh);
        const then = await this.stateAt(chain, at, heads);
        if (then === "pruned") return fault("unsupported", { path, reason: "history_pruned" });
        const now = chain[0];
        const existsNow = now !== undefined && !now.marker;
        if (then === null) {
          if (existsNow) out.push({ path, change: "added" });
        } else if (!existsNow) out.push({ path, change: "deleted" });
        else if (now.etag !== then.etag) out.push({ path, change: "modified" });
      }
      return out;
    } catch (error) {
      return s3Fault(error);
    }
  }

  async readAt(snapshot: string, path: string, call: ReadAtCall): Promise<VersionedFile | VersionRef | null | Fault> {
    const at = this.timeOf(snapshot);
    if (typeof at !== "number") return at;
    const key = this.host.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    try {
      const refused = await this.ready(call.signal);
      if (refused) return refused;
      const heads = new Heads(this.host, call.signal);
      const then = await this.stateAt(await this.historyOf(key, heads, call.signal), at, heads);
      if (then === "pruned") return fault("unsupported", { path, reason: "history_pruned" });
      if (then === null) return null;
      // A snapshot's restore copies the version inside the store (`restore`): no GET of it.
      if (call.versionOnly) return { version: then.versionId };
      // Whole: the content is written back by the snapshot's restore, never shown.
      const file = await this.fetch(path, key, then.versionId, Number.POSITIVE_INFINITY, call.signal);
      return isFault(file) ? file : { ...file, version: then.versionId };
    } catch (error) {
      return s3Fault(error);
    }
  }

  /**
   * Deletes the versions of `key` beyond the retention limits (never the current one), at most
   * {@link PRUNE_PER_WRITE} per call. Called after each write and delete of the key; errors are
   * swallowed (the change itself succeeded, the next one prunes again).
   */
  async prune(key: string, signal: AbortSignal | undefined): Promise<void> {
    const { maxVersions, maxAgeMs } = this.host.retention;
    if (maxVersions === undefined && maxAgeMs === undefined) return;
    try {
      const heads = new Heads(this.host, signal);
      const all = await this.historyOf(key, heads, signal);
      const kept = new Set(this.retained(all));
      const drop = all.filter((v) => !kept.has(v)).slice(0, PRUNE_PER_WRITE);
      if (drop.length === 0) return;
      await this.host.client.send(
        new DeleteObjectsCommand({
          Bucket: this.host.bucket,
          Delete: { Objects: drop.map((v) => ({ Key: v.key, VersionId: v.versionId })), Quiet: true },
        }),
        { abortSignal: signal },
      );
    } catch {
      // Pruning again at the next change of the file.
    }
  }

  /** The versions of `key`, newest first. */
  private historyOf(key: string, heads: Heads, signal: AbortSignal | undefined): Promise<VersionItem[]> {
    return versionsOfKey(this.host.client, this.listing(key, signal), heads.fresh);
  }

  private listing(prefix: string, signal: AbortSignal | undefined) {
    return { bucket: this.host.bucket, prefix, pageSize: this.host.pageSize, signal };
  }

  /** The versions (newest first) the retention limits keep: the newest always, at most `maxVersions`. */
  private retained(all: VersionItem[]): VersionItem[] {
    const { maxVersions, maxAgeMs } = this.host.retention;
    let kept = maxVersions === undefined ? all : all.slice(0, maxVersions);
    if (maxAgeMs !== undefined) {
      const oldest = Date.now() - maxAgeMs;
      kept = kept.filter((v, i) => i === 0 || v.at >= oldest);
    }
    return kept;
  }

  /**
   * The version of a key current at second `at` (null: no file then) from its versions newest
   * first. Before the oldest kept version the file did not exist when that version is a new file's
   * and retention can have dropped nothing before it; otherwise `pruned`, since S3 keeps no record
   * of what was deleted.
   */
  private async stateAt(chain: VersionItem[], at: number, heads: Heads): Promise<VersionItem | null | "pruned"> {
    const then = chain.find((v) => v.at <= at);
    if (then) return then.marker ? null : then;
    const { maxVersions, maxAgeMs } = this.host.retention;
    if (maxVersions === undefined && maxAgeMs === undefined) return null;
    const oldest = chain[chain.length - 1];
    if (oldest === undefined) return null;
    const complete =
      (maxVersions === undefined || chain.length < maxVersions) &&
      (maxAgeMs === undefined || at >= Date.now() - maxAgeMs);
    return complete && !oldest.marker && (await heads.fresh(oldest)) ? null : "pruned";
  }

  /**
   * GetObject of one version, at most `maxBytes` of it (`too_large` beyond, see `getVersion`): a
   * delete marker is `deleted_version`, an unknown id `no_version`.
   */
  private async fetch(
    path: string,
    key: string,
    version: string,
    maxBytes: number,
    signal: AbortSignal | undefined,
  ): Promise<DriverFile | Fault> {
    const got = await getVersion(this.host, key, version, maxBytes, signal);
    if (isFault(got)) return got;
    return { ...storedFileOf(got.response), content: contentFromBytes(path, got.bytes) };
  }

  /**
   * The key of `path` for a call on its `version`: faults for a key S3 cannot hold, an id no
   * version of this store can have, and a bucket without versioning.
   */
  private async versionKey(path: string, version: string, signal: AbortSignal | undefined): Promise<string | Fault> {
    const key = this.host.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    if (!plausibleVersion(version)) return noVersion(version);
    return (await this.ready(signal)) ?? key;
  }

  /** Null when the bucket has versioning Enabled, else the `unsupported` fault saying how to enable it. */
  private async ready(signal: AbortSignal | undefined): Promise<Fault | null> {
    if (this.versioned) return null;
    const { enabled } = await bucketClock(this.host.client, this.host.bucket, signal);
    if (!enabled) return this.unversioned();
    this.versioned = true;
    return null;
  }

  private unversioned(): Fault {
    const bucket = this.host.bucket;
    return fault("unsupported", {
      reason: "no_history",
      detail: `bucket '${bucket}' does not have versioning enabled; enable it with \`aws s3api put-bucket-versioning --bucket ${bucket} --versioning-configuration Status=Enabled\``,
    });
  }

  /** The server second (in milliseconds) a snapshot id of this bucket and prefix stands for. */
  private timeOf(snapshot: string): number | Fault {
    const unknown = fault("invalid_argument", { reason: "unknown_snapshot" });
    const [tag, seconds, rest] = snapshot.split(".");
    if (tag !== this.tag || rest !== undefined || !/^[0-9]{1,12}$/.test(seconds ?? "")) return unknown;
    const at = Number(seconds) * 1000;
    // A snapshot of the future is none this backend made (a day allows for any clock skew).
    return at > Date.now() + 86_400_000 ? unknown : at + 999;
  }
}

/** A version id S3 could have made: printable ASCII, not too long. */
function plausibleVersion(version: string): boolean {
  return version.length > 0 && version.length <= 1024 && /^[\x21-\x7e]+$/.test(version);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}
