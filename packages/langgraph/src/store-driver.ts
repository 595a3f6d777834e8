/**
 * How a LangGraph `BaseStore` does each primitive: one item per file in exactly one namespace,
 * keyed by the virtual path, valued with FileData v2 as deepagents writes it. Directories are the
 * prefixes of keys; listing, searching and "is there a directory here" page through the namespace.
 */
import {
  contentFromBytes,
  createFileData,
  dirPrefix,
  GrepHits,
  type GrepMatch,
  type GrepQuery,
  GrepTally,
  getMimeType,
  grepAnswerTooLarge,
  grepFileText,
  isSearchableText,
  isTextMimeType,
  isWithin,
  parentDir,
} from "@deepfs/core";
import {
  type BatchFile,
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type Fault,
  FaultError,
  fault,
  isFault,
  KeyedLock,
  type StoreLimits,
  type WriteCall,
} from "@deepfs/core/kit";
import type { BaseStore } from "@langchain/langgraph";
import { storeCall } from "./errors.js";
import {
  type BinaryEncoding,
  createdAtOf,
  decodeFileValue,
  encodeFileValue,
  etagOf,
  type StoredFile,
} from "./file-value.js";
import { currentNamespaceContext, type NamespaceOption, namespaceProblem } from "./namespace.js";
import { hasItemWithin, PAGE_SIZE, scanNamespace } from "./store-scan.js";

type Namespace = readonly string[];

/**
 * One lock per store object, shared by every driver on it: `BaseStore` has no compare-and-swap,
 * so the check and the put of a conditional write (and every mutation of one file) are made
 * atomic within the process by this lock, also between two backends on the same store.
 */
const storeLocks = new WeakMap<object, KeyedLock>();

function lockOf(store: object): KeyedLock {
  let lock = storeLocks.get(store);
  if (!lock) {
    lock = new KeyedLock();
    storeLocks.set(store, lock);
  }
  return lock;
}

const lockKey = (ns: Namespace, path: string) => JSON.stringify([ns, path]);

/** Scan-and-delete passes of a directory delete before it answers that files keep arriving. */
const MAX_DELETE_PASSES = 5;

export class StoreDriver implements Driver {
  readonly capabilities: DriverCapabilities;

  constructor(
    readonly store: BaseStore,
    private readonly namespaceOption: NamespaceOption,
    readonly binaryEncoding: BinaryEncoding,
    /**
     * A first component put before the namespace (the history namespace of a StoreBackend): a
     * separate prefix, so that the store's prefix searches of the files never page through versions.
     */
    private readonly prefix?: string,
    /**
     * The layout of the history store (with `prefix`): a file's directory is part of its namespace,
     * `[prefix, ...namespace, prefix, ...directory names]` (the prefix again marks where the user's
     * namespace ends: no namespace may contain it), and its key is `/` + its base name. Listing a
     * directory then searches that directory's items only, and a new key is put without scanning for
     * a file in the way (the history store's layout never has one), so that no call of the history
     * costs more as versions accumulate. Lists have files only; walk and grep are not used there.
     */
    private readonly flat = false,
    /**
     * The bounds of its answers (StoreBackend's `maxGrepMatches` and `maxGrepTextLength`), carried
     * in its capabilities so that every layer and router over it keeps them.
     */
    limits?: StoreLimits,
  ) {
    this.capabilities = { conditionalWrites: true, realDirectories: false, readOnly: false, nativeGrep: false };
    if (limits) this.capabilities.limits = { ...limits };
  }

  /** The namespace of this call: the fixed one, or the namespace function's answer for this run. */
  namespace(): Namespace | Fault {
    const own = this.ownNamespace();
    if (isFault(own) || this.prefix === undefined) return own;
    return [this.prefix, ...own];
  }

