/**
 * Version history of files (issue #22, the deepfs extension; deepagents ignores it): the result
 * shapes of the facade's history methods, and {@link DriverHistory}, the optional primitive a store
 * implements to keep versions natively and atomically with each change.
 */
import type { CallContext, DriverFile, Fault, WriteCall } from "../kit/driver.js";
import type { ErrorFields, MaybePromise, ReadRawResult, WriteOptions, WriteResult } from "../protocol.js";

/** The mutation that made a version. */
export type VersionOp = "write" | "edit" | "upload" | "delete" | "restore";

/** How a version is read: `whole` for the content however large (a restore writes it back). */
export interface VersionReadCall extends CallContext {
  whole?: boolean;
}

/** One version of a file; a delete is a version too (a tombstone: `etag` "" and `size` 0). */
export interface FileVersion {
  /** Opaque id, unique within the store; pass it to `readVersion` and `restore`. */
  version: string;
  /** The file's etag as of this version ("" for a tombstone). */
  etag: string;
  /** Bytes (0 for a tombstone). */
  size: number;
  /** ISO 8601 time of the change. */
  modified_at: string;
  op: VersionOp;
}

/** A file's content as of a version, and that version's id when known. */
export type VersionedFile = DriverFile & { version?: string };

/** How many versions a store keeps per file. The newest version of a file is always kept. */
export interface HistoryRetention {
  /** At most this many versions per file (oldest dropped first). */
  maxVersions?: number;
  /** Versions older than this are dropped. */
  maxAgeMs?: number;
}

/** The `history` option of a backend: off by default. */
export type HistoryOption = boolean | HistoryRetention;

export interface HistoryResult extends ErrorFields {
  /** Newest first. */
  versions?: FileVersion[];
}

export interface SnapshotResult extends ErrorFields {
  /** Opaque id of the whole store (its root or namespace) as of now. */
  snapshot?: string;
}

export type SnapshotChangeKind = "added" | "modified" | "deleted";

/** A file that differs between a snapshot and now. */
export interface SnapshotChange {
  path: string;
  change: SnapshotChangeKind;
}

export interface ChangesResult extends ErrorFields {
  /** Sorted by path. */
  changes?: SnapshotChange[];
}

export interface RestoreSnapshotOptions {
  /** Report what would change, change nothing. */
  dryRun?: boolean;
}

export interface RestoreSnapshotResult extends ErrorFields {
  /** What was changed back (with `dryRun`: what would be), sorted by path. */
  changes?: SnapshotChange[];
  dryRun?: boolean;
  /** Files that could not be restored (the first also sets `error` and `code`). */
  failed?: Array<{ path: string; error: string; code: NonNullable<ErrorFields["code"]> }>;
}

/** The history methods of a backend (DriverBackend, StateBackend and CompositeBackend have them). */
export interface HistoryProtocol {
  history(path: string, options?: { limit?: number }): Promise<HistoryResult>;
  readVersion(path: string, version: string): Promise<ReadRawResult>;
  restore(path: string, version: string, options?: WriteOptions): Promise<WriteResult>;
  snapshot(): Promise<SnapshotResult>;
  changesSince(snapshot: string): Promise<ChangesResult>;
  restoreSnapshot(snapshot: string, options?: RestoreSnapshotOptions): Promise<RestoreSnapshotResult>;
}

/**
 * A store's version history, as a driver primitive (`Driver.history`). Recording is not a method
 * here: `Driver.write` receives the operation in `WriteCall.op` (an upload batch is `upload`,
 * `remove` is `delete`), so a store records the version in the same step as the change (the same
 * transaction, the same synchronous call) and no acknowledged change is ever without its version.
 * The facade validates arguments, holds the path locks and writes every sentence; a store answers
 * faults: `file_not_found` with reason `no_version` for an unknown version, `deleted_version` for
 * the content of a tombstone, `invalid_argument` with reason `unknown_snapshot` for a snapshot id
 * it did not make, and `unsupported` with reason `history_pruned` when retention dropped what a
 * snapshot needs.
 */
export interface DriverHistory {
  /** Versions of `path`, newest first, at most `limit` (an empty list for a path never written). */
  versions(path: string, limit: number | undefined, call: CallContext): MaybePromise<FileVersion[] | Fault>;
  /**
   * The content of one version of `path`. A store with a read limit may answer `too_large` for a
   * larger version, unless `call.whole` is set (the facade's restore, which writes the bytes back
   * rather than answering them).
   */
  readVersion(path: string, version: string, call: VersionReadCall): MaybePromise<DriverFile | Fault>;
  /**
   * Writes the content of `version` back as a new version (op `restore`) in one step, honouring
   * `call.ifMatch`, for a store that does it natively (or a member that has its own `restore`).
   * Without it the facade reads the version and writes it with `op: "restore"`.
   */
  restore?(path: string, version: string, call: WriteCall): MaybePromise<{ etag: string } | Fault>;
  /** An id of the whole store as of now. */
  snapshot(call: CallContext): MaybePromise<string | Fault>;
  /** Every file that differs between `snapshot` and now, in any order. */
  changesSince(snapshot: string, call: CallContext): MaybePromise<SnapshotChange[] | Fault>;
  /**
   * The content of `path` as of `snapshot` (null: there was no file), with the id of that version
   * when the store has one (then a restore of the snapshot restores that version by `restore`).
   * With `call.versionOnly` (asked only of a history with `restore`), a store may answer the id
   * alone ({@link VersionRef}) instead of fetching content that `restore` would copy anyway.
   */
  readAt(snapshot: string, path: string, call: ReadAtCall): MaybePromise<VersionedFile | VersionRef | null | Fault>;
}

/** The options of {@link DriverHistory.readAt}. */
export interface ReadAtCall extends CallContext {
  /**
   * Set by a snapshot's restore when the history has `restore`: the version will be restored by
   * its id, so a store whose own `restore` takes it may answer {@link VersionRef} without the content.
   */
  versionOnly?: boolean;
}

/** A version of a file named by its id alone: {@link DriverHistory.readAt} with `versionOnly`. */
export interface VersionRef {
  version: string;
  content?: undefined;
}

/**
 * Where a backend not built on the facade may expose its store's {@link DriverHistory} (a method
 * answering it, or undefined when it has none now), so that a router can restore snapshots through
 * it: StateBackend does, outside a graph run.
 */
export const DRIVER_HISTORY: unique symbol = Symbol.for("deepfs.driverHistory");
