/**
 * The facade's history methods (`history`, `readVersion`, `restore`, `snapshot`, `changesSince`,
 * `restoreSnapshot`), written once over a driver's {@link DriverHistory}: validation, the path
 * locks, read-only refusal and every sentence, as for the other methods of {@link DriverBackend}.
 */
import { failure } from "../errors.js";
import type {
  ChangesResult,
  DriverHistory,
  HistoryResult,
  RestoreSnapshotOptions,
  RestoreSnapshotResult,
  SnapshotChange,
  SnapshotResult,
  VersionedFile,
  VersionRef,
} from "../history/history-types.js";
import { getMimeType } from "../mime.js";
import { checkPath, comparePaths } from "../paths.js";
import type { ErrorCode, MaybePromise, ReadRawResult, WriteOptions, WriteResult } from "../protocol.js";
import { chain, guarded, rawContent, writeChecked } from "./calls.js";
import { type Driver, type Fault, fault, isFault, type WriteCall } from "./driver.js";
import { failureOf, type Operation } from "./messages.js";

/** What the history methods need of the facade. */
export interface HistoryHost {
  readonly driver: Driver;
  /** The caller's path as the contract validates it (see `DriverBackend.fileArgument`). */
  argument(raw: string): string;
  /** `read_only` when the store refuses every mutation of `path`, else null. */
  readOnly(path: string): Fault | null;
  /** Runs a mutation of `paths` under the facade's path locks. */
  guard<T>(paths: string[], call: () => MaybePromise<T | Fault>): MaybePromise<T | Fault>;
}

/** The fault of a store that keeps no history. */
const NO_HISTORY = fault("unsupported", { reason: "no_history", detail: "turn it on with the `history` option" });

/** A native restore's call: the caller's precondition and signal. */
function restoreCall(options: WriteOptions | undefined): WriteCall {
  const call: WriteCall = { op: "restore" };
  if (options?.signal) call.signal = options.signal;
  if (options?.ifMatch !== undefined) call.ifMatch = options.ifMatch;
  if (options?.ifNoneMatch !== undefined) call.ifNoneMatch = options.ifNoneMatch;
  return call;
}

type Checked = { path: string; history: DriverHistory } | { error: string; code: ErrorCode };

/** The history methods over one facade. */
export class HistoryCalls {
  private readonly host: HistoryHost;

  constructor(host: HistoryHost) {
    this.host = host;
  }

  async history(raw: string, options?: { limit?: number }): Promise<HistoryResult> {
    const checked = this.check("history", raw);
    if ("error" in checked) return checked;
    const limit = options?.limit;
    if (limit !== undefined && !(typeof limit === "number" && limit >= 1)) {
      return failure("invalid_argument", `limit for the history of '${checked.path}' must be a number >= 1`);
    }
    const found = await guarded(() =>
      checked.history.versions(checked.path, limit === undefined ? undefined : Math.floor(limit), {}),
    );
    return isFault(found) ? failureOf("history", checked.path, found) : { versions: found };
  }

  async readVersion(raw: string, version: string): Promise<ReadRawResult> {
    const checked = this.check("readVersion", raw, { id: version });
    if ("error" in checked) return checked;
    const got = await guarded(() => checked.history.readVersion(checked.path, version, {}));
    if (isFault(got)) return failureOf("readVersion", checked.path, got);
    const mimeType = got.mimeType ?? getMimeType(checked.path);
    const modified = got.modifiedAt ?? "";
    const data = {
      content: rawContent(got, mimeType),
      mimeType,
      created_at: got.createdAt ?? modified,
      modified_at: modified,
    };
    return { data, etag: got.etag };
  }

  /** Writes the content of `version` back as a new version (op `restore`), honouring `ifMatch`. */
  async restore(raw: string, version: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = this.check("restore", raw, { id: version });
    if ("error" in checked) return checked;
    const { path, history } = checked;
    const refused = this.host.readOnly(path);
    if (refused) return failureOf("restore", path, refused);
    const { driver } = this.host;
    const written = await guarded(() =>
      this.host.guard([path], () => {
        if (history.restore) return history.restore(path, version, restoreCall(options));
        // Written back, not answered: the whole version, whatever the store's read limit.
        return chain(history.readVersion(path, version, { signal: options?.signal, whole: true }), (got) =>
          isFault(got) ? got : writeChecked(driver, path, got.content, options, "restore"),
        );
      }),
    );
    return isFault(written) ? failureOf("restore", path, written) : { path, etag: written.etag };
  }

