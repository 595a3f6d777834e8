import type { ChildProcess } from "node:child_process";
import { type Dirent, mkdirSync, realpathSync, type Stats, statSync } from "node:fs";
import { lstat, readdir, realpath, rm, stat } from "node:fs/promises";
import { basename, dirname, resolve as resolveHost } from "node:path";
import {
  type BackendCapabilities,
  type BackendProtocol,
  bytesForWrite,
  checkDirPath,
  checkPath,
  checkPreconditions,
  comparePaths,
  contentFromBytes,
  DeepfsError,
  type DeleteResult,
  type EditResult,
  type ExecuteOptions,
  type ExecuteResponse,
  editableText,
  encodeUtf8,
  type FileDownloadResponse,
  type FileInfo,
  type FileOperationError,
  type FileUploadResponse,
  failure,
  type GlobResult,
  type GrepResult,
  getMimeType,
  grepGlobSearchRoot,
  isInternalTempName,
  KeyedLock,
  type LsResult,
  notFound,
  type PathCheck,
  parseGlobArgs,
  parseGrepArgs,
  performStringReplacement,
  type ReadRawResult,
  type ReadResult,
  readResultOf,
  type WriteOptions,
  type WriteResult,
  writeConflict,
} from "@deepfs/core";
import pLimit from "p-limit";
import { pinDirectory } from "./descriptors.js";
import { errnoCode, type Failure, fromNodeError, symlinkNotWritable } from "./errors.js";
import { etagOf } from "./etag.js";
import { runShell, type ShellSettings, timeoutProblem } from "./execute.js";
import { readRegularFile, writeFileAtomic } from "./file-io.js";
import { type FsCalls, threadpoolFs } from "./fs-calls.js";
import { grepCandidates } from "./grep-search.js";
import { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import { DEEPAGENTS_REALPATH, linkedRegularFile, resolveHostPath } from "./links.js";
import type { GrepEngine, LocalBackendOptions } from "./options.js";
import { ripgrepAvailable, ripgrepCandidates } from "./ripgrep.js";
import { entryKind, isVisibleName, type WalkedFile, type WalkOptions, walkFiles } from "./walk.js";

/** Metadata lookups in flight at once for ls/glob/upload/download. */
const STAT_CONCURRENCY = 32;

/** Default of `syncIoMaxBytes`: source files and notes, not data sets. */
const DEFAULT_SYNC_IO_MAX_BYTES = 64 * 1024;

/** A file's bytes as read, with what the results need. */
interface Loaded {
  path: string;
  host: string;
  bytes: Uint8Array;
  stats: Stats;
  etag: string;
}

/**
 * A directory on disk as an agent filesystem.
 *
 * - Virtual mode (default): paths are virtual (`/src/a.ts` is `rootDir/src/a.ts`) and a path whose
 *   real location leaves `rootDir` through a symlink is refused with `permission_denied`, checked
 *   on the open descriptor (a parent swapped for a link mid-call yields no byte from outside).
 * - Symlinks: a link to a regular file inside the root is that file under the link's name for
 *   `ls`, `glob`, `grep`, `read`, `readRaw` and downloads alike; links to directories are listed
 *   and followed by paths through them, never descended into by `glob` or `grep`. `write`,
 *   `edit` and uploads never go through a link at the last component (`permission_denied`), in
 *   either mode, as deepagents' FilesystemBackend. The deepagents realpath hook
 *   (`Symbol.for("deepagents.realpath")`) tells deepagents' permission rules where a path leads.
 * - Writes are atomic (temp file with an internal name in the same directory, then rename, both
 *   through the directory's pinned descriptor) and keep the file mode.
 * - Small files (up to `syncIoMaxBytes`) are read and written with blocking calls, several times
 *   faster on a local disk than a threadpool round trip per call; a run of such calls yields to
 *   the event loop every ~10 ms.
 * - Etags are SHA-1 content hashes; edits and conditional writes are serialised per file inside
 *   this process (not across processes).
 * - `grep` uses ripgrep when available to find candidate files, then applies the core matcher, so
 *   both engines return exactly what `grepTexts` would.
 * - With the `execute` option it is also a `SandboxBackendProtocol` (`id`, `execute`). That is a
 *   local shell, **not a security sandbox**: commands run on this machine as this process's user.
 */
export class LocalBackend implements BackendProtocol {
  readonly capabilities: BackendCapabilities;
  /** The real path of the root directory. */
  readonly rootDir: string;
  readonly virtualMode: boolean;
  /** Set only when `execute` is enabled (then the backend is a sandbox backend). */
  readonly id?: string;

  private readonly root: HostRoot;
  private readonly readOnly: boolean;
  private readonly maxBytes: number;
  private readonly fsync: boolean;
  private readonly io: IoMode;
  private readonly grepEngine: GrepEngine;
  private readonly ripgrepPath: string;
  private readonly shell: ShellSettings | undefined;
  /**
   * Serialises every mutation of a path inside this process (keys are host paths with real
   * parents); a delete also covers everything below it, so an edit or write under a directory
   * never straddles that directory's removal.
   */
  private readonly locks = new KeyedLock();
  private readonly running = new Set<ChildProcess>();
  /**
   * Creation times of files this process replaced, by host path and inode: an atomic replace makes
   * a new inode (a new birth time), and Node cannot set birth times or extended attributes.
   */
  private readonly createdAt = new Map<string, { ino: number; created: string }>();
  private ripgrepCheck: Promise<boolean> | undefined;

  constructor(options: LocalBackendOptions = {}) {
    const maxFileSizeMb = options.maxFileSizeMb ?? 10;
    if (!(typeof maxFileSizeMb === "number" && maxFileSizeMb > 0)) {
      throw new DeepfsError("invalid_argument", "maxFileSizeMb must be a positive number");
    }
    this.readOnly = options.readOnly ?? false;
    this.virtualMode = options.virtualMode ?? true;
    this.rootDir = openRootDir(resolveHost(options.rootDir ?? process.cwd()), this.readOnly);
    if (!this.virtualMode && !checkPath(this.rootDir).ok) {
      throw new DeepfsError("invalid_argument", "rootDir must be a plain POSIX path in non-virtual mode");
    }
    const syncIoMaxBytes = options.syncIoMaxBytes ?? DEFAULT_SYNC_IO_MAX_BYTES;
    if (!(Number.isSafeInteger(syncIoMaxBytes) && syncIoMaxBytes >= 0)) {
      throw new DeepfsError("invalid_argument", "syncIoMaxBytes must be a non-negative integer");
    }
    this.io = new IoMode(syncIoMaxBytes);
    this.root = new HostRoot(this.virtualMode ? this.rootDir : "/");
    this.maxBytes = Math.floor(maxFileSizeMb * 1024 * 1024);
    this.fsync = options.fsync ?? false;
    this.grepEngine = options.grepEngine ?? "auto";
    this.ripgrepPath = options.ripgrepPath ?? "rg";
    if (options.execute) {
      const config = options.execute === true ? {} : options.execute;
      const problem = config.timeoutMs === undefined ? null : timeoutProblem(config.timeoutMs);
      if (problem !== null) throw new DeepfsError("invalid_argument", `execute.${problem}`);
      this.shell = {
        cwd: this.rootDir,
        timeoutMs: config.timeoutMs ?? 120_000,
        maxOutputBytes: config.maxOutputBytes ?? 100_000,
        env: { ...(config.inheritEnv ? definedEnv(process.env) : {}), ...config.env },
      };
      this.id = `local-${Math.random().toString(16).slice(2, 10)}`;
    }
    // Not enumerable, as deepagents' own backends define it: invisible to spreads and JSON.
    Object.defineProperty(this, DEEPAGENTS_REALPATH, {
      value: (path: string) => this.realpathFor(path),
      enumerable: false,
      configurable: true,
    });
    this.capabilities = {
      execute: this.shell !== undefined,
      nativeGrep: true,
      conditionalWrites: true,
      realDirectories: true,
      readOnly: this.readOnly,
    };
  }

  async ls(path: string): Promise<LsResult> {
    const dir = this.checkDir(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const located = await this.root.locate(dir.path, threadpoolFs);
    if ("error" in located) return located;
    if (!located.stats?.isDirectory()) return { files: [] };
    let entries: Dirent[];
    try {
      entries = await readdir(located.host, { withFileTypes: true });
    } catch (error) {
      const code = errnoCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return { files: [] };
      return fromNodeError(error, dir.path);
    }
    const limit = pLimit(STAT_CONCURRENCY);
    const infos = await Promise.all(
      entries
        .filter((entry) => isVisibleName(entry.name))
        .map((entry) =>
          limit(() => this.describeEntry(`${located.host}/${entry.name}`, joinVirtual(dir.path, entry.name), entry)),
        ),
    );
    const files = infos.filter((info): info is FileInfo => info !== null);
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    await this.io.pace();
    const loaded = await this.load(filePath, this.maxBytes);
    if ("error" in loaded) return loaded;
    const { path, bytes, etag } = loaded;
    const mimeType = getMimeType(path);
    const content = contentFromBytes(path, bytes);
    return readResultOf(content, mimeType, etag, offset, limit);
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    await this.io.pace();
    const loaded = await this.load(filePath, this.maxBytes);
    if ("error" in loaded) return loaded;
    const { path, bytes, stats, etag } = loaded;
    return {
      data: {
        content: contentFromBytes(path, bytes),
        mimeType: getMimeType(path),
        created_at: this.creationTime(loaded.host, stats),
        modified_at: stats.mtime.toISOString(),
      },
      etag,
    };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    await this.io.pace();
    const checked = this.checkFile(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    if (this.readOnly) return readOnlyFailure(path);
    return this.store(path, bytes, options);
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    await this.io.pace();
    const checked = this.checkFile(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (this.readOnly) return readOnlyFailure(path);
    if (typeof oldString !== "string" || typeof newString !== "string") {
      return failure("invalid_argument", `old_string and new_string for '${path}' must be strings`);
    }
    // Not through a symlink at the last component, which an edit would write through.
    const located = await this.root.locate(path, this.io.metadata, false);
    if ("error" in located) return located;
    if (!located.stats) return notFound(path);
    if (located.stats.isSymbolicLink()) return symlinkNotWritable(path);
    return this.locks.run(located.host, async (): Promise<EditResult> => {
      const loaded = await this.loadAt(path, located.host, this.maxBytes, this.io);
      if ("error" in loaded) return loaded;
      if (options?.signal?.aborted) return failure("aborted", `Edit of '${path}' was aborted`);
      const precondition = checkPreconditions(path, loaded.etag, options);
      if (precondition) return precondition;
      const text = editableText(path, {
        content: contentFromBytes(path, loaded.bytes),
        mimeType: getMimeType(path),
        created_at: "",
        modified_at: "",
      });
      if (typeof text !== "string") return text;
      const replaced = performStringReplacement(text, oldString, newString, replaceAll, `'${path}'`);
      if (!replaced.ok) return failure(replaced.code, replaced.error);
      if (oldString === newString) return { path, occurrences: replaced.occurrences, etag: loaded.etag };
      const next = encodeUtf8(replaced.content);
      try {
        await this.replace(located.host, next, loaded.stats, this.io.forContent(next.byteLength));
      } catch (error) {
        return fromNodeError(error, path);
      }
      return { path, occurrences: replaced.occurrences, etag: etagOf(next) };
    });
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, this.dirArgument(path), glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const query = parsed.query;
    const searchRoot = grepGlobSearchRoot(query.glob, query.dir);
    const located = await this.locateSearchRoot(searchRoot, query.dir);
    if ("error" in located) return located;
    if (query.matchesNothing || !located.stats) return { matches: [] };
    let candidates: WalkedFile[];
    if (located.stats.isFile()) {
      candidates = [{ path: searchRoot, host: located.host }];
    } else if (located.stats.isDirectory()) {
      const useRipgrep = await this.useRipgrep();
      if (typeof useRipgrep !== "boolean") return useRipgrep;
      candidates = useRipgrep
        ? await this.ripgrepOrWalk(query.pattern, located.host, searchRoot)
        : await walkFiles(located.host, searchRoot, this.walkOptions());
    } else {
      return { matches: [] };
    }
    return grepCandidates(candidates, query, this.maxBytes, this.root);
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, this.dirArgument(path));
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { dir, matches, root: searchRoot } = parsed.query;
    const located = await this.locateSearchRoot(searchRoot, dir);
    if ("error" in located) return located;
    if (!located.stats?.isDirectory()) return { files: [] };
    const found = (await walkFiles(located.host, searchRoot, this.walkOptions())).filter((file) => matches(file.path));
    const limit = pLimit(STAT_CONCURRENCY);
    const infos = await Promise.all(found.map((file) => limit(() => fileInfo(file.host, file.path))));
    const files = infos.filter((info): info is FileInfo => info !== null);
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = this.checkFile(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (this.readOnly) return readOnlyFailure(path);
    const located = await this.root.locate(path, threadpoolFs, false);
    if ("error" in located) return located;
    if (!located.stats) return notFound(path);
    if (located.host === this.root.base) {
      return this.locks.runScoped({ prefixes: [`${this.root.base}/`] }, () => this.clearRoot(path));
    }
    const scope = { keys: [located.host], prefixes: [`${located.host}/`] };
    return this.locks.runScoped(scope, async (): Promise<DeleteResult> => {
      try {
        // Through the pinned parent, so that a parent swapped for a symlink cannot redirect the removal.
        const parent = await pinDirectory(dirname(located.host), this.root, threadpoolFs, false);
        try {
          // rm never follows symlinks: a link is unlinked, a directory's links are removed, not their targets.
          await rm(`${parent.path}/${basename(located.host)}`, { recursive: true });
        } finally {
          await parent.close();
        }
        return { path };
      } catch (error) {
        return fromNodeError(error, path);
      }
    });
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const limit = pLimit(STAT_CONCURRENCY);
    return Promise.all(
      files.map(([rawPath, bytes]) =>
        limit(async (): Promise<FileUploadResponse> => {
          await this.io.pace();
          const checked = this.checkFile(rawPath);
          if (!checked.ok)
            return { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
          const path = checked.path;
          if (!(bytes instanceof Uint8Array)) {
            return {
              path,
              error: "invalid_path",
              code: "invalid_argument",
              message: `Content for '${path}' must be bytes`,
            };
          }
          const stored = this.readOnly ? readOnlyFailure(path) : await this.store(path, bytes, undefined);
          if (stored.code === undefined) return { path, error: null };
          return { path, error: coarseCode(stored.code), code: stored.code, message: stored.error ?? "" };
        }),
      ),
    );
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const limit = pLimit(STAT_CONCURRENCY);
    return Promise.all(
      paths.map((rawPath) =>
        limit(async (): Promise<FileDownloadResponse> => {
          await this.io.pace();
          // Downloads move bytes, not model context: no size limit.
          const loaded = await this.load(rawPath, Number.POSITIVE_INFINITY);
          if ("error" in loaded) {
            const checked = this.checkFile(rawPath);
            const path = checked.ok ? checked.path : rawPath;
            return { path, content: null, error: coarseCode(loaded.code), code: loaded.code, message: loaded.error };
          }
          return { path: loaded.path, content: loaded.bytes, error: null };
        }),
      ),
    );
  }

  /**
   * Runs a shell command in `rootDir` (only when the `execute` option is set). Not a security
   * sandbox: see {@link LocalExecuteOptions}.
   */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    if (!this.shell) {
      return { output: "Error: execute is not enabled for this LocalBackend", exitCode: 1, truncated: false };
    }
    return runShell(command, this.shell, this.running, options);
  }

  /** Kills commands still running; the files stay. */
  async close(): Promise<void> {
    for (const child of this.running) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.running.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A file path argument: virtual, or in non-virtual mode absolute or relative to `rootDir`. */
  private checkFile(raw: string): PathCheck {
    const checked = checkPath(raw);
    if (this.virtualMode || !checked.ok || raw.startsWith("/")) return checked;
    return checkPath(`${this.rootDir}${checked.path}`);
  }

  /** A directory argument (empty means the root, which is `rootDir` in non-virtual mode). */
  private checkDir(raw: string | null | undefined): PathCheck {
    return checkDirPath(this.dirArgument(raw));
  }

  private dirArgument(raw: string | null | undefined): string | null | undefined {
    if (this.virtualMode) return raw;
    if (raw === undefined || raw === null || raw === "") return this.rootDir;
    const checked = checkPath(raw);
    return !checked.ok || raw.startsWith("/") ? raw : `${this.rootDir}${checked.path}`;
  }

  private async load(rawPath: string, maxBytes: number): Promise<Loaded | Failure> {
    const checked = this.checkFile(rawPath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const located = await this.root.locateExisting(checked.path, this.io.metadata);
    if ("error" in located) return located;
    return this.loadAt(checked.path, located.host, maxBytes, this.io);
  }

  private async loadAt(path: string, host: string, maxBytes: number, io: IoMode): Promise<Loaded | Failure> {
    try {
      const read = await readRegularFile(host, maxBytes, io, this.root);
      switch (read.kind) {
        case "directory":
          return failure("is_directory", `'${path}' is a directory, not a file`);
        case "special":
          return failure("invalid_argument", `'${path}' is not a regular file`);
        case "too_large":
          return failure(
            "too_large",
            `'${path}' is ${read.size} bytes, over the ${this.maxBytes / 1024 / 1024} MiB limit; search it with grep instead`,
          );
        default: {
          const bytes = new Uint8Array(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
          return { path, host, bytes, stats: read.stats, etag: etagOf(bytes) };
        }
      }
    } catch (error) {
      return fromNodeError(error, path);
    }
  }

  /** Writes bytes to a validated path: preconditions, parents, atomic replace, all under the path's lock. */
  private async store(path: string, bytes: Uint8Array, options: WriteOptions | undefined): Promise<WriteResult> {
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/") return failure("is_directory", `'${path}' is a directory, not a file`);
    const io = this.io.forWrite(bytes.byteLength);
    // The last component as it is: a write never goes through a symlink there.
    const located = await this.root.locate(path, io.metadata, false);
    if ("error" in located) return located;
    if (located.stats?.isSymbolicLink()) return symlinkNotWritable(path);
    return this.locks.run(located.host, async (): Promise<WriteResult> => {
      try {
        // Again under the lock: a write queued behind another sees what that one left.
        const current = await io.metadata.lstat(located.host);
        if (current?.isSymbolicLink()) return symlinkNotWritable(path);
        if (current?.isDirectory()) return failure("is_directory", `'${path}' is a directory, not a file`);
        if (current?.isFile()) {
          if (options?.ifMatch !== undefined || options?.ifNoneMatch !== undefined) {
            const loaded = await this.loadAt(path, located.host, Number.POSITIVE_INFINITY, io);
            if ("error" in loaded) return loaded;
            const blocked = checkPreconditions(path, loaded.etag, options);
            if (blocked) return blocked;
          }
        } else {
          const blocked = writeConflict(path, options);
          if (blocked) return blocked;
        }
        if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
        await this.replace(located.host, bytes, current?.isFile() ? current : null, io.forContent(bytes.byteLength));
        return { path, etag: etagOf(bytes) };
      } catch (error) {
        return fromNodeError(error, path);
      }
    });
  }

  /**
   * Atomically replaces (or creates, with missing parents) a file, keeping the mode and creation
   * time of the one it replaces.
   */
  private async replace(host: string, bytes: Uint8Array, previous: Stats | null, fs: FsCalls): Promise<void> {
    const created = previous ? this.creationTime(host, previous) : undefined;
    const written = await writeFileAtomic(host, bytes, previous, this.fsync, fs, this.root);
    if (created !== undefined && written) this.createdAt.set(host, { ino: written.ino, created });
    else this.createdAt.delete(host);
  }

  private creationTime(host: string, stats: Stats): string {
    const known = this.createdAt.get(host);
    if (known && known.ino === stats.ino) return known.created;
    return (stats.birthtimeMs > 0 ? stats.birthtime : stats.ctime).toISOString();
  }

  /** `delete("/")`: removes everything inside the root, never the root itself (virtual mode only). */
  private async clearRoot(path: string): Promise<DeleteResult> {
    if (!this.virtualMode) return failure("permission_denied", "Refusing to delete '/' in non-virtual mode");
    try {
      // Everything but the temp files of writes in flight (which no path names and a rename removes).
      const names = (await readdir(this.root.base)).filter((name) => !isInternalTempName(name));
      if (!names.some(isVisibleName)) return notFound(path);
      await Promise.all(names.map((name) => rm(`${this.root.base}/${name}`, { recursive: true })));
      return { path };
    } catch (error) {
      return fromNodeError(error, path);
    }
  }

  /** One `ls` entry; symlinks are shown as what they point to when that stays inside the root. */
  private async describeEntry(host: string, path: string, entry: Dirent): Promise<FileInfo | null> {
    const kind = await entryKind(entry, host);
    if (kind === "directory") return { path: `${path}/`, is_dir: true, size: 0 };
    if (kind === "file") return fileInfo(host, path);
    if (kind !== "symlink") return null;
    try {
      const real = await realpath(host);
      if (!this.root.contains(real)) return null;
      const target = await stat(real);
      if (target.isDirectory()) return { path: `${path}/`, is_dir: true, size: 0 };
      return target.isFile()
        ? { path, is_dir: false, size: target.size, modified_at: target.mtime.toISOString() }
        : null;
    } catch {
      // Dangling or looping links are not shown.
      return null;
    }
  }

  /**
   * Locates the directory a glob or grep walks. When the pattern narrowed it below the caller's
   * directory (`a/b/*` → `dir/a/b`), a file standing where a directory of the pattern would be only
   * means that nothing matches, not that the caller's path is wrong.
   */
  private async locateSearchRoot(searchRoot: string, dir: string) {
    const located = await this.root.locate(searchRoot, threadpoolFs);
    if ("error" in located && located.code === "not_a_directory" && searchRoot !== dir)
      return { host: "", stats: null };
    return located;
  }

  private async useRipgrep(): Promise<boolean | Failure> {
    if (this.grepEngine === "builtin") return false;
    this.ripgrepCheck ??= ripgrepAvailable(this.ripgrepPath);
    const available = await this.ripgrepCheck;
    if (!available && this.grepEngine === "ripgrep") {
      return failure("unsupported", "grepEngine is 'ripgrep' but the ripgrep executable was not found");
    }
    return available;
  }

  private async ripgrepOrWalk(pattern: string, host: string, path: string): Promise<WalkedFile[]> {
    // ripgrep does not follow symlinks (following would descend into linked directories): the links
    // to regular files come from a walk that runs beside it.
    const links = walkFiles(host, path, { ...this.walkOptions(), linksOnly: true });
    try {
      const [found, linked] = await Promise.all([
        ripgrepCandidates(this.ripgrepPath, pattern, host, path, this.maxBytes),
        links,
      ]);
      return found.concat(linked);
    } catch {
      // ripgrep failed to run: the built-in search gives the same answer.
      await links.catch(() => undefined);
      return walkFiles(host, path, this.walkOptions());
    }
  }

  /** How glob and grep walk: symlinks to regular files inside the root count as files (see {@link linkedRegularFile}). */
  private walkOptions(): WalkOptions {
    return { linkedFile: (host) => linkedRegularFile(host, this.root) };
  }

  /**
   * deepagents' realpath hook: the path that an operation on `raw` touches, with symlinks resolved
   * (dangling ones followed, missing trailing names kept), virtual in virtual mode. Throws for a
   * path that is invalid or resolves outside the root, which deepagents reports to the model.
   */
  private async realpathFor(raw: string): Promise<string> {
    const checked = this.checkFile(raw);
    if (!checked.ok) throw new DeepfsError(checked.code, checked.error);
    const real = await resolveHostPath(this.root.hostOf(checked.path));
    if (!this.root.contains(real)) {
      throw new DeepfsError("permission_denied", `'${checked.path}' resolves outside the root directory`);
    }
    return this.root.virtualOf(real);
  }
}

/** The name deepagents users know: the same class. */
export { LocalBackend as FilesystemBackend };

/** Creates the root directory when allowed and returns its real path; throws for an unusable one. */
function openRootDir(rootDir: string, readOnly: boolean): string {
  try {
    if (!statSync(rootDir).isDirectory()) {
      throw new DeepfsError("not_a_directory", `rootDir ${rootDir} is not a directory`);
    }
  } catch (error) {
    if (DeepfsError.isInstance(error)) throw error;
    if (errnoCode(error) !== "ENOENT" || readOnly) {
      throw new DeepfsError("invalid_argument", `rootDir ${rootDir} cannot be used (${errnoCode(error)})`, {
        cause: error,
      });
    }
    mkdirSync(rootDir, { recursive: true });
  }
  return realpathSync(rootDir);
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

function joinVirtual(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

async function fileInfo(host: string, path: string): Promise<FileInfo | null> {
  try {
    const stats = await lstat(host);
    return { path, is_dir: false, size: stats.size, modified_at: stats.mtime.toISOString() };
  } catch {
    return null;
  }
}

function readOnlyFailure(path: string): Failure {
  return failure("read_only", `This backend is read-only; '${path}' was not changed`);
}

/** The reference's four upload/download codes for a precise deepfs code. */
function coarseCode(code: Failure["code"]): FileOperationError {
  switch (code) {
    case "file_not_found":
    case "is_directory":
    case "invalid_path":
    case "permission_denied":
      return code;
    case "read_only":
      return "permission_denied";
    default:
      return "invalid_path";
  }
}
