import { randomBytes } from "node:crypto";
import {
  BaseSandbox,
  checkPath,
  type ErrorFields,
  type ExecuteOptions,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileUploadResponse,
  failure,
  type LimitedDownload,
  type ReadRawResult,
} from "@deepfs/core";
import { SandboxContainer } from "./container.js";
import { DockerExec } from "./docker-exec.js";
import { retireSandbox } from "./internal.js";
import { type DockerSandboxOptions, dockerClient, resolveOptions } from "./options.js";
import { DockerTransfer } from "./transfer.js";

/**
 * A Docker container that stores an agent's files and runs its commands.
 *
 * Paths are the container's own absolute paths (`/workspace/app.py`), the same ones `execute`
 * sees. Every command and file operation runs as the sandbox user (non-root by default), so the
 * kernel enforces that user's permissions. The container starts lazily on first use (or with
 * {@link start}), with no network, no capabilities, `no-new-privileges`, and memory, CPU and pids
 * limits. Files live only as long as the container: when it dies or is removed from outside, calls
 * return `backend_unavailable` until {@link start} brings up a fresh, empty one.
 *
 * File transfers and the commands behind `ls`, `glob`, `grep`, `delete` and `readRaw` go through
 * up to three long-lived shells in the container (channel.ts), opened on first use, instead of a
 * Docker exec each: a small write or read costs a few milliseconds rather than about 60.
 * `execute` always runs its own exec. Those shells run as the sandbox user, so the agent's
 * commands can tamper with them: every answer is bounded by what its request can need, and a
 * channel that exceeds it is killed and replaced. `read`, `readRaw`, `edit` and `grep` never
 * transfer a file larger than `maxFileSizeMb` (its size is checked in the container).
 *
 * Writes are atomic: every file, new or replaced, is written under a temporary name next to it
 * (core's `internalTempName`, `.deepfs\<nonce>-<n>.tmp`, which no user path can name; never listed
 * nor searched) and renamed into place, so a concurrent
 * reader sees the old content or the new one. A replaced file keeps its permission bits and
 * `created_at`, but it is a new inode owned by the sandbox user (a hard link to the old one keeps
 * the old content); in a directory the user may not write, it is overwritten in place instead.
 *
 * The container's life is container.ts, command execution docker-exec.ts, file transfer transfer.ts.
 */
export class DockerSandbox extends BaseSandbox {
  readonly id: string;

  private readonly box: SandboxContainer;
  private readonly exec: DockerExec;
  private readonly transfer: DockerTransfer;
  private readonly runtimeImage: string;

  /**
   * A sandbox over an existing, running container (a name or an id), which it never creates,
   * changes or removes: `close()` only detaches. See {@link DockerSandboxOptions.attach}.
   */
  static attach(container: string, options: Omit<DockerSandboxOptions, "attach"> = {}): DockerSandbox {
    return new DockerSandbox({ ...options, attach: container });
  }

  constructor(options: DockerSandboxOptions = {}) {
    super({
      maxFileSizeMb: options.maxFileSizeMb,
      maxGrepMatches: options.maxGrepMatches,
      maxGrepTextLength: options.maxGrepTextLength,
    });
    const id = options.id ?? options.attach ?? `deepfs-${randomBytes(6).toString("hex")}`;
    const config = resolveOptions(options, id);
    this.id = id;
    this.exec = new DockerExec(config);
    this.box = new SandboxContainer(id, dockerClient(options), config, this.exec);
    this.transfer = new DockerTransfer(this.box, this.exec);
    this.runtimeImage = config.runtime.image;
  }

  /** The image the container runs. */
  get image(): string {
    return this.runtimeImage;
  }

  /** Calls (`execute`, transfers and the methods built on them) running right now. */
  get activeCalls(): number {
    return this.box.activeCalls;
  }

  /** When the last call started or ended (ms since the epoch); construction counts as a use. */
  get lastUsedAt(): number {
    return this.box.lastUsedAt;
  }

