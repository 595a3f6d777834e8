import type * as fsModule from "node:fs";

/*
 * The walk's and the listings' jobs for the worker threads (`grep-pool.ts`): blocking calls, each
 * function self-contained, as its source is the worker's code.
 */

/** Host paths for {@link statFiles}, and how to reach their directories. */
export interface StatJob {
  hosts: string[];
  /** `/proc/self/fd` (`PROC_FD_DIR`), or "" where there is no procfs: then by host path. */
  procFd: string;
  /** open(2) flags of a directory that is not followed when it is a symlink (`DIRECTORY_FLAGS`). */
  dirFlags: number;
}

/** Opens a directory checked to be at exactly its host path (`openDirectoryExactlySync`, passed in). */
export type OpenExactly = (
  host: string,
  procFd: string,
  flags: number,
  fs: Pick<typeof fsModule, "openSync" | "readlinkSync" | "closeSync">,
) => number;

/**
 * The size and modification time (ms since the epoch, as `Stats.mtime` gives it) of each host
 * path, without following a final symlink: `[size, mtime]` per path, NaN for a path that is gone
 * or unreadable, and a size of -1 for one whose directory could not be opened for a transient
 * reason (too many open files: the caller looks it up again). With procfs each directory is
 * opened once per run of its files, checked to be at exactly its host path (`openExactly`), and
 * the files are stat'ed through it: a directory swapped for a symlink since the walk yields no
 * size or time from where the link leads. Blocking calls, for a worker thread; self-contained
 * like `scanFiles` (`grep-worker.ts`).
 */
export function statFiles(
  job: StatJob,
  fs: Pick<typeof fsModule, "lstatSync" | "openSync" | "readlinkSync" | "closeSync">,
  openExactly: OpenExactly,
): Float64Array {
  const { hosts, procFd } = job;
  const out = new Float64Array(hosts.length * 2);
  let dir: string | undefined;
  let fd = -1;
  let transient = false;
  try {
    for (let i = 0; i < hosts.length; i++) {
      const host = hosts[i] as string;
      let path = host;
      if (procFd !== "") {
        const slash = host.lastIndexOf("/");
        const parent = slash === 0 ? "/" : host.slice(0, slash);
        if (parent !== dir) {
          if (fd !== -1) fs.closeSync(fd);
          dir = parent;
          fd = -1;
          transient = false;
          try {
            fd = openExactly(parent, procFd, job.dirFlags, fs);
          } catch (error) {
            const code = (error as { code?: string }).code;
            transient = code === "EMFILE" || code === "ENFILE" || code === "EAGAIN" || code === "EINTR";
          }
        }
        path = fd === -1 ? "" : `${procFd}/${fd}/${host.slice(slash + 1)}`;
      }
      let stats: ReturnType<typeof fs.lstatSync> | undefined;
      try {
        stats = path === "" ? undefined : fs.lstatSync(path, { throwIfNoEntry: false });
      } catch {
        stats = undefined;
      }
      out[2 * i] = stats ? stats.size : transient ? -1 : Number.NaN;
      out[2 * i + 1] = stats ? stats.mtime.getTime() : Number.NaN;
    }
  } finally {
    if (fd !== -1) fs.closeSync(fd);
  }
  return out;
}

/** A part of a walk for {@link walkDirs}. */
export interface WalkJob {
  /** Host paths of the directories to read (and the directories below them). */
  dirs: string[];
  /** Entries read at most before the directories not yet read are handed back. */
  budget: number;
  /** Leave regular files out of the answer (only symlinks are wanted). */
  linksOnly: boolean;
  /** Source of the pattern of names that are never listed (unaddressable and internal names). */
  hidden: string;
  /** `/proc/self/fd` to read each directory through a pinned descriptor, or "" to read it by host path. */
  procFd: string;
  /** open(2) flags of a directory that is not followed when it is a symlink (`DIRECTORY_FLAGS`). */
  dirFlags: number;
  /**
   * Source of the pattern of file names whose size and time are looked up during the walk,
   * through the directory's descriptor (`fileStats`), or null for none. A hint of which files the
   * caller will keep: the caller looks up the others it keeps itself.
   */
  statNames: string | null;
}

/** What {@link walkDirs} found: host paths, in no particular order. */
export interface WalkAnswer {
  files: string[];
  /**
   * With `statNames`: for each file, `[size, mtime]` when its name matched (a file gone by then is
   * left out), else NaN. Empty without.
   */
  fileStats: Float64Array;
  /** Symlinks whose target is a regular file now (the caller still checks where it lies). */
  links: string[];
  /** Directories not read yet (the budget ran out). */
  pending: string[];
  /** Directories whose read failed with a transient error (too many open files...): to read again. */
  retry: string[];
}

