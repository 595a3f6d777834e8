/**
 * How an S3 bucket does each primitive: one object per file holding exactly the file's bytes under
 * `prefix + path`, directories being the key prefixes below which objects exist. Reads stream large
 * texts and keep only the requested lines, writes probe what is in the way and travel with S3's
 * conditional headers, listings page through ListObjectsV2, and grep streams objects in parallel.
 */
import { randomUUID } from "node:crypto";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { contentFromBytes, type GrepQuery, getMimeType, isTextMimeType } from "@deepfs/core";
import {
  type BatchFile,
  type CallContext,
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type DriverWindow,
  type Fault,
  FaultError,
  fault,
  grepLimitsOf,
  isFault,
  type ReadCall,
  type StoreLimits,
  type WriteCall,
} from "@deepfs/core/kit";
import pLimit from "p-limit";
import type { ResolvedTuning } from "./config.js";
import { isNotFound, isPreconditionFailed, keyTooLongFault, readLimitFault, s3Fault } from "./errors.js";
import { grepObjects } from "./grep.js";
import { S3History } from "./history.js";
import { type KeyMapper, keyTooLong } from "./keys.js";
import { listObjects, listPages } from "./listing.js";
import { hasObjectsBelow, headObject } from "./probe.js";
import { CreatedAtCache, createdAtOf, iso, putObject, retriedBySdk, storedFileOf } from "./put-object.js";
import { bodyOf, readAtMost, readWindow } from "./read-window.js";
import { WriteProbe } from "./write-probe.js";

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;
const MIB = 1024 * 1024;
/** Text files larger than this are read as a stream that keeps only the requested lines. */
const STREAMED_READ_BYTES = MIB;
/** Why a write whose retry failed its condition answers `backend_unavailable` (see `store`). */
const UNCERTAIN_WRITE =
  "the PUT was retried after its answer was lost and the file has changed since, so it may or may not have been applied; read the file before trying again";

/** The objects of one bucket and prefix as a deepfs {@link Driver}. */
export class S3Driver implements Driver {
  readonly capabilities: DriverCapabilities;

  /** Creation times of the versions last read or written, so a compare-and-swap PUT needs no HEAD. */
  private readonly createdAt = new CreatedAtCache();
  /** grep's in-flight limit, carried from one grep to the next (see `grepObjects`). */
  private readonly grepLimit: { limit: number | undefined } = { limit: undefined };
  /** The version history (`history` option), from bucket versioning. */
  readonly history?: S3History;

  constructor(
    readonly client: S3Client,
    readonly bucket: string,
    readonly keys: KeyMapper,
    private readonly tuning: ResolvedTuning,
  ) {
    // The read limit, and grep's bounds when given, travel with the capabilities (through layers).
    const limits: StoreLimits = { maxFileBytes: tuning.maxFileBytes, ...grepLimitsOf(tuning) };
    this.capabilities = { nativeGrep: false, conditionalWrites: true, realDirectories: false, readOnly: false, limits };
    const retention = tuning.history;
    if (retention) {
      const { listPageSize: pageSize, maxFileBytes } = tuning;
      const write = (path: string, bytes: Uint8Array, call: WriteCall) => this.write(path, bytes, call);
      this.history = new S3History({ client, bucket, keys, pageSize, retention, maxFileBytes, write });
    }
  }

