import { encodeUtf8, type GlobQuery, type GrepMatch, type GrepQuery, parentDir } from "@deepfs/core";
import {
  type BatchFile,
  type CallContext,
  type Driver,
  type DriverCapabilities,
  type DriverEntry,
  type DriverFile,
  type DriverStat,
  type Fault,
  FaultError,
  fault,
  isFault,
  type ReadCall,
  type WriteCall,
} from "@deepfs/core/kit";
import type postgres from "postgres";
import type { PostgresClient, ResolvedConfig, Transaction } from "./config.js";
import { faultFromError } from "./errors.js";
import { grepInDatabase } from "./grep.js";
import { PostgresHistory } from "./history.js";
import {
  changedColumns,
  type HistoryScope,
  historyLock,
  prune,
  prunes,
  recorded,
  seedHistory,
  tombstoned,
} from "./history-sql.js";
import { ancestorsOf, descendantRange } from "./path-range.js";
import {
  directoriesAmong,
  fetchFile,
  fileStat,
  filesBelow,
  isoTime,
  listDir,
  lockKey,
  overReadLimit,
  type Tenant,
} from "./queries.js";
import { type RetryPolicy, retrying } from "./retry.js";
import { createSchema, type SchemaInfo, tableSql } from "./schema.js";
import { bytesColumn, bytesOfRow, contentOfRow, type StoredContent, storedContent } from "./stored-content.js";
import { runTransaction } from "./transaction.js";
import { chunkAncestors, chunkLocks, chunkUploads, planChunk, type UploadEntry } from "./upload-plan.js";

/** A file row as the driver answers it. */
function fileOf(path: string, row: postgres.Row): DriverFile {
  return {
    content: contentOfRow(path, row),
    etag: String(row.version),
    mimeType: row.mime_type as string,
    createdAt: isoTime(row.created_at),
    modifiedAt: isoTime(row.modified_at),
  };
}

/** A row of `path, size, modified_at` as a listing entry. */
function fileEntry(row: postgres.Row): DriverEntry {
  return { path: row.path as string, kind: "file", size: Number(row.size), modifiedAt: isoTime(row.modified_at) };
}

/**
 * Agent files in a PostgreSQL table, through postgres.js: one row per file, directories implied by
 * the paths below them.
 *
 * - Tenants: every query filters on `namespace = $1` (equality, never a prefix).
 * - Writes run in a transaction under advisory locks (exclusive on the path, shared on its
 *   ancestors), so "a file where a directory is", "a file below a file" and `ifMatch` /
 *   `ifNoneMatch` (against the row's `version`, drawn from a sequence on every change) are checked
 *   atomically, also against other processes. Edits are the facade's read + conditional write.
 * - grep runs inside the database and returns only matching lines (see `grep.ts`).
 * - Transient faults (dropped connection, server restart, deadlock) are retried; a write whose
 *   COMMIT was in flight when the connection dropped answers `backend_unavailable` instead of
 *   being applied twice (see `transaction.ts`).
 */
export class PostgresDriver implements Driver {
  readonly capabilities: DriverCapabilities;
  /** Table, namespace and lock scope of the files. */
  readonly tenant: Tenant;
  /** The version history (`history` option), recorded by the same statement as each change. */
  readonly history?: PostgresHistory;
  /** Where the versions are and how many are kept, when history is on. */
  private readonly versions: HistoryScope | null;

  readonly sql: PostgresClient;
  private readonly ownsClient: boolean;
  private readonly minPoolSize: number;
  private readonly retry: RetryPolicy;
  /** Largest file read (but for downloads) and searched by grep (`maxFileSizeMb`), in bytes. */
  private readonly maxFileBytes: number;
  private schema: Promise<SchemaInfo> | null = null;
  /** Whether the table stores text files once (see `createSchema`); known once `ready()` answered. */
  private textOnce = false;
  /** Stops what the backend started besides its pool (the embedded database). */
  stopEmbedded: (() => Promise<void>) | null = null;
  private closing: Promise<void> | null = null;

