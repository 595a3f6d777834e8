import {
  type BackendCapabilities,
  type BackendProtocol,
  bytesForWrite,
  checkDirPath,
  checkPath,
  checkPreconditions,
  comparePaths,
  contentFromBytes,
  DeepfsError,
  type DeleteResult,
  type EditResult,
  type ErrorCode,
  encodeUtf8,
  type FileDownloadResponse,
  type FileInfo,
  type FileOperationError,
  type FileUploadResponse,
  failure,
  type GlobResult,
  type GrepResult,
  type LsResult,
  notFound,
  parentDir,
  parseGlobArgs,
  parseGrepArgs,
  planEdit,
  type ReadRawResult,
  type ReadResult,
  readResultOf,
  type WriteOptions,
  type WriteResult,
  writeConflict,
} from "@deepfs/core";
import type postgres from "postgres";
import {
  type PostgresBackendConfig,
  type PostgresClient,
  type Queryable,
  resolveConfig,
  type Transaction,
} from "./config.js";
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from "./embedded.js";
import { failureFromError } from "./errors.js";
import { grepInDatabase } from "./grep.js";
import { ancestorsOf, descendantRange } from "./path-range.js";
import type { RetryPolicy } from "./retry.js";
import { withRetry } from "./retry.js";
import { createSchema, type SchemaInfo, type TableRef, tableSql } from "./schema.js";
import { asBytes, type StoredContent, storedContent } from "./stored-content.js";
import { runTransaction } from "./transaction.js";
import { chunkAncestors, chunkLocks, chunkUploads, planChunk, type UploadEntry } from "./upload-plan.js";

type Failure = { error: string; code: ErrorCode };

const isoTime = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));

/** The coarse upload/download code of the reference for a precise deepfs code. */
function coarseCode(code: ErrorCode): FileOperationError {
  return code === "file_not_found" || code === "permission_denied" || code === "is_directory" || code === "invalid_path"
    ? code
    : "invalid_path";
}

/**
 * Agent files in a PostgreSQL table, through postgres.js.
 *
 * - Tenants: every query filters on `namespace = $1` (equality, never a prefix), so backends with
 *   namespaces `acme` and `acme-corp` on one table never see each other's files.
 * - grep runs inside the database and returns only matching lines (see `grep.ts`).
 * - Writes run in a transaction under advisory locks (exclusive on the path, shared on its
 *   ancestors), so "a file where a directory is" and "a file below a file" are checked atomically;
 *   edits take the path's lock too, then the row (`SELECT ... FOR UPDATE`), so every mutation of a
 *   path (write, edit, upload, delete), also from other processes, waits for the one before it and
 *   none loses a change. The etag is the row's `version`, drawn from a sequence on every change.
 * - Dropped connections and server restarts are retried; a write whose COMMIT was in flight when
 *   the connection dropped returns `backend_unavailable` instead of being applied twice.
 *
 * Call `initialize()` once (it is idempotent; methods call it on first use), and `close()` at the end.
 */
export class PostgresBackend implements BackendProtocol, AsyncDisposable {
  readonly capabilities: BackendCapabilities = {
    execute: false,
    nativeGrep: true,
    conditionalWrites: true,
    realDirectories: false,
    readOnly: false,
  };
  /** The tenant this backend reads and writes. */
  readonly namespace: string;
  /** Schema and table of the files. */
  readonly location: Readonly<TableRef>;

  private readonly sql: PostgresClient;
  private readonly ownsClient: boolean;
  private readonly minPoolSize: number;
  private readonly retry: RetryPolicy;
  /** Seeds the advisory lock keys, so that tables and namespaces do not block each other. */
  private readonly lockScope: string;
  private schema: Promise<SchemaInfo> | null = null;
  /** Stops what the backend started besides its pool (the embedded database). */
  private stopEmbedded: (() => Promise<void>) | null = null;
  private closing: Promise<void> | null = null;

