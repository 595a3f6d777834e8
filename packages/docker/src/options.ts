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
   * Extra container labels (the sandbox adds `deepfs.managed`, `deepfs.sandbox`, and the creating
   * process's pid and host name as `deepfs.owner-pid` and `deepfs.owner-host`).
   */
  labels?: Record<string, string>;
  /** Stop (remove) the container after this long without a call. Default: never. */
  idleTimeoutMs?: number;
  /** Sandbox id, also the container name. Default: `deepfs-` and random characters. */
  id?: string;
}

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
  const runtime = resolveRuntime(options.runtime, options.image);
  const workdir = options.workdir ?? runtime.workdir ?? DEFAULTS.workdir;
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
    user: options.user ?? DEFAULTS.user,
    timeoutMs: positive("timeoutMs", options.timeoutMs ?? DEFAULTS.timeoutMs),
    maxOutputBytes: positive("maxOutputBytes", options.maxOutputBytes ?? DEFAULTS.maxOutputBytes),
    labels: { ...options.labels },
    idleTimeoutMs: options.idleTimeoutMs === undefined ? undefined : positive("idleTimeoutMs", options.idleTimeoutMs),
  };
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
