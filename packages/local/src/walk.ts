import { type Dirent, lstatSync, readdirSync, type Stats, statSync } from "node:fs";
import { lstat, realpath, stat } from "node:fs/promises";
import { isInternalTempName } from "@deepfs/core";
import type { DriverEntry } from "@deepfs/core/kit";
import pLimit from "p-limit";
import { retrying } from "./errors.js";
import { grepWorkers } from "./grep-pool.js";
import { type WalkAnswer, type WalkJob, walkDirs } from "./grep-worker.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";

/** A regular file found by {@link walkFiles}. */
export interface WalkedFile {
  /** Virtual path. */
  path: string;
  /** Where to read it: the file itself, or the real path of the file a symlink points to. */
  host: string;
}

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
  /** Only the symlinked files (for ripgrep, which reports the regular ones itself). */
  linksOnly?: boolean;
  /**
   * How directories are read: with blocking calls (paced, so the event loop still gets a turn
   * every ~10 ms) when the backend reads small files that way, else through the threadpool.
   */
  io?: IoMode;
}

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

/** {@link walkFiles} on this thread: blocking calls (paced) or the threadpool, as `io` says. */
async function walkHere(host: string, path: string, options: WalkOptions, add: (file: WalkedFile) => void) {
  const { keep = () => true, linkedFile, linksOnly = false, io = IoMode.threadpool } = options;
  const limit = pLimit(WALK_CONCURRENCY);
  const fsCalls = io.metadata;
  const visit = async (dirHost: string, dirPath: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await limit(async () => {
        await io.pace();
        return retrying(() => fsCalls.readdir(dirHost));
      });
    } catch {
      return;
    }
    const below: Array<Promise<void>> = [];
    for (const entry of entries) {
      if (!isVisibleName(entry.name)) continue;
      const hostOf = () => (dirHost === "/" ? `/${entry.name}` : `${dirHost}/${entry.name}`);
      const childPath = dirPath === "/" ? `/${entry.name}` : `${dirPath}/${entry.name}`;
      // Only an entry whose type readdir did not give costs a wait (an lstat).
      const kind = direntKind(entry) ?? (await entryKind(entry, hostOf()));
      if (kind === "file") {
        if (!linksOnly && keep(childPath)) add({ path: childPath, host: hostOf() });
      } else if (kind === "directory") {
        below.push(visit(hostOf(), childPath));
      } else if (kind === "symlink" && linkedFile && keep(childPath)) {
        const target = await linkedFile(hostOf());
        if (target !== null) add({ path: childPath, host: target });
      }
    }
    await Promise.all(below);
  };
  await visit(host, path);
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
  const { keep = () => true, linkedFile, linksOnly = false } = options;
  const job = (dirs: string[], budget: number): WalkJob => ({
    dirs,
    budget,
    linksOnly,
    hidden: UNADDRESSABLE_NAME.source,
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
    for (const found of answer.files) {
      const filePath = pathOf(found);
      if (keep(filePath)) add({ path: filePath, host: found });
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
  const first = walkDirs(job([host], walkBudgets.first), readdirCalls);
  const queue = first.pending;
  await take(first);
  const inFlight = workers.size * 2;
  let running = 0;
  let failure: unknown;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (queue.length > 0 && running < inFlight && failure === undefined) {
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
            if (running === 0 && (queue.length === 0 || failure !== undefined)) resolve();
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
const readdirCalls = { readdirSync, lstatSync, statSync };

/** Metadata lookups in flight at once for a listing or a glob. */
export const STAT_CONCURRENCY = 32;

/**
 * The listing entries of walked files (their size and time), those still there: with blocking
 * calls one after another (paced) when the backend makes metadata calls that way, else through
 * the threadpool, {@link STAT_CONCURRENCY} at once.
 */
export async function fileEntries(files: WalkedFile[], io: IoMode = IoMode.threadpool): Promise<DriverEntry[]> {
  if (io.syncMaxBytes > 0) {
    const entries: DriverEntry[] = [];
    for (const file of files) {
      const turn = io.pace();
      if (turn) await turn;
      let stats: Stats | undefined;
      try {
        stats = lstatSync(file.host, { throwIfNoEntry: false });
      } catch {
        // Unreadable or turned into something else since the walk: not listed, as below.
      }
      if (stats)
        entries.push({ path: file.path, kind: "file", size: stats.size, modifiedAt: stats.mtime.toISOString() });
    }
    return entries;
  }
  const limit = pLimit(STAT_CONCURRENCY);
  const entries = await Promise.all(files.map((file) => limit(() => fileEntry(file.host, file.path))));
  return entries.filter((entry): entry is DriverEntry => entry !== null);
}

/** Files per batch whose sizes and times a worker looks up; a smaller remainder is looked up here. */
const STAT_BATCH = 512;

/** Worker threads that look up sizes and times (`GrepWorkerPool.stat`). */
export interface StatWorkers {
  stat(hosts: string[]): Promise<Float64Array | null>;
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
  if (!workers) return fileEntries(await walkFiles(host, path, options), options.io);
  const parts: Array<Promise<DriverEntry[]>> = [];
  let batch: WalkedFile[] = [];
  const send = (files: WalkedFile[]) => {
    const part = statBatch(workers, files, options.io);
    // Awaited after the walk: until then a failure must not count as unhandled.
    part.catch(() => {});
    parts.push(part);
  };
  const found = (file: WalkedFile) => {
    batch.push(file);
    if (batch.length < STAT_BATCH) return;
    send(batch);
    batch = [];
  };
  await walkFiles(host, path, { ...options, found });
  parts.push(fileEntries(batch, options.io));
  return (await Promise.all(parts)).flat();
}

async function statBatch(workers: StatWorkers, files: WalkedFile[], io: IoMode | undefined): Promise<DriverEntry[]> {
  const stats = await workers.stat(files.map((file) => file.host));
  if (!stats) return fileEntries(files, io);
  const entries: DriverEntry[] = [];
  for (const [i, file] of files.entries()) {
    const size = stats[2 * i] as number;
    // Gone or unreadable since the walk: not listed, as by fileEntries.
    if (Number.isNaN(size)) continue;
    entries.push({
      path: file.path,
      kind: "file",
      size,
      modifiedAt: new Date(stats[2 * i + 1] as number).toISOString(),
    });
  }
  return entries;
}

/**
 * One `ls` entry of the host directory entry `entry` at `host` (virtual path `path`); symlinks are
 * shown as what they point to when that stays inside the root, and not at all otherwise.
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
    const target = await stat(real);
    if (target.isDirectory()) return { path, kind: "directory" };
    return target.isFile() ? { path, kind: "file", size: target.size, modifiedAt: target.mtime.toISOString() } : null;
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
