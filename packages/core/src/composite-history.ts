/**
 * The router's history ({@link RouterHistory}, `RouterDriver.history`): per-file calls go to the
 * member serving the path (its driver's history, or its public history methods when it is not
 * built on the facade); a snapshot is one id over every member, the default included; changes
 * since it fan out and come back in caller paths, without files a nested route shadows.
 */
import { innerPath, isReadOnlyMount, type Mount, type MountTable, mountLabel, outerPath } from "./composite-mounts.js";
import { callMember } from "./composite-paths.js";
import { faultOf } from "./composite-protocol-driver.js";
import { readOnlyFault, writeTo } from "./composite-router.js";
import { isFileDataV1 } from "./file-data.js";
import {
  DRIVER_HISTORY,
  type DriverHistory,
  type FileVersion,
  type HistoryProtocol,
  type ReadAtCall,
  type SnapshotChange,
  type VersionedFile,
  type VersionRef,
} from "./history/history-types.js";
import { type CallContext, type DriverFile, type Fault, fault, isFault, type WriteCall } from "./kit/driver.js";
import { DriverBackend } from "./kit/facade.js";
import type { BackendProtocol, ReadRawResult, WriteOptions } from "./protocol.js";

/** Snapshot ids of a router start with this, followed by base64url JSON of `[mount, member id][]`. */
const SNAPSHOT_PREFIX = "r.";

/** The history of a backend not built on the facade, over its public methods (when it has them). */
export function protocolHistory(backend: BackendProtocol, label: string): DriverHistory | undefined {
  const b = backend as BackendProtocol & Partial<HistoryProtocol>;
  if (typeof b.history !== "function" || typeof b.snapshot !== "function") return undefined;
  const h = b as BackendProtocol & HistoryProtocol;
  const noHistory = (f: Fault) =>
    f.fault === "unsupported" ? fault("unsupported", { reason: "no_history", detail: `${label} keeps none` }) : f;
  return {
    async versions(path, limit) {
      const got = await h.history(path, limit === undefined ? {} : { limit });
      return got.error || !got.versions ? noHistory(faultOf(got)) : got.versions;
    },
    async readVersion(path, version) {
      const got = await h.readVersion(path, version);
      if (got.error || !got.data) {
        const f = noHistory(faultOf(got));
        return f.fault === "file_not_found" ? fault("file_not_found", { reason: "no_version", detail: version }) : f;
      }
      return fileOfRaw(got);
    },
    async restore(path, version, call) {
      const options: WriteOptions = {};
      if (call.ifMatch !== undefined) options.ifMatch = call.ifMatch;
      if (call.signal) options.signal = call.signal;
      const got = await h.restore(path, version, options);
      return got.error ? noHistory(faultOf(got)) : { etag: got.etag ?? "" };
    },
    async snapshot() {
      const got = await h.snapshot();
      return got.error || got.snapshot === undefined ? noHistory(faultOf(got)) : got.snapshot;
    },
    async changesSince(snapshot) {
      const got = await h.changesSince(snapshot);
      return got.error || !got.changes ? noHistory(faultOf(got)) : got.changes;
    },
    readAt(snapshot, path, call) {
      const native = (b as { [DRIVER_HISTORY]?: () => DriverHistory | undefined })[DRIVER_HISTORY]?.();
      if (native) return native.readAt(snapshot, path, call);
      return fault("unsupported", { reason: "no_history", detail: "the member cannot read files as of a snapshot" });
    },
  };
}

function fileOfRaw(got: ReadRawResult): DriverFile {
  const data = got.data as NonNullable<ReadRawResult["data"]>;
  const file: DriverFile = {
    content: isFileDataV1(data) ? data.content.join("\n") : data.content,
    etag: got.etag ?? "",
    createdAt: data.created_at,
    modifiedAt: data.modified_at,
  };
  if (!isFileDataV1(data)) file.mimeType = data.mimeType;
  return file;
}

/** The history of every member of a router, as one. */
export class RouterHistory implements DriverHistory {
  private readonly table: MountTable;
  private readonly histories = new Map<Mount, DriverHistory | undefined>();

  constructor(table: MountTable) {
    this.table = table;
  }

  versions(path: string, limit: number | undefined, call: CallContext): Promise<FileVersion[] | Fault> {
    return this.onFile(path, (h, inner) => h.versions(inner, limit, call));
  }

  readVersion(path: string, version: string, call: CallContext): Promise<DriverFile | Fault> {
    return this.onFile(path, (h, inner) => h.readVersion(inner, version, call));
  }

