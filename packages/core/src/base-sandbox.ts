import { createHash } from "node:crypto";
import { checkPreconditions, planEdit, readResultOf, writeConflict } from "./backend-helpers.js";
import { failure, notFound } from "./errors.js";
import { bytesForWrite, contentFromBytes } from "./file-data.js";
import { parseGlobArgs } from "./glob.js";
import { grepTexts, parseGrepArgs } from "./grep.js";
import { isInternalTempPath } from "./internal-names.js";
import { KeyedLock } from "./key-lock.js";
import { getMimeType, isTextMimeType } from "./mime.js";
import { checkDirPath, checkPath, comparePaths, isWithin, parentDir } from "./paths.js";
import type {
  BackendCapabilities,
  DeleteResult,
  EditResult,
  ErrorCode,
  ExecuteOptions,
  ExecuteResponse,
  FileDownloadResponse,
  FileInfo,
  FileUploadResponse,
  GlobResult,
  GrepMatch,
  GrepResult,
  LsResult,
  MaybePromise,
  ReadRawResult,
  ReadResult,
  SandboxBackendProtocol,
  WriteOptions,
  WriteResult,
} from "./protocol.js";
import {
  deleteScript,
  fileCommand,
  fileTimesScript,
  grepCandidatesScript,
  inlineCommand,
  listFilesScript,
  lsScript,
  parseStatRecords,
  ScriptStatus,
  STATUS_MARKER,
  shellQuote,
  writeTargetScript,
} from "./sandbox/shell-scripts.js";
import { decodeUtf8Lossy, encodeUtf8 } from "./text.js";

export { shellQuote } from "./sandbox/shell-scripts.js";

type Failure = { error: string; code: ErrorCode };

/** Files grep downloads per `downloadFiles` call while collecting matches in path order. */
const GREP_DOWNLOAD_BATCH = 32;

/**
 * The base of a sandbox backend (E2B, Daytona, a VM, a container): a subclass implements `id`,
 * `execute`, `uploadFiles` and `downloadFiles`, and inherits every other method of the contract.
 *
 * Virtual paths are the sandbox's absolute paths. `read`, `edit` and a plain `write` only transfer
 * files; `ls`, `glob`, `grep`, `delete` and `readRaw` run one POSIX sh command each (GNU or busybox
 * `find`, `stat`, `grep`); `write` with `ifMatch`/`ifNoneMatch` (or after a failed upload) runs one
 * to inspect the target. Those commands go through {@link BaseSandbox.runCommand} (by default
 * `execute`, which a subclass may replace with something cheaper). Every argument is
 * single-quoted, and file contents never appear in a command line: they travel through `uploadFiles`/`downloadFiles`, byte for byte. Listings skip
 * `/proc`, `/sys` and `/dev`.
 *
 * Subclass obligations:
 * - `execute` runs `command` with `sh -c` (stdout and stderr combined, exit 124 on timeout, output
 *   capped with `truncated: true`). When a listing is cut, BaseSandbox re-runs it into a temporary
 *   file (`mktemp`), downloads it and removes it.
 * - `uploadFiles` writes each file's exact bytes, replacing an existing file and creating missing
 *   parent directories; `downloadFiles` returns exact bytes. Both keep input order and report
 *   failures per entry with the codes of the contract (`file_not_found`, `is_directory`,
 *   `permission_denied`, `invalid_path`), validating paths with `checkPath`.
 *
 * Etags are SHA-256 digests of the content, computed in Node. Every mutation of a path through one
 * instance (`write`, `edit`, `uploadFiles`, `delete`) is serialised inside this process: BaseSandbox
 * wraps the subclass's `uploadFiles` (a prototype method; not a class field) in a lock per path, so
 * an upload never lands between an edit's download and its upload, concurrent edits never lose a
 * change and `ifMatch`/`ifNoneMatch` hold; against writers in other processes (or commands run
 * with `execute`) atomicity is only as strong as the sandbox's own file replacement. `readRaw` reports
 * the birth time as `created_at` where `stat` knows it, else the epoch.
 */
export abstract class BaseSandbox implements SandboxBackendProtocol {
  readonly capabilities: BackendCapabilities = {
    execute: true,
    nativeGrep: true,
    conditionalWrites: true,
    realDirectories: true,
    readOnly: false,
  };

  /** Unique id of the sandbox. */
  abstract readonly id: string;

  /** Runs a shell command in the sandbox. */
  abstract execute(command: string, options?: ExecuteOptions): MaybePromise<ExecuteResponse>;

