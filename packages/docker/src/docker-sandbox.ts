import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { PassThrough } from "node:stream";
import {
  BaseSandbox,
  checkPath,
  DeepfsError,
  type ErrorCode,
  type ErrorFields,
  type ExecuteOptions,
  type ExecuteResponse,
  type FileDownloadResponse,
  type FileOperationError,
  type FileUploadResponse,
  failure,
  type ReadRawResult,
  shellQuote,
} from "@deepfs/core";
import Docker from "dockerode";
import { type ArchiveOwner, buildArchive, buildDirArchive, readArchive } from "./archive.js";
import { ShellChannel } from "./channel.js";
import { ChannelPool } from "./channel-pool.js";
import {
  ContainerStoppedError,
  classifyContainerError,
  describeDockerError,
  httpStatus,
  SandboxUnavailableError,
} from "./errors.js";
import { type ExecSpec, runExec } from "./exec.js";
import { ensureRuntimeImage } from "./image-build.js";
import { retireSandbox } from "./internal.js";
import {
  DEFAULTS,
  type DockerSandboxOptions,
  MANAGED_LABEL,
  OWNER_HOST_LABEL,
  OWNER_PID_LABEL,
  type ResolvedSandboxOptions,
  SANDBOX_LABEL,
} from "./options.js";
import { CappedOutput } from "./output.js";
import { resolveRuntime } from "./runtimes.js";
import { DOWNLOAD_SCRIPT, IDENTITY_SCRIPT, KEEPALIVE_SCRIPT, KILL_SCRIPT, UPLOAD_SCRIPT } from "./scripts.js";

/** A started container and what the sandbox learnt about it. */
interface Running {
  container: Docker.Container;
  owner: ArchiveOwner;
  /** Shells in the container that run the transfers' scripts without an exec each. */
  channels: ChannelPool;
  /** Creation times of files this sandbox replaced, by path (see {@link DockerSandbox.readRaw}). */
  births: Map<string, ReplacedBirth>;
}

/**
 * A file replaced by an upload is a new inode with a new birth time; `created_at` must stay the
 * first one's. Seconds since the epoch, as `stat -c %W` prints them.
 */
interface ReplacedBirth {
  /** Birth time of the file the upload left. */
  replaced: number;
  /** Birth time of the first file at the path, which `created_at` reports while `replaced` is there. */
  created: number;
}

/** What an internal script left. */
interface Captured {
  exitCode: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** One status word per path of a download batch, and the bytes of those whose status is `ok`. */
interface DownloadedBatch {
  statuses: string[];
  files: Map<string, Uint8Array>;
}

// Keeps one exec's argument list far below the kernel's limits (128 KiB per argument string list).
const MAX_BATCH_FILES = 500;
const MAX_BATCH_ARG_BYTES = 64 * 1024;
// Transient daemon faults: attempts and first backoff of idempotent Docker calls.
const RETRY_ATTEMPTS = 3;
const RETRY_BASE_MS = 100;
const EXIT_TIMEOUT = 124;
const EXIT_ABORTED = 130;
const EXIT_SIGKILL = 137;
// Channels per container: enough for a few concurrent transfers, few enough to stay small.
const CHANNELS_PER_CONTAINER = 3;
// Transfers larger than this stream through their own exec instead of being staged by a channel.
const CHANNEL_MAX_BYTES = 8 * 1024 * 1024;
// A channel request without a byte of answer for this long is killed and redone through an exec.
const CHANNEL_STALL_MS = 30_000;
// Replaced files whose creation time is remembered, per container (the oldest are forgotten first).
const MAX_REMEMBERED_BIRTHS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
 * `execute` always runs its own exec.
 *
 * Writes are atomic: every file, new or replaced, is written under a temporary name next to it
 * (core's `internalTempName`, `.deepfs\<nonce>-<n>.tmp`, which no user path can name; never listed
 * nor searched) and renamed into place, so a concurrent
 * reader sees the old content or the new one. A replaced file keeps its permission bits and
 * `created_at`, but it is a new inode owned by the sandbox user (a hard link to the old one keeps
 * the old content); in a directory the user may not write, it is overwritten in place instead.
 */
export class DockerSandbox extends BaseSandbox {
  readonly id: string;

