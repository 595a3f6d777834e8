/**
 * {@link BranchDriver}: a copy-on-write layer over two drivers. Reads fall through to the base;
 * writes land in the upper store and deletes in the upper store and as tombstones, so the base is
 * never changed until a commit. The base etag of every file the branch read or changed is recorded
 * (null: absent in the base), which is what a commit checks before it changes the base.
 */
import type { GlobQuery } from "../glob.js";
import type { GrepQuery } from "../grep.js";
import { KeyedLock } from "../key-lock.js";
import {
  type CallContext,
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type DriverWindow,
  type Fault,
  FaultError,
  fault,
  isFault,
  type ReadCall,
  tightestLimits,
  type WriteCall,
} from "../kit/driver.js";
import { mapLimit } from "../kit/limit.js";
import { DEFAULT_MAX_GREP_FILE_BYTES, grepDriver } from "../kit/search.js";
import { diffableText } from "../line-diff.js";
import { dirPrefix, isWithin, parentDir } from "../paths.js";
import type { GrepMatch } from "../protocol.js";

/** Etag prefixes: the two stores count etags independently, so the branch keeps them apart. */
const FROM_BASE = "b";
const FROM_UPPER = "u";

const NONE: DriverStat = Object.freeze({ kind: "none" });

/** The largest base file a branch keeps as the ancestor of a three-way merge. */
export const MAX_ANCESTOR_BYTES = 1 << 20;

/** Reads and searches of the base in flight at once. */
const CONCURRENCY = 8;

/** A fault that means nothing is at the path (a file where a parent would be counts as nothing). */
export function isAbsent(f: Fault): boolean {
  return f.fault === "file_not_found" || f.fault === "not_a_directory";
}

/** The files below `dir` in `driver` (none when `dir` is missing). */
export async function* filesBelow(driver: Driver, dir: string, call: CallContext): AsyncIterable<DriverEntry> {
  try {
    for await (const entry of driver.walk(dir, call)) if (entry.kind === "file") yield entry;
  } catch (error) {
    if (error instanceof FaultError && isAbsent(error.fault)) return;
    throw error;
  }
}

function tagged<T extends { etag?: string }>(value: T, prefix: string): T {
  return { ...value, etag: `${prefix}${value.etag ?? ""}` };
}

/** The precondition fault of a write against what is there now (etags as the branch shows them). */
function preconditionFault(current: DriverStat, call: WriteCall): Fault | null {
  const etag = current.kind === "file" ? (current.etag ?? "") : undefined;
  if (call.ifNoneMatch === "*" && etag !== undefined) return fault("conflict", { reason: "exists" });
  if (call.ifMatch === undefined) return null;
  if (etag === undefined) return fault("conflict", { reason: "missing" });
  return etag === call.ifMatch ? null : fault("conflict", { reason: "changed" });
}