  /** Writes files into the sandbox, byte for byte, in input order. */
  abstract uploadFiles(files: Array<[string, Uint8Array]>): MaybePromise<FileUploadResponse[]>;

  /** Reads files from the sandbox, byte for byte, in input order. */
  abstract downloadFiles(paths: string[]): MaybePromise<FileDownloadResponse[]>;

  /**
   * True for a path the subclass keeps for itself: `ls`, `glob` and `grep` leave it out, before
   * `maxCount` applies. By default the internal temp names of {@link internalTempName} (the
   * temporary file of an upload in progress), which no user path can name.
   */
  protected isHiddenPath(path: string): boolean {
    return isInternalTempPath(path);
  }

  /** Serialises every mutation of a path through this instance (see the class comment). */
  private readonly pathLock = new KeyedLock();
  /** The subclass's own `uploadFiles`, without the lock, for `write` and `edit` that hold it already. */
  private readonly uploadUnlocked: (files: Array<[string, Uint8Array]>) => MaybePromise<FileUploadResponse[]>;

  constructor() {
    this.uploadUnlocked = this.lockUploads();
  }

  /** Replaces this instance's `uploadFiles` with one that holds the lock of every path it writes. */
  private lockUploads(): (files: Array<[string, Uint8Array]>) => MaybePromise<FileUploadResponse[]> {
    // A subclass that declares `uploadFiles` as a class field replaces the wrapper after this
    // constructor: its uploads stay unlocked, so the class comment asks for a method.
    if (typeof this.uploadFiles !== "function") return (files) => this.uploadFiles(files);
    const upload = this.uploadFiles.bind(this);
    this.uploadFiles = (files) => {
      // Invalid entries are answered by the subclass; they need no lock of their own.
      const keys = Array.isArray(files)
        ? files.map((file) => (Array.isArray(file) ? checkPath(file[0]) : null)).flatMap((c) => (c?.ok ? [c.path] : []))
        : [];
      return this.pathLock.runScoped({ keys }, async () => upload(files));
    };
    return upload;
  }

