/**
 * The thread's files as StateBackend sees them inside a LangGraph run: a memory store built from the
 * `files` channel that records what a call changes instead of keeping it (and, with history on, the
 * versions of those changes for the history channel), with etags derived from the content.
 */
import { createHash } from "node:crypto";
import type { FilesChannel, FilesRecord } from "./files-channel.js";
import { type ChannelFile, type ChannelFiles, ChannelHistory, type ChannelPlace } from "./history/channel-history.js";
import type { StateHistory, StateHistoryUpdate } from "./history/channel-state.js";
import type { HistoryRetention } from "./history/history-types.js";
import { DriverBackend } from "./kit/facade.js";
import { MemoryDriver } from "./memory-backend.js";
import { getMimeType } from "./mime.js";
import { checkPath } from "./paths.js";
import type { FileDataV2 } from "./protocol.js";

/** The history channel's value and where the call runs, for a view that keeps versions. */
export interface ViewHistory {
  value: StateHistory;
  place: ChannelPlace;
  retention: HistoryRetention;
}

/**
 * The thread's files as a memory store that records what is changed instead of keeping it. Etags
 * come from the content, so that they are the same in every call, process and checkpoint.
 */
class ChannelDriver extends MemoryDriver implements ChannelFiles {
  /** Path → new FileData, or `null` for a deleted file, in the shape deepagents' reducer merges. */
  readonly changes = new Map<string, FileDataV2 | null>();
  readonly versions: ChannelHistory | undefined;
  /** The files as the call found them. */
  private readonly loaded = new Map<string, FileDataV2>();

  constructor(files: FilesRecord, history?: ViewHistory) {
    super();
    for (const [path, value] of Object.entries(files)) {
      // Keys that no method could name (seeded by hand: relative, `..`) stay in the state, unseen.
      const checked = checkPath(path);
      const data = checked.ok && checked.path === path ? asFileDataV2(path, value) : null;
      if (data) {
        this.load(path, data);
        this.loaded.set(path, data);
      }
    }
    if (history) {
      this.versions = new ChannelHistory(history.value, this, history.place, history.retention);
      this.recordWith(this.versions);
    }
  }

  current(path: string): ChannelFile | undefined {
    return this.fileAt(path);
  }

  initial(path: string): ChannelFile | undefined {
    const data = this.loaded.get(path);
    return data ? { data, etag: contentEtag(data) } : undefined;
  }

  paths(): Iterable<string> {
    return this.filePaths();
  }

  protected override changed(path: string, data: FileDataV2 | null): void {
    this.changes.set(path, data);
  }

  protected override etagFor(data: FileDataV2): string {
    return contentEtag(data);
  }
}

/** The backend contract over the thread's files. */
export class ChannelView extends DriverBackend<ChannelDriver> {
  constructor(files: FilesRecord, history?: ViewHistory) {
    super(new ChannelDriver(files, history));
  }

  get changes(): Map<string, FileDataV2 | null> {
    return this.driver.changes;
  }

  /** What the call recorded for the history channel (null: nothing, or history off). */
  get historyUpdate(): StateHistoryUpdate | null {
    return this.driver.versions?.update ?? null;
  }

  get files(): Record<string, FileDataV2> {
    return this.driver.snapshot();
  }
}

/** Read-only views by files record: calls of a step that read the same record share one index. */
const views = new WeakMap<FilesRecord, ChannelView>();

/** A read-only view of `files`, shared by the calls that read the same record. */
export function viewOf(files: FilesRecord): ChannelView {
  let view = views.get(files);
  if (!view) {
    view = new ChannelView(files);
    views.set(files, view);
  }
  return view;
}

/** A state value as FileData v2 (the object itself when it already is), or null when it is not FileData. */
function asFileDataV2(path: string, value: unknown): FileDataV2 | null {
  if (typeof value !== "object" || value === null) return null;
  const { content, mimeType, created_at, modified_at } = value as Record<string, unknown>;
  if (typeof created_at !== "string" || typeof modified_at !== "string") return null;
  if (Array.isArray(content)) {
    if (!content.every((line) => typeof line === "string")) return null;
    return { content: content.join("\n"), mimeType: getMimeType(path), created_at, modified_at };
  }
  if (typeof content !== "string" && !(content instanceof Uint8Array)) return null;
  if (typeof mimeType === "string") return value as FileDataV2;
  return { content, mimeType: getMimeType(path), created_at, modified_at };
}

const etags = new WeakMap<FileDataV2, string>();

/** An etag from the MIME type and content of `data` (SHA-256), computed once per FileData object. */
function contentEtag(data: FileDataV2): string {
  let etag = etags.get(data);
  if (etag === undefined) {
    const hash = createHash("sha256").update(data.mimeType).update("\0");
    if (typeof data.content === "string") hash.update("t").update(data.content, "utf8");
    else hash.update("b").update(data.content);
    etag = `s${hash.digest("base64url").slice(0, 27)}`;
    etags.set(data, etag);
  }
  return etag;
}

interface StepClaims {
  checkpointId: unknown;
  /** Path → the task of this step that changed it. */
  owners: Map<string, string>;
}

/** Paths changed in each step, by the step's files record (LangGraph runs a step's tasks in one process). */
const claims = new WeakMap<object, StepClaims>();

/**
 * Records that the current task changes `paths` in this step. Tasks of one step cannot see each
 * other's writes, and the reducer would keep only one of two changes to a file, so a path already
 * changed by another task of the step is refused: returns that path, or null when all were free.
 */
export function claimForTask(channel: FilesChannel, paths: string[]): string | null {
  const step = channel.stepState();
  const task = channel.taskId;
  if (step === null || task === undefined) return null;
  let claimed = claims.get(step);
  if (!claimed || claimed.checkpointId !== channel.checkpointId) {
    claimed = { checkpointId: channel.checkpointId, owners: new Map() };
    claims.set(step, claimed);
  }
  const owners = claimed.owners;
  const taken = paths.find((path) => {
    const owner = owners.get(path);
    return owner !== undefined && owner !== task;
  });
  if (taken !== undefined) return taken;
  for (const path of paths) owners.set(path, task);
  return null;
}