  private ownNamespace(): Namespace | Fault {
    const option = this.namespaceOption;
    if (typeof option !== "function") return option;
    let namespace: unknown;
    try {
      namespace = option(currentNamespaceContext());
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      return fault("invalid_argument", { detail: `the StoreBackend namespace function threw (${name})` });
    }
    const problem = namespaceProblem(namespace);
    if (problem) {
      return fault("invalid_argument", {
        detail: `the StoreBackend namespace function returned an invalid namespace: ${problem}`,
      });
    }
    return namespace as Namespace;
  }

  async stat(path: string): Promise<DriverStat | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    const file = await this.getFile(ns, path);
    if (file) return { kind: "file", size: file.size, etag: etagOf(file.data), modifiedAt: file.data.modified_at };
    return (await this.hasBelow(ns, path)) ? { kind: "directory" } : { kind: "none" };
  }

  async read(path: string): Promise<DriverFile | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    const file = await this.getFile(ns, path);
    if (!file) return fault((await this.hasBelow(ns, path)) ? "is_directory" : "file_not_found");
    const { content, mimeType, created_at, modified_at } = file.data;
    return { content, etag: etagOf(file.data), mimeType, createdAt: created_at, modifiedAt: modified_at };
  }

  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    return lockOf(this.store).run(lockKey(ns, path), async () => {
      const current = await this.getFile(ns, path);
      const currentEtag = current ? etagOf(current.data) : null;
      if (current && call.ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
      if (call.ifMatch !== undefined && call.ifMatch !== currentEtag) {
        return fault("conflict", { reason: current ? "changed" : "missing" });
      }
      if (!current && !this.flat) {
        const problem = await this.structureProblem(ns, path);
        if (problem) return problem;
        // Another process may have created the file during that scan: `ifNoneMatch` must not be lost to it.
        if (call.ifNoneMatch === "*" && (await this.getFile(ns, path))) return fault("conflict", { reason: "exists" });
      }
      const stored = typeof content === "string" ? content : contentFromBytes(path, content.slice());
      const data = createFileData(stored, current?.data.created_at, getMimeType(path));
      const [where, key] = this.locate(ns, path);
      await storeCall(() => this.store.put(where, key, { ...encodeFileValue(data, this.binaryEncoding) }));
      return { etag: etagOf(data) };
    });
  }

  /** Uploads with one listing for the whole batch, under the lock of every path it writes. */
  async writeBatch(files: BatchFile[]): Promise<Array<{ etag: string } | Fault>> {
    const ns = this.namespace();
    if (isFault(ns)) return files.map(() => ns);
    const keys = files.map(({ path }) => lockKey(ns, path));
    return lockOf(this.store).runScoped({ keys }, async () => {
      // Which keys exist (with their created_at) and which directories they imply, kept up to date
      // as the batch itself adds files.
      const createdAt = new Map<string, string | undefined>();
      const dirs = new Set<string>();
      const addFile = (path: string) => {
        for (let dir = parentDir(path); dir !== "/" && !dirs.has(dir); dir = parentDir(dir)) dirs.add(dir);
      };
      if (this.flat) {
        for (const { path } of files) {
          const current = await this.getFile(ns, path);
          if (current) createdAt.set(path, current.data.created_at);
        }
      } else {
        for await (const page of scanNamespace(this.store, ns)) {
          for (const item of page) {
            createdAt.set(item.path, createdAtOf(item.value));
            addFile(item.path);
          }
        }
      }
      const answers: Array<{ etag: string } | Fault> = [];
      const puts: Array<{ index: number; op: { namespace: string[]; key: string; value: Record<string, unknown> } }> =
        [];
      for (const { path, bytes } of files) {
        const blocked = uploadBlocker(path, createdAt, dirs);
        if (blocked) {
          answers.push(blocked);
          continue;
        }
        const data = createFileData(contentFromBytes(path, bytes.slice()), createdAt.get(path), getMimeType(path));
        const value = { ...encodeFileValue(data, this.binaryEncoding) };
        const [where, key] = this.locate(ns, path);
        puts.push({ index: answers.length, op: { namespace: where, key, value } });
        answers.push({ etag: etagOf(data) });
        createdAt.set(path, data.created_at);
        addFile(path);
      }
      for (let i = 0; i < puts.length; i += PAGE_SIZE) {
        const batch = puts.slice(i, i + PAGE_SIZE);
        try {
          await storeCall(() => this.store.batch(batch.map((p) => p.op)));
        } catch (error) {
          const failed = (error as { fault?: Fault }).fault ?? fault("backend_unavailable");
          for (const { index } of puts.slice(i)) answers[index] = failed;
          break;
        }
      }
      return answers;
    });
  }

  async list(dir: string): Promise<DriverEntry[] | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    if (this.flat) return this.listFlat(ns, dir);
    const prefix = dirPrefix(dir);
    const entries = new Map<string, DriverEntry>();
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        if (!item.path.startsWith(prefix)) continue;
        const slash = item.path.indexOf("/", prefix.length);
        if (slash !== -1) {
          const child = item.path.slice(0, slash);
          entries.set(child, { path: child, kind: "directory" });
          continue;
        }
        const file = decodeFileValue(item.path, item.value);
        if (file) entries.set(item.path, entryOf(item.path, file));
      }
    }
    return [...entries.values()];
  }

  /** The files of `dir` in the flat layout: the items of its own namespace. */
  private async listFlat(ns: Namespace, dir: string): Promise<DriverEntry[]> {
    const [where] = this.locate(ns, `${dirPrefix(dir)}x`);
    const base = dir === "/" ? "" : dir;
    const entries: DriverEntry[] = [];
    for await (const page of scanNamespace(this.store, where)) {
      for (const item of page) {
        const file = decodeFileValue(`${base}${item.path}`, item.value);
        if (file) entries.push(entryOf(`${base}${item.path}`, file));
      }
    }
    return entries;
  }

  async *walk(dir: string): AsyncIterable<DriverEntry> {
    const ns = this.namespace();
    if (isFault(ns)) throw new FaultError(ns);
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        if (!isWithin(item.path, dir)) continue;
        const file = decodeFileValue(item.path, item.value);
        if (file) yield entryOf(item.path, file);
      }
    }
  }

  async remove(path: string): Promise<{ path: string } | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    const lock = lockOf(this.store);
    // Under the lock of every key it removes (taken at once), so that an edit in progress finishes
    // first and one queued behind it finds the file gone instead of writing it back.
    if (await this.getFile(ns, path)) {
      return lock.run(lockKey(ns, path), async () => {
        if (!(await this.getFile(ns, path))) return fault("file_not_found");
        const [where, key] = this.locate(ns, path);
        await storeCall(() => this.store.delete(where, key));
        return { path };
      });
    }
    // The history store removes single versions only.
    if (this.flat) return fault("file_not_found");
    // Until a whole pass finds nothing below the path: each pass removes what the scan saw, and a
    // file written meanwhile is found by the next pass.
    const prefix = dirPrefix(path);
    for (let pass = 0; pass < MAX_DELETE_PASSES; pass++) {
      const keys: string[] = [];
      for await (const page of scanNamespace(this.store, ns)) {
        for (const item of page) if (item.path.startsWith(prefix)) keys.push(item.path);
      }
      if (keys.length === 0) return pass === 0 ? fault("file_not_found") : { path };
      await lock.runScoped({ keys: keys.map((key) => lockKey(ns, key)) }, async () => {
        for (let i = 0; i < keys.length; i += PAGE_SIZE) {
          const batch = keys.slice(i, i + PAGE_SIZE).map((key) => ({ namespace: [...ns], key, value: null }));
          await storeCall(() => this.store.batch(batch));
        }
      });
    }
    // Files keep being written below the path: what existed has gone, but the directory is not empty.
    return fault("conflict", { reason: "contended" });
  }

  /**
   * Searches the values as the namespace is paged through: no item is searched twice. The answer
   * is counted as it is found (`query.limits`): once past a bound the scan ends there, no further
   * page is asked for, and grep answers `too_large`.
   */
  async grep(query: GrepQuery): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    const ns = this.namespace();
    if (isFault(ns)) return ns;
    if (query.matchesNothing) return { matches: [] };
    const tally = new GrepTally(query);
    // Pages arrive in store order: the first `maxCount + 1` matches in path order are kept.
    const hits = new GrepHits(query, tally);
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        if (!query.accepts(item.path)) continue;
        const file = decodeFileValue(item.path, item.value);
        const text = file?.data.content;
        if (typeof text !== "string" || !isTextMimeType(file?.data.mimeType ?? "")) continue;
        // At most one match past what the answer can hold: enough to tell that it would not fit.
        const found = grepFileText(item.path, text, query.pattern, hits.room);
        // Only a text with matches is checked for NUL: scanning every text costs more than the search.
        if (found.length === 0 || !isSearchableText(text)) continue;
        // Returning from the loop closes the scan (its generator), so no further page is read.
        if (!hits.add({ path: item.path, matches: found })) return grepAnswerTooLarge(tally);
      }
    }
    const answer = hits.answer();
    const matches = answer.matches ?? [];
    return answer.truncated ? { matches, truncated: true } : { matches };
  }

  /** Where `path` is kept: the namespace and key of its item (see `flat`). */
  private locate(ns: Namespace, path: string): [string[], string] {
    if (!this.flat) return [[...ns], path];
    const slash = path.lastIndexOf("/");
    const dir = path.slice(1, slash);
    return [[...ns, this.prefix as string, ...(dir === "" ? [] : dir.split("/"))], path.slice(slash)];
  }

  private async getFile(ns: Namespace, path: string): Promise<StoredFile | null> {
    const [where, key] = this.locate(ns, path);
    const item = await storeCall(() => this.store.get(where, key));
    return item ? decodeFileValue(path, item.value) : null;
  }

  private async hasBelow(ns: Namespace, path: string): Promise<boolean> {
    if (path === "/") return true;
    if (this.flat) {
      // Any item in the directory's namespace or deeper: by whole components, as a store that
      // matches the joined namespace as text also answers `/dx` (and a LIKE wildcard) for `/d`.
      const [where] = this.locate(ns, `${dirPrefix(path)}x`);
      return hasItemWithin(this.store, where);
    }
    const prefix = dirPrefix(path);
    for await (const page of scanNamespace(this.store, ns)) {
      if (page.some((item) => item.path.startsWith(prefix))) return true;
    }
    return false;
  }

  /** Why a new file cannot be created at `path`: a directory there, or a file as a parent. */
  private async structureProblem(ns: Namespace, path: string): Promise<Fault | null> {
    if (path === "/") return fault("is_directory");
    const prefix = dirPrefix(path);
    for await (const page of scanNamespace(this.store, ns)) {
      for (const item of page) {
        if (item.path.startsWith(prefix)) return fault("is_directory");
        if (path.startsWith(dirPrefix(item.path))) {
          return fault("not_a_directory", { path: item.path, reason: "file_in_way" });
        }
      }
    }
    return null;
  }
}

function entryOf(path: string, file: StoredFile): DriverEntry {
  return { path, kind: "file", size: file.size, modifiedAt: file.data.modified_at };
}

/** Why an upload to `path` must not happen, given the keys and directories of the namespace. */
function uploadBlocker(path: string, files: Map<string, unknown>, dirs: Set<string>): Fault | null {
  if (path === "/" || dirs.has(path)) return fault("is_directory");
  for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
    if (files.has(dir)) return fault("not_a_directory", { path: dir, reason: "file_in_way" });
  }
  return null;
}
