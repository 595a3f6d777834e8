import { DeepfsError } from "./errors.js";
import { isInternalTempPath } from "./internal-names.js";
import { KeyedLock } from "./key-lock.js";
import { DriverBackend } from "./kit/facade.js";
import { checkPath } from "./paths.js";
import type {
  BackendCapabilities,
  DeleteResult,
  EditResult,
  ExecuteOptions,
  ExecuteResponse,
  FileDownloadResponse,
  FileUploadResponse,
  MaybePromise,
  ReadRawResult,
  SandboxBackendProtocol,
  WriteOptions,
  WriteResult,
} from "./protocol.js";
import { isoSeconds, type LimitedDownload, ShellDriver, type ShellHost } from "./sandbox/shell-driver.js";

export type { LimitedDownload } from "./sandbox/shell-driver.js";
export { shellQuote } from "./sandbox/shell-scripts.js";

type Upload = (files: Array<[string, Uint8Array]>) => Promise<FileUploadResponse[]>;

/** Options of a {@link BaseSandbox}. */
export interface BaseSandboxOptions {
  /**
   * Largest file that `read`, `readRaw`, `edit` and `grep` look at, in MiB (as LocalBackend's
   * option of the same name). A larger file answers `too_large` on read, readRaw and edit (grep
   * skips it) and is not transferred. `downloadFiles` has no limit. An edit whose result would be
   * larger answers `too_large` (it would make a file that reads then refuse). Default 10.
   */
  maxFileSizeMb?: number;
  /**
   * Most matching lines a grep answers when `maxCount` allows more (or is not given); past it grep
   * answers `too_large` and downloads no further file. Default 1,000,000.
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines a grep answers; past it grep answers
   * `too_large` and downloads no further file. Default 256 Mi.
   */
  maxGrepTextLength?: number;
}

/**
 * The base of a sandbox backend (E2B, Daytona, a VM, a container): a subclass implements `id`,
 * `execute`, `uploadFiles` and `downloadFiles`, and inherits every other method of the contract.
 * It is {@link ShellDriver} (how a sandbox does each primitive) under the core facade.
 *
 * Virtual paths are the sandbox's absolute paths. `read`, `edit` and a plain `write` only transfer
 * files; `ls`, `glob`, `grep`, `delete` and `readRaw` run one POSIX sh command each (GNU or busybox
 * `find`, `stat`, `grep`); `write` with `ifMatch`/`ifNoneMatch` (or after a failed upload) runs one
 * to inspect the target. Those commands go through {@link BaseSandbox.runCommand} (by default
 * `execute`, which a subclass may replace with something cheaper). Every argument is
 * single-quoted, and file contents never appear in a command line: they travel through
 * `uploadFiles`/`downloadFiles`, byte for byte. Listings skip `/proc`, `/sys` and `/dev`.
 *
 * Subclass obligations:
 * - `execute` runs `command` with `sh -c` (stdout and stderr combined, exit 124 on timeout, output
 *   capped with `truncated: true`). When a listing is cut, BaseSandbox re-runs it into a temporary
 *   file (`mktemp`), downloads it and removes it.
 * - `uploadFiles` writes each file's exact bytes, replacing an existing file and creating missing
 *   parent directories; `downloadFiles` returns exact bytes. Both keep input order and report
 *   failures per entry with the codes of the contract (`file_not_found`, `is_directory`,
 *   `permission_denied`, `invalid_path`), validating paths with `checkPath`.
 *
 * Files larger than `maxFileSizeMb` (default 10 MiB) are not transferred for `read`, `readRaw`,
 * `edit` or `grep`: the first three answer `too_large` and grep skips them; nor does an edit make
 * a file larger than that. Their sizes are asked for first (one command), unless the subclass
 * implements {@link BaseSandbox.downloadWithin}, which checks them in the sandbox as it sends.
 * `downloadFiles` is the subclass's own and moves whole files, whatever their size.
 *
 * Etags are SHA-256 digests of the content, computed in Node. Every mutation of a path through one
 * instance (`write`, `edit`, `uploadFiles`, `delete`) is serialised inside this process: BaseSandbox
 * wraps the subclass's `uploadFiles` (a prototype method; not a class field) in a lock per file, so
 * an upload never lands between an edit's download and its upload, concurrent edits never lose a
 * change and `ifMatch`/`ifNoneMatch` hold. For that a file is known by its real location: an edit
 * or a conditional write resolves the parent directory of its path in the sandbox (one command,
 * `readlink -f`), so that one through a linked directory (`/w/alias/f` where `alias` links to
 * `real`) waits for every change of `/w/real/f`; while one is in flight, other mutations resolve
 * theirs too (a plain write, upload or delete needs no command otherwise). Against writers in
 * other processes (or commands run with `execute`, or a link swapped in the middle of a call)
 * atomicity is only as strong as the sandbox's own file replacement. `readRaw` reports the birth
 * time as `created_at` where `stat` knows it, else the epoch.
 */
