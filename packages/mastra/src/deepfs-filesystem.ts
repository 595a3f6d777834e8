import {
  type BackendProtocol,
  baseName,
  contentFromBytes,
  type WriteOptions as DeepfsWriteOptions,
  type ErrorFields,
  type FileInfo,
  fileDataToBytes,
  getMimeType,
  isBinaryPath,
  isFailure,
  isWithin,
  joinPath,
  parentDir,
  relativeTo,
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
  UnsupportedGrepPatternError,
  type WriteOptions,
} from "@mastra/core/workspace";
import { DeepfsFilesystemError, toMastraError } from "./errors.js";
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

/** Characters that make a grep pattern more than a literal in a JS regex. */
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|]/;

/** How many times `appendFile` re-reads and retries when another writer changed the file meanwhile. */
const APPEND_ATTEMPTS = 5;

interface PathStat {
  type: "file" | "directory";
  size: number;
  modifiedAt: Date;
}

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
  /** Directories made by `mkdir` that may have no file below them yet, with their creation time. */
  private readonly madeDirs = new Map<string, Date>();

  constructor(options: DeepfsFilesystemOptions) {
    super({ ...options, name: "DeepfsFilesystem" });
    this.backend = options.backend;
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
    if (options?.recursive === false) await this.assertParentDirectory(p, path);
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
      throw new StaleFileError(path, options.expectedMtime, (await this.statOrNull(p))?.modifiedAt ?? new Date());
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
    const stat = await this.statOrNull(p);
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
    const stat = await this.statOrNull(from);
    if (!stat) throw new FileNotFoundError(src);
    if (stat.type === "directory") {
      if (!options?.recursive) throw new IsDirectoryError(src);
      await this.copyTree(from, to, src, options.overwrite !== false);
      return;
    }
    await this.copyOne(from, to, src, dest, options?.overwrite !== false);
  }

  async moveFile(src: string, dest: string, options?: CopyOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(src, "moveFile");
    const from = toBackendPath(src, "read");
    const to = toBackendPath(dest, "write");
    const stat = await this.statOrNull(from);
    if (!stat) throw new FileNotFoundError(src);
    if (from === to) return;
    if (isWithin(to, from)) {
      throw new DeepfsFilesystemError(`Cannot move '${src}' into itself ('${dest}')`, "invalid_argument", dest);
    }
    const overwrite = options?.overwrite !== false;
    if (!overwrite && (await this.statOrNull(to))) throw new FileExistsError(dest);
    if (stat.type === "directory") await this.copyTree(from, to, src, overwrite);
    else await this.copyOne(from, to, src, dest, overwrite);
    if (stat.type === "directory" && !(await this.hasStoredEntries(from))) {
      this.forgetDirs(from);
      return;
    }
    const removed = await this.backend.delete(from);
    if (isFailure(removed)) throw toMastraError(removed, src, "delete");
    this.forgetDirs(from);
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "mkdir");
    const p = toBackendPath(path, "mkdir");
    const stat = await this.statOrNull(p);
    if (stat?.type === "file") throw new FileExistsError(path);
    if (stat?.type === "directory") return;
    const parent = parentDir(p);
    const parentStat = parent === "/" ? null : await this.statOrNull(parent);
    if (parentStat?.type === "file") throw new NotDirectoryError(parent);
    if (options?.recursive === false && parent !== "/" && !parentStat) throw new DirectoryNotFoundError(parent);
    const now = new Date();
    for (let dir = p; dir !== "/"; dir = parentDir(dir)) {
      if (!this.madeDirs.has(dir)) this.madeDirs.set(dir, now);
    }
  }

  async rmdir(path: string, options?: RemoveOptions): Promise<void> {
    await this.ensureReady();
    this.assertWritable(path, "rmdir");
    const p = toBackendPath(path, "delete");
    if (p === "/") throw new PermissionError(path, "rmdir (the root cannot be removed)");
    const stat = await this.statOrNull(p);
    if (!stat) {
      if (options?.force) return;
      throw new DirectoryNotFoundError(path);
    }
    if (stat.type !== "directory") throw new NotDirectoryError(path);
    const children = await this.listChildren(p, path);
    if (children.length > 0 && !options?.recursive) throw new DirectoryNotEmptyError(path);
    if (await this.hasStoredEntries(p)) {
      const result = await this.backend.delete(p);
      if (isFailure(result) && result.code !== "file_not_found") throw toMastraError(result, path, "delete");
    }
    this.forgetDirs(p);
  }

  async readdir(path: string, options?: ListOptions): Promise<FileEntry[]> {
    await this.ensureReady();
    const p = toBackendPath(path, "list");
    const stat = await this.statOrNull(p);
    if (!stat) throw new DirectoryNotFoundError(path);
    if (stat.type !== "directory") throw new NotDirectoryError(path);
    return this.listTree(p, path, options, options?.maxDepth ?? 100);
  }

  async exists(path: string): Promise<boolean> {
    await this.ensureReady();
    return (await this.statOrNull(toBackendPath(path, "stat"))) !== null;
  }

  async stat(path: string): Promise<FileStat> {
    await this.ensureReady();
    const p = toBackendPath(path, "stat");
    const stat = await this.statOrNull(p);
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
    const { pattern } = options;
    if (!options.caseSensitive || (options.contextLines ?? 0) > 0 || pattern === "" || REGEX_SYNTAX.test(pattern)) {
      throw new UnsupportedGrepPatternError(pattern, "deepfs searches case-sensitive literals without context");
    }
    const root = toBackendPath(options.path, "grep");
    const perFile = options.maxCountPerFile;
    const total = options.maxTotalMatches;
    // With a per-file cap the store cannot apply the total cap for us: matches it counts may be dropped.
    const found = await this.backend.grep(pattern, root, null, perFile === undefined ? (total ?? null) : null);
    if (isFailure(found)) throw toMastraError(found, options.path, "grep");
    const results: FilesystemGrepResult[] = [];
    let count = 0;
    for (const match of found.matches ?? []) {
      if (total !== undefined && count >= total) break;
      const path = relativeTo(match.path, root);
      let result = results.at(-1);
      if (result?.path !== path) {
        result = { path, matches: [] };
        results.push(result);
      }
      if (perFile !== undefined && result.matches.length >= perFile) continue;
      result.matches.push({ line: match.line, column: match.text.indexOf(pattern), text: match.text });
      count++;
    }
    return results.filter((r) => r.matches.length > 0);
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

  private async readBytes(p: string, path: string): Promise<Uint8Array> {
    const raw = await this.backend.readRaw(p);
    if (!isFailure(raw) && raw.data) return fileDataToBytes(raw.data);
    // Stores without real directories answer file_not_found for a directory; say what it is.
    if (raw.code === "file_not_found" && (await this.statOrNull(p))?.type === "directory") {
      throw new IsDirectoryError(path);
    }
    throw toMastraError(raw, path, "read");
  }

  /**
   * Stores `bytes` at `p` exactly: as text for valid UTF-8 on a text path, as base64 for a binary
   * path (deepfs `write` takes base64 there), both with the preconditions; otherwise by upload.
   * Answers the failure, or null.
   */
  private async writeBytes(
    p: string,
    bytes: Uint8Array,
    preconditions: DeepfsWriteOptions,
  ): Promise<ErrorFields | null> {
    const content = contentFromBytes(p, bytes);
    if (typeof content === "string" || isBinaryPath(p)) {
      const text = typeof content === "string" ? content : Buffer.from(content).toString("base64");
      const result = await this.backend.write(p, text, preconditions);
      return isFailure(result) ? result : null;
    }
    if (preconditions.ifNoneMatch || preconditions.ifMatch !== undefined) {
      const raw = await this.backend.readRaw(p);
      const exists = !isFailure(raw);
      if (preconditions.ifNoneMatch && exists) return { error: `'${p}' already exists`, code: "conflict" };
      if (preconditions.ifMatch !== undefined && (!exists || raw.etag !== preconditions.ifMatch)) {
        return { error: `'${p}' changed since it was read`, code: "conflict" };
      }
    }
    const [response] = await this.backend.uploadFiles([[p, bytes]]);
    if (!response || response.error === null) return null;
    return { error: response.message ?? `Upload of '${p}' failed`, code: response.code ?? response.error };
  }

  private async copyOne(from: string, to: string, src: string, dest: string, overwrite: boolean): Promise<void> {
    const bytes = await this.readBytes(from, src);
    const failed = await this.writeBytes(to, bytes, overwrite ? {} : { ifNoneMatch: "*" });
    if (!failed) return;
    if (failed.code === "conflict" && !overwrite) throw new FileExistsError(dest);
    throw toMastraError(failed, dest, "write");
  }

  /** Copies every file below `from` to the same place below `to`; `overwrite: false` skips existing ones. */
  private async copyTree(from: string, to: string, src: string, overwrite: boolean): Promise<void> {
    if (isWithin(to, from)) {
      throw new DeepfsFilesystemError(`Cannot copy '${src}' into itself`, "invalid_argument", src);
    }
    const listed = await this.backend.glob("**", from);
    if (isFailure(listed)) throw toMastraError(listed, src, "read");
    for (const file of listed.files ?? []) {
      if (file.is_dir) continue;
      const target = joinPath(to, relativeTo(file.path, from));
      const bytes = await this.readBytes(file.path, file.path);
      const failed = await this.writeBytes(target, bytes, overwrite ? {} : { ifNoneMatch: "*" });
      if (failed && !(failed.code === "conflict" && !overwrite)) throw toMastraError(failed, target, "write");
    }
    const now = new Date();
    for (const dir of [from, ...this.madeDirs.keys()]) {
      if (isWithin(dir, from)) this.madeDirs.set(joinPath(to, relativeTo(dir, from)), now);
    }
  }

  /** Type, size and mtime of `p`, from its parent's listing (or a directory made by `mkdir`); null if absent. */
  private async statOrNull(p: string): Promise<PathStat | null> {
    if (p === "/") return { type: "directory", size: 0, modifiedAt: new Date(0) };
    const listed = await this.backend.ls(parentDir(p));
    if (isFailure(listed)) {
      if (listed.code === "not_a_directory" || listed.code === "file_not_found") return null;
      throw toMastraError(listed, p, "stat");
    }
    const entry = (listed.files ?? []).find((f) => f.path === p || f.path === `${p}/`);
    if (entry) return statOf(entry);
    const made = this.madeDirs.get(p);
    return made ? { type: "directory", size: 0, modifiedAt: made } : null;
  }

  private async assertParentDirectory(p: string, path: string): Promise<void> {
    const parent = parentDir(p);
    if (parent === "/") return;
    const stat = await this.statOrNull(parent);
    if (!stat) throw new DirectoryNotFoundError(parentDir(path.startsWith("/") ? path : `/${path}`));
    if (stat.type !== "directory") throw new NotDirectoryError(parent);
  }

  /** Direct children of directory `p`: the store's, plus directories made by `mkdir` not yet in it. */
  private async listChildren(p: string, path: string): Promise<FileEntry[]> {
    const listed = await this.backend.ls(p);
    if (isFailure(listed)) throw toMastraError(listed, path, "list");
    const entries: FileEntry[] = [];
    const names = new Set<string>();
    for (const info of listed.files ?? []) {
      const name = baseName(info.is_dir ? info.path.replace(/\/$/, "") : info.path);
      names.add(name);
      entries.push(info.is_dir ? { name, type: "directory" } : { name, type: "file", size: info.size ?? 0 });
    }
    for (const dir of this.madeDirs.keys()) {
      if (dir === p || parentDir(dir) !== p) continue;
      const name = baseName(dir);
      if (!names.has(name)) entries.push({ name, type: "directory" });
    }
    return entries;
  }

  private async listTree(
    p: string,
    path: string,
    options: ListOptions | undefined,
    depth: number,
  ): Promise<FileEntry[]> {
    const extensions = options?.extension === undefined ? null : [options.extension].flat();
    const result: FileEntry[] = [];
    for (const entry of await this.listChildren(p, path)) {
      if (entry.type === "file" && extensions && !extensions.some((e) => matchesExtension(entry.name, e))) continue;
      result.push(entry);
      if (options?.recursive && entry.type === "directory" && depth > 0) {
        const below = await this.listTree(joinPath(p, entry.name), path, options, depth - 1);
        for (const child of below) result.push({ ...child, name: `${entry.name}/${child.name}` });
      }
    }
    return result;
  }

  /** True when the store itself has `p` (a file, or a directory with files or a real one). */
  private async hasStoredEntries(p: string): Promise<boolean> {
    const listed = await this.backend.ls(parentDir(p));
    return !isFailure(listed) && (listed.files ?? []).some((f) => f.path === p || f.path === `${p}/`);
  }

  private forgetDirs(p: string): void {
    for (const dir of [...this.madeDirs.keys()]) if (isWithin(dir, p)) this.madeDirs.delete(dir);
  }
}

function toBytes(content: FileContent): Uint8Array {
  return typeof content === "string" ? new Uint8Array(Buffer.from(content, "utf8")) : content;
}

function matchesExtension(name: string, extension: string): boolean {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return false;
  const ext = name.slice(dot);
  return extension === ext || extension === ext.slice(1);
}

function statOf(entry: FileInfo): PathStat {
  const modifiedAt = entry.modified_at ? new Date(entry.modified_at) : new Date(0);
  return entry.is_dir
    ? { type: "directory", size: 0, modifiedAt }
    : { type: "file", size: entry.size ?? 0, modifiedAt };
}
