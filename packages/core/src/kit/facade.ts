/**
 * {@link DriverBackend}: the whole backend contract, written once, over a {@link Driver}. It
 * validates every path and pattern before the driver sees it, refuses mutations of a read-only
 * store, serialises the mutations of each path within this process, turns edits into read +
 * plan + conditional write with a bounded retry, batches transfers, and writes every error
 * sentence (from the driver's structured faults) with the caller's canonical path.
 */
import { planEdit, readResultOf } from "../backend-helpers.js";
import { failure } from "../errors.js";
import { decodeBase64Content } from "../file-data.js";
import { parseGlobArgs } from "../glob.js";
import { type GrepLimits, parseGrepArgs } from "../grep.js";
import type {
  ChangesResult,
  HistoryProtocol,
  HistoryResult,
  RestoreSnapshotOptions,
  RestoreSnapshotResult,
  SnapshotResult,
} from "../history/history-types.js";
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
  MaybePromise,
  ReadRawResult,
  ReadResult,
  WriteOptions,
  WriteResult,
} from "../protocol.js";
import { chain, faultOf, guarded, prefixesOf, rawContent, runHeld, writeChecked } from "./calls.js";
import { type Driver, type Fault, fault, isFault, isPromiseLike, type WriteCall } from "./driver.js";
import { facadeLimits } from "./facade-limits.js";
import { HistoryCalls } from "./history-calls.js";
import { failureOf, type Operation } from "./messages.js";
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
  /**
   * Largest file, in UTF-8 bytes, an edit may produce; a larger result answers `too_large` and
   * changes nothing (default: the store's read limit, `capabilities.limits.maxFileBytes`, when it
   * is smaller than {@link MAX_EDIT_FILE_BYTES}), so that an edit never makes a file it cannot read back.
   */
  maxEditFileBytes?: number;
  /**
   * Most matching lines a grep answers when `maxCount` allows more; past it grep answers
   * `too_large` (default: the store's, else 1,000,000).
   */
  maxGrepMatches?: number;
  /**
   * Most characters of matching lines' text a grep answers; past it grep answers `too_large`
   * (default: the store's, else 256 Mi).
   */
  maxGrepTextLength?: number;
  /** Why the store is read-only, shown in `read_only` answers. */
  readOnlyReason?: string;
}

/** The arguments of one edit, as validated. */
interface EditCall {
  path: string;
  oldString: string;
  newString: string;
  replaceAll: boolean;
  options: WriteOptions | undefined;
}

/** The backend contract over `driver`. Subclass it to keep a backend's class, options and extras. */
export class DriverBackend<D extends Driver = Driver> implements BackendProtocol, HistoryProtocol {
  readonly capabilities: BackendCapabilities;
  /** The store this backend works on. */
  protected readonly driver: D;
  private readonly pathLocks = new KeyedLock();
  private readonly transferConcurrency: number;
  private readonly walkGrepMaxBytes: number;
  private readonly casEditAttempts: number;
  private readonly editMaxBytes: number;
  private readonly grepLimits: GrepLimits;
  private readonly readOnlyWhy: string | undefined;
  private readonly historyCalls: HistoryCalls;

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
    const limits = facadeLimits(options, caps.limits);
    this.editMaxBytes = limits.editMaxBytes;
    this.grepLimits = limits.grepLimits;
    this.readOnlyWhy = options.readOnlyReason;
    this.historyCalls = new HistoryCalls({
      driver,
      argument: (raw) => this.fileArgument(raw),
      readOnly: (path) => this.readOnlyFault(path),
      guard: (paths, call) => this.serialised(paths, call),
    });
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
    let got: Awaited<ReturnType<Driver["read"]>>;
    try {
      // Not through guarded(), and no wait for a driver that answers at once: this is the hot path.
      const pending = this.driver.read(path, { window: { offset, limit } });
      got = isPromiseLike(pending) ? await pending : pending;
    } catch (error) {
      got = faultOf(error);
    }
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
    const pending = this.serialised([path], () => writeChecked(this.driver, path, stored, options));
    const written = isPromiseLike(pending) ? await pending : pending;
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
    const edit: EditCall = { path, oldString, newString, replaceAll, options };
    const pending = this.serialised([path], () => this.editAttempt(edit, 1));
    const outcome = isPromiseLike(pending) ? await pending : pending;
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
    const query = { ...parsed.query, limits: this.grepLimits };
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

  /** Versions of a file, newest first (`unsupported` when the store keeps no history). */
  history(path: string, options?: { limit?: number }): Promise<HistoryResult> {
    return this.historyCalls.history(path, options);
  }

