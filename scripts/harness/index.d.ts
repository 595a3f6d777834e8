/** A real service the deepfs tests run against. */
export type ServiceName = "postgres" | "s3" | "docker";

export interface StartServicesOptions {
  /** Receives progress and SKIP lines; defaults to stderr with a `[deepfs-harness]` prefix. */
  log?: (line: string) => void;
}

export interface RunningServices {
  /**
   * Variables for the tests: DEEPFS_PG_URL; DEEPFS_S3_ENDPOINT, DEEPFS_S3_BUCKET,
   * DEEPFS_S3_ACCESS_KEY_ID, DEEPFS_S3_SECRET_ACCESS_KEY, DEEPFS_S3_REGION; DOCKER_HOST,
   * DEEPFS_DOCKER_IMAGE_BUSYBOX, DEEPFS_DOCKER_IMAGE_PYTHON. A service that could not be had
   * appears as DEEPFS_POSTGRES_UNAVAILABLE / DEEPFS_S3_UNAVAILABLE / DEEPFS_DOCKER_UNAVAILABLE
   * holding a one-line reason.
   */
  env: Record<string, string>;
  /** One human-readable line per service (`postgres`, `s3`, `docker`) and `images`: version and address. */
  info: Record<string, string>;
  /** Stops what this call started, removes its temp dirs, removes leaked `deepfs.test=1` containers. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Finds each service from the environment (DEEPFS_PG_URL, DEEPFS_S3_ENDPOINT, DOCKER_HOST or
 * /var/run/docker.sock) or starts a throwaway one: PostgreSQL from /usr/lib/postgresql/<newest>/bin,
 * moto_server, and dockerd (as root) with its data root in ${XDG_CACHE_HOME:-~/.cache}/deepfs.
 * For docker it also builds the sandbox images the engine lacks. With DEEPFS_REQUIRE_SERVICES=1 an
 * unavailable service rejects instead of being reported in `env`.
 */
export function startServices(names: ServiceName[], options?: StartServicesOptions): Promise<RunningServices>;

/** A runtime preset of @deepfs/docker, whose image the harness can build. */
export type PresetName = "busybox" | "python-minimal" | "python-datascience" | "node";

export interface EnsureImagesOptions {
  /** A DOCKER_HOST value: `unix:///path/docker.sock` or `tcp://host:port`. */
  dockerHost: string;
  log?: (line: string) => void;
  /**
   * The presets whose images to build when missing; default `busybox` and `python-minimal` (seconds).
   * `python-datascience` and `node` take minutes on a fresh machine.
   */
  presets?: PresetName[];
}

/** The sandbox image tags, read from @deepfs/docker's `src/runtime-presets.json`. */
export declare const IMAGE_TAGS: Readonly<{ busybox: string; python: string; datascience: string; node: string }>;

/**
 * Builds the images of `presets` the engine lacks: `deepfs/busybox:1` (static busybox) and, by
 * debootstrap of Debian bookworm with each preset's packages from @deepfs/docker's
 * `src/runtime-presets.json` (needs root), `deepfs/python-minimal:2`, `deepfs/python-datascience:2`,
 * `deepfs/node:1`. Each has a user `agent` (uid 1000) owning /workspace. Concurrent callers wait on a
 * lock instead of building twice. Resolves to every tag, built or not.
 */
export function ensureImages(
  options: EnsureImagesOptions,
): Promise<{ busybox: string; python: string; datascience: string; node: string }>;

export type ServiceStatus = { available: true; env: Record<string, string> } | { available: false; reason: string };

/** Whether a test can use `name`, read from the environment the harness set up. */
export function serviceStatus(name: ServiceName, env?: NodeJS.ProcessEnv): ServiceStatus;

/**
 * For `describe.skipIf(requireOrSkipReason('postgres'))(...)`: undefined when the service is
 * available; otherwise prints the reason once and returns it. Throws when DEEPFS_REQUIRE_SERVICES=1.
 */
export function requireOrSkipReason(name: ServiceName): string | undefined;

/**
 * A vitest globalSetup function: `export default createGlobalSetup(['postgres'])`. Starts only the
 * services the environment does not already describe and returns their teardown.
 */
export function createGlobalSetup(names: ServiceName[]): () => Promise<(() => Promise<void>) | undefined>;

/**
 * Spread into a vitest `test` config. With DEEPFS_TEST_REPORT_DIR set it adds a JSON report at
 * `${DEEPFS_TEST_REPORT_DIR}/<package-name>.json`; otherwise it is just the default reporter.
 */
export function vitestReporters(packageName?: string): {
  reporters: Array<"default" | "json">;
  outputFile?: { json: string };
};
