/**
 * The driver interface: what a store must do so that {@link DriverBackend} can offer the whole
 * backend contract over it. A driver works on paths the facade has already validated and made
 * canonical, answers with data or a {@link Fault} (a code and facts, never a sentence), and leaves
 * validation, read windows, edits, batching, locking and every error sentence to the facade.
 */
import type { GlobQuery } from "../glob.js";
import type { GrepQuery } from "../grep.js";
import type { DriverHistory, VersionOp } from "../history/history-types.js";
import type { ErrorCode, ExecuteOptions, ExecuteResponse, GrepMatch, MaybePromise, ReadResult } from "../protocol.js";

/**
 * Why an operation failed, as facts: the code, the path it concerns when that is not the path of
 * the call (the file in the way of a write, say), a reason that picks the sentence, and a short
 * detail safe to show (`HTTP 503 SlowDown`, `at most 1024 bytes`), never file contents or secrets.
 */
export interface Fault {
  fault: ErrorCode;
  path?: string;
  reason?: FaultReason;
  detail?: string;
  cause?: unknown;
}

/** What picks the sentence of a fault beyond its code. */
export type FaultReason =
  /** conflict: `ifNoneMatch: "*"` and the file exists. */
  | "exists"
  /** conflict: `ifMatch` and the file does not exist. */
  | "missing"
  /** conflict: the file's etag is not the one expected. */
  | "changed"
  /** conflict: the file kept changing while an edit retried. */
  | "contended"
  /** not_a_directory: `path` is a file where a directory of the target would be. */
  | "file_in_way"
  /** invalid_path: too long for the store. */
  | "too_long"
  /** file_not_found: the file has no version of that id (`detail`: the id). */
  | "no_version"
  /** file_not_found: that version (`detail`) is a deletion, it has no content. */
  | "deleted_version"
  /** invalid_argument: a snapshot id this store did not make. */
  | "unknown_snapshot"
  /** unsupported: retention dropped the versions a snapshot needs (`path`: a file concerned). */
  | "history_pruned"
  /** unsupported: the store keeps no history (`detail`: how to turn it on, when it can be). */
  | "no_history"
  /** too_large: a quota would be exceeded (`detail`: which limit and the usage, numbers only). */
  | "quota"
  /** too_large: a grep's answer would pass its bounds (`detail`: which, numbers only). */
  | "answer";

/** Builds a {@link Fault}. */
export function fault(code: ErrorCode, facts: Omit<Fault, "fault"> = {}): Fault {
  return { fault: code, ...facts };
}

/** True for a {@link Fault}. */
export function isFault(value: unknown): value is Fault {
  return typeof value === "object" && value !== null && typeof (value as Fault).fault === "string";
}

/** True when `value` is a promise (or any thenable) rather than an answer. */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** A fault thrown out of an async iterable (a walk or a native glob). */
export class FaultError extends Error {
  readonly fault: Fault;
  constructor(fault: Fault) {
    super(`deepfs driver fault: ${fault.fault}`);
    this.name = "FaultError";
    this.fault = fault;
  }
}

/** What a store can do; read by the facade, the router and the conformance suite. */
export interface DriverCapabilities {
  /** `write` honours `ifMatch` / `ifNoneMatch` atomically in the store (across processes too). */
  conditionalWrites: boolean;
  /** Has real (possibly empty) directories, reported by `list`. */
  realDirectories: boolean;
  /** Every mutation answers `read_only` (the facade refuses them before calling the driver). */
  readOnly: boolean;
  /**
   * Searches inside the store (SQL, ripgrep, in-container grep) rather than reading content over
   * the wire; defaults to whether the driver has `grep`.
   */
  nativeGrep?: boolean;
  /** Sizes the store bounds its answers by; each missing one has the facade's default. */
  limits?: StoreLimits;
}

/**
 * Sizes a store bounds its answers by. They travel with the driver's capabilities, so a layer over
 * the store (permissions, quotas, a router) keeps them.
 */
