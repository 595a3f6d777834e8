/**
 * {@link ShellDriver}: a sandbox (E2B, Daytona, a VM, a container) as a {@link Driver}. Listings,
 * searches, deletes and `stat`s are one POSIX sh script each (shell-scripts.ts), run through the
 * sandbox's script runner (shell-transport.ts); file contents travel only through the sandbox's
 * own transfers, byte for byte, and never appear in a command line. Etags are SHA-256 digests
 * computed in Node.
 *
 * Whatever is in the sandbox may be hostile (an agent's commands run there): a file is never
 * transferred for a read, an edit or a search when it is larger than the driver's limit, and the
 * lock key of a path is its real location, so that edits through a linked directory serialise
 * with those through the directory itself.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { contentFromBytes } from "../file-data.js";
import { type GrepQuery, GrepTally, grepTextsWithin } from "../grep.js";
import type {
  BatchFile,
  Driver,
  DriverCapabilities,
  DriverEntry,
  DriverFile,
  DriverStat,
  Fault,
  ReadCall,
  StoreLimits,
  WriteCall,
} from "../kit/driver.js";
import { FaultError, fault, isFault } from "../kit/driver.js";
import { DEFAULT_MAX_GREP_FILE_BYTES } from "../kit/search.js";
import { getMimeType, isTextMimeType } from "../mime.js";
import { baseName, checkPath, comparePaths, isWithin, parentDir } from "../paths.js";
import type { ExecuteOptions, ExecuteResponse, FileUploadResponse, GrepMatch } from "../protocol.js";
import { encodeUtf8 } from "../text.js";
import {
  deleteScript,
  fileTimesScript,
  grepCandidatesScript,
  listFilesScript,
  lsScript,
  parseStatRecords,
  realDirsScript,
  ScriptStatus,
  type StatRecord,
  writeTargetScript,
} from "./shell-scripts.js";
import { failedStatus, type ShellHost, ShellTransport, transferFault } from "./shell-transport.js";

export type { LimitedDownload, ShellHost } from "./shell-transport.js";

/** Options of a {@link ShellDriver}. */
export interface ShellDriverOptions {
  /**
   * Largest file that `read`, `readRaw`, `edit` and `grep` transfer, in bytes; a larger one answers
   * `too_large` (grep skips it). Default 10 MiB (grep's limit in every backend). Downloads (a read
   * with `whole`) have no limit.
   */
  maxFileBytes?: number;
  /** Most matching lines a grep answers (a store limit, see `StoreLimits`; default the facade's). */
  maxGrepMatches?: number;
  /** Most characters of matching lines a grep answers (a store limit; default the facade's). */
  maxGrepTextLength?: number;
}

/** Files grep downloads per transfer while collecting matches in path order. */
const GREP_DOWNLOAD_BATCH = 32;
/** Directories resolved by one script when lock keys are asked for (keeps its command line short). */
const REAL_DIRS_BATCH = 200;

/** Opaque version of some bytes: their SHA-256 digest. */
export function etagOf(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url");
}

export function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** A sandbox's file system as a driver. */
export class ShellDriver implements Driver {
  /**
   * Preconditions hold within one process only (the facade checks them under its per-path lock),
   * so the driver does not claim store-side conditional writes.
   */
  readonly capabilities: DriverCapabilities;
  private readonly maxFileBytes: number;
  private readonly transport: ShellTransport;
  /** Lock keys already resolved for the call in progress (see {@link withLockKeys}). */
  private readonly callKeys = new AsyncLocalStorage<ReadonlyMap<string, string>>();

  constructor(
    private readonly host: ShellHost,
    options: ShellDriverOptions = {},
  ) {
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_GREP_FILE_BYTES;
    this.transport = new ShellTransport(host);
    // The read limit is a store limit: the facade then refuses an edit whose result would pass it,
    // so that an edit never makes a file the sandbox's reads refuse.
    const limits: StoreLimits = { maxFileBytes: this.maxFileBytes };
    if (options.maxGrepMatches !== undefined) limits.maxGrepMatches = options.maxGrepMatches;
    if (options.maxGrepTextLength !== undefined) limits.maxGrepTextLength = options.maxGrepTextLength;
    this.capabilities = { conditionalWrites: false, realDirectories: true, readOnly: false, nativeGrep: true, limits };
  }

