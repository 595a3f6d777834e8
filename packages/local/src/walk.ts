import { closeSync, type Dirent, lstatSync, openSync, readdirSync, readlinkSync, type Stats, statSync } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { isInternalTempName } from "@deepfs/core";
import type { DriverEntry } from "@deepfs/core/kit";
import pLimit from "p-limit";
import {
  childPath,
  DIRECTORY_FLAGS,
  lstatIn,
  openDirectoryExactly,
  openDirectoryExactlySync,
  type PinnedDirectory,
  PROC_FD_DIR,
} from "./descriptors.js";
import { retrying } from "./errors.js";
import { threadpoolFs } from "./fs-calls.js";
import { grepWorkers } from "./grep-pool.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import { type StatJob, type WalkAnswer, type WalkJob, walkDirs } from "./walk-worker.js";

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
type FileTimes = Pick<Stats, "size" | "mtime">;

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

/** Metadata lookups in flight at once for a listing or a glob. */
export const STAT_CONCURRENCY = 32;

/**
 * The listing entries of walked files (their size and time), those still there: with blocking
 * calls one after another (paced) when the backend makes metadata calls that way, else through
 * the threadpool, {@link STAT_CONCURRENCY} at once. The files of each directory are stat'ed
 * through a descriptor checked to be the directory at exactly its host path ({@link lstatIn}), so
 * a directory swapped for a symlink since the walk gives no size or time from where it leads.
 */
export async function fileEntries(files: WalkedFile[], io: IoMode = IoMode.threadpool): Promise<DriverEntry[]> {
  const entries: DriverEntry[] = [];
  const add = (file: WalkedFile, found: FileTimes | null | undefined) => {
    // Gone, unreadable, or turned into something else since the walk: not listed.
    if (found) entries.push({ path: file.path, kind: "file", size: found.size, modifiedAt: found.mtime.toISOString() });
  };
  for (const file of files) if (file.stats) add(file, file.stats);
  const runs = runsByDirectory(files.filter((file) => !file.stats));
  const namesOf = (run: (typeof runs)[number]) => run.files.map((file) => basename(file.host));
  let stats: Array<Array<Stats | null>>;
  if (io.syncMaxBytes > 0) {
    // One directory after another: one descriptor open at a time.
    stats = [];
    const turns = paced(io);
    for (const run of runs) stats.push(await lstatIn(run.dir, namesOf(run), io.metadata, turns));
  } else {
    const statLimit = pLimit(STAT_CONCURRENCY);
    // Directories open at once: each holds a descriptor while its files are stat'ed.
    const dirLimit = pLimit(STAT_CONCURRENCY);
    stats = await Promise.all(
      runs.map((run) => dirLimit(() => lstatIn(run.dir, namesOf(run), threadpoolFs, statLimit))),
    );
  }
  for (const [r, run] of runs.entries()) for (const [i, file] of run.files.entries()) add(file, stats[r]?.[i]);
  return entries;
}

/** Runs of consecutive files in one directory (a walk finds the files of a directory together). */
function runsByDirectory(files: WalkedFile[]): Array<{ dir: string; files: WalkedFile[] }> {
  const runs: Array<{ dir: string; files: WalkedFile[] }> = [];
  let last: { dir: string; files: WalkedFile[] } | undefined;
  for (const file of files) {
    const dir = dirname(file.host);
    if (last?.dir !== dir) {
      last = { dir, files: [] };
      runs.push(last);
    }
    last.files.push(file);
  }
  return runs;
}

/** Runs a call when its turn comes (a p-limit, or {@link paced}). */
type Limit = <T>(call: () => Promise<T>) => Promise<T>;

/** Runs calls one after another, each after the event loop's turn when blocking calls have held it long enough. */
function paced(io: IoMode): Limit {
  return async (call) => {
    const turn = io.pace();
    if (turn) await turn;
    return call();
  };
}

/** Files per batch whose sizes and times a worker looks up; a smaller remainder is looked up here. */
const STAT_BATCH = 512;