export interface StoreLimits {
  /**
   * Largest file `read` answers (larger: `too_large`); an edit never makes a file larger than this
   * (default: no read limit, and edits up to `MAX_EDIT_FILE_BYTES`).
   */
  maxFileBytes?: number;
  /** Most matching lines a grep answers (default 1,000,000; see `GrepLimits`). */
  maxGrepMatches?: number;
  /** Most characters of matching lines a grep answers (default 256 Mi; see `GrepLimits`). */
  maxGrepTextLength?: number;
}

/**
 * The tightest of several stores' limits (each bound the smallest any of them has): the limits of
 * a layer or router over all of them.
 */
export function tightestLimits(all: ReadonlyArray<StoreLimits | undefined>): StoreLimits | undefined {
  const out: StoreLimits = {};
  for (const limits of all) {
    if (!limits) continue;
    for (const key of ["maxFileBytes", "maxGrepMatches", "maxGrepTextLength"] as const) {
      const value = limits[key];
      if (value !== undefined) out[key] = Math.min(out[key] ?? value, value);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The grep bounds among `options`, as store limits (undefined when none is given). */
export function grepLimitsOf(options: {
  maxGrepMatches?: number | undefined;
  maxGrepTextLength?: number | undefined;
}): StoreLimits | undefined {
  const limits: StoreLimits = {};
  if (options.maxGrepMatches !== undefined) limits.maxGrepMatches = options.maxGrepMatches;
  if (options.maxGrepTextLength !== undefined) limits.maxGrepTextLength = options.maxGrepTextLength;
  return Object.keys(limits).length > 0 ? limits : undefined;
}

/** What is at a path. */
export type DriverStat =
  | { kind: "file"; size: number; etag?: string; modifiedAt?: string; createdAt?: string }
  | { kind: "directory" }
  | { kind: "none" };

/** One entry of a listing: a file, or a directory (its path without a trailing `/`). */
export interface DriverEntry {
  path: string;
  kind: "file" | "directory";
  /** Bytes (files only). */
  size?: number;
  /** ISO 8601 time of the last change, when known. */
  modifiedAt?: string;
}

/** A whole file as stored. */
export interface DriverFile {
  /** Text as a string (only for a text MIME type, well-formed), or the exact bytes. */
  content: string | Uint8Array;
  etag: string;
  /** Defaults to the MIME type of the path's extension. */
  mimeType?: string;
  createdAt?: string;
  modifiedAt?: string;
}

/** A window of lines a store read natively (S3 streams large texts and keeps only these). */
export interface DriverWindow {
  window: Pick<ReadResult, "content" | "totalLines" | "startLine" | "endLine" | "nextOffset">;
  etag: string;
  mimeType?: string;
}

/** Cancellation of one call. */
export interface CallContext {
  signal?: AbortSignal;
}

export interface ReadCall extends CallContext {
  /** Set by `read`: the store may answer a {@link DriverWindow} of these lines instead of the file. */
  window?: { offset?: number; limit?: number };
  /**
   * Set by downloads, which move bytes rather than model context: the whole file however large.
   * Otherwise a store may answer `too_large` for files over its read limit.
   */
  whole?: boolean;
  /**
   * Set by `edit`: the content will be written back to this path. A store that would refuse that
   * write (a symbolic link at the last component, say) may refuse the read with the same fault.
   */
  toRewrite?: boolean;
}

export interface WriteCall extends CallContext {
  ifMatch?: string;
  ifNoneMatch?: "*";
  /**
   * The operation this write is (default `write`), for a store that keeps history: it records the
   * version with this op in the same step as the write.
   */
  op?: VersionOp;
}

/** One file of an upload batch. */
export interface BatchFile {
  path: string;
  bytes: Uint8Array;
}

/**
 * A store. Every path is canonical (`/a/b`, no trailing `/` except the root) and validated; a
 * method answers a {@link Fault} for what the store refused or could not do, and throws only for
 * a bug (the facade turns a throw into `backend_unavailable`). Methods may be called concurrently;
 * the facade serialises the mutations of one path within this process. `stat`, `read`, `write`,
 * `list` and `remove` may answer synchronously (a store in memory): the facade then answers
 * without waiting for a turn of the event loop, which is most of the cost of a write in memory.
 */
export interface Driver {
  readonly capabilities: DriverCapabilities;

  /** What is at `path`. */
  stat(path: string, call: CallContext): MaybePromise<DriverStat | Fault>;

  /**
   * A whole file (or, when `call.window` is set, optionally a native window of its lines).
   * Faults: `file_not_found`, `is_directory` (a directory is there).
   */
  read(path: string, call: ReadCall): MaybePromise<DriverFile | DriverWindow | Fault>;

  /**
   * Stores a file, creating missing parent directories, keeping the creation time of a file that
   * was there. Text comes as a string for a text MIME type, anything else as bytes. Faults:
   * `is_directory` (a directory is there), `not_a_directory` with reason `file_in_way` (a file is
   * where a parent directory would be), `conflict` when `ifMatch` / `ifNoneMatch` fail (enforced
   * atomically when `capabilities.conditionalWrites`; otherwise the facade checks them first).
   */
  write(path: string, content: string | Uint8Array, call: WriteCall): MaybePromise<{ etag: string } | Fault>;

  /**
   * Several uploads at once (each a version with op `upload` in a store that keeps history), for stores where that is cheaper (one transaction, one listing).
   * Answers per file in order. Without it the facade writes each file.
   */
  writeBatch?(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>>;

  /**
   * Several whole files at once, for downloads, where that is cheaper (one query): answers per path
   * in order, as `read` with `whole` would. Without it the facade reads each file.
   */
  readBatch?(paths: string[], call: CallContext): Promise<Array<DriverFile | Fault>>;

  /** The direct children of directory `dir` (an empty list, or `file_not_found`, when there is none). */
  list(dir: string, call: CallContext): MaybePromise<DriverEntry[] | Fault>;

  /** Every file below `dir`, in any order; a fault is thrown as {@link FaultError}. */
  walk(dir: string, call: CallContext): AsyncIterable<DriverEntry>;

  /**
   * Deletes a file, or a directory with everything below it (each file a tombstone version in a
   * store that keeps history). Fault: `file_not_found`.
   */
  remove(path: string, call: CallContext): MaybePromise<{ path: string } | Fault>;

  /**
   * Native search: matches of `query.pattern` in the files `query.accepts`, sorted by path and
   * line, at most `query.maxCount + 1` of them (so the facade can tell truncation).
   */
  grep?(query: GrepQuery, call: CallContext): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault>;

  /**
   * Native candidates for a glob: files below `query.root` that may match (the facade applies
   * `query.matches` and sorts). Without it the facade walks `query.root`.
   */
  glob?(query: GlobQuery, call: CallContext): AsyncIterable<DriverEntry>;

  /**
   * The key the facade serialises mutations of `path` under (default: the path). A store where two
   * paths may name one file (through a link to a directory) answers one key per file, so that
   * edits through both never interleave; for a directory, keys of everything below it must start
   * with its key and `/`.
   */
  lockKey?(path: string): Promise<string> | string;

  /**
   * A mutation of `path` the store refuses whatever its arguments (a read-only mount of a router),
   * or null. The facade asks before it reads or plans anything, so an edit of a read-only file
   * answers `read_only`, not `string_not_found`.
   */
  refuses?(path: string): Fault | null;

  /**
   * Version history, when the store keeps it (see {@link DriverHistory}); without it the facade's
   * history methods answer `unsupported`.
   */
  readonly history?: DriverHistory;

  /** Runs a shell command (sandboxes only). */
  execute?(command: string, options: ExecuteOptions): Promise<ExecuteResponse>;
}
