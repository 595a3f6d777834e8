import { DeepfsError, failure, isFailure } from "./errors.js";
import { createGlobMatcher, globSearchRoot } from "./glob.js";
import { capGrepMatches, type GrepQuery, parseGrepArgs, sortGrepMatches } from "./grep.js";
import { checkDirPath, checkPath, comparePaths, isWithin, joinPath, relativeTo } from "./paths.js";
import {
  type BackendCapabilities,
  type BackendProtocol,
  type DeleteResult,
  type EditResult,
  type ErrorCode,
  type ErrorFields,
  type ExecuteOptions,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileInfo,
  type FileUploadResponse,
  type GlobResult,
  type GrepMatch,
  type GrepResult,
  isSandboxBackend,
  type LsResult,
  type MaybePromise,
  type ReadRawResult,
  type ReadResult,
  type SandboxBackendProtocol,
  type WriteOptions,
  type WriteResult,
} from "./protocol.js";

/** A route's value: a backend, or a backend with options. */
export type CompositeRoute = BackendProtocol | { backend: BackendProtocol; readOnly?: boolean };

/** Mount point (absolute, with or without a trailing `/`) → the backend that serves it. */
export type CompositeRoutes = Record<string, CompositeRoute>;

/** The object form of the {@link CompositeBackend} constructor. */
export interface CompositeBackendOptions {
  /** Serves every path that no route claims. */
  default: BackendProtocol;
  routes?: CompositeRoutes;
}

/** What `execute` answers when the default backend is not a sandbox. */
export const EXECUTE_UNSUPPORTED: Readonly<ExecuteResponse> = {
  output: "Error: execution is not supported by this backend (code: unsupported)",
  exitCode: 126,
  truncated: false,
};

/** The entries of an upload or download batch sent to one member backend. */
interface MemberBatch<E> {
  /** Where the member was first met; the same backend may serve several mounts. */
  readonly mount: Mount;
  readonly entries: E[];
}

/** A member backend and where it is mounted; the default backend is mounted at `/`. */
interface Mount {
  /** Normalised mount point without a trailing `/` (`/` for the default backend). */
  readonly mount: string;
  readonly backend: BackendProtocol;
  readonly readOnly: boolean;
}

/** A path argument resolved to its member: the path the member sees and the one callers see. */
interface Target {
  mount: Mount;
  inner: string;
  outer: string;
}

/** One member's share of a grep or glob below the search directory. */
interface SearchTarget {
  mount: Mount;
  /** Directory the member searches, in its own paths. */
  root: string;
  /** Part of the search the member covers, in caller paths. */
  area: string;
  /** A nested route hides some of the member's files in `area`, so results must be filtered. */
  shadowed: boolean;
}

/** How a member is asked for the files a pattern selects. */
type ForwardedPattern = { pattern: string } | "superset" | "none";

type Failure = { error: string; code: ErrorCode };
/** A member's failure in caller paths; foreign backends may leave out the `code`. */
type MemberFailure = { error: string; code?: ErrorCode };

function isBackend(value: unknown): value is BackendProtocol {
  return typeof value === "object" && value !== null && typeof (value as { ls?: unknown }).ls === "function";
}

function innerPath(m: Mount, outer: string): string {
  if (m.mount === "/") return outer;
  return outer === m.mount ? "/" : outer.slice(m.mount.length);
}