  private readonly docker: Docker;
  private readonly config: ResolvedSandboxOptions;
  private starting: Promise<Running> | undefined;
  /** Why the container is gone, once it was lost; cleared by {@link start}. */
  private lostReason: string | undefined;
  /** Why the sandbox may no longer be used at all (its session ended); never cleared. */
  private retiredReason: string | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private lastUse = Date.now();
  /** Removal of a lost container, awaited before its name is reused. */
  private removing: Promise<void> | undefined;

  constructor(options: DockerSandboxOptions = {}) {
    super();
    const runtime = resolveRuntime(options.runtime, options.image);
    const workdir = options.workdir ?? runtime.workdir ?? DEFAULTS.workdir;
    const checkedWorkdir = checkPath(workdir);
    if (!checkedWorkdir.ok || !workdir.startsWith("/")) {
      throw new DeepfsError("invalid_argument", `workdir must be an absolute path, got ${JSON.stringify(workdir)}`);
    }
    this.id = options.id ?? `deepfs-${randomBytes(6).toString("hex")}`;
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(this.id)) {
      throw new DeepfsError("invalid_argument", `id ${JSON.stringify(this.id)} is not a valid container name`);
    }
    this.config = {
      runtime,
      workdir: checkedWorkdir.path,
      env: { ...runtime.env, ...options.env },
      memoryMb: positive("memoryMb", options.memoryMb ?? DEFAULTS.memoryMb),
      cpus: positive("cpus", options.cpus ?? DEFAULTS.cpus),
      pidsLimit: positive("pidsLimit", options.pidsLimit ?? DEFAULTS.pidsLimit),
      network: options.network ?? DEFAULTS.network,
      user: options.user ?? DEFAULTS.user,
      timeoutMs: positive("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
      maxOutputBytes: positive("maxOutputBytes", options.maxOutputBytes ?? DEFAULTS.maxOutputBytes),
      labels: { ...options.labels },
      idleTimeoutMs: options.idleTimeoutMs === undefined ? undefined : positive("idleTimeoutMs", options.idleTimeoutMs),
    };
    for (const key of Object.keys(this.config.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
        throw new DeepfsError("invalid_argument", `env name ${JSON.stringify(key)} is not valid`);
    }
    this.docker = options.docker instanceof Docker ? options.docker : new Docker(options.docker);
  }

  /** Calls (`execute`, transfers and the methods built on them) running right now. */
  get activeCalls(): number {
    return this.inFlight;
  }

  /** When the last call started or ended (ms since the epoch); construction counts as a use. */
  get lastUsedAt(): number {
    return this.lastUse;
  }

  /** The image the container runs. */
  get image(): string {
    return this.config.runtime.image;
  }

  /**
   * Starts the container if it is not running. Idempotent; concurrent calls share one start. After
   * the container was lost, brings up a fresh one. Throws a `DeepfsError` (`backend_unavailable`)
   * when the image is missing or the engine refuses.
   */
  async start(): Promise<void> {
    if (this.retiredReason !== undefined) {
      throw new DeepfsError("backend_unavailable", `Sandbox ${this.id} cannot start: ${this.retiredReason}`);
    }
    this.lostReason = undefined;
    try {
      await this.running();
    } catch (error) {
      if (DeepfsError.isInstance(error)) throw error;
      throw new DeepfsError("backend_unavailable", `Sandbox ${this.id} could not start: ${reasonOf(error)}`, {
        cause: error,
      });
    }
  }

  /** Removes the container and its files. Idempotent; a later call starts a fresh container. */
  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const pending = this.starting;
    this.starting = undefined;
    this.lostReason = undefined;
    const running = await pending?.catch(() => undefined);
    running?.channels.close();
    if (running) await removeQuietly(running.container);
    await this.removing;
  }

