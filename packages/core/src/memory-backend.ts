import { contentFromBytes, createFileData, toFileDataV2 } from "./file-data.js";
import { type GrepQuery, grepTextsWithin } from "./grep.js";
import type { DriverHistory, HistoryOption, VersionOp } from "./history/history-types.js";
import { VersionLog } from "./history/version-log.js";
import {
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type Fault,
  fault,
  grepLimitsOf,
  isFault,
  type WriteCall,
} from "./kit/driver.js";
import { DriverBackend } from "./kit/facade.js";
import { isGreppable } from "./kit/search.js";
import { getMimeType, isTextMimeType } from "./mime.js";
import { checkPath, comparePaths, isWithin, parentDir } from "./paths.js";
import type { FileData, FileDataV2, GrepMatch } from "./protocol.js";
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
  /**
   * Keep a version of every change (off by default): `true`, or limits `{ maxVersions?, maxAgeMs? }`
   * per file. Versions are recorded in the same synchronous step as the change; files given in
   * `files` are each a first version (op `write`).
   */
  history?: HistoryOption;
  /** Most matching lines one grep answers (default 1,000,000; past it grep answers `too_large`). */
  maxGrepMatches?: number;
  /** Most characters of matching lines one grep answers (default 256 Mi; past it `too_large`). */
  maxGrepTextLength?: number;
}

/** What keeps a {@link MemoryDriver}'s versions: it records each change in the same synchronous step. */
export interface VersionRecorder extends DriverHistory {
  record(path: string, op: VersionOp, change: { data: FileDataV2; etag: string; size: number } | null): void;
}

/**
 * The store of {@link MemoryBackend}: FileData v2 by path, with an index of directories kept up to
 * date (constant work per write instead of scanning the whole map). The primitives answer
 * synchronously, so each call is atomic, conditional writes are exact, and the facade answers
 * without a turn of the event loop.
 */
export class MemoryDriver implements Driver {
  readonly capabilities: DriverCapabilities = {
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
    nativeGrep: true,
  };

  private readonly entries = new Map<string, Entry>();
  /** Directory → its direct children (files, and directories without a trailing `/`). */
  private readonly children = new Map<string, Set<string>>();
  private version = 0;
  private log: VersionRecorder | undefined;

  /** The version history, once {@link enableHistory} turned it on. */
  get history(): DriverHistory | undefined {
    return this.log;
  }

  /** Turns history on: from now on every change is a version; the files stored so far are first versions. */
  enableHistory(option: HistoryOption | undefined): void {
    if (!option || this.log) return;
    const log = new VersionLog(option === true ? {} : option);
    for (const [path, entry] of this.entries) log.record(path, "write", this.versionOf(entry));
    this.log = log;
  }

  /** Keeps versions in `log` from now on (a subclass whose versions live elsewhere). */
  protected recordWith(log: VersionRecorder): void {
    this.log = log;
  }

  /** A snapshot of every stored file by path. */
  snapshot(): Record<string, FileDataV2> {
    const out: Record<string, FileDataV2> = {};
    for (const path of [...this.entries.keys()].sort(comparePaths)) out[path] = (this.entries.get(path) as Entry).data;
    return out;
  }

  stat(path: string): DriverStat {
    const entry = this.entries.get(path);
    if (entry) return { kind: "file", size: entry.size, etag: this.etagOf(entry), modifiedAt: entry.data.modified_at };
    return this.children.has(path) ? { kind: "directory" } : { kind: "none" };
  }

  read(path: string): DriverFile | Fault {
    const entry = this.entries.get(path);
    if (!entry) return this.children.has(path) ? fault("is_directory") : fault("file_not_found");
    const { content, mimeType, created_at, modified_at } = entry.data;
    return {
      content: typeof content === "string" ? content : content.slice(),
      etag: this.etagOf(entry),
      mimeType,
      createdAt: created_at,
      modifiedAt: modified_at,
    };
  }

  write(path: string, content: string | Uint8Array, call: WriteCall): { etag: string } | Fault {
    if (path === "/" || this.children.has(path)) return fault("is_directory");
    // A known directory has only directories above it; otherwise look for a file in the way.
    if (!this.children.has(parentDir(path))) {
      for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
        if (this.entries.has(dir)) return fault("not_a_directory", { path: dir, reason: "file_in_way" });
      }
    }
    const existing = this.entries.get(path);
    if (existing && call.ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
    if (call.ifMatch !== undefined) {
      if (!existing) return fault("conflict", { reason: "missing" });
      if (this.etagOf(existing) !== call.ifMatch) return fault("conflict", { reason: "changed" });
    }
    const stored = typeof content === "string" ? content : contentFromBytes(path, content.slice());
    const mimeType = getMimeType(path);
    const entry = this.put(path, createFileData(stored, existing?.data.created_at, mimeType));
    // Recorded in the same synchronous step as the change: the version exists exactly when it does.
    this.log?.record(path, call.op ?? "write", this.versionOf(entry));
    return { etag: this.etagOf(entry) };
  }

