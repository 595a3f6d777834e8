import { DeepfsError, failure, isFailure } from "./errors.js";
import { checkPath } from "./paths.js";
import type { BackendProtocol, ErrorCode, ErrorFields, MaybePromise } from "./protocol.js";

/** A route's value: a backend, or a backend with options. */
export type CompositeRoute = BackendProtocol | { backend: BackendProtocol; readOnly?: boolean };

/** Mount point (absolute, with or without a trailing `/`) → the backend that serves it. */
export type CompositeRoutes = Record<string, CompositeRoute>;

/** A member backend and where it is mounted; the default backend is mounted at `/`. */
export interface Mount {
  /** Normalised mount point without a trailing `/` (`/` for the default backend). */
  readonly mount: string;
  readonly backend: BackendProtocol;
  /** Declared read-only by the route table (`{ backend, readOnly: true }`). */
  readonly readOnly: boolean;
}

/** A path argument resolved to its member: the path the member sees and the one callers see. */
export interface Target {
  mount: Mount;
  inner: string;
  outer: string;
}

export type Failure = { error: string; code: ErrorCode };
/** A member's failure in caller paths; foreign backends may leave out the `code`. */
export type MemberFailure = { error: string; code?: ErrorCode };

export function isBackend(value: unknown): value is BackendProtocol {
  return typeof value === "object" && value !== null && typeof (value as { ls?: unknown }).ls === "function";
}

/** How messages name a member: `the mount '/mem/'`, or `the default backend`. */
export function mountLabel(m: Mount): string {
  return m.mount === "/" ? "the default backend" : `the mount '${m.mount}/'`;
}

/**
 * True when no mutation may reach the member: declared read-only in the route table, or a backend
 * that says every mutation of it answers `read_only`.
 */
export function isReadOnlyMount(m: Mount): boolean {
  return m.readOnly || m.backend.capabilities?.readOnly === true;
}

export function innerPath(m: Mount, outer: string): string {
  if (m.mount === "/") return outer;
  return outer === m.mount ? "/" : outer.slice(m.mount.length);
}

export function outerPath(m: Mount, inner: string): string {
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
export function outerMessage(m: Mount, inner: string, message: string): string {
  if (m.mount === "/") return message;
  const candidates = [inner];
  for (let i = inner.lastIndexOf("/"); i > 0; i = inner.lastIndexOf("/", i - 1)) candidates.push(inner.slice(0, i));
  if (inner !== "/") candidates.push("/");
  const quoted = new RegExp(`'(${candidates.map(escapeRegExp).join("|")})'`, "g");
  return message.replace(quoted, (_, path: string) => `'${outerPath(m, path)}'`);
}

/** Error fields of a member's failure, in caller paths; the member's `code` is kept. */
export function outerFailure(m: Mount, inner: string, result: ErrorFields): MemberFailure {
  const error = outerMessage(m, inner, result.error ?? "");
  return result.code === undefined ? { error } : { error, code: result.code };
}

/** A member's write/edit/delete result in caller paths (`path`, `filesUpdate` keys, error sentence). */
export function outerResult<T extends ErrorFields & { path?: string; filesUpdate?: Record<string, unknown> | null }>(
  m: Mount,
  inner: string,
  result: T,
): T {
  if (isFailure(result)) return { ...result, ...outerFailure(m, inner, result) };
  const out = { ...result };
  if (typeof out.path === "string") out.path = outerPath(m, out.path);
  if (out.filesUpdate) {
    const entries = Object.entries(out.filesUpdate).map(([p, data]) => [outerPath(m, p), data]);
    out.filesUpdate = Object.fromEntries(entries) as T["filesUpdate"];
  }
  return out;
}

export function readOnlyFailure(target: Target): Failure {
  return failure("read_only", `'${target.outer}' cannot be changed: ${mountLabel(target.mount)} is read-only`);
}

/** A member that threw or rejected, in caller paths. */
export function memberFailure(m: Mount, outer: string): Failure {
  return failure("backend_unavailable", `'${outer}': the backend mounted at '${m.mount}' failed`);
}

/**
 * Calls into a member. A throw or rejection breaks the contract (failures are returned), so it
 * becomes {@link memberFailure} instead of escaping the router; the thrown message is dropped
 * because it may hold secrets or file contents.
 */
export async function callMember<T>(m: Mount, outer: string, call: () => MaybePromise<T>): Promise<T | Failure> {
  try {
    return await call();
  } catch {
    return memberFailure(m, outer);
  }
}

/** The route table as mounts, in the order given; throws `DeepfsError` on a malformed table. */
export function parseRoutes(routes: CompositeRoutes): Mount[] {
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
