import { DeepfsError, type HistoryOption, type HistoryRetention } from "@deepfs/core";
import type { StoreLimits } from "@deepfs/core/kit";
import postgres from "postgres";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";
import { LONGEST_TABLE_SUFFIX } from "./schema.js";

/** A postgres.js client, with or without custom types. */
// biome-ignore lint/suspicious/noExplicitAny: any postgres.js instance is accepted, whatever its custom types.
export type PostgresClient = postgres.Sql<any>;

/** The pool or a transaction: anything that runs tagged-template queries. */
// biome-ignore lint/suspicious/noExplicitAny: as above.
export type Queryable = postgres.ISql<any>;

/** A transaction of a {@link PostgresClient}. */
// biome-ignore lint/suspicious/noExplicitAny: as above.
export type Transaction = postgres.TransactionSql<any>;

/** Where the backend keeps its files, shared by every way of connecting. */
export interface PostgresStorageOptions {
  /** Table of files (created by `initialize()`). Default `deepfs_files`. */
  table?: string;
  /** Schema of the table (created when missing). Default `public`. */
  schema?: string;
  /**
   * Tenant: backends on the same table with different namespaces never see each other's files
   * (compared by equality, so `acme` and `acme-corp` are unrelated). Default `default`.
   */
  namespace?: string;
  /** Retries of transient faults (dropped connection, server restart, deadlock). */
  retry?: Partial<RetryPolicy>;
  /**
   * Largest file that `read`, `readRaw`, `edit` and `grep` look at, in MiB, as in LocalBackend:
   * `read`, `readRaw` and `edit` of a larger file answer `too_large` without its content leaving the
   * server, and grep skips it (`downloadFiles`, which moves bytes rather than model context, has
   * no limit). Default 10.
   */
  maxFileSizeMb?: number;
  /**
   * Most matching lines a grep answers when `maxCount` allows more (or is not given); past it grep
   * answers `too_large` and stops searching, rather than hold an answer the process cannot afford.
   * A whole number >= 1. Default 1,000,000 (core's).
   */
  maxGrepMatches?: number;
  /**
   * Most characters (UTF-16 code units) of matching lines' text a grep answers; past it grep answers
   * `too_large` and stops searching. A whole number >= 1. Default 256 Mi (core's).
   */
  maxGrepTextLength?: number;
  /**
   * Keep a version of every change (off by default): `true`, or limits `{ maxVersions?, maxAgeMs? }`
   * per file (the newest version of a file is always kept). Versions are rows of a second table,
   * `<table>_history` in the same schema (created by `initialize()`), each written by the same SQL
   * statement as the change it records, so an acknowledged change always has exactly one version
   * and a failed one has none. Files already in the namespace when a backend with history starts
   * become first versions (op `write`). Turn it on for every process writing the namespace: a
   * change made with history off has no version. Off: no history table, no extra statement, and
   * the history methods answer `unsupported`.
   */
  history?: HistoryOption;
}

/** Connection settings for a pool the backend creates (and ends on `close()`). */
export interface PostgresConfig extends PostgresStorageOptions {
  /** A connection URL (`postgres://user:pass@host:port/db?sslmode=require`); the fields below override it. */
  url?: string;
  host?: string;
  /** Default 5432. */
  port?: number;
  database?: string;
  user?: string;
  password?: string;
  /**
   * Connections opened (and checked) by `initialize()` so that the first calls do not wait for a
   * connection. postgres.js opens further ones on demand. Default 0.
   */
  minPoolSize?: number;
  /** Most connections in the pool. Default 10. */
  maxPoolSize?: number;
  /** libpq's sslmode. Default: postgres.js's default (no TLS unless the URL asks for it). */
  sslmode?: "disable" | "allow" | "prefer" | "require" | "verify-full";
  /** Milliseconds to establish a connection. Default 30,000. */
  connectTimeout?: number;
  /** Milliseconds after which the server cancels a statement (the call returns `timeout`). Default: none. */
  statementTimeout?: number;
}

