/**
 * The router's mount table: which member serves a path (the longest mount point containing it),
 * which members a search or a delete of a directory reaches, and which files a nested route hides.
 */
import { type MemberDriver, memberDriver } from "./composite-protocol-driver.js";
import { DeepfsError } from "./errors.js";
import { checkPath, isWithin } from "./paths.js";
import type { BackendProtocol } from "./protocol.js";

/** A route's value: a backend, or a backend with options. */
export type CompositeRoute = BackendProtocol | { backend: BackendProtocol; readOnly?: boolean };

/** Mount point (absolute, with or without a trailing `/`) → the backend that serves it. */
export type CompositeRoutes = Record<string, CompositeRoute>;

/** A member backend, the driver the router calls, and where it is mounted (the default at `/`). */
export interface Mount {
  /** Normalised mount point without a trailing `/` (`/` for the default backend). */
  readonly mount: string;
  readonly backend: BackendProtocol;
  /** The member's driver, or the protocol adapter over a backend not built on the facade. */
  readonly driver: MemberDriver;
  /** Declared read-only by the route table (`{ backend, readOnly: true }`). */
  readonly readOnly: boolean;
}

/** One member's share of a grep, glob or walk below the search directory. */
export interface SearchTarget {
  mount: Mount;
  /** Directory the member searches, in its own paths. */
  root: string;
  /** Part of the search the member covers, in caller paths. */
  area: string;
  /** A nested route hides some of the member's files in `area`, so results must be filtered. */
  shadowed: boolean;
}

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

function mountOf(mount: string, backend: BackendProtocol, readOnly: boolean): Mount {
  return { mount, backend, driver: memberDriver(backend), readOnly };
}

/** The route table as mounts, in the order given; throws `DeepfsError` on a malformed table. */
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
    mounts.set(checked.path, mountOf(checked.path, backend, readOnly));
  }
  return [...mounts.values()];
}

/** The default member and the routes, with the lookups the router needs. */
export class MountTable {
  readonly defaultMount: Mount;
  /** Routes, longest mount point first, so the first match is the longest prefix. */
  readonly routes: readonly Mount[];
  /** Mount points with a trailing `/`, in the order the route table gave them. */
  readonly prefixes: readonly string[];

  constructor(defaultBackend: BackendProtocol, routes: CompositeRoutes) {
    this.defaultMount = mountOf("/", defaultBackend, false);
    const parsed = parseRoutes(routes);
    this.prefixes = parsed.map((m) => `${m.mount}/`);
    this.routes = parsed.sort((a, b) => b.mount.length - a.mount.length);
  }

  /** Every member, the default first. */
  get members(): Mount[] {
    return [this.defaultMount, ...this.routes];
  }

  /** The member serving a canonical path: the longest mount point containing it, else the default. */
  mountFor(path: string): Mount {
    return this.routes.find((r) => isWithin(path, r.mount)) ?? this.defaultMount;
  }

  /** True when a mount point lies at or below `path`: the router shows a directory there. */
  hasMountAtOrBelow(path: string): boolean {
    return this.routes.some((r) => isWithin(r.mount, path));
  }

  /** The members a search of `dir` must ask: the one serving `dir`, and every route mounted below it. */
  searchTargets(dir: string): SearchTarget[] {
    const owner = this.mountFor(dir);
    const areas: Array<[Mount, string]> = [[owner, dir]];
    for (const route of this.routes) {
      if (route !== owner && isWithin(route.mount, dir)) areas.push([route, route.mount]);
    }
    return areas.map(([mount, area]) => ({
      mount,
      area,
      root: innerPath(mount, area),
      shadowed: this.routes.some((r) => r !== mount && isWithin(r.mount, area)),
    }));
  }

  /** True when a caller path found in a member is really served by it (not shadowed by a nested route). */
  isVisible(t: SearchTarget, path: string): boolean {
    return !t.shadowed || this.mountFor(path) === t.mount;
  }
}

/** The path a member sees for a caller's path: the prefix stripped (the mount point itself is `/`). */
export function innerPath(m: Mount, outer: string): string {
  if (m.mount === "/") return outer;
  return outer === m.mount ? "/" : outer.slice(m.mount.length);
}

/** The caller's path for a member's path: the prefix re-added. */
export function outerPath(m: Mount, inner: string): string {
  if (m.mount === "/") return inner;
  return inner === "/" ? m.mount : `${m.mount}${inner}`;
}
