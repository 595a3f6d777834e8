/**
 * The life of a sandbox's container: started lazily on first use (one start shared by concurrent
 * callers), prepared for the sandbox user, its shell channels opened, removed on `stop`, after an
 * idle time, or when it was lost (killed or removed from outside), and every call counted so the
 * session manager can tell a busy sandbox.
 */
import { hostname } from "node:os";
import { DeepfsError, type ErrorCode, failure } from "@deepfs/core";
import type Docker from "dockerode";
import { type ArchiveOwner, buildDirArchive } from "./archive.js";
import { ShellChannel } from "./channel.js";
import { ChannelPool } from "./channel-pool.js";
import { type DockerExec, retryDocker } from "./docker-exec.js";
import {
  ContainerStoppedError,
  classifyContainerError,
  describeDockerError,
  httpStatus,
  SandboxUnavailableError,
} from "./errors.js";
import { ensureRuntimeImage } from "./image-build.js";
import {
  MANAGED_LABEL,
  OWNER_HOST_LABEL,
  OWNER_PID_LABEL,
  type ResolvedSandboxOptions,
  SANDBOX_LABEL,
} from "./options.js";
import { IDENTITY_SCRIPT, KEEPALIVE_SCRIPT } from "./scripts.js";

/** A started container and what the sandbox learnt about it. */
export interface Running {
  container: Docker.Container;
  owner: ArchiveOwner;
  /** Shells in the container that run the transfers' scripts without an exec each. */
  channels: ChannelPool;
  /** Creation times of files this sandbox replaced, by path (see transfer.ts). */
  births: Map<string, ReplacedBirth>;
}

/**
 * A file replaced by an upload is a new inode with a new birth time; `created_at` must stay the
 * first one's. Seconds since the epoch, as `stat -c %W` prints them.
 */
export interface ReplacedBirth {
  /** Birth time of the file the upload left. */
  replaced: number;
  /** Birth time of the first file at the path, which `created_at` reports while `replaced` is there. */
  created: number;
}

/** A failure to return: `{ error, code }`. */
export type CallFault = { error: string; code: ErrorCode };

// Channels per container: enough for a few concurrent transfers, few enough to stay small.
const CHANNELS_PER_CONTAINER = 3;
// A channel request without a byte of answer for this long is killed and redone through an exec.
const CHANNEL_STALL_MS = 30_000;

/** One sandbox's container, over its lifetimes (a lost one is replaced by `start`). */
export class SandboxContainer {
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

  constructor(
    private readonly id: string,
    private readonly docker: Docker,
    private readonly config: ResolvedSandboxOptions,
    private readonly exec: DockerExec,
  ) {}

  /** True when this sandbox attached to a container it did not create. */
  get attached(): boolean {
    return this.config.attach !== undefined;
  }

  /** Calls running right now. */
  get activeCalls(): number {
    return this.inFlight;
  }

  /** When the last call started or ended (ms since the epoch). */
  get lastUsedAt(): number {
    return this.lastUse;
  }

  /** The running container if one was started (no start is triggered). */
  current(): Promise<Running | undefined> {
    return this.starting?.catch(() => undefined) ?? Promise.resolve(undefined);
  }