/** An existing postgres.js instance, which the backend uses but never ends. */
export interface PostgresClientConfig extends PostgresStorageOptions {
  sql: PostgresClient;
}

/** What `new PostgresBackend(...)` accepts: connection settings, a connection URL, or a client. */
export type PostgresBackendConfig = PostgresConfig | PostgresClientConfig | string;

/** Validated settings. */
export interface ResolvedConfig {
  sql: PostgresClient;
  /** True when the backend created `sql` and must end it. */
  ownsClient: boolean;
  table: string;
  schema: string;
  namespace: string;
  minPoolSize: number;
  retry: RetryPolicy;
  /** Largest file read (but for downloads) and searched by grep, in bytes. */
  maxFileBytes: number;
  /** The limits the driver announces: `maxFileBytes`, and the grep bounds when given. */
  limits: StoreLimits;
  /** Retention of the version history, or null when history is off. */
  history: HistoryRetention | null;
}

function invalid(message: string): never {
  throw new DeepfsError("invalid_argument", message);
}

/** PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1); longer names are silently truncated. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * A schema or table name. `suffix`: the longest suffix of the names derived from it, which must
 * fit too: PostgreSQL truncates longer identifiers, so two tables (or two indexes) whose names
 * differ only past byte 63 would be one.
 */
function checkIdentifier(value: unknown, what: string, suffix = ""): string {
  // postgres.js splits identifiers on ".", and PostgreSQL forbids NUL: refuse both rather than misname.
  if (typeof value !== "string" || value === "" || value.includes(".") || value.includes("\u0000")) {
    invalid(`PostgresBackend: ${what} must be a non-empty name without '.' or NUL`);
  }
  const limit = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix, "utf8");
  if (Buffer.byteLength(value, "utf8") > limit) {
    const derived = suffix ? ` (the backend also names '<${what}>${suffix}')` : "";
    invalid(
      `PostgresBackend: ${what} must be at most ${limit} bytes in UTF-8, as PostgreSQL truncates names over ${MAX_IDENTIFIER_BYTES} bytes${derived}`,
    );
  }
  return value;
}

function checkCount(value: number | undefined, what: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) invalid(`PostgresBackend: ${what} must be an integer >= ${min}`);
  return value;
}

/** The store's limits: the read limit, and each grep bound given (checked as whole numbers >= 1). */
function resolveLimits(config: PostgresStorageOptions, maxFileBytes: number): StoreLimits {
  const limits: StoreLimits = { maxFileBytes };
  for (const key of ["maxGrepMatches", "maxGrepTextLength"] as const) {
    const value = config[key];
    if (value !== undefined) limits[key] = checkCount(value, key, value, 1);
  }
  return limits;
}

function createClient(config: PostgresConfig): { sql: PostgresClient; minPoolSize: number } {
  const maxPoolSize = checkCount(config.maxPoolSize, "maxPoolSize", 10, 1);
  const minPoolSize = checkCount(config.minPoolSize, "minPoolSize", 0, 0);
  if (minPoolSize > maxPoolSize) invalid("PostgresBackend: minPoolSize must not exceed maxPoolSize");
  if (config.connectTimeout !== undefined && !(config.connectTimeout > 0))
    invalid("PostgresBackend: connectTimeout must be a positive number of milliseconds");
  if (config.statementTimeout !== undefined && !(config.statementTimeout >= 0))
    invalid("PostgresBackend: statementTimeout must be a non-negative number of milliseconds");
  // Only defined settings are passed: postgres.js treats a present-but-undefined key as an override.
  const options: postgres.Options<Record<string, postgres.PostgresType>> = {
    max: maxPoolSize,
    // CREATE ... IF NOT EXISTS notices are not news to anyone.
    onnotice: () => {},
    // postgres.js waits up to 20 s (3^n/100 s per failed connect, never reset until one succeeds)
    // before reconnecting, so after a server restart calls stalled for that long. The backend's
    // own retry loop already backs off; the pool only needs to stop hammering a server that is down.
    backoff: (retries: number) => Math.min(0.025 * 2 ** retries, 0.5),
  };
  if (config.host !== undefined) options.host = config.host;
  if (config.port !== undefined) options.port = config.port;
  if (config.database !== undefined) options.database = config.database;
  if (config.user !== undefined) options.username = config.user;
  if (config.password !== undefined) options.password = config.password;
  if (config.sslmode !== undefined) options.ssl = config.sslmode === "disable" ? false : config.sslmode;
  if (config.connectTimeout !== undefined) options.connect_timeout = config.connectTimeout / 1000;
  if (config.statementTimeout !== undefined)
    options.connection = { statement_timeout: Math.round(config.statementTimeout) };
  const sql = config.url === undefined ? postgres(options) : postgres(config.url, options);
  return { sql, minPoolSize };
}