  /**
   * @param config connection settings, a connection URL, or `{ sql }` with an existing postgres.js
   *   instance (which `close()` leaves open). Throws `DeepfsError` (`invalid_argument`) when invalid.
   */
  constructor(config: PostgresBackendConfig) {
    const resolved = resolveConfig(config);
    this.sql = resolved.sql;
    this.ownsClient = resolved.ownsClient;
    this.minPoolSize = resolved.minPoolSize;
    this.retry = resolved.retry;
    this.namespace = resolved.namespace;
    this.location = Object.freeze({ schema: resolved.schema, table: resolved.table });
    this.lockScope = `${resolved.schema}\u0001${resolved.table}\u0001${resolved.namespace}`;
  }

  /**
   * Creates the schema, table and indexes when missing (idempotent, safe from several processes at
   * once) and opens `minPoolSize` connections. Throws `DeepfsError` when the database cannot be used.
   */
  async initialize(): Promise<SchemaInfo> {
    try {
      return await this.ready();
    } catch (error) {
      const { error: message, code } = failureFromError(
        error,
        `initializing ${this.location.schema}.${this.location.table}`,
      );
      throw new DeepfsError(code, message, { cause: error });
    }
  }

  /**
   * The same backend on an embedded PostgreSQL (PGlite, in this process, through
   * `@electric-sql/pglite-socket`): files persist in `dataDir` with no server to run, for a laptop
   * or a demo. Needs the optional peer dependencies `@electric-sql/pglite` and
   * `@electric-sql/pglite-socket`. PGlite serves one connection: calls run one at a time.
   * `close()` stops the database.
   */
  static async embedded(options: EmbeddedPostgresOptions = {}): Promise<PostgresBackend> {
    const { dataDir, ...storage } = options;
    const embedded = await startEmbeddedPostgres(dataDir === undefined ? {} : { dataDir });
    try {
      const backend = new PostgresBackend({ ...storage, sql: embedded.sql });
      backend.stopEmbedded = embedded.stop;
      await backend.initialize();
      return backend;
    } catch (error) {
      await embedded.stop();
      throw error;
    }
  }