  async snapshot(): Promise<SnapshotResult> {
    const history = this.host.driver.history;
    if (!history) return failureOf("snapshot", "/", NO_HISTORY);
    const taken = await guarded(() => history.snapshot({}));
    return isFault(taken) ? failureOf("snapshot", "/", taken) : { snapshot: taken };
  }

  async changesSince(snapshot: string): Promise<ChangesResult> {
    const found = await this.changesOf(snapshot);
    return "error" in found ? found : { changes: found };
  }

  /**
   * Brings every file back to its state at `snapshot`: a file added since is deleted, a file
   * modified or deleted since is written back (a new version, op `restore`). Each file under its
   * path lock; files that fail are reported in `failed`, the others are restored.
   */
  async restoreSnapshot(snapshot: string, options?: RestoreSnapshotOptions): Promise<RestoreSnapshotResult> {
    const found = await this.changesOf(snapshot);
    if ("error" in found) return found;
    if (options?.dryRun) return { changes: found, dryRun: true };
    const history = this.host.driver.history as DriverHistory;
    const done: SnapshotChange[] = [];
    const failed: NonNullable<RestoreSnapshotResult["failed"]> = [];
    for (const change of found) {
      const outcome = await this.restoreOne(history, snapshot, change);
      if (isFault(outcome)) failed.push({ path: change.path, ...failureOf("restoreSnapshot", change.path, outcome) });
      else done.push(change);
    }
    const first = failed[0];
    return first ? { changes: done, failed, error: first.error, code: first.code } : { changes: done };
  }

  private async restoreOne(history: DriverHistory, snapshot: string, change: SnapshotChange): Promise<unknown> {
    const { path } = change;
    const refused = this.host.readOnly(path);
    if (refused) return refused;
    const { driver } = this.host;
    // A store (or a router's member) that restores natively copies the version itself and records
    // its own restore: it is asked for the version's id alone, not for content it would not use.
    const versionOnly = history.restore !== undefined;
    return guarded(() =>
      this.host.guard([path], () =>
        chain<VersionedFile | VersionRef | null | Fault, unknown>(
          history.readAt(snapshot, path, { versionOnly }),
          (then) => {
            if (isFault(then)) return then;
            if (then === null) return driver.remove(path, {});
            if (then.version !== undefined && history.restore)
              return history.restore(path, then.version, { op: "restore" });
            // Only a history with `restore` is asked for the id alone; a store that answers it anyway
            // gave nothing to write.
            if (then.content === undefined)
              return fault("unsupported", { path, detail: "no content as of the snapshot" });
            return driver.write(path, then.content, { op: "restore" });
          },
        ),
      ),
    );
  }

  private async changesOf(snapshot: string): Promise<SnapshotChange[] | { error: string; code: ErrorCode }> {
    const history = this.host.driver.history;
    if (!history) return failureOf("changesSince", "/", NO_HISTORY);
    if (typeof snapshot !== "string" || snapshot === "") {
      return failure("invalid_argument", "The snapshot must be an id returned by snapshot()");
    }
    const found = await guarded(() => history.changesSince(snapshot, {}));
    if (isFault(found)) return failureOf("changesSince", "/", found);
    return [...found].sort((a, b) => comparePaths(a.path, b.path));
  }

  /** The validated path (and version) of a per-file history call, with the store's history. */
  private check(op: Operation, raw: string, version?: { id: unknown }): Checked {
    const checked = checkPath(this.host.argument(raw));
    if (!checked.ok) return failure(checked.code, checked.error);
    const history = this.host.driver.history;
    if (!history) return failureOf(op, checked.path, NO_HISTORY);
    if (version && (typeof version.id !== "string" || version.id === "")) {
      return failure("invalid_argument", `The version of '${checked.path}' must be an id listed by history()`);
    }
    return { path: checked.path, history };
  }
}
