import type { HistoryRetention } from "@deepfs/core";

/** How `grep` searches: ripgrep when it is on PATH (`auto`), always ripgrep, or the built-in search. */
export type GrepEngine = "auto" | "ripgrep" | "builtin";

/**
 * Local shell execution. **Not a security sandbox**: commands run on the host with the permissions
 * of this process; the only isolation is the working directory and the environment given here.
 */
export interface LocalExecuteOptions {
  /** Per-command timeout; on expiry the whole process group is killed and the exit code is 124. Default 120000. */
  timeoutMs?: number;
  /** Cap on the combined stdout+stderr kept, in bytes; more sets `truncated`. Default 100000. */
  maxOutputBytes?: number;
  /** Environment of every command (added to the inherited one when `inheritEnv` is true). */
  env?: Record<string, string>;
  /** Start from this process's environment. Default false: commands see only `env`. */
  inheritEnv?: boolean;
}

/**
 * The `history` option of a LocalBackend as an object: retention, and where the versions are kept
 * (default `<rootDir>.deepfs-history`, beside the root; never inside it).
 */
export interface LocalHistoryOptions extends HistoryRetention {
  /** The history directory: created when missing; refused when inside `rootDir`. */
  dir?: string;
}

/** Options of {@link LocalBackend}. */
export interface LocalBackendOptions {
  /** The directory that holds the files (created when missing unless `readOnly`). Default: the current directory. */
  rootDir?: string;
  /**
   * Default true: every path is a virtual path inside `rootDir` (`/a.txt` is `rootDir/a.txt`) and
   * symlinks cannot lead outside it. False: paths are real absolute paths (relative ones resolve
   * against `rootDir`), as in deepagents' FilesystemBackend; paths are still validated, but there
   * is no containment.
   */
  virtualMode?: boolean;
  /** Every mutation answers `read_only`. Default false. */
  readOnly?: boolean;
  /**
   * Largest file that `read`, `readRaw`, `edit` and `grep` look at, in MiB; an edit never makes a
   * file larger than this (`too_large`), so every edited file can be read back. Default 10.
   */
  maxFileSizeMb?: number;
  /**
   * Most matching lines a `grep` answers when its `maxCount` allows more (or it has none): past
   * them the search stops at once and answers `too_large` (search a narrower path or glob, or pass
   * `maxCount`). A whole number >= 1. Default 1,000,000.
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines' text a `grep` answers: past them the
   * search stops at once and answers `too_large`, so a few files of very long lines cannot make
   * the process hold a huge answer. A whole number >= 1. Default 268,435,456 (256 Mi).
   */
  maxGrepTextLength?: number;
  /** `fsync` each written file before it is renamed into place (durable across power loss, slower). Default false. */
  fsync?: boolean;
  /**
   * Files up to this many bytes are read, written and edited with blocking (synchronous) calls,
   * and the path checks of reads and edits use them too: on a local disk a small-file call then
   * blocks the event loop for up to a few hundred µs instead of making ~8 threadpool round trips,
   * which is 5-10x faster. The guarantees are the same (containment, atomic replace, locks,
   * etags), and a loop of such calls yields to the event loop every ~10 ms. Larger files go
   * through the threadpool as before. Set 0 to make every call asynchronous, for example on a
   * network filesystem that can hang. Default 65536.
   */
  syncIoMaxBytes?: number;
  /**
   * Which grep implementation to use. `builtin`: a walk of the tree, every file read and searched on
   * worker threads. `ripgrep`: ripgrep lists the files holding the pattern, which are then read and
   * searched the same way (the contract's rules: whole-file UTF-8, no NUL, containment). `auto`
   * (default): the built-in search where worker threads can run (Linux), as it was measured as fast
   * or faster; ripgrep, when on PATH, for searches with `maxCount` and where they cannot.
   */
  grepEngine?: GrepEngine;
  /** The ripgrep executable. Default `rg` (looked up on PATH). */
  ripgrepPath?: string;
  /** Enables `execute` (and `id`), making the backend a `SandboxBackendProtocol`. Off by default. */
  execute?: boolean | LocalExecuteOptions;
  /**
   * Version history (issue #22): `true`, or `{ dir?, maxVersions?, maxAgeMs? }`. Every change is
   * kept as a version in a directory outside the root (content-addressed objects and an
   * append-only, fsync'd log; see the README's "History on disk"), so the history methods work:
   * `history`, `readVersion`, `restore`, `snapshot`, `changesSince`, `restoreSnapshot`. Files
   * already there when history is turned on become first versions. Backends of this process on one
   * root share its history (released by the last `close()`); a backend in another process is refused
   * until then. Virtual mode only.
   * Off by default: nothing is written outside the root and the history methods answer `unsupported`.
   */
  history?: boolean | LocalHistoryOptions;
}
