import {
  type BackendProtocol,
  baseName,
  type FileInfo,
  isFailure,
  isWithin,
  joinPath,
  parentDir,
  relativeTo,
} from "@deepfs/core";
import { DirectoryNotFoundError, type FileEntry, type ListOptions, NotDirectoryError } from "@mastra/core/workspace";
import { toMastraError } from "./errors.js";

/** What {@link Directories.stat} knows of a path. */
export interface PathStat {
  type: "file" | "directory";
  size: number;
  modifiedAt: Date;
}

/**
 * The directory view of a `DeepfsFilesystem`: deepfs has no `mkdir` (a directory exists when a file
 * exists below it; stores with real directories also report empty ones), so directories made by
 * `mkdir` are kept here, listed and stat'ed as (empty) directories until a file is written below
 * them. They are not persisted and other instances do not see them.
 */
export class Directories {
  private readonly backend: BackendProtocol;
  /** Directories made by `mkdir` that may have no file below them yet, with their creation time. */
  private readonly made = new Map<string, Date>();

  constructor(backend: BackendProtocol) {
    this.backend = backend;
  }

  /** Type, size and mtime of `p`, from its parent's listing (or a directory made by `mkdir`); null if absent. */
  async stat(p: string): Promise<PathStat | null> {
    if (p === "/") return { type: "directory", size: 0, modifiedAt: new Date(0) };
    const listed = await this.backend.ls(parentDir(p));
    if (isFailure(listed)) {
      if (listed.code === "not_a_directory" || listed.code === "file_not_found") return null;
      throw toMastraError(listed, p, "stat");
    }
    const entry = (listed.files ?? []).find((f) => f.path === p || f.path === `${p}/`);
    if (entry) return statOf(entry);
    const made = this.made.get(p);
    return made ? { type: "directory", size: 0, modifiedAt: made } : null;
  }

  /** Refuses `p` (written `path` by the caller) unless its parent is an existing directory. */
  async assertParentDirectory(p: string, path: string): Promise<void> {
    const parent = parentDir(p);
    if (parent === "/") return;
    const stat = await this.stat(parent);
    if (!stat) throw new DirectoryNotFoundError(parentDir(path.startsWith("/") ? path : `/${path}`));
    if (stat.type !== "directory") throw new NotDirectoryError(parent);
  }

  /** Records `p` and its ancestors as directories made now by `mkdir`. */
  record(p: string): void {
    const now = new Date();
    for (let dir = p; dir !== "/"; dir = parentDir(dir)) {
      if (!this.made.has(dir)) this.made.set(dir, now);
    }
  }

  /** Records, below `to`, the directories made by `mkdir` below `from` (and `from` itself): a copied tree. */
  recordCopy(from: string, to: string): void {
    const now = new Date();
    for (const dir of [from, ...this.made.keys()]) {
      if (isWithin(dir, from)) this.made.set(joinPath(to, relativeTo(dir, from)), now);
    }
  }

  /** Forgets `p` and every directory made by `mkdir` below it. */
  forget(p: string): void {
    for (const dir of [...this.made.keys()]) if (isWithin(dir, p)) this.made.delete(dir);
  }

  /** True when the store itself has `p` (a file, or a directory with files or a real one). */
  async hasStoredEntries(p: string): Promise<boolean> {
    const listed = await this.backend.ls(parentDir(p));
    return !isFailure(listed) && (listed.files ?? []).some((f) => f.path === p || f.path === `${p}/`);
  }

  /** Direct children of directory `p`: the store's, plus directories made by `mkdir` not yet in it. */
  async children(p: string, path: string): Promise<FileEntry[]> {
    const listed = await this.backend.ls(p);
    if (isFailure(listed)) throw toMastraError(listed, path, "list");
    const entries: FileEntry[] = [];
    const names = new Set<string>();
    for (const info of listed.files ?? []) {
      const name = baseName(info.is_dir ? info.path.replace(/\/$/, "") : info.path);
      names.add(name);
      entries.push(info.is_dir ? { name, type: "directory" } : { name, type: "file", size: info.size ?? 0 });
    }
    for (const dir of this.made.keys()) {
      if (dir === p || parentDir(dir) !== p) continue;
      const name = baseName(dir);
      if (!names.has(name)) entries.push({ name, type: "directory" });
    }
    return entries;
  }

  /** The entries below directory `p`, as `readdir` answers them, `depth` levels down at most. */
  async tree(p: string, path: string, options: ListOptions | undefined, depth: number): Promise<FileEntry[]> {
    const extensions = options?.extension === undefined ? null : [options.extension].flat();
    const result: FileEntry[] = [];
    for (const entry of await this.children(p, path)) {
      if (entry.type === "file" && extensions && !extensions.some((e) => matchesExtension(entry.name, e))) continue;
      result.push(entry);
      if (options?.recursive && entry.type === "directory" && depth > 0) {
        const below = await this.tree(joinPath(p, entry.name), path, options, depth - 1);
        for (const child of below) result.push({ ...child, name: `${entry.name}/${child.name}` });
      }
    }
    return result;
  }
}

function matchesExtension(name: string, extension: string): boolean {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return false;
  const ext = name.slice(dot);
  return extension === ext || extension === ext.slice(1);
}

function statOf(entry: FileInfo): PathStat {
  const modifiedAt = entry.modified_at ? new Date(entry.modified_at) : new Date(0);
  return entry.is_dir
    ? { type: "directory", size: 0, modifiedAt }
    : { type: "file", size: entry.size ?? 0, modifiedAt };
}
