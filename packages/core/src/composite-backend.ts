import { deleteThroughRouter } from "./composite-delete.js";
import { type CompositeRoutes, innerPath, isBackend, MountTable, outerPath } from "./composite-mounts.js";
import { callMember } from "./composite-paths.js";
import type { OwnAnswer, OwnCalls } from "./composite-protocol-driver.js";
import { type Routed, RouterDriver, withFileInWay } from "./composite-router.js";
import { globFanOut } from "./composite-search.js";
import { DeepfsError, failure } from "./errors.js";
import { parseGlobArgs } from "./glob.js";
import { type Fault, grepLimitsOf, isFault } from "./kit/driver.js";
import { DriverBackend } from "./kit/facade.js";
import { failureOf, type Operation } from "./kit/messages.js";
import { DEFAULT_MAX_GREP_FILE_BYTES, fileInfoOf } from "./kit/search.js";
import { checkPath, comparePaths } from "./paths.js";
import {
  type BackendCapabilities,
  type BackendProtocol,
  type DeleteResult,
  type EditResult,
  type ExecuteOptions,
  type ExecuteResponse,
  type GlobResult,
  isSandboxBackend,
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
  /**
   * Most matching lines one grep over the router answers (default: the smallest any member has,
   * else 1,000,000; past it grep answers `too_large`).
   */
  maxGrepMatches?: number;
  /** Most characters of matching lines one grep answers (default: the members' smallest, else 256 Mi). */
  maxGrepTextLength?: number;
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

/** Transfers and grep reads in flight at once, per call. */
const CONCURRENCY = 8;

/** `artifactsRoot` as given, once it is known to be an absolute path; throws `DeepfsError` otherwise. */
function checkArtifactsRoot(value: unknown): string {
  if (value === undefined) return "/";
  if (typeof value !== "string" || !value.startsWith("/") || !checkPath(value).ok) {
    throw new DeepfsError("invalid_argument", "CompositeBackend artifactsRoot must be an absolute path such as '/'");
  }
  return value;
}

/**
 * Routes paths to member backends by their longest matching prefix: the backend contract (the
 * facade, {@link DriverBackend}) over {@link RouterDriver}, which routes driver calls.
 *
 * - A path is served by the route whose mount point is its longest prefix on segment boundaries
 *   (`/mem/` never serves `/memo`), else by the default backend. The route sees the path with the
 *   prefix stripped (`/project/src/a.py` → `/src/a.py`, the mount point itself → `/`), and every path
 *   in every result is returned with the prefix re-added.
 * - Members answer structured failures (a member not built on the facade: its `code`); every error
 *   sentence is written once, by the facade, with the caller's path.
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
export class CompositeBackend extends DriverBackend<RouterDriver> implements SandboxBackendProtocol {
  override readonly capabilities: BackendCapabilities;

  /**
   * Where deepagents' middleware puts offloaded tool results and conversation history, as given to
   * the constructor (default `/`); deepagents reads it by this name.
   */
  readonly artifactsRoot: string;

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
    const artifactsRoot = checkArtifactsRoot(settings?.artifactsRoot);
    const table = new MountTable(defaultBackend, routeTable ?? {});
    const search = { concurrency: CONCURRENCY, maxFileBytes: DEFAULT_MAX_GREP_FILE_BYTES };
    const router = new RouterDriver(table, search);
    // Bounds given to the router win over its members' (which every member's share is searched with).
    const given = settings ? grepLimitsOf(settings) : undefined;
    if (given) router.capabilities.limits = { ...router.capabilities.limits, ...given };
    super(router, { concurrency: CONCURRENCY });
    this.artifactsRoot = artifactsRoot;
    const members = table.members;
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
    return [...this.driver.table.prefixes];
  }

  /**
   * A member not built on the facade and without conditional writes (deepagents' own backends)
   * writes and edits itself: its own lock and preconditions, its refusal to overwrite with `write`,
   * and the `filesUpdate` it answers. Every other member goes through the facade.
   */
  override async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const own = typeof content === "string" ? this.ownTarget(filePath) : null;
    if (!own) return super.write(filePath, content, options);
    return this.forward("write", own, (calls, inner) => calls.write(inner, content, options));
  }

  override async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const strings = typeof oldString === "string" && typeof newString === "string";
    const own = strings ? this.ownTarget(filePath) : null;
    if (!own) return super.edit(filePath, oldString, newString, replaceAll, options);
    return this.forward("edit", own, (calls, inner) => calls.edit(inner, oldString, newString, replaceAll, options));
  }

  override async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const mount = this.driver.table.mountFor(checked.path);
    return deleteThroughRouter(this.driver.table, { mount, inner: innerPath(mount, checked.path) }, checked.path);
  }

  /**
   * The facade's glob, without iterating the merged files one by one (the facade reads a driver's
   * glob as an async iterable, which costs more than the search for 100,000s of files).
   */
  override async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const found = await globFanOut(this.driver.table, parsed.query);
    if (isFault(found)) return failureOf("glob", parsed.query.dir, found);
    return { files: found.map(fileInfoOf).sort((a, b) => comparePaths(a.path, b.path)) };
  }

  /** Runs on the default backend when it is a sandbox; otherwise answers {@link EXECUTE_UNSUPPORTED}. */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    const mount = this.driver.table.defaultMount;
    const backend = mount.backend;
    if (!isSandboxBackend(backend)) return { ...EXECUTE_UNSUPPORTED };
    try {
      return await backend.execute(command, options);
    } catch {
      const output = `Error: '/': the backend mounted at '${mount.mount}' failed (code: backend_unavailable)`;
      return { output, exitCode: null, truncated: false };
    }
  }

  /** Does nothing: the router creates no resource, and the member backends belong to the caller. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The member and paths of a write or edit that its member does itself, or null for the facade. */
  private ownTarget(filePath: string): (Routed & { outer: string }) | null {
    const checked = checkPath(filePath);
    if (!checked.ok) return null;
    const routed = this.driver.routeChange(checked.path);
    // A member with conditional writes edits losslessly through the facade (read, plan, write with ifMatch).
    if (isFault(routed) || !routed.mount.driver.own || routed.mount.driver.capabilities.conditionalWrites) return null;
    return { ...routed, outer: checked.path };
  }

  /** A write or edit done by the member itself, answered in caller paths. */
  private async forward(
    op: Operation,
    target: Routed & { outer: string },
    call: (calls: OwnCalls, inner: string) => Promise<OwnAnswer | Fault>,
  ): Promise<WriteResult & EditResult> {
    const { mount, inner, outer } = target;
    const calls = mount.driver.own as OwnCalls;
    const answer = await callMember(mount, () => call(calls, inner));
    if (isFault(answer)) return failureOf(op, outer, await withFileInWay(mount, inner, answer));
    const result: WriteResult & EditResult = { path: outer };
    if (answer.occurrences !== undefined) result.occurrences = answer.occurrences;
    if (answer.etag !== undefined) result.etag = answer.etag;
    if (answer.filesUpdate !== undefined) {
      result.filesUpdate = answer.filesUpdate
        ? (Object.fromEntries(
            Object.entries(answer.filesUpdate).map(([p, data]) => [outerPath(mount, p), data]),
          ) as WriteResult["filesUpdate"])
        : null;
    }
    return result;
  }
}
