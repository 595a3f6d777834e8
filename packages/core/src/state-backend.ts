import { createHash } from "node:crypto";
import { failure } from "./errors.js";
import { currentFilesChannel, type FilesChannel, type FilesRecord } from "./files-channel.js";
import {
  type ChangesResult,
  DRIVER_HISTORY,
  type DriverHistory,
  type HistoryProtocol,
  type HistoryResult,
  type RestoreSnapshotOptions,
  type RestoreSnapshotResult,
  type SnapshotResult,
} from "./history/history-types.js";
import { DriverBackend } from "./kit/facade.js";
import { MemoryBackend, type MemoryBackendOptions, MemoryDriver } from "./memory-backend.js";
import { getMimeType } from "./mime.js";
import { checkPath } from "./paths.js";
import type {
  BackendCapabilities,
  BackendProtocol,
  DeleteResult,
  EditResult,
  ErrorCode,
  FileDataV2,
  FileDownloadResponse,
  FileUploadResponse,
  GlobResult,
  GrepResult,
  LsResult,
  ReadRawResult,
  ReadResult,
  WriteOptions,
  WriteResult,
} from "./protocol.js";

type Failure = { error: string; code: ErrorCode };

const HISTORY_IN_RUN =
  "StateBackend keeps no history inside a LangGraph run yet (the thread's checkpoints are its history " +
  "there); history: true covers its memory outside a run, or use a MemoryBackend or a store backend with history";

/**
 * Options of {@link StateBackend}: the files of its memory and whether it keeps history, both for
 * its memory outside a graph run (inside a run the history methods answer `unsupported`).
 */
export type StateBackendOptions = MemoryBackendOptions;

/** How often a mutation is re-applied when a concurrent call of the same task changed its files. */
const MAX_ATTEMPTS = 5;

const MISSING_CHANNEL =
  "StateBackend runs inside a LangGraph run whose graph has no 'files' state channel " +
  "(deepagents' filesystem middleware adds it); use MemoryBackend for files shared by every run";

/**
 * The agent's files, kept where deepagents' own `StateBackend` keeps them: inside a LangGraph run
 * (an agent made by `createDeepAgent`), in the thread's `files` state channel, so they are per
 * thread, checkpointed with the thread, seeded by `agent.invoke({ messages, files })` and returned
 * in the result's `files`, stored as deepagents' FileData v2 so its tools and reducer read them.
 * Every change goes through the channel's reducer, so parallel tool calls of one step merge as
 * deepagents merges them; two calls of one step that change the same file do not silently
 * overwrite each other: the second answers `conflict`.
 *
 * Outside a graph run (scripts, tests, the CLI) it keeps files in this object's memory, as a
 * {@link MemoryBackend}, seeded with the constructor's `files` (which a graph run does not see).
 *
 * Etags inside a run are derived from the content, so they survive checkpoints and processes.
 */
