import { checkPath, DeepfsError } from "@deepfs/core";
import Docker from "dockerode";
import { type RuntimeConfig, type RuntimePresetName, resolveRuntime } from "./runtimes.js";

/** Options of {@link DockerSandbox}. Every limit has a safe default. */
export interface DockerSandboxOptions {
  /** A built-in runtime name or a {@link RuntimeConfig}. Default: `python-minimal`. */
  runtime?: RuntimePresetName | RuntimeConfig;
  /** Image to run; overrides the runtime's image. */
  image?: string;
  /**
   * A `Docker` client, or options to create one. Default: `DOCKER_HOST`, else the default socket.
   * A client passed in is never closed by the sandbox.
   */
  docker?: Docker | Docker.DockerOptions;
  /** Working directory of commands, created and owned by the sandbox user. Default `/workspace`. */
  workdir?: string;
  /** Environment variables of every command (added to the runtime's). */
  env?: Record<string, string>;
  /** Memory limit in MiB (no swap beyond it). Default 1024. */
  memoryMb?: number;
  /** CPU limit in cores (fractions allowed). Default 1. */
  cpus?: number;
  /** Most processes the container may hold at once. Default 256. */
  pidsLimit?: number;
  /** Docker network mode. Default `none`: no network at all. */
  network?: string;
  /** User commands and file operations run as, `uid:gid` or a name. Default `1000:1000`. */
  user?: string;
  /** Default time limit of one `execute`, in ms. Default 120,000. */
  timeoutMs?: number;
  /** Most bytes of output one `execute` returns. Default 100,000. */
  maxOutputBytes?: number;
  /**
   * Largest file that `read`, `readRaw`, `edit` and `grep` look at, in MiB: a larger one answers
   * `too_large` (grep skips it) and is not transferred out of the container. `downloadFiles` has
   * no limit. An edit whose result would be larger answers `too_large`. Default 10.
   */
  maxFileSizeMb?: number;
  /**
   * Most matching lines a grep answers when `maxCount` allows more (or is not given); past it grep
   * answers `too_large` and transfers no further file. Default 1,000,000.
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines a grep answers; past it grep answers
   * `too_large` and transfers no further file. Default 256 Mi.
   */
  maxGrepTextLength?: number;
  /**
   * Extra container labels (the sandbox adds `deepfs.managed`, `deepfs.sandbox`, and the creating
   * process's pid and host name as `deepfs.owner-pid` and `deepfs.owner-host`).
   */
  labels?: Record<string, string>;
  /** Stop (remove) the container after this long without a call. Default: never. */
  idleTimeoutMs?: number;
  /** Sandbox id, also the container name. Default: `deepfs-` and random characters (with `attach`: its value). */
  id?: string;
  /**
   * Attach to this existing, running container (a name or an id) instead of creating one: nothing is
   * created, changed (no workdir made, no setup commands) or removed, and `close()`/`stop()` only
   * detach. Commands and file operations run as `user` (default: the container's own user) in
   * `workdir` (default: the container's working directory, else `/`). The options that shape a
   * created container (`runtime`, `image`, `memoryMb`, `cpus`, `pidsLimit`, `network`, `labels`)
   * are refused with it: the container keeps its own.
   */
  attach?: string;
}

/** Options that only shape a container the sandbox creates. */
const CREATE_ONLY = ["runtime", "image", "memoryMb", "cpus", "pidsLimit", "network", "labels"] as const;

/** Options after defaults. */
export interface ResolvedSandboxOptions {
  runtime: RuntimeConfig;
  workdir: string;
  env: Record<string, string>;
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  network: string;
  user: string;
  timeoutMs: number;
  maxOutputBytes: number;
  labels: Record<string, string>;
  idleTimeoutMs: number | undefined;
  /** The container to attach to, and whether its own working directory is the workdir (none given). */
  attach?: { container: string; workdirFromContainer: boolean };
}

export const DEFAULTS = {
  workdir: "/workspace",
  memoryMb: 1024,
  cpus: 1,
  pidsLimit: 256,
  network: "none",
  user: "1000:1000",
  timeoutMs: 120_000,
  maxOutputBytes: 100_000,
} as const;

/** Label every managed container carries, so orphans of a crashed process can be found. */
export const MANAGED_LABEL = "deepfs.managed";
/** Label holding the sandbox id. */
export const SANDBOX_LABEL = "deepfs.sandbox";
/** Label holding the pid of the process that created the container (see `cleanupOrphans`). */
export const OWNER_PID_LABEL = "deepfs.owner-pid";
/** Label holding the host name of the process that created the container. */
export const OWNER_HOST_LABEL = "deepfs.owner-host";

/** Checks `options` and fills in the defaults; throws `invalid_argument` for a bad value. */
export function resolveOptions(options: DockerSandboxOptions, id: string): ResolvedSandboxOptions {
  const attach = options.attach;
  if (attach !== undefined) {
    if (typeof attach !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(attach)) {
      throw new DeepfsError("invalid_argument", `attach ${JSON.stringify(attach)} is not a container name or id`);
    }
    const given = CREATE_ONLY.filter((name) => options[name] !== undefined);
    if (given.length > 0) {
      throw new DeepfsError(
        "invalid_argument",
        `${given.join(", ")} shape a container the sandbox creates; an attached container keeps its own`,
      );
    }
  }
  const runtime = resolveRuntime(options.runtime, options.image);
  const workdir = options.workdir ?? (attach === undefined ? (runtime.workdir ?? DEFAULTS.workdir) : "/");
  const checkedWorkdir = checkPath(workdir);
  if (!checkedWorkdir.ok || !workdir.startsWith("/")) {
    throw new DeepfsError("invalid_argument", `workdir must be an absolute path, got ${JSON.stringify(workdir)}`);
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(id)) {
    throw new DeepfsError("invalid_argument", `id ${JSON.stringify(id)} is not a valid container name`);
  }
  const config: ResolvedSandboxOptions = {
    runtime,
    workdir: checkedWorkdir.path,
    env: { ...runtime.env, ...options.env },
    memoryMb: positive("memoryMb", options.memoryMb ?? DEFAULTS.memoryMb),
    cpus: positive("cpus", options.cpus ?? DEFAULTS.cpus),
    pidsLimit: positive("pidsLimit", options.pidsLimit ?? DEFAULTS.pidsLimit),
    network: options.network ?? DEFAULTS.network,
    // Attached: "" lets the engine run commands as the container's own user.
    user: options.user ?? (attach === undefined ? DEFAULTS.user : ""),
    timeoutMs: positive("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
    maxOutputBytes: positive("maxOutputBytes", options.maxOutputBytes ?? DEFAULTS.maxOutputBytes),
    labels: { ...options.labels },
    idleTimeoutMs: options.idleTimeoutMs === undefined ? undefined : positive("idleTimeoutMs", options.idleTimeoutMs),
  };
  if (attach !== undefined) config.attach = { container: attach, workdirFromContainer: options.workdir === undefined };
  for (const key of Object.keys(config.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new DeepfsError("invalid_argument", `env name ${JSON.stringify(key)} is not valid`);
  }
  return config;
}

/** The client of `options.docker`: the one passed in, or a new one. */
export function dockerClient(options: DockerSandboxOptions): Docker {
  return options.docker instanceof Docker ? options.docker : new Docker(options.docker);
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new DeepfsError("invalid_argument", `${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}