  /** Ends the connection pool if this backend created it (and the embedded database). Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.stopEmbedded
      ? this.stopEmbedded()
      : this.ownsClient
        ? this.sql.end({ timeout: 5 })
        : Promise.resolve();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async ls(path: string): Promise<LsResult> {
    const dir = checkDirPath(path);
    if (!dir.ok) return failure(dir.code, dir.error);
    return this.attempt(`listing '${dir.path}'`, async () => {
      const table = tableSql(this.sql, this.location);
      const { from, to } = descendantRange(dir.path);
      const [files, subdirs] = await Promise.all([
        this.sql`
          SELECT path, size, modified_at FROM ${table}
          WHERE namespace = ${this.namespace} AND parent = ${dir.path}`,
        // Subdirectories by a loose index scan: find the first deeper path, take its next segment,
        // then jump past everything below that segment (`seg0` follows `seg/…`).
        this.sql`
          WITH RECURSIVE sub(name) AS (
            SELECT (SELECT split_part(substr(path, char_length(${from}) + 1), '/', 1) FROM ${table}
                    WHERE namespace = ${this.namespace} AND path >= ${from} AND path < ${to} AND parent <> ${dir.path}
                    ORDER BY path LIMIT 1)
            UNION ALL
            SELECT (SELECT split_part(substr(path, char_length(${from}) + 1), '/', 1) FROM ${table}
                    WHERE namespace = ${this.namespace} AND path >= ${from} || sub.name || '0' AND path < ${to}
                      AND parent <> ${dir.path}
                    ORDER BY path LIMIT 1)
            FROM sub WHERE sub.name IS NOT NULL
          )
          SELECT name FROM sub WHERE name IS NOT NULL`,
      ]);
      const entries: FileInfo[] = files.map((row) => ({
        path: row.path as string,
        is_dir: false,
        size: Number(row.size),
        modified_at: isoTime(row.modified_at),
      }));
      for (const row of subdirs) entries.push({ path: `${from}${row.name as string}/`, is_dir: true, size: 0 });
      return { files: entries.sort((a, b) => comparePaths(a.path, b.path)) };
    });
  }

  async read(filePath: string, offset?: number, limit?: number): Promise<ReadResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.attempt(`reading '${path}'`, async () => {
      const row = await this.fetchFile(this.sql, path);
      if (!row) return this.missing(this.sql, path);
      const content = contentFromBytes(path, asBytes(row.content));
      const mimeType = row.mime_type as string;
      const etag = String(row.version);
      return readResultOf(content, mimeType, etag, offset, limit);
    });
  }

  async readRaw(filePath: string): Promise<ReadRawResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    return this.attempt(`reading '${path}'`, async () => {
      const row = await this.fetchFile(this.sql, path);
      if (!row) return this.missing(this.sql, path);
      return {
        data: {
          content: contentFromBytes(path, asBytes(row.content)),
          mimeType: row.mime_type as string,
          created_at: isoTime(row.created_at),
          modified_at: isoTime(row.modified_at),
        },
        etag: String(row.version),
      };
    });
  }

  async write(filePath: string, content: string, options?: WriteOptions): Promise<WriteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (typeof content !== "string") return failure("invalid_argument", `Content for '${path}' must be a string`);
    const bytes = bytesForWrite(path, content);
    if (!bytes) return failure("invalid_argument", `Content for binary file '${path}' must be base64`);
    return this.writeStored(path, storedContent(path, bytes), options);
  }

  async edit(
    filePath: string,
    oldString: string,
    newString: string,
    replaceAll = false,
    options?: WriteOptions,
  ): Promise<EditResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    if (options?.signal?.aborted) return failure("aborted", `Edit of '${path}' was aborted`);
    return this.attempt(`editing '${path}'`, () =>
      runTransaction(this.sql, async (tx): Promise<EditResult> => {
        // The path's advisory lock first, as write, upload and delete take it: a plain write waits
        // for the edit instead of failing its version check. Then the row lock makes a concurrent
        // edit (from any process) wait and then see this one's result.
        await tx`SELECT pg_advisory_xact_lock(${this.lockKey(tx, path)})`;
        const row = await this.fetchFile(tx, path, true);
        if (!row) return this.missing(tx, path);
        const plan = planEdit(
          path,
          {
            etag: String(row.version),
            content: contentFromBytes(path, asBytes(row.content)),
            mimeType: row.mime_type as string,
          },
          oldString,
          newString,
          replaceAll,
          options,
        );
        if ("error" in plan) return plan;
        if ("done" in plan) return plan.done;
        const stored = storedContent(path, encodeUtf8(plan.content), plan.content);
        const [updated] = await tx`
          UPDATE ${tableSql(tx, this.location)}
          SET content = ${stored.content}, text_content = ${stored.textContent}, size = ${stored.size},
              modified_at = now(), version = DEFAULT
          WHERE namespace = ${this.namespace} AND path = ${path}
          RETURNING version`;
        return { path, occurrences: plan.occurrences, etag: String(updated?.version) };
      }),
    );
  }

  async grep(
    pattern: string,
    path?: string | null,
    glob?: string | null,
    maxCount?: number | null,
  ): Promise<GrepResult> {
    const parsed = parseGrepArgs(pattern, path, glob, maxCount);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    const query = parsed.query;
    return this.attempt(`searching '${query.dir}'`, () =>
      grepInDatabase(this.sql, this.location, this.namespace, query),
    );
  }

  async glob(pattern: string, path?: string): Promise<GlobResult> {
    const parsed = parseGlobArgs(pattern, path);
    if (!parsed.ok) return failure(parsed.code, parsed.error);
    // The pattern's literal directory narrows the rows in SQL; the core matcher decides.
    const { dir, matches, root } = parsed.query;
    const { from, to } = descendantRange(root);
    return this.attempt(`searching '${dir}'`, async () => {
      const rows = await this.sql`
        SELECT path, size, modified_at FROM ${tableSql(this.sql, this.location)}
        WHERE namespace = ${this.namespace} AND (path = ${root} OR (path >= ${from} AND path < ${to}))
        ORDER BY path`;
      const files: FileInfo[] = [];
      for (const row of rows) {
        const p = row.path as string;
        if (matches(p))
          files.push({ path: p, is_dir: false, size: Number(row.size), modified_at: isoTime(row.modified_at) });
      }
      return { files };
    });
  }

  async delete(filePath: string): Promise<DeleteResult> {
    const checked = checkPath(filePath);
    if (!checked.ok) return failure(checked.code, checked.error);
    const path = checked.path;
    const { from, to } = descendantRange(path);
    return this.attempt(`deleting '${path}'`, () =>
      runTransaction(this.sql, async (tx): Promise<DeleteResult> => {
        // Exclusive on the path: writes below it hold it shared, so none lands half-way.
        await tx`SELECT pg_advisory_xact_lock(${this.lockKey(tx, path)})`;
        const deleted = await tx`
          DELETE FROM ${tableSql(tx, this.location)}
          WHERE namespace = ${this.namespace} AND (path = ${path} OR (path >= ${from} AND path < ${to}))`;
        return deleted.count === 0 ? notFound(path) : { path };
      }),
    );
  }

  /**
   * Uploads in chunks (see `upload-plan.ts`): one transaction and one multi-row upsert per chunk of
   * up to 200 files, with the outcome of writing the files one after another in input order.
   */
  async uploadFiles(files: Array<[string, Uint8Array]>): Promise<FileUploadResponse[]> {
    const out: FileUploadResponse[] = new Array(files.length);
    const entries: UploadEntry[] = [];
    files.forEach(([rawPath, bytes], index) => {
      const checked = checkPath(rawPath);
      if (!checked.ok) {
        out[index] = { path: rawPath, error: "invalid_path", code: "invalid_path", message: checked.error };
        return;
      }
      const path = checked.path;
      if (!(bytes instanceof Uint8Array)) {
        out[index] = {
          path,
          error: "invalid_path",
          code: "invalid_argument",
          message: `Content for '${path}' must be bytes`,
        };
      } else if (path === "/") {
        const { error, code } = this.isDirectory(path);
        out[index] = { path, error: coarseCode(code), code, message: error };
      } else {
        entries.push({ index, path, stored: storedContent(path, bytes) });
      }
    });
    for (const chunk of chunkUploads(entries)) {
      const outcomes = await this.uploadChunk(chunk);
      for (const entry of chunk) {
        const outcome = outcomes instanceof Map ? outcomes.get(entry.index) : outcomes;
        out[entry.index] = outcome
          ? { path: entry.path, error: coarseCode(outcome.code), code: outcome.code, message: outcome.error }
          : { path: entry.path, error: null };
      }
    }
    return out;
  }

