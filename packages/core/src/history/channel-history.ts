/**
 * StateBackend's history inside a LangGraph run: versions kept in a state channel of the thread
 * ({@link HISTORY_CHANNEL}, which `deepfsHistory()` of @deepfs/langgraph adds to an agent), so that
 * they are per thread, checkpointed with the thread's files, written in the same step as the change
 * they record, and never listed as files.
 *
 * The channel's reducer ({@link reduceStateHistory}) gives each version its place in the thread's
 * order when the step ends. Version ids are fixed when the version is made (the step, the task and
 * the position the task saw), so an id a tool call was shown stays valid after the step; a snapshot
 * id names the step it was taken in and, when its task had already made versions in that step, the
 * last of them: what tasks running beside it did in that step is after the snapshot.
 */
import { createHash } from "node:crypto";
import type { DriverFile, Fault } from "../kit/driver.js";
import { fault } from "../kit/driver.js";
import type { FileDataV2 } from "../protocol.js";
import type { StateHistory, StateHistoryUpdate, StateVersion } from "./channel-state.js";
import type {
  DriverHistory,
  FileVersion,
  HistoryRetention,
  SnapshotChange,
  VersionedFile,
  VersionOp,
} from "./history-types.js";
import { limitsOf } from "./version-log.js";

/** A file as the history compares it. */
export interface ChannelFile {
  data: FileDataV2;
  etag: string;
}

/** What the history needs of the thread's files as the running call sees them. */
export interface ChannelFiles {
  /** The file now (after the call's own changes so far). */
  current(path: string): ChannelFile | undefined;
  /** The file when the call started. */
  initial(path: string): ChannelFile | undefined;
  /** Every file now. */
  paths(): Iterable<string>;
}

/** Where the running call is: its thread, its step and its task. */
export interface ChannelPlace {
  thread: string;
  /** The history's `next` when the step started. */
  step: number;
  task: string;
}

/** A short, stable name for a LangGraph id (thread or task). */
export function shortId(id: string): string {
  return createHash("sha256").update(id).digest("base64url").slice(0, 10).replace(/[-_]/g, "x");
}

/** Versions by path, oldest first, per channel value (the calls of one step share the index). */
const indexes = new WeakMap<StateHistory, Map<string, StateVersion[]>>();

function indexOf(value: StateHistory): Map<string, StateVersion[]> {
  let index = indexes.get(value);
  if (!index) {
    index = new Map();
    for (const v of value.versions) {
      const list = index.get(v.path);
      if (list) list.push(v);
      else index.set(v.path, [v]);
    }
    indexes.set(value, index);
  }
  return index;
}

interface SnapshotPlace {
  step: number;
  task?: string;
  local?: number;
}

/** The history of one call in a run: what the channel holds plus what the call records. */
export class ChannelHistory implements DriverHistory {
  private readonly appended: Array<Omit<StateVersion, "seq">> = [];
  private readonly dropped: string[] = [];
  /** Paths whose versions this call changed: path → its versions now, oldest first. */
  private readonly touched = new Map<string, StateVersion[]>();
  /** Paths already brought up to date with the files (see `catchUp`). */
  private readonly caughtUp = new Set<string>();
  private readonly maxVersions: number;
  private readonly maxAgeMs: number;
  private next: number;

  constructor(
    private readonly value: StateHistory,
    private readonly files: ChannelFiles,
    private readonly place: ChannelPlace,
    retention: HistoryRetention,
  ) {
    const limits = limitsOf(retention);
    this.maxVersions = limits.maxVersions;
    this.maxAgeMs = limits.maxAgeMs;
    this.next = value.next;
  }

  /** What to send to the channel, or null when the call recorded nothing. */
  get update(): StateHistoryUpdate | null {
    if (this.appended.length === 0 && this.dropped.length === 0) return null;
    return { append: this.appended, drop: this.dropped };
  }

  /** Records a change of `path` (called by the driver in the same synchronous step as the change). */
  record(path: string, op: VersionOp, change: { data: FileDataV2; etag: string; size: number } | null): void {
    this.catchUp(path, this.files.initial(path));
    const at = Date.now();
    this.push(
      path,
      op,
      change
        ? { etag: change.etag, size: change.size, modified_at: change.data.modified_at, data: change.data, at }
        : { etag: "", size: 0, modified_at: new Date(at).toISOString(), data: null, at },
    );
    this.prune(path, at);
  }

  versions(path: string, limit: number | undefined): FileVersion[] {
    const now = Date.now();
    const list = this.live(path, now);
    const newestFirst = list.map(infoOf).reverse();
    return limit === undefined ? newestFirst : newestFirst.slice(0, limit);
  }

  readVersion(path: string, version: string): DriverFile | Fault {
    const found = this.live(path, Date.now()).find((v) => v.id === version);
    if (!found) return fault("file_not_found", { reason: "no_version", detail: version });
    return found.data ? fileOf(found) : fault("file_not_found", { reason: "deleted_version", detail: version });
  }

  /**
   * An id of the thread's files as of now. Files changed outside deepfs since their last version
   * (seeded by the graph's input, written by another backend or a subagent) first get a version of
   * what they are now, so that the snapshot can bring them back.
   */
  snapshot(): string {
    const paths = new Set([...this.files.paths(), ...this.allPaths()]);
    for (const path of paths) this.catchUp(path, this.files.current(path));
    const own = [...this.ownInStep()];
    const last = own[own.length - 1];
    const base = `t${shortId(this.place.thread)}.${this.place.step}`;
    return last ? `${base}.${this.place.task}.${last.local}` : base;
  }