  /**
   * Starts the container if it is not running. Idempotent; concurrent calls share one start. After
   * the container was lost, brings up a fresh one. Throws a `DeepfsError` (`backend_unavailable`)
   * when the image is missing or the engine refuses.
   */
  start(): Promise<void> {
    return this.box.start();
  }

  /** True when the sandbox attached to a container it did not create (see {@link attach}). */
  get attached(): boolean {
    return this.box.attached;
  }

  /**
   * Removes the container and its files (an attached container: only detaches). Idempotent; a
   * later call starts a fresh container (or attaches again).
   */
  stop(): Promise<void> {
    return this.box.stop();
  }

  /** Removes the container for good: later calls and `start()` give `backend_unavailable`. */
  [retireSandbox](reason: string): Promise<void> {
    return this.box.retire(reason);
  }

  /** Same as {@link stop}; also what `await using` calls. */
  override close(): Promise<void> {
    return this.stop();
  }

  /**
   * Runs `command` with `sh -c` as the sandbox user in the workdir, stdin closed. stdout and stderr
   * are combined in arrival order and capped at `maxOutputBytes` (`truncated`). A command past its
   * time limit is killed with all its descendants and gets exit code 124; the output says so.
   */
  async execute(command: string, options?: ExecuteOptions): Promise<ExecuteResponse & ErrorFields> {
    if (typeof command !== "string" || command === "") {
      return {
        output: "Error: command must be a non-empty string",
        exitCode: null,
        truncated: false,
        ...failure("invalid_argument", "command must be a non-empty string"),
      };
    }
    return this.box.session(
      ({ container }) => this.exec.command(container, command, options),
      (fault) => ({ output: `Error: ${fault.error}`, exitCode: null, truncated: false, ...fault }),
      "Command",
    );
  }

  /**
   * Writes files with their exact bytes, as the sandbox user, so a path the user may not write
   * gives `permission_denied`; parents are created; each file appears whole (renamed into place).
   * One request to one of the container's shell channels (no exec), or past 8 MiB one exec fed a
   * tar. Input order is kept.
   */
  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    return this.transfer.upload(files);
  }

  /**
   * Reads files with their exact bytes, as the sandbox user: one request to one of the container's
   * shell channels (no exec), or past 8 MiB one exec that streams them as a tar. Input order is
   * kept; a missing file gives `file_not_found`, a directory `is_directory`, an unreadable file
   * `permission_denied`. Whole files, whatever their size (`maxFileSizeMb` bounds `read`, `readRaw`,
   * `edit` and `grep`, not downloads): they are held in memory, so check sizes (`ls`) before
   * downloading what a command of the agent's may have made large.
   */
  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    return this.transfer.download(paths);
  }

  /** Downloads that never send a file over `maxBytes`: its size is checked in the container. */
  protected override downloadWithin(paths: string[], maxBytes: number): Promise<LimitedDownload[]> {
    return this.transfer.download(paths, maxBytes);
  }

  /**
   * As BaseSandbox's, except that a file this sandbox replaced reports the `created_at` of the
   * file it replaced (the replacement is a new inode with a birth time of its own).
   */
  override async readRaw(filePath: string): Promise<ReadRawResult> {
    const result = await super.readRaw(filePath);
    const checked = checkPath(filePath);
    if (!result.data || !checked.ok) return result;
    const known = (await this.box.current())?.births.get(checked.path);
    if (!known || result.data.created_at !== isoSeconds(known.replaced)) return result;
    return { ...result, data: { ...result.data, created_at: isoSeconds(known.created) } };
  }

  /**
   * Runs BaseSandbox's own commands (listings, searches, deletes, `stat`s) through a channel
   * (`deepfs_run`), with `execute`'s output cap and `truncated` flag; through `execute` when no
   * channel can run it. A command that stays silent for 30 s there is killed and redone by
   * `execute`, which applies `timeoutMs`.
   */
  protected override async runCommand(command: string): Promise<ExecuteResponse> {
    const reply = await this.box.session(
      (running) =>
        running.channels.run(this.exec.channelRequest(), Buffer.from(command), this.exec.channelReplyLimit()),
      () => undefined,
      "Command",
    );
    return this.exec.channelResponse(reply) ?? this.execute(command);
  }
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}
