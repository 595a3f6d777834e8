import { closeSync, type Dirent, lstatSync, openSync, readdirSync, readlinkSync, type Stats, statSync } from "node:fs";
import { lstat } from "node:fs/promises";
import { isInternalTempName } from "@deepfs/core";
import pLimit from "p-limit";
import {
  childPath,
  DIRECTORY_FLAGS,
  openDirectoryExactly,
  openDirectoryExactlySync,
  type PinnedDirectory,
  PROC_FD_DIR,
} from "./descriptors.js";
import { retrying } from "./errors.js";
import { grepWorkers } from "./grep-pool.js";
import { IoMode } from "./io-mode.js";
import { type WalkAnswer, type WalkJob, walkDirs } from "./walk-worker.js";

/** A regular file found by {@link walkFiles}. */
export interface WalkedFile {
  /** Virtual path. */
  path: string;
  /** Where to read it: the file itself, or the real path of the file a symlink points to. */
  host: string;
  /** Its size and time, when the walk looked them up through its pinned directory ({@link WalkOptions.stat}). */
  stats?: FileTimes;
}

/** What a listing answers of a file: its size and modification time. */
export type FileTimes = Pick<Stats, "size" | "mtime">;

/** How {@link walkFiles} treats what it finds. */
export interface WalkOptions {
  /**
   * The real host path of the regular file the symlink `host` points to, or null to skip it
   * (dangling, outside the root, not a regular file). Without it, symlinks are skipped.
   */
  linkedFile?: (host: string) => Promise<string | null>;
  /** Keeps files (and links to files) by virtual path, before a link is resolved. Default: all. */
  keep?: (filePath: string) => boolean;
  /** Called with each file as it is found (then the answer is empty), so work can start during the walk. */
  found?: (file: WalkedFile) => void;
  /** Ends the walk early (grep: its answer passed its bounds): no further directory is read. */
  signal?: AbortSignal;
  /** Only the symlinked files (for ripgrep, which reports the regular ones itself). */
  linksOnly?: boolean;
  /**
   * How directories are read: with blocking calls (paced, so the event loop still gets a turn
   * every ~10 ms) when the backend reads small files that way, else through the threadpool.
   */
  io?: IoMode;
  /**
   * Read directories by host path, without pinning them (grep: it reads every file through a
   * descriptor checked to lie inside the root, and names only files whose bytes matched, so a
   * directory swapped for a symlink mid-walk yields nothing from outside either way; two system
   * calls per directory saved). Listings (glob, walk) never set it: they answer names and sizes.
   */
  byPath?: boolean;
  /**
   * Look up the size and time of each kept regular file while its directory is pinned for the
   * walk (`stats`): on this thread every kept file; on the workers, those whose name `statNames`
   * matches (they cannot run `keep`; a hint of what it keeps, see `statNamesHint`), the others
   * are left to {@link fileEntries}.
   */
  stat?: boolean;
  statNames?: RegExp;
}

/**
 * The names of the files a glob of `pattern` can keep, as a pattern the workers can test (they
 * cannot run the core matcher): every name when the pattern's last segment is `*` or `**`, the
 * names that end with its literal rest when it is `*` and a literal (`*.ts`, `*.test.ts`), else
 * none (undefined). Only a hint of which files to stat during the walk (see
 * {@link WalkOptions.statNames}): the core matcher still decides every file.
 */
