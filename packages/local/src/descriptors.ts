import type * as fsModule from "node:fs";
import { constants, existsSync, readlinkSync, type Stats, statSync } from "node:fs";
import { basename, dirname, sep } from "node:path";
import { errnoCode, OUTSIDE_ROOT, retrying } from "./errors.js";
import type { FsCalls } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** open(2) flags of a directory that must be one itself: a symlink there is never followed (ENOTDIR, or ELOOP). */
export const DIRECTORY_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/**
 * Linux names the file or directory an open descriptor holds as `/proc/self/fd/N`: `readlink` of it
 * is where that very inode is now, and a path through it reaches that very directory, whatever has
 * been swapped into the path it was opened by since (`/proc/self/fd/N/name` is what `openat(N,
 * "name")` would open). Node has no `openat`, so this is how a check made on a descriptor carries
 * over to the calls made after it.
 *
 * Where there is no procfs (macOS, BSDs) the functions below fall back to host paths after the same
 * checks, which is the behaviour before descriptors were pinned: a directory swapped for a symlink
 * between a check and a later call by path can still redirect that call.
 */
const PROC_FD = "/proc/self/fd";
const HAS_PROC_FD = existsSync(PROC_FD);

/** `/proc/self/fd` where there is procfs, else "" (for code that runs in a worker thread). */
export const PROC_FD_DIR = HAS_PROC_FD ? PROC_FD : "";

/** The error thrown when what was opened lies outside the root; `fromNodeError` maps it. */
export function outsideRootError(): Error {
  return Object.assign(new Error("resolves outside the root directory"), { code: OUTSIDE_ROOT });
}

/**
 * True when the file or directory open as `fd` (opened by the host path `openedAs`) lies inside the
 * root now. With procfs: the kernel's own path of the descriptor. Without: the path must still
 * resolve inside, to the very inode that is open (same device and inode number).
 */
export async function isOpenInside(fd: number, openedAs: string, root: HostRoot, fs: FsCalls): Promise<boolean> {
  if (root.unbounded) return true;
  if (HAS_PROC_FD) return root.contains(await fs.readlink(`${PROC_FD}/${fd}`));
  let real: string;
  try {
    real = await fs.realpath(openedAs);
  } catch {
    return false;
  }
  if (!root.contains(real)) return false;
  const [now, open] = [await fs.lstat(real), await fs.fstat(fd)];
  return now !== null && now.dev === open.dev && now.ino === open.ino;
}

/**
 * The device (`st_dev`) of the root's base, for grep's rule on what it may read before asking
 * where a file lies (see `grep-worker.ts`). NaN when it cannot be read: then every file counts as
 * one of another filesystem and is asked first. NaN too for an unbounded root, where every file is
 * inside and the question costs nothing.
 */
export function rootDevice(root: HostRoot): number {
  if (root.unbounded) return Number.NaN;
  try {
    return statSync(root.base).dev;
  } catch {
    return Number.NaN;
  }
}

/**
 * {@link isOpenInside} with one blocking call, where procfs answers it; undefined elsewhere (the
 * caller then makes the asynchronous check).
 */
export function isOpenInsideSync(fd: number, root: HostRoot): boolean | undefined {
  if (root.unbounded) return true;
  if (!HAS_PROC_FD) return undefined;
  return root.contains(readlinkSync(`${PROC_FD}/${fd}`));
}

/** A directory held open: `path` reaches it for path-based calls; `close` releases it. */
export interface PinnedDirectory {
  /** `/proc/self/fd/N` where there is procfs; otherwise the host path (a residual race, see below). */
  path: string;
  /** The host path it was opened by (where it was then). */
  host: string;
  close(): Promise<void>;
}

/**
 * Opens the directory `host`, checks that it lies inside the root, and returns a path that reaches
 * that very directory for the calls that follow (create, rename, remove), so that a parent swapped
 * for a symlink after the check cannot redirect them. With `create`, missing directories are made
 * one level at a time, each opened without following a symlink (`O_NOFOLLOW`: a link planted there
 * is ELOOP) through its pinned parent, so `mkdir -p` never follows a link. Without procfs the host
 * path is returned after the same checks: a swap between the check and a later call stays possible.
 * Throws Node errors (ENOENT, ENOTDIR, ELOOP) or {@link outsideRootError}.
 */
export async function pinDirectory(
  host: string,
  root: HostRoot,
  fs: FsCalls,
  create: boolean,
): Promise<PinnedDirectory> {
  const missing: string[] = [];
  let current = host;
  let fd: number;
  for (;;) {
    try {
      fd = await openDirectory(current, fs);
      break;
    } catch (error) {
      if (!create || errnoCode(error) !== "ENOENT" || current === root.base || current === sep) throw error;
      missing.unshift(basename(current));
      current = dirname(current);
    }
  }
  try {
    if (!(await isOpenInside(fd, current, root, fs))) throw outsideRootError();
    for (const name of missing) {
      const child = childPath(pathOf(fd, current), name);
      try {
        await fs.mkdir(child);
      } catch (error) {
        // Made concurrently (another write creating the same parents): open it like any other.
        if (errnoCode(error) !== "EEXIST") throw error;
      }
      const next = await openDirectory(child, fs);
      await fs.close(fd);
      fd = next;
      current = childPath(current, name);
      // Through procfs the child was reached inside the pinned parent; by host path, check again.
      if (!HAS_PROC_FD && !(await isOpenInside(fd, current, root, fs))) throw outsideRootError();
    }
  } catch (error) {
    await fs.close(fd);
    throw error;
  }
  return held(fd, current, fs);
}

