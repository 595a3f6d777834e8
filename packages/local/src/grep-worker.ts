import type * as fsModule from "node:fs";

/** One batch of files for {@link scanFiles}: host paths in search order and the search. */
export interface ScanJob {
  hosts: string[];
  /** The pattern's UTF-8 bytes: non-empty, from a well-formed string without `\n`. */
  needle: Uint8Array;
  /** Largest file searched, in bytes. */
  maxBytes: number;
  /** Matches kept per file at most (the search keeps `maxCount + 1` in all). */
  limit: number;
  /** The root's real host path; `/` for none. Every opened file must lie inside it. */
  rootBase: string;
  /**
   * The device of the root's filesystem (`st_dev`), NaN when unknown: only a file on it is read
   * before it is asked where it lies (see {@link scanFiles}).
   */
  rootDev: number;
  /** open(2) flags: read-only, no following a final symlink, no blocking on a FIFO. */
  openFlags: number;
}

/**
 * What {@link scanFiles} says of each file: skipped (`null`: gone, not a regular file, outside the
 * root, too large, binary, not UTF-8, or no match), `"retry"` (a transient open error, or a file
 * that reports no size: the caller reads it another way), or the 1-based numbers of its matching
 * lines, whose texts are the next ones of the batch's `text`.
 */
export type FileScan = null | "retry" | number[];

/**
 * The answer for one batch: a scan per file, and the texts of every matching line of the batch in
 * order, as UTF-8 joined by `\n` (a line never holds one), in a buffer of its own (transferable).
 */
export interface BatchScan {
  scans: FileScan[];
  text: Uint8Array;
}

/** What {@link scanFiles} needs, passed in so that its source runs alone in a worker. */
export interface ScanDeps {
  fs: Pick<typeof fsModule, "openSync" | "closeSync" | "fstatSync" | "readSync" | "readlinkSync">;
  isUtf8: (bytes: Uint8Array) => boolean;
  /** Reusable buffers (a file's bytes, the batch's texts), replaced when too small. */
  state: { scratch: Buffer; texts?: Buffer };
}

/**
 * Searches files the way the core matcher (`grepText` over the strictly decoded text) does, on
 * their bytes: a file is searched when it is a regular file inside the root, within `maxBytes`,
 * without NUL and valid UTF-8 as a whole; then every line holding the needle is a match, with
 * its 1-based number and its text (a `\r` kept). For valid UTF-8 this equals the string search:
 * UTF-8 is self-synchronising (byte and string occurrences of a well-formed needle coincide) and
 * lines end at the byte `\n`, so only matching lines are decoded.
 *
 * Each file is opened without following a final symlink, and what was opened is checked through
 * `/proc/self/fd` to lie inside the root before a byte of it is used in an answer: a file on the
 * root's own filesystem is read and searched first and asked only when it would make matches (one
 * without any answers nothing wherever it lies: one system call fewer for most files of a search);
 * a file on another filesystem (procfs, sysfs, a mount) is asked before it is read. Blocking calls:
 * this runs in a worker thread. It must stay self-contained (its source is the worker's code): no
 * reference to anything outside its parameters and the globals of a Node worker.
 */
export function scanFiles(job: ScanJob, deps: ScanDeps): BatchScan {
  const { fs, isUtf8, state } = deps;
  const { needle, rootBase } = job;
  const out: FileScan[] = [];
  let texts = state.texts ?? Buffer.allocUnsafeSlow(64 * 1024);
  let used = 0;
  // The file open as `fd` lies inside the root: what was opened, named through `/proc/self/fd`.
  const liesInside = (fd: number) => {
    if (rootBase === "/") return true;
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    return real === rootBase || real.startsWith(`${rootBase}/`);
  };
  // The searchable bytes of the regular file open as `fd` (in the scratch buffer) and the needle's
  // first hit in them; null when grep skips the file, "retry" when it reports no size (procfs and
  // the like: read to its end another way, which checks it first).
  const scanOpen = (fd: number): { bytes: Buffer; hit: number } | "retry" | null => {
    const stats = fs.fstatSync(fd);
    if (!stats.isFile() || stats.size > job.maxBytes) return null;
    // A file on another filesystem than the root's (procfs, sysfs, a mount) is asked where it lies
    // before anything of it is read; one on the root's own, only once its bytes would make matches.
    const askFirst = stats.dev !== job.rootDev;
    if (askFirst && !liesInside(fd)) return null;
    if (stats.size === 0) return "retry";
    if (state.scratch.length < stats.size) state.scratch = Buffer.allocUnsafeSlow(stats.size * 2);
    let filled = 0;
    while (filled < stats.size) {
      const read = fs.readSync(fd, state.scratch, filled, stats.size - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    const bytes = state.scratch.subarray(0, filled);
    const hit = bytes.indexOf(needle);
    if (hit === -1 || bytes.indexOf(0) !== -1 || !isUtf8(bytes)) return null;
    // A file without any match answers nothing wherever it lies, and most files of a search have
    // none: they skip the question (one system call fewer each; every file, for a rare word).
    if (!askFirst && !liesInside(fd)) return null;
    return { bytes, hit };
  };
  for (const host of job.hosts) {
    let fd: number;
    try {
      fd = fs.openSync(host, job.openFlags);
    } catch (error) {
      const code = (error as { code?: string }).code;
      out.push(code === "EMFILE" || code === "ENFILE" || code === "EAGAIN" || code === "EINTR" ? "retry" : null);
      continue;
    }
    let found: ReturnType<typeof scanOpen>;
    try {
      found = scanOpen(fd);
    } catch {
      found = null;
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        // A read-only descriptor: nothing to lose.
      }
    }
    if (found === null || found === "retry") {
      out.push(found);
      continue;
    }
    const { bytes } = found;
    let { hit } = found;
    const lines: number[] = [];
    let line = 1;
    let counted = 0;
    while (hit !== -1) {
      // The newlines before the hit, each found by indexOf (memchr): about twice as fast as a
      // loop over the bytes in JavaScript on real code.
      for (let nl = bytes.indexOf(10, counted); nl !== -1 && nl < hit; nl = bytes.indexOf(10, nl + 1)) {
        line++;
        counted = nl + 1;
      }
      const newline = bytes.indexOf(10, hit + needle.length);
      const end = newline === -1 ? bytes.length : newline;
      lines.push(line);
      // The line and a separator go to the batch's texts.
      if (texts.length < used + end - counted + 1) {
        const grown = Buffer.allocUnsafeSlow(Math.max(texts.length * 2, used + end - counted + 1));
        texts.copy(grown, 0, 0, used);
        texts = grown;
      }
      if (used > 0) texts[used++] = 10;
      used += bytes.copy(texts, used, counted, end);
      if (lines.length >= job.limit || newline === -1) break;
      line++;
      counted = newline + 1;
      hit = bytes.indexOf(needle, counted);
    }
    out.push(lines);
  }
  // Kept for the next batch unless a batch of long lines made it large.
  state.texts = texts.length <= 16 * 1024 * 1024 ? texts : undefined;
  // A copy in a buffer of its own, which the worker can hand over without copying again.
  const text = new Uint8Array(used);
  text.set(texts.subarray(0, used));
  return { scans: out, text };
}

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
 * like {@link scanFiles}.
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
 * caller's; self-contained like {@link scanFiles}.
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
