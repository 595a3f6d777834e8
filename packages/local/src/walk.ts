import type { Dirent } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import pLimit from "p-limit";
import { withRetry } from "./errors.js";
import { TEMP_NAME } from "./file-io.js";

/** A regular file found by {@link walkFiles}. */
export interface WalkedFile {
  /** Virtual path. */
  path: string;
  host: string;
}

/** Directories read at once: enough to hide latency, far below any open-file limit. */
const WALK_CONCURRENCY = 16;
// Names that no virtual path can address (checkPath refuses them): never surfaced.
const UNADDRESSABLE_NAME = /[\u0000-\u001f\u007f\\]/;

/** True for directory entries that listings show: not an in-flight temp file, addressable by a virtual path. */
export function isVisibleName(name: string): boolean {
  return !TEMP_NAME.test(name) && !UNADDRESSABLE_NAME.test(name);
}

/** The kind of a directory entry, asking the filesystem when readdir could not tell. */
export async function entryKind(entry: Dirent, host: string): Promise<"file" | "directory" | "symlink" | "other"> {
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "directory";
  if (entry.isSymbolicLink()) return "symlink";
  if (entry.isFIFO() || entry.isSocket() || entry.isCharacterDevice() || entry.isBlockDevice()) return "other";
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
 * Every regular file below the host directory `host` (virtual path `path`), in no particular order.
 * Symlinks are never followed (so loops cannot occur and nothing outside is reached); unreadable
 * directories are skipped. `descend` may prune directories by virtual path.
 */
export async function walkFiles(
  host: string,
  path: string,
  descend: (dirPath: string) => boolean = () => true,
): Promise<WalkedFile[]> {
  const files: WalkedFile[] = [];
  const limit = pLimit(WALK_CONCURRENCY);
  const visit = async (dirHost: string, dirPath: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await limit(() => withRetry(() => readdir(dirHost, { withFileTypes: true })));
    } catch {
      return;
    }
    const below: Array<Promise<void>> = [];
    for (const entry of entries) {
      if (!isVisibleName(entry.name)) continue;
      const childHost = dirHost === "/" ? `/${entry.name}` : `${dirHost}/${entry.name}`;
      const childPath = dirPath === "/" ? `/${entry.name}` : `${dirPath}/${entry.name}`;
      const kind = await entryKind(entry, childHost);
      if (kind === "file") files.push({ path: childPath, host: childHost });
      else if (kind === "directory" && descend(childPath)) below.push(visit(childHost, childPath));
    }
    await Promise.all(below);
  };
  await visit(host, path);
  return files;
}
