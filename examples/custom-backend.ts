/**
 * A complete custom backend in one file: `MapBackend` keeps files in a `Map`, written from scratch
 * on the deepfs contract with the helpers of `@deepfs/core` (path checks, read windows, grep, glob,
 * edit replacement, preconditions). `test/custom-backend.test.ts` runs the whole
 * `@deepfs/conformance` suite against it, exactly as a third party would test their own backend:
 *
 * ```ts
 * import { defineBackendContract } from "@deepfs/conformance";
 * defineBackendContract({ name: "MapBackend", create: () => new MapBackend() });
 * ```
 *
 * To back it by another store (Redis, a KV service...), replace the `Map` calls; the rules around
 * them stay. For a network store, also make `edit` a compare-and-swap on the etag and retry.
 *
 * Run: `pnpm exec tsx custom-backend.ts` (from `examples/`): a real deep agent uses it.
 */

import { runAgentScenario } from "@deepfs/conformance/agent";
import {
  type BackendCapabilities,
  type BackendProtocol,
  bytesForWrite,
  checkDirPath,
  checkPath,
  checkPreconditions,
  comparePaths,
  contentFromBytes,
  createFileData,
  type DeleteResult,
  dirPrefix,
  type EditResult,
  type ErrorCode,
  type FileDataV2,
  type FileDownloadResponse,
  type FileInfo,
  type FileOperationError,
  type FileUploadResponse,
  failure,
  fileDataToBytes,
  type GlobResult,
  type GrepResult,
  getMimeType,
  grepTexts,
  isTextMimeType,
  isWithin,
  type LsResult,
  notFound,
  parentDir,
  parseGlobArgs,
  parseGrepArgs,
  planEdit,
  type ReadRawResult,
  type ReadResult,
  readResultOf,
  relativeTo,
  utf8ByteLength,
  type WriteOptions,
  type WriteResult,
  writeConflict,
} from "@deepfs/core";
import { runIfMain } from "./lib/run-main.js";

type Failure = { error: string; code: ErrorCode };

interface StoredFile {
  data: FileDataV2;
  /** Changes on every change of content: a counter, so it never repeats. */
  etag: string;
  size: number;
}