/** Worker threads that look up sizes and times (`GrepWorkerPool.stat`). */
export interface StatWorkers {
  stat(job: StatJob): Promise<Float64Array | null>;
}

/**
 * The listing entries of the files a walk finds (see {@link walkFiles}), in walk order. With
 * `workers`, sizes and times are looked up by them in batches while the walk goes on (their
 * blocking calls hold no thread of this loop); without, after the walk, as {@link fileEntries}.
 */
export async function walkEntries(
  host: string,
  path: string,
  options: WalkOptions,
  workers: StatWorkers | undefined,
): Promise<DriverEntry[]> {
  if (!workers) return fileEntries(await walkFiles(host, path, { ...options, stat: true }), options.io);
  const parts: Array<Promise<DriverEntry[]>> = [];
  let batch: WalkedFile[] = [];
  const send = (files: WalkedFile[]) => {
    const part = statBatch(workers, files, options.io);
    // Awaited after the walk: until then a failure must not count as unhandled.
    part.catch(() => {});
    parts.push(part);
  };
  // Looked up by the walk itself, through the directories it held.
  const walked: DriverEntry[] = [];
  const found = (file: WalkedFile) => {
    if (file.stats) {
      const { size, mtime } = file.stats;
      walked.push({ path: file.path, kind: "file", size, modifiedAt: mtime.toISOString() });
      return;
    }
    batch.push(file);
    if (batch.length < STAT_BATCH) return;
    send(batch);
    batch = [];
  };
  await walkFiles(host, path, { ...options, found, stat: true });
  parts.push(fileEntries(batch, options.io));
  return walked.concat(...(await Promise.all(parts)));
}

async function statBatch(workers: StatWorkers, files: WalkedFile[], io: IoMode | undefined): Promise<DriverEntry[]> {
  const hosts = files.map((file) => file.host);
  const stats = await workers.stat({ hosts, procFd: PROC_FD_DIR, dirFlags: DIRECTORY_FLAGS });
  if (!stats) return fileEntries(files, io);
  const entries: DriverEntry[] = [];
  const again: WalkedFile[] = [];
  for (const [i, file] of files.entries()) {
    const size = stats[2 * i] as number;
    // Its directory could not be opened for now (too many open files): looked up again here, with retries.
    if (size === -1) again.push(file);
    // Gone or unreadable since the walk: not listed, as by fileEntries.
    if (Number.isNaN(size) || size === -1) continue;
    entries.push({
      path: file.path,
      kind: "file",
      size,
      modifiedAt: new Date(stats[2 * i + 1] as number).toISOString(),
    });
  }
  return again.length === 0 ? entries : entries.concat(await fileEntries(again, io));
}

/**
 * One `ls` entry of the host directory entry `entry` at `host` (virtual path `path`; `host` is
 * reached through the listed directory's pinned descriptor); symlinks are shown as what they point
 * to when that stays inside the root, and not at all otherwise.
 */
export async function listedEntry(
  host: string,
  path: string,
  entry: Dirent,
  root: HostRoot,
): Promise<DriverEntry | null> {
  const kind = await entryKind(entry, host);
  if (kind === "directory") return { path, kind: "directory" };
  if (kind === "file") return fileEntry(host, path);
  if (kind !== "symlink") return null;
  try {
    const real = await realpath(host);
    if (!root.contains(real)) return null;
    // What the link points to, stat'ed through its directory's checked descriptor: a directory on
    // the way swapped for a symlink since realpath gives nothing from where that leads.
    const [target] = await lstatIn(dirname(real), [basename(real)], threadpoolFs);
    if (target?.isDirectory()) return { path, kind: "directory" };
    return target?.isFile() ? { path, kind: "file", size: target.size, modifiedAt: target.mtime.toISOString() } : null;
  } catch {
    // Dangling or looping links are not shown.
    return null;
  }
}

async function fileEntry(host: string, path: string): Promise<DriverEntry | null> {
  try {
    const stats = await lstat(host);
    return { path, kind: "file", size: stats.size, modifiedAt: stats.mtime.toISOString() };
  } catch {
    return null;
  }
}