  async downloadFiles(paths: string[]): Promise<FileDownloadResponse[]> {
    const checks = paths.map((p) => checkPath(p));
    const wanted = [...new Set(checks.flatMap((c) => (c.ok ? [c.path] : [])))];
    const found = await this.attempt("downloading files", async () => {
      const rows = wanted.length
        ? await this.sql`
            SELECT path, content FROM ${tableSql(this.sql, this.location)}
            WHERE namespace = ${this.namespace} AND path = ANY(${wanted}::text[])`
        : [];
      const contents = new Map(rows.map((row) => [row.path as string, asBytes(row.content)]));
      const directories = await this.directoriesAmong(
        this.sql,
        wanted.filter((p) => !contents.has(p)),
      );
      return { contents, directories };
    });
    return paths.map((rawPath, i): FileDownloadResponse => {
      const check = checks[i];
      if (!check?.ok)
        return {
          path: rawPath,
          content: null,
          error: "invalid_path",
          code: "invalid_path",
          message: check?.error ?? "",
        };
      const path = check.path;
      if ("error" in found)
        return { path, content: null, error: coarseCode(found.code), code: found.code, message: found.error };
      const content = found.contents.get(path);
      if (content) return { path, content, error: null };
      const missing = found.directories.has(path) ? this.isDirectory(path) : notFound(path);
      return { path, content: null, error: coarseCode(missing.code), code: missing.code, message: missing.error };
    });
  }