  constructor(config: ResolvedConfig) {
    this.sql = config.sql;
    this.ownsClient = config.ownsClient;
    this.minPoolSize = config.minPoolSize;
    this.retry = config.retry;
    this.maxFileBytes = config.maxFileBytes;
    // The read limit and grep's bounds travel with the capabilities, through any layer over the store.
    const limits = config.limits;
    this.capabilities = { conditionalWrites: true, realDirectories: false, readOnly: false, nativeGrep: true, limits };
    const { schema, table, namespace } = config;
    this.tenant = {
      location: Object.freeze({ schema, table }),
      namespace,
      lockScope: `${schema}\u0001${table}\u0001${namespace}`,
    };
    this.versions = config.history ? { tenant: this.tenant, retention: config.history } : null;
    if (this.versions) this.history = new PostgresHistory(this, this.versions, this.maxFileBytes);
  }

  async stat(path: string, call: CallContext): Promise<DriverStat | Fault> {
    if (path === "/") return { kind: "directory" };
    return this.run(call, async () => {
      const row = await fileStat(this.sql, this.tenant, path);
      if (row) {
        const modifiedAt = isoTime(row.modified_at);
        const createdAt = isoTime(row.created_at);
        return { kind: "file", size: Number(row.size), etag: String(row.version), modifiedAt, createdAt };
      }
      const dirs = await directoriesAmong(this.sql, this.tenant, [path]);
      return dirs.has(path) ? { kind: "directory" } : { kind: "none" };
    });
  }

  /**
   * One query. A file over the read limit (`maxFileSizeMb`) answers `too_large` and its content
   * never leaves the server (the query sends only its size); a download (`whole`) has no limit.
   */
  read(path: string, call: ReadCall): Promise<DriverFile | Fault> {
    const maxBytes = call.whole === true ? undefined : this.maxFileBytes;
    return this.run(call, async () => {
      const row = await fetchFile(this.sql, this.tenant, path, maxBytes);
      if (!row) return this.missing(path);
      const size = row.size as number;
      return maxBytes !== undefined && size > maxBytes ? overReadLimit(size, maxBytes) : fileOf(path, row);
    });
  }

  /**
   * Several whole files in one query, then one for which of the missing paths are directories
   * (downloads): a file or a fault per path, in order.
   */
  async readBatch(paths: string[], call: CallContext): Promise<Array<DriverFile | Fault>> {
    const unique = [...new Set(paths)];
    const found = await this.run(call, async () => {
      const rows = await this.sql`
        SELECT path, content, text_content, version FROM ${tableSql(this.sql, this.tenant.location)}
        WHERE namespace = ${this.tenant.namespace} AND path = ANY(${unique}::text[])`;
      const out = new Map<string, DriverFile | Fault>(
        rows.map((row) => [row.path as string, { content: bytesOfRow(row), etag: String(row.version) }]),
      );
      const missing = unique.filter((p) => !out.has(p));
      const directories = await directoriesAmong(this.sql, this.tenant, missing);
      for (const p of missing) out.set(p, fault(directories.has(p) || p === "/" ? "is_directory" : "file_not_found"));
      return out;
    });
    return paths.map((p) => (isFault(found) ? found : (found.get(p) ?? fault("file_not_found"))));
  }

  /** Creates or replaces the file at `path`, checking the tree and the preconditions atomically. */
  async write(path: string, content: string | Uint8Array, call: WriteCall): Promise<{ etag: string } | Fault> {
    if (path === "/") return fault("is_directory");
    const stored =
      typeof content === "string" ? storedContent(path, encodeUtf8(content), content) : storedContent(path, content);
    return this.run(call, () => runTransaction(this.sql, (tx) => this.writeIn(tx, path, stored, call)));
  }

