import {
  type BackendCapabilities,
  type BackendProtocol,
  bytesForWrite,
  capGrepMatches,
  checkDirPath,
  checkPath,
  checkPreconditions,
  comparePaths,
  contentFromBytes,
  createFileData,
  DeepfsError,
  type DeleteResult,
  dirPrefix,
  type EditResult,
  type ErrorCode,
  type FileDownloadResponse,
  type FileInfo,
  type FileUploadResponse,
  failure,
  fileDataToBytes,
  type GlobResult,
  type GrepMatch,
  type GrepResult,
  getMimeType,
  grepFileText,
  isSearchableText,
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
  sortGrepMatches,
  type WriteOptions,
  type WriteResult,
  writeConflict,
} from "@deepfs/core";
import { type BaseStore, InMemoryStore } from "@langchain/langgraph";
import { failureFor, storeCall } from "./errors.js";
import {
  type BinaryEncoding,
  createdAtOf,
  decodeFileValue,
  encodeFileValue,
  etagOf,
  type StoredFile,
} from "./file-value.js";
import { withKeyLock, withKeyLocks } from "./key-lock.js";
import { currentNamespaceContext, type NamespaceOption, namespaceProblem, validateNamespace } from "./namespace.js";
import { PAGE_SIZE, scanNamespace } from "./store-scan.js";

type Failure = { error: string; code: ErrorCode };

/** Options of {@link StoreBackend}. */
export interface StoreBackendOptions {
  /** Any LangGraph store: `InMemoryStore`, `PostgresStore`, the store deepagents hands a backend factory, ... */
  store: BaseStore;
  /**
   * The namespace holding this backend's files, e.g. `["memories", userId]`: a fixed array, or a
   * function called on every operation with the current LangGraph run's `{ state, config,
   * assistantId }`, as deepagents calls it (one namespace per user, assistant or state field from
   * a single backend, e.g. `({ state }) => ["memories", state.userId]`). Components must be non-empty and must not
   * contain `. : * ? [ ] { } % \` or control characters; the first must not be `langgraph`.
   * The backend sees exactly this namespace: never a sibling (`acme-corp` for `acme`) nor a
   * deeper one (`["acme", "x"]`).
   */
  namespace: NamespaceOption;
  /**
   * How binary files are stored (see {@link BinaryEncoding}). Default: `"bytes"` for an
   * `InMemoryStore` (as deepagents' own StoreBackend does), `"base64"` for every other store.
   * Both forms are always readable.
   */
  binaryEncoding?: BinaryEncoding;
}

/** Attempts of an edit that another process keeps changing under it before it answers `conflict`. */
const EDIT_ATTEMPTS = 4;

/**
 * Files in a LangGraph `BaseStore`: one store item per file, keyed by its virtual path, valued
 * with FileData v2 as deepagents' own `StoreBackend` writes it (so memories written by either
 * are readable by the other), in exactly one namespace.
 *
 * Edits and conditional writes are atomic within a process (a lock per file, shared by every
 * backend on the same store object). `BaseStore` has no compare-and-swap, so across processes
 * an edit re-reads the file just before it writes and re-applies (or answers `conflict` for
 * `ifMatch`) when it changed; a change landing between that re-read and the write can still be
 * lost.
 *
 * @example
 * ```ts
 * const store = new InMemoryStore();
 * const agent = createDeepAgent({
 *   store,
 *   backend: new CompositeBackend(new StateBackend(), {
 *     "/memories/": new StoreBackend({ store, namespace: ["memories"] }),
 *   }),
 * });
 * // Or one namespace per user, from the runtime deepagents passes a backend factory:
 * // backend: (runtime) => new StoreBackend({ store: runtime.store, namespace: ["memories", runtime.context.userId] })
 * ```
 */