  /** Creates or replaces the file at `path`, checking the tree and the preconditions atomically. */
  private async writeStored(
    path: string,
    stored: StoredContent,
    options: WriteOptions | undefined,
  ): Promise<WriteResult> {
    if (options?.signal?.aborted) return failure("aborted", `Write of '${path}' was aborted`);
    if (path === "/") return this.isDirectory(path);
    const ancestors = ancestorsOf(path);
    const { from, to } = descendantRange(path);
    return this.attempt(`writing '${path}'`, () =>
      runTransaction(this.sql, async (tx): Promise<WriteResult> => {
        const table = tableSql(tx, this.location);
        // Shared locks on the ancestors (a concurrent write of a file there waits), exclusive on
        // the path; then the checks, whose snapshot starts after the locks are held. One round trip.
        const [, , state] = await Promise.all([
          tx`SELECT pg_advisory_xact_lock_shared(${this.lockKey(tx, tx`a`)}) FROM unnest(${ancestors}::text[]) AS a`,
          tx`SELECT pg_advisory_xact_lock(${this.lockKey(tx, path)})`,
          tx`
            SELECT
              (SELECT version FROM ${table} WHERE namespace = ${this.namespace} AND path = ${path}) AS version,
              EXISTS (SELECT 1 FROM ${table} WHERE namespace = ${this.namespace} AND path >= ${from} AND path < ${to}) AS is_dir,
              (SELECT path FROM ${table} WHERE namespace = ${this.namespace} AND path = ANY(${ancestors}::text[])
               ORDER BY path LIMIT 1) AS file_ancestor`,
        ]);
        const current = state[0];
        if (current?.is_dir) return this.isDirectory(path);
        if (current?.file_ancestor) {
          const file = current.file_ancestor as string;
          return failure("not_a_directory", `'${file}' is a file, so '${path}' cannot be created below it`);
        }
        const existing = current?.version === null || current?.version === undefined ? null : String(current.version);
        const blocked = existing === null ? writeConflict(path, options) : checkPreconditions(path, existing, options);
        if (blocked) return blocked;
        const values = {
          parent: parentDir(path),
          content: stored.content,
          text: stored.textContent,
          size: stored.size,
          mime: stored.mimeType,
        };
        const written = existing
          ? await tx`
              UPDATE ${table}
              SET content = ${values.content}, text_content = ${values.text}, size = ${values.size},
                  mime_type = ${values.mime}, modified_at = now(), version = DEFAULT
              WHERE namespace = ${this.namespace} AND path = ${path} AND version = ${existing}
              RETURNING version`
          : await tx`
              INSERT INTO ${table} (namespace, path, parent, content, text_content, size, mime_type)
              VALUES (${this.namespace}, ${path}, ${values.parent}, ${values.content}, ${values.text}, ${values.size}, ${values.mime})
              ON CONFLICT (namespace, path) DO NOTHING
              RETURNING version`;
        // The locks make a miss impossible among deepfs writers; a foreign writer can still race.
        const version = written[0]?.version;
        if (version === undefined) return failure("conflict", `'${path}' changed during the write; retry`);
        return { path, etag: String(version) };
      }),
    );
  }