function outerPath(m: Mount, inner: string): string {
  if (m.mount === "/") return inner;
  return inner === "/" ? m.mount : `${m.mount}${inner}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A member's error sentence in caller paths: every quoted `'…'` occurrence of `inner` or of one of
 * its ancestors (members name the parent in `not_a_directory`) is replaced by the caller's path.
 * Other text is left alone, so a member's message that does not quote paths stays as it is.
 */
function outerMessage(m: Mount, inner: string, message: string): string {
  if (m.mount === "/") return message;
  const candidates = [inner];
  for (let i = inner.lastIndexOf("/"); i > 0; i = inner.lastIndexOf("/", i - 1)) candidates.push(inner.slice(0, i));
  if (inner !== "/") candidates.push("/");
  const quoted = new RegExp(`'(${candidates.map(escapeRegExp).join("|")})'`, "g");
  return message.replace(quoted, (_, path: string) => `'${outerPath(m, path)}'`);
}

/** Error fields of a member's failure, in caller paths; the member's `code` is kept. */
function outerFailure(m: Mount, inner: string, result: ErrorFields): MemberFailure {
  const error = outerMessage(m, inner, result.error ?? "");
  return result.code === undefined ? { error } : { error, code: result.code };
}

function readOnlyFailure(target: Target): Failure {
  return failure(
    "read_only",
    `'${target.outer}' is on the read-only mount '${target.mount.mount}/'; it cannot be changed`,
  );
}

/** A member that threw or rejected, in caller paths. */
function memberFailure(m: Mount, outer: string): Failure {
  return failure("backend_unavailable", `'${outer}': the backend mounted at '${m.mount}' failed`);
}

/**
 * Calls into a member. A throw or rejection breaks the contract (failures are returned), so it
 * becomes {@link memberFailure} instead of escaping the router; the thrown message is dropped
 * because it may hold secrets or file contents.
 */
async function callMember<T>(m: Mount, outer: string, call: () => MaybePromise<T>): Promise<T | Failure> {
  try {
    return await call();
  } catch {
    return memberFailure(m, outer);
  }
}

function isDirectoryFailure(path: string): Failure {
  return failure("is_directory", `'${path}' is a directory, not a file`);
}

/**
 * What to ask a member for so that it returns the files `pattern` selects (the glob contract:
 * relative to `dir`, or anchored at the root when it starts with `/`) among its own files:
 * the same pattern when the mapping does not change its meaning, the pattern without the mount's
 * leading segments when those are literal in it, `"none"` when no file of the member can match,
 * and `"superset"` when it cannot be expressed (the member lists everything; the router filters).
 */
function forwardPattern(pattern: string, dir: string, t: SearchTarget): ForwardedPattern {
  const anchored = pattern.startsWith("/");
  const mount = t.mount.mount;
  // The default backend sees caller paths; a relative pattern keeps its meaning below a route that holds `dir`.
  if (mount === "/" || (!anchored && isWithin(dir, mount))) return { pattern };
  const base = anchored ? "/" : dir;
  const body = anchored ? pattern.replace(/^\/+/, "") : pattern;
  const segments = body.split("/");
  const mountSegments = relativeTo(mount, base).split("/");
  const literalPrefix = relativeTo(globSearchRoot(body, "/"), "/");
  const literal = literalPrefix === "" ? [] : literalPrefix.split("/");
  const shared = Math.min(literal.length, mountSegments.length);
  for (let i = 0; i < shared; i++) if (literal[i] !== mountSegments[i]) return "none";
  if (literal.length >= mountSegments.length) {
    const rest = segments.slice(mountSegments.length).join("/");
    // The member searches from its root, where an anchored pattern means the same; anchoring also
    // keeps a one-segment rest from turning into grep's basename rule.
    return { pattern: anchored || !rest.includes("/") ? `/${rest}` : rest };
  }
  // `**/name` matches by basename at any depth, which a mount prefix does not change.
  if (segments.length === 2 && segments[0] === "**" && segments[1] !== undefined && !segments[1].includes("**")) {
    return { pattern };
  }
  // Without `**`, braces, classes or extglobs every pattern segment matches exactly one path segment,
  // so a pattern shallower than the member's files cannot match any of them.
  if (!/\*\*|[{[(]/.test(body) && segments.length <= mountSegments.length) return "none";
  return "superset";
}

/**
 * Routes paths to member backends by their longest matching prefix.
 *
 * - A path is served by the route whose mount point is its longest prefix on segment boundaries
 *   (`/mem/` never serves `/memo`), else by the default backend. The route sees the path with the
 *   prefix stripped (`/project/src/a.py` → `/src/a.py`, the mount point itself → `/`), and every path
 *   in every result is returned with the prefix re-added.
 * - Error sentences of a route name its own paths; the router replaces each quoted `'…'` path of the
 *   call (or of an ancestor) with the caller's path and keeps the route's `code`.
 * - `ls` lists mount points as directories, and files of a backend that a route shadows are
 *   invisible to every method. A mount point, and any path with a mount point below it, is a
 *   directory: file reads and writes there answer `is_directory`.
 * - `grep` and `glob` ask the default backend and every route below the search path concurrently,
 *   merge in path order and share `maxCount`: results equal those of one backend holding all files.
 * - `uploadFiles` / `downloadFiles` make one call per member backend and answer in input order.
 * - A read-only route answers `write`, `edit`, `delete` and `uploadFiles` with `read_only`.
 * - `delete` of a default-backend directory that contains a mount point deletes only the default
 *   backend's files; `delete` of a mount point deletes the route's files and keeps the mount.
 * - `execute` runs on the default backend when it is a sandbox, else answers {@link EXECUTE_UNSUPPORTED}.
 * - The router creates nothing, so `close()` closes nothing: close the member backends yourself.
 */
export class CompositeBackend implements SandboxBackendProtocol {
  readonly capabilities: BackendCapabilities;

  private readonly defaultMount: Mount;
  /** Routes, longest mount point first, so the first match is the longest prefix. */
  private readonly routes: readonly Mount[];

  constructor(options: CompositeBackendOptions);
  constructor(defaultBackend: BackendProtocol, routes?: CompositeRoutes);
  constructor(first: BackendProtocol | CompositeBackendOptions, routes?: CompositeRoutes) {
    const [defaultBackend, routeTable] = isBackend(first)
      ? [first, routes]
      : [
          (first as CompositeBackendOptions | undefined)?.default,
          (first as CompositeBackendOptions | undefined)?.routes,
        ];
    if (!isBackend(defaultBackend)) {
      throw new DeepfsError(
        "invalid_argument",
        "CompositeBackend needs a default backend (an object with backend methods)",
      );
    }
    this.defaultMount = { mount: "/", backend: defaultBackend, readOnly: false };
    this.routes = parseRoutes(routeTable ?? {}).sort((a, b) => b.mount.length - a.mount.length);
    const members = [this.defaultMount, ...this.routes];
    const all = (flag: keyof BackendCapabilities) => members.every((m) => m.backend.capabilities?.[flag] === true);
    if (isSandboxBackend(defaultBackend)) {
      Object.defineProperty(this, "id", { get: () => defaultBackend.id, enumerable: true });
    }
    this.capabilities = {
      execute: isSandboxBackend(defaultBackend),
      nativeGrep: all("nativeGrep"),
      conditionalWrites: all("conditionalWrites"),
      realDirectories: all("realDirectories"),
      readOnly: members.every((m) => m.readOnly || m.backend.capabilities?.readOnly === true),
    };
  }

  /**
   * The default backend's sandbox id. Defined only when the default backend is a sandbox: deepagents
   * detects sandboxes by `execute` plus a string `id`, and must not offer an execute tool otherwise.
   */
  declare readonly id: string;

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    const owner = this.mountFor(dir.path);
    const inner = innerPath(owner, dir.path);
    const result = await callMember(owner, dir.path, async (): Promise<LsResult> => {
      const answer = await owner.backend.ls(inner);
      return isFailure(answer) ? outerFailure(owner, inner, answer) : answer;
    });
    if (isFailure(result)) return result;
    const byPath = new Map<string, FileInfo>();
    for (const info of result.files ?? []) {
      const path = outerPath(owner, info.path);
      const entryPath = info.is_dir && path.endsWith("/") ? path.slice(0, -1) : path;
      if (this.mountFor(entryPath) === owner) byPath.set(path, { ...info, path });
    }
    for (const route of this.routes) {
      if (route.mount === dir.path || !isWithin(route.mount, dir.path)) continue;
      const child = `${joinPath(dir.path, relativeTo(route.mount, dir.path).split("/")[0] ?? "")}/`;
      if (!byPath.has(child)) byPath.set(child, { path: child, is_dir: true, size: 0 });
    }
    return { files: [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path)) };
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const target = this.resolveFile(filePath);
    if ("error" in target) return target;
    return callMember(target.mount, target.outer, async () => {
      const result = await target.mount.backend.read(target.inner, offset, limit);
      return isFailure(result) ? { ...result, ...outerFailure(target.mount, target.inner, result) } : result;
    });
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const target = this.resolveFile(filePath);
    if ("error" in target) return target;
    return callMember(target.mount, target.outer, async () => {
      const result = await target.mount.backend.readRaw(target.inner);
      return isFailure(result) ? { ...result, ...outerFailure(target.mount, target.inner, result) } : result;
    });
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const target = this.resolveFile(filePath);
    if ("error" in target) return target;
    if (target.mount.readOnly) return readOnlyFailure(target);
    return callMember(target.mount, target.outer, async () =>
      this.outerResult(target, await target.mount.backend.write(target.inner, content, options)),
    );
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll?: boolean,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const target = this.resolveFile(filePath);
    if ("error" in target) return target;
    if (target.mount.readOnly) return readOnlyFailure(target);
    return callMember(target.mount, target.outer, async () => {
      const result = await target.mount.backend.edit(target.inner, oldString, newString, replaceAll, options);
      return this.outerResult(target, result);
    });
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const target = this.resolve(filePath);
    if ("error" in target) return target;
    if (target.mount.readOnly) return readOnlyFailure(target);
    return callMember(target.mount, target.outer, async () =>
      this.outerResult(target, await target.mount.backend.delete(target.inner)),
    );
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const query = parsed.query;
    const answers = await Promise.all(
      this.searchTargets(query.dir).map((t) => callMember(t.mount, t.area, () => this.grepMember(t, query))),
    );
    const matches: GrepMatch[] = [];
    let more = false;
    for (const answer of answers) {
      if ("error" in answer) return answer;
      matches.push(...answer.matches);
      more ||= answer.more;
    }
    const capped = capGrepMatches(sortGrepMatches(matches), query.maxCount);
    return more ? { matches: capped.matches ?? [], truncated: true } : capped;
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    if (typeof pattern !== "string" || pattern === "") {
      return failure("invalid_argument", "glob pattern must be a non-empty string");
    }
    const matches = createGlobMatcher(pattern, dir.path);
    const answers = await Promise.all(
      this.searchTargets(dir.path).map((t) =>
        callMember(t.mount, t.area, async (): Promise<GlobResult> => {
          const forwarded = forwardPattern(pattern, dir.path, t);
          if (forwarded === "none") return { files: [] };
          const result = await t.mount.backend.glob(forwarded === "superset" ? "**" : forwarded.pattern, t.root);
          if (isFailure(result)) return outerFailure(t.mount, t.root, result);
          const files = (result.files ?? [])
            .map((info) => ({ ...info, path: outerPath(t.mount, info.path) }))
            .filter((info) => matches(info.path) && this.isVisible(t, info.path));
          return result.truncated ? { files, truncated: true } : { files };
        }),
      ),
    );
    const files: FileInfo[] = [];
    let truncated = false;
    for (const answer of answers) {
      if (isFailure(answer)) return answer;
      files.push(...(answer.files ?? []));
      truncated ||= answer.truncated === true;
    }
    files.sort((a, b) => comparePaths(a.path, b.path));
    return truncated ? { files, truncated } : { files };
  }

  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const out: FileUploadResponse[] = new Array(files.length);
    const batches = new Map<BackendProtocol, MemberBatch<{ index: number; target: Target; bytes: Uint8Array }>>();
    files.forEach(([rawPath, bytes], index) => {
      const target = this.resolveFile(rawPath);
      if ("error" in target) {
        const error = target.code === "is_directory" ? "is_directory" : "invalid_path";
        out[index] = { path: target.path ?? rawPath, error, code: target.code, message: target.error };
      } else if (target.mount.readOnly) {
        const denied = readOnlyFailure(target);
        out[index] = { path: target.outer, error: "permission_denied", code: denied.code, message: denied.error };
      } else {
        const batch = batches.get(target.mount.backend) ?? { mount: target.mount, entries: [] };
        batch.entries.push({ index, target, bytes });
        batches.set(target.mount.backend, batch);
      }
    });
    await Promise.all(
      [...batches].map(async ([backend, batch]) => {
        const answers = await callMember(batch.mount, batch.mount.mount, () =>
          backend.uploadFiles(batch.entries.map(({ target, bytes }) => [target.inner, bytes])),
        );
        batch.entries.forEach(({ index, target }, i) => {
          out[index] = { ...this.outerEntry(target, answers, i), path: target.outer };
        });
      }),
    );
    return out;
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const out: FileDownloadResponse[] = new Array(paths.length);
    const batches = new Map<BackendProtocol, MemberBatch<{ index: number; target: Target }>>();
    paths.forEach((rawPath, index) => {
      const target = this.resolveFile(rawPath);
      if ("error" in target) {
        const error = target.code === "is_directory" ? "is_directory" : "invalid_path";
        out[index] = { path: target.path ?? rawPath, content: null, error, code: target.code, message: target.error };
      } else {
        const batch = batches.get(target.mount.backend) ?? { mount: target.mount, entries: [] };
        batch.entries.push({ index, target });
        batches.set(target.mount.backend, batch);
      }
    });
    await Promise.all(
      [...batches].map(async ([backend, batch]) => {
        const answers = await callMember(batch.mount, batch.mount.mount, () =>
          backend.downloadFiles(batch.entries.map(({ target }) => target.inner)),
        );
        batch.entries.forEach(({ index, target }, i) => {
          const content = Array.isArray(answers) ? (answers[i]?.content ?? null) : null;
          out[index] = { ...this.outerEntry(target, answers, i), content, path: target.outer };
        });
      }),
    );
    return out;
  }

  /** Runs on the default backend when it is a sandbox; otherwise answers {@link EXECUTE_UNSUPPORTED}. */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    const backend = this.defaultMount.backend;
    if (!isSandboxBackend(backend)) return { ...EXECUTE_UNSUPPORTED };
    const response = await callMember(this.defaultMount, "/", () => backend.execute(command, options));
    if (!("error" in response)) return response;
    return { output: `Error: ${response.error} (code: ${response.code})`, exitCode: null, truncated: false };
  }

  /** Does nothing: the router creates no resource, and the member backends belong to the caller. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The member serving a normalised path: the longest mount point containing it, else the default. */
  private mountFor(path: string): Mount {
    return this.routes.find((r) => isWithin(path, r.mount)) ?? this.defaultMount;
  }

  private resolve(rawPath: string): Target | (Failure & { path?: string }) {
    const checked = checkPath(rawPath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const mount = this.mountFor(checked.path);
    return { mount, inner: innerPath(mount, checked.path), outer: checked.path };
  }

  /** {@link resolve} for a file argument: a mount point or a path with one below it is a directory. */
  private resolveFile(rawPath: string): Target | (Failure & { path?: string }) {
    const target = this.resolve(rawPath);
    if ("error" in target) return target;
    if (this.routes.some((r) => isWithin(r.mount, target.outer))) {
      return { path: target.outer, ...isDirectoryFailure(target.outer) };
    }
    return target;
  }

  /** A member's write/edit/delete result in caller paths. */
  private outerResult<T extends ErrorFields & { path?: string; filesUpdate?: Record<string, unknown> | null }>(
    target: Target,
    result: T,
  ): T {
    if (isFailure(result)) return { ...result, ...outerFailure(target.mount, target.inner, result) };
    const out = { ...result };
    if (typeof out.path === "string") out.path = outerPath(target.mount, out.path);
    if (out.filesUpdate) {
      const entries = Object.entries(out.filesUpdate).map(([p, data]) => [outerPath(target.mount, p), data]);
      out.filesUpdate = Object.fromEntries(entries) as T["filesUpdate"];
    }
    return out;
  }

  /** The error fields of the `i`th entry of a member's upload/download answer, in caller paths. */
  private outerEntry(
    target: Target,
    answers: ReadonlyArray<FileUploadResponse | FileDownloadResponse> | Failure,
    i: number,
  ): Omit<FileUploadResponse, "path"> {
    if (!Array.isArray(answers)) {
      // The member threw for the whole batch: every entry of it failed, each named by its own path.
      const { code, error } = memberFailure(target.mount, target.outer);
      return { error: "permission_denied", code, message: error };
    }
    const entry = answers[i];
    // A member that answers fewer entries than it was given broke the contract; say so per file.
    if (!entry) {
      return { error: "permission_denied", code: "backend_unavailable", message: `No answer for '${target.outer}'` };
    }
    const { error, code, message } = entry;
    if (error === null) return { error: null };
    return {
      error,
      ...(code === undefined ? {} : { code }),
      ...(message === undefined ? {} : { message: outerMessage(target.mount, target.inner, message) }),
    };
  }

  /** The members a search of `dir` must ask: the one serving `dir`, and every route mounted below it. */
  private searchTargets(dir: string): SearchTarget[] {
    const owner = this.mountFor(dir);
    const areas: Array<[Mount, string]> = [[owner, dir]];
    for (const route of this.routes)
      if (route !== owner && isWithin(route.mount, dir)) areas.push([route, route.mount]);
    return areas.map(([mount, area]) => ({
      mount,
      area,
      root: innerPath(mount, area),
      shadowed: this.routes.some((r) => r !== mount && isWithin(r.mount, area)),
    }));
  }

  /** True when a caller path found in a member is really served by it (not shadowed by a nested route). */
  private isVisible(t: SearchTarget, path: string): boolean {
    return !t.shadowed || this.mountFor(path) === t.mount;
  }

  /**
   * One member's matches (in caller paths, visible, accepted by the filter), at most what the
   * caller needs plus whether more exist. When the member cannot be asked exactly (shadowed files,
   * a filter the mount changes) it is asked again for more until enough visible matches are known.
   */
  private async grepMember(
    t: SearchTarget,
    query: GrepQuery,
  ): Promise<{ matches: GrepMatch[]; more: boolean } | MemberFailure> {
    let glob: string | null = query.glob;
    let exact = !t.shadowed;
    if (glob?.includes("/")) {
      const forwarded = forwardPattern(glob, query.dir, t);
      if (forwarded === "none") return { matches: [], more: false };
      if (forwarded === "superset") {
        glob = null;
        exact = false;
      } else {
        glob = forwarded.pattern;
      }
    }
    let cap = Number.isFinite(query.maxCount) ? query.maxCount : null;
    for (;;) {
      const result = await t.mount.backend.grep(query.pattern, t.root, glob, cap);
      if (isFailure(result)) return outerFailure(t.mount, t.root, result);
      const found = result.matches ?? [];
      const matches = found
        .map((m) => ({ ...m, path: outerPath(t.mount, m.path) }))
        .filter((m) => query.accepts(m.path) && this.isVisible(t, m.path));
      const more = result.truncated === true;
      // Stop when the answer is exact, complete, already past the cap, or capped by the member itself.
      if (exact || !more || cap === null || matches.length > query.maxCount || found.length < cap) {
        return { matches, more: more || matches.length > query.maxCount };
      }
      cap = Math.max(cap * 4, query.maxCount + 64);
    }
  }
}

function parseRoutes(routes: CompositeRoutes): Mount[] {
  if (typeof routes !== "object" || routes === null) {
    throw new DeepfsError("invalid_argument", "CompositeBackend routes must be an object of mount point → backend");
  }
  const mounts = new Map<string, Mount>();
  for (const [key, value] of Object.entries(routes)) {
    if (!key.startsWith("/")) throw new DeepfsError("invalid_argument", `Route '${key}' must be an absolute path`);
    const checked = checkPath(key);
    if (!checked.ok) throw new DeepfsError("invalid_argument", `Route '${key}' is not a valid path: ${checked.error}`);
    if (checked.path === "/") {
      throw new DeepfsError("invalid_argument", "Route '/' is not allowed; pass that backend as the default instead");
    }
    if (mounts.has(checked.path)) {
      throw new DeepfsError(
        "invalid_argument",
        `Route '${key}' is given twice (as '${checked.path}' and '${checked.path}/')`,
      );
    }
    const backend = isBackend(value) ? value : (value as { backend?: unknown } | null)?.backend;
    if (!isBackend(backend)) {
      throw new DeepfsError("invalid_argument", `Route '${key}' must be a backend or { backend, readOnly? }`);
    }
    const readOnly = !isBackend(value) && (value as { readOnly?: boolean }).readOnly === true;
    mounts.set(checked.path, { mount: checked.path, backend, readOnly });
  }
  return [...mounts.values()];
}
