// A stand-in for LangGraph's run of a thread: tasks and steps over the `files` channel (and the
// `deepfs_history` channel), seen as LangGraph shows them to a task.
import { AsyncLocalStorage } from "node:async_hooks";
import { type BackendProtocol, HISTORY_CHANNEL, reduceStateHistory } from "@deepfs/core";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import { filesValue } from "deepagents";

// LangGraph installs this storage when it starts a run; the tasks below stand in for its tasks.
AsyncLocalStorageProviderSingleton.initializeGlobalInstance(new AsyncLocalStorage());

type Files = Record<string, unknown>;
type Write = [channel: string, update: unknown];
/** deepagents' reducer of the `files` channel: merges updates, `null` deletes. */
const reduceFiles = (current: unknown, update: unknown): unknown =>
  filesValue.reducer(current as never, update as never);

/**
 * One thread's `files` channel (and, with `history`, the `deepfs_history` channel that
 * deepfsHistory() adds), with tasks that see them as LangGraph shows them to a task: the state at
 * the start of the step plus the task's own pending writes. `commit()` ends the step, applying
 * every task's writes through the channels' reducers in task order.
 */
export class Thread {
  files: Files;
  /** The history channel's value (undefined: the graph has no such channel). */
  history: unknown;
  private readonly reducers = new Map<string, (current: unknown, update: unknown) => unknown>([["files", reduceFiles]]);
  private pending: Array<{ writes: Write[] }> = [];
  /** The step in progress (see `step`). */
  private running: Promise<void> = Promise.resolve();

  constructor(files: Files = {}, options: { history?: boolean; id?: string } = {}) {
    this.files = files;
    this.id = options.id ?? "t";
    if (options.history) {
      this.reducers.set(HISTORY_CHANNEL, reduceStateHistory);
      this.history = reduceStateHistory(undefined, undefined);
    }
  }

  private readonly id: string;

  private value(channel: string): unknown {
    return channel === "files" ? this.files : this.history;
  }

  private apply(writes: Write[]): void {
    for (const [channel, update] of writes) {
      const reduce = this.reducers.get(channel);
      if (!reduce) throw new TypeError(`no channel ${channel}`);
      if (channel === "files") this.files = reduce(this.files, update) as Files;
      else this.history = reduce(this.history, update);
    }
  }

  /** A task of the current step: runs `fn` with the task's run config, as LangGraph does. */
  task(id: string): <T>(fn: () => Promise<T>) => Promise<T> {
    const own = { writes: [] as Write[] };
    this.pending.push(own);
    return (fn) => AsyncLocalStorageProviderSingleton.runWithConfig({ configurable: this.configurable(id, own) }, fn);
  }

  /**
   * Runs `fn` as a step of its own, applying its writes when it ends. As in LangGraph, a thread
   * runs one step at a time: a step starts once the one before it has committed (calls that must
   * run side by side are tasks of one step, made by `task()`).
   */
  async step<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.running;
    let finished = () => {};
    this.running = new Promise<void>((resolve) => {
      finished = resolve;
    });
    await before;
    const own = { writes: [] as Write[] };
    try {
      return await AsyncLocalStorageProviderSingleton.runWithConfig({ configurable: this.configurable(id, own) }, fn);
    } finally {
      this.apply(own.writes);
      finished();
    }
  }

  /** Ends the step of the tasks made by `task()`: their writes, in task order. */
  commit(): void {
    for (const task of this.pending) this.apply(task.writes);
    this.pending = [];
  }

  private configurable(id: string, own: { writes: Write[] }) {
    return {
      thread_id: this.id,
      __pregel_task_id: id,
      __pregel_read: (channel: string, fresh = false) => {
        const reduce = this.reducers.get(channel);
        if (!reduce) throw new TypeError(`no channel ${channel}`);
        let value = this.value(channel);
        if (fresh) for (const [c, update] of own.writes) if (c === channel) value = reduce(value, update);
        return value;
      },
      __pregel_send: (writes: Write[]) => {
        for (const write of writes) {
          if (!this.reducers.has(write[0])) throw new TypeError(`no channel ${write[0]}`);
          own.writes.push(write);
        }
      },
    };
  }
}

/** `backend` whose every call is a task of its own step on `thread`, committed when the call ends. */
export function inThread<B extends BackendProtocol>(backend: B, thread: Thread): B {
  let calls = 0;
  return new Proxy(backend, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property === "symbol") return value;
      return (...args: unknown[]) => thread.step(`call-${++calls}`, () => value.apply(target, args));
    },
  });
}