/** The `history` option as retention limits (null: off). */
function resolveHistory(option: HistoryOption | undefined): HistoryRetention | null {
  if (option === undefined || option === false) return null;
  if (option === true) return {};
  if (typeof option !== "object" || option === null)
    invalid("PostgresBackend: history must be a boolean or { maxVersions?, maxAgeMs? }");
  const out: HistoryRetention = {};
  if (option.maxVersions !== undefined) out.maxVersions = checkCount(option.maxVersions, "history.maxVersions", 0, 1);
  if (option.maxAgeMs !== undefined) {
    if (!(typeof option.maxAgeMs === "number" && option.maxAgeMs >= 0))
      invalid("PostgresBackend: history.maxAgeMs must be a non-negative number of milliseconds");
    out.maxAgeMs = option.maxAgeMs;
  }
  return out;
}

/** Validates a backend configuration and creates the client when one is not given. Throws `DeepfsError`. */
export function resolveConfig(input: PostgresBackendConfig): ResolvedConfig {
  if (typeof input !== "string" && (typeof input !== "object" || input === null)) {
    invalid("PostgresBackend: pass a PostgresConfig, a connection URL or { sql }");
  }
  const config: PostgresConfig | PostgresClientConfig = typeof input === "string" ? { url: input } : input;
  const table = checkIdentifier(config.table ?? "deepfs_files", "table", LONGEST_TABLE_SUFFIX);
  const schema = checkIdentifier(config.schema ?? "public", "schema");
  const namespace = config.namespace ?? "default";
  if (typeof namespace !== "string" || namespace === "" || namespace.includes("\u0000")) {
    invalid("PostgresBackend: namespace must be a non-empty string without NUL");
  }
  const retry: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...config.retry };
  if (!Number.isInteger(retry.attempts) || retry.attempts < 1)
    invalid("PostgresBackend: retry.attempts must be an integer >= 1");
  if (!(retry.baseDelayMs >= 0)) invalid("PostgresBackend: retry.baseDelayMs must be >= 0");
  const maxFileSizeMb = config.maxFileSizeMb ?? 10;
  if (!(typeof maxFileSizeMb === "number" && maxFileSizeMb > 0 && Number.isFinite(maxFileSizeMb)))
    invalid("PostgresBackend: maxFileSizeMb must be a positive number");
  const maxFileBytes = Math.floor(maxFileSizeMb * 1024 * 1024);
  const limits = resolveLimits(config, maxFileBytes);
  const base = { table, schema, namespace, retry, maxFileBytes, limits, history: resolveHistory(config.history) };
  if ("sql" in config) {
    if (typeof config.sql !== "function") invalid("PostgresBackend: `sql` must be a postgres.js instance");
    return { ...base, sql: config.sql, ownsClient: false, minPoolSize: 0 };
  }
  return { ...base, ...createClient(config), ownsClient: true };
}
