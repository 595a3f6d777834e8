import { failure } from "./errors.js";
import { currentFilesChannel, FILES_CHANNEL, type FilesChannel } from "./files-channel.js";
import { shortId } from "./history/channel-history.js";
import { HISTORY_CHANNEL, stateHistoryOf } from "./history/channel-state.js";
import {
  type ChangesResult,
  DRIVER_HISTORY,
  type DriverHistory,
  type HistoryOption,
  type HistoryProtocol,
  type HistoryResult,
  type RestoreSnapshotOptions,
  type RestoreSnapshotResult,
  type SnapshotResult,
} from "./history/history-types.js";
import { type Driver, grepLimitsOf, type StoreLimits } from "./kit/driver.js";
import { DriverBackend } from "./kit/facade.js";
import { MemoryBackend, type MemoryBackendOptions } from "./memory-backend.js";
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
import { ChannelView, claimForTask, type ViewHistory, viewOf } from "./state-view.js";

type Failure = { error: string; code: ErrorCode };

const HISTORY_OFF = "History is off for this StateBackend; turn it on with the `history` option";

const NO_HISTORY_CHANNEL =
  `StateBackend keeps history inside a LangGraph run in the thread's '${HISTORY_CHANNEL}' state channel, ` +
  "which this graph does not have: add deepfsHistory() from @deepfs/langgraph to the agent's middleware";

/**
 * Options of {@link StateBackend}: the files of its memory outside a graph run, and whether it keeps
 * history (outside a run in its memory; inside a run in the thread's state, see {@link StateBackend}).
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
 *
 * With `history` on, every change is a version. Inside a run the versions are kept in the thread's
 * state too, in the `deepfs_history` channel that `deepfsHistory()` (@deepfs/langgraph) adds to an
 * agent: per thread, checkpointed with it, recorded in the same step as the change, never listed as
 * files. A file changed outside deepfs (seeded by the input, written by a subagent or another tool)
 * gets a version of what it became the next time deepfs changes it or takes a snapshot.
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

  /** The history option, for the thread's history inside a run. */
  private readonly historyOption: HistoryOption | undefined;

  constructor(options: StateBackendOptions = {}) {
    this.memory = new MemoryBackend(options);
    this.historyOption = options.history;
    this.grepLimits = grepLimitsOf(options);
  }

  /** The grep bounds given to this backend, which a thread's files (a fresh view each step) keep too. */
  private readonly grepLimits: StoreLimits | undefined;

  /** `backend`, or for a thread's files with grep bounds given, a facade over them with those bounds. */
  private bounded(backend: DriverBackend): DriverBackend {
    if (!this.grepLimits || backend === this.memory) return backend;
    const driver = DriverBackend.driverOf(backend) as Driver;
    return new DriverBackend(driver, {
      maxGrepMatches: this.grepLimits.maxGrepMatches,
      maxGrepTextLength: this.grepLimits.maxGrepTextLength,
    });
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
    return this.reading((backend) => this.bounded(backend).grep(pattern, path, glob, maxCount), asIs);
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

  /** Versions of a file, newest first (with `history` on: in this object's memory, or the thread's). */
  history(path: string, options?: { limit?: number }): Promise<HistoryResult> {
    return this.versioned((backend) => backend.history(path, options), false);
  }

  readVersion(path: string, version: string): Promise<ReadRawResult> {
    return this.versioned((backend) => backend.readVersion(path, version), false);
  }

  restore(path: string, version: string, options?: WriteOptions): Promise<WriteResult> {
    return this.versioned((backend) => backend.restore(path, version, options), true);
  }

  /** Takes a snapshot; inside a run it also versions files changed outside deepfs (a state update). */
  snapshot(): Promise<SnapshotResult> {
    return this.versioned((backend) => backend.snapshot(), true);
  }

  changesSince(snapshot: string): Promise<ChangesResult> {
    return this.versioned((backend) => backend.changesSince(snapshot), false);
  }

  restoreSnapshot(snapshot: string, options?: RestoreSnapshotOptions): Promise<RestoreSnapshotResult> {
    return this.versioned((backend) => backend.restoreSnapshot(snapshot, options), !options?.dryRun);
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

  /**
   * The store history under this backend, for a router reading its files as of a snapshot: this
   * object's memory outside a graph run, the thread's history inside one (read-only use).
   */
  [DRIVER_HISTORY](): DriverHistory | undefined {
    const channel = currentFilesChannel();
    if (channel === undefined) return DriverBackend.driverOf(this.memory)?.history;
    if (channel === "missing") return undefined;
    const history = this.historyOf(channel);
    return history ? DriverBackend.driverOf(new ChannelView(channel.read(), history))?.history : undefined;
  }

  /**
   * Runs a history call: on this object's memory outside a graph run, on the thread's files and
   * history channel inside one (as a mutation when it may change them).
   */
  private versioned<T>(op: (backend: DriverBackend) => Promise<T>, mutates: boolean): Promise<T> {
    const channel = currentFilesChannel();
    if (channel === undefined) return op(this.memory);
    if (channel === "missing") return Promise.resolve(failure("unsupported", MISSING_CHANNEL) as T);
    if (!this.historyOption) return Promise.resolve(failure("unsupported", HISTORY_OFF) as T);
    if (channel.other(HISTORY_CHANNEL) === "missing") {
      return Promise.resolve(failure("unsupported", NO_HISTORY_CHANNEL) as T);
    }
    if (mutates) return this.mutatingChannel(channel, op, asIs as (f: Failure) => T);
    return op(new ChannelView(channel.read(), this.historyOf(channel)));
  }

  /** The thread's history as the running task sees it, when history is on and the graph keeps it. */
  private historyOf(channel: FilesChannel): ViewHistory | undefined {
    const option = this.historyOption;
    if (!option) return undefined;
    const history = channel.other(HISTORY_CHANNEL);
    if (history === "missing") return undefined;
    return {
      value: stateHistoryOf(history.read()),
      place: {
        thread: channel.threadId,
        step: stateHistoryOf(history.stepState()).next,
        task: shortId(channel.taskId ?? ""),
      },
      retention: option === true ? {} : option,
    };
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
      const history = this.historyOf(channel);
      const view = new ChannelView(before, history);
      const result = await op(view);
      const versions = view.historyUpdate;
      if (view.changes.size === 0 && versions === null) return result;
      // From here to `send`, nothing awaits: the check, the claim and the send are one step.
      const now = channel.read();
      const paths = [...view.changes.keys()];
      // Another call of this task recorded versions meanwhile: their ids would collide with ours.
      const seen = channel.other(HISTORY_CHANNEL);
      const moved = versions !== null && seen !== "missing" && stateHistoryOf(seen.read()).next !== history?.value.next;
      if (moved || paths.some((path) => now[path] !== before[path])) {
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
      const writes: Array<[string, unknown]> = [];
      if (paths.length > 0) writes.push([FILES_CHANNEL, Object.fromEntries(view.changes)]);
      if (versions !== null) writes.push([HISTORY_CHANNEL, versions]);
      channel.sendAll(writes);
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
