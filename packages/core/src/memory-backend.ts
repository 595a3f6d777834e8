import { checkPreconditions, planEdit, readResultOf, writeConflict } from "./backend-helpers.js";
import { failure, notFound } from "./errors.js";
import { contentFromBytes, createFileData, decodeBase64Content, fileDataToBytes, toFileDataV2 } from "./file-data.js";
import { parseGlobArgs } from "./glob.js";
import { grepTexts, parseGrepArgs } from "./grep.js";
import { getMimeType, isTextMimeType } from "./mime.js";
import { checkDirPath, checkPath, comparePaths, isWithin, parentDir } from "./paths.js";
import type {
  BackendCapabilities,
  BackendProtocol,
  DeleteResult,
  EditResult,
  FileData,
  FileDataV2,
  FileDownloadResponse,
  FileInfo,
  FileUploadResponse,
  GlobResult,
  GrepResult,
  LsResult,
  ReadRawResult,
  ReadResult,
  WriteOptions,
  WriteResult,
} from "./protocol.js";
import { utf8ByteLength } from "./text.js";

interface Entry {
  data: FileDataV2;
  /** Given on first use (most stored files are never asked for theirs). */
  etag?: string;
  size: number;
}

/** Options of {@link MemoryBackend}. */
export interface MemoryBackendOptions {
  /** Files present from the start: FileData (v1 or v2), text, or bytes, by virtual path. */
  files?: Record<string, FileData | string | Uint8Array>;
}

/**
 * Files in the memory of this process, in one store shared by every caller for the life of the
 * object (every thread and user of an agent sees the same files): binary-exact, with etags and
 * atomic edits, constant work per write (an index of directories is kept up to date instead of
 * copying or scanning the whole file map).
 *
 * Use it for scripts, tests and the CLI, or on purpose as a store shared across runs. For an
 * agent's per-thread scratch files, use {@link StateBackend}, which keeps them in the thread's state.
 */
