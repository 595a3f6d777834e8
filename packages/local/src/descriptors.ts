import { constants, existsSync, readlinkSync, statSync } from "node:fs";
import { basename, dirname, sep } from "node:path";
import { errnoCode, OUTSIDE_ROOT, retrying } from "./errors.js";
import type { FsCalls } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/**
 * Linux names the file or directory an open descriptor holds as `/proc/self/fd/N`: `readlink` of it
 * is where that very inode is now, and a path through it reaches that very directory, whatever has
 * been swapped into the path it was opened by since. Node has no `openat`, so this is how a check
 * made on a descriptor carries over to the calls made after it.
 */
const PROC_FD = "/proc/self/fd";
const HAS_PROC_FD = existsSync(PROC_FD);

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
      const child = `${pathOf(fd, current)}/${name}`;
      try {
        await fs.mkdir(child);
      } catch (error) {
        // Made concurrently (another write creating the same parents): open it like any other.
        if (errnoCode(error) !== "EEXIST") throw error;
      }
      const next = await openDirectory(child, fs);
      await fs.close(fd);
      fd = next;
      current = `${current}/${name}`;
      // Through procfs the child was reached inside the pinned parent; by host path, check again.
      if (!HAS_PROC_FD && !(await isOpenInside(fd, current, root, fs))) throw outsideRootError();
    }
  } catch (error) {
    await fs.close(fd);
    throw error;
  }
  const pinned = fd;
  return { path: pathOf(pinned, current), close: () => Promise.resolve(fs.close(pinned)) };
}

function openDirectory(host: string, fs: FsCalls): Promise<number> {
  return retrying(() => fs.open(host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
}

function pathOf(fd: number, host: string): string {
  return HAS_PROC_FD ? `${PROC_FD}/${fd}` : host;
}
