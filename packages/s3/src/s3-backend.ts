import { randomUUID } from "node:crypto";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  type BackendCapabilities,
  type BackendProtocol,
  bytesForWrite,
  checkDirPath,
  checkPath,
  checkPreconditions,
  comparePaths,
  contentFromBytes,
  type DeleteResult,
  type EditResult,
  type ErrorCode,
  type FileDownloadResponse,
  type FileInfo,
  type FileOperationError,
  type FileUploadResponse,
  failure,
  type GlobResult,
  type GrepResult,
  getMimeType,
  isTextMimeType,
  type LsResult,
  notFound,
  parseGlobArgs,
  parseGrepArgs,
  planEdit,
  type ReadRawResult,
  type ReadResult,
  readResultOf,
  type WriteOptions,
  type WriteResult,
  writeConflict,
} from "@deepfs/core";
import pLimit from "p-limit";
import {
  checkBucket,
  createS3Client,
  type ResolvedTuning,
  resolveTuning,
  type S3ClientOptions,
  type S3Config,
} from "./config.js";
import { isNotFound, isPreconditionFailed, s3Failure } from "./errors.js";
import { grepObjects } from "./grep.js";
import { KeyMapper, keyTooLong } from "./keys.js";
import { listObjects, listPages } from "./listing.js";
import { CREATED_AT_METADATA, hasObjectsBelow, headObject, WRITE_ID_METADATA } from "./probe.js";
import { type ByteStream, readWindow } from "./read-window.js";
import { WriteProbe } from "./write-probe.js";

type Failure = { error: string; code: ErrorCode };

/** A fetched object. */
interface StoredFile {
  bytes: Uint8Array;
  etag: string;
  createdAt: string;
  modifiedAt: string;
  /** Id of the write that stored it (see {@link WRITE_ID_METADATA}); absent for foreign objects. */
  writeId: string | undefined;
}

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;
/** Text files larger than this are read as a stream that keeps only the requested lines. */
const STREAMED_READ_BYTES = 1024 * 1024;
/** Compare-and-swap rounds of an edit before it gives up with `conflict`. */
const EDIT_ATTEMPTS = 10;

const isFailure = (value: unknown): value is Failure =>
  typeof value === "object" && value !== null && typeof (value as Failure).error === "string";

/**
 * Agent files in an S3 bucket (or any S3-compatible store), one object per file holding exactly
 * the file's bytes under `prefix + path`, so the bucket can be browsed and filled with any S3 tool.
 *
 * Writes honour `ifMatch` / `ifNoneMatch` through S3 conditional writes, edits are a
 * compare-and-swap loop on the ETag, and grep streams objects in parallel. The creation time is
 * kept in the object metadata (`x-amz-meta-created-at`); objects without it use their LastModified.
 */