export class StateBackend implements BackendProtocol, HistoryProtocol {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: true,
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };

  /** The store used outside a graph run. */
  private readonly memory: MemoryBackend;

  constructor(options: StateBackendOptions = {}) {
    this.memory = new MemoryBackend(options);
  }

  /**
   * A snapshot of every file by path: the current thread's inside a graph run (empty when the
   * graph has no `files` channel), this object's memory outside one.
   */
  get files(): Record<string, FileDataV2> {
    const channel = currentFilesChannel();
    if (channel === undefined) return this.memory.files;
    return channel === "missing" ? {} : viewOf(channel.read()).files;
  }

  ls(path: string): Promise<LsResult> {
    return this.reading((backend) => backend.ls(path), asIs);
  }

  read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    return this.reading((backend) => backend.read(filePath, offset, limit), asIs);
  }

  readRaw(filePath: string): Promise<ReadRawResult> {
    return this.reading((backend) => backend.readRaw(filePath), asIs);
  }

  grep(pattern: string, path?: string | null, glob?: string | null, maxCount?: number | null): Promise<GrepResult> {
    return this.reading((backend) => backend.grep(pattern, path, glob, maxCount), asIs);
  }

  glob(pattern: string, path?: string): Promise<GlobResult> {
    return this.reading((backend) => backend.glob(pattern, path), asIs);
  }

  downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return this.reading(
      (backend) => backend.downloadFiles(paths),
      (f) => paths.map((path) => ({ path, content: null, error: "file_not_found", code: f.code, message: f.error })),
    );
  }

  write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    return this.mutating((backend) => backend.write(filePath, content, options), asIs);
  }

  edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    return this.mutating((backend) => backend.edit(filePath, oldString, newString, replaceAll, options), asIs);
  }

  delete(filePath: string): Promise<DeleteResult> {
    return this.mutating((backend) => backend.delete(filePath), asIs);
  }

  /** Versions of a file, newest first: outside a graph run with `history` on; `unsupported` inside one. */
  history(path: string, options?: { limit?: number }): Promise<HistoryResult> {
    return this.outsideRun((memory) => memory.history(path, options));
  }

  readVersion(path: string, version: string): Promise<ReadRawResult> {
    return this.outsideRun((memory) => memory.readVersion(path, version));
  }

  restore(path: string, version: string, options?: WriteOptions): Promise<WriteResult> {
    return this.outsideRun((memory) => memory.restore(path, version, options));
  }

  snapshot(): Promise<SnapshotResult> {
    return this.outsideRun((memory) => memory.snapshot());
  }

  changesSince(snapshot: string): Promise<ChangesResult> {
    return this.outsideRun((memory) => memory.changesSince(snapshot));
  }

  restoreSnapshot(snapshot: string, options?: RestoreSnapshotOptions): Promise<RestoreSnapshotResult> {
    return this.outsideRun((memory) => memory.restoreSnapshot(snapshot, options));
  }

  uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return this.mutating(
      (backend) => backend.uploadFiles(files),
      // Nothing of the batch was stored; entries that had failed on their own keep their answer.
      (f, attempted) =>
        files.map(([path], i) => {
          const own = attempted?.[i];
          return own && own.error !== null ? own : { path, error: "invalid_path", code: f.code, message: f.error };
        }),
    );
  }

  /** The history of this object's memory outside a graph run (a router restores snapshots through it). */
  [DRIVER_HISTORY](): DriverHistory | undefined {
    return currentFilesChannel() === undefined ? DriverBackend.driverOf(this.memory)?.history : undefined;
  }

  /** Runs a history call on this object's memory; inside a graph run answers `unsupported` (said, not dropped). */
  private outsideRun<T>(op: (memory: MemoryBackend) => Promise<T>): Promise<T> {
    if (currentFilesChannel() === undefined) return op(this.memory);
    return Promise.resolve(failure("unsupported", HISTORY_IN_RUN) as T);
  }

  /** Runs a read-only `op` on the thread's files inside a graph run, on this object's memory outside. */
  private reading<T>(op: (backend: DriverBackend) => Promise<T>, onFailure: (f: Failure) => NoInfer<T>): Promise<T> {
    const channel = currentFilesChannel();
    if (channel === undefined) return op(this.memory);
    if (channel === "missing") return Promise.resolve(onFailure(failure("unsupported", MISSING_CHANNEL)));
    return op(viewOf(channel.read()));
  }

  /**
   * Runs a mutating `op` on a copy of the thread's files and sends what it changed to the channel.
   * Between reading the files and sending, the same task may have changed them (two calls awaited
   * together): then `op` is applied again to the new files, so neither change is lost.
   */
  private mutating<T>(
    op: (backend: DriverBackend) => Promise<T>,
    onFailure: (f: Failure, attempted?: T) => NoInfer<T>,
  ): Promise<T> {
    // Outside a run, the call is the memory's own (no async layer of its own: writes are hot).
    const channel = currentFilesChannel();
    if (channel === undefined) return op(this.memory);
    if (channel === "missing") return Promise.resolve(onFailure(failure("unsupported", MISSING_CHANNEL)));
    return this.mutatingChannel(channel, op, onFailure);
  }

  private async mutatingChannel<T>(
    channel: FilesChannel,
    op: (backend: DriverBackend) => Promise<T>,
    onFailure: (f: Failure, attempted?: T) => NoInfer<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const before = channel.read();
      const view = new ChannelView(before);
      const result = await op(view);
      if (view.changes.size === 0) return result;
      // From here to `send`, nothing awaits: the check, the claim and the send are one step.
      const now = channel.read();
      const paths = [...view.changes.keys()];
      if (paths.some((path) => now[path] !== before[path])) {
        if (attempt < MAX_ATTEMPTS) continue;
        return onFailure(failure("conflict", `The files at ${quoteList(paths)} kept changing; retry`), result);
      }
      const taken = claimForTask(channel, paths);
      if (taken !== null) {
        return onFailure(
          failure("conflict", `'${taken}' was changed by another tool call of this step; read it again and retry`),
          result,
        );
      }
      channel.send(Object.fromEntries(view.changes));
      return result;
    }
  }
}

/** A failure is a valid answer of every method whose result is a single object. */
function asIs(f: Failure): Failure {
  return f;
}

function quoteList(paths: string[]): string {
  const shown = paths.slice(0, 3).map((p) => `'${p}'`);
  return paths.length > 3 ? `${shown.join(", ")} and ${paths.length - 3} more` : shown.join(", ");
}

/**
 * The thread's files as a memory store that records what is changed instead of keeping it. Etags
 * come from the content, so that they are the same in every call, process and checkpoint.
 */
class ChannelDriver extends MemoryDriver {
  /** Path → new FileData, or `null` for a deleted file, in the shape deepagents' reducer merges. */
  readonly changes = new Map<string, FileDataV2 | null>();

  constructor(files: FilesRecord) {
    super();
    for (const [path, value] of Object.entries(files)) {
      // Keys that no method could name (seeded by hand: relative, `..`) stay in the state, unseen.
      const checked = checkPath(path);
      const data = checked.ok && checked.path === path ? asFileDataV2(path, value) : null;
      if (data) this.load(path, data);
    }
  }

  protected override changed(path: string, data: FileDataV2 | null): void {
    this.changes.set(path, data);
  }

  protected override etagFor(data: FileDataV2): string {
    return contentEtag(data);
  }
}

/** The backend contract over the thread's files. */
class ChannelView extends DriverBackend<ChannelDriver> {
  constructor(files: FilesRecord) {
    super(new ChannelDriver(files));
  }

  get changes(): Map<string, FileDataV2 | null> {
    return this.driver.changes;
  }

  get files(): Record<string, FileDataV2> {
    return this.driver.snapshot();
  }
}

/** Read-only views by files record: calls of a step that read the same record share one index. */
const views = new WeakMap<FilesRecord, ChannelView>();

function viewOf(files: FilesRecord): ChannelView {
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
function claimForTask(channel: FilesChannel, paths: string[]): string | null {
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