export abstract class BaseSandbox extends DriverBackend<ShellDriver> implements SandboxBackendProtocol {
  override readonly capabilities: BackendCapabilities = {
    execute: true,
    nativeGrep: true,
    conditionalWrites: true,
    realDirectories: true,
    readOnly: false,
  };

  /** Unique id of the sandbox. */
  abstract readonly id: string;

  /** Runs a shell command in the sandbox. */
  abstract execute(command: string, options?: ExecuteOptions): MaybePromise<ExecuteResponse>;

  /** Writes files into the sandbox, byte for byte, in input order. */
  abstract override uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]>;

  /** Reads files from the sandbox, byte for byte, in input order. */
  abstract override downloadFiles(paths: string[]): Promise<FileDownloadResponse[]>;

  /**
   * True for a path the subclass keeps for itself: `ls`, `glob` and `grep` leave it out, before
   * `maxCount` applies. By default the internal temp names of {@link internalTempName} (the
   * temporary file of an upload in progress), which no user path can name.
   */
  protected isHiddenPath(path: string): boolean {
    return isInternalTempPath(path);
  }

  /**
   * Optional: reads files like `downloadFiles`, except that a file larger than `maxBytes` is not
   * transferred; its entry answers code `too_large` (coarse `error` `invalid_path`) with its `size`.
   * Implement it when the sandbox can check the size as it sends (a file that grows after a
   * separate size check is then still refused); without it BaseSandbox asks for the sizes first.
   */
  protected downloadWithin?(paths: string[], maxBytes: number): Promise<LimitedDownload[]>;

  /**
   * Serialises mutations in call order, per path as the caller wrote it: the first of two locks
   * (see {@link locked}).
   */
  private readonly pathLock: KeyedLock;
  /**
   * Serialises the subclass's uploads with the facade's mutations of the same files, by lock key
   * (the file's real location; the facade's own lock is private to it; see the class comment).
   */
  private readonly keyLock: KeyedLock;
  /** Read-modify-writes (edits, conditional writes) started and not finished. */
  private readModifyWrites = 0;
  /** Mutations running without a key: they started while no read-modify-write was in flight. */
  private readonly unkeyed = new Set<Promise<unknown>>();

  constructor(options: BaseSandboxOptions = {}) {
    const maxFileSizeMb = options.maxFileSizeMb ?? 10;
    if (!(typeof maxFileSizeMb === "number" && Number.isFinite(maxFileSizeMb) && maxFileSizeMb > 0)) {
      throw new DeepfsError(
        "invalid_argument",
        `maxFileSizeMb must be a positive number, got ${String(maxFileSizeMb)}`,
      );
    }
    const sandbox = () => this as BaseSandbox;
    const upload: { unlocked?: Upload } = {};
    const host: ShellHost = {
      run: async (command) => sandbox().runCommand(command),
      execute: async (command, options) => sandbox().execute(command, options),
      upload: async (files) => (upload.unlocked as Upload)(files),
      download: async (paths) => sandbox().downloadFiles(paths),
      isHidden: (path) => sandbox().isHiddenPath(path),
    };
    // The limits travel in the driver's capabilities (the facade checks the grep bounds' values).
    super(
      new ShellDriver(host, {
        maxFileBytes: Math.floor(maxFileSizeMb * 1024 * 1024),
        maxGrepMatches: options.maxGrepMatches,
        maxGrepTextLength: options.maxGrepTextLength,
      }),
    );
    // A prototype method of the subclass is there already (class fields are not, see lockUploads).
    const within = this.downloadWithin;
    if (typeof within === "function") host.downloadWithin = (paths, maxBytes) => within.call(this, paths, maxBytes);
    this.pathLock = new KeyedLock();
    this.keyLock = new KeyedLock();
    upload.unlocked = this.lockUploads();
  }

  /** Replaces this instance's `uploadFiles` with one that holds the lock of every path it writes. */
  private lockUploads(): Upload {
    // A subclass that declares `uploadFiles` as a class field replaces the wrapper after this
    // constructor: its uploads stay unlocked, so the class comment asks for a method.
    if (typeof this.uploadFiles !== "function") return (files) => this.uploadFiles(files);
    const upload = this.uploadFiles.bind(this);
    this.uploadFiles = (files) => {
      // Invalid entries are answered by the subclass; they need no lock of their own.
      const paths = Array.isArray(files)
        ? files.map((file) => (Array.isArray(file) ? checkPath(file[0]) : null)).flatMap((c) => (c?.ok ? [c.path] : []))
        : [];
      return this.lockedByKey(paths, [], false, async () => upload(files));
    };
    return upload;
  }

  /** Releases what the subclass holds; BaseSandbox itself holds nothing. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  override write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const conditional = options?.ifMatch !== undefined || options?.ifNoneMatch !== undefined;
    return this.locked(filePath, false, conditional, () => super.write(filePath, content, options));
  }

  override edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    return this.locked(filePath, false, true, () => super.edit(filePath, oldString, newString, replaceAll, options));
  }

  override delete(filePath: string): Promise<DeleteResult> {
    return this.locked(filePath, true, false, () => super.delete(filePath));
  }

  /** As the facade's, with the birth and modification times of the file from one `stat`. */
  override async readRaw(filePath: string): Promise<ReadRawResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return super.readRaw(filePath);
    const [result, times] = await Promise.all([super.readRaw(checked.path), this.driver.times(checked.path)]);
    if (!result.data) return result;
    const modified_at = times && times.mtime > 0 ? isoSeconds(times.mtime) : new Date().toISOString();
    // busybox stat and some filesystems do not know the birth time. The epoch says "unknown" and,
    // unlike the modification time, stays the same across overwrites, as created_at must.
    const created_at = isoSeconds(times?.birth ?? 0);
    return { ...result, data: { ...result.data, created_at, modified_at } };
  }

  /**
   * Runs one of BaseSandbox's own commands (listings, searches, deletes, `stat`s; never the user's)
   * with `sh -c` semantics: stdout and stderr combined, output capped with `truncated: true` like
   * `execute`, exit code 124 on timeout. The default is `this.execute(command)`; a sandbox with a
   * cheaper way to run a short internal command (a shell kept open in the sandbox, say) overrides it.
   */
  protected async runCommand(command: string): Promise<ExecuteResponse> {
    return this.execute(command);
  }

  /**
   * Runs a mutation of `filePath` (and, when `recursive`, of what is below it) under the upload
   * lock; `readModifyWrite` for one that reads the file before it writes (see {@link lockedByKey}).
   */
  private locked<T>(
    filePath: string,
    recursive: boolean,
    readModifyWrite: boolean,
    task: () => Promise<T>,
  ): Promise<T> {
    const checked = checkPath(filePath);
    if (!checked.ok) return task();
    return this.lockedByKey([checked.path], recursive ? [checked.path] : [], readModifyWrite, task);
  }

  /**
   * Runs a mutation of `paths` (and of everything below `trees`, a subset) once the earlier ones of
   * the same files are done. The paths as written are locked first, at once, which keeps call
   * order. A file may have several names (through a linked directory), and only a read-modify-
   * write (an edit, a conditional write) can lose a change made through another name meanwhile.
   * So: a read-modify-write waits for every mutation running without a key, then resolves its
   * lock key in the sandbox (the file's real location) and locks it; while one is in flight,
   * every other mutation does the same; when none is, a mutation runs under its path alone (no
   * command), since all it could race with are plain writes, which may land in either order.
   * The keys are handed to the facade (through the driver) so that it does not resolve them again.
   * Keys are taken after paths, always, the holder of a key never waits for a path, and a mutation
   * without a key waits for nothing more, so the locks cannot deadlock.
   */
  private lockedByKey<T>(
    paths: string[],
    trees: string[],
    readModifyWrite: boolean,
    task: () => Promise<T>,
  ): Promise<T> {
    if (paths.length === 0) return task();
    return this.pathLock.runScoped({ keys: paths, prefixes: trees.map(subtreePrefix) }, async () => {
      if (!readModifyWrite && this.readModifyWrites === 0) {
        const running = this.driver.withLockKeys(paths, paths, task);
        this.unkeyed.add(running);
        try {
          return await running;
        } finally {
          this.unkeyed.delete(running);
        }
      }
      if (readModifyWrite) this.readModifyWrites++;
      try {
        if (readModifyWrite) await Promise.allSettled([...this.unkeyed]);
        const keys = await this.driver.lockKeys(paths).catch(() => paths);
        const keyTrees = trees.map((tree) => subtreePrefix(keys[paths.indexOf(tree)] ?? tree));
        return await this.keyLock.runScoped({ keys, prefixes: keyTrees }, () =>
          this.driver.withLockKeys(paths, keys, task),
        );
      } finally {
        if (readModifyWrite) this.readModifyWrites--;
      }
    });
  }
}

/** The lock prefix that covers everything below `path`. */
function subtreePrefix(path: string): string {
  return path === "/" ? "/" : `${path}/`;
}
