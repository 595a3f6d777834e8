/**
 * The driver the router calls for a member: the member's own driver when it is a plain
 * {@link DriverBackend}, else {@link protocolDriver}, a {@link Driver} over the backend's public
 * methods (deepagents' backends, users' classes, wrappers such as `withFaults`). Failures become
 * faults by their code; a foreign sentence is dropped, since it names the member's own paths.
 */

import { protocolHistory } from "./composite-history.js";
import { isFileDataV1 } from "./file-data.js";
import type { GlobQuery } from "./glob.js";
import { checkGrepAnswer, type GrepQuery } from "./grep.js";
import type {
  BatchFile,
  Driver,
  DriverEntry,
  DriverFile,
  DriverStat,
  DriverWindow,
  Fault,
  ReadCall,
  WriteCall,
} from "./kit/driver.js";
import { FaultError, fault } from "./kit/driver.js";
import { DriverBackend } from "./kit/facade.js";
import type { BackendProtocol, ErrorFields, FileInfo, GrepMatch, WriteOptions } from "./protocol.js";

/** What a delete through the router learns from a member: deepagents' backends add `filesUpdate`. */
export interface RemoveAnswer {
  path: string;
  filesUpdate?: Record<string, null> | null;
}

/** A member's driver as the router uses it: a {@link Driver} plus the batch calls and edit of a protocol member. */
export interface MemberDriver extends Driver {
  remove(path: string, call: { signal?: AbortSignal }): Promise<RemoveAnswer | Fault>;
  /** A protocol member's glob answered as a list (an async iteration per file costs more than the search). */
  globList?(query: GlobQuery): Promise<DriverEntry[] | Fault>;
  /** A protocol member's own write and edit (its locking, preconditions and `filesUpdate`). */
  own?: OwnCalls;
}

/** What a protocol member's own write or edit answered, beyond success. */
export interface OwnAnswer {
  etag?: string;
  occurrences?: number;
  filesUpdate?: Record<string, unknown> | null;
}

/** A protocol member's own `write` and `edit`, forwarded as they are. */
export interface OwnCalls {
  write(path: string, content: string, options?: WriteOptions): Promise<OwnAnswer | Fault>;
  edit(
    path: string,
    oldString: string,
    newString: string,
    replaceAll?: boolean,
    options?: WriteOptions,
  ): Promise<OwnAnswer | Fault>;
}

const FACADE_METHODS = [
  "ls",
  "read",
  "readRaw",
  "write",
  "edit",
  "grep",
  "glob",
  "delete",
  "uploadFiles",
  "downloadFiles",
  "fileArgument",
  "dirArgument",
] as const;

/**
 * The driver under `backend` when calling it is the same as calling the backend: a DriverBackend
 * whose contract methods are the facade's own (no subclass override, no wrapping proxy such as
 * `withFaults`, no path mapping), so routing to it skips nothing.
 */
function plainDriver(backend: BackendProtocol): Driver | undefined {
  const driver = DriverBackend.driverOf(backend);
  if (!driver) return undefined;
  const own = backend as unknown as Record<string, unknown>;
  const facade = DriverBackend.prototype as unknown as Record<string, unknown>;
  return FACADE_METHODS.every((name) => own[name] === facade[name]) ? driver : undefined;
}

/** The driver the router calls for `backend`. */
export function memberDriver(backend: BackendProtocol): MemberDriver {
  const driver = plainDriver(backend);
  if (driver) return driver as MemberDriver;
  // A backend with public history methods (StateBackend, a wrapper) keeps them under a layer too.
  const history = protocolHistory(backend, "the backend");
  const member = protocolDriver(backend);
  return history ? { ...member, history } : member;
}

