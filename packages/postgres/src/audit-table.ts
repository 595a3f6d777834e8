/**
 * {@link PostgresAuditTable}: `withAudit`'s trail in a PostgreSQL table, one row per event, in the
 * database of a PostgresBackend (its connection) or any postgres.js client.
 */
import { type AuditEvent, type AuditSink, DeepfsError } from "@deepfs/core";
import type { PostgresClient } from "./config.js";
import { translateError } from "./errors.js";

/** Options of {@link PostgresAuditTable}. */
export interface PostgresAuditTableOptions {
  /** The postgres.js client to write with (a PostgresBackend's is `backend.sql`); not ended by the table. */
  sql: PostgresClient;
  /** Default `deepfs_audit`. */
  table?: string;
  /** Default `public`. */
  schema?: string;
}

/** Which events {@link PostgresAuditTable.events} returns, newest first. */
export interface AuditQuery {
  actor?: string;
  path?: string;
  /** Default 100, at most 10,000. */
  limit?: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function identifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new DeepfsError("invalid_argument", `the audit ${what} must be a plain SQL identifier (letters, digits, _)`);
  }
  return value;
}

interface AuditRow {
  at: Date;
  actor: string | null;
  operation: string;
  path: string;
  etag_before: string | null;
  etag_after: string | null;
  bytes: string | number;
  result: string;
  outcome: string;
  exit_code: number | null;
}

/**
 * An audit trail in a table: `sink` is the `onAudit` of `withAudit`, each event one INSERT (so the
 * call that made the change answers only once its event is stored); `events()` reads them back.
 *
 * ```ts
 * const backend = new PostgresBackend({ url });
 * const trail = new PostgresAuditTable({ sql: backend.sql });
 * await trail.initialize();
 * const audited = withAudit(backend, { onAudit: trail.sink, actor: "agent-1" });
 * ```
 */
export class PostgresAuditTable {
  readonly table: string;
  readonly schema: string;
  private readonly sql: PostgresClient;
  private ready: Promise<void> | undefined;

  constructor(options: PostgresAuditTableOptions) {
    if (typeof options?.sql !== "function") {
      throw new DeepfsError("invalid_argument", "PostgresAuditTable needs `sql`: a postgres.js client");
    }
    this.sql = options.sql;
    this.table = identifier(options.table ?? "deepfs_audit", "table");
    this.schema = identifier(options.schema ?? "public", "schema");
  }

  /** Creates the schema and table when missing (idempotent); the sink calls it on first use. */
  initialize(): Promise<void> {
    this.ready ??= this.create().catch((error: unknown) => {
      this.ready = undefined;
      const { code, reason } = translateError(error);
      throw new DeepfsError(code, `PostgreSQL failed while creating the audit table (${reason})`, { cause: error });
    });
    return this.ready;
  }

  private async create(): Promise<void> {
    const sql = this.sql;
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql(this.schema)}`;
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql(this.schema)}.${sql(this.table)} (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        actor text,
        operation text NOT NULL,
        path text NOT NULL,
        etag_before text,
        etag_after text,
        bytes bigint NOT NULL,
        result text NOT NULL,
        outcome text NOT NULL,
        exit_code integer
      )`;
    await sql`CREATE INDEX IF NOT EXISTS ${sql(`${this.table}_path_at`)} ON ${sql(this.schema)}.${sql(this.table)} (path, at)`;
  }

  /** The `onAudit` of `withAudit`: stores one event. */
  readonly sink: AuditSink = async (event) => {
    await this.initialize();
    const sql = this.sql;
    const row = {
      at: new Date(event.time),
      actor: event.actor,
      operation: event.operation,
      path: event.path,
      etag_before: event.etagBefore,
      etag_after: event.etagAfter,
      bytes: event.bytes,
      result: event.result,
      outcome: event.outcome,
      exit_code: event.exitCode ?? null,
    };
    await sql`INSERT INTO ${sql(this.schema)}.${sql(this.table)} ${sql(row)}`;
  };

  /** Stored events, newest first. */
  async events(query: AuditQuery = {}): Promise<AuditEvent[]> {
    await this.initialize();
    const sql = this.sql;
    const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 100)), 10_000);
    const rows = await sql<AuditRow[]>`
      SELECT at, actor, operation, path, etag_before, etag_after, bytes, result, outcome, exit_code
      FROM ${sql(this.schema)}.${sql(this.table)}
      WHERE (${query.actor ?? null}::text IS NULL OR actor = ${query.actor ?? null})
        AND (${query.path ?? null}::text IS NULL OR path = ${query.path ?? null})
      ORDER BY id DESC
      LIMIT ${limit}`;
    return rows.map((r) => {
      const event: AuditEvent = {
        time: r.at.toISOString(),
        actor: r.actor,
        operation: r.operation as AuditEvent["operation"],
        path: r.path,
        etagBefore: r.etag_before,
        etagAfter: r.etag_after,
        bytes: Number(r.bytes),
        result: r.result as AuditEvent["result"],
        outcome: r.outcome as AuditEvent["outcome"],
      };
      if (r.exit_code !== null) event.exitCode = r.exit_code;
      return event;
    });
  }
}