  /**
   * A file (with its size and etag, which takes a download; a file over the limit has no etag and
   * is not transferred), a directory, or nothing.
   */
  async stat(path: string): Promise<DriverStat | Fault> {
    const target = await this.inspect(path);
    if (isFault(target)) return target.fault === "is_directory" ? { kind: "directory" } : target;
    if (!target.exists) return { kind: "none" };
    const file = await this.load(path, this.maxFileBytes);
    if (isFault(file)) return file.fault === "file_not_found" ? { kind: "none" } : file;
    if ("oversize" in file) return { kind: "file", size: file.oversize ?? this.maxFileBytes + 1 };
    return { kind: "file", size: file.bytes.byteLength, etag: file.etag };
  }

  /**
   * One download, refused with `too_large` (before anything is transferred) for a file over the
   * limit unless the whole file is asked for. Times are not fetched here: `readRaw` asks for them
   * with {@link times}.
   */
  async read(path: string, call: ReadCall = {}): Promise<DriverFile | Fault> {
    const file = await this.load(path, call.whole ? Number.POSITIVE_INFINITY : this.maxFileBytes);
    if (isFault(file)) return file;
    if ("oversize" in file) return this.tooLarge(file.oversize);
    return { content: contentFromBytes(path, file.bytes), etag: file.etag };
  }

  /**
   * The lock key of `path`: the real path of its parent directory (symlinks resolved in the
   * sandbox, as LocalBackend does on disk) joined with its name, so that `/w/alias/f` and
   * `/w/real/f` serialise when `alias` links to `real`. The path itself when the sandbox cannot
   * tell. Inside {@link withLockKeys} the keys given there are answered without asking again.
   */
  lockKey(path: string): Promise<string> | string {
    const known = this.callKeys.getStore()?.get(path);
    if (known !== undefined) return known;
    return this.lockKeys([path]).then((keys) => keys[0] ?? path);
  }

  /** {@link lockKey} of several paths, with one script for all their parent directories. */
  async lockKeys(paths: string[]): Promise<string[]> {
    const dirs = [...new Set(paths.filter((p) => p !== "/").map(parentDir))];
    const real = new Map<string, string>();
    for (let i = 0; i < dirs.length; i += REAL_DIRS_BATCH) {
      const batch = dirs.slice(i, i + REAL_DIRS_BATCH);
      const run = await this.transport.run(realDirsScript(batch)).catch(() => null);
      if (!run || isFault(run) || run.status !== ScriptStatus.ok) continue;
      const records = `\n${run.output}`.split("\n//").map((record) => record.replace(/\n$/, ""));
      if (records.length !== 2 * batch.length + 1) continue;
      batch.forEach((dir, k) => {
        const found = records[2 * k + 1] as string;
        const missing = records[2 * k + 2] as string;
        if (!found.startsWith("/") || (missing !== "" && !missing.startsWith("/"))) return;
        real.set(dir, `${found === "/" ? "" : found}${missing}` || "/");
      });
    }
    return paths.map((path) => {
      const dir = path === "/" ? undefined : real.get(parentDir(path));
      if (dir === undefined) return path;
      return dir === "/" ? `/${baseName(path)}` : `${dir}/${baseName(path)}`;
    });
  }

  /**
   * Runs `task` with the lock keys of `paths` known (`keys`, from {@link lockKeys}): a sandbox that
   * holds its own lock on them first (BaseSandbox) resolves each path once per call.
   */
  withLockKeys<T>(paths: string[], keys: string[], task: () => T): T {
    const known = new Map(this.callKeys.getStore() ?? []);
    for (const [i, path] of paths.entries()) known.set(path, keys[i] ?? path);
    return this.callKeys.run(known, task);
  }