  restore(path: string, version: string, call: WriteCall): Promise<{ etag: string } | Fault> {
    return this.onFile(path, async (h, inner, m) => {
      if (isReadOnlyMount(m)) return readOnlyFault(m);
      if (h.restore) return h.restore(inner, version, call);
      const got = await h.readVersion(inner, version, call);
      return isFault(got) ? got : writeTo(m.driver, inner, got.content, { ...call, op: "restore" });
    });
  }

  async snapshot(call: CallContext): Promise<string | Fault> {
    const ids: Array<[string, string]> = [];
    for (const m of this.table.members) {
      const h = this.historyOf(m);
      if (isFault(h)) return h;
      const id = await callMember(m, () => h.snapshot(call));
      if (isFault(id)) return id;
      ids.push([m.mount, id]);
    }
    return SNAPSHOT_PREFIX + Buffer.from(JSON.stringify(ids)).toString("base64url");
  }

  async changesSince(snapshot: string, call: CallContext): Promise<SnapshotChange[] | Fault> {
    const ids = this.decode(snapshot);
    if (isFault(ids)) return ids;
    const answers = await Promise.all(
      this.table.members.map(async (m) => {
        const h = this.historyOf(m);
        if (isFault(h)) return h;
        const found = await callMember(m, () => h.changesSince(ids.get(m.mount) as string, call));
        if (isFault(found)) return found;
        const outer = found.map((c) => ({ ...c, path: outerPath(m, c.path) }));
        return outer.filter((c) => this.table.mountFor(c.path) === m);
      }),
    );
    const failed = answers.find(isFault);
    return failed ?? (answers as SnapshotChange[][]).flat();
  }

  async readAt(snapshot: string, path: string, call: ReadAtCall): Promise<VersionedFile | VersionRef | null | Fault> {
    const ids = this.decode(snapshot);
    if (isFault(ids)) return ids;
    return this.onFile(path, async (h, inner, m) => {
      // Only a member that restores natively is asked for the id alone (see `restore`).
      const found = await h.readAt(ids.get(m.mount) as string, inner, {
        ...call,
        versionOnly: call.versionOnly && h.restore !== undefined,
      });
      // A member without its own restore would read the version again to restore it by id: the
      // content is written instead (no version named).
      if (found === null || isFault(found) || h.restore !== undefined || found.content === undefined) return found;
      return { ...found, version: undefined };
    });
  }

  /** Runs a per-file call on the member serving `path`, answering in caller paths. */
  private async onFile<T>(
    path: string,
    run: (h: DriverHistory, inner: string, m: Mount) => T | Fault | Promise<T | Fault>,
  ): Promise<T | Fault> {
    if (this.table.hasMountAtOrBelow(path)) return fault("is_directory");
    const m = this.table.mountFor(path);
    const h = this.historyOf(m);
    if (isFault(h)) return h;
    return callMember(m, () => run(h, innerPath(m, path), m));
  }

  private historyOf(m: Mount): DriverHistory | Fault {
    if (!this.histories.has(m)) {
      // A member built on the facade keeps history in its driver or not at all; any other member
      // (StateBackend, a wrapper, a subclass) is asked through its public methods.
      const own = DriverBackend.driverOf(m.backend) === m.driver;
      this.histories.set(m, own ? m.driver.history : (m.driver.history ?? protocolHistory(m.backend, mountLabel(m))));
    }
    const h = this.histories.get(m);
    return h ?? fault("unsupported", { reason: "no_history", detail: `${mountLabel(m)} keeps none` });
  }

  /** Member snapshot ids by mount point, or `unknown_snapshot` unless the id covers exactly these members. */
  private decode(snapshot: string): Map<string, string> | Fault {
    const unknown = fault("invalid_argument", { reason: "unknown_snapshot" });
    if (!snapshot.startsWith(SNAPSHOT_PREFIX)) return unknown;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(snapshot.slice(SNAPSHOT_PREFIX.length), "base64url").toString("utf8"));
    } catch {
      return unknown;
    }
    if (!Array.isArray(parsed)) return unknown;
    const ids = new Map<string, string>();
    for (const pair of parsed) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string" || typeof pair[1] !== "string") return unknown;
      ids.set(pair[0], pair[1]);
    }
    const members = this.table.members;
    return ids.size === members.length && members.every((m) => ids.has(m.mount)) ? ids : unknown;
  }
}