  /** The exact content of one version, in `readRaw`'s shape. */
  readVersion(path: string, version: string): Promise<ReadRawResult> {
    return this.historyCalls.readVersion(path, version);
  }

  /** Writes a version's content back as a new version (op `restore`), honouring `ifMatch`: the undo. */
  restore(path: string, version: string, options?: WriteOptions): Promise<WriteResult> {
    return this.historyCalls.restore(path, version, options);
  }

  /** An id of the whole store as of now, for `changesSince` and `restoreSnapshot`. */
  snapshot(): Promise<SnapshotResult> {
    return this.historyCalls.snapshot();
  }

  /** Files added, modified and deleted since `snapshot`, sorted by path. */
  changesSince(snapshot: string): Promise<ChangesResult> {
    return this.historyCalls.changesSince(snapshot);
  }

  /** Brings every file back to its state at `snapshot` (with `dryRun`, only says what would change). */
  restoreSnapshot(snapshot: string, options?: RestoreSnapshotOptions): Promise<RestoreSnapshotResult> {
    return this.historyCalls.restoreSnapshot(snapshot, options);
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
  private serialised<T>(
    paths: string[],
    call: () => MaybePromise<T | Fault>,
    recursive = false,
  ): MaybePromise<T | Fault> {
    if (this.driver.lockKey) return this.serialisedByKey(paths, call, recursive);
    const prefixes = recursive ? prefixesOf(paths) : undefined;
    // With nobody holding anything there is nothing to wait for, and the place in line is taken
    // only if the call is still pending when it returns (nothing else can start before that). A
    // driver that answers at once (in memory) made its change atomically and holds nothing, so an
    // uncontended write in memory costs no more than the store's own work.
    const held = this.pathLocks.idle ? null : this.pathLocks.acquire(paths, prefixes);
    if (held?.ready) return runHeld(held, call);
    let answer: MaybePromise<T | Fault>;
    try {
      answer = call();
    } catch (error) {
      held?.release();
      return faultOf(error);
    }
    if (isPromiseLike(answer)) return runHeld(held ?? this.pathLocks.acquire(paths, prefixes), () => answer);
    held?.release();
    return answer;
  }

  /** {@link serialised} for a driver whose lock keys are not the paths themselves. */
  private async serialisedByKey<T>(
    paths: string[],
    call: () => MaybePromise<T | Fault>,
    recursive: boolean,
  ): Promise<T | Fault> {
    const lockKey = this.driver.lockKey?.bind(this.driver);
    const keys = await guarded(() => Promise.all(paths.map((p) => lockKey?.(p) ?? p)));
    if (isFault(keys)) return keys;
    return this.pathLocks.runScoped({ keys, prefixes: recursive ? prefixesOf(keys) : undefined }, () => guarded(call));
  }

  /**
   * One read + plan + conditional write of an edit; on a conflict (somebody else's change landed in
   * between), plans again on the new content after a short backoff, up to the attempt limit. With a
   * driver that answers at once, the whole edit completes without waiting (and so atomically).
   */
  private editAttempt(edit: EditCall, attempt: number): MaybePromise<{ result: EditResult } | Fault> {
    const { path, options } = edit;
    const signal = options?.signal;
    if (signal?.aborted) return fault("aborted");
    return chain(this.driver.read(path, { signal, toRewrite: true }), (got) => {
      if (isFault(got)) return got;
      if ("window" in got) return fault("backend_unavailable", { detail: "no whole file" });
      const base = { etag: got.etag, content: got.content, mimeType: got.mimeType ?? getMimeType(path) };
      const plan = planEdit(path, base, edit.oldString, edit.newString, edit.replaceAll, options, this.editMaxBytes);
      if ("error" in plan) return { result: plan };
      if ("done" in plan) return { result: plan.done };
      const call: WriteCall = this.driver.capabilities.conditionalWrites
        ? { signal, ifMatch: got.etag, op: "edit" }
        : { signal, op: "edit" };
      return chain(this.driver.write(path, plan.content, call), (written) => {
        if (!isFault(written)) return { result: { path, occurrences: plan.occurrences, etag: written.etag } };
        // A pinned version (the caller's ifMatch) is not re-planned; nor is anything but a conflict.
        if (written.fault !== "conflict" || options?.ifMatch !== undefined) return written;
        if (attempt >= this.casEditAttempts) return fault("conflict", { reason: "contended" });
        return backoff(attempt, 5, 200, signal).then(() => this.editAttempt(edit, attempt + 1));
      });
    });
  }
}

/** The backend contract over `driver`: `defineBackend(myDriver)` is a backend to hand to an agent. */
export function defineBackend<D extends Driver>(driver: D, options?: FacadeOptions): DriverBackend<D> {
  return new DriverBackend(driver, options);
}

export type { Operation };
