import { type Dirent, lstatSync, type Stats } from "node:fs";
import { lstat, realpath, stat } from "node:fs/promises";
import { isInternalTempName } from "@deepfs/core";
import type { DriverEntry } from "@deepfs/core/kit";
import pLimit from "p-limit";
import { retrying } from "./errors.js";
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
  /** Prunes directories by virtual path. */
  descend?: (dirPath: string) => boolean;
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
  const { descend = () => true, keep = () => true, linkedFile, linksOnly = false, io = IoMode.threadpool } = options;
  const files: WalkedFile[] = [];
  const add = options.found ?? ((file: WalkedFile) => files.push(file));
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
        if (descend(childPath)) below.push(visit(hostOf(), childPath));
      } else if (kind === "symlink" && linkedFile && keep(childPath)) {
        const target = await linkedFile(hostOf());
        if (target !== null) add({ path: childPath, host: target });
      }
    }
    await Promise.all(below);
  };
  await visit(host, path);
  return files;
}

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