  /**
   * Uploads in chunks (see `upload-plan.ts`): one transaction and one multi-row upsert per chunk of
   * up to 200 files, with the outcome of writing the files one after another in input order.
   */
  async writeBatch(files: BatchFile[], call: CallContext): Promise<Array<{ etag: string } | Fault>> {
    const out = new Array<{ etag: string } | Fault>(files.length);
    const entries: UploadEntry[] = [];
    files.forEach(({ path, bytes }, index) => {
      if (path === "/") out[index] = fault("is_directory");
      else entries.push({ index, path, stored: storedContent(path, bytes) });
    });
    for (const chunk of chunkUploads(entries)) {
      const outcomes = await this.run(call, () => runTransaction(this.sql, (tx) => this.writeChunkIn(tx, chunk)));
      for (const entry of chunk) {
        out[entry.index] = isFault(outcomes) ? outcomes : (outcomes.get(entry.index) as { etag: string } | Fault);
      }
    }
    return out;
  }

  list(dir: string, call: CallContext): Promise<DriverEntry[] | Fault> {
    return this.run(call, async () => {
      const { files, subdirs } = await listDir(this.sql, this.tenant, dir);
      const entries = files.map(fileEntry);
      for (const path of subdirs) entries.push({ path, kind: "directory" });
      return entries;
    });
  }

  async *walk(dir: string, call: CallContext): AsyncIterable<DriverEntry> {
    yield* await this.rowsBelow(dir, false, call);
  }

  /** Glob candidates: the rows at and below the pattern's literal directory, narrowed in SQL. */
  async *glob(query: GlobQuery, call: CallContext): AsyncIterable<DriverEntry> {
    yield* await this.rowsBelow(query.root, true, call);
  }

  remove(path: string, call: CallContext): Promise<{ path: string } | Fault> {
    const { from, to } = descendantRange(path);
    return this.run(call, () =>
      runTransaction(this.sql, async (tx) => {
        if (this.versions) await historyLock(tx, this.versions, "shared");
        // Exclusive on the path: writes below it hold it shared, so none lands half-way.
        await tx`SELECT pg_advisory_xact_lock(${lockKey(tx, this.tenant, path)})`;
        const removal = tx`
            DELETE FROM ${tableSql(tx, this.tenant.location)}
            WHERE namespace = ${this.tenant.namespace} AND (path = ${path} OR (path >= ${from} AND path < ${to}))`;
        // With history, one statement deletes the rows and writes a tombstone per file.
        const count = this.versions
          ? Number((await tombstoned(tx, this.versions, tx`${removal} RETURNING path`))[0]?.n ?? 0)
          : (await removal).count;
        return count === 0 ? fault("file_not_found") : { path };
      }),
    );
  }

  /**
   * The SQL grep (see `grep.ts`): at most `maxCount + 1` matches, in path and line order; files
   * over `maxFileSizeMb` are skipped, as every backend skips them; `too_large` once the matches
   * found pass `query.limits` (the search stops there).
   */
  grep(query: GrepQuery, call: CallContext): Promise<{ matches: GrepMatch[] } | Fault> {
    return this.run(call, async () => {
      const { trigramIndex } = await this.ready();
      return grepInDatabase(this.sql, this.tenant.location, this.tenant.namespace, query, {
        trigramIndex,
        maxFileBytes: this.maxFileBytes,
      });
    });
  }

