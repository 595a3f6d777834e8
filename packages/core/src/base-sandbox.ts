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
import { isoSeconds, ShellDriver } from "./sandbox/shell-driver.js";

export { shellQuote } from "./sandbox/shell-scripts.js";

type Upload = (files: Array<[string, Uint8Array]>) => Promise<FileUploadResponse[]>;

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
 * Etags are SHA-256 digests of the content, computed in Node. Every mutation of a path through one
 * instance (`write`, `edit`, `uploadFiles`, `delete`) is serialised inside this process: BaseSandbox
 * wraps the subclass's `uploadFiles` (a prototype method; not a class field) in a lock per path, so
 * an upload never lands between an edit's download and its upload, concurrent edits never lose a
 * change and `ifMatch`/`ifNoneMatch` hold; against writers in other processes (or commands run
 * with `execute`) atomicity is only as strong as the sandbox's own file replacement. `readRaw` reports
 * the birth time as `created_at` where `stat` knows it, else the epoch.
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
   * Serialises the subclass's uploads with the facade's mutations of the same paths (the facade's
   * own lock is private to it; see the class comment).
   */
  private readonly pathLock: KeyedLock;

  constructor() {
    const sandbox = () => this as BaseSandbox;
    const upload: { unlocked?: Upload } = {};
    super(
      new ShellDriver({
        run: async (command) => sandbox().runCommand(command),
        execute: async (command, options) => sandbox().execute(command, options),
        upload: async (files) => (upload.unlocked as Upload)(files),
        download: async (paths) => sandbox().downloadFiles(paths),
        isHidden: (path) => sandbox().isHiddenPath(path),
      }),
    );
    this.pathLock = new KeyedLock();
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
      const keys = Array.isArray(files)
        ? files.map((file) => (Array.isArray(file) ? checkPath(file[0]) : null)).flatMap((c) => (c?.ok ? [c.path] : []))
        : [];
      return this.pathLock.runScoped({ keys }, async () => upload(files));
    };
    return upload;
  }

  /** Releases what the subclass holds; BaseSandbox itself holds nothing. */
  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  override write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    return this.locked(filePath, false, () => super.write(filePath, content, options));
  }

  override edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    return this.locked(filePath, false, () => super.edit(filePath, oldString, newString, replaceAll, options));
  }

  override delete(filePath: string): Promise<DeleteResult> {
    return this.locked(filePath, true, () => super.delete(filePath));
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

  /** Runs a mutation of `filePath` (and, when `recursive`, of what is below it) under the upload lock. */
  private locked<T>(filePath: string, recursive: boolean, task: () => Promise<T>): Promise<T> {
    const checked = checkPath(filePath);
    if (!checked.ok) return task();
    const prefixes = recursive ? [checked.path === "/" ? "/" : `${checked.path}/`] : [];
    return this.pathLock.runScoped({ keys: [checked.path], prefixes }, task);
  }
}
