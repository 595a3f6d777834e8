/**
 * {@link DriverBackend}: the whole backend contract, written once, over a {@link Driver}. It
 * validates every path and pattern before the driver sees it, refuses mutations of a read-only
 * store, serialises the mutations of each path within this process, turns edits into read +
 * plan + conditional write with a bounded retry, batches transfers, and writes every error
 * sentence (from the driver's structured faults) with the caller's canonical path.
 */
import { checkPreconditions, planEdit, readResultOf, writeConflict } from "../backend-helpers.js";
import { failure } from "../errors.js";
import { decodeBase64Content } from "../file-data.js";
import { parseGlobArgs } from "../glob.js";
import { parseGrepArgs } from "../grep.js";
import { KeyedLock } from "../key-lock.js";
import { getMimeType, isTextMimeType } from "../mime.js";
import { checkDirPath, checkPath, comparePaths } from "../paths.js";
import type {
  BackendCapabilities,
  BackendProtocol,
  DeleteResult,
  EditResult,
  FileDownloadResponse,
  FileUploadResponse,
  GlobResult,
  GrepResult,
  LsResult,
  ReadRawResult,
  ReadResult,
  WriteOptions,
  WriteResult,
} from "../protocol.js";
import { decodeUtf8Strict } from "../text.js";
import { type Driver, type DriverFile, type Fault, FaultError, fault, isFault } from "./driver.js";
import { failureOf, faultOfThrown, type Operation } from "./messages.js";
import { backoff } from "./retry.js";
import { DEFAULT_MAX_GREP_FILE_BYTES, fileInfoOf, globDriver, grepDriver } from "./search.js";
import { downloadThrough, uploadThrough } from "./transfer.js";

/** Tuning of the facade. */
export interface FacadeOptions {
  /** Uploads, downloads and grep reads in flight at once (default 8). */
  concurrency?: number;
  /** The walking grep skips larger files (default 10 MiB; a native grep has its own limit). */
  maxGrepFileBytes?: number;
  /** Compare-and-swap rounds of an edit before it answers `conflict` (default 10). */
  editAttempts?: number;
  /** Why the store is read-only, shown in `read_only` answers. */
  readOnlyReason?: string;
}

/** Runs a driver call, turning a throw (a bug, or an untranslated failure) into a fault. */
async function guarded<T>(call: () => Promise<T | Fault>): Promise<T | Fault> {
  try {
    return await call();
  } catch (error) {
    return error instanceof FaultError ? error.fault : faultOfThrown(error);
  }
}

/** Content of a stored file as readRaw shows it: text for a text MIME type when valid UTF-8, else bytes. */
function rawContent(file: DriverFile, mimeType: string): string | Uint8Array {
  if (typeof file.content === "string" || !isTextMimeType(mimeType)) return file.content;
  return decodeUtf8Strict(file.content) ?? file.content;
}

/** The backend contract over `driver`. Subclass it to keep a backend's class, options and extras. */
export class DriverBackend<D extends Driver = Driver> implements BackendProtocol {
  readonly capabilities: BackendCapabilities;
  /** The store this backend works on. */
  protected readonly driver: D;
  private readonly pathLocks = new KeyedLock();
  private readonly transferConcurrency: number;
  private readonly walkGrepMaxBytes: number;
  private readonly casEditAttempts: number;
  private readonly readOnlyWhy: string | undefined;

  constructor(driver: D, options: FacadeOptions = {}) {
    this.driver = driver;
    const caps = driver.capabilities;
    this.capabilities = {
      execute: typeof driver.execute === "function",
      nativeGrep: caps.nativeGrep ?? typeof driver.grep === "function",
      conditionalWrites: caps.conditionalWrites,
      realDirectories: caps.realDirectories,
      readOnly: caps.readOnly,
    };
    this.transferConcurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
    this.walkGrepMaxBytes = options.maxGrepFileBytes ?? DEFAULT_MAX_GREP_FILE_BYTES;
    this.casEditAttempts = Math.max(1, Math.floor(options.editAttempts ?? 10));
    this.readOnlyWhy = options.readOnlyReason;
  }

