/**
 * {@link VersionLog}: versions kept in memory, the history of MemoryBackend and of StateBackend
 * outside a graph run. Its owner records each change in the same synchronous step as the change
 * itself, so a version exists exactly when the change does.
 */
import { randomUUID } from "node:crypto";
import type { DriverFile, Fault } from "../kit/driver.js";
import { fault, isFault } from "../kit/driver.js";
import type { FileDataV2 } from "../protocol.js";
import type {
  DriverHistory,
  FileVersion,
  HistoryRetention,
  SnapshotChange,
  VersionedFile,
  VersionOp,
} from "./history-types.js";

interface StoredVersion {
  seq: number;
  /** Milliseconds since the epoch, for retention by age. */
  at: number;
  info: FileVersion;
  /** Null for a tombstone. */
  data: FileDataV2 | null;
}

interface PathLog {
  /** Oldest first. */
  versions: StoredVersion[];
  /** The sequence number of the file's first version ever (it did not exist before). */
  firstSeq: number;
}

/** The retention option as numbers (Infinity: no limit). */
export function limitsOf(retention: HistoryRetention): { maxVersions: number; maxAgeMs: number } {
  const count = retention.maxVersions;
  const age = retention.maxAgeMs;
  return {
    maxVersions: typeof count === "number" && count >= 1 ? Math.floor(count) : Number.POSITIVE_INFINITY,
    maxAgeMs: typeof age === "number" && age >= 0 ? age : Number.POSITIVE_INFINITY,
  };
}

/** Versions of every file of one store, in memory, with snapshots as positions in one sequence. */
export class VersionLog implements DriverHistory {
  /** Snapshot ids name their store, so another store's id is refused rather than misread. */
  private readonly storeId = randomUUID().slice(0, 8);
  private readonly paths = new Map<string, PathLog>();
  private readonly maxVersions: number;
  private readonly maxAgeMs: number;
  private seq = 0;

  constructor(retention: HistoryRetention = {}) {
    const limits = limitsOf(retention);
    this.maxVersions = limits.maxVersions;
    this.maxAgeMs = limits.maxAgeMs;
  }

  /** Records a change of `path`: its new data and etag, or null for a delete. */
  record(path: string, op: VersionOp, change: { data: FileDataV2; etag: string; size: number } | null): void {
    const seq = ++this.seq;
    const now = Date.now();
    const info: FileVersion = change
      ? { version: `v${seq}`, etag: change.etag, size: change.size, modified_at: change.data.modified_at, op }
      : { version: `v${seq}`, etag: "", size: 0, modified_at: new Date(now).toISOString(), op };
    let log = this.paths.get(path);
    if (!log) {
      log = { versions: [], firstSeq: seq };
      this.paths.set(path, log);
    }
    log.versions.push({ seq, at: now, info, data: change ? change.data : null });
    this.prune(log, now);
  }

  versions(path: string, limit: number | undefined): FileVersion[] {
    const log = this.paths.get(path);
    if (!log) return [];
    this.prune(log, Date.now());
    const newestFirst = log.versions.map((v) => v.info).reverse();
    return limit === undefined ? newestFirst : newestFirst.slice(0, limit);
  }

  readVersion(path: string, version: string): DriverFile | Fault {
    const found = this.paths.get(path)?.versions.find((v) => v.info.version === version);
    if (!found) return fault("file_not_found", { reason: "no_version", detail: version });
    return found.data ? fileOf(found) : fault("file_not_found", { reason: "deleted_version", detail: version });
  }

  snapshot(): string {
    return `${this.storeId}.${this.seq}`;
  }

  changesSince(snapshot: string): SnapshotChange[] | Fault {
    const at = this.positionOf(snapshot);
    if (typeof at !== "number") return at;
    const out: SnapshotChange[] = [];
    for (const [path, log] of this.paths) {
      const newest = log.versions[log.versions.length - 1];
      if (!newest || newest.seq <= at) continue;
      const then = this.stateAt(path, log, at);
      if (isFault(then)) return then;
      const nowExists = newest.data !== null;
      if (then === null) {
        if (nowExists) out.push({ path, change: "added" });
      } else if (!nowExists) out.push({ path, change: "deleted" });
      else if (!sameData(then.data as FileDataV2, newest.data as FileDataV2)) out.push({ path, change: "modified" });
    }
    return out;
  }

  readAt(snapshot: string, path: string): VersionedFile | null | Fault {
    const at = this.positionOf(snapshot);
    if (typeof at !== "number") return at;
    const log = this.paths.get(path);
    if (!log) return null;
    const then = this.stateAt(path, log, at);
    if (then === null || isFault(then)) return then;
    return then.data ? { ...fileOf(then), version: then.info.version } : null;
  }

  /** The version of `path` current at position `at` (null: no file then), or a fault when it was pruned. */
  private stateAt(path: string, log: PathLog, at: number): StoredVersion | null | Fault {
    let then: StoredVersion | null = null;
    for (const v of log.versions) {
      if (v.seq > at) break;
      then = v;
    }
    // Before its first version the file did not exist; after it, a gap means retention dropped it.
    if (then === null && log.firstSeq <= at) return fault("unsupported", { path, reason: "history_pruned" });
    return then?.data === null ? null : then;
  }

  /** The sequence position a snapshot id of this store stands for. */
  private positionOf(snapshot: string): number | Fault {
    const [store, position] = snapshot.split(".");
    const n = Number(position);
    if (store !== this.storeId || !Number.isSafeInteger(n) || n < 0 || n > this.seq) {
      return fault("invalid_argument", { reason: "unknown_snapshot" });
    }
    return n;
  }

  /** Drops versions beyond the retention limits, always keeping the newest. */
  private prune(log: PathLog, now: number): void {
    const versions = log.versions;
    let drop = Math.max(0, versions.length - this.maxVersions);
    while (drop < versions.length - 1 && now - (versions[drop] as StoredVersion).at > this.maxAgeMs) drop++;
    if (drop > 0) versions.splice(0, drop);
  }
}

/** Same content and type (a file changed and changed back, or restored, is not a change). */
function sameData(a: FileDataV2, b: FileDataV2): boolean {
  if (a === b) return true;
  if (a.mimeType !== b.mimeType) return false;
  if (typeof a.content === "string" || typeof b.content === "string") return a.content === b.content;
  return Buffer.compare(a.content, b.content) === 0;
}

function fileOf(v: StoredVersion): DriverFile {
  const data = v.data as FileDataV2;
  const content = typeof data.content === "string" ? data.content : data.content.slice();
  return {
    content,
    etag: v.info.etag,
    mimeType: data.mimeType,
    createdAt: data.created_at,
    modifiedAt: data.modified_at,
  };
}