  changesSince(snapshot: string): SnapshotChange[] | Fault {
    const at = this.parse(snapshot);
    if ("fault" in at) return at;
    const out: SnapshotChange[] = [];
    for (const path of new Set([...this.files.paths(), ...this.allPaths()])) {
      const then = this.stateAt(path, at);
      if (then !== null && "fault" in then) return then;
      const now = this.files.current(path);
      if (then === null) {
        if (now) out.push({ path, change: "added" });
      } else if (!now) out.push({ path, change: "deleted" });
      else if (now.etag !== then.etag) out.push({ path, change: "modified" });
    }
    return out;
  }

  readAt(snapshot: string, path: string): VersionedFile | null | Fault {
    const at = this.parse(snapshot);
    if ("fault" in at) return at;
    const then = this.stateAt(path, at);
    if (then === null || "fault" in then) return then;
    return { ...fileOf(then), version: then.id };
  }

  /**
   * When the file is not what its newest version says (changed outside deepfs), records what it
   * is as a version first (a tombstone when it is gone), once per call and path.
   */
  private catchUp(path: string, was: ChannelFile | undefined): void {
    if (this.caughtUp.has(path)) return;
    this.caughtUp.add(path);
    const list = this.list(path);
    const newest = list[list.length - 1];
    if (newest ? newest.etag === (was?.etag ?? "") : was === undefined) return;
    const at = Date.now();
    if (was) {
      const size = byteSize(was.data);
      this.push(path, "write", { etag: was.etag, size, modified_at: was.data.modified_at, data: was.data, at });
    } else this.push(path, "delete", { etag: "", size: 0, modified_at: new Date(at).toISOString(), data: null, at });
  }

  private push(
    path: string,
    op: VersionOp,
    fields: Pick<StateVersion, "etag" | "size" | "modified_at" | "data" | "at">,
  ) {
    const local = this.next++;
    const { step, task } = this.place;
    const draft = { id: `v${local}.${task}`, step, task, local, path, op, ...fields };
    this.appended.push(draft);
    this.touched.set(path, [...this.list(path), { ...draft, seq: local }]);
  }

  /** Drops the versions of `path` past the retention limits, always keeping the newest. */
  private prune(path: string, now: number): void {
    const list = this.list(path);
    let drop = Math.max(0, list.length - this.maxVersions);
    while (drop < list.length - 1 && now - (list[drop] as StateVersion).at > this.maxAgeMs) drop++;
    if (drop === 0) return;
    for (const v of list.slice(0, drop)) this.dropped.push(v.id);
    this.touched.set(path, list.slice(drop));
  }

  /** Versions of `path` within the age limit (the newest always), oldest first. */
  private live(path: string, now: number): StateVersion[] {
    const list = this.list(path);
    let first = 0;
    while (first < list.length - 1 && now - (list[first] as StateVersion).at > this.maxAgeMs) first++;
    return first === 0 ? list : list.slice(first);
  }

  private list(path: string): StateVersion[] {
    return this.touched.get(path) ?? indexOf(this.value).get(path) ?? [];
  }

  private allPaths(): Iterable<string> {
    return new Set([...indexOf(this.value).keys(), ...this.touched.keys()]);
  }

  /** Versions this task made in the current step, in order. */
  private *ownInStep(): Generator<StateVersion> {
    const { step, task } = this.place;
    for (const v of this.value.versions) if (v.step === step && v.task === task) yield v;
    for (const draft of this.appended) yield { ...draft, seq: draft.local };
  }

  private parse(snapshot: string): SnapshotPlace | Fault {
    const [thread, step, task, local, ...rest] = snapshot.split(".");
    const n = Number(step);
    const unknown = fault("invalid_argument", { reason: "unknown_snapshot" });
    if (thread !== `t${shortId(this.place.thread)}` || rest.length > 0 || !Number.isSafeInteger(n) || n < 0) {
      return unknown;
    }
    if (n > this.next) return unknown;
    if (task === undefined) return { step: n };
    const own = Number(local);
    return Number.isSafeInteger(own) && task !== "" ? { step: n, task, local: own } : unknown;
  }

  /** Whether version `v` was part of the files at snapshot `at`. */
  private included(v: StateVersion, at: SnapshotPlace): boolean {
    // Versions of earlier steps got their place when their step ended; versions of the snapshot's
    // own step count only when its task made them before it (other tasks of the step ran beside it).
    if (v.seq < at.step) return true;
    return at.task !== undefined && v.step === at.step && v.task === at.task && v.local <= (at.local as number);
  }

  /** The version of `path` current at snapshot `at` (null: no file then), or a fault when it was pruned. */
  private stateAt(path: string, at: SnapshotPlace): StateVersion | null | Fault {
    let then: StateVersion | null = null;
    for (const v of this.list(path)) if (this.included(v, at)) then = v;
    if (then === null) {
      const gone = this.value.pruned?.[path];
      if (gone !== undefined && gone < at.step) return fault("unsupported", { path, reason: "history_pruned" });
      return null;
    }
    return then.data === null ? null : then;
  }
}

function infoOf(v: StateVersion): FileVersion {
  return { version: v.id, etag: v.etag, size: v.size, modified_at: v.modified_at, op: v.op };
}

function fileOf(v: StateVersion): DriverFile {
  const data = v.data as FileDataV2;
  return {
    content: typeof data.content === "string" ? data.content : data.content.slice(),
    etag: v.etag,
    mimeType: data.mimeType,
    createdAt: data.created_at,
    modifiedAt: data.modified_at,
  };
}

function byteSize(data: FileDataV2): number {
  return typeof data.content === "string" ? Buffer.byteLength(data.content, "utf8") : data.content.byteLength;
}