  /**
   * The driver under a backend built on this facade (the router calls members' drivers directly),
   * or undefined for any other backend.
   */
  static driverOf(backend: unknown): Driver | undefined {
    return backend instanceof DriverBackend ? backend.driver : undefined;
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(this.dirArgument(path));
    if (!dir.ok) return failure(dir.code, dir.error);
    const listed = await guarded(() => this.driver.list(dir.path, {}));
    if (isFault(listed)) return failureOf("ls", dir.path, listed);
    return { files: listed.map(fileInfoOf).sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const checked = checkPath(this.fileArgument(filePath));
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const got = await guarded(() => this.driver.read(path, { window: { offset, limit } }));
    if (isFault(got)) return failureOf("read", path, got);
    const mimeType = got.mimeType ?? getMimeType(path);
    if ("window" in got) return { ...got.window, mimeType, etag: got.etag };
    return readResultOf(got.content, mimeType, got.etag, offset, limit);
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const checked = checkPath(this.fileArgument(filePath));
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const got = await guarded(() => this.driver.read(path, {}));
    if (isFault(got)) return failureOf("read", path, got);
    if ("window" in got) return failureOf("read", path, fault("backend_unavailable", { detail: "no whole file" }));
    const mimeType = got.mimeType ?? getMimeType(path);
    const modified = got.modifiedAt ?? "";
    return {
      data: {
        content: rawContent(got, mimeType),
        mimeType,
        created_at: got.createdAt ?? modified,
        modified_at: modified,
      },
      etag: got.etag,
    };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(this.fileArgument(filePath));
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    // Text stays a string (made well-formed, as its UTF-8 would make it); a binary path takes base64.
    const stored = isTextMimeType(getMimeType(path)) ? content.toWellFormed() : decodeBase64Content(content);
    if (stored === null) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    const refused = this.readOnlyFault(path);
    if (refused) return failureOf("write", path, refused);
    const written = await this.serialised([path], () => this.writeChecked(path, stored, options));
    return isFault(written) ? failureOf("write", path, written) : { path, etag: written.etag };
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const checked = checkPath(this.fileArgument(filePath));
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof oldString !== "string" || typeof newString !== "string") {
      return failure("invalid_argument", `old_string and new_string for '${path}' must be strings`);
    }
    const refused = this.readOnlyFault(path);
    if (refused) return failureOf("edit", path, refused);
    const signal = options?.signal;
    const outcome = await this.serialised([path], async (): Promise<{ result: EditResult } | Fault> => {
      for (let attempt = 1; attempt <= this.casEditAttempts; attempt++) {
        if (attempt > 1) await backoff(attempt - 1, 5, 200, signal);
        if (signal?.aborted) return fault("aborted");
        const got = await this.driver.read(path, { signal, toRewrite: true });
        if (isFault(got)) return got;
        if ("window" in got) return fault("backend_unavailable", { detail: "no whole file" });
        const base = { etag: got.etag, content: got.content, mimeType: got.mimeType ?? getMimeType(path) };
        const plan = planEdit(path, base, oldString, newString, replaceAll, options);
        if ("error" in plan) return { result: plan };
        if ("done" in plan) return { result: plan.done };
        const ifMatch = this.driver.capabilities.conditionalWrites ? { ifMatch: got.etag } : {};
        const written = await this.driver.write(path, plan.content, { signal, ...ifMatch });
        if (!isFault(written)) return { result: { path, occurrences: plan.occurrences, etag: written.etag } };
        // Somebody else's change landed in between: plan again on it, unless the caller pinned a version.
        if (written.fault !== "conflict" || options?.ifMatch !== undefined) return written;
      }
      return fault("conflict", { reason: "contended" });
    });
    return isFault(outcome) ? failureOf("edit", path, outcome) : outcome.result;
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, this.dirArgument(path), glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { query } = parsed;
    const found = await guarded(() =>
      grepDriver(this.driver, query, { concurrency: this.transferConcurrency, maxFileBytes: this.walkGrepMaxBytes }),
    );
    return isFault(found) ? failureOf("grep", query.dir, found) : found;
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, this.dirArgument(path));
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { query } = parsed;
    const found = await guarded(() => globDriver(this.driver, query));
    return isFault(found) ? failureOf("glob", query.dir, found) : found;
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(this.fileArgument(filePath));
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const refused = this.readOnlyFault(path);
    if (refused) return failureOf("delete", path, refused);
    const removed = await this.serialised([path], () => this.driver.remove(path, {}), true);
    return isFault(removed) ? failureOf("delete", path, removed) : { path };
  }

  uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return uploadThrough(this.driver, files, {
      concurrency: this.transferConcurrency,
      readOnly: (path) => this.readOnlyFault(path),
      guard: (paths, call) => this.serialised(paths, call),
      argument: (raw) => this.fileArgument(raw),
    });
  }

  downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return downloadThrough(this.driver, paths, {
      concurrency: this.transferConcurrency,
      guard: (_paths, call) => guarded(call),
      argument: (raw) => this.fileArgument(raw),
    });
  }

  /**
   * A caller's file path as the contract validates it. The identity; a backend whose paths may be
   * relative to something (LocalBackend outside virtual mode) maps them here, before validation.
   */
  protected fileArgument(raw: string): string {
    return raw;
  }

  /** A caller's directory argument (possibly empty) as the contract validates it; see {@link fileArgument}. */
  protected dirArgument<T extends string | null | undefined>(raw: T): T | string {
    return raw;
  }

  /** The `read_only` fault when the store refuses every mutation of `path`, else null. */
  private readOnlyFault(path: string): Fault | null {
    if (this.driver.capabilities.readOnly) {
      return fault("read_only", { detail: this.readOnlyWhy ?? "the backend is read-only" });
    }
    return this.driver.refuses?.(path) ?? null;
  }

  /**
   * Runs a mutation of `paths` once every earlier mutation of them (in this process) is done; with
   * `recursive`, also of everything below them. Throws become faults.
   */
  private async serialised<T>(paths: string[], call: () => Promise<T | Fault>, recursive = false): Promise<T | Fault> {
    const lockKey = this.driver.lockKey?.bind(this.driver);
    const keys = lockKey ? await guarded(() => Promise.all(paths.map((p) => lockKey(p)))) : paths;
    if (isFault(keys)) return keys;
    const prefixes = recursive ? keys.map((k) => (k.endsWith("/") ? k : `${k}/`)) : [];
    return this.pathLocks.runScoped({ keys, prefixes }, () => guarded(call));
  }

  /** Stores content after the preconditions a store without conditional writes cannot check itself. */
  private async writeChecked(path: string, content: string | Uint8Array, options?: WriteOptions) {
    const signal = options?.signal;
    if (signal?.aborted) return fault("aborted");
    const { ifMatch, ifNoneMatch } = options ?? {};
    if ((ifMatch !== undefined || ifNoneMatch !== undefined) && !this.driver.capabilities.conditionalWrites) {
      const stat = await this.driver.stat(path, { signal });
      if (isFault(stat)) return stat;
      if (stat.kind === "file" && checkPreconditions(path, stat.etag ?? "", options))
        return fault("conflict", { reason: ifNoneMatch === "*" ? "exists" : "changed" });
      if (stat.kind === "none" && writeConflict(path, options)) return fault("conflict", { reason: "missing" });
    }
    const call = { signal, ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch ? { ifNoneMatch } : {}) };
    return this.driver.write(path, content, call);
  }
}

/** The backend contract over `driver`: `defineBackend(myDriver)` is a backend to hand to an agent. */
export function defineBackend<D extends Driver>(driver: D, options?: FacadeOptions): DriverBackend<D> {
  return new DriverBackend(driver, options);
}

export type { Operation };
