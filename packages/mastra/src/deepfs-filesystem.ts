import {
  type BackendProtocol,
  baseName,
  type WriteOptions as DeepfsWriteOptions,
  type ErrorFields,
  fileDataToBytes,
  getMimeType,
  isFailure,
  isWithin,
  parentDir,
} from "@deepfs/core";
import {
  type CopyOptions,
  DirectoryNotEmptyError,
  DirectoryNotFoundError,
  type FileContent,
  type FileEntry,
  FileExistsError,
  FileNotFoundError,
  type FileStat,
  type FilesystemGrepOptions,
  type FilesystemGrepResult,
  type FilesystemInfo,
  IsDirectoryError,
  type ListOptions,
  MastraFilesystem,
  type MastraFilesystemOptions,
  NotDirectoryError,
  PermissionError,
  type ProviderStatus,
  type ReadOptions,
  type RemoveOptions,
  StaleFileError,
  type WriteOptions,
} from "@mastra/core/workspace";
import { Directories } from "./directories.js";
import { DeepfsFilesystemError, toMastraError } from "./errors.js";
import { copyOne, copyTree, readBytes, toBytes, writeBytes } from "./file-bytes.js";
import { grepLiteral } from "./grep.js";
import { toBackendPath } from "./paths.js";

/** Options of {@link DeepfsFilesystem}. */
export interface DeepfsFilesystemOptions extends MastraFilesystemOptions {
  /** Any deepfs backend: a store, the `CompositeBackend` router, a branch, a layered backend. */
  backend: BackendProtocol;
  /** Instance id (default: generated). */
  id?: string;
  /**
   * Refuse every mutation with a `PermissionError` before it reaches the backend (Mastra's tools
   * check this flag first and answer `WorkspaceReadOnlyError`). Defaults to the backend's
   * `capabilities.readOnly`.
   */
  readOnly?: boolean;
  /** Name shown in Mastra's UI instead of the provider name. */
  displayName?: string;
  /** Tooltip text for Mastra's UI. */
  description?: string;
  /** Replaces the default text of {@link DeepfsFilesystem.getInstructions}. */
  instructions?: string;
}

/** How many times `appendFile` re-reads and retries when another writer changed the file meanwhile. */
const APPEND_ATTEMPTS = 5;

/**
 * A Mastra workspace filesystem (`WorkspaceFilesystem`, via Mastra's `MastraFilesystem` base class)
 * over any deepfs backend, so `new Workspace({ filesystem: new DeepfsFilesystem({ backend }) })`
 * gives Mastra agents their workspace file tools on memory, a local directory, PostgreSQL, S3, a
 * `CompositeBackend` of several, a branch, or a backend wrapped in `withPermissions` /
 * `withQuota` / `withAudit`.
 *
 * - Paths: Mastra's relative (`src/a.ts`, `.`) and absolute (`/src/a.ts`) paths both resolve from
 *   the backend's root; a `..` above the root is a `PermissionError` (see `toBackendPath`).
 * - Errors: a failed deepfs result becomes the Mastra error class Mastra's `LocalFilesystem` throws
 *   for the same case (`FileNotFoundError`, `IsDirectoryError`, `PermissionError` for `read_only`
 *   and `permission_denied`, ...); other codes are a `DeepfsFilesystemError` with the backend's
 *   sentence and `deepfsCode`.
 * - Directories: deepfs has no `mkdir`: a directory exists when a file exists below it (stores with
 *   real directories also report empty ones). `mkdir` therefore records the directory in this
 *   instance, which then lists and stats it as an (empty) directory; it becomes part of the store
 *   when the first file is written below it. An empty directory made by `mkdir` is not persisted and
 *   other instances do not see it.
 * - Preconditions: `overwrite: false` is `ifNoneMatch: "*"` and `expectedMtime` is an `ifMatch` on
 *   the etag read with the mtime, so both are atomic on backends with conditional writes. The one
 *   exception is bytes that are not valid UTF-8 written to a text path (stored by `uploadFiles`,
 *   which takes no precondition): there the check precedes the upload.
 * - `moveFile` and recursive `copyFile` copy file by file, then (for a move) delete the source; they
 *   are not atomic across files.
 * - Read-only: with `readOnly` (or a backend whose capabilities say so) Mastra offers the agent no
 *   write tools, and every mutation called directly is a `PermissionError`.
 * - Search: a case-sensitive literal grep runs in the store (see {@link DeepfsFilesystem.grep}).
 */
export class DeepfsFilesystem extends MastraFilesystem {
  readonly id: string;
  readonly name = "DeepfsFilesystem";
  readonly provider = "deepfs";
  readonly readOnly: boolean;
  readonly displayName?: string;
  readonly description?: string;
  status: ProviderStatus = "pending";

  private readonly backend: BackendProtocol;
  private readonly instructions?: string;
  /** The store's directories and those made by `mkdir`. */
  private readonly dirs: Directories;