export class S3Backend implements BackendProtocol, AsyncDisposable {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: false,
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };

  /** The client in use (created from the config, or the one passed in). */
  readonly client: S3Client;
  readonly bucket: string;
  /** Normalised key prefix: `""` or ending with `/`. */
  readonly prefix: string;

  private readonly keys: KeyMapper;
  private readonly tuning: ResolvedTuning;
  private readonly ownsClient: boolean;
  private closed = false;

  /**
   * @param config an {@link S3Config} (the backend builds and owns its client), or
   *   `{ client, bucket, prefix }` with an existing `S3Client`, which `close()` leaves alone.
   */
  constructor(config: S3Config | S3ClientOptions) {
    if (typeof config !== "object" || config === null) throw new TypeError("S3Backend needs a config object");
    this.bucket = checkBucket(config.bucket);
    this.keys = new KeyMapper(config.prefix);
    this.prefix = this.keys.prefix;
    this.tuning = resolveTuning(config);
    if ("client" in config && config.client) {
      this.client = config.client;
      this.ownsClient = false;
    } else {
      this.client = createS3Client(config as S3Config);
      this.ownsClient = true;
    }
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const listing = this.keys.dirKey(dir.path);
    const files: FileInfo[] = [];
    try {
      for await (const page of listPages(this.client, {
        bucket: this.bucket,
        prefix: listing,
        delimiter: "/",
        pageSize: this.tuning.listPageSize,
      })) {
        for (const object of page.objects) {
          // A key ending in "/" is a directory marker made by another tool, not a file.
          if (object.key.endsWith("/")) continue;
          const filePath = this.keys.toPath(object.key);
          if (filePath !== null)
            files.push({ path: filePath, is_dir: false, size: object.size, modified_at: iso(object.lastModified) });
        }
        for (const prefix of page.prefixes) {
          const dirPath = this.keys.toPath(prefix);
          if (dirPath !== null) files.push({ path: `${dirPath}/`, is_dir: true, size: 0 });
        }
      }
    } catch (error) {
      return s3Failure(error, dir.path, "Listing");
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const opened = await this.openFile(filePath);
    if (isFailure(opened)) return opened;
    const { path, response } = opened;
    const mimeType = getMimeType(path);
    const size = response.ContentLength;
    let found: { path: string; file: StoredFile } | Failure;
    if (isTextMimeType(mimeType) && (size === undefined || size > STREAMED_READ_BYTES)) {
      // A large text: count its lines as it streams by and keep only the window.
      let window: Awaited<ReturnType<typeof readWindow>>;
      try {
        window = await readWindow(bodyOf(response), offset, limit);
      } catch (error) {
        return s3Failure(error, path, "Reading");
      }
      if (window) return { ...window, mimeType, etag: response.ETag ?? "" };
      // Not UTF-8 after all, so the contract wants all of its bytes: fetch them whole (rare).
      found = await this.fetchFile(path);
    } else {
      found = await this.loadFile(path, response);
    }
    if (isFailure(found)) return found;
    const { file } = found;
    const content = contentFromBytes(path, file.bytes);
    return readResultOf(content, mimeType, file.etag, offset, limit);
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const found = await this.fetchFile(filePath);
    if (isFailure(found)) return found;
    const { path, file } = found;
    return {
      data: {
        content: contentFromBytes(path, file.bytes),
        mimeType: getMimeType(path),
        created_at: file.createdAt,
        modified_at: file.modifiedAt,
      },
      etag: file.etag,
    };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    const stored = await this.storeFile(path, bytes, options);
    return isFailure(stored) ? stored : { path, etag: stored };
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    /** The last round's PUT, which failed but may have landed (a lost acknowledgement, then a refused retry). */
    let unacknowledged: { writeId: string; occurrences: number } | undefined;
    for (let attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const found = await this.fetchFile(filePath, options?.signal);
      if (isFailure(found)) return found;
      const { path, file } = found;
      // Our own write is what is stored: the edit is done, and applying it again would be wrong.
      if (unacknowledged && file.writeId === unacknowledged.writeId)
        return { path, occurrences: unacknowledged.occurrences, etag: file.etag };
      const plan = planEdit(
        path,
        { etag: file.etag, content: contentFromBytes(path, file.bytes), mimeType: getMimeType(path) },
        oldString,
        newString,
        replaceAll,
        options,
      );
      if ("error" in plan) return plan;
      if ("done" in plan) return plan.done;
      const writeId = randomUUID();
      try {
        // Compare-and-swap: the PUT only lands on the version just read.
        const etag = await this.putObject(
          path,
          Buffer.from(plan.content, "utf8"),
          file.createdAt,
          writeId,
          { ifMatch: file.etag },
          options?.signal,
        );
        return { path, occurrences: plan.occurrences, etag };
      } catch (error) {
        const raced = isPreconditionFailed(error) || isNotFound(error);
        if (raced && retriedBySdk(error)) {
          unacknowledged = { writeId, occurrences: plan.occurrences };
          continue;
        }
        // A caller's own ifMatch named the version now gone: that is their conflict to resolve.
        if (!raced || options?.ifMatch !== undefined) return s3Failure(error, path, "Editing");
      }
    }
    return failure("conflict", `'${filePath}' kept changing while it was being edited; read it again and retry`);
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    return grepObjects(
      {
        client: this.client,
        bucket: this.bucket,
        keys: this.keys,
        pageSize: this.tuning.listPageSize,
        concurrency: this.tuning.grepConcurrency,
        maxFileBytes: this.tuning.maxGrepFileBytes,
      },
      parsed.query,
    );
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { dir, matches, root } = parsed.query;
    const files: FileInfo[] = [];
    try {
      for await (const object of listObjects(this.client, {
        bucket: this.bucket,
        prefix: this.keys.dirKey(root),
        pageSize: this.tuning.listPageSize,
      })) {
        if (object.key.endsWith("/")) continue;
        const filePath = this.keys.toPath(object.key);
        if (filePath !== null && matches(filePath)) {
          files.push({ path: filePath, is_dir: false, size: object.size, modified_at: iso(object.lastModified) });
        }
      }
    } catch (error) {
      return s3Failure(error, dir, "Searching");
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    try {
      if (path !== "/") {
        const key = this.keys.fileKey(path);
        if (keyTooLong(key)) return tooLong(path);
        if (await headObject(this.client, this.bucket, key)) {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
          return { path };
        }
      }
      const deleted = await this.deleteBelow(this.keys.dirKey(path), path);
      if (isFailure(deleted)) return deleted;
      return deleted === 0 ? notFound(path) : { path };
    } catch (error) {
      return s3Failure(error, path, "Deleting");
    }
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const limit = pLimit(this.tuning.transferConcurrency);
    const checked = files.map(([rawPath]) => checkPath(rawPath));
    const probe = this.newProbe(checked.flatMap((c) => (c.ok ? [c.path] : [])));
    return Promise.all(
      files.map(([rawPath, bytes], i) =>
        limit(async (): Promise<FileUploadResponse> => {
          const check = checked[i] ?? checkPath(rawPath);
          if (!check.ok) return { path: rawPath, error: "invalid_path", code: "invalid_path", message: check.error };
          const path = check.path;
          if (!(bytes instanceof Uint8Array)) {
            return {
              path,
              error: "invalid_path",
              code: "invalid_argument",
              message: `Content for '${path}' must be bytes`,
            };
          }
          const stored = await this.storeFile(path, bytes, undefined, probe);
          return isFailure(stored)
            ? { path, error: coarse(stored.code), code: stored.code, message: stored.error }
            : { path, error: null };
        }),
      ),
    );
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const limit = pLimit(this.tuning.transferConcurrency);
    return Promise.all(
      paths.map((rawPath) =>
        limit(async (): Promise<FileDownloadResponse> => {
          const found = await this.fetchFile(rawPath);
          if (isFailure(found)) {
            const checked = checkPath(rawPath);
            const path = checked.ok ? checked.path : rawPath;
            return { path, content: null, error: coarse(found.code), code: found.code, message: found.error };
          }
          return { path: found.path, content: found.file.bytes, error: null };
        }),
      ),
    );
  }

  /** Destroys the client if this backend created it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) this.client.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A fresh {@link WriteProbe}; `batchPaths` lets it list directories that receive many files. */
  private newProbe(batchPaths: string[] = []): WriteProbe {
    return new WriteProbe(this.client, this.bucket, this.keys, this.tuning.listPageSize, batchPaths);
  }

  /** Fetches a whole file, or the failure to return (`is_directory` when a directory is there). */
  private async fetchFile(
    rawPath: string,
    signal?: AbortSignal,
  ): Promise<{ path: string; file: StoredFile } | Failure> {
    const opened = await this.openFile(rawPath, signal);
    return isFailure(opened) ? opened : this.loadFile(opened.path, opened.response);
  }

  /** GETs a file: the response with its body still to read, or the failure to return. */
  private async openFile(
    rawPath: string,
    signal?: AbortSignal,
  ): Promise<{ path: string; response: GetObjectCommandOutput } | Failure> {
    const checked = checkPath(rawPath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (path === "/") return isDirectory(path);
    const key = this.keys.fileKey(path);
    if (keyTooLong(key)) return tooLong(path);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: signal,
      });
      return { path, response };
    } catch (error) {
      if (!isNotFound(error)) return s3Failure(error, path, "Reading");
      try {
        return (await hasObjectsBelow(this.client, this.bucket, this.keys.dirKey(path), signal))
          ? isDirectory(path)
          : notFound(path);
      } catch (listError) {
        return s3Failure(listError, path, "Reading");
      }
    }
  }

  /** Reads the whole body of an opened file. */
  private async loadFile(
    path: string,
    response: GetObjectCommandOutput,
  ): Promise<{ path: string; file: StoredFile } | Failure> {
    try {
      const bytes = response.Body ? await response.Body.transformToByteArray() : new Uint8Array();
      const modifiedAt = iso(response.LastModified);
      const createdAt = response.Metadata?.[CREATED_AT_METADATA] || modifiedAt;
      const writeId = response.Metadata?.[WRITE_ID_METADATA];
      return { path, file: { bytes, etag: response.ETag ?? "", createdAt, modifiedAt, writeId } };
    } catch (error) {
      return s3Failure(error, path, "Reading");
    }
  }

  /**
   * Writes `bytes` at `path` after the checks of the contract (directory in the way, file as a
   * parent, preconditions), keeping the creation time of an existing file. Returns the new ETag.
   *
   * The checks and the PUT are separate requests: S3 has no transaction across keys, so a
   * directory created concurrently below `path` can slip in between. Preconditions are exact:
   * they also travel as S3 conditional headers.
   */
  private async storeFile(
    path: string,
    bytes: Uint8Array,
    options: WriteOptions | undefined,
    probe: WriteProbe = this.newProbe(),
  ): Promise<string | Failure> {
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/") return isDirectory(path);
    const key = this.keys.fileKey(path);
    if (keyTooLong(key)) return tooLong(path);
    const signal = options?.signal;
    const writeId = randomUUID();
    try {
      const { existing, isDirectory: isDir, fileAncestor } = await probe.inspect(path, signal);
      if (isDir) return isDirectory(path);
      if (fileAncestor !== undefined) {
        return failure("not_a_directory", `'${fileAncestor}' is a file, so '${path}' cannot be created below it`);
      }
      const precondition = existing ? checkPreconditions(path, existing.etag, options) : writeConflict(path, options);
      if (precondition) return precondition;
      const createdAt = (existing ? (existing.createdAt ?? iso(existing.lastModified)) : "") || wholeSecondsNow();
      return await this.putObject(path, bytes, createdAt, writeId, options, signal);
    } catch (error) {
      if (isPreconditionFailed(error) && retriedBySdk(error)) {
        // An earlier attempt may have landed and had its answer lost, so that the retry failed its
        // own condition: if the stored object is this write, the write succeeded.
        const stored = await headObject(this.client, this.bucket, key).catch(() => undefined);
        if (stored?.writeId === writeId) return stored.etag;
      }
      return s3Failure(error, path, "Writing");
    }
  }

  /** PUTs an object (multipart above the threshold) with the given conditions; returns its ETag. */
  private async putObject(
    path: string,
    bytes: Uint8Array,
    createdAt: string,
    writeId: string,
    conditions: Pick<WriteOptions, "ifMatch" | "ifNoneMatch"> | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.keys.fileKey(path),
      Body: bytes,
      ContentType: getMimeType(path),
      Metadata: { [CREATED_AT_METADATA]: createdAt, [WRITE_ID_METADATA]: writeId },
      ...(conditions?.ifMatch !== undefined ? { IfMatch: conditions.ifMatch } : {}),
      ...(conditions?.ifNoneMatch !== undefined ? { IfNoneMatch: conditions.ifNoneMatch } : {}),
    };
    // IfMatch goes on a single PUT (up to 5 GB): some S3-compatible stores (moto among them)
    // ignore it on CompleteMultipartUpload, which would turn a compare-and-swap into last-write-wins.
    if (bytes.byteLength <= this.tuning.multipartThresholdBytes || conditions?.ifMatch !== undefined) {
      const put = await this.client.send(new PutObjectCommand(input), { abortSignal: signal });
      return put.ETag ?? "";
    }
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener("abort", abort, { once: true });
    try {
      // Parts are uploaded in parallel; a failure aborts the multipart upload, so no partial object appears.
      const upload = new Upload({ client: this.client, params: input, abortController: controller, queueSize: 4 });
      const done = await upload.done();
      return done.ETag ?? "";
    } finally {
      signal?.removeEventListener("abort", abort);
    }
  }

  /** Deletes every object below `prefix` in batches; returns how many there were. */
  private async deleteBelow(prefix: string, path: string): Promise<number | Failure> {
    let count = 0;
    let batch: string[] = [];
    const flush = async (): Promise<Failure | undefined> => {
      if (batch.length === 0) return undefined;
      const response = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      batch = [];
      const first = response.Errors?.[0];
      if (!first) return undefined;
      const failedPath = (first.Key !== undefined ? this.keys.toPath(first.Key) : null) ?? path;
      const code = first.Code === "AccessDenied" ? "permission_denied" : "backend_unavailable";
      return failure(
        code,
        `Deleting '${path}' failed for ${response.Errors?.length} object(s), e.g. '${failedPath}' (${first.Code ?? "error"})`,
      );
    };
    for await (const object of listObjects(this.client, {
      bucket: this.bucket,
      prefix,
      pageSize: this.tuning.listPageSize,
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

/** The body of a GET as the byte stream it is in Node (an empty one when there is none). */
function bodyOf(response: GetObjectCommandOutput): ByteStream {
  return (response.Body as ByteStream | undefined) ?? [];
}

/** True when the SDK sent the request more than once, so an earlier attempt may have taken effect. */
function retriedBySdk(error: unknown): boolean {
  const attempts = (error as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts;
  return typeof attempts === "number" && attempts > 1;
}

function iso(date: Date | undefined): string {
  return date ? date.toISOString() : "";
}

/** Now, in the whole seconds of S3's LastModified, so that a new file's created_at never follows its modified_at. */
function wholeSecondsNow(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
}

function isDirectory(path: string): Failure {
  return failure("is_directory", `'${path}' is a directory, not a file`);
}

function tooLong(path: string): Failure {
  return failure("invalid_path", `Path '${path}' is too long: S3 keys are at most 1024 bytes including the prefix`);
}

/** The reference's coarse upload/download code for a precise deepfs code. */
function coarse(code: ErrorCode): FileOperationError {
  return code === "file_not_found" || code === "permission_denied" || code === "is_directory" || code === "invalid_path"
    ? code
    : "invalid_path";
}

/** Jittered exponential pause between compare-and-swap rounds, so racing editors spread out. */
function backoff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