export class StoreBackend implements BackendProtocol {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: false,
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };

  /** The store the files live in (not owned: `close()` leaves it open). */
  readonly store: BaseStore;
  readonly binaryEncoding: BinaryEncoding;
  private readonly namespaceOption: NamespaceOption;

  constructor(options: StoreBackendOptions) {
    const store = options?.store as Partial<BaseStore> | undefined;
    if (typeof store?.get !== "function" || typeof store.search !== "function" || typeof store.batch !== "function") {
      throw new DeepfsError("invalid_argument", "StoreBackend needs `store`: a LangGraph BaseStore");
    }
    this.store = options.store;
    this.namespaceOption =
      typeof options.namespace === "function" ? options.namespace : validateNamespace(options.namespace);
    const encoding = options.binaryEncoding ?? (options.store instanceof InMemoryStore ? "bytes" : "base64");
    if (encoding !== "bytes" && encoding !== "base64") {
      throw new DeepfsError("invalid_argument", 'StoreBackend `binaryEncoding` must be "bytes" or "base64"');
    }
    this.binaryEncoding = encoding;
  }

  /**
   * The namespace this call would use: the fixed one, or what the namespace function returns for
   * the current LangGraph run. Throws a `DeepfsError` when the function returns an invalid one.
   */
  currentNamespace(): readonly string[] {
    const resolved = this.resolveNamespace();
    if ("error" in resolved) throw new DeepfsError(resolved.code, resolved.error);
    return resolved.namespace;
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const prefix = dirPrefix(dir.path);
    return this.run(`list '${dir.path}'`, async (ns) => {
      const entries = new Map<string, FileInfo>();
      for await (const page of scanNamespace(this.store, ns)) {
        for (const item of page) {
          if (!item.path.startsWith(prefix)) continue;
          const rest = item.path.slice(prefix.length);
          const slash = rest.indexOf("/");
          if (slash !== -1) {
            const child = `${prefix}${rest.slice(0, slash)}/`;
            if (!entries.has(child)) entries.set(child, { path: child, is_dir: true, size: 0 });
            continue;
          }
          const file = decodeFileValue(item.path, item.value);
          if (file) entries.set(item.path, this.infoOf(item.path, file));
        }
      }
      return { files: [...entries.values()].sort((a, b) => comparePaths(a.path, b.path)) };
    });
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.run(`read '${path}'`, async (ns) => {
      const found = await this.lookup(ns, path);
      if ("error" in found) return found;
      const { content, mimeType } = found.data;
      const etag = etagOf(found.data);
      return readResultOf(content, mimeType, etag, offset, limit);
    });
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.run(`read '${path}'`, async (ns) => {
      const found = await this.lookup(ns, path);
      if ("error" in found) return found;
      return { data: { ...found.data }, etag: etagOf(found.data) };
    });
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    return this.run(`write '${path}'`, (ns) =>
      withKeyLock(this.store, lockKey(ns, path), async (): Promise<WriteResult> => {
        if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
        const current = await this.getFile(ns, path);
        const currentEtag = current ? etagOf(current.data) : null;
        const blocked =
          currentEtag !== null
            ? checkPreconditions(path, currentEtag, options)
            : (writeConflict(path, options) ?? (await this.structureProblem(ns, path)));
        if (blocked) return blocked;
        const data = createFileData(contentFromBytes(path, bytes), current?.data.created_at, getMimeType(path));
        if (
          (options?.ifMatch !== undefined || options?.ifNoneMatch === "*") &&
          (await this.changed(ns, path, currentEtag))
        ) {
          return failure("conflict", `'${path}' changed while it was being written; read it again and retry`);
        }
        await this.put(ns, path, data);
        return { path, etag: etagOf(data) };
      }),
    );
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
    return this.run(`edit '${path}'`, (ns) =>
      withKeyLock(this.store, lockKey(ns, path), async (): Promise<EditResult> => {
        for (let attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
          const found = await this.lookup(ns, path);
          if ("error" in found) return found;
          const etag = etagOf(found.data);
          const plan = planEdit(
            path,
            { etag, content: found.data.content, mimeType: found.data.mimeType },
            oldString,
            newString,
            replaceAll,
            options,
          );
          if ("error" in plan) return plan;
          if ("done" in plan) return plan.done;
          const data = createFileData(plan.content, found.data.created_at, found.data.mimeType);
          // Another process may have written since the read: re-apply to its version instead.
          if (await this.changed(ns, path, etag)) {
            if (options?.ifMatch !== undefined) break;
            continue;
          }
          await this.put(ns, path, data);
          return { path, occurrences: plan.occurrences, etag: etagOf(data) };
        }
        return failure("conflict", `'${path}' kept changing while it was being edited; read it again and retry`);
      }),
    );
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { query } = parsed;
    // One more than the cap, so that `truncated` can tell whether more existed.
    const keep = query.maxCount + 1;
    return this.run(`search '${query.dir}'`, async (ns) => {
      let matches: GrepMatch[] = [];
      for await (const page of scanNamespace(this.store, ns)) {
        for (const item of page) {
          if (!query.accepts(item.path)) continue;
          const file = decodeFileValue(item.path, item.value);
          const text = file?.data.content;
          if (typeof text !== "string" || !isTextMimeType(file?.data.mimeType ?? "") || !isSearchableText(text))
            continue;
          for (const match of grepFileText(item.path, text, query.pattern, keep)) matches.push(match);
        }
        // Pages arrive in store order: keep only the first `keep` matches in path order so far.
        if (matches.length > keep) matches = sortGrepMatches(matches).slice(0, keep);
      }
      return capGrepMatches(sortGrepMatches(matches), query.maxCount);
    });
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { dir, matches, root } = parsed.query;
    return this.run(`search '${dir}'`, async (ns) => {
      const files: FileInfo[] = [];
      for await (const page of scanNamespace(this.store, ns)) {
        for (const item of page) {
          if (!isWithin(item.path, root) || !matches(item.path)) continue;
          const file = decodeFileValue(item.path, item.value);
          if (file) files.push(this.infoOf(item.path, file));
        }
      }
      return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
    });
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.run(`delete '${path}'`, async (ns): Promise<DeleteResult> => {
      // Under the lock of every key it removes (taken at once), so that an edit in progress
      // finishes first and one queued behind it finds the file gone instead of writing it back.
      if (await this.getFile(ns, path)) {
        return withKeyLock(this.store, lockKey(ns, path), async (): Promise<DeleteResult> => {
          if (!(await this.getFile(ns, path))) return notFound(path);
          await storeCall(() => this.store.delete([...ns], path));
          return { path };
        });
      }
      const prefix = dirPrefix(path);
      const keys: string[] = [];
      for await (const page of scanNamespace(this.store, ns)) {
        for (const item of page) if (item.path.startsWith(prefix)) keys.push(item.path);
      }
      if (keys.length === 0) return notFound(path);
      const locked = keys.map((key) => lockKey(ns, key));
      return withKeyLocks(this.store, locked, async (): Promise<DeleteResult> => {
        for (let i = 0; i < keys.length; i += PAGE_SIZE) {
          const batch = keys.slice(i, i + PAGE_SIZE).map((key) => ({ namespace: [...ns], key, value: null }));
          await storeCall(() => this.store.batch(batch));
        }
        return { path };
      });
    });
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const responses: FileUploadResponse[] = [];
    const pending: Array<{ index: number; path: string; bytes: Uint8Array }> = [];
    for (const [rawPath, bytes] of files) {
      const checked = checkPath(rawPath);
      if (!checked.ok) {
        responses.push({ path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error });
      } else if (!(bytes instanceof Uint8Array)) {
        const message = `Content for '${checked.path}' must be bytes`;
        responses.push({ path: checked.path, error: "invalid_path", code: "invalid_argument", message });
      } else {
        pending.push({ index: responses.length, path: checked.path, bytes });
        responses.push({ path: checked.path, error: null });
      }
    }
    if (pending.length === 0) return responses;
    const fail = (index: number, result: Failure) => {
      const entry = responses[index] as FileUploadResponse;
      entry.error = result.code === "is_directory" ? "is_directory" : "invalid_path";
      entry.code = result.code;
      entry.message = result.error;
    };
    const outcome = await this.run("upload files", (ns) =>
      // Under the lock of every path it writes, as write and edit take it: an edit never
      // re-writes a file from the content it read before an upload replaced it.
      withKeyLocks(
        this.store,
        pending.map(({ path }) => lockKey(ns, path)),
        () => this.uploadLocked(ns, pending, fail),
      ),
    );
    if ("error" in outcome && outcome.error !== undefined) {
      for (const { index } of pending) fail(index, outcome as Failure);
    }
    return responses;
  }

  /** The body of `uploadFiles`, run under the lock of every pending path. */
  private async uploadLocked(
    ns: readonly string[],
    pending: Array<{ index: number; path: string; bytes: Uint8Array }>,
    fail: (index: number, result: Failure) => void,
  ): Promise<Record<string, never>> {
    // One listing for the whole batch: which keys exist (with their created_at) and which
    // directories they imply, updated as the batch itself adds files.
    const createdAt = new Map<string, string | undefined>();
    const dirs = new Set<string>();
    const addFile = (path: string) => {
      for (let dir = parentDir(path); dir !== "/" && !dirs.has(dir); dir = parentDir(dir)) dirs.add(dir);
    };
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        createdAt.set(item.path, createdAtOf(item.value));
        addFile(item.path);
      }
    }
    const puts: Array<{ namespace: string[]; key: string; value: Record<string, unknown> }> = [];
    const putIndexes: number[] = [];
    for (const { index, path, bytes } of pending) {
      const blocked = uploadBlocker(path, createdAt, dirs);
      if (blocked) {
        fail(index, blocked);
        continue;
      }
      const data = createFileData(contentFromBytes(path, bytes.slice()), createdAt.get(path), getMimeType(path));
      puts.push({ namespace: [...ns], key: path, value: { ...encodeFileValue(data, this.binaryEncoding) } });
      putIndexes.push(index);
      createdAt.set(path, data.created_at);
      addFile(path);
    }
    for (let i = 0; i < puts.length; i += PAGE_SIZE) {
      const batch = puts.slice(i, i + PAGE_SIZE);
      try {
        await storeCall(() => this.store.batch(batch));
      } catch (error) {
        const result = failureFor(error, "store the files");
        for (const index of putIndexes.slice(i)) fail(index, result);
        return {};
      }
    }
    return {};
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return Promise.all(
      paths.map(async (rawPath): Promise<FileDownloadResponse> => {
        const checked = checkPath(rawPath);
        if (!checked.ok) {
          return { path: rawPath, content: null, error: "invalid_path", code: "invalid_path", message: checked.error };
        }
        const path = checked.path;
        const found = await this.run(`read '${path}'`, (ns) => this.lookup(ns, path));
        if ("error" in found) {
          const { code, error } = found as Failure;
          const coarse = code === "is_directory" ? "is_directory" : "file_not_found";
          return { path, content: null, error: coarse, code, message: error };
        }
        return { path, content: fileDataToBytes(found.data), error: null };
      }),
    );
  }

  /** Nothing to release: the store was given, not created, and stays open. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Runs `body` in this call's namespace, turning store failures into a returned result. */
  private async run<T>(what: string, body: (namespace: readonly string[]) => Promise<T>): Promise<T | Failure> {
    const resolved = this.resolveNamespace();
    if ("error" in resolved) return resolved;
    try {
      return await body(resolved.namespace);
    } catch (error) {
      return failureFor(error, what);
    }
  }

  private resolveNamespace(): { namespace: readonly string[] } | Failure {
    const option = this.namespaceOption;
    if (typeof option !== "function") return { namespace: option as readonly string[] };
    let namespace: unknown;
    try {
      namespace = option(currentNamespaceContext());
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      return failure("invalid_argument", `The StoreBackend namespace function threw (${name})`);
    }
    const problem = namespaceProblem(namespace);
    if (problem)
      return failure(
        "invalid_argument",
        `The StoreBackend namespace function returned an invalid namespace: ${problem}`,
      );
    return { namespace: namespace as readonly string[] };
  }

  private async getFile(ns: readonly string[], path: string): Promise<StoredFile | null> {
    const item = await storeCall(() => this.store.get([...ns], path));
    return item ? decodeFileValue(path, item.value) : null;
  }

  /** True when the file's etag is no longer `etag` (null: the file did not exist). */
  private async changed(ns: readonly string[], path: string, etag: string | null): Promise<boolean> {
    const now = await this.getFile(ns, path);
    return (now ? etagOf(now.data) : null) !== etag;
  }

  private async put(ns: readonly string[], path: string, data: StoredFile["data"]): Promise<void> {
    const value = encodeFileValue(data, this.binaryEncoding);
    await storeCall(() => this.store.put([...ns], path, { ...value }));
  }

  /** The file at `path`, or why there is none (`is_directory` when files exist below it). */
  private async lookup(ns: readonly string[], path: string): Promise<StoredFile | Failure> {
    const file = await this.getFile(ns, path);
    if (file) return file;
    const prefix = dirPrefix(path);
    for await (const page of scanNamespace(this.store, ns)) {
      if (page.some((item) => item.path.startsWith(prefix))) {
        return failure("is_directory", `'${path}' is a directory, not a file`);
      }
    }
    return notFound(path);
  }

  /** Why a new file cannot be created at `path`: a directory there, or a file as a parent. */
  private async structureProblem(ns: readonly string[], path: string): Promise<Failure | null> {
    if (path === "/") return failure("is_directory", `'${path}' is a directory, not a file`);
    const prefix = dirPrefix(path);
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        if (item.path.startsWith(prefix)) return failure("is_directory", `'${path}' is a directory, not a file`);
        if (path.startsWith(dirPrefix(item.path))) {
          return failure("not_a_directory", `'${item.path}' is a file, so '${path}' cannot be created below it`);
        }
      }
    }
    return null;
  }

  private infoOf(path: string, file: StoredFile): FileInfo {
    return { path, is_dir: false, size: file.size, modified_at: file.data.modified_at };
  }
}

function lockKey(ns: readonly string[], path: string): string {
  return JSON.stringify([ns, path]);
}

/** Why an upload to `path` must not happen, given the keys and directories of the namespace. */
function uploadBlocker(path: string, files: Map<string, unknown>, dirs: Set<string>): Failure | null {
  if (path === "/" || dirs.has(path)) return failure("is_directory", `'${path}' is a directory, not a file`);
  for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
    if (files.has(dir))
      return failure("not_a_directory", `'${dir}' is a file, so '${path}' cannot be created below it`);
  }
  return null;
}