/**
 * Reads the directories of `job` and those below them with blocking calls, depth first, until its
 * budget of entries is spent: the regular files, the symlinks to regular files (never descended:
 * the caller decides on each), and the directories left. Names matching `hidden` are skipped, directories included;
 * entries of other kinds (FIFOs, sockets, devices) are left out; an entry whose kind readdir did not
 * give is lstat'ed. Unreadable directories are skipped, except after a transient error.
 *
 * With `job.procFd`, nothing is read by host path: each directory of the job is opened without
 * following a final symlink and checked to be the directory at exactly its host path
 * (`openExactly`), each directory below it is opened through its parent's descriptor (as `openat`
 * would, without following a symlink: one swapped in since readdir saw a directory fails), and
 * each is read and its entries stat'ed through its own descriptor. So no name or kind from where a
 * symlink leads is ever answered. A descriptor stays open until the directories found in it are
 * opened (at most one per level of the tree) or the job ends. Runs in a worker thread or on the
 * caller's; self-contained like `scanFiles` (`grep-worker.ts`).
 */
export function walkDirs(
  job: WalkJob,
  fs: Pick<typeof fsModule, "readdirSync" | "lstatSync" | "statSync" | "openSync" | "readlinkSync" | "closeSync">,
  openExactly: OpenExactly,
): WalkAnswer {
  const hidden = new RegExp(job.hidden);
  const { procFd } = job;
  const answer: WalkAnswer = { files: [], fileStats: new Float64Array(0), links: [], pending: [], retry: [] };
  const { files, links, retry } = answer;
  // Only through a pinned directory: never a size or time from where a swapped-in link leads.
  const statNames = job.statNames === null || procFd === "" ? null : new RegExp(job.statNames);
  const fileStats: number[] = [];
  // Directories to read, and the descriptor of the one each was found in (-1: one of the job's).
  const pending = [...job.dirs].reverse();
  const parents = pending.map(() => -1);
  // Open descriptors, by how many directories found in each are still to be opened through it.
  const unopened = new Map<number, number>();
  const opened = (parent: number) => {
    const left = (unopened.get(parent) ?? 1) - 1;
    if (left > 0) unopened.set(parent, left);
    else {
      unopened.delete(parent);
      fs.closeSync(parent);
    }
  };
  let read = 0;
  try {
    while (pending.length > 0 && read < job.budget) {
      const dir = pending.pop() as string;
      const parent = parents.pop() as number;
      let fd = -1;
      let entries: fsModule.Dirent[];
      try {
        if (procFd !== "") {
          try {
            fd =
              parent === -1
                ? openExactly(dir, procFd, job.dirFlags, fs)
                : fs.openSync(`${procFd}/${parent}/${dir.slice(dir.lastIndexOf("/") + 1)}`, job.dirFlags);
          } finally {
            if (parent !== -1) opened(parent);
          }
          // Not the directory the walk found there any more: nothing of it is read.
          if (fd === -1) continue;
          unopened.set(fd, 0);
        }
        entries = fs.readdirSync(fd === -1 ? dir : `${procFd}/${fd}`, { withFileTypes: true });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === "EMFILE" || code === "ENFILE" || code === "EAGAIN" || code === "EBUSY") retry.push(dir);
        if (fd !== -1) opened(fd);
        continue;
      }
      // Where the entries are stat'ed: through the descriptor when there is one.
      const at = fd === -1 ? (dir === "/" ? "" : dir) : `${procFd}/${fd}`;
      let below = 0;
      read += entries.length + 1;
      for (const entry of entries) {
        if (hidden.test(entry.name)) continue;
        const host = dir === "/" ? `/${entry.name}` : `${dir}/${entry.name}`;
        let kind = entry.isFile() ? 1 : entry.isDirectory() ? 2 : entry.isSymbolicLink() ? 3 : 0;
        if (kind === 0 && !(entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice())) {
          try {
            const stats = fs.lstatSync(`${at}/${entry.name}`);
            kind = stats.isFile() ? 1 : stats.isDirectory() ? 2 : stats.isSymbolicLink() ? 3 : 0;
          } catch {
            kind = 0;
          }
        }
        if (kind === 1 && !job.linksOnly) {
          if (statNames?.test(entry.name)) {
            let stats: fsModule.Stats | undefined;
            try {
              stats = fs.lstatSync(`${at}/${entry.name}`, { throwIfNoEntry: false });
            } catch {
              stats = undefined;
            }
            // Gone since readdir, unreadable, or no longer a regular file: not a file of the walk.
            if (!stats?.isFile()) continue;
            fileStats.push(stats.size, stats.mtime.getTime());
          } else if (statNames) fileStats.push(Number.NaN, Number.NaN);
          files.push(host);
        } else if (kind === 2) {
          pending.push(host);
          parents.push(fd);
          below++;
        } else if (kind === 3) {
          // Only a link to a regular file can be a file of the walk (the caller checks it fully: its
          // real path inside the root); links to directories, dangling or to anything else are dropped
          // here, off the caller's thread (a package store holds thousands of directory links).
          try {
            if (fs.statSync(`${at}/${entry.name}`).isFile()) links.push(host);
          } catch {
            // Dangling, looping or unreadable: no file.
          }
        }
      }
      if (fd !== -1) {
        if (below > 0) unopened.set(fd, below);
        else opened(fd);
      }
    }
  } finally {
    for (const fd of unopened.keys()) fs.closeSync(fd);
  }
  // Handed back by host path: the next job opens them and checks them like its own.
  answer.pending = pending;
  answer.fileStats = Float64Array.from(fileStats);
  return answer;
}