  /** HEAD of the key; when there is no object, one listing request tells a directory from nothing. */
  async stat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    if (path === "/") return { kind: "directory" };
    const key = this.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    try {
      const head = await headObject(this.client, this.bucket, key, call.signal);
      if (head) {
        const modifiedAt = iso(head.lastModified);
        return { kind: "file", size: head.size, etag: head.etag, modifiedAt, createdAt: head.createdAt || modifiedAt };
      }
      const below = await hasObjectsBelow(this.client, this.bucket, this.keys.dirKey(path), call.signal);
      return below ? { kind: "directory" } : { kind: "none" };
    } catch (error) {
      return s3Fault(error);
    }
  }

  /**
   * One GET. A file over the read limit (`maxFileSizeMb`) answers `too_large` from the length its
   * response announces, before the body is read (the body is dropped); a download (`whole`) has no
   * limit. A large text read for a window is streamed through a line counter that keeps only the
   * window (memory stays at the window plus one chunk); anything else is read whole.
   */
  async read(path: string, call: ReadCall): Promise<DriverFile | DriverWindow | Fault> {
    const whole = call.whole === true;
    const maxBytes = whole ? Number.POSITIVE_INFINITY : this.tuning.maxFileBytes;
    try {
      const opened = await this.open(path, call.signal);
      if (isFault(opened)) return opened;
      const size = opened.ContentLength;
      if (size !== undefined && size > maxBytes) {
        bodyOf(opened).destroy?.();
        return this.tooLarge(size);
      }
      if (call.window && isTextMimeType(getMimeType(path)) && (size === undefined || size > STREAMED_READ_BYTES)) {
        const window = await readWindow(bodyOf(opened), call.window.offset, call.window.limit, maxBytes);
        if (window === "too_large") return this.tooLarge(size);
        if (window) return { window, etag: opened.ETag ?? "" };
        // Not UTF-8 after all, so the contract wants all of its bytes: fetch them whole (rare).
        const again = await this.open(path, call.signal);
        return isFault(again) ? again : await this.load(path, again, whole, maxBytes);
      }
      return await this.load(path, opened, whole, maxBytes);
    } catch (error) {
      return s3Fault(error);
    }
  }

  /**
   * One PUT (multipart above the threshold, unless `ifMatch` is set), after the checks of the
   * contract: with `ifMatch` the file exists when the etag holds, so only the PUT's condition
   * decides; otherwise a {@link WriteProbe} looks for a directory at the path, a file in the way
   * and the existing object (its creation time is kept).
   */
  write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
    return this.store(path, bytes, call, this.newProbe());
  }

  /** Uploads in parallel (`transferConcurrency`), with one probe for the batch (a listing per busy directory). */
  writeBatch(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const limit = pLimit(this.tuning.transferConcurrency);
    const probe = this.newProbe(files.map((f) => f.path));
    const upload: WriteCall = { ...call, op: "upload" };
    return Promise.all(files.map((file) => limit(() => this.store(file.path, file.bytes, upload, probe))));
  }

  /** One delimited listing: objects are files, common prefixes directories. */
  async list(dir: string, call: CallContext): Promise<DriverEntry[] | Fault> {
    const out: DriverEntry[] = [];
    try {
      for await (const page of listPages(this.client, {
        bucket: this.bucket,
        prefix: this.keys.dirKey(dir),
        delimiter: "/",
        pageSize: this.tuning.listPageSize,
        signal: call.signal,
      })) {
        for (const object of page.objects) {
          // A key ending in "/" is a directory marker made by another tool, not a file.
          if (object.key.endsWith("/")) continue;
          const path = this.keys.toPath(object.key);
          if (path !== null)
            out.push({ path, kind: "file", size: object.size, modifiedAt: object.lastModified?.toISOString() });
        }
        for (const prefix of page.prefixes) {
          const path = this.keys.toPath(prefix);
          if (path !== null) out.push({ path, kind: "directory" });
        }
      }
    } catch (error) {
      return s3Fault(error);
    }
    return out;
  }

  /** Every object below the directory, page after page (no delimiter). */
  async *walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    const objects = listObjects(this.client, {
      bucket: this.bucket,
      prefix: this.keys.dirKey(dir),
      pageSize: this.tuning.listPageSize,
      signal: call.signal,
    });
    while (true) {
      let next: IteratorResult<{ key: string; size: number; lastModified: Date | undefined }>;
      try {
        next = await objects.next();
      } catch (error) {
        throw new FaultError(s3Fault(error));
      }
      if (next.done) return;
      const object = next.value;
      if (object.key.endsWith("/")) continue;
      const path = this.keys.toPath(object.key);
      if (path !== null)
        yield { path, kind: "file", size: object.size, modifiedAt: object.lastModified?.toISOString() };
    }
  }

  /** The object at the path, or else every object below it, in DeleteObjects batches of 1,000. */
  async remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    try {
      if (path !== "/") {
        const key = this.keys.fileKey(path);
        if (keyTooLong(key)) return keyTooLongFault();
        if (await headObject(this.client, this.bucket, key, call.signal)) {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), {
            abortSignal: call.signal,
          });
          // With bucket versioning the delete left a delete marker: the tombstone, in the same step.
          await this.history?.prune(key, call.signal);
          return { path };
        }
      }
      const deleted = await this.deleteBelow(this.keys.dirKey(path), call.signal);
      if (isFault(deleted)) return deleted;
      return deleted === 0 ? fault("file_not_found") : { path };
    } catch (error) {
      return s3Fault(error);
    }
  }

  /** Streams the candidate objects through a line searcher (see {@link grepObjects}). */
  grep(query: GrepQuery, call: CallContext) {
    const ctx = {
      client: this.client,
      bucket: this.bucket,
      keys: this.keys,
      pageSize: this.tuning.listPageSize,
      concurrency: this.tuning.grepConcurrency,
      learned: this.grepLimit,
      maxFileBytes: this.tuning.maxGrepFileBytes,
    };
    return grepObjects(ctx, query, call.signal);
  }

  /** A fresh {@link WriteProbe}; `batchPaths` lets it list directories that receive many files. */
  private newProbe(batchPaths: string[] = []): WriteProbe {
    return new WriteProbe(this.client, this.bucket, this.keys, this.tuning.listPageSize, batchPaths);
  }

  /** GETs a file: the response with its body still to read, or `is_directory` / `file_not_found`. */
  private async open(path: string, signal: AbortSignal | undefined): Promise<GetObjectCommandOutput | Fault> {
    if (path === "/") return fault("is_directory");
    const key = this.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    try {
      return await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const below = await hasObjectsBelow(this.client, this.bucket, this.keys.dirKey(path), signal);
      return fault(below ? "is_directory" : "file_not_found");
    }
  }

  /**
   * Reads the whole body of an opened file, up to `maxBytes` (`too_large` beyond): bytes for a
   * transfer (`whole`), else text when it is text.
   */
  private async load(
    path: string,
    response: GetObjectCommandOutput,
    whole: boolean,
    maxBytes: number,
  ): Promise<DriverFile | Fault> {
    const size = response.ContentLength;
    if (size !== undefined && size > maxBytes) {
      bodyOf(response).destroy?.();
      return this.tooLarge(size);
    }
    let bytes: Uint8Array | null;
    if (!Number.isFinite(maxBytes))
      bytes = response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
    else bytes = await readAtMost(bodyOf(response), maxBytes);
    if (bytes === null) return this.tooLarge(size);
    const file = storedFileOf(response);
    this.createdAt.remember(path, file.etag, file.createdAt);
    return { ...file, content: whole ? bytes : contentFromBytes(path, bytes) };
  }

  /** The fault for a file over the read limit (`size`: its length, when known). */
  private tooLarge(size: number | undefined): Fault {
    return readLimitFault(size, this.tuning.maxFileBytes);
  }

  /**
   * Stores `bytes` at `path`. The checks and the PUT are separate requests: S3 has no transaction
   * across keys, so a directory created concurrently below `path` can slip in between.
   * Preconditions are exact: they travel as S3 conditional headers.
   */
  private async store(
    path: string,
    bytes: Uint8Array,
    call: WriteCall,
    probe: WriteProbe,
  ): Promise<{ etag: string } | Fault> {
    const { signal, ifMatch, ifNoneMatch } = call;
    if (signal?.aborted) return fault("aborted");
    if (path === "/") return fault("is_directory");
    const key = this.keys.fileKey(path);
    if (keyTooLong(key)) return keyTooLongFault();
    const writeId = randomUUID();
    try {
      let createdAt: string | undefined;
      let fresh = false;
      if (ifMatch !== undefined) {
        createdAt = this.createdAt.recall(path, ifMatch);
        if (createdAt === undefined) {
          const existing = await headObject(this.client, this.bucket, key, signal);
          if (!existing) return fault("conflict", { reason: "missing" });
          if (existing.etag !== ifMatch) return fault("conflict", { reason: "changed" });
          createdAt = createdAtOf(existing);
        }
      } else {
        const site = await probe.inspect(path, signal);
        if (site.isDirectory) return fault("is_directory");
        if (site.fileAncestor !== undefined)
          return fault("not_a_directory", { path: site.fileAncestor, reason: "file_in_way" });
        if (site.existing && ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
        createdAt = createdAtOf(site.existing);
        fresh = site.existing === undefined;
      }
      // With history, the version's op travels in its metadata (S3 keeps the version with the PUT).
      const version = this.history ? { op: call.op ?? "write", fresh } : undefined;
      const request = { bucket: this.bucket, key, path, bytes, createdAt, writeId, ifMatch, ifNoneMatch, version };
      const etag = await putObject(this.client, request, this.tuning.multipartThresholdBytes, signal);
      this.createdAt.remember(path, etag, createdAt);
      await this.history?.prune(key, signal);
      return { etag };
    } catch (error) {
      const failedCondition = isPreconditionFailed(error) || (ifMatch !== undefined && isNotFound(error));
      if (failedCondition && retriedBySdk(error)) {
        // An earlier attempt may have landed and had its answer lost, so that the retry failed its
        // own condition: if the stored object is this write, the write succeeded.
        const stored = await headObject(this.client, this.bucket, key).catch(() => undefined);
        if (stored?.writeId === writeId) return { etag: stored.etag };
        // Otherwise it may still have landed and been replaced (or deleted) since. `conflict` would
        // have the facade plan an edit again on content that may already hold it, so the outcome
        // is reported as unknown, as PostgreSQL does for a COMMIT whose answer was lost.
        return fault("backend_unavailable", { detail: UNCERTAIN_WRITE, cause: error });
      }
      // A PUT with If-Match on a key that no longer exists answers 404.
      if (ifMatch !== undefined && isNotFound(error)) return fault("conflict", { reason: "missing", cause: error });
      const failed = s3Fault(error);
      return failed.fault === "conflict" && ifNoneMatch === "*" ? { ...failed, reason: "exists" } : failed;
    }
  }

  /** Deletes every object below `prefix` in batches; returns how many there were. */
  private async deleteBelow(prefix: string, signal: AbortSignal | undefined): Promise<number | Fault> {
    let count = 0;
    let batch: string[] = [];
    const flush = async (): Promise<Fault | undefined> => {
      if (batch.length === 0) return undefined;
      const response = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
        { abortSignal: signal },
      );
      batch = [];
      const first = response.Errors?.[0];
      if (!first) return undefined;
      const failedPath = first.Key !== undefined ? this.keys.toPath(first.Key) : null;
      const example = failedPath !== null ? `, e.g. '${failedPath}'` : "";
      const detail = `${response.Errors?.length} object(s) could not be deleted${example} (${first.Code ?? "error"})`;
      return fault(first.Code === "AccessDenied" ? "permission_denied" : "backend_unavailable", { detail });
    };
    for await (const object of listObjects(this.client, {
      bucket: this.bucket,
      prefix,
      pageSize: this.tuning.listPageSize,
      signal,
    })) {
      batch.push(object.key);
      count++;
      if (batch.length === DELETE_BATCH) {
        const failed = await flush();
        if (failed) return failed;
      }
    }
    return (await flush()) ?? count;
  }
}