  /** Releases what the subclass holds; BaseSandbox itself holds nothing. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const run = await this.runScript(lsScript(dir.path), `list '${dir.path}'`);
    if ("error" in run) return run;
    if (run.status === ScriptStatus.permissionDenied)
      return failure("permission_denied", `Permission denied listing '${dir.path}'`);
    if (run.status !== ScriptStatus.ok) return this.unexpected(`list '${dir.path}'`, run.status);
    const files: FileInfo[] = [];
    for (const record of parseStatRecords(run.output)) {
      if (!isListable(record.path, dir.path) || this.isHiddenPath(record.path)) continue;
      files.push(
        record.isDirectory
          ? { path: `${record.path}/`, is_dir: true, size: 0 }
          : { path: record.path, is_dir: false, size: record.size, modified_at: isoSeconds(record.mtime) },
      );
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const loaded = await this.load(checked.path);
    if ("error" in loaded) return loaded;
    const mimeType = getMimeType(checked.path);
    const content = contentFromBytes(checked.path, loaded.bytes);
    return readResultOf(content, mimeType, loaded.etag, offset, limit);
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const [loaded, times] = await Promise.all([
      this.load(path),
      this.runScript(fileTimesScript(path), `stat '${path}'`),
    ]);
    if ("error" in loaded) return loaded;
    const [birth, mtime] = "error" in times ? [] : times.output.trim().split(" ").map(Number);
    const modified_at = mtime !== undefined && mtime > 0 ? isoSeconds(mtime) : new Date().toISOString();
    // busybox stat and some filesystems do not know the birth time. The epoch says "unknown" and,
    // unlike the modification time, stays the same across overwrites, as created_at must.
    const created_at = isoSeconds(birth !== undefined && birth > 0 ? birth : 0);
    const content = contentFromBytes(path, loaded.bytes);
    return { data: { content, mimeType: getMimeType(path), created_at, modified_at }, etag: loaded.etag };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/") return failure("is_directory", `'${path}' is a directory, not a file`);
    return this.pathLock.run(path, async () => {
      if (options?.ifMatch !== undefined || options?.ifNoneMatch === "*") {
        const blocked = await this.checkPreconditionsOf(path, options);
        if (blocked) return blocked;
      }
      const uploaded = await this.store(path, bytes);
      if (uploaded) return (await this.diagnoseWrite(path)) ?? uploaded;
      return { path, etag: etagOf(bytes) };
    });
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.pathLock.run(path, async () => {
      const loaded = await this.load(path);
      if ("error" in loaded) return loaded;
      const plan = planEdit(
        path,
        { etag: loaded.etag, content: contentFromBytes(path, loaded.bytes), mimeType: getMimeType(path) },
        oldString,
        newString,
        replaceAll,
        options,
      );
      if ("error" in plan) return plan;
      if ("done" in plan) return plan.done;
      const bytes = encodeUtf8(plan.content);
      const uploaded = await this.store(path, bytes);
      if (uploaded) return uploaded;
      return { path, occurrences: plan.occurrences, etag: etagOf(bytes) };
    });
  }

  /**
   * Finds the files that contain the pattern with `grep -l` inside the sandbox, then downloads only
   * those (in path order, until `maxCount` is reached) and applies the core matcher, so that binary
   * detection (NUL bytes, invalid UTF-8) and line splitting are exactly the contract's.
   */
  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { query } = parsed;
    // No line of a searchable text holds "\n" or NUL, and neither can be passed as a shell argument.
    if (query.pattern.includes("\n") || query.pattern.includes("\u0000")) return { matches: [] };
    const run = await this.runScript(grepCandidatesScript(query.dir, query.pattern), `search '${query.dir}'`);
    if ("error" in run) return run;
    if (run.status !== ScriptStatus.ok) return this.unexpected(`search '${query.dir}'`, run.status);
    const candidates = [
      ...new Set(
        run.output.split("\n").filter((p) => {
          const checked = checkPath(p);
          return (
            checked.ok &&
            checked.path === p &&
            query.accepts(p) &&
            isTextMimeType(getMimeType(p)) &&
            !this.isHiddenPath(p)
          );
        }),
      ),
    ].sort(comparePaths);
    const matches: GrepMatch[] = [];
    for (let i = 0; i < candidates.length; i += GREP_DOWNLOAD_BATCH) {
      const downloads = await this.downloadFiles(candidates.slice(i, i + GREP_DOWNLOAD_BATCH));
      const texts: Array<{ path: string; text: string }> = [];
      for (const file of downloads) {
        // A file removed since the search is simply no longer there.
        if (file.error || !file.content) continue;
        const content = contentFromBytes(file.path, file.content);
        if (typeof content === "string") texts.push({ path: file.path, text: content });
      }
      const batch = grepTexts(texts, { ...query, maxCount: query.maxCount - matches.length });
      // One by one: spreading 200,000 matches into push() overflows the stack.
      for (const match of batch.matches ?? []) matches.push(match);
      if (batch.truncated) return { matches, truncated: true };
    }
    return { matches };
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { matches, root } = parsed.query;
    const run = await this.runScript(listFilesScript(root), `list '${root}'`);
    if ("error" in run) return run;
    if (run.status !== ScriptStatus.ok) return this.unexpected(`list '${root}'`, run.status);
    const files: FileInfo[] = [];
    for (const record of parseStatRecords(run.output)) {
      const checked = checkPath(record.path);
      if (!checked.ok || checked.path !== record.path || !matches(record.path) || this.isHiddenPath(record.path))
        continue;
      files.push({ path: record.path, is_dir: false, size: record.size, modified_at: isoSeconds(record.mtime) });
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (path === "/") return failure("invalid_argument", "Refusing to delete '/', the whole sandbox filesystem");
    // A recursive delete covers every path below it too: an edit there must not write a file back.
    return this.pathLock.runScoped({ keys: [path], prefixes: [`${path}/`] }, async () => {
      const run = await this.runScript(deleteScript(path), `delete '${path}'`);
      if ("error" in run) return run;
      if (run.status === ScriptStatus.notFound) return notFound(path);
      if (run.status === ScriptStatus.permissionDenied)
        return failure("permission_denied", `Permission denied deleting '${path}'`);
      if (run.status !== ScriptStatus.ok) return this.unexpected(`delete '${path}'`, run.status);
      return { path };
    });
  }

  /** Downloads one file with its etag, or the failure to return. */
  private async load(path: string): Promise<{ bytes: Uint8Array; etag: string } | Failure> {
    const [file] = await this.downloadFiles([path]);
    if (!file || file.error || !file.content) return transferFailure(path, file);
    return { bytes: file.content, etag: etagOf(file.content) };
  }

  /** Uploads one file; null on success, else the failure to return. */
  private async store(path: string, bytes: Uint8Array): Promise<Failure | null> {
    const [result] = await this.uploadUnlocked([[path, bytes]]);
    if (result && !result.error) return null;
    return transferFailure(path, result);
  }