  /** Removes the container for good: later calls and `start()` give `backend_unavailable`. */
  async [retireSandbox](reason: string): Promise<void> {
    this.retiredReason = reason;
    await this.stop();
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
    const timeoutMs = options?.timeoutMs ?? this.config.timeoutMs;
    return this.session(
      async ({ container }) => {
        const token = randomBytes(8).toString("hex");
        const output = new CappedOutput(this.config.maxOutputBytes);
        const sink = output.sink();
        const spec = this.spec(["/bin/sh", "-c", command], { DEEPFS_EXEC_ID: token });
        const outcome = await runExec(container, spec, sink, sink, {
          ms: timeoutMs,
          signal: options?.signal,
          kill: () => this.killCommand(container, token),
        });
        // No exit code, or SIGKILL: perhaps the container itself was killed or removed from
        // outside, taking the command with it.
        if (outcome.exitCode === null || outcome.exitCode === EXIT_SIGKILL) await assertRunning(container);
        let text = output.text();
        if (!outcome.stopped) return { output: text, exitCode: outcome.exitCode, truncated: output.truncated };
        if (text !== "" && !text.endsWith("\n")) text += "\n";
        text +=
          outcome.stopped === "timeout"
            ? `Error: command timed out after ${formatDuration(timeoutMs)} and was killed (exit code ${EXIT_TIMEOUT})`
            : `Error: command was aborted and killed (exit code ${EXIT_ABORTED})`;
        return {
          output: text,
          exitCode: outcome.stopped === "timeout" ? EXIT_TIMEOUT : EXIT_ABORTED,
          truncated: output.truncated,
        };
      },
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
    const results: FileUploadResponse[] = new Array(files.length);
    const todo: Array<{ index: number; path: string; bytes: Uint8Array }> = [];
    files.forEach(([rawPath, bytes], index) => {
      const checked = checkPath(rawPath);
      if (!checked.ok) {
        results[index] = { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
      } else if (!(bytes instanceof Uint8Array)) {
        results[index] = {
          path: checked.path,
          error: "invalid_path",
          code: "invalid_argument",
          message: `Content for '${checked.path}' must be bytes`,
        };
      } else {
        todo.push({ index, path: checked.path, bytes });
      }
    });
    for (const batch of batches(todo)) {
      const statuses = await this.session(
        (running) => this.uploadBatch(running, batch),
        (fault) => fault,
        "Upload",
      );
      batch.forEach((item, i) => {
        results[item.index] = Array.isArray(statuses)
          ? uploadResult(item.path, statuses[i]?.split(" ")[0])
          : { path: item.path, error: "permission_denied", code: statuses.code, message: statuses.error };
      });
    }
    return results;
  }

  /**
   * Reads files with their exact bytes, as the sandbox user: one request to one of the container's
   * shell channels (no exec), or past 8 MiB one exec that streams them as a tar. Input order is
   * kept; a missing file gives `file_not_found`, a directory `is_directory`, an unreadable file
   * `permission_denied`.
   */
  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const results: FileDownloadResponse[] = new Array(paths.length);
    const todo: Array<{ index: number; path: string }> = [];
    paths.forEach((rawPath, index) => {
      const checked = checkPath(rawPath);
      if (checked.ok) todo.push({ index, path: checked.path });
      else
        results[index] = {
          path: rawPath,
          content: null,
          error: "invalid_path",
          code: "invalid_path",
          message: checked.error,
        };
    });
    for (const batch of batches(todo)) {
      const unique = [...new Set(batch.map((item) => item.path))];
      const found = await this.session(
        (running) => this.downloadBatch(running, unique),
        (fault) => fault,
        "Download",
      );
      for (const item of batch) {
        if (!(found instanceof Map)) {
          results[item.index] = {
            path: item.path,
            content: null,
            error: "file_not_found",
            code: found.code,
            message: found.error,
          };
          continue;
        }
        const entry = found.get(item.path);
        results[item.index] =
          entry instanceof Uint8Array
            ? { path: item.path, content: entry.slice(), error: null }
            : { path: item.path, content: null, ...downloadFailure(item.path, entry ?? "file_not_found") };
      }
    }
    return results;
  }

  /**
   * As BaseSandbox's, except that a file this sandbox replaced reports the `created_at` of the
   * file it replaced (the replacement is a new inode with a birth time of its own).
   */
  override async readRaw(filePath: string): Promise<ReadRawResult> {
    const result = await super.readRaw(filePath);
    const checked = checkPath(filePath);
    if (!result.data || !checked.ok) return result;
    const running = await this.starting?.catch(() => undefined);
    const known = running?.births.get(checked.path);
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
    const max = this.config.maxOutputBytes;
    const reply = await this.session(
      (running) => running.channels.run(`deepfs_run ${max + 1}`, Buffer.from(command)),
      () => undefined,
      "Command",
    );
    // A non-zero status: the image lacks `head`, or the channel could not run the command at all.
    if (reply?.status !== 0) return this.execute(command);
    const output = new CappedOutput(max);
    output.push(reply.stdout);
    const exitCode = Number.parseInt(reply.stderr.toString("latin1"), 10);
    return {
      output: output.text(),
      exitCode: Number.isSafeInteger(exitCode) ? exitCode : null,
      truncated: output.truncated,
    };
  }

  /** Runs `work` on the started container, turning Docker faults into the caller's failure value. */
  private async session<T, F>(
    work: (running: Running) => Promise<T>,
    onFault: (fault: { error: string; code: ErrorCode }) => F,
    what: string,
  ): Promise<T | F> {
    this.inFlight++;
    this.lastUse = Date.now();
    try {
      const running = await this.running();
      return await work(running);
    } catch (error) {
      return onFault(this.fault(error, what));
    } finally {
      this.inFlight--;
      this.lastUse = Date.now();
      this.touch();
    }
  }

  /** The running container, started on first use; fails while the container is lost. */
  private running(): Promise<Running> {
    if (this.retiredReason !== undefined) return Promise.reject(new SandboxUnavailableError(this.retiredReason));
    if (this.lostReason !== undefined) {
      return Promise.reject(
        new SandboxUnavailableError(
          `the sandbox container was lost (${this.lostReason}) with its files; call start() for a fresh one`,
        ),
      );
    }
    if (!this.starting) {
      const launching = this.launch();
      this.starting = launching;
      // A failed start is not cached: the next call tries again.
      launching.catch(() => {
        if (this.starting === launching) this.starting = undefined;
      });
    }
    return this.starting;
  }

  private async launch(): Promise<Running> {
    const { runtime, user, workdir } = this.config;
    await this.ensureImage(runtime.image);
    // A container of an earlier life of this sandbox (lost or crashed) may still hold the name.
    await this.removing;
    await removeQuietly(this.docker.getContainer(this.id));
    const container = await this.retry(() =>
      this.docker.createContainer({
        name: this.id,
        Image: runtime.image,
        Entrypoint: ["/bin/sh", "-c", KEEPALIVE_SCRIPT],
        Cmd: [],
        User: user,
        WorkingDir: workdir,
        Env: this.envList(),
        Labels: {
          ...this.config.labels,
          [MANAGED_LABEL]: "1",
          [SANDBOX_LABEL]: this.id,
          [OWNER_PID_LABEL]: String(process.pid),
          [OWNER_HOST_LABEL]: hostname(),
        },
        Tty: false,
        OpenStdin: false,
        HostConfig: {
          NetworkMode: this.config.network,
          Memory: Math.round(this.config.memoryMb * 1024 * 1024),
          MemorySwap: Math.round(this.config.memoryMb * 1024 * 1024),
          NanoCpus: Math.round(this.config.cpus * 1e9),
          PidsLimit: Math.round(this.config.pidsLimit),
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          Init: false,
        },
      }),
    );
    try {
      await container.start();
      const owner = await this.prepare(container);
      const channels = new ChannelPool(
        () =>
          ShellChannel.open(
            container,
            { user, workdir, env: this.envList() },
            { stallMs: CHANNEL_STALL_MS, kill: (token) => this.killCommand(container, token) },
          ),
        CHANNELS_PER_CONTAINER,
      );
      return { container, owner, channels, births: new Map() };
    } catch (error) {
      await removeQuietly(container);
      throw error;
    }
  }

  /** Learns the user's uid/gid, makes the workdir theirs, runs the runtime's setup commands. */
  private async prepare(container: Docker.Container): Promise<ArchiveOwner> {
    const { workdir, runtime } = this.config;
    const identity = await this.capture(container, ["/bin/sh", "-c", IDENTITY_SCRIPT, "sh", workdir]);
    const [uid, gid, writable] = identity.stdout.toString("utf8").trim().split(" ");
    const owner = { uid: Number(uid), gid: Number(gid) };
    if (identity.exitCode !== 0 || !Number.isInteger(owner.uid) || !Number.isInteger(owner.gid)) {
      throw new DeepfsError(
        "backend_unavailable",
        `Sandbox user '${this.config.user}' is unusable in image '${runtime.image}'`,
      );
    }
    if (writable !== "w") {
      // The image lacks the workdir or it belongs to someone else: the daemon creates or re-owns it.
      await container.putArchive(await buildDirArchive(workdir.slice(1), owner), { path: "/" });
    }
    for (const [i, command] of (runtime.setupCommands ?? []).entries()) {
      const result = await this.capture(container, ["/bin/sh", "-c", command]);
      if (result.exitCode !== 0) {
        throw new DeepfsError(
          "backend_unavailable",
          `Setup command ${i + 1} of image '${runtime.image}' exited with ${result.exitCode}: ${result.stderr.toString("utf8").slice(-500)}`,
        );
      }
    }
    return owner;
  }

  /** Builds a missing image from the runtime's recipe, or pulls it (see image-build.ts). */
  private async ensureImage(image: string): Promise<void> {
    await ensureRuntimeImage(this.docker, { ...this.config.runtime, image }, (call) => this.retry(call));
  }

  private async uploadBatch(running: Running, batch: Array<{ path: string; bytes: Uint8Array }>): Promise<string[]> {
    const nonce = randomBytes(6).toString("hex");
    const result =
      (await this.uploadThroughChannel(running, batch, nonce)) ?? (await this.uploadThroughExec(running, batch, nonce));
    const stdout = result.stdout.toString("utf8");
    if (result.exitCode !== 0 && stdout === "") {
      throw new SandboxUnavailableError(`the upload could not be unpacked in the sandbox (exit ${result.exitCode})`);
    }
    const statuses = stdout.split("\n").slice(0, batch.length);
    for (const [i, item] of batch.entries()) rememberBirth(running.births, item.path, statuses[i]);
    return statuses;
  }

  /** Uploads with a channel's `deepfs_upload`: the files' bytes one after another, no tar. */
  private async uploadThroughChannel(
    running: Running,
    batch: Array<{ path: string; bytes: Uint8Array }>,
    nonce: string,
  ): Promise<Captured | undefined> {
    if (batch.reduce((total, item) => total + item.bytes.byteLength, 0) > CHANNEL_MAX_BYTES) return undefined;
    const input = Buffer.concat(batch.map((item) => item.bytes));
    const args = batch.flatMap((item) => [String(item.bytes.byteLength), shellQuote(item.path)]);
    const reply = await running.channels.run(`deepfs_upload ${nonce} ${args.join(" ")}`, input);
    return reply && { exitCode: reply.status, stdout: reply.stdout, stderr: reply.stderr };
  }

  /** Uploads through an exec of its own, fed a tar of the files. */
  private async uploadThroughExec(
    running: Running,
    batch: Array<{ path: string; bytes: Uint8Array }>,
    nonce: string,
  ): Promise<Captured> {
    const archive = await buildArchive(batch.map((item, i) => ({ name: String(i + 1), bytes: item.bytes })));
    const cmd = ["/bin/sh", "-c", UPLOAD_SCRIPT, "sh", `/tmp/.deepfs-up-${nonce}`, nonce, ...batch.map((i) => i.path)];
    return this.capture(running.container, cmd, archive);
  }

  private async downloadBatch(running: Running, paths: string[]): Promise<Map<string, Uint8Array | string>> {
    const { statuses, files } =
      (await this.downloadThroughChannel(running, paths)) ?? (await this.downloadThroughExec(running, paths));
    // A readable file missing from the answer vanished meanwhile, or the container went away (cutting the tar).
    if (paths.some((path, i) => statuses[i] === "ok" && !files.has(path))) await assertRunning(running.container);
    const found = new Map<string, Uint8Array | string>();
    paths.forEach((path, i) => {
      const status = statuses[i] ?? "failed";
      found.set(path, status === "ok" ? (files.get(path) ?? "file_not_found") : status);
    });
    return found;
  }

  /**
   * Downloads with a channel's `deepfs_download`; undefined when the files are too large for a
   * channel, or changed under it (the sizes and bytes disagree), or no channel could run it.
   */
  private async downloadThroughChannel(running: Running, paths: string[]): Promise<DownloadedBatch | undefined> {
    const reply = await running.channels.run(`deepfs_download ${CHANNEL_MAX_BYTES} ${paths.map(shellQuote).join(" ")}`);
    if (reply?.status !== 0) return undefined;
    const lines = reply.stderr.toString("utf8").split("\n");
    const statuses = lines.slice(0, paths.length);
    const sizes = lines.slice(paths.length, -1).map(Number);
    const readable = paths.filter((_, i) => statuses[i] === "ok");
    if (sizes.length !== readable.length || sizes.reduce((sum, size) => sum + size, 0) !== reply.stdout.length) {
      return undefined;
    }
    const files = new Map<string, Uint8Array>();
    let offset = reply.stdout.byteOffset;
    readable.forEach((path, i) => {
      const size = sizes[i] as number;
      // A plain Uint8Array view, not a Buffer: callers get the contract's type.
      files.set(path, new Uint8Array(reply.stdout.buffer, offset, size));
      offset += size;
    });
    return { statuses, files };
  }

  /** Downloads through an exec of its own, its tar parsed as it streams (for files of any size). */
  private async downloadThroughExec(running: Running, paths: string[]): Promise<DownloadedBatch> {
    const tar = new PassThrough();
    const statusOutput = new CappedOutput();
    const parsed = readArchive(tar);
    // Without this the parse failure would surface only after the exec, unobserved until then.
    parsed.catch(() => {});
    const spec = this.spec(["/bin/sh", "-c", DOWNLOAD_SCRIPT, "sh", ...paths]);
    await this.retry(() => runExec(running.container, spec, tar, statusOutput.sink()));
    const statuses = statusOutput.text().split("\n");
    tar.end();
    const anyOk = statuses.slice(0, paths.length).includes("ok");
    return { statuses, files: anyOk ? await parsed : new Map() };
  }

  /** Runs a short internal command as the sandbox user (fed `input`) through its own exec. */
  private async capture(container: Docker.Container, cmd: string[], input?: Buffer): Promise<Captured> {
    const stdout = new CappedOutput();
    const stderr = new CappedOutput();
    const spec = { ...this.spec(cmd), ...(input ? { input } : {}) };
    const { exitCode } = await this.retry(() => runExec(container, spec, stdout.sink(), stderr.sink()));
    return { exitCode, stdout: stdout.bytes(), stderr: stderr.bytes() };
  }

  /** Kills every process of one execute (found by its marker variable). */
  private async killCommand(container: Docker.Container, token: string): Promise<void> {
    const ignore = new CappedOutput(0).sink();
    await runExec(container, this.spec(["/bin/sh", "-c", KILL_SCRIPT, "sh", token]), ignore, ignore).catch(() => {});
  }

  private spec(cmd: string[], extraEnv: Record<string, string> = {}): ExecSpec {
    return { cmd, user: this.config.user, workdir: this.config.workdir, env: this.envList(extraEnv) };
  }

  private envList(extra: Record<string, string> = {}): string[] {
    return Object.entries({ ...this.config.env, ...extra }).map(([key, value]) => `${key}=${value}`);
  }

  /** Translates an error into the failure to return, forgetting the container when it is gone. */
  private fault(error: unknown, what: string): { error: string; code: ErrorCode } {
    if (DeepfsError.isInstance(error)) return failure(error.code, `${what} failed: ${error.message}`);
    if (error instanceof SandboxUnavailableError)
      return failure("backend_unavailable", `${what} failed: ${error.message}`);
    if (error instanceof ContainerStoppedError || classifyContainerError(error) === "container_lost") {
      const reason =
        httpStatus(error) === 404 && !(error instanceof ContainerStoppedError)
          ? "the container no longer exists"
          : "the container is not running";
      this.markLost(reason);
      return failure(
        "backend_unavailable",
        `${what} failed: the sandbox container was lost (${reason}) with its files; call start() for a fresh one`,
      );
    }
    return failure("backend_unavailable", `${what} failed: ${describeDockerError(error)}`);
  }

  private markLost(reason: string): void {
    const pending = this.starting;
    // Already stopped on purpose (stop() during the call): the next call simply starts afresh.
    if (!pending) return;
    this.starting = undefined;
    this.lostReason = reason;
    // Remove what is left of a stopped container so that it does not linger.
    this.removing = pending
      ?.then((running) => {
        running.channels.close();
        return removeQuietly(running.container);
      })
      .catch(() => {});
  }

  /** Retries an idempotent Docker call on transient faults (daemon restart, 5xx) with backoff. */
  private async retry<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (attempt >= RETRY_ATTEMPTS || classifyContainerError(error) !== "transient") throw error;
        await sleep(RETRY_BASE_MS * 4 ** (attempt - 1));
      }
    }
  }

  /** Re-arms the idle timer: the container is removed after `idleTimeoutMs` without calls. */
  private touch(): void {
    const idle = this.config.idleTimeoutMs;
    if (idle === undefined || !this.starting) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.inFlight > 0) this.touch();
      else void this.stop();
    }, idle);
    this.idleTimer.unref();
  }
}