/** A copy-on-write view of `base` whose changes land in `upper`. */
export class BranchDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  readonly base: Driver;
  readonly upper: Driver;
  /** Tombstones: paths whose base file, or everything below them in the base, the branch deleted. */
  readonly hidden = new Set<string>();
  /** The base etag each file's view or change rests on (null: absent in the base). */
  readonly based = new Map<string, string | null>();
  /** Files the branch wrote or deleted: their `based` etag is frozen until they are committed. */
  readonly changed = new Set<string>();
  /**
   * The base's text of each changed file as of its `based` etag (text files up to
   * {@link MAX_ANCESTOR_BYTES}): the common ancestor of a three-way merge at commit.
   */
  readonly ancestors = new Map<string, string>();
  /**
   * Orders the branch's own writes and deletes against commit and discard (the facade already
   * orders them against each other, per path).
   */
  readonly lock = new KeyedLock();
  /** This driver without its grep: the walking search over the merged view. */
  private readonly walker: Driver;

  constructor(base: Driver, upper: Driver) {
    this.base = base;
    this.upper = upper;
    this.capabilities = {
      // Checked by the branch itself, under its lock, against the merged view.
      conditionalWrites: true,
      realDirectories: base.capabilities.realDirectories || upper.capabilities.realDirectories,
      readOnly: upper.capabilities.readOnly,
      nativeGrep: base.capabilities.nativeGrep ?? typeof base.grep === "function",
    };
    const limits = tightestLimits([base.capabilities.limits, upper.capabilities.limits]);
    if (limits) this.capabilities.limits = limits;
    this.walker = {
      capabilities: this.capabilities,
      stat: (path, call) => this.stat(path, call),
      read: (path, call) => this.read(path, call),
      write: (path, content, call) => this.write(path, content, call),
      list: (dir, call) => this.list(dir, call),
      walk: (dir, call) => this.walk(dir, call),
      remove: (path, call) => this.remove(path, call),
    };
  }

  /** True when the branch deleted `path` or a directory above it (the base is hidden there). */
  isHidden(path: string): boolean {
    if (this.hidden.size === 0) return false;
    for (let p = path; ; p = parentDir(p)) {
      if (this.hidden.has(p)) return true;
      if (p === "/") return false;
    }
  }

  async stat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    const upper = await this.upperStat(path, call);
    if (isFault(upper) || upper.kind === "directory") return upper;
    return upper.kind === "file" ? tagged(upper, FROM_UPPER) : this.baseStat(path, call);
  }

  async read(path: string, call: ReadCall): Promise<DriverFile | DriverWindow | Fault> {
    const upper = await this.upper.read(path, call);
    if (!isFault(upper)) return tagged(upper, FROM_UPPER);
    if (!isAbsent(upper)) return upper;
    if (this.isHidden(path)) return fault("file_not_found");
    const got = await this.base.read(path, call);
    if (!isFault(got)) {
      this.saw(path, got.etag);
      return tagged(got, FROM_BASE);
    }
    if (isAbsent(got)) return fault("file_not_found");
    if (got.fault === "is_directory" && !(await this.baseDirShown(path, call))) return fault("file_not_found");
    return got;
  }

  write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    return this.lock.runScoped({ keys: [path] }, () => this.writeHeld(path, content, call));
  }

  async list(dir: string, call: CallContext): Promise<DriverEntry[] | Fault> {
    const upper = await this.upper.list(dir, call);
    if (isFault(upper) && !isAbsent(upper)) return upper;
    let base: DriverEntry[] = [];
    if (!this.isHidden(dir)) {
      const got = await this.base.list(dir, call);
      if (isFault(got) && !isAbsent(got)) return got;
      if (!isFault(got)) base = got;
    }
    const key = (e: DriverEntry) => (e.kind === "directory" ? `${e.path}/` : e.path);
    const byKey = new Map<string, DriverEntry>();
    for (const entry of isFault(upper) ? [] : upper) byKey.set(key(entry), entry);
    for (const entry of base) {
      if (byKey.has(key(entry)) || this.isHidden(entry.path)) continue;
      if (entry.kind === "directory" && !(await this.baseDirShown(entry.path, call))) continue;
      byKey.set(key(entry), entry);
    }
    return [...byKey.values()];
  }

  async *walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    const inUpper = new Set<string>();
    for await (const entry of filesBelow(this.upper, dir, call)) {
      inUpper.add(entry.path);
      yield entry;
    }
    if (this.isHidden(dir)) return;
    for await (const entry of filesBelow(this.base, dir, call)) {
      if (!inUpper.has(entry.path) && !this.isHidden(entry.path)) yield entry;
    }
  }

  remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    return this.lock.runScoped({ keys: [path], prefixes: [dirPrefix(path)] }, () => this.removeHeld(path, call));
  }

  /**
   * The base's own grep when the branch changed nothing at or below `query.dir` (or above it);
   * otherwise the walking search over the merged view, which is always right.
   */
  async grep(query: GrepQuery, call: CallContext): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    const native = this.base.grep?.bind(this.base);
    if (native && (await this.untouched(query.dir, call))) return native(query, call);
    const found = await grepDriver(this.walker, query, {
      concurrency: CONCURRENCY,
      maxFileBytes: DEFAULT_MAX_GREP_FILE_BYTES,
      signal: call.signal,
    });
    if (isFault(found)) return found;
    const matches = found.matches ?? [];
    return found.truncated ? { matches, truncated: true } : { matches };
  }

  /** Candidates of a glob: the base's own when the branch changed nothing there, else the merged walk. */
  async *glob(query: GlobQuery, call: CallContext): AsyncIterable<DriverEntry> {
    const native = this.base.glob?.bind(this.base);
    if (native && (await this.untouched(query.root, call))) yield* native(query, call);
    else yield* this.walk(query.root, call);
  }

  refuses(path: string): Fault | null {
    return this.upper.refuses?.(path) ?? null;
  }

  /** What the base shows through the branch at `path`; records the etag of a file. */
  async baseStat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    if (this.isHidden(path)) return NONE;
    const got = await this.base.stat(path, call);
    if (isFault(got)) return isAbsent(got) ? NONE : got;
    if (got.kind === "file") {
      this.saw(path, got.etag ?? "");
      return tagged(got, FROM_BASE);
    }
    if (got.kind === "directory" && !(await this.baseDirShown(path, call))) return NONE;
    return got;
  }

  /** The base file at `path` and those below it that the branch still shows, with their etags. */
  async baseFilesAt(path: string, call: CallContext): Promise<Array<{ path: string; etag: string }> | Fault> {
    if (this.isHidden(path)) return [];
    const got = await this.base.stat(path, call);
    if (isFault(got)) return isAbsent(got) ? [] : got;
    if (got.kind === "file") return [{ path, etag: got.etag ?? "" }];
    if (got.kind === "none") return [];
    const paths: string[] = [];
    for await (const entry of filesBelow(this.base, path, call)) if (!this.isHidden(entry.path)) paths.push(entry.path);
    const stats = await mapLimit(paths, CONCURRENCY, (p) => this.base.stat(p, call));
    const out: Array<{ path: string; etag: string }> = [];
    for (const [i, stat] of stats.entries()) {
      if (isFault(stat) && !isAbsent(stat)) return stat;
      // A file deleted from the base since the walk is not there to delete.
      if (!isFault(stat) && stat.kind === "file") out.push({ path: paths[i] as string, etag: stat.etag ?? "" });
    }
    return out;
  }

  /** What the upper store has at `path` (a file where a parent would be: nothing). */
  async upperStat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    const got = await this.upper.stat(path, call);
    return isFault(got) && isAbsent(got) ? NONE : got;
  }

  /** Records the base etag of a file the branch shows from the base (unless the branch changed it). */
  private saw(path: string, etag: string): void {
    if (!this.changed.has(path)) this.based.set(path, etag);
  }

  /**
   * Whether a base directory is still there in the branch: always for a store with real
   * directories, else when a file below it is not deleted in the branch.
   */
  private async baseDirShown(dir: string, call: CallContext): Promise<boolean> {
    if (this.base.capabilities.realDirectories) return true;
    let below = false;
    for (const t of this.hidden) if (t !== dir && isWithin(t, dir)) below = true;
    if (!below) return true;
    for await (const entry of filesBelow(this.base, dir, call)) if (!this.isHidden(entry.path)) return true;
    return false;
  }

  /** True when the branch changed nothing at, below or above `dir`. */
  private async untouched(dir: string, call: CallContext): Promise<boolean> {
    for (const t of this.hidden) if (isWithin(t, dir) || isWithin(dir, t)) return false;
    const at = await this.upperStat(dir, call);
    if (isFault(at) || at.kind === "file") return false;
    for await (const _ of filesBelow(this.upper, dir, call)) return false;
    return true;
  }

  private async writeHeld(
    path: string,
    content: string | Uint8Array,
    call: WriteCall,
  ): Promise<{ etag: string } | Fault> {
    const current = await this.stat(path, call);
    if (isFault(current)) return current;
    if (current.kind === "directory") return fault("is_directory");
    const refused = preconditionFault(current, call) ?? (await this.fileInWay(path, call));
    if (refused) return refused;
    if (!this.changed.has(path)) {
      const etag = current.kind === "file" ? (current.etag ?? "") : "";
      // The branch shows the base's file: its change rests on that version; otherwise ask the base.
      const based = etag.startsWith(FROM_BASE) ? etag.slice(FROM_BASE.length) : await this.baseEtagNow(path, call);
      if (isFault(based)) return based;
      this.based.set(path, based);
      if (based !== null && current.kind === "file" && current.size <= MAX_ANCESTOR_BYTES) {
        await this.keepAncestor(path, based, call);
      }
    }
    const written = await this.upper.write(path, content, call.signal ? { signal: call.signal } : {});
    if (isFault(written)) return written;
    this.changed.add(path);
    if (written.etag !== "") return { etag: `${FROM_UPPER}${written.etag}` };
    // A store that answers no etag for an upload (a protocol member): ask for it.
    const stat = await this.upperStat(path, call);
    return { etag: `${FROM_UPPER}${!isFault(stat) && stat.kind === "file" ? (stat.etag ?? "") : ""}` };
  }

  /** Keeps the base's text of `path` if the base still has version `based` (else no merge is possible). */
  private async keepAncestor(path: string, based: string, call: CallContext): Promise<void> {
    const got = await this.base.read(path, { whole: true, ...(call.signal ? { signal: call.signal } : {}) });
    if (isFault(got) || "window" in got || (got.etag ?? "") !== based) return;
    const text = diffableText(got.content);
    if (text !== null) this.ancestors.set(path, text);
  }

  /** The base etag of `path` now, or null when the branch shows no base file there. */
  async baseEtagNow(path: string, call: CallContext): Promise<string | null | Fault> {
    if (this.isHidden(path)) return null;
    const got = await this.base.stat(path, call);
    if (isFault(got)) return isAbsent(got) ? null : got;
    return got.kind === "file" ? (got.etag ?? "") : null;
  }

  /** `not_a_directory` naming the file (in the merged view) where a parent directory of `path` would be. */
  private async fileInWay(path: string, call: CallContext): Promise<Fault | null> {
    for (let dir = parentDir(path); dir !== "/"; dir = parentDir(dir)) {
      const at = await this.stat(dir, call);
      if (isFault(at)) return at;
      // The parents of a directory are directories.
      if (at.kind === "directory") return null;
      if (at.kind === "file") return fault("not_a_directory", { path: dir, reason: "file_in_way" });
    }
    return null;
  }

  private async removeHeld(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    const upper = await this.upperStat(path, call);
    if (isFault(upper)) return upper;
    const base = await this.baseFilesAt(path, call);
    if (isFault(base)) return base;
    if (upper.kind === "none" && base.length === 0) {
      // Nothing to delete unless the base shows a directory without files (a store with real ones).
      const at = await this.baseStat(path, call);
      if (isFault(at)) return at;
      if (at.kind === "none") return fault("file_not_found");
    }
    for (const file of base) {
      if (!this.changed.has(file.path)) this.based.set(file.path, file.etag);
      this.changed.add(file.path);
    }
    if (upper.kind !== "none") {
      const removed = await this.upper.remove(path, call);
      if (isFault(removed) && !isAbsent(removed)) return removed;
    }
    if (!this.isHidden(path)) {
      // Whatever the base has there (a file, files below, an empty directory) is hidden from now on.
      const at = await this.base.stat(path, call);
      if (!isFault(at) && at.kind !== "none") this.hide(path);
    }
    return { path };
  }

  /** Adds a tombstone at `path`, which covers the tombstones below it. */
  private hide(path: string): void {
    for (const t of this.hidden) if (isWithin(t, path)) this.hidden.delete(t);
    this.hidden.add(path);
  }
}
