/**
 * The `files` state channel of the LangGraph run a call belongs to, found without importing
 * LangGraph: `@langchain/core` keeps the run config of the current task in an AsyncLocalStorage
 * published on `globalThis` under registered symbols (so that duplicate installs share it), which
 * is where LangGraph's own `getConfig()` reads it. deepagents' `StateBackend` reads and writes the
 * thread's files through the same two functions of that config.
 */

const ASYNC_STORAGE_KEY = Symbol.for("ls:tracing_async_local_storage");
const CHILD_CONFIG_KEY = Symbol.for("lc:child_config");
/** LangGraph's `CONFIG_KEY_READ` / `CONFIG_KEY_SEND` / `CONFIG_KEY_TASK_ID`. */
const READ_KEY = "__pregel_read";
const SEND_KEY = "__pregel_send";
const TASK_ID_KEY = "__pregel_task_id";
/** The name of the state channel deepagents keeps the files in. */
export const FILES_CHANNEL = "files";
const CHANNEL = FILES_CHANNEL;

/** A value of the `files` channel: FileData (or anything a caller seeded) by path. */
export type FilesRecord = Record<string, unknown>;

/** The `files` channel of the current task. */
export interface FilesChannel {
  /** The files as this task sees them: the step's state plus this task's own pending writes. */
  read(): FilesRecord;
  /**
   * The channel's value at the start of the step, the same object for every task of the step
   * (null when the channel is empty): it identifies the step.
   */
  stepState(): object | null;
  /** Queues `update` (FileData, or `null` to delete) for the channel's reducer. */
  send(update: Record<string, unknown>): void;
  /** The id of the current task, when LangGraph gives one. */
  taskId: string | undefined;
  /** The checkpoint the step started from, when the graph has a checkpointer. */
  checkpointId: unknown;
  /** The thread's id ("" without a checkpointer). */
  threadId: string;
  /** Another channel of the same task (`"missing"` when the graph has none of that name). */
  other(name: string): TaskChannel | "missing";
  /** Queues updates of several channels at once: they land in the same step, or none does. */
  sendAll(writes: Array<[string, unknown]>): void;
}

/** A state channel of the current task, as {@link FilesChannel} gives its files. */
export interface TaskChannel {
  /** The value as this task sees it (the step's value plus the task's own pending writes). */
  read(): unknown;
  /** The value at the start of the step. */
  stepState(): unknown;
}

type ReadFn = (channel: string, fresh?: boolean) => unknown;
type SendFn = (writes: Array<[string, unknown]>) => void;

function recordOf(value: unknown): Record<string | symbol, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string | symbol, unknown>) : undefined;
}

/** The `configurable` of the LangGraph task running this call, or undefined outside a graph run. */
function currentConfigurable(): Record<string, unknown> | undefined {
  const storage = recordOf((globalThis as Record<symbol, unknown>)[ASYNC_STORAGE_KEY]);
  const getStore = storage?.getStore;
  if (typeof getStore !== "function") return undefined;
  const store = recordOf(getStore.call(storage));
  const config = recordOf(recordOf(store?.extra)?.[CHILD_CONFIG_KEY]);
  return recordOf(config?.configurable) as Record<string, unknown> | undefined;
}

/**
 * The `files` channel of the LangGraph task running this call; `undefined` outside a graph run;
 * `"missing"` inside a run whose graph has no `files` channel (no deepagents filesystem middleware).
 */
export function currentFilesChannel(): FilesChannel | "missing" | undefined {
  const configurable = currentConfigurable();
  const read = configurable?.[READ_KEY];
  const send = configurable?.[SEND_KEY];
  if (typeof read !== "function" || typeof send !== "function") return undefined;
  const readChannel = (fresh: boolean): unknown => (read as ReadFn)(CHANNEL, fresh);
  try {
    // LangGraph throws (TypeError) when the graph has no channel of that name.
    readChannel(false);
  } catch {
    return "missing";
  }
  const taskId = configurable?.[TASK_ID_KEY];
  const threadId = configurable?.thread_id;
  return {
    read: () => (recordOf(readChannel(true)) as FilesRecord | undefined) ?? {},
    stepState: () => recordOf(readChannel(false)) ?? null,
    send: (update) => (send as SendFn)([[CHANNEL, update]]),
    taskId: typeof taskId === "string" ? taskId : undefined,
    checkpointId: configurable?.checkpoint_id,
    threadId: typeof threadId === "string" || typeof threadId === "number" ? String(threadId) : "",
    other: (name) => {
      try {
        (read as ReadFn)(name, false);
      } catch {
        return "missing";
      }
      return { read: () => (read as ReadFn)(name, true), stepState: () => (read as ReadFn)(name, false) };
    },
    sendAll: (writes) => (send as SendFn)(writes),
  };
}