function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * Records what an upload's status line (`ok OLD NEW` for a replaced file whose birth times `stat`
 * knows) says of the path's creation time.
 */
function rememberBirth(births: Map<string, ReplacedBirth>, path: string, status: string | undefined): void {
  const [word, old, now] = status?.split(" ") ?? [];
  if (word !== "ok") return;
  const known = births.get(path);
  // Re-inserted last: the map forgets the files replaced longest ago first.
  births.delete(path);
  const oldBirth = Number(old);
  const newBirth = Number(now);
  if (!(oldBirth > 0 && newBirth > 0)) return;
  births.set(path, { replaced: newBirth, created: known?.replaced === oldBirth ? known.created : oldBirth });
  if (births.size > MAX_REMEMBERED_BIRTHS) births.delete(births.keys().next().value as string);
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new DeepfsError("invalid_argument", `${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/**
 * Throws when the container no longer runs (HTTP 404 when it is gone, else ContainerStoppedError).
 * The engine reports an exec's end before it marks its killed container stopped, so a container
 * still running is asked again a few times (about 300 ms in all) before it is believed.
 */
async function assertRunning(container: Docker.Container): Promise<void> {
  for (let wait = 20; ; wait *= 2) {
    const info = await container.inspect();
    if (!info.State.Running || info.State.Dead) throw new ContainerStoppedError();
    if (wait > 160) return;
    await sleep(wait);
  }
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({ force: true, v: true }).catch(() => {});
}

function reasonOf(error: unknown): string {
  return error instanceof SandboxUnavailableError ? error.message : describeDockerError(error);
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Splits work so that one exec's argument list stays small. */
function batches<T extends { path: string }>(items: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.path) + 1;
    if (current.length > 0 && (current.length >= MAX_BATCH_FILES || bytes + size > MAX_BATCH_ARG_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

const UPLOAD_FAILURES: Record<
  string,
  { error: FileOperationError; code: ErrorCode; message: (path: string) => string }
> = {
  is_directory: { error: "is_directory", code: "is_directory", message: (p) => `'${p}' is a directory, not a file` },
  not_a_directory: {
    error: "invalid_path",
    code: "not_a_directory",
    message: (p) => `A parent of '${p}' is a file, so '${p}' cannot be created`,
  },
  permission_denied: {
    error: "permission_denied",
    code: "permission_denied",
    message: (p) => `The sandbox user may not write '${p}'`,
  },
};

function uploadResult(path: string, status: string | undefined): FileUploadResponse {
  if (status === "ok") return { path, error: null };
  const known = status === undefined ? undefined : UPLOAD_FAILURES[status];
  if (known) return { path, error: known.error, code: known.code, message: known.message(path) };
  return {
    path,
    error: "permission_denied",
    code: "backend_unavailable",
    message: `Writing '${path}' failed in the sandbox`,
  };
}

function downloadFailure(
  path: string,
  status: string,
): { error: FileOperationError; code: ErrorCode; message: string } {
  switch (status) {
    case "is_directory":
      return { error: "is_directory", code: "is_directory", message: `'${path}' is a directory, not a file` };
    case "permission_denied":
      return {
        error: "permission_denied",
        code: "permission_denied",
        message: `The sandbox user may not read '${path}'`,
      };
    case "file_not_found":
      return { error: "file_not_found", code: "file_not_found", message: `File '${path}' not found` };
    default:
      return {
        error: "file_not_found",
        code: "backend_unavailable",
        message: `Reading '${path}' failed in the sandbox`,
      };
  }
}