  constructor(options: DeepfsFilesystemOptions) {
    super({ ...options, name: "DeepfsFilesystem" });
    this.backend = options.backend;
    this.dirs = new Directories(options.backend);
    this.id = options.id ?? `deepfs-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.readOnly = options.readOnly ?? options.backend.capabilities?.readOnly === true;
    if (options.displayName !== undefined) this.displayName = options.displayName;
    if (options.description !== undefined) this.description = options.description;
    if (options.instructions !== undefined) this.instructions = options.instructions;
  }

  async readFile(path: string, options?: ReadOptions): Promise<string | Buffer> {
    await this.ensureReady();
    const p = toBackendPath(path, "read");
    const bytes = Buffer.from(await this.readBytes(p, path));
    return options?.encoding ? bytes.toString(options.encoding) : bytes;
  }

  async writeFile(path: string, content: FileContent, options?: WriteOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "writeFile");
    const p = toBackendPath(path, "write");
    if (options?.recursive === false) await this.dirs.assertParentDirectory(p, path);
    const preconditions: DeepfsWriteOptions = {};
    if (options?.overwrite === false) preconditions.ifNoneMatch = "*";
    if (options?.expectedMtime) {
      const raw = await this.backend.readRaw(p);
      if (!isFailure(raw) && raw.data) {
        const actual = new Date(raw.data.modified_at);
        if (actual.getTime() !== options.expectedMtime.getTime()) {
          throw new StaleFileError(path, options.expectedMtime, actual);
        }
        if (raw.etag !== undefined) preconditions.ifMatch = raw.etag;
      } else if (raw.code !== "file_not_found") {
        throw toMastraError(raw, path, "write");
      }
    }
    const failed = await this.writeBytes(p, toBytes(content), preconditions);
    if (!failed) return;
    if (failed.code === "conflict" && preconditions.ifNoneMatch) throw new FileExistsError(path);
    if (failed.code === "conflict" && options?.expectedMtime) {
      throw new StaleFileError(path, options.expectedMtime, (await this.dirs.stat(p))?.modifiedAt ?? new Date());
    }
    throw toMastraError(failed, path, "write");
  }

  async appendFile(path: string, content: FileContent): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "appendFile");
    const p = toBackendPath(path, "write");
    const tail = toBytes(content);
    let failed: ErrorFields | null = null;
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const raw = await this.backend.readRaw(p);
      if (isFailure(raw) && raw.code !== "file_not_found") throw toMastraError(raw, path, "write");
      if (isFailure(raw) || !raw.data) {
        failed = await this.writeBytes(p, tail, { ifNoneMatch: "*" });
      } else {
        const head = fileDataToBytes(raw.data);
        const both = new Uint8Array(head.length + tail.length);
        both.set(head);
        both.set(tail, head.length);
        failed = await this.writeBytes(p, both, raw.etag === undefined ? {} : { ifMatch: raw.etag });
      }
      if (!failed) return;
      if (failed.code !== "conflict") break;
    }
    throw toMastraError(failed ?? {}, path, "write");
  }

  async deleteFile(path: string, options?: RemoveOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "deleteFile");
    const p = toBackendPath(path, "delete");
    const stat = await this.dirs.stat(p);
    if (!stat) {
      if (options?.force) return;
      throw new FileNotFoundError(path);
    }
    if (stat.type === "directory") throw new IsDirectoryError(path);
    const result = await this.backend.delete(p);
    if (isFailure(result) && !(result.code === "file_not_found" && options?.force)) {
      throw toMastraError(result, path, "delete");
    }
  }

  async copyFile(src: string, dest: string, options?: CopyOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(dest, "copyFile");
    const from = toBackendPath(src, "read");
    const to = toBackendPath(dest, "write");
    const stat = await this.dirs.stat(from);
    if (!stat) throw new FileNotFoundError(src);
    if (stat.type === "directory") {
      if (!options?.recursive) throw new IsDirectoryError(src);
      await copyTree(this.backend, this.dirs, { from, to, src }, options.overwrite !== false);
      return;
    }
    await copyOne(this.backend, this.dirs, { from, to, src, dest }, options?.overwrite !== false);
  }

  async moveFile(src: string, dest: string, options?: CopyOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(src, "moveFile");
    const from = toBackendPath(src, "read");
    const to = toBackendPath(dest, "write");
    const stat = await this.dirs.stat(from);
    if (!stat) throw new FileNotFoundError(src);
    if (from === to) return;
    if (isWithin(to, from)) {
      throw new DeepfsFilesystemError(`Cannot move '${src}' into itself ('${dest}')`, "invalid_argument", dest);
    }
    const overwrite = options?.overwrite !== false;
    if (!overwrite && (await this.dirs.stat(to))) throw new FileExistsError(dest);
    if (stat.type === "directory") await copyTree(this.backend, this.dirs, { from, to, src }, overwrite);
    else await copyOne(this.backend, this.dirs, { from, to, src, dest }, overwrite);
    if (stat.type === "directory" && !(await this.dirs.hasStoredEntries(from))) {
      this.dirs.forget(from);
      return;
    }
    const removed = await this.backend.delete(from);
    if (isFailure(removed)) throw toMastraError(removed, src, "delete");
    this.dirs.forget(from);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "mkdir");
    const p = toBackendPath(path, "mkdir");
    const stat = await this.dirs.stat(p);
    if (stat?.type === "file") throw new FileExistsError(path);
    if (stat?.type === "directory") return;
    const parent = parentDir(p);
    const parentStat = parent === "/" ? null : await this.dirs.stat(parent);
    if (parentStat?.type === "file") throw new NotDirectoryError(parent);
    if (options?.recursive === false && parent !== "/" && !parentStat) throw new DirectoryNotFoundError(parent);
    this.dirs.record(p);
  }

  async rmdir(path: string, options?: RemoveOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "rmdir");
    const p = toBackendPath(path, "delete");
    if (p === "/") throw new PermissionError(path, "rmdir (the root cannot be removed)");
    const stat = await this.dirs.stat(p);
    if (!stat) {
      if (options?.force) return;
      throw new DirectoryNotFoundError(path);
    }
    if (stat.type !== "directory") throw new NotDirectoryError(path);
    const children = await this.dirs.children(p, path);
    if (children.length > 0 && !options?.recursive) throw new DirectoryNotEmptyError(path);
    if (await this.dirs.hasStoredEntries(p)) {
      const result = await this.backend.delete(p);
      if (isFailure(result) && result.code !== "file_not_found") throw toMastraError(result, path, "delete");
    }
    this.dirs.forget(p);
  }

  async readdir(path: string, options?: ListOptions): Promise<FileEntry[]> {
    await this.ensureReady();
    const p = toBackendPath(path, "list");
    const stat = await this.dirs.stat(p);
    if (!stat) throw new DirectoryNotFoundError(path);
    if (stat.type !== "directory") throw new NotDirectoryError(path);
    return this.dirs.tree(p, path, options, options?.maxDepth ?? 100);
  }

  async exists(path: string): Promise<boolean> {
    await this.ensureReady();
    return (await this.dirs.stat(toBackendPath(path, "stat"))) !== null;
  }

  async stat(path: string): Promise<FileStat> {
    await this.ensureReady();
    const p = toBackendPath(path, "stat");
    const stat = await this.dirs.stat(p);
    if (!stat) throw new FileNotFoundError(path);
    const result: FileStat = {
      name: p === "/" ? "" : baseName(p),
      path: p,
      type: stat.type,
      size: stat.size,
      // deepfs listings carry no creation time: the modification time stands in for it.
      createdAt: stat.modifiedAt,
      modifiedAt: stat.modifiedAt,
    };
    if (stat.type === "file") result.mimeType = getMimeType(p);
    return result;
  }

  /**
   * Mastra's native-search capability, for the patterns deepfs's grep answers exactly: a
   * case-sensitive literal (no regex metacharacter) without context lines. The search then runs in
   * the store (SQL in PostgreSQL, ripgrep locally, fanned out by the router) instead of Mastra
   * reading every file; any other pattern is an `UnsupportedGrepPatternError`, on which Mastra's
   * grep tool falls back to its own regex search over `readdir` and `readFile`. Paths are relative to
   * `options.path`; Mastra applies its hidden-file, text-extension, gitignore and glob filters.
   */
  async grep(options: FilesystemGrepOptions): Promise<FilesystemGrepResult[]> {
    await this.ensureReady();
    return grepLiteral(this.backend, options);
  }

  /** The canonical form of a path: deepfs has no symlinks, so this only normalises it. */
  async realpath(path: string): Promise<string> {
    await this.ensureReady();
    return toBackendPath(path, "stat");
  }

  getInfo(): FilesystemInfo {
    const info: FilesystemInfo = {
      id: this.id,
      name: this.name,
      provider: this.provider,
      readOnly: this.readOnly,
      status: this.status,
      metadata: { backend: this.backend.constructor.name, capabilities: { ...this.backend.capabilities } },
    };
    if (this.error !== undefined) info.error = this.error;
    return info;
  }

  getInstructions(): string {
    if (this.instructions !== undefined) return this.instructions;
    const access = this.readOnly ? "It is read-only." : "Writes create parent directories as needed.";
    return `A deepfs virtual filesystem. Paths are POSIX paths from the root "/"; a relative path resolves from the root, and no path can leave it. ${access}`;
  }

  /** Refuses a mutation of `path` on a read-only instance, as Mastra's `CompositeFilesystem` refuses a read-only mount. */
  private assertWritable(path: string, operation: string): void {
    if (this.readOnly) throw new PermissionError(path, `${operation} (filesystem is read-only)`);
  }

  private readBytes(p: string, path: string): Promise<Uint8Array> {
    return readBytes(this.backend, this.dirs, p, path);
  }

  private writeBytes(p: string, bytes: Uint8Array, preconditions: DeepfsWriteOptions): Promise<ErrorFields | null> {
    return writeBytes(this.backend, p, bytes, preconditions);
  }
}
