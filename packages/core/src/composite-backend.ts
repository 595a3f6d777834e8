import { deleteThroughRouter } from "./composite-delete.js";
import {
  type CompositeRoutes,
  callMember,
  type Failure,
  innerPath,
  isBackend,
  type MemberFailure,
  type Mount,
  memberFailure,
  outerFailure,
  outerMessage,
  outerPath,
  outerResult,
  parseRoutes,
  readOnlyFailure,
  type Target,
} from "./composite-mounts.js";
import { forwardPattern, type SearchTarget } from "./composite-patterns.js";
import { DeepfsError, failure, isFailure } from "./errors.js";
import { parseGlobArgs } from "./glob.js";
import { capGrepMatches, type GrepQuery, parseGrepArgs, sortGrepMatches } from "./grep.js";
import { checkDirPath, checkPath, comparePaths, isWithin, joinPath, relativeTo } from "./paths.js";
import {
  type BackendCapabilities,
  type BackendProtocol,
  type DeleteResult,
  type EditResult,
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
  type ReadRawResult,
  type ReadResult,
  type SandboxBackendProtocol,
  type WriteOptions,
  type WriteResult,
} from "./protocol.js";

export type { CompositeRoute, CompositeRoutes } from "./composite-mounts.js";

/** Settings of a {@link CompositeBackend} beyond its members (the third constructor argument). */
export interface CompositeRouterOptions {
  /**
   * Directory under which deepagents' middleware puts what it offloads from the conversation
   * (`<artifactsRoot>/large_tool_results/`, `<artifactsRoot>/conversation_history/`), for example a
   * route that persists them. Absolute; kept as given and exposed as `backend.artifactsRoot`
   * (default `/`). Read by deepagents releases that support it; earlier ones ignore it.
   */
  artifactsRoot?: string;
}

/** The object form of the {@link CompositeBackend} constructor. */
export interface CompositeBackendOptions extends CompositeRouterOptions {
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

function isDirectoryFailure(path: string): Failure {
  return failure("is_directory", `'${path}' is a directory, not a file`);
}

/** `artifactsRoot` as given, once it is known to be an absolute path; throws `DeepfsError` otherwise. */
function checkArtifactsRoot(value: unknown): string {
  if (value === undefined) return "/";
  if (typeof value !== "string" || !value.startsWith("/") || !checkPath(value).ok) {
    throw new DeepfsError("invalid_argument", "CompositeBackend artifactsRoot must be an absolute path such as '/'");
  }
  return value;
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
 * - `delete` reaches the member serving the path and every route mounted below it (deepest first),
 *   deleting their files and keeping the mounts. It answers `read_only` if any of those mounts is
 *   read-only, and `unsupported` if one of those backends has no `delete`, before anything is
 *   deleted. If a member fails part way, the failure's `cleared` lists what was already deleted.
 * - `execute` runs on the default backend when it is a sandbox, else answers {@link EXECUTE_UNSUPPORTED}.
 * - The router creates nothing, so `close()` closes nothing: close the member backends yourself.
 */
export class CompositeBackend implements SandboxBackendProtocol {
  readonly capabilities: BackendCapabilities;

  /**
   * Where deepagents' middleware puts offloaded tool results and conversation history, as given to
   * the constructor (default `/`); deepagents reads it by this name.
   */
  readonly artifactsRoot: string;

  private readonly defaultMount: Mount;
  /** Routes, longest mount point first, so the first match is the longest prefix. */
  private readonly routes: readonly Mount[];
  /** Mount points with a trailing `/`, in the order the route table gave them. */
  private readonly prefixes: readonly string[];

  constructor(options: CompositeBackendOptions);
  constructor(defaultBackend: BackendProtocol, routes?: CompositeRoutes, options?: CompositeRouterOptions);
  constructor(
    first: BackendProtocol | CompositeBackendOptions,
    routes?: CompositeRoutes,
    options?: CompositeRouterOptions,
  ) {
    const objectForm = isBackend(first) ? undefined : (first as CompositeBackendOptions | undefined);
    const [defaultBackend, routeTable, settings] = objectForm
      ? [objectForm.default, objectForm.routes, objectForm]
      : [first, routes, options];
    if (!isBackend(defaultBackend)) {
      throw new DeepfsError(
        "invalid_argument",
        "CompositeBackend needs a default backend (an object with backend methods)",
      );
    }
    this.defaultMount = { mount: "/", backend: defaultBackend, readOnly: false };
    this.artifactsRoot = checkArtifactsRoot(settings?.artifactsRoot);
    const parsed = parseRoutes(routeTable ?? {});
    this.prefixes = parsed.map((m) => `${m.mount}/`);
    this.routes = parsed.sort((a, b) => b.mount.length - a.mount.length);
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

  /**
   * The mount points, each with a trailing `/` (`["/memories/"]`), in the order given. deepagents
   * recognises a router by this array (as it does its own `CompositeBackend`): with it, permission
   * rules that all lie under a route may be combined with an execute-capable default backend.
   */
  get routePrefixes(): string[] {
    return [...this.prefixes];
  }

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
      outerResult(target.mount, target.inner, await target.mount.backend.write(target.inner, content, options)),
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
      return outerResult(target.mount, target.inner, result);
    });
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const target = this.resolve(filePath);
    if ("error" in target) return target;
    return deleteThroughRouter(target, this.routes);
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
      // One push per entry: spreading a member's answer into `push` overflows the stack past ~125,000.
      for (const match of answer.matches) matches.push(match);
      more ||= answer.more;
    }
    const capped = capGrepMatches(sortGrepMatches(matches), query.maxCount);
    return more ? { matches: capped.matches ?? [], truncated: true } : capped;
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const { dir, matches } = parsed.query;
    const answers = await Promise.all(
      this.searchTargets(dir).map((t) =>
        callMember(t.mount, t.area, async (): Promise<GlobResult> => {
          const forwarded = forwardPattern(pattern, dir, t);
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
      // One push per entry: spreading a member's answer into `push` overflows the stack past ~125,000.
      for (const info of answer.files ?? []) files.push(info);
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