  /** Ends the connection pool if this driver created it (or the embedded database). Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.stopEmbedded
      ? this.stopEmbedded()
      : this.ownsClient
        ? this.sql.end({ timeout: 5 })
        : Promise.resolve();
    return this.closing;
  }

  /** The body of a write's transaction: locks, then checks on a snapshot taken under them, then the row. */
  private async writeIn(
    tx: Transaction,
    path: string,
    stored: StoredContent,
    call: WriteCall,
  ): Promise<{ etag: string } | Fault> {
    const { location, namespace } = this.tenant;
    const table = tableSql(tx, location);
    const ancestors = ancestorsOf(path);
    const { from, to } = descendantRange(path);
    // Shared locks on the ancestors (a concurrent write of a file there waits), exclusive on the
    // path; then the checks, whose snapshot starts after the locks are held. One round trip.
    const history = this.versions;
    const [, , , state] = await Promise.all([
      history ? historyLock(tx, history, "shared") : null,
      tx`SELECT pg_advisory_xact_lock_shared(${lockKey(tx, this.tenant, tx`a`)}) FROM unnest(${ancestors}::text[]) AS a`,
      tx`SELECT pg_advisory_xact_lock(${lockKey(tx, this.tenant, path)})`,
      tx`
        SELECT
          (SELECT version FROM ${table} WHERE namespace = ${namespace} AND path = ${path}) AS version,
          EXISTS (SELECT 1 FROM ${table} WHERE namespace = ${namespace} AND path >= ${from} AND path < ${to}) AS is_dir,
          (SELECT path FROM ${table} WHERE namespace = ${namespace} AND path = ANY(${ancestors}::text[])
           ORDER BY path LIMIT 1) AS file_ancestor`,
    ]);
    const current = state[0];
    if (current?.is_dir) return fault("is_directory");
    if (current?.file_ancestor) return fault("not_a_directory", { path: current.file_ancestor, reason: "file_in_way" });
    const existing = current?.version === null || current?.version === undefined ? null : String(current.version);
    if (existing === null && call.ifMatch !== undefined) return fault("conflict", { reason: "missing" });
    if (existing !== null && call.ifNoneMatch === "*") return fault("conflict", { reason: "exists" });
    if (existing !== null && call.ifMatch !== undefined && call.ifMatch !== existing)
      return fault("conflict", { reason: "changed" });
    const returning = history ? changedColumns(tx) : tx`version`;
    const change = existing
      ? tx`
          UPDATE ${table}
          SET content = ${bytesColumn(stored, this.textOnce)}, text_content = ${stored.textContent}, size = ${stored.size},
              mime_type = ${stored.mimeType}, modified_at = now(), version = DEFAULT
          WHERE namespace = ${namespace} AND path = ${path} AND version = ${existing}
          RETURNING ${returning}`
      : tx`
          INSERT INTO ${table} (namespace, path, parent, content, text_content, size, mime_type)
          VALUES (${namespace}, ${path}, ${parentDir(path)}, ${bytesColumn(stored, this.textOnce)}, ${stored.textContent},
                  ${stored.size}, ${stored.mimeType})
          ON CONFLICT (namespace, path) DO NOTHING
          RETURNING ${returning}`;
    // With history, the same statement writes the version (see `history-sql.ts`).
    const written = await (history ? recorded(tx, history, change, call.op ?? "write") : change);
    // The locks make a miss impossible among deepfs writers; a foreign writer can still race.
    const version = written[0]?.version;
    if (version === undefined) return fault("conflict", { reason: "changed" });
    if (history && prunes(history.retention)) await prune(tx, history, [path]);
    return { etag: String(version) };
  }

