import type { Stats } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { parentDir } from "@deepfs/core";
import { type Fault, fault, isFault } from "@deepfs/core/kit";
import { errnoCode, fromNodeError, notADirectory, notCanonical, outsideRoot } from "./errors.js";
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
   * (and must stay inside); otherwise the link itself is the target (write, delete).
   */
  async locate(path: string, fs: FsCalls, followFinal = true): Promise<Location | Fault> {
    // Holds on its own, whatever the caller validated: joined onto the base, a "." or ".." segment
    // (or an empty one) could name something else than the path says, or leave the root.
    if (!isCanonical(path)) return notCanonical();
    if (path === "/") return this.describe(path, this.base, fs);
    const parent = await this.realDir(this.hostOf(parentDir(path)), path, fs);
    if (isFault(parent)) return parent;
    const target = join(parent.real, ...parent.missing, basename(path));
    if (parent.missing.length > 0) return { path, host: target, stats: null };
    const located = await this.describe(path, target, fs);
    // The parent resolved, yet something below it is not a directory: the parent is a file.
    if (isFault(located) && located.fault === "not_a_directory") return notADirectory(parentDir(path));
    if (isFault(located) || !followFinal || !located.stats?.isSymbolicLink()) return located;
    let real: string;
    try {
      real = await fs.realpath(target);
    } catch (error) {
      // A dangling link: writing replaces the link itself (rename never follows), reading finds nothing.
      if (errnoCode(error) === "ENOENT") return { path, host: target, stats: null };
      return fromNodeError(error);
    }
    if (!this.contains(real)) return outsideRoot();
    return this.describe(path, real, fs);
  }

  /**
   * One name per file for paths that alias it through linked directories: the real path of the
   * parent and the last component as it is (a link there is its own file). The path itself when
   * the parent does not resolve (the call will answer that fault).
   */
  async identity(path: string, fs: FsCalls): Promise<string> {
    if (path === "/" || !isCanonical(path)) return path;
    const parent = await this.realDir(this.hostOf(parentDir(path)), path, fs);
    return isFault(parent) ? path : join(parent.real, ...parent.missing, basename(path));
  }

  /** Like {@link locate}, but a missing path is `file_not_found`. */
  async locateExisting(path: string, fs: FsCalls): Promise<(Location & { stats: Stats }) | Fault> {
    const located = await this.locate(path, fs);
    if (isFault(located)) return located;
    if (!located.stats) return fault("file_not_found");
    return located as Location & { stats: Stats };
  }

  private async describe(path: string, host: string, fs: FsCalls): Promise<Location | Fault> {
    try {
      return { path, host, stats: await fs.lstat(host) };
    } catch (error) {
      return fromNodeError(error);
    }
  }

  /**
   * Real path of a host directory, resolving its deepest existing ancestor when it is missing
   * (`missing` lists the names still to create below `real`).
   */
  private async realDir(
    host: string,
    _path: string,
    fs: FsCalls,
  ): Promise<{ real: string; missing: string[] } | Fault> {
    const missing: string[] = [];
    let current = host;
    for (;;) {
      try {
        const real = await fs.realpath(current);
        if (!this.contains(real)) return outsideRoot();
        if (missing.length > 0) {
          const stats = await fs.lstat(real);
          // Removed since realpath saw it: resolve again.
          if (!stats) continue;
          if (!stats.isDirectory()) return notADirectory(this.virtualOf(current));
        }
        return { real, missing };
      } catch (error) {
        const code = errnoCode(error);
        if (code === "ENOTDIR") return notADirectory(await this.fileAbove(current, fs));
        if (code !== "ENOENT" || current === this.base || current === sep) return fromNodeError(error);
        const kind = await entryType(current, fs);
        // A dangling symlink is not a missing directory: creating below it must not follow it.
        if (kind === "symlink") return outsideRoot();
        // Otherwise it was created concurrently (another write making the same parents): look again.
        if (kind === "missing") {
          missing.unshift(basename(current));
          current = dirname(current);
        }
      }
    }
  }

  /**
   * The virtual path of the file that stands where a directory of `host` would be (realpath
   * answered ENOTDIR): the deepest ancestor that resolves, when it is a file inside the root.
   */
  private async fileAbove(host: string, fs: FsCalls): Promise<string | undefined> {
    for (let current = dirname(host); current.length > this.base.length; current = dirname(current)) {
      try {
        const real = await fs.realpath(current);
        const stats = this.contains(real) ? await fs.lstat(real) : null;
        return stats && !stats.isDirectory() ? this.virtualOf(current) : undefined;
      } catch {
        // Not there either: one level up.
      }
    }
    return undefined;
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
