/**
 * {@link HistoryHandle}: one backend's use of a {@link LocalHistory}. Backends of one process on
 * the same root share its history (one index, one appender, one lock on the directory), so a
 * program that makes a LocalBackend per call, as deepagents' backend factories may, keeps one
 * history; the history is released when the last of them is closed. A closed backend's handle
 * records, and so changes, nothing more.
 */

import type { Stats } from "node:fs";
import type { FileVersion, SnapshotChange, VersionedFile, VersionOp } from "@deepfs/core";
import { DeepfsError } from "@deepfs/core";
import { type DriverFile, type DriverHistory, type Fault, fault } from "@deepfs/core/kit";
import type { HostRoot } from "./host-root.js";
import { LocalHistory, type LocalHistorySettings } from "./local-history.js";

interface Shared {
  history: LocalHistory;
  root: string;
  retention: string;
  handles: number;
}

/** The histories open in this process, by directory. */
const opened = new Map<string, Shared>();

const CLOSED = fault("backend_unavailable", {
  detail: "the backend was closed; its history no longer records changes",
});

/**
 * The history of `settings.dir` for a backend on `root`: shared with the backends of this process
 * already using it (same root and retention, else refused), opened (and locked) otherwise.
 */
export function openHistory(settings: LocalHistorySettings, root: HostRoot): HistoryHandle {
  const retention = JSON.stringify([settings.retention.maxVersions, settings.retention.maxAgeMs]);
  let shared = opened.get(settings.dir);
  if (shared && shared.root !== root.base) {
    throw new DeepfsError(
      "invalid_argument",
      `The history directory ${settings.dir} already keeps the history of rootDir ${shared.root}`,
    );
  }
  if (shared && shared.retention !== retention) {
    throw new DeepfsError(
      "invalid_argument",
      `The history directory ${settings.dir} is open in this process with another maxVersions / maxAgeMs`,
    );
  }
  if (!shared) {
    shared = { history: new LocalHistory(settings, root), root: root.base, retention, handles: 0 };
    opened.set(settings.dir, shared);
  }
  shared.handles++;
  const entry = shared;
  return new HistoryHandle(entry.history, async () => {
    entry.handles--;
    if (entry.handles > 0) return;
    if (opened.get(settings.dir) === entry) opened.delete(settings.dir);
    await entry.history.close();
  });
}

/** One backend's view of a shared {@link LocalHistory}. */
export class HistoryHandle implements DriverHistory {
  private closed = false;

  constructor(
    private readonly shared: LocalHistory,
    private readonly release: () => Promise<void>,
  ) {}

  get dir(): string {
    return this.shared.dir;
  }

  /** Releases this backend's use; the last one closes the history. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  keep(bytes: Uint8Array): Promise<string | Fault> {
    return this.closed ? Promise.resolve(CLOSED) : this.shared.keep(bytes);
  }

  written(
    path: string,
    op: VersionOp,
    change: { etag: string; bytes: Uint8Array; object: string; stats: Stats | null },
  ): Promise<Fault | null> {
    return this.closed ? Promise.resolve(CLOSED) : this.shared.written(path, op, change);
  }

  usable(): Promise<Fault | null> {
    return this.closed ? Promise.resolve(CLOSED) : this.shared.usable();
  }

  removed(path: string, partly = false): Promise<Fault | null> {
    return this.closed ? Promise.resolve(CLOSED) : this.shared.removed(path, partly);
  }

  versions(path: string, limit: number | undefined): Promise<FileVersion[] | Fault> {
    return this.shared.versions(path, limit);
  }

  readVersion(path: string, version: string): Promise<DriverFile | Fault> {
    return this.shared.readVersion(path, version);
  }

  snapshot(): Promise<string | Fault> {
    return this.shared.snapshot();
  }

  changesSince(snapshot: string): Promise<SnapshotChange[] | Fault> {
    return this.shared.changesSince(snapshot);
  }

  readAt(snapshot: string, path: string): Promise<VersionedFile | null | Fault> {
    return this.shared.readAt(snapshot, path);
  }
}