/** Files in a `Map` keyed by normalised virtual path. Directories are implicit. */
export class MapBackend implements BackendProtocol, AsyncDisposable {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: true, // searched where the data is (this process), nothing is downloaded
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };

  private readonly files = new Map<string, StoredFile>();
  private version = 0;

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const entries = new Map<string, FileInfo>();
    for (const [filePath, file] of this.files) {
      if (filePath === dir.path || !isWithin(filePath, dir.path)) continue;
      const rel = relativeTo(filePath, dir.path);
      const slash = rel.indexOf("/");
      if (slash === -1) {
        entries.set(filePath, { path: filePath, is_dir: false, size: file.size, modified_at: file.data.modified_at });
      } else {
        const child = `${dirPrefix(dir.path)}${rel.slice(0, slash)}/`;
        entries.set(child, { path: child, is_dir: true, size: 0 });
      }
    }
    return { files: [...entries.values()].sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const found = this.lookup(filePath);
    if ("error" in found) return found;
    const { content, mimeType } = found.file.data;
    // The contract's read answer: bytes as they are, text as a window (invalid UTF-8 flagged).
    return readResultOf(
      typeof content === "string" ? content : content.slice(),
      mimeType,
      found.file.etag,
      offset,
      limit,
    );
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const found = this.lookup(filePath);
    if ("error" in found) return found;
    return { data: { ...found.file.data }, etag: found.file.etag };
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    // Text paths store the text; binary paths (by extension) receive base64, as in deepagents.
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    const blocked = this.blockedWrite(path, options);
    if (blocked) return blocked;
    return { path, etag: this.store(path, contentFromBytes(path, bytes)).etag };
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
    const { path, file } = found;
    // Preconditions, binary check, the replacement itself and old === new: the contract's rules.
    const plan = planEdit(
      path,
      { etag: file.etag, content: file.data.content, mimeType: file.data.mimeType },
      oldString,
      newString,
      replaceAll,
      options,
    );
    if ("error" in plan) return plan;
    if ("done" in plan) return plan.done;
    // No await between reading and storing: the edit is atomic within this process.
    return { path, occurrences: plan.occurrences, etag: this.store(path, plan.content).etag };
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
    for (const [filePath, { data }] of this.files) {
      if (typeof data.content === "string" && isTextMimeType(data.mimeType)) {
        texts.push({ path: filePath, text: data.content });
      }
    }
    // The core matcher applies the search path, the glob filter, binary skipping, order and maxCount.
    return grepTexts(texts, parsed.query);
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    // Validates the pattern like a path (no `.`/`..` segments, bounded cost) before any lookup.
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { matches, root } = parsed.query;
    const files: FileInfo[] = [];
    for (const [filePath, file] of this.files) {
      if (isWithin(filePath, root) && matches(filePath)) {
        files.push({ path: filePath, is_dir: false, size: file.size, modified_at: file.data.modified_at });
      }
    }
    return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (this.files.delete(path)) return { path };
    const below = [...this.files.keys()].filter((p) => p !== path && isWithin(p, path));
    if (below.length === 0) return notFound(path);
    for (const p of below) this.files.delete(p);
    return { path };
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return files.map(([rawPath, bytes]): FileUploadResponse => {
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
      if (blocked) return { path, error: coarse(blocked.code), code: blocked.code, message: blocked.error };
      this.store(path, contentFromBytes(path, bytes.slice()));
      return { path, error: null };
    });
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return paths.map((rawPath): FileDownloadResponse => {
      const found = this.lookup(rawPath);
      if ("error" in found) {
        return {
          path: found.path ?? rawPath,
          content: null,
          error: coarse(found.code),
          code: found.code,
          message: found.error,
        };
      }
      return { path: found.path, content: fileDataToBytes(found.file.data).slice(), error: null };
    });
  }

  /** Nothing to release for a Map; a networked store would close its client here. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private isDirectory(path: string): boolean {
    const prefix = dirPrefix(path);
    for (const p of this.files.keys()) if (p.startsWith(prefix)) return true;
    return false;
  }

  /** The stored file at a path, or the failure to return (with the normalised path when valid). */
  private lookup(rawPath: string): { path: string; file: StoredFile } | (Failure & { path?: string }) {
    const checked = checkPath(rawPath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const file = this.files.get(path);
    if (file) return { path, file };
    if (path === "/" || this.isDirectory(path)) {
      return { path, ...failure("is_directory", `'${path}' is a directory, not a file`) };
    }
    return { path, ...notFound(path) };
  }

  /** Why a write to `path` must not happen, or null. */
  private blockedWrite(path: string, options: WriteOptions | undefined): Failure | null {
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/" || this.isDirectory(path)) return failure("is_directory", `'${path}' is a directory, not a file`);
    for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
      if (this.files.has(dir)) {
        return failure("not_a_directory", `'${dir}' is a file, so '${path}' cannot be created below it`);
      }
    }
    const existing = this.files.get(path);
    return existing ? checkPreconditions(path, existing.etag, options) : writeConflict(path, options);
  }

  /** Stores new content, keeping `created_at` of the file it replaces. */
  private store(path: string, content: string | Uint8Array): StoredFile {
    const data = createFileData(content, this.files.get(path)?.data.created_at, getMimeType(path));
    const size = typeof content === "string" ? utf8ByteLength(content) : content.byteLength;
    const file = { data, size, etag: `v${++this.version}` };
    this.files.set(path, file);
    return file;
  }
}

/** The reference's coarse upload/download code for a precise deepfs code. */
function coarse(code: ErrorCode): FileOperationError {
  return code === "file_not_found" || code === "permission_denied" || code === "is_directory" || code === "invalid_path"
    ? code
    : "invalid_path";
}

/** A real deep agent (with a scripted, offline model) works on a MapBackend. */
export async function main() {
  await using backend = new MapBackend();
  const scenario = await runAgentScenario(backend, { root: "/work" });
  const todo = await backend.read(scenario.files.todo);
  return {
    tools: scenario.toolResults.map((r) => r.name),
    todoAfterAgent: todo.content,
    edited: todo.content === scenario.files.todoEdited.replace(/\n$/, ""),
    files: (await backend.glob("**/*")).files?.map((f) => f.path),
  };
}

runIfMain(import.meta.url, main);