  /**
   * Writes one chunk of uploads in a transaction: the chunk's advisory locks, then the tree checks,
   * then one `INSERT ... ON CONFLICT DO UPDATE` of every accepted file (its last content).
   */
  private uploadChunk(chunk: UploadEntry[]): Promise<Map<number, Failure | null> | Failure> {
    const locks = chunkLocks(chunk);
    const ancestors = chunkAncestors(chunk);
    return this.attempt(`uploading ${chunk.length} file(s)`, () =>
      runTransaction(this.sql, async (tx) => {
        const table = tableSql(tx, this.location);
        const [, directories, files] = await Promise.all([
          tx`
            SELECT CASE WHEN l.mode = 'x' THEN (SELECT 1 FROM pg_advisory_xact_lock(${this.lockKey(tx, tx`l.path`)}))
                        ELSE (SELECT 1 FROM pg_advisory_xact_lock_shared(${this.lockKey(tx, tx`l.path`)})) END
            FROM unnest(${locks.map((l) => l.path)}::text[], ${locks.map((l) => (l.exclusive ? "x" : "s"))}::text[]) AS l(path, mode)`,
          this.directoriesAmong(
            tx,
            chunk.map((entry) => entry.path),
          ),
          tx`SELECT path FROM ${table} WHERE namespace = ${this.namespace} AND path = ANY(${ancestors}::text[])`,
        ]);
        const plan = planChunk(chunk, { directories, files: new Set(files.map((row) => row.path as string)) });
        if (plan.rows.length > 0) {
          const rows = plan.rows.map(({ path, stored }) => ({
            namespace: this.namespace,
            path,
            parent: parentDir(path),
            content: stored.content,
            text_content: stored.textContent,
            size: stored.size,
            mime_type: stored.mimeType,
          }));
          await tx`
            INSERT INTO ${table} ${tx(rows, "namespace", "path", "parent", "content", "text_content", "size", "mime_type")}
            ON CONFLICT (namespace, path) DO UPDATE
            SET content = EXCLUDED.content, text_content = EXCLUDED.text_content, size = EXCLUDED.size,
                mime_type = EXCLUDED.mime_type, modified_at = now(), version = DEFAULT`;
        }
        return plan.outcomes;
      }),
    );
  }

  /** The row of the file at `path`, or undefined. */
  private async fetchFile(sql: Queryable, path: string, forUpdate = false): Promise<postgres.Row | undefined> {
    const rows = await sql`
      SELECT content, mime_type, created_at, modified_at, version FROM ${tableSql(sql, this.location)}
      WHERE namespace = ${this.namespace} AND path = ${path}
      ${forUpdate ? sql`FOR UPDATE` : sql``}`;
    return rows[0];
  }

  /** The failure for a file path that has no row: a directory, or not found. */
  private async missing(sql: Queryable, path: string): Promise<Failure> {
    const dirs = await this.directoriesAmong(sql, [path]);
    return dirs.has(path) ? this.isDirectory(path) : notFound(path);
  }

  /** Which of `paths` are (implicit) directories: some file lies below them. */
  private async directoriesAmong(sql: Queryable, paths: string[]): Promise<Set<string>> {
    if (paths.length === 0) return new Set();
    const ranges = paths.map((p) => descendantRange(p));
    const rows = await sql`
      SELECT d.path FROM unnest(${paths}::text[], ${ranges.map((r) => r.from)}::text[], ${ranges.map((r) => r.to)}::text[]) AS d(path, lo, hi)
      WHERE EXISTS (
        SELECT 1 FROM ${tableSql(sql, this.location)} f
        WHERE f.namespace = ${this.namespace} AND f.path >= d.lo AND f.path < d.hi)`;
    return new Set(rows.map((row: postgres.Row) => row.path as string));
  }

  private isDirectory(path: string): Failure {
    return failure("is_directory", `'${path}' is a directory, not a file`);
  }

  /** The advisory lock key of `path` (a string or an SQL expression) in this table and namespace. */
  private lockKey(
    tx: Transaction,
    path: string | postgres.PendingQuery<postgres.Row[]>,
  ): postgres.PendingQuery<postgres.Row[]> {
    return tx`hashtextextended(${path}, hashtextextended(${this.lockScope}, 0))`;
  }

  /** Creates the table on first use (once; again after a failure) and opens `minPoolSize` connections. */
  private ready(): Promise<SchemaInfo> {
    this.schema ??= (async () => {
      const info = await withRetry(() => createSchema(this.sql, this.location), this.retry);
      await Promise.all(Array.from({ length: this.minPoolSize }, () => this.sql`SELECT 1`));
      return info;
    })().catch((error: unknown) => {
      this.schema = null;
      throw error;
    });
    return this.schema;
  }

  /** Runs one call: initializes, retries transient faults, and returns native errors as failures. */
  private async attempt<R>(action: string, operation: () => Promise<R>): Promise<R | Failure> {
    if (this.closing) return failure("backend_unavailable", `PostgresBackend is closed (while ${action})`);
    try {
      await this.ready();
      return await withRetry(operation, this.retry);
    } catch (error) {
      return failureFromError(error, action);
    }
  }
}
