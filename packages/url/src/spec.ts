import type { HistoryOption, PermissionAction, PermissionRule, QuotaLimits } from "@deepfs/core";

/**
 * What a backend URL describes, scheme by scheme: the options of the backend it opens, with nothing
 * secret in them except the PostgreSQL connection URL (which keeps its password for the driver and
 * is masked by {@link maskUrl} wherever it is shown).
 */
export type BackendSpec = FileSpec | S3Spec | PostgresSpec | PgliteSpec | DockerSpec | MemorySpec;

/** `file:///abs/dir` (`?history=1`, `&history-max-versions=N`) or a plain path: a `LocalBackend` on that directory. */
export interface FileSpec {
  scheme: "file";
  /** Absolute directory the backend's `/` is. */
  rootDir: string;
  /** Version history, kept on disk beside the directory (`<dir>.deepfs-history`). */
  history?: HistoryOption;
}

/** `s3://bucket/prefix?endpoint=&region=&path-style=1`: an `S3Backend`; credentials from the SDK chain. */
export interface S3Spec {
  scheme: "s3";
  bucket: string;
  /** Key prefix of every file, without a trailing `/` (none when empty). */
  prefix?: string;
  endpointUrl?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** Version history through the bucket's versioning (`history=1`, `history-max-versions=N`). */
  history?: HistoryOption;
}

/** `postgres://user:pass@host:port/db?table=&schema=&namespace=`: a `PostgresBackend`. */
export interface PostgresSpec {
  scheme: "postgres";
  /** The connection URL without deepfs's own parameters (other parameters, e.g. `sslmode`, stay). */
  url: string;
  table?: string;
  schema?: string;
  namespace?: string;
  /** Version history (`history=1`, `history-max-versions=N`), kept by the database in the same transaction as each change. */
  history?: HistoryOption;
}

/** `pglite:///abs/datadir?namespace=` (or `pglite:` in memory): `PostgresBackend.embedded()`. */
export interface PgliteSpec {
  scheme: "pglite";
  /** Directory of the embedded database; in memory when absent. */
  dataDir?: string;
  table?: string;
  schema?: string;
  namespace?: string;
  /** Version history (`history=1`, `history-max-versions=N`), kept by the database in the same transaction as each change. */
  history?: HistoryOption;
}

/** `docker:?runtime=python-minimal` (a fresh sandbox) or `docker://<container>` (attach to a running one, never removed). */
export interface DockerSpec {
  scheme: "docker";
  /** A running container (name or id) to attach to: `DockerSandbox.attach`, which never removes it. */
  container?: string;
  /** Runtime preset of a fresh sandbox (the sandbox's default when absent). */
  runtime?: string;
}

/** `memory:` (`?history=1`, `&history-max-versions=N`): a `StateBackend`, empty when opened and gone when closed. */
export interface MemorySpec {
  scheme: "memory";
  /** Version history of its files (`history=1`: every version; `history-max-versions=N`: at most N per file). */
  history?: HistoryOption;
}

/** A route of a {@link DeepfsConfig}: a URL, or a URL with options. */
export type ConfigRoute = string | { url: string; readOnly?: boolean; quota?: QuotaLimits };

/** The contents of a `deepfs.config.json`: a `CompositeBackend` described by URLs. */
export interface DeepfsConfig {
  /** The backend of every path no route matches. Default `memory:`. */
  default?: string;
  /** Mount point (`/project/`) → the backend serving it. */
  routes?: Record<string, ConfigRoute>;
  /**
   * Permission rules over the whole composite (`withPermissions`, rules on the caller's paths).
   * There is no approval callback in a file: an `ask` rule refuses unless the program that opens
   * the config adds one.
   */
  permissions?: { rules: PermissionRule[]; defaultAction?: PermissionAction };
  /** Limits over the whole composite (`withQuota`); a route may have its own `quota` too. */
  quota?: QuotaLimits;
}
