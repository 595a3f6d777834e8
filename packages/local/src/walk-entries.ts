/**
 * The listing entries (size and time) of the files a walk finds, and of one `ls` entry: looked up
 * through checked directory descriptors, on the threadpool, with paced blocking calls, or by the
 * worker threads while the walk goes on.
 */
import type { Dirent, Stats } from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { DriverEntry } from "@deepfs/core/kit";
import pLimit from "p-limit";
import { DIRECTORY_FLAGS, lstatIn, PROC_FD_DIR } from "./descriptors.js";
import { threadpoolFs } from "./fs-calls.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import { entryKind, type FileTimes, STAT_CONCURRENCY, type WalkedFile, type WalkOptions, walkFiles } from "./walk.js";
import type { StatJob } from "./walk-worker.js";

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
