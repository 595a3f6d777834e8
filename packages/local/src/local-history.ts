/**
 * {@link LocalHistory}: the version history of a LocalBackend, kept on disk in a directory outside
 * its root (`history-files.ts`): content-addressed objects and an append-only, fsync'd log, with an
 * index of the log in memory (built once at open: a few numbers and strings per version, no
 * content). Snapshots are positions in the log's sequence.
 *
 * A change of a file with history on is three steps, each durable before the next begins:
 * 1. the new content is stored as an object (temp file, fsync, rename, directory fsync);
 * 2. the file itself is changed (the backend's atomic write, or the delete);
 * 3. the version is appended to the log and fsync'd; only then is the change acknowledged.
 *
 * Crash guarantees (a process crash or, for the history directory, a power loss):
 * - No version points at a missing object: a record is appended only after its object is durable,
 *   and objects are removed only at open, when no record kept names them.
 * - A crash after (1) leaves an object no record names: removed at the next open.
 * - A crash after (2), before (3), leaves a change that was never acknowledged and has no version:
 *   the next open compares every file under the root with the newest version of its path and
 *   records what differs as one catch-up version (op `write`, or a tombstone `delete` for a file
 *   gone). The same pass makes the files already there when history is first turned on (and
 *   changes made by other programs while no backend had history open) first versions.
 * - A crash during (3) can leave the log's last line partial: it is cut off at open (the change
 *   then gets its catch-up version as above).
 * So every acknowledged change is exactly one version, and after the next open every file's
 * current content is its newest version.
 *
 * Concurrency: the facade serialises the changes of each file, so the versions of a file are in
 * order; records of different files are appended by one in-process queue (one write and one fsync
 * per batch). The backends of one process on a root share one LocalHistory (`history-handle.ts`);
 * a lock file with the pid refuses a backend with history in another process while it is open
 * (see `HistoryFiles.lock`).
 */
import { constants, type Stats } from "node:fs";
import type { VersionedFile, VersionOp } from "@deepfs/core";
import {
  contentFromBytes,
  DeepfsError,
  type FileVersion,
  type HistoryRetention,
  type SnapshotChange,
} from "@deepfs/core";
import { type DriverFile, type DriverHistory, type Fault, fault, isFault } from "@deepfs/core/kit";
import { isOpenInside } from "./descriptors.js";
import { errnoCode } from "./errors.js";
import { threadpoolFs } from "./fs-calls.js";
import { fingerprint, HistoryFiles, hashOf, type LogRecord, objectHash } from "./history-files.js";
import { HistoryIndex } from "./history-index.js";
import { rootFiles } from "./history-walk.js";
import type { HostRoot } from "./host-root.js";

/** Where a {@link LocalHistory} keeps its files, and how much. */
export interface LocalHistorySettings {
  /** The history directory (outside the root). */
  dir: string;
  retention: HistoryRetention;
}

interface Pending {
  records: LogRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A log longer than this many records past twice what retention keeps is rewritten. */
const COMPACT_SLACK = 1024;

/**
 * The fault of a history that cannot be read or written. Its sentence names no host path and no
 * file contents (Node's messages hold host paths, of the root and of the history directory): a
 * system error by its errno code only, one of the history's own by its message (which names none).
 */
function unavailable(error: unknown): Fault {
  const code = errnoCode(error);
  const detail = DeepfsError.isInstance(error)
    ? `history: ${error.message}`
    : code !== undefined
      ? `history: filesystem error ${code}`
      : "history unavailable";
  return fault("backend_unavailable", { detail, cause: error });
}

/** The versions of one LocalBackend root, on disk. */
export class LocalHistory implements DriverHistory {
  private readonly files: HistoryFiles;
  private readonly root: HostRoot;
  private readonly storeId: string;
  private readonly index: HistoryIndex;
  /** The last sequence number given out. */
  private seq = 0;
  /** Every version up to this one is durable and in the index. */
  private committed = 0;
  /** Records in the log file (kept or not), to decide when to compact it. */
  private logRecords = 0;
  private opening: Promise<void> | undefined;
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  /** Set when an append failed: nothing more is changed (a partial record may end the log). */
  private broken: unknown;
  /** Set by {@link close}: the directory is released, nothing more is recorded. */
  private closed = false;

  /** Takes the directory's lock at once (throwing when another backend holds it); reads it later. */
  constructor(settings: LocalHistorySettings, root: HostRoot) {
    this.files = new HistoryFiles(settings.dir);
    this.root = root;
    this.index = new HistoryIndex(settings.retention);
    this.files.lock();
    try {
      this.storeId = this.files.storeId();
    } catch (error) {
      this.files.unlock();
      throw error;
    }
    // Opening starts at once (catching up with the root); its failure is answered by every call.
    this.ready().catch(() => undefined);
  }

  /** The history directory. */
  get dir(): string {
    return this.files.dir;
  }

  /** Reads the log and catches up with the root (once); every other method waits for it. */
  ready(): Promise<void> {
    this.opening ??= this.open();
    return this.opening;
  }

