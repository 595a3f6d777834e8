import type { ChildProcess } from "node:child_process";
import { mkdirSync, realpathSync, statSync } from "node:fs";
import { resolve as resolveHost } from "node:path";
import {
  type BackendCapabilities,
  checkPath,
  DeepfsError,
  type ExecuteOptions,
  type ExecuteResponse,
} from "@deepfs/core";
import { DriverBackend } from "@deepfs/core/kit";
import { errnoCode } from "./errors.js";
import { runShell, type ShellSettings, timeoutProblem } from "./execute.js";
import { GrepEngines } from "./grep-search.js";
import { openHistory } from "./history-handle.js";
import { resolveHistoryOption } from "./history-option.js";
import { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import { DEEPAGENTS_REALPATH, resolveHostPath } from "./links.js";
import { LocalDriver, type LocalDriverSettings } from "./local-driver.js";
import type { LocalBackendOptions } from "./options.js";
import { STAT_CONCURRENCY } from "./walk.js";

/** Default of `syncIoMaxBytes`: source files and notes, not data sets. */
const DEFAULT_SYNC_IO_MAX_BYTES = 64 * 1024;

/**
 * A directory on disk as an agent filesystem: a {@link LocalDriver} behind the deepfs facade.
 *
 * - Virtual mode (default): paths are virtual (`/src/a.ts` is `rootDir/src/a.ts`) and a path whose
 *   real location leaves `rootDir` through a symlink is refused with `permission_denied`, checked
 *   on the open descriptor (a parent swapped for a link mid-call yields no byte from outside).
 * - Symlinks: a link to a regular file inside the root is that file under the link's name for
 *   `ls`, `glob`, `grep`, `read`, `readRaw` and downloads alike; links to directories are listed
 *   and followed by paths through them, never descended into by `glob` or `grep`. `write`,
 *   `edit` and uploads never go through a link at the last component (`permission_denied`), in
 *   either mode, as deepagents' FilesystemBackend. The deepagents realpath hook
 *   (`Symbol.for("deepagents.realpath")`) tells deepagents' permission rules where a path leads.
 * - Writes are atomic (temp file with an internal name in the same directory, then rename, both
 *   through the directory's pinned descriptor) and keep the file mode.
 * - Small files (up to `syncIoMaxBytes`) are read and written with blocking calls, several times
 *   faster on a local disk than a threadpool round trip per call; a run of such calls yields to
 *   the event loop every ~10 ms.
 * - Etags are SHA-1 content hashes; edits and conditional writes are serialised per file inside
 *   this process (not across processes).
 * - `grep` uses ripgrep when available to find candidate files, then applies the core matcher, so
 *   both engines return exactly what `grepTexts` would.
 * - With the `history` option every change is also a version, kept in a directory outside the
 *   root (`local-history.ts`: objects, then the file, then an fsync'd log record; caught up at open
 *   after a crash), so the history methods work; off by default. Call `close()` to release it.
 * - With the `execute` option it is also a `SandboxBackendProtocol` (`id`, `execute`). That is a
 *   local shell, **not a security sandbox**: commands run on this machine as this process's user.
 */
export class LocalBackend extends DriverBackend<LocalDriver> {
  override readonly capabilities: BackendCapabilities;
  /** The real path of the root directory. */
  readonly rootDir: string;
  readonly virtualMode: boolean;
  /** The directory the version history is kept in (`history` option), when on. */
  readonly historyDir?: string;
  /** Set only when `execute` is enabled (then the backend is a sandbox backend). */
  readonly id?: string;

  private readonly shell: ShellSettings | undefined;
  private readonly running = new Set<ChildProcess>();

  constructor(options: LocalBackendOptions = {}) {
    const settings = driverSettings(options);
    super(new LocalDriver(settings), { concurrency: STAT_CONCURRENCY });
    this.virtualMode = settings.virtualMode;
    this.rootDir = settings.rootDir;
    if (settings.history) this.historyDir = settings.history.dir;
    if (options.execute) {
      const config = options.execute === true ? {} : options.execute;
      this.shell = {
        cwd: this.rootDir,
        timeoutMs: config.timeoutMs ?? 120_000,
        maxOutputBytes: config.maxOutputBytes ?? 100_000,
        env: { ...(config.inheritEnv ? definedEnv(process.env) : {}), ...config.env },
      };
      this.id = `local-${Math.random().toString(16).slice(2, 10)}`;
    }
    // Not enumerable, as deepagents' own backends define it: invisible to spreads and JSON.
    Object.defineProperty(this, DEEPAGENTS_REALPATH, {
      value: (path: string) => this.realpathFor(path),
      enumerable: false,
      configurable: true,
    });
    this.capabilities = {
      execute: this.shell !== undefined,
      nativeGrep: true,
      conditionalWrites: true,
      realDirectories: true,
      readOnly: settings.readOnly,
    };
  }

  /**
   * Runs a shell command in `rootDir` (only when the `execute` option is set). Not a security
   * sandbox: see {@link LocalExecuteOptions}.
   */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse> {
    if (!this.shell) {
      return { output: "Error: execute is not enabled for this LocalBackend", exitCode: 1, truncated: false };
    }
    return runShell(command, this.shell, this.running, options);
  }

  /** Kills commands still running and releases the history directory; the files stay. */
  async close(): Promise<void> {
    await this.driver.history?.close();
    for (const child of this.running) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    this.running.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** A file path argument: virtual, or in non-virtual mode absolute or relative to `rootDir`. */
  protected override fileArgument(raw: string): string {
    if (this.virtualMode || typeof raw !== "string" || raw.startsWith("/")) return raw;
    const checked = checkPath(raw);
    return checked.ok ? `${this.rootDir}${checked.path}` : raw;
  }

  /** A directory argument (empty means the root, which is `rootDir` in non-virtual mode). */
  protected override dirArgument<T extends string | null | undefined>(raw: T): T | string {
    if (this.virtualMode) return raw;
    if (raw === undefined || raw === null || raw === "") return this.rootDir;
    return this.fileArgument(raw);
  }

  /**
   * deepagents' realpath hook: the path that an operation on `raw` touches, with symlinks resolved
   * (dangling ones followed, missing trailing names kept), virtual in virtual mode. Throws for a
   * path that is invalid or resolves outside the root, which deepagents reports to the model.
   */
  private async realpathFor(raw: string): Promise<string> {
    const checked = checkPath(this.fileArgument(raw));
    if (!checked.ok) throw new DeepfsError(checked.code, checked.error);
    const root = this.driver.root;
    const real = await resolveHostPath(root.hostOf(checked.path));
    if (!root.contains(real)) {
      throw new DeepfsError("permission_denied", `'${checked.path}' resolves outside the root directory`);
    }
    return root.virtualOf(real);
  }
}

/** The name deepagents users know: the same class. */
export { LocalBackend as FilesystemBackend };

/** Validates the options (throwing `DeepfsError`) and opens the root directory. */
function driverSettings(options: LocalBackendOptions): LocalDriverSettings & { rootDir: string } {
  const maxFileSizeMb = options.maxFileSizeMb ?? 10;
  if (!(typeof maxFileSizeMb === "number" && maxFileSizeMb > 0)) {
    throw new DeepfsError("invalid_argument", "maxFileSizeMb must be a positive number");
  }
  // Edits never make a file this backend cannot read; grep's answer has the bounds given, if any.
  const limits = { maxFileBytes: Math.floor(maxFileSizeMb * 1024 * 1024), ...grepLimits(options) };
  const readOnly = options.readOnly ?? false;
  const virtualMode = options.virtualMode ?? true;
  const rootDir = openRootDir(resolveHost(options.rootDir ?? process.cwd()), readOnly);
  if (!virtualMode && !checkPath(rootDir).ok) {
    throw new DeepfsError("invalid_argument", "rootDir must be a plain POSIX path in non-virtual mode");
  }
  const syncIoMaxBytes = options.syncIoMaxBytes ?? DEFAULT_SYNC_IO_MAX_BYTES;
  if (!(Number.isSafeInteger(syncIoMaxBytes) && syncIoMaxBytes >= 0)) {
    throw new DeepfsError("invalid_argument", "syncIoMaxBytes must be a non-negative integer");
  }
  const execute = options.execute === true ? {} : options.execute;
  const problem = execute && execute.timeoutMs !== undefined ? timeoutProblem(execute.timeoutMs) : null;
  if (problem !== null) throw new DeepfsError("invalid_argument", `execute.${problem}`);
  const root = new HostRoot(virtualMode ? rootDir : "/");
  const history = resolveHistoryOption(options.history, rootDir, virtualMode);
  return {
    rootDir,
    root,
    virtualMode,
    readOnly,
    maxBytes: limits.maxFileBytes,
    maxGrepBytes: limits.maxFileBytes,
    limits,
    fsync: options.fsync ?? false,
    io: new IoMode(syncIoMaxBytes),
    grep: new GrepEngines(options.grepEngine ?? "auto", options.ripgrepPath ?? "rg"),
    // Last: it opens (or shares) the history and takes its lock, which nothing after it may leave held by a throw.
    ...(history ? { history: openHistory(history, root) } : {}),
  };
}

/** `maxGrepMatches` and `maxGrepTextLength` as given (whole numbers >= 1); the facade's defaults otherwise. */
function grepLimits(options: LocalBackendOptions): { maxGrepMatches?: number; maxGrepTextLength?: number } {
  const limits: { maxGrepMatches?: number; maxGrepTextLength?: number } = {};
  for (const name of ["maxGrepMatches", "maxGrepTextLength"] as const) {
    const value = options[name];
    if (value === undefined) continue;
    if (!(Number.isSafeInteger(value) && value >= 1)) {
      throw new DeepfsError("invalid_argument", `${name} must be a positive integer`);
    }
    limits[name] = value;
  }
  return limits;
}

/** Creates the root directory when allowed and returns its real path; throws for an unusable one. */
function openRootDir(rootDir: string, readOnly: boolean): string {
  try {
    if (!statSync(rootDir).isDirectory()) {
      throw new DeepfsError("not_a_directory", `rootDir ${rootDir} is not a directory`);
    }
  } catch (error) {
    if (DeepfsError.isInstance(error)) throw error;
    if (errnoCode(error) !== "ENOENT" || readOnly) {
      throw new DeepfsError("invalid_argument", `rootDir ${rootDir} cannot be used (${errnoCode(error)})`, {
        cause: error,
      });
    }
    mkdirSync(rootDir, { recursive: true });
  }
  return realpathSync(rootDir);
}

function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