export class MemoryBackend implements BackendProtocol {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: true,
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };

  private readonly entries = new Map<string, Entry>();
  /** Directory → its direct children (files, and directories without a trailing `/`). */
  private readonly children = new Map<string, Set<string>>();
  private version = 0;

  constructor(options: MemoryBackendOptions = {}) {
    for (const [path, value] of Object.entries(options.files ?? {})) {
      const checked = checkPath(path);
      if (!checked.ok) throw new TypeError(checked.error);
      const data: FileDataV2 =
        typeof value === "string" || value instanceof Uint8Array
          ? createFileData(value, undefined, getMimeType(checked.path))
          : toFileDataV2(value, checked.path);
      this.load(checked.path, data);
    }
  }

  /** A snapshot of every stored file by path, for inspecting what an agent wrote. */
  get files(): Record<string, FileDataV2> {
    const out: Record<string, FileDataV2> = {};
    for (const path of [...this.entries.keys()].sort(comparePaths)) out[path] = (this.entries.get(path) as Entry).data;
    return out;
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const files: FileInfo[] = [];
    for (const child of this.children.get(dir.path) ?? []) {
      const entry = this.entries.get(child);
      files.push(
        entry
          ? { path: child, is_dir: false, size: entry.size, modified_at: entry.data.modified_at }
          : { path: `${child}/`, is_dir: true, size: 0 },
      );
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const found = this.lookup(filePath);
    if ("error" in found) return found;
    const { content, mimeType } = found.entry.data;
    const etag = this.etagOf(found.entry);
    return readResultOf(typeof content === "string" ? content : content.slice(), mimeType, etag, offset, limit);
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const found = this.lookup(filePath);
    if ("error" in found) return found;
    return { data: { ...found.entry.data }, etag: this.etagOf(found.entry) };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    // Text is kept as the string itself (made well-formed, as its UTF-8 encoding would make it);
    // only a binary path takes base64 that must be decoded.
    const mimeType = getMimeType(path);
    const stored = isTextMimeType(mimeType) ? content.toWellFormed() : decodeBase64Content(content);
    if (stored === null) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    const blocked = this.blockedWrite(path, options);
    if (blocked) return blocked;
    const entry = this.put(path, this.nextData(path, stored, mimeType));
    return { path, etag: this.etagOf(entry) };
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const found = this.lookup(filePath);
    if ("error" in found) return found;
    const { path, entry } = found;
    const plan = planEdit(
      path,
      { etag: this.etagOf(entry), content: entry.data.content, mimeType: entry.data.mimeType },
      oldString,
      newString,
      replaceAll,
      options,
    );
    if ("error" in plan) return plan;
    if ("done" in plan) return plan.done;
    const next = this.put(path, this.nextData(path, plan.content));
    return { path, occurrences: plan.occurrences, etag: this.etagOf(next) };
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const texts: Array<{ path: string; text: string }> = [];
    for (const [p, entry] of this.entries) {
      const { content, mimeType } = entry.data;
      if (typeof content === "string" && isTextMimeType(mimeType)) texts.push({ path: p, text: content });
    }
    return grepTexts(texts, parsed.query);
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { matches, root } = parsed.query;
    const files: FileInfo[] = [];
    for (const [p, entry] of this.entries) {
      if (isWithin(p, root) && matches(p)) {
        files.push({ path: p, is_dir: false, size: entry.size, modified_at: entry.data.modified_at });
      }
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (this.entries.has(path)) {
      this.remove(path);
      return { path };
    }
    const below = [...this.filesBelow(path)];
    if (below.length === 0) return notFound(path);
    for (const p of below) this.remove(p);
    return { path };
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return files.map(([rawPath, bytes]) => {
      const checked = checkPath(rawPath);
      if (!checked.ok) return { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
      const path = checked.path;
      if (!(bytes instanceof Uint8Array)) {
        return {
          path,
          error: "invalid_path",
          code: "invalid_argument",
          message: `Content for '${path}' must be bytes`,
        };
      }
      const blocked = this.blockedWrite(path, undefined);
      if (blocked)
        return {
          path,
          error: blocked.code === "is_directory" ? "is_directory" : "invalid_path",
          code: blocked.code,
          message: blocked.error,
        };
      this.put(path, this.nextData(path, contentFromBytes(path, bytes.slice())));
      return { path, error: null };
    });
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return paths.map((rawPath) => {
      const found = this.lookup(rawPath);
      if ("error" in found) {
        const error = found.code === "invalid_path" || found.code === "is_directory" ? found.code : "file_not_found";
        return { path: found.path ?? rawPath, content: null, error, code: found.code, message: found.error };
      }
      return { path: found.path, content: fileDataToBytes(found.entry.data).slice(), error: null };
    });
  }

  /** Resolves a file path to its entry, or the failure to return (with the normalised path). */
  private lookup(
    rawPath: string,
  ):
    | { path: string; entry: Entry }
    | { path?: string; error: string; code: "invalid_path" | "file_not_found" | "is_directory" } {
    const checked = checkPath(rawPath);
    if (!checked.ok) return checked;
    const path = checked.path;
    const entry = this.entries.get(path);
    if (entry) return { path, entry };
    if (this.children.has(path))
      return { path, ...failure("is_directory", `'${path}' is a directory, not a file`) } as {
        path: string;
        error: string;
        code: "is_directory";
      };
    return { path, ...notFound(path) };
  }

  /** Why a write to `path` must not happen (directory in the way, file as a parent, precondition), or null. */
  private blockedWrite(path: string, options: WriteOptions | undefined) {
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/" || this.children.has(path)) return failure("is_directory", `'${path}' is a directory, not a file`);
    // A known directory has only directories above it; otherwise look for a file in the way.
    if (!this.children.has(parentDir(path))) {
      for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
        if (this.entries.has(dir))
          return failure("not_a_directory", `'${dir}' is a file, so '${path}' cannot be created below it`);
      }
    }
    const existing = this.entries.get(path);
    if (existing) return checkPreconditions(path, this.etagOf(existing), options);
    return writeConflict(path, options);
  }

  /** FileData for new content at `path`, keeping `created_at` of an existing file. */
  private nextData(path: string, content: string | Uint8Array, mimeType = getMimeType(path)): FileDataV2 {
    return createFileData(content, this.entries.get(path)?.data.created_at, mimeType);
  }

  /**
   * Stores `data` at `path` as a file that was already there: no change is reported. Only for
   * filling a new instance; `path` must be valid and canonical, and nothing may be in its way.
   */
  protected load(path: string, data: FileDataV2): void {
    this.index(path, data);
  }

  /** Called after every change made by a method (`null`: deleted); a subclass records them here. */
  protected changed(_path: string, _data: FileDataV2 | null): void {}

  /** The etag of stored data: a new one for every change (a subclass may derive it from the data). */
  protected etagFor(_data: FileDataV2): string {
    return `m${(++this.version).toString(36)}`;
  }

  private etagOf(entry: Entry): string {
    entry.etag ??= this.etagFor(entry.data);
    return entry.etag;
  }

  private put(path: string, data: FileDataV2): Entry {
    const entry = this.index(path, data);
    this.changed(path, data);
    return entry;
  }

  private index(path: string, data: FileDataV2): Entry {
    const size = typeof data.content === "string" ? utf8ByteLength(data.content) : data.content.byteLength;
    const entry: Entry = { data, size };
    if (!this.entries.has(path)) {
      // Register the file and any missing ancestor directories, stopping at the first known one.
      let child = path;
      for (let dir = parentDir(child); ; child = dir, dir = parentDir(dir)) {
        const siblings = this.children.get(dir);
        if (siblings) {
          siblings.add(child);
          break;
        }
        this.children.set(dir, new Set([child]));
        if (dir === "/") break;
      }
    }
    this.entries.set(path, entry);
    return entry;
  }

  private remove(path: string): void {
    this.entries.delete(path);
    this.changed(path, null);
    // Unlink the file, then every ancestor directory left empty.
    let child = path;
    for (let dir = parentDir(child); ; child = dir, dir = parentDir(dir)) {
      const siblings = this.children.get(dir);
      siblings?.delete(child);
      if (dir === "/" || (siblings && siblings.size > 0)) break;
      this.children.delete(dir);
    }
  }

  private *filesBelow(dir: string): Generator<string> {
    for (const child of this.children.get(dir) ?? []) {
      if (this.entries.has(child)) yield child;
      else yield* this.filesBelow(child);
    }
  }
}