export function statNamesHint(pattern: string): RegExp | undefined {
  const last = pattern.slice(pattern.lastIndexOf("/") + 1);
  if (last === "*" || last === "**") return EVERY_NAME;
  const suffix = /^\*([^*?[\]{}()!+@\\]+)$/.exec(last)?.[1];
  return suffix === undefined ? undefined : new RegExp(`${suffix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}

const EVERY_NAME = /(?:)/;

/** Directories read at once: enough to hide latency, far below any open-file limit. */
const WALK_CONCURRENCY = 16;

/** Metadata lookups in flight at once for a listing or a glob. */
export const STAT_CONCURRENCY = 32;

// Names that no virtual path can address (checkPath refuses them): never surfaced.
const UNADDRESSABLE_NAME = /[\u0000-\u001f\u007f\\]/;

/**
 * True for directory entries that listings show: a name a virtual path can address. That leaves
 * out the internal temp files (core's `internalTempName`, which contain a backslash) and nothing a
 * user could name.
 */
export function isVisibleName(name: string): boolean {
  return !isInternalTempName(name) && !UNADDRESSABLE_NAME.test(name);
}

type EntryKind = "file" | "directory" | "symlink" | "other";

/** The kind of a directory entry as readdir gave it, or undefined when the filesystem did not say. */
function direntKind(entry: Dirent): EntryKind | undefined {
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "directory";
  if (entry.isSymbolicLink()) return "symlink";
  if (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()) return "other";
  return undefined;
}

/** The kind of a directory entry, asking the filesystem when readdir could not tell. */
export async function entryKind(entry: Dirent, host: string): Promise<EntryKind> {
  const known = direntKind(entry);
  if (known !== undefined) return known;
  try {
    const stats = await lstat(host);
    if (stats.isFile()) return "file";
    if (stats.isDirectory()) return "directory";
    return stats.isSymbolicLink() ? "symlink" : "other";
  } catch {
    return "other";
  }
}

/**
 * Every regular file below the host directory `host` (virtual path `path`), in no particular order,
 * and the symlinks to regular files that `linkedFile` accepts (listed under the link's own path).
 * Symlinks to directories are never descended into (so loops cannot occur and nothing outside is
 * reached); unreadable directories are skipped.
 */
export async function walkFiles(host: string, path: string, options: WalkOptions = {}): Promise<WalkedFile[]> {
  const files: WalkedFile[] = [];
  const add = options.found ?? ((file: WalkedFile) => files.push(file));
  const io = options.io ?? IoMode.threadpool;
  // With blocking calls allowed, the worker threads read the directories of a large tree.
  const workers = io.syncMaxBytes > 0 ? grepWorkers() : undefined;
  if (workers) await walkInWorkers(host, path, options, workers, add);
  else await walkHere(host, path, options, add);
  return files;
}

/**
 * {@link walkFiles} on this thread: blocking calls (paced) or the threadpool, as `io` says. Each
 * directory is read, and the entries readdir gave no type for are stat'ed, through a descriptor
 * checked to be the directory at exactly its host path ({@link openDirectoryExactly}): one swapped
 * for a symlink since its parent was read is skipped, never read where the link leads.
 */
async function walkHere(host: string, path: string, options: WalkOptions, add: (file: WalkedFile) => void) {
  const { keep = () => true, linkedFile, linksOnly = false, io = IoMode.threadpool, byPath = false } = options;
  const limit = pLimit(WALK_CONCURRENCY);
  const fsCalls = io.metadata;
  const virtualOf = (dirPath: string, name: string) => (dirPath === "/" ? `/${name}` : `${dirPath}/${name}`);
  const read = async (dirHost: string, dirPath: string) => {
    await io.pace();
    const dir = byPath ? unpinned(dirHost) : await openDirectoryExactly(dirHost, fsCalls);
    if (!dir) return [];
    try {
      const entries = await retrying(() => fsCalls.readdir(dir.path));
      const listed: Array<{ name: string; kind: EntryKind; stats?: Stats | null }> = [];
      const toStat: typeof listed = [];
      // Only an entry whose type readdir did not give costs a wait (an lstat), while the directory is held.
      for (const entry of entries) {
        const kind = direntKind(entry) ?? (await entryKind(entry, childPath(dir.path, entry.name)));
        const item: (typeof listed)[number] = { name: entry.name, kind };
        listed.push(item);
        if (options.stat && kind === "file" && !linksOnly && keep(virtualOf(dirPath, entry.name))) toStat.push(item);
      }
      // The kept files' sizes and times, through the directory held, STAT_CONCURRENCY at a time.
      for (let i = 0; i < toStat.length; i += STAT_CONCURRENCY) {
        await Promise.all(
          toStat.slice(i, i + STAT_CONCURRENCY).map(async (item) => {
            item.stats = await Promise.resolve(fsCalls.lstat(childPath(dir.path, item.name))).catch(() => null);
          }),
        );
      }
      return listed;
    } finally {
      await dir.close();
    }
  };
  const visit = async (dirHost: string, dirPath: string): Promise<void> => {
    let entries: Awaited<ReturnType<typeof read>>;
    try {
      entries = await limit(() => (options.signal?.aborted ? [] : read(dirHost, dirPath)));
    } catch {
      return;
    }
    const below: Array<Promise<void>> = [];
    for (const { name, kind, stats } of entries) {
      if (!isVisibleName(name)) continue;
      const hostOf = () => childPath(dirHost, name);
      const virtualPath = virtualOf(dirPath, name);
      if (kind === "file") {
        // Looked up and gone since: not listed (as by fileEntries).
        if (stats === null) continue;
        if (!linksOnly && keep(virtualPath))
          add(stats ? { path: virtualPath, host: hostOf(), stats } : { path: virtualPath, host: hostOf() });
      } else if (kind === "directory") {
        below.push(visit(hostOf(), virtualPath));
      } else if (kind === "symlink" && linkedFile && keep(virtualPath)) {
        // By host path: the link's real path is checked to lie inside the root before it counts.
        const target = await linkedFile(hostOf());
        if (target !== null) add({ path: virtualPath, host: target });
      }
    }
    await Promise.all(below);
  };
  await visit(host, path);
}

/** A directory read by its host path (see {@link WalkOptions.byPath}). */
function unpinned(host: string): PinnedDirectory {
  return { path: host, host, close: () => Promise.resolve() };
}

/** How a walk is shared with the workers (changed only by tests, to reach every path with few files). */
export const walkBudgets = {
  /** Entries read on this thread first: a small tree is walked without a round trip to a worker. */
  first: 1_000,
  /** Entries a worker reads per job before handing back the directories it has not read. */
  job: 4_000,
};

/**
 * {@link walkFiles} with the directories read by the worker threads (blocking calls there, in
 * parallel), a few jobs per worker in flight; this thread filters what they found, resolves the
 * symlinks (`linkedFile`) and hands out the directories they left. The first entries are read
 * here ({@link walkBudgets}). A directory whose read failed transiently, or every directory once the
 * pool fails, is walked here instead (with retries).
 */
async function walkInWorkers(
  host: string,
  path: string,
  options: WalkOptions,
  workers: NonNullable<ReturnType<typeof grepWorkers>>,
  add: (file: WalkedFile) => void,
): Promise<void> {
  const { keep = () => true, linkedFile, linksOnly = false, byPath = false, signal } = options;
  const job = (dirs: string[], budget: number): WalkJob => ({
    dirs,
    budget,
    linksOnly,
    hidden: UNADDRESSABLE_NAME.source,
    procFd: byPath ? "" : PROC_FD_DIR,
    dirFlags: DIRECTORY_FLAGS,
    statNames: options.stat && options.statNames ? options.statNames.source : null,
  });
  const pathOf = (found: string) => {
    const rel = host === "/" ? found : found.slice(host.length);
    return path === "/" ? rel : `${path}${rel}`;
  };
  const here: Array<Promise<void>> = [];
  // Walked here, awaited at the end: until then a failure must not count as unhandled.
  const walkHereLater = (dir: string) => {
    const walked = walkHere(dir, pathOf(dir), options, add);
    walked.catch(() => {});
    here.push(walked);
  };
  const take = async (answer: WalkAnswer) => {
    if (signal?.aborted) return;
    const { files, fileStats } = answer;
    for (const [i, found] of files.entries()) {
      const filePath = pathOf(found);
      if (!keep(filePath)) continue;
      const size = fileStats.length === 0 ? Number.NaN : (fileStats[2 * i] as number);
      if (Number.isNaN(size)) add({ path: filePath, host: found });
      else add({ path: filePath, host: found, stats: { size, mtime: new Date(fileStats[2 * i + 1] as number) } });
    }
    if (answer.retry.length > 0) {
      for (const dir of answer.retry) walkHereLater(dir);
    }
    if (!linkedFile) return;
    for (const link of answer.links) {
      const linkPath = pathOf(link);
      if (!keep(linkPath)) continue;
      const target = await linkedFile(link);
      if (target !== null) add({ path: linkPath, host: target });
    }
  };
  const first = walkDirs(job([host], walkBudgets.first), readdirCalls, openDirectoryExactlySync);
  const queue = first.pending;
  await take(first);
  const inFlight = workers.size * 2;
  let running = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    // Stopped: the jobs in flight are not waited for (their answers are dropped by `take`).
    signal?.addEventListener("abort", () => resolve(), { once: true });
    const pump = () => {
      while (queue.length > 0 && running < inFlight && failure === undefined && !signal?.aborted) {
        // A share of the directories left: every job gets some while the queue is short.
        const dirs = queue.splice(0, Math.ceil(queue.length / inFlight));
        running++;
        workers
          .walk(job(dirs, walkBudgets.job))
          .then(async (answer) => {
            if (answer === null) {
              // The pool failed: these directories are walked here.
              for (const dir of dirs) walkHereLater(dir);
              return;
            }
            queue.push(...answer.pending);
            await take(answer);
          })
          .catch((error: unknown) => {
            failure ??= error;
          })
          .finally(() => {
            running--;
            if (running === 0 && (queue.length === 0 || failure !== undefined || signal?.aborted)) resolve();
            else pump();
          });
      }
      if (running === 0) resolve();
    };
    pump();
  });
  await Promise.all(here);
  if (failure !== undefined) throw failure;
}

/** {@link walkDirs}'s calls on this thread. */
const readdirCalls = { readdirSync, lstatSync, statSync, openSync, readlinkSync, closeSync };