  list(dir: string): DriverEntry[] {
    const out: DriverEntry[] = [];
    for (const child of this.children.get(dir) ?? []) {
      const entry = this.entries.get(child);
      out.push(
        entry
          ? { path: child, kind: "file", size: entry.size, modifiedAt: entry.data.modified_at }
          : { path: child, kind: "directory" },
      );
    }
    return out;
  }

  async *walk(dir: string): AsyncIterable<DriverEntry> {
    for (const [path, entry] of this.entries) {
      if (isWithin(path, dir)) yield { path, kind: "file", size: entry.size, modifiedAt: entry.data.modified_at };
    }
  }

  remove(path: string): { path: string } | Fault {
    if (this.entries.has(path)) {
      this.unlink(path);
      return { path };
    }
    const below = [...this.filesBelow(path)];
    if (below.length === 0) return fault("file_not_found");
    for (const p of below) this.unlink(p);
    return { path };
  }

  async grep(query: GrepQuery): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    const texts: Array<{ path: string; text: string }> = [];
    for (const [p, entry] of this.entries) {
      const { content, mimeType } = entry.data;
      // The walking grep's rule (type, glob, size), so that memory searches the files every store does.
      if (
        typeof content === "string" &&
        isTextMimeType(mimeType) &&
        isGreppable({ path: p, size: entry.size }, query.accepts)
      ) {
        texts.push({ path: p, text: content });
      }
    }
    const found = grepTextsWithin(texts, query);
    if (isFault(found)) return found;
    // Keep one match past the cap, so the facade can tell that more existed.
    return { matches: found.matches ?? [], truncated: found.truncated };
  }

  /**
   * Stores `data` at `path` as a file that was already there: no change is reported. Only for
   * filling a new store; `path` must be valid and canonical, and nothing may be in its way.
   */
  load(path: string, data: FileDataV2): void {
    this.index(path, data);
  }

  /** The stored data and etag of the file at `path`, if there is one. */
  protected fileAt(path: string): { data: FileDataV2; etag: string } | undefined {
    const entry = this.entries.get(path);
    return entry ? { data: entry.data, etag: this.etagOf(entry) } : undefined;
  }

  /** The paths of every stored file. */
  protected filePaths(): Iterable<string> {
    return this.entries.keys();
  }

  /** Called after every change (`null`: deleted); a subclass records them here. */
  protected changed(_path: string, _data: FileDataV2 | null): void {}

  /** The etag of stored data: a new one for every change (a subclass may derive it from the data). */
  protected etagFor(_data: FileDataV2): string {
    return `m${(++this.version).toString(36)}`;
  }

  private versionOf(entry: Entry): { data: FileDataV2; etag: string; size: number } {
    return { data: entry.data, etag: this.etagOf(entry), size: entry.size };
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

  private unlink(path: string): void {
    this.entries.delete(path);
    this.changed(path, null);
    this.log?.record(path, "delete", null);
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

/** Fills `driver` with a constructor's `files` option. */
export function loadFiles(driver: MemoryDriver, files: MemoryBackendOptions["files"]): void {
  for (const [path, value] of Object.entries(files ?? {})) {
    const checked = checkPath(path);
    if (!checked.ok) throw new TypeError(checked.error);
    const data: FileDataV2 =
      typeof value === "string" || value instanceof Uint8Array
        ? createFileData(value, undefined, getMimeType(checked.path))
        : toFileDataV2(value, checked.path);
    driver.load(checked.path, data);
  }
}

/**
 * Files in the memory of this process, in one store shared by every caller for the life of the
 * object (every thread and user of an agent sees the same files): binary-exact, with etags and
 * atomic edits, constant work per write.
 *
 * Use it for scripts, tests and the CLI, or on purpose as a store shared across runs. For an
 * agent's per-thread scratch files, use {@link StateBackend}, which keeps them in the thread's state.
 */
export class MemoryBackend extends DriverBackend<MemoryDriver> {
  constructor(options: MemoryBackendOptions = {}) {
    const driver = new MemoryDriver();
    const limits = grepLimitsOf(options);
    if (limits) driver.capabilities.limits = limits;
    super(driver);
    loadFiles(this.driver, options.files);
    this.driver.enableHistory(options.history);
  }

  /** A snapshot of every stored file by path, for inspecting what an agent wrote. */
  get files(): Record<string, FileDataV2> {
    return this.driver.snapshot();
  }
}
