/**
 * {@link HistoryIndex}: the log of a LocalBackend's history in memory (a few numbers and strings per
 * version, no content), with retention applied: what the history methods answer from.
 */
import type { HistoryRetention, SnapshotChange } from "@deepfs/core";
import { type Fault, fault, isFault } from "@deepfs/core/kit";
import type { LogRecord } from "./history-files.js";

export interface PathLog {
  /** Oldest first. */
  versions: LogRecord[];
  /** The sequence number of the file's first version ever (it did not exist before). */
  firstSeq: number;
}

/** The versions of every path, by path, as retention keeps them. */
export class HistoryIndex {
  private readonly paths = new Map<string, PathLog>();
  private readonly maxVersions: number;
  private readonly maxAgeMs: number;
  /** Versions kept, counted as they come and go (not recounted per append). */
  private kept = 0;

  constructor(retention: HistoryRetention) {
    const { maxVersions, maxAgeMs } = retention;
    this.maxVersions = maxVersions !== undefined && maxVersions >= 1 ? Math.floor(maxVersions) : Infinity;
    this.maxAgeMs = maxAgeMs !== undefined && maxAgeMs >= 0 ? maxAgeMs : Infinity;
  }

  /** Adds a durable record. */
  add(r: LogRecord): void {
    const first = r.f ?? r.s;
    let log = this.paths.get(r.p);
    if (!log) {
      log = { versions: [], firstSeq: first };
      this.paths.set(r.p, log);
    } else if (first < log.firstSeq) log.firstSeq = first;
    log.versions.push(r);
    this.kept++;
    this.prune(log, Date.now());
  }

  /** The kept versions of `path`, oldest first (empty for a path never written). */
  of(path: string): LogRecord[] {
    const log = this.paths.get(path);
    if (!log) return [];
    this.prune(log, Date.now());
    return log.versions;
  }

  /** The newest version of every path. */
  *newest(): Generator<LogRecord> {
    for (const log of this.paths.values()) {
      const newest = log.versions[log.versions.length - 1];
      if (newest) yield newest;
    }
  }

  /** Every file that differs between position `at` and now. */
  changesSince(at: number): SnapshotChange[] | Fault {
    const out: SnapshotChange[] = [];
    for (const [path, log] of this.paths) {
      const newest = log.versions[log.versions.length - 1];
      if (!newest || newest.s <= at) continue;
      const then = this.stateAt(path, at);
      if (isFault(then)) return then;
      const nowExists = newest.h !== null;
      if (then === null) {
        if (nowExists) out.push({ path, change: "added" });
      } else if (!nowExists) out.push({ path, change: "deleted" });
      else if (then.h !== newest.h) out.push({ path, change: "modified" });
    }
    return out;
  }

  /** The version of `path` current at position `at` (null: no file then), or a fault when it was pruned. */
  stateAt(path: string, at: number): LogRecord | null | Fault {
    const log = this.paths.get(path);
    if (!log) return null;
    let then: LogRecord | null = null;
    for (const v of log.versions) {
      if (v.s > at) break;
      then = v;
    }
    // Before its first version the file did not exist; after it, a gap means retention dropped it.
    if (then === null && log.firstSeq <= at) return fault("unsupported", { path, reason: "history_pruned" });
    return then?.h === null ? null : then;
  }

  /** How many versions are kept. */
  keptCount(): number {
    return this.kept;
  }

  /**
   * Every kept version in sequence order, as the log is rewritten: the oldest of each path carries
   * its first seq (`f`) when older ones were dropped, so a snapshot before them stays `history_pruned`.
   */
  keptRecords(): LogRecord[] {
    const now = Date.now();
    const out: LogRecord[] = [];
    for (const log of this.paths.values()) {
      this.prune(log, now);
      log.versions.forEach((v, i) => {
        const { f: _old, ...rest } = v;
        out.push(i === 0 && log.firstSeq < v.s ? { ...rest, f: log.firstSeq } : rest);
      });
    }
    return out.sort((a, b) => a.s - b.s);
  }

  /** Drops versions beyond the retention limits, always keeping the newest. */
  private prune(log: PathLog, now: number): void {
    const versions = log.versions;
    let drop = Math.max(0, versions.length - this.maxVersions);
    while (drop < versions.length - 1 && now - (versions[drop] as LogRecord).a > this.maxAgeMs) drop++;
    if (drop > 0) {
      versions.splice(0, drop);
      this.kept -= drop;
    }
  }
}