/** Safe detail of a foreign failure: kept only for an outage or a refusal, and only without a path. */
function detailOf(result: ErrorFields): string | undefined {
  const text = result.error;
  if (!text || (result.code !== "backend_unavailable" && result.code !== "permission_denied")) return undefined;
  return /['"/\\]/.test(text) || text.length > 200 ? undefined : text;
}

/** A member's failure as a fault: its code (deepagents' backends give none: "not found" is file_not_found). */
export function faultOf(result: ErrorFields): Fault {
  const code = result.code ?? (/not found/i.test(result.error ?? "") ? "file_not_found" : "backend_unavailable");
  const detail = detailOf({ ...result, code });
  return detail === undefined ? fault(code) : fault(code, { detail });
}

const failed = (result: ErrorFields | undefined): result is ErrorFields & { error: string } =>
  typeof result?.error === "string" && result.error !== "";

function entryOf(info: FileInfo): DriverEntry {
  if (info.is_dir) {
    const path = info.path.length > 1 && info.path.endsWith("/") ? info.path.slice(0, -1) : info.path;
    return { path, kind: "directory" };
  }
  const entry: DriverEntry = { path: info.path, kind: "file", size: info.size ?? 0 };
  if (info.modified_at !== undefined) entry.modifiedAt = info.modified_at;
  return entry;
}

function ownAnswer(got: ErrorFields & OwnAnswer): OwnAnswer | Fault {
  if (failed(got)) return faultOf(got);
  const out: OwnAnswer = {};
  if (got.etag !== undefined) out.etag = got.etag;
  if (got.occurrences !== undefined) out.occurrences = got.occurrences;
  if (got.filesUpdate !== undefined) out.filesUpdate = got.filesUpdate;
  return out;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** A {@link Driver} over a backend's public methods. */
export function protocolDriver(backend: BackendProtocol): MemberDriver {
  const caps = backend.capabilities ?? {};
  const readWhole = async (path: string): Promise<DriverFile | Fault> => {
    const got = await backend.readRaw(path);
    if (failed(got) || !got.data) return faultOf(got);
    const data = got.data;
    const content = isFileDataV1(data) ? data.content.join("\n") : data.content;
    const file: DriverFile = {
      content,
      etag: got.etag ?? "",
      createdAt: data.created_at,
      modifiedAt: data.modified_at,
    };
    if (!isFileDataV1(data)) file.mimeType = data.mimeType;
    return file;
  };
  const writeOptions = (call: WriteCall): WriteOptions => {
    const options: WriteOptions = {};
    if (call.ifMatch !== undefined) options.ifMatch = call.ifMatch;
    if (call.ifNoneMatch !== undefined) options.ifNoneMatch = call.ifNoneMatch;
    if (call.signal) options.signal = call.signal;
    return options;
  };
  const download = async (paths: string[]): Promise<Array<DriverFile | Fault>> => {
    const answers = await backend.downloadFiles(paths);
    return paths.map((_, i) => {
      const entry = answers[i];
      if (!entry) return fault("backend_unavailable", { detail: "the member gave no answer for this file" });
      if (entry.error === null && entry.content) return { content: entry.content, etag: "" };
      return faultOf({ error: entry.error ?? "no content", code: entry.code ?? entry.error ?? undefined });
    });
  };
  const upload = async (files: BatchFile[]): Promise<Array<{ etag: string } | Fault>> => {
    const answers = await backend.uploadFiles(files.map((f) => [f.path, f.bytes]));
    return files.map((_, i) => {
      const entry = answers[i];
      if (!entry) return fault("backend_unavailable", { detail: "the member gave no answer for this file" });
      return entry.error === null ? { etag: "" } : faultOf({ error: entry.error, code: entry.code ?? entry.error });
    });
  };
  return {
    capabilities: {
      conditionalWrites: caps.conditionalWrites === true,
      realDirectories: caps.realDirectories === true,
      readOnly: caps.readOnly === true,
      nativeGrep: caps.nativeGrep === true,
    },

    async stat(path): Promise<DriverStat | Fault> {
      const got = await readWhole(path);
      if (!("fault" in got)) {
        const size = typeof got.content === "string" ? Buffer.byteLength(got.content) : got.content.byteLength;
        return { kind: "file", size, etag: got.etag };
      }
      if (got.fault === "is_directory") return { kind: "directory" };
      if (got.fault === "too_large") {
        // Over the member's read limit: its size from the listing of its directory (no etag).
        const slash = path.lastIndexOf("/");
        const listed = await backend.ls(slash <= 0 ? "/" : path.slice(0, slash));
        const entry = failed(listed) ? undefined : listed.files?.find((f) => f.path === path && !f.is_dir);
        if (entry) return { kind: "file", size: entry.size ?? 0 };
      }
      return got.fault === "file_not_found" ? { kind: "none" } : got;
    },

    async read(path, call: ReadCall): Promise<DriverFile | DriverWindow | Fault> {
      if (!call.window) {
        const got = await readWhole(path);
        // A download over the member's read limit: its own downloadFiles has none (readRaw may).
        if (call.whole && "fault" in got && got.fault === "too_large") {
          return (await download([path]))[0] ?? fault("backend_unavailable");
        }
        return got;
      }
      const got = await backend.read(path, call.window.offset, call.window.limit);
      if (failed(got)) return faultOf(got);
      const { etag, mimeType, error: _e, code: _c, ...window } = got;
      const answer: DriverWindow = { window: window as DriverWindow["window"], etag: etag ?? "" };
      if (mimeType !== undefined) answer.mimeType = mimeType;
      return answer;
    },

    async write(path, content, call) {
      const options = writeOptions(call);
      if (typeof content !== "string" && options.ifMatch === undefined && options.ifNoneMatch === undefined) {
        const [one] = await upload([{ path, bytes: content }]);
        return one ?? fault("backend_unavailable");
      }
      const text = typeof content === "string" ? content : base64(content);
      const got = await backend.write(path, text, options);
      return failed(got) ? faultOf(got) : { etag: got.etag ?? "" };
    },

    writeBatch: (files) => upload(files),

    async list(dir) {
      const got = await backend.ls(dir);
      return failed(got) ? faultOf(got) : (got.files ?? []).map(entryOf);
    },

    async *walk(dir) {
      const got = await backend.glob("**", dir);
      if (failed(got)) throw new FaultError(faultOf(got));
      for (const info of got.files ?? []) if (!info.is_dir) yield entryOf(info);
    },

    async remove(path) {
      if (typeof backend.delete !== "function") return fault("unsupported");
      const got = await backend.delete(path);
      if (failed(got)) return faultOf(got);
      return got.filesUpdate === undefined ? { path } : { path, filesUpdate: got.filesUpdate };
    },

    async grep(query: GrepQuery) {
      const cap = Number.isFinite(query.maxCount) ? query.maxCount : null;
      const got = await backend.grep(query.pattern, query.dir, query.glob, cap);
      if (failed(got)) {
        // A grep refused as too large is refused for its answer's size (the backend's own bound).
        if (got.code === "too_large") {
          return fault("too_large", { reason: "answer", detail: "more matching lines than the backend answers" });
        }
        return faultOf(got);
      }
      const matches: GrepMatch[] = got.matches ?? [];
      // The bounds of this search hold for a backend that answered more than they allow.
      const over = checkGrepAnswer(matches, query);
      if (over) return over;
      return got.truncated ? { matches, truncated: true } : { matches };
    },

    async *glob(query: GlobQuery) {
      const got = await backend.glob(query.pattern, query.dir);
      if (failed(got)) throw new FaultError(faultOf(got));
      for (const info of got.files ?? []) if (!info.is_dir) yield entryOf(info);
    },

    async globList(query: GlobQuery) {
      const got = await backend.glob(query.pattern, query.dir);
      if (failed(got)) return faultOf(got);
      const out: DriverEntry[] = [];
      for (const info of got.files ?? []) if (!info.is_dir && query.matches(info.path)) out.push(entryOf(info));
      return out;
    },

    /** Downloads of a protocol member, in one call. */
    readBatch: (paths) => download(paths),

    own: {
      async write(path, content, options) {
        return ownAnswer(await backend.write(path, content, options));
      },
      async edit(path, oldString, newString, replaceAll, options) {
        return ownAnswer(await backend.edit(path, oldString, newString, replaceAll, options));
      },
    },
  };
}
