/**
 * The deepfs backend contract.
 *
 * These types are structurally compatible with `BackendProtocolV2` and `SandboxBackendProtocolV2`
 * of the npm package `deepagents` (1.14.x), so a deepfs backend can be passed to `createDeepAgent`
 * as is. deepfs adds typed error `code`s, etags and preconditions on writes.
 */

/** A value or a promise of it. deepfs backends always return promises. */
export type MaybePromise<T> = T | Promise<T>;

/** Every code a backend may return in a result's `code` field. */
export type ErrorCode =
  | "file_not_found"
  | "is_directory"
  | "not_a_directory"
  | "invalid_path"
  | "invalid_argument"
  | "permission_denied"
  | "read_only"
  | "string_not_found"
  | "multiple_occurrences"
  | "conflict"
  | "too_large"
  | "timeout"
  | "aborted"
  | "unsupported"
  | "backend_unavailable";

/** The four codes the reference uses in upload/download entries. */
export type FileOperationError = "file_not_found" | "permission_denied" | "is_directory" | "invalid_path";

/** Fields every result may carry on failure. */
export interface ErrorFields {
  /** A sentence an agent can act on; names the path, never credentials or file contents. */
  error?: string;
  /** Machine-readable reason, present whenever `error` is. */
  code?: ErrorCode;
}

/** One entry of a listing. Directory paths end with `/`. */
export interface FileInfo {
  path: string;
  is_dir?: boolean;
  /** Size in bytes (0 for directories). */
  size?: number;
  /** ISO 8601 time of the last modification ("" when unknown). */
  modified_at?: string;
}

/** One matching line of a grep. */
export interface GrepMatch {
  path: string;
  /** 1-based line number. */
  line: number;
  text: string;
}

/** Legacy file representation: content as an array of lines. */
export interface FileDataV1 {
  content: string[];
  created_at: string;
  modified_at: string;
}

/** File representation: text as a string, binary as bytes. */
export interface FileDataV2 {
  content: string | Uint8Array;
  mimeType: string;
  created_at: string;
  modified_at: string;
}

export type FileData = FileDataV1 | FileDataV2;

export interface LsResult extends ErrorFields {
  files?: FileInfo[];
}

export interface ReadResult extends ErrorFields {
  /** Raw lines of the window joined by `\n` (no line numbers), or bytes for a binary file. */
  content?: string | Uint8Array;
  mimeType?: string;
  totalLines?: number;
  /** 1-based number of the first returned line. */
  startLine?: number;
  /** 1-based number of the last returned line. */
  endLine?: number;
  /** Offset to pass for the next window; only present when more lines remain. */
  nextOffset?: number;
  /** Version of the content that was read, usable as `ifMatch`. */
  etag?: string;
  /**
   * True when the file has a text MIME type but its bytes are not valid UTF-8: `content` is then
   * their decoding with U+FFFD in place of each invalid sequence (so a non-empty file never reads
   * as empty), `edit` answers `invalid_argument`, grep skips the file, and `readRaw` /
   * `downloadFiles` still give the exact bytes. Absent for every other file.
   */
  invalidUtf8?: boolean;
}

export interface ReadRawResult extends ErrorFields {
  data?: FileData;
  etag?: string;
}

export interface GrepResult extends ErrorFields {
  matches?: GrepMatch[];
  /** True only when more matches existed than `maxCount`. */
  truncated?: boolean;
}

export interface GlobResult extends ErrorFields {
  files?: FileInfo[];
  truncated?: boolean;
}

export interface WriteResult extends ErrorFields {
  path?: string;
  etag?: string;
  /** Kept for deepagents compatibility; deepfs backends persist themselves and leave it unset. */
  filesUpdate?: Record<string, FileData> | null;
  metadata?: Record<string, unknown>;
}

export interface EditResult extends ErrorFields {
  path?: string;
  occurrences?: number;
  etag?: string;
  filesUpdate?: Record<string, FileData> | null;
  metadata?: Record<string, unknown>;
}

export interface DeleteResult extends ErrorFields {
  path?: string;
  /**
   * Set by the router on a failure after its delete had already cleared part of the target (the
   * target's own files or routes mounted below it): those paths, deleted for good. Deleting the same
   * path again deletes the rest.
   */
  cleared?: string[];
  filesUpdate?: Record<string, null> | null;
  metadata?: Record<string, unknown>;
}

export interface FileUploadResponse {
  path: string;
  /** The reference's coarse code (null on success). */
  error: FileOperationError | null;
  /** deepfs's precise code when `error` is set (e.g. `read_only`, `too_large`). */
  code?: ErrorCode;
  /** Human-readable reason when `error` is set. */
  message?: string;
}

export interface FileDownloadResponse {
  path: string;
  content: Uint8Array | null;
  error: FileOperationError | null;
  code?: ErrorCode;
  message?: string;
}

export interface ExecuteResponse {
  /** stdout and stderr combined in the order received. */
  output: string;
  exitCode: number | null;
  truncated: boolean;
}

/** Preconditions and cancellation for mutations (deepfs extension; deepagents ignores it). */
export interface WriteOptions {
  /** Only write if the current etag equals this value; otherwise `conflict`. */
  ifMatch?: string;
  /** `"*"`: only write if the file does not exist; otherwise `conflict`. */
  ifNoneMatch?: "*";
  signal?: AbortSignal;
}

export interface ExecuteOptions {
  /** Per-command timeout; on expiry the exit code is 124. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What a backend can do natively; read by the router and the conformance suite. */
export interface BackendCapabilities {
  /** Implements `execute`. */
  execute: boolean;
  /** Searches inside the store (SQL, ripgrep, in-container grep) rather than downloading content. */
  nativeGrep: boolean;
  /** Enforces `ifMatch` / `ifNoneMatch` atomically. */
  conditionalWrites: boolean;
  /** Has real (possibly empty) directories, reported by `ls`. */
  realDirectories: boolean;
  /** Every mutation answers `read_only`. */
  readOnly: boolean;
}

/** The file contract every deepfs backend implements. */
export interface BackendProtocol {
  readonly capabilities?: Partial<BackendCapabilities>;
  ls(path: string): MaybePromise<LsResult>;
  read(filePath: string, offset?: number, limit?: number): MaybePromise<ReadResult>;
  readRaw(filePath: string): MaybePromise<ReadRawResult>;
  write(filePath: string, content: string, options?: WriteOptions): MaybePromise<WriteResult>;
  edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll?: boolean,
    options?: WriteOptions,
  ): MaybePromise<EditResult>;
  grep(pattern: string, path?: string | null, glob?: string | null, maxCount?: number | null): MaybePromise<GrepResult>;
  glob(pattern: string, path?: string): MaybePromise<GlobResult>;
  delete(filePath: string): MaybePromise<DeleteResult>;
  uploadFiles(files: Array<[string, Uint8Array]>): MaybePromise<FileUploadResponse[]>;
  downloadFiles(paths: string[]): MaybePromise<FileDownloadResponse[]>;
}

/** A backend that can also run shell commands. */
export interface SandboxBackendProtocol extends BackendProtocol {
  readonly id: string;
  execute(command: string, options?: ExecuteOptions): MaybePromise<ExecuteResponse>;
}

/** True when `backend` implements `execute` and `id`. */
export function isSandboxBackend(backend: unknown): backend is SandboxBackendProtocol {
  return (
    typeof backend === "object" &&
    backend !== null &&
    typeof (backend as { execute?: unknown }).execute === "function" &&
    typeof (backend as { id?: unknown }).id === "string"
  );
}