  /** The failure that `ifMatch` / `ifNoneMatch` cause for `path` (or a directory in the way), or null. */
  private async checkPreconditionsOf(path: string, options: WriteOptions): Promise<Failure | null> {
    const state = await this.inspectWriteTarget(path);
    if ("error" in state) return state;
    if (!state.exists) return writeConflict(path, options);
    // ifNoneMatch fails on any existing file; only ifMatch needs the current content's etag.
    if (options.ifNoneMatch === "*") return checkPreconditions(path, "", options);
    const current = await this.load(path);
    if ("error" in current) return current;
    return checkPreconditions(path, current.etag, options);
  }

  /** After a failed upload: the precise reason when a directory or a file is in the way, else null. */
  private async diagnoseWrite(path: string): Promise<Failure | null> {
    const state = await this.inspectWriteTarget(path);
    return "error" in state && state.code !== "backend_unavailable" ? state : null;
  }

  /** Whether `path` exists as a file, or why it cannot be written as one. */
  private async inspectWriteTarget(path: string): Promise<{ exists: boolean } | Failure> {
    const run = await this.runScript(writeTargetScript(path, parentDir(path)), `write '${path}'`);
    if ("error" in run) return run;
    switch (run.status) {
      case ScriptStatus.ok:
        return { exists: run.output === "E" };
      case ScriptStatus.isDirectory:
        return failure("is_directory", `'${path}' is a directory, not a file`);
      case ScriptStatus.notADirectory:
        return failure("not_a_directory", `'${run.output}' is a file, so '${path}' cannot be created below it`);
      default:
        return this.unexpected(`write '${path}'`, run.status);
    }
  }

  /**
   * Runs one of BaseSandbox's own commands (listings, searches, deletes, `stat`s; never the user's)
   * with `sh -c` semantics: stdout and stderr combined, output capped with `truncated: true` like
   * `execute`, exit code 124 on timeout. The default is `this.execute(command)`; a sandbox with a
   * cheaper way to run a short internal command (a shell kept open in the sandbox, say) overrides it.
   */
  protected async runCommand(command: string): Promise<ExecuteResponse> {
    return this.execute(command);
  }

  /**
   * Runs a script and returns its exit status and stdout. Output is returned inline; when the
   * sandbox cuts it, the script runs again writing to a temporary file that is downloaded whole.
   */
  private async runScript(script: string, what: string): Promise<{ status: number; output: string } | Failure> {
    const inline = await this.runCommand(inlineCommand(script));
    const end = inline.output.lastIndexOf(STATUS_MARKER);
    if (!inline.truncated && end !== -1) {
      return { status: Number(inline.output.slice(end + STATUS_MARKER.length)), output: inline.output.slice(0, end) };
    }
    if (!inline.truncated) return this.commandFailure(what, inline);
    const spooled = await this.runCommand(fileCommand(script));
    const marker = spooled.output.lastIndexOf(STATUS_MARKER);
    if (marker === -1) return this.commandFailure(what, spooled);
    const tail = spooled.output.slice(marker + STATUS_MARKER.length);
    const colon = tail.indexOf(":");
    const tempPath = tail.slice(colon + 1).trim();
    const [file] = await this.downloadFiles([tempPath]);
    await this.runCommand(`rm -f -- ${shellQuote(tempPath)}`);
    if (!file?.content)
      return failure("backend_unavailable", `Could not ${what}: the listing could not be read back from the sandbox`);
    return { status: Number(tail.slice(0, colon)), output: decodeUtf8Lossy(file.content) };
  }

  private commandFailure(what: string, response: ExecuteResponse): Failure {
    if (response.exitCode === 124) return failure("timeout", `Could not ${what}: the sandbox command timed out`);
    return failure(
      "backend_unavailable",
      `Could not ${what}: the sandbox command did not complete (exit ${response.exitCode ?? "none"})`,
    );
  }

  private unexpected(what: string, status: number): Failure {
    return failure("backend_unavailable", `Could not ${what}: the sandbox command failed with status ${status}`);
  }
}

/** Opaque version of some bytes: their SHA-256 digest. */
function etagOf(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** True for a listing path that is a valid virtual path directly below `dir`. */
function isListable(path: string, dir: string): boolean {
  const checked = checkPath(path);
  return checked.ok && checked.path === path && path !== dir && isWithin(path, dir) && parentDir(path) === dir;
}

/** The failure for an upload or download entry (or a missing one). */
function transferFailure(path: string, entry: FileUploadResponse | FileDownloadResponse | undefined): Failure {
  const code: ErrorCode = entry?.code ?? entry?.error ?? "file_not_found";
  if (code === "file_not_found") return notFound(path);
  if (code === "is_directory") return failure(code, `'${path}' is a directory, not a file`);
  return failure(code, entry?.message ?? `Could not access '${path}' (${code})`);
}
