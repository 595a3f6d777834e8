/**
 * {@link PostgresHistory}: the version history of a {@link PostgresDriver} in its `<table>_history`
 * table (see `history-sql.ts` for the write path). Snapshots are watermarks of the table's
 * version sequence; the state of a file at a snapshot is its newest version at or below it.
 */
import { createHash } from "node:crypto";
import {
  contentFromBytes,
  type FileVersion,
  type SnapshotChange,
  type VersionedFile,
  type VersionReadCall,
} from "@deepfs/core";
import { type CallContext, type DriverFile, type DriverHistory, type Fault, fault, isFault } from "@deepfs/core/kit";
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";
import { type HistoryScope, historyLock, historySql } from "./history-sql.js";
import { isoTime, overReadLimit } from "./queries.js";
import { asBytes } from "./stored-content.js";
import { runTransaction } from "./transaction.js";

/** What the history needs of its driver: the pool, and its way of running a call. */
export interface HistoryHost {
  readonly sql: PostgresClient;
  run<R>(call: CallContext, operation: () => Promise<R>): Promise<R | Fault>;
}

/** A version id as the table has it (a positive bigint in decimal), or null. */
function idOf(version: string): string | null {
  return /^[1-9][0-9]{0,17}$/.test(version) ? version : null;
}

const NO_VERSION = (version: string) => fault("file_not_found", { reason: "no_version", detail: version.slice(0, 40) });

/** The versions of one table and namespace, in SQL. */
export class PostgresHistory implements DriverHistory {
  private readonly host: HistoryHost;
  private readonly scope: HistoryScope;
  /**
   * The read limit (`maxFileSizeMb`), in bytes: a larger version is not read, unless whole (the
   * facade's restore, which writes it back).
   */
  private readonly maxFileBytes: number;
  /** Snapshot ids name their table and namespace (by a hash), so another's id is refused, not misread. */
  private readonly prefix: string;

  constructor(host: HistoryHost, scope: HistoryScope, maxFileBytes: number) {
    this.host = host;
    this.scope = scope;
    this.maxFileBytes = maxFileBytes;
    this.prefix = `pg-${createHash("sha256").update(scope.tenant.lockScope).digest("base64url").slice(0, 16)}`;
  }

  versions(path: string, limit: number | undefined, call: CallContext): Promise<FileVersion[] | Fault> {
    const { maxVersions, maxAgeMs } = this.scope.retention;
    const most = Math.min(limit ?? Number.POSITIVE_INFINITY, maxVersions ?? Number.POSITIVE_INFINITY);
    const { sql } = this.host;
    const { namespace } = this.scope.tenant;
    const table = historySql(sql, this.scope);
    // Retention as the caller sees it: what the next change of the file would prune is not listed.
    const fresh =
      maxAgeMs === undefined
        ? sql``
        : sql`AND (modified_at >= now() - ${maxAgeMs}::float8 * interval '1 millisecond'
               OR version_id = (SELECT max(version_id) FROM ${table} WHERE namespace = ${namespace} AND path = ${path}))`;
    return this.host.run(call, async () => {
      const rows = await sql`
        SELECT version_id, etag, size, modified_at, op FROM ${table}
        WHERE namespace = ${namespace} AND path = ${path} ${fresh}
        ORDER BY version_id DESC ${Number.isFinite(most) ? sql`LIMIT ${most}::bigint` : sql``}`;
      return rows.map((row) => ({
        version: String(row.version_id),
        etag: row.etag === null ? "" : String(row.etag),
        size: Number(row.size),
        modified_at: isoTime(row.modified_at),
        op: row.op as FileVersion["op"],
      }));
    });
  }

  /**
   * One query, bounded as `read` is: a version over the read limit answers `too_large` and its
   * content never leaves the server (the query sends only its size), unless `call.whole` asks for it.
   */
  async readVersion(path: string, version: string, call: VersionReadCall): Promise<DriverFile | Fault> {
    const limit = call.whole ? undefined : this.maxFileBytes;
    const found = await this.versionRow(path, version, call, limit);
    if (isFault(found)) return found;
    const size = Number(found.size);
    return limit !== undefined && size > limit ? overReadLimit(size, limit) : fileOf(path, found);
  }

  /**
   * The row of one version with its content (only when at most `maxBytes`, when given; the size
   * always), or the fault for an unknown version or a deletion.
   */
  private async versionRow(
    path: string,
    version: string,
    call: CallContext,
    maxBytes?: number,
  ): Promise<postgres.Row | Fault> {
    const id = idOf(version);
    if (id === null) return NO_VERSION(version);
    const { sql } = this.host;
    const content = maxBytes === undefined ? sql`content` : sql`CASE WHEN size <= ${maxBytes}::int8 THEN content END`;
    const found = await this.host.run(call, async () => {
      const rows = await sql`
        SELECT etag, ${content} AS content, size::float8 AS size, mime_type, created_at, modified_at
        FROM ${historySql(sql, this.scope)}
        WHERE namespace = ${this.scope.tenant.namespace} AND path = ${path} AND version_id = ${id}::bigint`;
      return rows[0] ?? null;
    });
    if (isFault(found)) return found;
    if (found === null) return NO_VERSION(version);
    if (found.etag === null) return fault("file_not_found", { reason: "deleted_version", detail: version });
    return found;
  }

  snapshot(call: CallContext): Promise<string | Fault> {
    const { sql } = this.host;
    return this.host.run(call, () =>
      runTransaction(sql, async (tx) => {
        // Exclusive for an instant: every transaction recording versions of the namespace has
        // committed or rolled back, so the watermark covers exactly the changes made so far.
        await historyLock(tx, this.scope, "exclusive");
        const [row] = await tx`
          SELECT coalesce(max(version_id), 0) AS top FROM ${historySql(tx, this.scope)}
          WHERE namespace = ${this.scope.tenant.namespace}`;
        return `${this.prefix}.${String(row?.top ?? 0)}`;
      }),
    );
  }

