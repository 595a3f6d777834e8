/**
 * The SQL of the version history on the write path: each change and its version in one statement
 * (a CTE), the namespace's history lock, retention, and the seeding of files written without
 * history. Everything filters on `namespace = $1` (equality, never LIKE), as the files do.
 */
import type { HistoryRetention, VersionOp } from "@deepfs/core";
import type postgres from "postgres";
import type { PostgresClient, Queryable, Transaction } from "./config.js";
import { lockKey, type Tenant } from "./queries.js";
import { historyRef, tableSql } from "./schema.js";
import { runTransaction } from "./transaction.js";

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** Where the versions of one backend are, and how many it keeps. */
export interface HistoryScope {
  tenant: Tenant;
  retention: HistoryRetention;
}

/** `"schema"."<table>_history"` as a query fragment. */
export function historySql(sql: Queryable, scope: HistoryScope): Fragment {
  return tableSql(sql, historyRef(scope.tenant.location));
}

/**
 * The namespace's history lock (no path is empty, so its key is no path's). Every transaction that
 * records versions holds it shared from before its first version id is drawn until it commits; a
 * snapshot takes it exclusively for an instant, so no version below its watermark is still in flight.
 */
export function historyLock(tx: Transaction, scope: HistoryScope, mode: "shared" | "exclusive"): Fragment {
  const key = lockKey(tx, scope.tenant, "");
  return mode === "shared" ? tx`SELECT pg_advisory_xact_lock_shared(${key})` : tx`SELECT pg_advisory_xact_lock(${key})`;
}

/** What a change statement must return for {@link recorded}: the new row. */
export function changedColumns(tx: Transaction): Fragment {
  // A file stored once as text has its bytes in text_content: versions keep the bytes.
  return tx`path, version, size, mime_type, created_at, modified_at,
            COALESCE(content, convert_to(text_content, 'UTF8')) AS content`;
}

/**
 * `change` (an INSERT or UPDATE of the files table `RETURNING` {@link changedColumns}) and one
 * version per changed row, in one statement: answers the rows' `path, version`.
 */
export function recorded(tx: Transaction, scope: HistoryScope, change: Fragment, op: VersionOp): Fragment {
  return tx`
    WITH changed AS (${change}),
    logged AS (
      INSERT INTO ${historySql(tx, scope)} (namespace, path, op, etag, size, mime_type, created_at, modified_at, content)
      SELECT ${scope.tenant.namespace}, path, ${op}, version, size, mime_type, created_at, modified_at, content FROM changed)
    SELECT path, version FROM changed`;
}

/** `removal` (a DELETE of the files table `RETURNING path`) and a tombstone per file, in one statement: answers `n`. */
export function tombstoned(tx: Transaction, scope: HistoryScope, removal: Fragment): Fragment {
  return tx`
    WITH gone AS (${removal}),
    logged AS (
      INSERT INTO ${historySql(tx, scope)} (namespace, path, op, etag, size, modified_at)
      SELECT ${scope.tenant.namespace}, path, 'delete', NULL, 0, now() FROM gone)
    SELECT count(*)::int AS n FROM gone`;
}

/** True when the retention drops anything. */
export function prunes(retention: HistoryRetention): boolean {
  return retention.maxVersions !== undefined || retention.maxAgeMs !== undefined;
}

/**
 * Drops the versions of `paths` beyond the retention limits, never a file's newest, and marks the
 * oldest kept version with the id of the file's first version (`pruned_from`). Bounded work: only
 * the versions of the paths just changed.
 */
export function prune(tx: Transaction, scope: HistoryScope, paths: string[]): Fragment {
  const { namespace } = scope.tenant;
  const { maxVersions, maxAgeMs } = scope.retention;
  const table = historySql(tx, scope);
  const beyond = [
    maxVersions === undefined ? null : tx`r.rn > ${maxVersions}::bigint`,
    maxAgeMs === undefined ? null : tx`r.modified_at < now() - ${maxAgeMs}::float8 * interval '1 millisecond'`,
  ].filter((f): f is Fragment => f !== null);
  const condition = beyond.length === 2 ? tx`(${beyond[0]} OR ${beyond[1]})` : (beyond[0] ?? tx`false`);
  return tx`
    WITH ranked AS (
      SELECT path, version_id, modified_at, row_number() OVER (PARTITION BY path ORDER BY version_id DESC) AS rn
      FROM ${table} WHERE namespace = ${namespace} AND path = ANY(${paths}::text[])),
    doomed AS (
      DELETE FROM ${table} h USING ranked r
      WHERE h.namespace = ${namespace} AND h.path = r.path AND h.version_id = r.version_id AND r.rn > 1 AND ${condition}
      RETURNING h.path, h.version_id, coalesce(h.pruned_from, h.version_id) AS first_id),
    edge AS (SELECT path, max(version_id) AS last_gone, min(first_id) AS first_id FROM doomed GROUP BY path)
    UPDATE ${table} h SET pruned_from = e.first_id FROM edge e
    WHERE h.namespace = ${namespace} AND h.path = e.path
      AND h.version_id = (SELECT min(x.version_id) FROM ${table} x
                          WHERE x.namespace = ${namespace} AND x.path = e.path AND x.version_id > e.last_gone)`;
}

/**
 * Makes the history agree with the files, when a backend with history starts: a file whose newest
 * version is not its current content (never versioned, or changed with history off) gets it as a
 * version (op `write`), and a file whose newest version says it exists but has no row gets a
 * tombstone. Under the exclusive history lock, so two processes starting at once seed once.
 */
export function seedHistory(sql: PostgresClient, scope: HistoryScope): Promise<void> {
  const { namespace, location } = scope.tenant;
  return runTransaction(sql, async (tx) => {
    const table = historySql(tx, scope);
    const files = tableSql(tx, location);
    await historyLock(tx, scope, "exclusive");
    await tx`
      INSERT INTO ${table} (namespace, path, op, etag, size, mime_type, created_at, modified_at, content)
      SELECT f.namespace, f.path, 'write', f.version, f.size, f.mime_type, f.created_at, f.modified_at,
             COALESCE(f.content, convert_to(f.text_content, 'UTF8'))
      FROM ${files} f
      LEFT JOIN LATERAL (
        SELECT h.etag FROM ${table} h WHERE h.namespace = f.namespace AND h.path = f.path
        ORDER BY h.version_id DESC LIMIT 1) newest ON true
      WHERE f.namespace = ${namespace} AND newest.etag IS DISTINCT FROM f.version
      ORDER BY f.path`;
    await tx`
      INSERT INTO ${table} (namespace, path, op, etag, size, modified_at)
      SELECT ${namespace}, n.path, 'delete', NULL, 0, now()
      FROM (SELECT DISTINCT ON (path) path, etag FROM ${table} WHERE namespace = ${namespace}
            ORDER BY path, version_id DESC) n
      WHERE n.etag IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${files} f WHERE f.namespace = ${namespace} AND f.path = n.path)`;
  });
}
