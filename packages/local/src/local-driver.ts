import type { Stats } from "node:fs";
import { basename, dirname } from "node:path";
import {
  contentFromBytes,
  encodeUtf8,
  type GlobQuery,
  type GrepMatch,
  type GrepQuery,
  grepGlobSearchRoot,
  isInternalTempName,
} from "@deepfs/core";
import {
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type Fault,
  FaultError,
  fault,
  isFault,
  type ReadCall,
  type StoreLimits,
  type WriteCall,
} from "@deepfs/core/kit";
import pLimit from "p-limit";
import { childPath, type PinnedDirectory, pinDirectory } from "./descriptors.js";
import { errnoCode, fromNodeError, symlinkNotWritable } from "./errors.js";
import { etagOf } from "./etag.js";
import { readRegularFile, writeFileAtomic } from "./file-io.js";
import { type FsCalls, threadpoolFs } from "./fs-calls.js";
import { grepWorkers } from "./grep-pool.js";
import { type GrepEngines, grepCandidates } from "./grep-search.js";
import type { HistoryHandle } from "./history-handle.js";
import type { HostRoot } from "./host-root.js";
import type { IoMode } from "./io-mode.js";
import { linkedRegularFile } from "./links.js";
import { removeEntries } from "./remove-tree.js";
import { isVisibleName, STAT_CONCURRENCY, statNamesHint, type WalkOptions } from "./walk.js";
import { listedEntry, walkEntries } from "./walk-entries.js";

/** What a {@link LocalDriver} works with; {@link LocalBackend} makes it from its options. */
export interface LocalDriverSettings {
  /** The root directory (`/` in non-virtual mode), which every path must stay inside. */
  root: HostRoot;
  virtualMode: boolean;
  readOnly: boolean;
  /** Largest file a read answers (a download, which asks for the whole file, has no limit). */
  maxBytes: number;
  /** Largest file grep searches. */
  maxGrepBytes: number;
  /** What the facade bounds: edits by the read limit (`maxBytes`), grep's answer (see `GrepLimits`). */
  limits: StoreLimits;
  fsync: boolean;
  io: IoMode;
  grep: GrepEngines;
  /** The version history (`history` option), when on. */
  history?: HistoryHandle;
}

/** Times `ls` locates a directory that turned into something else between locating and opening it. */
const LIST_ATTEMPTS = 3;

/** A file's bytes as read, with what the answers need. */
interface Loaded {
  bytes: Uint8Array;
  stats: Stats;
  etag: string;
}

/** What an edit's read found, for the conditional write that follows it at once. */
interface ReadForRewrite {
  host: string;
  stats: Stats;
  etag: string;
}

/**
 * A directory on disk as a deepfs driver. Every path is resolved below the root again on every
 * call (`HostRoot`), and what is opened is checked on its descriptor (`descriptors.ts`,
 * `file-io.ts`), so a parent swapped for a symlink mid-call yields no byte from outside and writes
 * nothing outside. The facade validates paths and serialises the mutations of each path.
 */