  /**
   * The body of an upload chunk's transaction: the chunk's advisory locks, then the tree checks,
   * then one `INSERT ... ON CONFLICT DO UPDATE` of every accepted file (its last content).
   */
  private async writeChunkIn(tx: Transaction, chunk: UploadEntry[]): Promise<Map<number, { etag: string } | Fault>> {
    const { location, namespace } = this.tenant;
    const table = tableSql(tx, location);
    const locks = chunkLocks(chunk);
    const ancestors = chunkAncestors(chunk);
    const key = lockKey(tx, this.tenant, tx`l.path`);
    const history = this.versions;
    const [, , directories, files] = await Promise.all([
      history ? historyLock(tx, history, "shared") : null,
      tx`
        SELECT CASE WHEN l.mode = 'x' THEN (SELECT 1 FROM pg_advisory_xact_lock(${key}))
                    ELSE (SELECT 1 FROM pg_advisory_xact_lock_shared(${key})) END
        FROM unnest(${locks.map((l) => l.path)}::text[], ${locks.map((l) => (l.exclusive ? "x" : "s"))}::text[]) AS l(path, mode)`,
      directoriesAmong(
        tx,
        this.tenant,
        chunk.map((entry) => entry.path),
      ),
      tx`SELECT path FROM ${table} WHERE namespace = ${namespace} AND path = ANY(${ancestors}::text[])`,
    ]);
    const plan = planChunk(chunk, { directories, files: new Set(files.map((row) => row.path as string)) });
    const versions = new Map<string, string>();
    if (plan.rows.length > 0) {
      const rows = plan.rows.map(({ path, stored }) => ({
        namespace,
        path,
        parent: parentDir(path),
        content: bytesColumn(stored, this.textOnce),
        text_content: stored.textContent,
        size: stored.size,
        mime_type: stored.mimeType,
      }));
      const change = tx`
        INSERT INTO ${table} ${tx(rows, "namespace", "path", "parent", "content", "text_content", "size", "mime_type")}
        ON CONFLICT (namespace, path) DO UPDATE
        SET content = EXCLUDED.content, text_content = EXCLUDED.text_content, size = EXCLUDED.size,
            mime_type = EXCLUDED.mime_type, modified_at = now(), version = DEFAULT
        RETURNING ${history ? changedColumns(tx) : tx`path, version`}`;
      // With history, the same statement writes a version (op `upload`) per file.
      const written = await (history ? recorded(tx, history, change, "upload") : change);
      for (const row of written) versions.set(row.path as string, String(row.version));
      if (history && prunes(history.retention)) await prune(tx, history, [...versions.keys()]);
    }
    const out = new Map<number, { etag: string } | Fault>();
    for (const entry of chunk) {
      const outcome = plan.outcomes.get(entry.index);
      out.set(entry.index, outcome ?? { etag: versions.get(entry.path) ?? "" });
    }
    return out;
  }

  /** The fault for a file path that has no row: a directory, or not found. */
  private async missing(path: string): Promise<Fault> {
    const dirs = await directoriesAmong(this.sql, this.tenant, [path]);
    return fault(dirs.has(path) ? "is_directory" : "file_not_found");
  }

  /** The files below `root` (and `root` itself, when asked), as entries; a fault is thrown. */
  private async rowsBelow(root: string, withRoot: boolean, call: CallContext): Promise<DriverEntry[]> {
    const rows = await this.run(call, () => filesBelow(this.sql, this.tenant, root, withRoot));
    if (isFault(rows)) throw new FaultError(rows);
    return rows.map(fileEntry);
  }

  /** Creates the table on first use (once; again after a failure) and opens `minPoolSize` connections. */
  ready(): Promise<SchemaInfo> {
    this.schema ??= (async () => {
      const history = this.versions;
      const info = await retrying(
        () => createSchema(this.sql, this.tenant.location, { history: history !== null }),
        this.retry,
      );
      this.textOnce = info.textOnce;
      if (history) await retrying(() => seedHistory(this.sql, history), this.retry);
      await Promise.all(Array.from({ length: this.minPoolSize }, () => this.sql`SELECT 1`));
      return info;
    })().catch((error: unknown) => {
      this.schema = null;
      throw error;
    });
    return this.schema;
  }

  /** Runs one call: initializes, retries transient faults, and answers native errors as faults. */
  async run<R>(call: CallContext, operation: () => Promise<R>): Promise<R | Fault> {
    if (this.closing) return fault("backend_unavailable", { detail: "the backend is closed" });
    try {
      await this.ready();
      return await retrying(operation, this.retry, call.signal);
    } catch (error) {
      return faultFromError(error);
    }
  }
}
