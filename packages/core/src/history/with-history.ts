/**
 * `withHistory(backend, { store })`: version history for any backend (a third party's, a sandbox,
 * one without native history), kept in another deepfs backend. A {@link DriverBackend} over a
 * {@link HistoryDriver}, which forwards every primitive to the backend and records each mutation's
 * version in a {@link StoreHistory} after the backend acknowledged it.
 */
import { isBackend } from "../composite-mounts.js";
import { memberDriver } from "../composite-protocol-driver.js";
import { DeepfsError } from "../errors.js";
import type { CallContext, Driver, Fault, WriteCall } from "../kit/driver.js";
import { fault, isFault } from "../kit/driver.js";
import { DriverBackend } from "../kit/facade.js";
import { ForwardingDriver } from "../kit/forwarding-driver.js";
import type { BackendProtocol } from "../protocol.js";
import type { HistoryRetention } from "./history-types.js";
import { StoreHistory } from "./store-history.js";

/** Options of {@link withHistory}. */
export interface WithHistoryOptions extends HistoryRetention {
  /**
   * Where versions are kept: any deepfs backend with conditional writes (`ifNoneMatch: "*"` and
   * `ifMatch` enforced atomically), used by nothing else. Every process wrapping the same backend
   * must use the same store: they then share one history.
   */
  store: BackendProtocol;
}

/** A change made by the backend whose version could not be recorded. */
const NOT_RECORDED = (cause: Fault): Fault =>
  fault("backend_unavailable", {
    detail: `the change was made but its version was not recorded: ${cause.detail ?? "the history store failed"}`,
  });

/** A driver that forwards to `base` and records versions in `history`. */
export class HistoryDriver extends ForwardingDriver {
  override readonly history: StoreHistory;

  constructor(base: Driver, history: StoreHistory) {
    // Each file of an upload must be recorded, so batches go file by file; the base's own history
    // (if any) is replaced by this one.
    super(base, { omit: ["writeBatch", "history"] });
    this.history = history;
  }

  /** Writes through the backend, then records the version, both under the store's path lock. */
  override write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    return this.history.locked([path], async () => {
      const done = await this.base.write(path, content, call);
      if (isFault(done)) return done;
      let etag = done.etag;
      if (!etag) {
        // A backend that answers no etag for a write (an upload by its public methods): ask it.
        const stat = await this.base.stat(path, {});
        if (!isFault(stat) && stat.kind === "file" && stat.etag) etag = stat.etag;
      }
      const recorded = await this.history.record(path, call.op ?? "write", { content, etag });
      return isFault(recorded) ? NOT_RECORDED(recorded) : { etag };
    });
  }

  /** Removes through the backend, then records a tombstone for every file it removed. */
  override async remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    const files = await this.filesAt(path, call);
    if (isFault(files)) return files;
    return this.history.locked(files, async () => {
      const done = await this.base.remove(path, call);
      if (isFault(done)) return done;
      for (const file of files) {
        const recorded = await this.history.record(file, "delete", null);
        if (isFault(recorded)) return NOT_RECORDED(recorded);
      }
      return done;
    });
  }

  /** The files a remove of `path` deletes: the file itself, or every file below a directory. */
  private async filesAt(path: string, call: CallContext): Promise<string[] | Fault> {
    const stat = await this.base.stat(path, call);
    if (isFault(stat)) return stat;
    if (stat.kind === "file") return [path];
    if (stat.kind === "none") return [];
    const out: string[] = [];
    try {
      for await (const entry of this.base.walk(path, call)) if (entry.kind === "file") out.push(entry.path);
    } catch (error) {
      const thrown = (error as { fault?: unknown }).fault;
      return isFault(thrown) ? thrown : fault("backend_unavailable");
    }
    return out;
  }
}

/**
 * A backend with version history kept in `options.store`: `history`, `readVersion`, `restore`,
 * `snapshot`, `changesSince` and `restoreSnapshot` work as on a backend with native history.
 *
 * The guarantee is weaker than a native one: the version is recorded after the backend
 * acknowledged the change, not atomically with it. A change whose version could not be recorded
 * (the history store failed, or the process died between the two steps) is made but has no
 * version: the call then answers `backend_unavailable` saying "the change was made but its version
 * was not recorded", so the caller knows; a crash reports nothing. Changes made to the backend
 * without this wrapper have no versions either. When the store cannot take a path lock first, the
 * change is not made at all. Two processes sharing a store never lose or mix each other's versions:
 * sequence numbers are claimed atomically, and a path lock in the store orders each file's changes.
 */
export class HistoryBackend extends DriverBackend<HistoryDriver> {
  /** The backend whose changes are recorded. */
  readonly base: BackendProtocol;
  /** Where the versions are kept. */
  readonly store: BackendProtocol;

  constructor(backend: BackendProtocol, options: WithHistoryOptions) {
    if (!isBackend(backend)) {
      throw new DeepfsError("invalid_argument", "withHistory needs a backend (an object with backend methods)");
    }
    if (!options || !isBackend(options.store)) {
      throw new DeepfsError("invalid_argument", "withHistory needs a history store: a backend in `store`");
    }
    if (options.store === backend) {
      throw new DeepfsError("invalid_argument", "withHistory's store must be another backend than the one it records");
    }
    const retention: HistoryRetention = {};
    if (options.maxVersions !== undefined) retention.maxVersions = options.maxVersions;
    if (options.maxAgeMs !== undefined) retention.maxAgeMs = options.maxAgeMs;
    super(new HistoryDriver(memberDriver(backend), new StoreHistory(options.store, retention)));
    this.base = backend;
    this.store = options.store;
  }
}

/** `backend` with version history kept in `options.store` (see {@link HistoryBackend}). */
export function withHistory(backend: BackendProtocol, options: WithHistoryOptions): HistoryBackend {
  return new HistoryBackend(backend, options);
}