export class LocalDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly root: HostRoot;
  /** Versions of every change (see `local-history.ts` for the order of the steps and what a crash leaves). */
  readonly history?: HistoryHandle;

  /**
   * Creation times of files this process replaced, by host path and inode: an atomic replace makes
   * a new inode (a new birth time), and Node cannot set birth times or extended attributes.
   */
  private readonly createdAt = new Map<string, { ino: number; created: string }>();
  /**
   * The file each edit just read, by path, until the end of the current event-loop turn: the
   * facade's conditional write follows the read without an I/O wait in between (under the path's
   * lock), so it takes the read's location and etag instead of resolving and hashing the file again.
   */
  private readonly readForRewrite = new Map<string, ReadForRewrite>();

  constructor(private readonly settings: LocalDriverSettings) {
    this.root = settings.root;
    if (settings.history) this.history = settings.history;
    this.capabilities = {
      conditionalWrites: true,
      realDirectories: true,
      readOnly: settings.readOnly,
      nativeGrep: true,
      limits: settings.limits,
    };
  }

  /** The file a path names, whichever linked directory it goes through: aliases share one lock. */
  lockKey(path: string): Promise<string> {
    return this.root.identity(path, this.settings.io.metadata);
  }

  async stat(path: string): Promise<DriverStat | Fault> {
    const located = await this.root.locate(path, this.settings.io.metadata);
    if (isFault(located)) return located;
    const stats = located.stats;
    if (!stats) return { kind: "none" };
    if (stats.isDirectory()) return { kind: "directory" };
    return { kind: "file", size: stats.size, modifiedAt: stats.mtime.toISOString() };
  }

  /**
   * A regular file, or a symlink to one inside the root; up to `maxBytes` unless the whole file is
   * asked for (downloads). Before an edit (`toRewrite`) a symlink at the last component is refused,
   * as the write would be.
   */
  async read(path: string, call: ReadCall): Promise<DriverFile | Fault> {
    const io = this.settings.io;
    await io.pace();
    const located = call.toRewrite
      ? await this.root.locate(path, io.metadata, false)
      : await this.root.locateExisting(path, io.metadata);
    if (isFault(located)) return located;
    if (!located.stats) return fault("file_not_found");
    if (located.stats.isSymbolicLink()) return symlinkNotWritable();
    const loaded = await this.load(located.host, call.whole ? Number.POSITIVE_INFINITY : this.settings.maxBytes, io);
    if (isFault(loaded)) return loaded;
    const { bytes, stats, etag } = loaded;
    if (call.toRewrite) this.rememberRead(path, { host: located.host, stats, etag });
    return {
      content: contentFromBytes(path, bytes),
      etag,
      createdAt: this.creationTime(located.host, stats),
      modifiedAt: stats.mtime.toISOString(),
    };
  }

  /**
   * Atomic replace (temp file + rename through the pinned directory), never through a symlink at
   * the last component; `ifMatch` / `ifNoneMatch` are checked first, under the facade's lock.
   */
  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    const justRead = call.ifMatch === undefined ? undefined : this.readForRewrite.get(path);
    this.readForRewrite.delete(path);
    await this.settings.io.pace();
    if (path === "/") return fault("is_directory");
    const bytes = typeof content === "string" ? encodeUtf8(content) : content;
    const io = this.settings.io.forWrite(bytes.byteLength);
    if (justRead) {
      // An edit's write: the read has just located and hashed this file (the pinned directory keeps the rename inside).
      if (justRead.etag !== call.ifMatch) return fault("conflict", { reason: "changed" });
      return this.store(path, justRead.host, bytes, justRead.stats, io, call);
    }
    // The last component as it is: a write never goes through a symlink there.
    const located = await this.root.locate(path, io.metadata, false);
    if (isFault(located)) return located;
    const current = located.stats;
    if (current?.isSymbolicLink()) return symlinkNotWritable();
    if (current?.isDirectory()) return fault("is_directory");
    const previous = current?.isFile() ? current : null;
    const blocked = await this.preconditionFault(located.host, previous, call, io);
    if (blocked) return blocked;
    return this.store(path, located.host, bytes, previous, io, call);
  }

  /**
   * The entries of a directory; a file, or nothing, lists as empty. Read through the pinned
   * directory, and each entry stat'ed through it: a directory swapped for a symlink after it was
   * located is not opened (`O_NOFOLLOW`), and is located again; it lists as what it is then,
   * never as what a link leads to.
   */
  async list(dir: string): Promise<DriverEntry[] | Fault> {
    for (let attempt = 1; ; attempt++) {
      const located = await this.root.locate(dir, threadpoolFs);
      if (isFault(located)) return located;
      if (!located.stats?.isDirectory()) return [];
      let pinned: PinnedDirectory;
      try {
        pinned = await pinDirectory(located.host, this.root, threadpoolFs, false);
      } catch (error) {
        const code = errnoCode(error);
        // No longer the directory it was located as (a symlink or a file now, or gone): again.
        if ((code === "ENOTDIR" || code === "ELOOP" || code === "ENOENT") && attempt < LIST_ATTEMPTS) continue;
        return code === "ENOENT" || code === "ENOTDIR" ? [] : fromNodeError(error);
      }
      try {
        return await this.listPinned(dir, pinned);
      } finally {
        await pinned.close();
      }
    }
  }

  private async listPinned(dir: string, pinned: PinnedDirectory): Promise<DriverEntry[] | Fault> {
    try {
      const entries = await threadpoolFs.readdir(pinned.path);
      const limit = pLimit(STAT_CONCURRENCY);
      const listed = await Promise.all(
        entries
          .filter((entry) => isVisibleName(entry.name))
          .map((entry) =>
            limit(() =>
              listedEntry(childPath(pinned.path, entry.name), joinVirtual(dir, entry.name), entry, this.root),
            ),
          ),
      );
      return listed.filter((entry): entry is DriverEntry => entry !== null);
    } catch (error) {
      // Removed since it was opened: nothing to list, as for a missing directory.
      return errnoCode(error) === "ENOENT" ? [] : fromNodeError(error);
    }
  }

  /** Every file below `dir`: symlinks to files inside the root count, linked directories are not entered. */
  walk(dir: string): AsyncIterable<DriverEntry> {
    return this.filesBelow(dir, dir, () => true, statNamesHint("**"));
  }

  /** Candidates for a glob: the walk of its narrowed search root, filtered before anything is stat'ed. */
  glob(query: GlobQuery): AsyncIterable<DriverEntry> {
    return this.filesBelow(query.root, query.dir, query.matches, statNamesHint(query.pattern));
  }

  /** Unlinks a file or link, or removes a directory tree (never following a link), through the pinned parent. */
  async remove(path: string): Promise<{ path: string } | Fault> {
    if (!this.history) return this.unlink(path);
    const usable = await this.history.usable();
    if (usable) return usable;
    const removed = await this.unlink(path);
    // Then the tombstones, once the files are gone (a crash in between: caught up at the next open);
    // a removal that failed part-way has tombstones for the files it did remove.
    const recorded = await this.history.removed(path, isFault(removed));
    return isFault(removed) ? removed : (recorded ?? removed);
  }

  private async unlink(path: string): Promise<{ path: string } | Fault> {
    const io = this.settings.io;
    const located = await this.root.locate(path, io.metadata, false);
    if (isFault(located)) return located;
    if (!located.stats) return fault("file_not_found");
    if (located.host === this.root.base) return this.clearRoot(path);
    try {
      // Through the pinned parent, so that a parent swapped for a symlink cannot redirect the removal.
      const parent = await pinDirectory(dirname(located.host), this.root, io.metadata, false);
      try {
        const entry = { name: basename(located.host), directory: located.stats.isDirectory() };
        await removeEntries(parent, [entry], this.root, io);
      } finally {
        await parent.close();
      }
      return { path };
    } catch (error) {
      return fromNodeError(error);
    }
  }

  /**
   * ripgrep (or a walk) for candidate files, then the core matcher on each, read through its
   * descriptor; every engine stops and answers `too_large` once the answer passes `query.limits`.
   */
  async grep(query: GrepQuery): Promise<{ matches: GrepMatch[] } | Fault> {
    const searchRoot = grepGlobSearchRoot(query.glob, query.dir);
    const located = await this.locateSearchRoot(searchRoot, query.dir);
    if (isFault(located)) return located;
    if (!located.stats) return { matches: [] };
    const { maxGrepBytes, grep } = this.settings;
    let candidates: Awaited<ReturnType<GrepEngines["candidates"]>>;
    if (located.stats.isFile()) candidates = [{ path: searchRoot, host: located.host }];
    else if (!located.stats.isDirectory()) return { matches: [] };
    else {
      const { io } = this.settings;
      // By path: grep reads each file through a checked descriptor (see `WalkOptions.byPath`).
      const args = [located.host, searchRoot, maxGrepBytes, { ...this.walkOptions(), byPath: true }] as const;
      const whole = await grep.whole(query, ...args, this.root, io);
      if (whole) return whole;
      candidates = await grep.candidates(query.pattern, ...args);
    }
    if (isFault(candidates)) return candidates;
    return grepCandidates(candidates, query, maxGrepBytes, this.root, this.settings.io);
  }

  private async *filesBelow(
    searchRoot: string,
    dir: string,
    keep: (path: string) => boolean,
    statNames: RegExp | undefined,
  ) {
    const located = await this.locateSearchRoot(searchRoot, dir);
    if (isFault(located)) throw new FaultError(located);
    if (!located.stats?.isDirectory()) return;
    // With blocking calls allowed, worker threads look up sizes and times while the walk goes on.
    const workers = this.settings.io.syncMaxBytes > 0 ? grepWorkers() : undefined;
    const options = { ...this.walkOptions(), keep, ...(statNames ? { statNames } : {}) };
    yield* await walkEntries(located.host, searchRoot, options, workers);
  }

  /**
   * Locates the directory a glob or grep walks. When the pattern narrowed it below the caller's
   * directory (`a/b/*` → `dir/a/b`), a file standing where a directory of the pattern would be only
   * means that nothing matches, not that the caller's path is wrong.
   */
  private async locateSearchRoot(searchRoot: string, dir: string) {
    const located = await this.root.locate(searchRoot, threadpoolFs);
    if (isFault(located) && located.fault === "not_a_directory" && searchRoot !== dir) {
      return { path: searchRoot, host: "", stats: null };
    }
    return located;
  }

  /** How glob and grep walk: symlinks to regular files inside the root count as files (see {@link linkedRegularFile}). */
  private walkOptions(): WalkOptions {
    const { io } = this.settings;
    return { linkedFile: (host) => linkedRegularFile(host, this.root, io.metadata), io };
  }

  private async load(host: string, maxBytes: number, io: IoMode): Promise<Loaded | Fault> {
    try {
      const read = await readRegularFile(host, maxBytes, io, this.root);
      switch (read.kind) {
        case "directory":
          return fault("is_directory");
        case "special":
          return fault("invalid_argument", { detail: "not a regular file" });
        case "too_large": {
          const limit = this.settings.maxBytes / 1024 / 1024;
          const detail = `${read.size} bytes, over the ${limit} MiB limit; search it with grep instead`;
          return fault("too_large", { detail });
        }
        default: {
          const bytes = new Uint8Array(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
          return { bytes, stats: read.stats, etag: etagOf(bytes) };
        }
      }
    } catch (error) {
      return fromNodeError(error);
    }
  }

  /** Remembers an edit's read until the end of this event-loop turn (see {@link readForRewrite}). */
  private rememberRead(path: string, read: ReadForRewrite): void {
    this.readForRewrite.set(path, read);
    setImmediate(() => {
      if (this.readForRewrite.get(path) === read) this.readForRewrite.delete(path);
    });
  }

  /** Replaces the file; with history: its object first, its version after (see `local-history.ts`). */
  private async store(
    path: string,
    host: string,
    bytes: Uint8Array,
    previous: Stats | null,
    io: IoMode,
    call: WriteCall,
  ) {
    if (call.signal?.aborted) return fault("aborted");
    const history = this.history;
    const object = history ? await history.keep(bytes) : null;
    if (isFault(object)) return object;
    let written: Stats | null;
    try {
      written = await this.replace(host, bytes, previous, io.forContent(bytes.byteLength));
    } catch (error) {
      return fromNodeError(error);
    }
    const etag = etagOf(bytes);
    if (history && object !== null) {
      const recorded = await history.written(path, call.op ?? "write", { etag, bytes, object, stats: written });
      if (recorded) return recorded;
    }
    return { etag };
  }

  /** The conflict of a conditional write, or null; only `ifMatch` on an existing file reads it. */
  private async preconditionFault(host: string, previous: Stats | null, call: WriteCall, io: IoMode) {
    if (call.ifMatch === undefined && call.ifNoneMatch === undefined) return null;
    if (!previous) return call.ifMatch === undefined ? null : fault("conflict", { reason: "missing" });
    if (call.ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
    const loaded = await this.load(host, Number.POSITIVE_INFINITY, io);
    if (isFault(loaded)) return loaded;
    return loaded.etag === call.ifMatch ? null : fault("conflict", { reason: "changed" });
  }

  /**
   * Atomically replaces (or creates, with missing parents) a file, keeping the mode and creation
   * time of the one it replaces.
   */
  private async replace(host: string, bytes: Uint8Array, previous: Stats | null, fs: FsCalls) {
    const created = previous ? this.creationTime(host, previous) : undefined;
    const { fsync } = this.settings;
    const written = await writeFileAtomic(host, bytes, previous, fsync, fs, this.root, this.history !== undefined);
    if (created !== undefined && written) this.createdAt.set(host, { ino: written.ino, created });
    else this.createdAt.delete(host);
    return written;
  }

  private creationTime(host: string, stats: Stats): string {
    const known = this.createdAt.get(host);
    if (known && known.ino === stats.ino) return known.created;
    return (stats.birthtimeMs > 0 ? stats.birthtime : stats.ctime).toISOString();
  }

  /** `delete("/")`: removes everything inside the root, never the root itself (virtual mode only). */
  private async clearRoot(path: string): Promise<{ path: string } | Fault> {
    if (!this.settings.virtualMode) {
      return fault("permission_denied", { detail: "'/' is never deleted in non-virtual mode" });
    }
    const io = this.settings.io;
    try {
      const base = await pinDirectory(this.root.base, this.root, io.metadata, false);
      try {
        // Everything but the temp files of writes in flight (which no path names and a rename removes).
        const entries = (await io.metadata.readdir(base.path)).filter((entry) => !isInternalTempName(entry.name));
        if (!entries.some((entry) => isVisibleName(entry.name))) return fault("file_not_found");
        const named = entries.map((entry) => ({ name: entry.name, directory: entry.isDirectory() }));
        await removeEntries(base, named, this.root, io);
      } finally {
        await base.close();
      }
      return { path };
    } catch (error) {
      return fromNodeError(error);
    }
  }
}

function joinVirtual(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}
