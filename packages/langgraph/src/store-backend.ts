import { DeepfsError, HistoryDriver, type HistoryOption, type HistoryRetention, StoreHistory } from "@deepfs/core";
import { DriverBackend, grepLimitsOf, isFault } from "@deepfs/core/kit";
import { type BaseStore, InMemoryStore } from "@langchain/langgraph";
import type { BinaryEncoding } from "./file-value.js";
import { HISTORY_LABEL, type NamespaceOption, validateNamespace } from "./namespace.js";
import { StoreDriver } from "./store-driver.js";

/** Options of {@link StoreBackend}. */
export interface StoreBackendOptions {
  /** Any LangGraph store: `InMemoryStore`, `PostgresStore`, the store deepagents hands a backend factory, ... */
  store: BaseStore;
  /**
   * The namespace holding this backend's files, e.g. `["memories", userId]`: a fixed array, or a
   * function called on every operation with the current LangGraph run's `{ state, config,
   * assistantId }`, as deepagents calls it (one namespace per user, assistant or state field from
   * a single backend, e.g. `({ state }) => ["memories", state.userId]`). Components must be non-empty and must not
   * contain `. : * ? [ ] { } % \` or control characters; the first must not be `langgraph`.
   * The backend sees exactly this namespace: never a sibling (`acme-corp` for `acme`) nor a
   * deeper one (`["acme", "x"]`).
   */
  namespace: NamespaceOption;
  /**
   * How binary files are stored (see {@link BinaryEncoding}). Default: `"bytes"` for an
   * `InMemoryStore` (as deepagents' own StoreBackend does), `"base64"` for every other store.
   * Both forms are always readable.
   */
  binaryEncoding?: BinaryEncoding;
  /**
   * Version history (off by default): `true`, or `{ maxVersions?, maxAgeMs? }`. Versions are kept
   * in namespaces of their own in the same store, below `["deepfs-history", ...namespace]` (a
   * component no StoreBackend's own namespace may have, so no path reaches it), by the machinery of core's
   * `withHistory`: recorded right after each change, not atomically with it (see there what can
   * be lost). Across processes it is as strong as the store's conditional writes (see above).
   */
  history?: HistoryOption;
  /**
   * Most matching lines a grep answers when `maxCount` allows more (or is not given); past it grep
   * answers `too_large` and stops scanning the namespace there. Default 1,000,000.
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines a grep answers; past it grep answers
   * `too_large` and stops scanning the namespace there. Default 256 Mi.
   */
  maxGrepTextLength?: number;
}

function retentionOf(option: HistoryOption | undefined): HistoryRetention | null {
  if (option === undefined || option === false) return null;
  return option === true ? {} : option;
}

/**
 * The store the calls go to: for an `AsyncBatchedStore` (what LangGraph hands a running graph, e.g.
 * as deepagents' `runtime.store`) the store it queues for, whose `batch` the driver needs (the
 * wrapper's throws) and whose lock every backend on that store shares.
 */
function storeBehind(store: BaseStore): BaseStore {
  const wrapper = store as { lg_name?: unknown; store?: Partial<BaseStore> };
  const inner = wrapper.lg_name === "AsyncBatchedStore" ? wrapper.store : undefined;
  return typeof inner?.batch === "function" && typeof inner.get === "function" ? (inner as BaseStore) : store;
}

/**
 * Files in a LangGraph `BaseStore`: one store item per file, keyed by its virtual path, valued
 * with FileData v2 as deepagents' own `StoreBackend` writes it (so memories written by either
 * are readable by the other), in exactly one namespace.
 *
 * Edits and conditional writes are atomic within a process (a lock per file, shared by every
 * backend on the same store object). `BaseStore` has no compare-and-swap, so across processes a
 * conditional write (and so an edit) reads the file's etag just before it writes and answers
 * `conflict` when it changed (an edit then re-applies); a change landing between that read and
 * the write can still be lost.
 *
 * @example
 * ```ts
 * const store = new InMemoryStore();
 * const agent = createDeepAgent({
 *   store,
 *   backend: new CompositeBackend(new StateBackend(), {
 *     "/memories/": new StoreBackend({ store, namespace: ["memories"] }),
 *   }),
 * });
 * // Or one namespace per user, from the runtime deepagents passes a backend factory:
 * // backend: (runtime) => new StoreBackend({ store: runtime.store, namespace: ["memories", runtime.context.userId] })
 * ```
 */
export class StoreBackend extends DriverBackend<StoreDriver | HistoryDriver> implements AsyncDisposable {
  /** The store the files live in (not owned: `close()` leaves it open). */
  readonly store: BaseStore;
  readonly binaryEncoding: BinaryEncoding;
  private readonly files: StoreDriver;

  constructor(options: StoreBackendOptions) {
    const store = options?.store as Partial<BaseStore> | undefined;
    if (typeof store?.get !== "function" || typeof store.search !== "function" || typeof store.batch !== "function") {
      throw new DeepfsError("invalid_argument", "StoreBackend needs `store`: a LangGraph BaseStore");
    }
    const namespace =
      typeof options.namespace === "function" ? options.namespace : validateNamespace(options.namespace);
    const encoding = options.binaryEncoding ?? (options.store instanceof InMemoryStore ? "bytes" : "base64");
    if (encoding !== "bytes" && encoding !== "base64") {
      throw new DeepfsError("invalid_argument", 'StoreBackend `binaryEncoding` must be "bytes" or "base64"');
    }
    const driven = storeBehind(options.store);
    // The facade checks the limits' values (whole numbers >= 0) as it is built.
    const files = new StoreDriver(driven, namespace, encoding, undefined, false, grepLimitsOf(options));
    const retention = retentionOf(options.history);
    if (retention === null) super(files);
    else {
      const versions = new DriverBackend(new StoreDriver(driven, namespace, encoding, HISTORY_LABEL, true));
      super(new HistoryDriver(files, new StoreHistory(versions, retention)));
    }
    this.files = files;
    this.store = options.store;
    this.binaryEncoding = encoding;
  }

  /**
   * The namespace this call would use: the fixed one, or what the namespace function returns for
   * the current LangGraph run. Throws a `DeepfsError` when the function returns an invalid one.
   */
  currentNamespace(): readonly string[] {
    const resolved = this.files.namespace();
    if (isFault(resolved)) {
      const detail = resolved.detail ?? "the StoreBackend namespace is invalid";
      throw new DeepfsError(resolved.fault, `${detail[0]?.toUpperCase()}${detail.slice(1)}`);
    }
    return resolved;
  }

  /** Nothing to release: the store was given, not created, and stays open. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