/**
 * Opens the entry `name` of the pinned directory `parent` as a directory, without following it
 * (a symlink or a file there is ENOTDIR; ELOOP on some systems), and checks that it lies inside the root. With procfs
 * the name is looked up in the very directory `parent` holds, as `openat` would, so nothing swapped
 * into the host path of `parent` or above it since it was pinned can redirect the open; a child of
 * a pinned directory inside the root is inside unless the directory was moved out meanwhile, which
 * the check catches. Without procfs: by host path, after the same check. Throws Node errors or
 * {@link outsideRootError}.
 */
export async function openDirectoryIn(
  parent: PinnedDirectory,
  name: string,
  root: HostRoot,
  fs: FsCalls,
): Promise<PinnedDirectory> {
  const host = childPath(parent.host, name);
  const fd = await openDirectory(childPath(parent.path, name), fs);
  try {
    if (!(await isOpenInside(fd, host, root, fs))) throw outsideRootError();
  } catch (error) {
    await fs.close(fd);
    throw error;
  }
  return held(fd, host, fs);
}

/**
 * The directory a walk found at the host path `host` (a real path: every component a directory
 * when it was read), opened without following a final symlink and checked to be, now, the
 * directory at exactly that path: null when procfs names it elsewhere (a component was swapped for
 * a symlink, or it was moved). So a walk reads the entries, and stats them, of the directory it
 * found, or of none, never of one a link leads to. Without procfs: the host path itself, unopened
 * and unchecked (the residual race described above). Throws the errors of open(2).
 */
export async function openDirectoryExactly(host: string, fs: FsCalls): Promise<PinnedDirectory | null> {
  if (!HAS_PROC_FD) return { path: host, host, close: () => Promise.resolve() };
  const fd = await openDirectory(host, fs);
  let named: string;
  try {
    named = await fs.readlink(`${PROC_FD}/${fd}`);
  } catch (error) {
    await fs.close(fd);
    throw error;
  }
  if (named === host) return held(fd, host, fs);
  await fs.close(fd);
  return null;
}

/**
 * {@link openDirectoryExactly} with blocking calls, for the walks of the worker threads: the
 * descriptor, or -1 when procfs names the directory elsewhere. `procFd` is {@link PROC_FD_DIR}
 * (non-empty). It must stay self-contained (the workers run its source): no reference to anything
 * outside its parameters.
 */
export function openDirectoryExactlySync(
  host: string,
  procFd: string,
  flags: number,
  fs: Pick<typeof fsModule, "openSync" | "readlinkSync" | "closeSync">,
): number {
  const fd = fs.openSync(host, flags);
  let named: string;
  try {
    named = fs.readlinkSync(`${procFd}/${fd}`);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  if (named === host) return fd;
  fs.closeSync(fd);
  return -1;
}

/**
 * `lstat` of each of `names` in the directory at the host path `dir`, through a descriptor of it
 * checked by {@link openDirectoryExactly}: null for a name that is gone or unreadable, and for
 * every name when the directory is no longer at that path. `limit` bounds the calls in flight.
 * Throws when the directory cannot be opened for a transient reason (too many open files).
 */
export async function lstatIn(
  dir: string,
  names: string[],
  fs: FsCalls,
  limit: <T>(call: () => Promise<T>) => Promise<T> = (call) => call(),
): Promise<Array<Stats | null>> {
  let pinned: PinnedDirectory | null;
  try {
    pinned = await openDirectoryExactly(dir, fs);
  } catch (error) {
    if (TRANSIENT.has(errnoCode(error) ?? "")) throw error;
    pinned = null;
  }
  if (!pinned) return names.map(() => null);
  const at = pinned;
  try {
    return await Promise.all(
      names.map((name) =>
        limit(async () => {
          try {
            return await fs.lstat(childPath(at.path, name));
          } catch {
            return null;
          }
        }),
      ),
    );
  } finally {
    await at.close();
  }
}

/** Errors of open(2) that say nothing of the path: worth trying again later. */
const TRANSIENT = new Set(["EMFILE", "ENFILE", "EAGAIN", "EINTR"]);

/** `dir/name`, for a `dir` that may be `/`. */
export function childPath(dir: string, name: string): string {
  return dir === sep ? `/${name}` : `${dir}/${name}`;
}

function held(fd: number, host: string, fs: FsCalls): PinnedDirectory {
  return { path: pathOf(fd, host), host, close: () => Promise.resolve(fs.close(fd)) };
}

function openDirectory(host: string, fs: FsCalls): Promise<number> {
  return retrying(() => fs.open(host, DIRECTORY_FLAGS));
}

function pathOf(fd: number, host: string): string {
  return HAS_PROC_FD ? `${PROC_FD}/${fd}` : host;
}