  /** Waits for appends in flight and releases the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening?.catch(() => undefined);
    while (this.flushing) await this.flushing;
    this.files.unlock();
  }

  /** Step 1 of a change: stores the new content as an object; answers its hash. */
  async keep(bytes: Uint8Array): Promise<string | Fault> {
    try {
      const refused = await this.refusal();
      if (refused) return refused;
      const hash = objectHash(bytes);
      await this.files.putObject(hash, bytes);
      return hash;
    } catch (error) {
      return unavailable(error);
    }
  }

  /**
   * Step 3 of a write: the version of `bytes`, stored as `object` by {@link keep}, with the written
   * file's stats when known; durable when this resolves.
   */
  async written(
    path: string,
    op: VersionOp,
    change: { etag: string; bytes: Uint8Array; object: string; stats: Stats | null },
  ): Promise<Fault | null> {
    const { etag, bytes, object, stats } = change;
    const record: LogRecord = { s: 0, p: path, o: op, e: etag, n: bytes.byteLength, a: Date.now(), h: object };
    if (stats) Object.assign(record, fingerprint(stats));
    return this.commitOrFault([record]);
  }

  /** Checked before a delete: the history can record it. */
  async usable(): Promise<Fault | null> {
    try {
      return await this.refusal();
    } catch (error) {
      return unavailable(error);
    }
  }

  /**
   * Step 3 of a delete of `path`: a tombstone for it and every file below it that has a live
   * version (`partly`: the removal failed part-way, only for those no longer there).
   */
  async removed(path: string, partly = false): Promise<Fault | null> {
    const now = Date.now();
    const below = path === "/" ? "/" : `${path}/`;
    const tombs: LogRecord[] = [];
    // A file with a live version was a file, not a directory: no need to look below it.
    const own = this.index.of(path).at(-1);
    const candidates = own && own.h !== null ? [own] : [...this.index.newest()];
    for (const { p, h } of candidates) {
      if ((p !== path && !p.startsWith(below)) || h === null) continue;
      if (partly && (await this.exists(p))) continue;
      tombs.push({ s: 0, p, o: "delete", e: "", n: 0, a: now, h: null });
    }
    return tombs.length === 0 ? null : this.commitOrFault(tombs);
  }

  async versions(path: string, limit: number | undefined): Promise<FileVersion[] | Fault> {
    const opened = await this.usableForReading();
    if (opened) return opened;
    const newestFirst = this.index.of(path).map(infoOf).reverse();
    return limit === undefined ? newestFirst : newestFirst.slice(0, limit);
  }

  async readVersion(path: string, version: string): Promise<DriverFile | Fault> {
    const opened = await this.usableForReading();
    if (opened) return opened;
    const found = this.index.of(path).find((v) => String(v.s) === version);
    if (!found) return fault("file_not_found", { reason: "no_version", detail: version.slice(0, 40) });
    if (found.h === null) return fault("file_not_found", { reason: "deleted_version", detail: version });
    return this.fileOf(path, found);
  }

  async snapshot(): Promise<string | Fault> {
    const opened = await this.usableForReading();
    return opened ?? `${this.storeId}.${this.committed}`;
  }

  async changesSince(snapshot: string): Promise<SnapshotChange[] | Fault> {
    const at = await this.positionOf(snapshot);
    return typeof at === "number" ? this.index.changesSince(at) : at;
  }

  async readAt(snapshot: string, path: string): Promise<VersionedFile | null | Fault> {
    const at = await this.positionOf(snapshot);
    if (typeof at !== "number") return at;
    const then = this.index.stateAt(path, at);
    if (then === null || isFault(then)) return then;
    const file = await this.fileOf(path, then);
    return isFault(file) ? file : { ...file, version: String(then.s) };
  }

  /** Why no change may be made now (closed, or an append failed), once the history is open; throws when it cannot open. */
  private async refusal(): Promise<Fault | null> {
    if (this.closed)
      return fault("backend_unavailable", { detail: "the backend was closed; its history no longer records changes" });
    await this.ready();
    if (this.broken !== undefined) return unavailable(this.broken);
    return null;
  }

  private async usableForReading(): Promise<Fault | null> {
    try {
      await this.ready();
      return null;
    } catch (error) {
      return unavailable(error);
    }
  }

  private async fileOf(path: string, v: LogRecord): Promise<DriverFile | Fault> {
    let bytes: Uint8Array | null;
    try {
      bytes = await this.files.getObject(v.h as string);
    } catch (error) {
      return unavailable(error);
    }
    if (bytes === null)
      return fault("backend_unavailable", { detail: "a version's content is missing from the history" });
    const time = new Date(v.a).toISOString();
    return { content: contentFromBytes(path, bytes), etag: v.e, createdAt: time, modifiedAt: time };
  }

