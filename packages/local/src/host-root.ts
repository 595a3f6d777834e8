import type { Stats } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { failure, notFound, parentDir } from "@deepfs/core";
import { errnoCode, type Failure, fromNodeError, outsideRoot } from "./errors.js";
import type { FsCalls } from "./fs-calls.js";

/** Where a virtual path lives on disk, after symlinks were checked. */
export interface Location {
  /** The virtual path asked for (results always name this). */
  path: string;
  /** The host path to operate on: symlinks in it resolved (the final one only when followed). */
  host: string;
  /** `lstat` of `host`, or null when nothing is there (or an ancestor is missing). */
  stats: Stats | null;
}

/**
 * Maps virtual paths to host paths below a base directory and enforces containment: the real
 * location of every path, after resolving symlinks in its parents (and in its final component
 * when it is followed), must lie below the base. In non-virtual mode the base is `/`, so the
 * mapping is the identity and containment always holds.
 *
 * A path is resolved before it is opened, so a parent swapped for a symlink in between could
 * redirect the open; Node has no `openat`/`O_BENEATH`. The callers close that race on the
 * descriptor (`descriptors.ts`): a read checks what it opened before using a byte, a write creates
 * and renames through a pinned directory. Nothing is cached: every call resolves again, because
 * any directory may have been swapped for a symlink since the last. The calls go through `fs`,
 * blocking or on the threadpool.
 */
export class HostRoot {
  constructor(readonly base: string) {}

  /** Host path of a virtual path, without resolving anything. */
  hostOf(path: string): string {
    if (this.base === sep) return path;
    return path === "/" ? this.base : this.base + path;
  }

  /** Virtual path of a host path below the base. */
  virtualOf(host: string): string {
    if (this.base === sep) return host;
    return host.length === this.base.length ? "/" : host.slice(this.base.length);
  }

  /** True in non-virtual mode: the base is `/`, every path is inside. */
  get unbounded(): boolean {
    return this.base === sep;
  }

  /** True when a real host path is the base or below it. */
  contains(real: string): boolean {
    return this.base === sep || real === this.base || real.startsWith(this.base + sep);
  }

  /**
   * Resolves `path` for an operation. `followFinal`: a symlink at the final component is resolved
   * (and must stay inside); otherwise the link itself is the target (delete).
   */
  async locate(path: string, fs: FsCalls, followFinal = true): Promise<Location | Failure> {
    // Holds on its own, whatever the caller validated: joined onto the base, a "." or ".." segment
    // (or an empty one) could name something else than the path says, or leave the root.
    if (!isCanonical(path)) return failure("invalid_path", `'${path}' is not a canonical absolute path`);
    if (path === "/") return this.describe(path, this.base, fs);
    const parent = await this.realDir(this.hostOf(parentDir(path)), path, fs);
    if ("error" in parent) return parent;
    const target = join(parent.real, ...parent.missing, basename(path));
    if (parent.missing.length > 0) return { path, host: target, stats: null };
    const located = await this.describe(path, target, fs);
    if ("error" in located || !followFinal || !located.stats?.isSymbolicLink()) return located;
    let real: string;
    try {
      real = await fs.realpath(target);
    } catch (error) {
      // A dangling link: writing replaces the link itself (rename never follows), reading finds nothing.
      if (errnoCode(error) === "ENOENT") return { path, host: target, stats: null };
      return fromNodeError(error, path);
    }
    if (!this.contains(real)) return outsideRoot(path);
    return this.describe(path, real, fs);
  }

  /** Like {@link locate}, but a missing path is `file_not_found`. */
  async locateExisting(path: string, fs: FsCalls): Promise<(Location & { stats: Stats }) | Failure> {
    const located = await this.locate(path, fs);
    if ("error" in located) return located;
    if (!located.stats) return notFound(path);
    return located as Location & { stats: Stats };
  }

  private async describe(path: string, host: string, fs: FsCalls): Promise<Location | Failure> {
    try {
      return { path, host, stats: await fs.lstat(host) };
    } catch (error) {
      return fromNodeError(error, path);
    }
  }

  /**
   * Real path of a host directory, resolving its deepest existing ancestor when it is missing
   * (`missing` lists the names still to create below `real`).
   */
  private async realDir(
    host: string,
    path: string,
    fs: FsCalls,
  ): Promise<{ real: string; missing: string[] } | Failure> {
    const missing: string[] = [];
    let current = host;
    for (;;) {
      try {
        const real = await fs.realpath(current);
        if (!this.contains(real)) return outsideRoot(path);
        if (missing.length > 0) {
          const stats = await fs.lstat(real);
          // Removed since realpath saw it: resolve again.
          if (!stats) continue;
          if (!stats.isDirectory()) return notADirectory(path);
        }
        return { real, missing };
      } catch (error) {
        const code = errnoCode(error);
        if (code === "ENOTDIR") return notADirectory(path);
        if (code !== "ENOENT" || current === this.base || current === sep) return fromNodeError(error, path);
        const kind = await entryType(current, fs);
        // A dangling symlink is not a missing directory: creating below it must not follow it.
        if (kind === "symlink") return outsideRoot(path);
        // Otherwise it was created concurrently (another write making the same parents): look again.
        if (kind === "missing") {
          missing.unshift(basename(current));
          current = dirname(current);
        }
      }
    }
  }
}

/** `/`, or `/`-separated names none of which is empty, `.` or `..`. */
function isCanonical(path: string): boolean {
  if (path === "/") return true;
  if (typeof path !== "string" || !path.startsWith("/") || path.endsWith("/")) return false;
  return path
    .slice(1)
    .split("/")
    .every((name) => name !== "" && name !== "." && name !== "..");
}

async function entryType(host: string, fs: FsCalls): Promise<"missing" | "symlink" | "other"> {
  try {
    const stats = await fs.lstat(host);
    if (!stats) return "missing";
    return stats.isSymbolicLink() ? "symlink" : "other";
  } catch {
    return "missing";
  }
}

function notADirectory(path: string): Failure {
  return failure("not_a_directory", `A parent of '${path}' is a file, so '${path}' cannot be below it`);
}
