import { DeepfsError } from "@deepfs/core";
import { DriverBackend } from "@deepfs/core/kit";
import { type PostgresBackendConfig, type PostgresClient, resolveConfig } from "./config.js";
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from "./embedded.js";
import { translateError } from "./errors.js";
import { PostgresDriver } from "./postgres-driver.js";
import type { SchemaInfo, TableRef } from "./schema.js";

/**
 * Agent files in a PostgreSQL table, through postgres.js (see {@link PostgresDriver}).
 *
 * - Tenants: every query filters on `namespace = $1` (equality, never a prefix), so backends with
 *   namespaces `acme` and `acme-corp` on one table never see each other's files.
 * - grep runs inside the database and returns only matching lines (see `grep.ts`).
 * - Writes run in a transaction under advisory locks (exclusive on the path, shared on its
 *   ancestors), and check `ifMatch` / `ifNoneMatch` against the row's `version` there, so an edit
 *   (read, plan, write if the version still holds, retried) loses no change, also from other processes.
 * - Dropped connections and server restarts are retried; a write whose COMMIT was in flight when
 *   the connection dropped returns `backend_unavailable` instead of being applied twice.
 * - With the `history` option, every change writes its version to `<table>_history` in the same
 *   statement (see `history-sql.ts`); snapshots are watermarks of the version sequence.
 *
 * Call `initialize()` once (it is idempotent; methods call it on first use), and `close()` at the end.
 */
export class PostgresBackend extends DriverBackend<PostgresDriver> implements AsyncDisposable {
  /** The tenant this backend reads and writes. */
  readonly namespace: string;
  /** Schema and table of the files. */
  readonly location: Readonly<TableRef>;

  /**
   * @param config connection settings, a connection URL, or `{ sql }` with an existing postgres.js
   *   instance (which `close()` leaves open). Throws `DeepfsError` (`invalid_argument`) when invalid.
   */
  constructor(config: PostgresBackendConfig) {
    super(new PostgresDriver(resolveConfig(config)));
    this.namespace = this.driver.tenant.namespace;
    this.location = this.driver.tenant.location;
  }

  /**
   * Creates the schema, table and indexes when missing (idempotent, safe from several processes at
   * once) and opens `minPoolSize` connections. Throws `DeepfsError` when the database cannot be used.
   */
  async initialize(): Promise<SchemaInfo> {
    try {
      return await this.driver.ready();
    } catch (error) {
      const { code, reason } = translateError(error);
      const where = `${this.location.schema}.${this.location.table}`;
      throw new DeepfsError(code, `PostgreSQL failed while initializing ${where} (${reason})`, { cause: error });
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
      backend.driver.stopEmbedded = embedded.stop;
      await backend.initialize();
      return backend;
    } catch (error) {
      await embedded.stop();
      throw error;
    }
  }

  /**
   * The postgres.js client of this backend, for tables of your own in the same database (an audit
   * table, say). Do not end it: `close()` does, when the backend created it.
   */
  get sql(): PostgresClient {
    return this.driver.sql;
  }

  /** Ends the connection pool if this backend created it (and the embedded database). Idempotent. */
  close(): Promise<void> {
    return this.driver.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