  /** The sequence position a snapshot id of this history stands for. */
  private async positionOf(snapshot: string): Promise<number | Fault> {
    const opened = await this.usableForReading();
    if (opened) return opened;
    const [store, position, rest] = snapshot.split(".");
    const n = Number(position);
    if (store !== this.storeId || rest !== undefined || !/^(0|[1-9][0-9]{0,15})$/.test(position ?? "")) {
      return fault("invalid_argument", { reason: "unknown_snapshot" });
    }
    return n <= this.committed ? n : fault("invalid_argument", { reason: "unknown_snapshot" });
  }

  /** Appends records (numbering them), answering a fault when the history cannot take them. */
  private async commitOrFault(records: LogRecord[]): Promise<Fault | null> {
    try {
      const refused = await this.refusal();
      if (refused) return refused;
      await this.commit(records);
      return null;
    } catch (error) {
      return unavailable(error);
    }
  }

  /** Numbers `records` and queues them for the log; resolves once they are durable and indexed. */
  private commit(records: LogRecord[]): Promise<void> {
    for (const r of records) r.s = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** The single appender: one write and one fsync for everything queued meanwhile. */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      const records = batch.flatMap((b) => b.records);
      try {
        if (this.broken !== undefined) throw this.broken;
        await this.files.append(records);
      } catch (error) {
        this.broken ??= error;
        for (const b of batch) b.reject(error);
        continue;
      }
      for (const r of records) this.index.add(r);
      this.committed = (records[records.length - 1] as LogRecord).s;
      this.logRecords += records.length;
      for (const b of batch) b.resolve();
      if (this.logRecords > 2 * this.index.keptCount() + COMPACT_SLACK) await this.compact().catch(() => undefined);
    }
    this.flushing = null;
  }

  /** Reads the log, drops what retention no longer keeps, removes unreferenced objects, catches up with the root. */
  private async open(): Promise<void> {
    const records = await this.files.readLog();
    for (const r of records) {
      this.index.add(r);
      this.seq = Math.max(this.seq, r.s);
    }
    this.committed = this.seq;
    this.logRecords = records.length;
    const kept = this.index.keptRecords();
    if (kept.length < records.length) await this.compact(kept);
    await this.files.collect(new Set(kept.flatMap((r) => (r.h === null ? [] : [r.h]))));
    await this.files.sweep();
    await this.catchUp();
  }

  /** Records what differs between the files under the root and their newest versions. */
  private async catchUp(): Promise<void> {
    const seen = new Set<string>();
    for await (const file of rootFiles(this.root.base)) {
      seen.add(file.path);
      await this.catchUpFile(file.path, file.host);
    }
    for (const { p: path, h } of [...this.index.newest()]) {
      if (seen.has(path) || h === null) continue;
      // Not found by the walk (which enters no linked directory): look through the path itself.
      const located = await this.root.locate(path, threadpoolFs).catch(() => null);
      if (located && !isFault(located) && located.stats?.isFile()) await this.catchUpFile(path, located.host);
      else await this.commit([{ s: 0, p: path, o: "delete", e: "", n: 0, a: Date.now(), h: null }]);
    }
  }

  /** True when something is at `path` (or it cannot be told). */
  private async exists(path: string): Promise<boolean> {
    const located = await this.root.locate(path, threadpoolFs, false).catch(() => null);
    return located === null || isFault(located) || located.stats !== null;
  }

  /**
   * Records the file at `host` as a version of `path` unless its newest version has its content:
   * known at once when its size, mtime and inode are those recorded, else by hashing it. Read
   * through a descriptor checked to lie inside the root (no symlink is followed out of it),
   * streamed, so a file of any size takes little memory.
   */
  private async catchUpFile(path: string, host: string): Promise<void> {
    const fs = threadpoolFs;
    let fd: number;
    try {
      fd = await fs.open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return;
    }
    try {
      if (!(await isOpenInside(fd, host, this.root, fs))) return;
      const stats = await fs.fstat(fd);
      if (!stats.isFile()) return;
      const newest = this.index.of(path).at(-1);
      const live = newest?.h === null ? undefined : newest;
      if (live && live.n === stats.size && live.m === stats.mtimeMs && live.i === stats.ino) return;
      // Touched but the same size: probably unchanged, worth a read to avoid a copy.
      if (live && live.n === stats.size && (await hashOf(fd)) === live.e) return;
      const copied = await this.files.putObjectFrom(fd);
      if (live && copied.etag === live.e) return;
      const { hash, etag, size } = copied;
      const record: LogRecord = { s: 0, p: path, o: "write", e: etag, n: size, a: Date.now(), h: hash };
      if (size === stats.size) Object.assign(record, fingerprint(stats));
      await this.commit([record]);
    } finally {
      await fs.close(fd);
    }
  }

  /** Rewrites the log with the versions retention keeps (objects are collected at the next open). */
  private async compact(kept = this.index.keptRecords()): Promise<void> {
    await this.files.rewriteLog(kept);
    this.logRecords = kept.length;
  }
}

function infoOf(v: LogRecord): FileVersion {
  return {
    version: String(v.s),
    etag: v.e,
    size: v.n,
    modified_at: new Date(v.a).toISOString(),
    op: v.o as VersionOp,
  };
}