  /** Birth time (0 when unknown) and modification time of a file, in seconds; null when unknown. */
  async times(path: string): Promise<{ birth: number; mtime: number } | null> {
    const run = await this.transport.run(fileTimesScript(path));
    if (isFault(run)) return null;
    const [birth, mtime] = run.output.trim().split(" ").map(Number);
    return { birth: birth !== undefined && birth > 0 ? birth : 0, mtime: mtime !== undefined && mtime > 0 ? mtime : 0 };
  }

  /**
   * One upload. `ifMatch` / `ifNoneMatch` are not the driver's: without store-side conditional
   * writes, the facade checks them (with {@link stat}) under its per-path lock first.
   */
  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    if (path === "/") return fault("is_directory");
    if (call.signal?.aborted) return fault("aborted");
    const bytes = typeof content === "string" ? encodeUtf8(content) : content;
    const [answer] = await this.host.upload([[path, bytes]]);
    if (answer && !answer.error) return { etag: etagOf(bytes) };
    return this.writeFault(path, answer);
  }

  /** One upload of every file (the sandbox's transfer batches them). */
  async writeBatch(files: BatchFile[]): Promise<Array<{ etag: string } | Fault>> {
    const answers = await this.host.upload(files.map((f) => [f.path, f.bytes]));
    return Promise.all(
      files.map(async (f, i) => {
        const answer = answers[i];
        return answer && !answer.error ? { etag: etagOf(f.bytes) } : this.writeFault(f.path, answer);
      }),
    );
  }

  async list(dir: string): Promise<DriverEntry[] | Fault> {
    const run = await this.transport.run(lsScript(dir));
    if (isFault(run)) return run;
    if (run.status === ScriptStatus.permissionDenied) return fault("permission_denied");
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    const out: DriverEntry[] = [];
    for (const record of parseStatRecords(run.output)) {
      if (!isCanonical(record.path) || record.path === dir || parentDir(record.path) !== dir) continue;
      if (this.host.isHidden(record.path)) continue;
      out.push(record.isDirectory ? { path: record.path, kind: "directory" } : fileEntry(record));
    }
    return out;
  }

  /** Every regular file below `dir`, from one `find` (skipping `/proc`, `/sys`, `/dev`). */
  async *walk(dir: string): AsyncIterable<DriverEntry> {
    const run = await this.transport.run(listFilesScript(dir));
    if (isFault(run)) throw new FaultError(run);
    if (run.status !== ScriptStatus.ok) throw new FaultError(failedStatus(run.status));
    for (const record of parseStatRecords(run.output)) {
      if (isCanonical(record.path) && isWithin(record.path, dir) && !this.host.isHidden(record.path))
        yield fileEntry(record);
    }
  }

  async remove(path: string): Promise<{ path: string } | Fault> {
    if (path === "/") return fault("invalid_argument", { detail: "refusing to delete the whole sandbox filesystem" });
    const run = await this.transport.run(deleteScript(path));
    if (isFault(run)) return run;
    if (run.status === ScriptStatus.notFound) return fault("file_not_found");
    if (run.status === ScriptStatus.permissionDenied) return fault("permission_denied");
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    return { path };
  }

  /**
   * Finds the files that contain the pattern with `grep -l` inside the sandbox, then downloads only
   * those (in path order, until `maxCount` is reached) and applies the core matcher, so that binary
   * detection (NUL bytes, invalid UTF-8) and line splitting are exactly the contract's. The answer
   * is counted across the batches: once it passes `query.limits`, grep answers `too_large` and
   * downloads nothing more. The list of candidates is not counted against those bounds (a file
   * `grep -l` names may hold no line the contract matches: binary, invalid UTF-8); it is bounded
   * as every listing is, by what the transport reads back from the sandbox.
   */
  async grep(query: GrepQuery): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
    // No line of a searchable text holds "\n", NUL or a lone surrogate; the first two are also
    // checked here because neither can be passed as a shell argument, whoever built the query.
    if (query.matchesNothing || query.pattern.includes("\n") || query.pattern.includes("\u0000")) {
      return { matches: [] };
    }
    // Files over the limit are left out by the search, and refused by the download if they grew since.
    const run = await this.transport.run(grepCandidatesScript(query.dir, query.pattern, this.maxFileBytes));
    if (isFault(run)) return run;
    if (run.status !== ScriptStatus.ok) return failedStatus(run.status);
    const candidates = [
      ...new Set(
        run.output
          .split("\n")
          .filter(
            (p) => isCanonical(p) && query.accepts(p) && isTextMimeType(getMimeType(p)) && !this.host.isHidden(p),
          ),
      ),
    ].sort(comparePaths);
    const matches: GrepMatch[] = [];
    const tally = new GrepTally(query);
    for (let i = 0; i < candidates.length; i += GREP_DOWNLOAD_BATCH) {
      const batchPaths = candidates.slice(i, i + GREP_DOWNLOAD_BATCH);
      const downloads = await this.transport.fetch(batchPaths, this.maxFileBytes, true);
      const texts: Array<{ path: string; text: string }> = [];
      downloads.forEach((file, j) => {
        // A file removed since the search is simply no longer there; one grown too large is skipped.
        if (isFault(file) || !("bytes" in file)) return;
        const path = batchPaths[j] as string;
        const content = contentFromBytes(path, file.bytes);
        if (typeof content === "string") texts.push({ path, text: content });
      });
      const batch = grepTextsWithin(texts, { ...query, maxCount: query.maxCount - matches.length }, tally);
      if (isFault(batch)) return batch;
      // One by one: spreading 200,000 matches into push() overflows the stack.
      for (const match of batch.matches ?? []) matches.push(match);
      if (batch.truncated) return { matches, truncated: true };
    }
    return { matches };
  }

  execute(command: string, options: ExecuteOptions): Promise<ExecuteResponse> {
    return this.host.execute(command, options);
  }

  /** Downloads one file with its etag, unless it is larger than `maxBytes`. */
  private async load(
    path: string,
    maxBytes: number,
  ): Promise<{ bytes: Uint8Array; etag: string } | { oversize: number | undefined } | Fault> {
    const [file] = await this.transport.fetch([path], maxBytes, false);
    if (!file) return fault("backend_unavailable", { detail: "no answer for this file" });
    if (isFault(file) || !("bytes" in file)) return file;
    return { bytes: file.bytes, etag: etagOf(file.bytes) };
  }

  private tooLarge(size: number | undefined): Fault {
    const limit = `over this sandbox's read limit of ${formatLimit(this.maxFileBytes)}`;
    const what = size === undefined ? limit : `${size} bytes, ${limit}`;
    return fault("too_large", { detail: `${what}; read parts of it with execute (head, tail, sed -n)` });
  }

  /** After a failed upload: the precise reason when a directory or a file is in the way, else the answer's. */
  private async writeFault(path: string, answer: FileUploadResponse | undefined): Promise<Fault> {
    const target = await this.inspect(path);
    if (isFault(target) && target.fault !== "backend_unavailable" && target.fault !== "timeout") return target;
    return transferFault(answer);
  }

  /** Whether `path` exists as a file, or why it cannot be written as one. */
  private async inspect(path: string): Promise<{ exists: boolean } | Fault> {
    const run = await this.transport.run(writeTargetScript(path, parentDir(path)));
    if (isFault(run)) return run;
    switch (run.status) {
      case ScriptStatus.ok:
        return { exists: run.output === "E" };
      case ScriptStatus.isDirectory:
        return fault("is_directory");
      case ScriptStatus.notADirectory:
        return fault("not_a_directory", { path: run.output, reason: "file_in_way" });
      default:
        return failedStatus(run.status);
    }
  }
}

/** True for a listed path that is a valid, canonical virtual path. */
function isCanonical(path: string): boolean {
  const checked = checkPath(path);
  return checked.ok && checked.path === path;
}

function fileEntry(record: StatRecord): DriverEntry {
  return { path: record.path, kind: "file", size: record.size, modifiedAt: isoSeconds(record.mtime) };
}

function formatLimit(bytes: number): string {
  const mib = bytes / 1024 / 1024;
  return Number.isInteger(mib) ? `${mib} MiB` : `${bytes} bytes`;
}