  async changesSince(snapshot: string, call: CallContext): Promise<SnapshotChange[] | Fault> {
    const { sql } = this.host;
    const { namespace } = this.scope.tenant;
    const table = historySql(sql, this.scope);
    const rows = await this.atSnapshot(
      snapshot,
      call,
      (at) =>
        sql`
        WITH latest AS (
          SELECT DISTINCT ON (path) path, etag, content FROM ${table}
          WHERE namespace = ${namespace} AND version_id > ${at}::bigint
          ORDER BY path, version_id DESC)
        SELECT l.path, l.etag IS NOT NULL AS exists_now, t.version_id AS then_id, t.etag AS then_etag,
               t.content IS NOT DISTINCT FROM l.content AS same, o.pruned_from
        FROM latest l
        LEFT JOIN LATERAL (
          SELECT version_id, etag, content FROM ${table} h
          WHERE h.namespace = ${namespace} AND h.path = l.path AND h.version_id <= ${at}::bigint
          ORDER BY h.version_id DESC LIMIT 1) t ON true
        LEFT JOIN LATERAL (
          SELECT pruned_from FROM ${table} h WHERE h.namespace = ${namespace} AND h.path = l.path
          ORDER BY h.version_id LIMIT 1) o ON true`,
    );
    if (isFault(rows)) return rows;
    const out: SnapshotChange[] = [];
    for (const row of rows.rows) {
      const path = row.path as string;
      const then = stateAt(row, rows.at);
      if (then === "pruned") return fault("unsupported", { path, reason: "history_pruned" });
      const existsNow = row.exists_now === true;
      if (then === "none") {
        if (existsNow) out.push({ path, change: "added" });
      } else if (!existsNow) out.push({ path, change: "deleted" });
      else if (row.same !== true) out.push({ path, change: "modified" });
    }
    return out;
  }

  async readAt(snapshot: string, path: string, call: CallContext): Promise<VersionedFile | null | Fault> {
    const { sql } = this.host;
    const { namespace } = this.scope.tenant;
    const table = historySql(sql, this.scope);
    const rows = await this.atSnapshot(
      snapshot,
      call,
      (at) =>
        sql`
        SELECT t.version_id AS then_id, t.etag AS then_etag, t.content, t.mime_type, t.created_at, t.modified_at,
               o.pruned_from
        FROM (SELECT 1) x
        LEFT JOIN LATERAL (
          SELECT version_id, etag, content, mime_type, created_at, modified_at FROM ${table} h
          WHERE h.namespace = ${namespace} AND h.path = ${path} AND h.version_id <= ${at}::bigint
          ORDER BY h.version_id DESC LIMIT 1) t ON true
        LEFT JOIN LATERAL (
          SELECT pruned_from FROM ${table} h WHERE h.namespace = ${namespace} AND h.path = ${path}
          ORDER BY h.version_id LIMIT 1) o ON true`,
    );
    if (isFault(rows)) return rows;
    const row = rows.rows[0];
    if (!row) return null;
    const then = stateAt(row, rows.at);
    if (then === "pruned") return fault("unsupported", { path, reason: "history_pruned" });
    if (then === "none") return null;
    return { ...fileOf(path, { ...row, etag: row.then_etag }), version: String(row.then_id) };
  }

  /**
   * Runs `query` at the watermark of `snapshot`, after checking that the id is one of this table and
   * namespace and not beyond its newest version (`invalid_argument`, reason `unknown_snapshot`).
   */
  private async atSnapshot(
    snapshot: string,
    call: CallContext,
    query: (at: string) => postgres.PendingQuery<postgres.Row[]>,
  ): Promise<{ at: bigint; rows: postgres.Row[] } | Fault> {
    const unknown = fault("invalid_argument", { reason: "unknown_snapshot" });
    const [prefix, position, rest] = snapshot.split(".");
    if (prefix !== this.prefix || rest !== undefined || !/^(0|[1-9][0-9]{0,17})$/.test(position ?? "")) return unknown;
    const at = position as string;
    const { sql } = this.host;
    const found = await this.host.run(call, async () => {
      const [top] = await sql`
        SELECT coalesce(max(version_id), 0) AS top FROM ${historySql(sql, this.scope)}
        WHERE namespace = ${this.scope.tenant.namespace}`;
      if (BigInt(String(top?.top ?? 0)) < BigInt(at)) return null;
      return [...(await query(at))];
    });
    if (isFault(found)) return found;
    return found === null ? unknown : { at: BigInt(at), rows: found };
  }
}

/**
 * A file's state at watermark `at` from its newest version there (`then_id`, `then_etag`) and the
 * `pruned_from` of its oldest kept version: none before its first version, `pruned` when retention
 * dropped the version that held then.
 */
function stateAt(row: postgres.Row, at: bigint): "none" | "exists" | "pruned" {
  if (row.then_id === null || row.then_id === undefined) {
    const first = row.pruned_from;
    return first !== null && first !== undefined && BigInt(String(first)) <= at ? "pruned" : "none";
  }
  return row.then_etag === null ? "none" : "exists";
}

/** A version row with content as the driver answers a file. */
function fileOf(path: string, row: postgres.Row): DriverFile {
  return {
    content: contentFromBytes(path, asBytes(row.content)),
    etag: String(row.etag),
    mimeType: row.mime_type as string,
    createdAt: isoTime(row.created_at),
    modifiedAt: isoTime(row.modified_at),
  };
}
