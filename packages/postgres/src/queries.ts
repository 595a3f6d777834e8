/** The SQL the driver shares between its primitives: rows of a path, implicit directories, listings, lock keys. */
import { type Fault, fault } from "@deepfs/core/kit";
import type postgres from "postgres";
import type { Queryable, Transaction } from "./config.js";
import { descendantRange } from "./path-range.js";
import { type TableRef, tableSql } from "./schema.js";

/** Where one backend's files are: a table, and the tenant within it. */
export interface Tenant {
  location: Readonly<TableRef>;
  namespace: string;
  /** Seeds the advisory lock keys, so that tables and namespaces do not block each other. */
  lockScope: string;
}

/** An ISO 8601 time from a timestamp column. */
export const isoTime = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));

/**
 * The row of the file at `path`, or undefined. With `maxBytes`, the content of a larger file stays
 * on the server: its row comes with `size` and NULL `content` and `text_content`.
 */
export async function fetchFile(
  sql: Queryable,
  t: Tenant,
  path: string,
  maxBytes?: number,
): Promise<postgres.Row | undefined> {
  const within = maxBytes === undefined ? sql`TRUE` : sql`size <= ${maxBytes}::int8`;
  const rows = await sql`
    SELECT CASE WHEN ${within} THEN content END AS content, CASE WHEN ${within} THEN text_content END AS text_content,
           size::float8 AS size, mime_type, created_at, modified_at, version
    FROM ${tableSql(sql, t.location)}
    WHERE namespace = ${t.namespace} AND path = ${path}`;
  return rows[0];
}

/** The fault of a file (or a version) of `size` bytes over the read limit `maxBytes`: numbers only. */
export function overReadLimit(size: number, maxBytes: number): Fault {
  return fault("too_large", {
    detail: `${size} bytes, over the maxFileSizeMb limit of ${maxBytes / (1024 * 1024)} MiB`,
  });
}

/** Size, version and times of the file at `path` (no content), or undefined. */
export async function fileStat(sql: Queryable, t: Tenant, path: string): Promise<postgres.Row | undefined> {
  const rows = await sql`
    SELECT size, created_at, modified_at, version FROM ${tableSql(sql, t.location)}
    WHERE namespace = ${t.namespace} AND path = ${path}`;
  return rows[0];
}

/** Which of `paths` are (implicit) directories: some file lies below them. */
export async function directoriesAmong(sql: Queryable, t: Tenant, paths: string[]): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const ranges = paths.map((p) => descendantRange(p));
  const rows = await sql`
    SELECT d.path FROM unnest(${paths}::text[], ${ranges.map((r) => r.from)}::text[], ${ranges.map((r) => r.to)}::text[]) AS d(path, lo, hi)
    WHERE EXISTS (
      SELECT 1 FROM ${tableSql(sql, t.location)} f
      WHERE f.namespace = ${t.namespace} AND f.path >= d.lo AND f.path < d.hi)`;
  return new Set(rows.map((row: postgres.Row) => row.path as string));
}

/** The files directly in `dir`, and the names of its subdirectories. */
export async function listDir(
  sql: Queryable,
  t: Tenant,
  dir: string,
): Promise<{ files: postgres.Row[]; subdirs: string[] }> {
  const table = tableSql(sql, t.location);
  const { from, to } = descendantRange(dir);
  const [files, subdirs] = await Promise.all([
    sql`SELECT path, size, modified_at FROM ${table} WHERE namespace = ${t.namespace} AND parent = ${dir}`,
    // Subdirectories by a loose index scan: find the first deeper path, take its next segment,
    // then jump past everything below that segment (`seg0` follows `seg/…`).
    sql`
      WITH RECURSIVE sub(name) AS (
        SELECT (SELECT split_part(substr(path, char_length(${from}) + 1), '/', 1) FROM ${table}
                WHERE namespace = ${t.namespace} AND path >= ${from} AND path < ${to} AND parent <> ${dir}
                ORDER BY path LIMIT 1)
        UNION ALL
        SELECT (SELECT split_part(substr(path, char_length(${from}) + 1), '/', 1) FROM ${table}
                WHERE namespace = ${t.namespace} AND path >= ${from} || sub.name || '0' AND path < ${to}
                  AND parent <> ${dir}
                ORDER BY path LIMIT 1)
        FROM sub WHERE sub.name IS NOT NULL
      )
      SELECT name FROM sub WHERE name IS NOT NULL`,
  ]);
  return { files: [...files], subdirs: subdirs.map((row) => `${from}${row.name as string}`) };
}

/** The files at `root` or below it, in path order. */
export function filesBelow(sql: Queryable, t: Tenant, root: string, withRoot: boolean): Promise<postgres.Row[]> {
  const { from, to } = descendantRange(root);
  return sql`
    SELECT path, size, modified_at FROM ${tableSql(sql, t.location)}
    WHERE namespace = ${t.namespace} AND (${withRoot ? sql`path = ${root} OR ` : sql``}(path >= ${from} AND path < ${to}))
    ORDER BY path`;
}

/** The advisory lock key of `path` (a string or an SQL expression) in this table and namespace. */
export function lockKey(
  tx: Transaction,
  t: Tenant,
  path: string | postgres.PendingQuery<postgres.Row[]>,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`hashtextextended(${path}, hashtextextended(${t.lockScope}, 0))`;
}