  async start(): Promise<void> {
    if (this.retiredReason !== undefined) {
      throw new DeepfsError("backend_unavailable", `Sandbox ${this.id} cannot start: ${this.retiredReason}`);
    }
    this.lostReason = undefined;
    try {
      await this.running();
    } catch (error) {
      if (DeepfsError.isInstance(error)) throw error;
      const reason = error instanceof SandboxUnavailableError ? error.message : describeDockerError(error);
      throw new DeepfsError("backend_unavailable", `Sandbox ${this.id} could not start: ${reason}`, { cause: error });
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const pending = this.starting;
    this.starting = undefined;
    this.lostReason = undefined;
    const running = await pending?.catch(() => undefined);
    running?.channels.close();
    // An attached container is not ours: stopping only detaches.
    if (running && !this.config.attach) await removeQuietly(running.container);
    await this.removing;
  }

  async retire(reason: string): Promise<void> {
    this.retiredReason = reason;
    await this.stop();
  }

  /** Runs `work` on the started container, turning Docker faults into the caller's failure value. */
  async session<T, F>(
    work: (running: Running) => Promise<T>,
    onFault: (fault: CallFault) => F,
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
    if (this.config.attach) return this.attachTo(this.config.attach.container);
    const { runtime, user, workdir } = this.config;
    await ensureRuntimeImage(this.docker, runtime, retryDocker);
    // A container of an earlier life of this sandbox (lost or crashed) may still hold the name.
    await this.removing;
    await removeQuietly(this.docker.getContainer(this.id));
    const container = await retryDocker(() =>
      this.docker.createContainer({
        name: this.id,
        Image: runtime.image,
        Entrypoint: ["/bin/sh", "-c", KEEPALIVE_SCRIPT],
        Cmd: [],
        User: user,
        WorkingDir: workdir,
        Env: this.exec.envList(),
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
      return { container, owner, channels: this.channelsOf(container), births: new Map() };
    } catch (error) {
      await removeQuietly(container);
      throw error;
    }
  }

  /** The shell channels of a started container, opened on first use. */
  private channelsOf(container: Docker.Container): ChannelPool {
    const { user, workdir } = this.config;
    return new ChannelPool(
      () =>
        ShellChannel.open(
          container,
          { user, workdir, env: this.exec.envList() },
          { stallMs: CHANNEL_STALL_MS, kill: (token) => this.exec.kill(container, token) },
        ),
      CHANNELS_PER_CONTAINER,
    );
  }

  /**
   * Attaches to an existing container, which must be running: learns its id, user and working
   * directory (unless given) and changes nothing in it.
   */
  private async attachTo(name: string): Promise<Running> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await retryDocker(() => this.docker.getContainer(name).inspect());
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
      throw new DeepfsError("backend_unavailable", `no container '${name}' to attach to (see 'docker ps')`);
    }
    if (!info.State.Running) {
      throw new DeepfsError(
        "backend_unavailable",
        `container '${name}' is ${info.State.Status || "not running"}; attach needs a running container ('docker start ${name}')`,
      );
    }
    if (this.config.attach?.workdirFromContainer) this.config.workdir = info.Config.WorkingDir || "/";
    // By id from now on: a container renamed meanwhile is still the one attached.
    const container = this.docker.getContainer(info.Id);
    const identity = await this.exec.capture(container, ["/bin/sh", "-c", IDENTITY_SCRIPT, "sh", this.config.workdir]);
    const [uid, gid] = identity.stdout.toString("utf8").trim().split(" ");
    const owner = { uid: Number(uid), gid: Number(gid) };
    if (identity.exitCode !== 0 || !Number.isInteger(owner.uid) || !Number.isInteger(owner.gid)) {
      const who = this.config.user === "" ? "its user" : `user '${this.config.user}'`;
      throw new DeepfsError(
        "backend_unavailable",
        `cannot run commands in container '${name}' as ${who} (it needs /bin/sh and the working directory ${this.config.workdir})`,
      );
    }
    return { container, owner, channels: this.channelsOf(container), births: new Map() };
  }

  /** Learns the user's uid/gid, makes the workdir theirs, runs the runtime's setup commands. */
  private async prepare(container: Docker.Container): Promise<ArchiveOwner> {
    const { workdir, runtime } = this.config;
    const identity = await this.exec.capture(container, ["/bin/sh", "-c", IDENTITY_SCRIPT, "sh", workdir]);
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
      const result = await this.exec.capture(container, ["/bin/sh", "-c", command]);
      if (result.exitCode !== 0) {
        throw new DeepfsError(
          "backend_unavailable",
          `Setup command ${i + 1} of image '${runtime.image}' exited with ${result.exitCode}: ${result.stderr.toString("utf8").slice(-500)}`,
        );
      }
    }
    return owner;
  }

  /** Translates an error into the failure to return, forgetting the container when it is gone. */
  private fault(error: unknown, what: string): CallFault {
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
        return this.config.attach ? undefined : removeQuietly(running.container);
      })
      .catch(() => {});
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

async function removeQuietly(container: Docker.Container): Promise<void> {
  await container.remove({ force: true, v: true }).catch(() => {});
}
