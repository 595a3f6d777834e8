import { type GrepMatch, type GrepQuery, grepGlobSearchRoot } from "@deepfs/core";
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";
import { descendantRange } from "./path-range.js";
import { type TableRef, tableSql } from "./schema.js";

/** `%`, `_` and the escape character itself are LIKE wildcards; escaped, the pattern is a literal. */
function likeContaining(literal: string): string {
  return `%${literal.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** SQL condition: the row is `dir` itself or lies below it. */
function withinSql(sql: PostgresClient, dir: string): postgres.PendingQuery<postgres.Row[]> {
  const { from, to } = descendantRange(dir);
  return sql`(f.path = ${dir} OR (f.path >= ${from} AND f.path < ${to}))`;
}

/**
 * Grep inside the database. The literal search runs in SQL (`LIKE '%…%'` on the searchable text,
 * which a `pg_trgm` GIN index answers when present), and so does the extraction of the matching
 * lines with their numbers (`string_to_array` + `WITH ORDINALITY`, filtered with `strpos`), in path
 * then line order with `LIMIT maxCount + 1` (so the caller can tell truncation): only matching
 * lines cross the wire.
 *
 * A `glob` filter is decided by the core matcher, in Node: first the paths of the files that
 * contain the pattern are fetched (narrowed in SQL to the glob's literal directory), filtered,
 * and the lines are extracted from the accepted files only.
 */
export async function grepInDatabase(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  query: GrepQuery,
): Promise<{ matches: GrepMatch[] }> {
  // A pattern core knows can match nothing ("\n" or NUL) never reaches SQL: a text value cannot
  // even hold NUL, so PostgreSQL would refuse the query rather than find nothing.
  if (query.matchesNothing || query.maxCount < 0) return { matches: [] };
  const table = tableSql(sql, ref);
  const like = likeContaining(query.pattern);
  let scope = withinSql(sql, query.dir);
  if (query.glob !== null) {
    const root = grepGlobSearchRoot(query.glob, query.dir);
    const candidates = await sql`
      SELECT f.path FROM ${table} f
      WHERE f.namespace = ${namespace} AND ${withinSql(sql, root)} AND f.text_content LIKE ${like}`;
    const accepted = candidates.map((row) => row.path as string).filter((path) => query.accepts(path));
    if (accepted.length === 0) return { matches: [] };
    scope = sql`f.path = ANY(${accepted}::text[])`;
  }
  const limit = Number.isFinite(query.maxCount) ? query.maxCount + 1 : null;
  // Every matching file holds at least one match, so the first `limit` matches lie in the first
  // `limit` matching files: only those are split into lines. A final newline ends the last line,
  // it does not start an empty one: only an empty pattern can match that empty string, so only
  // then is the line count tested (referencing the array again re-splits the text for every line,
  // which made a 200,000-line file quadratic).
  const rows = await sql`
    WITH hit AS (
      SELECT f.path, f.text_content FROM ${table} f
      WHERE f.namespace = ${namespace} AND ${scope} AND f.text_content LIKE ${like}
      ORDER BY f.path
      LIMIT ${limit}
    )
    SELECT hit.path, l.n::int4 AS line, l.text
    FROM hit
    CROSS JOIN LATERAL (SELECT string_to_array(hit.text_content, chr(10)) AS lines) s
    CROSS JOIN LATERAL unnest(s.lines) WITH ORDINALITY AS l(text, n)
    WHERE ${
      query.pattern === ""
        ? sql`(l.n < cardinality(s.lines) OR l.text <> '')`
        : sql`strpos(l.text, ${query.pattern}) > 0`
    }
    ORDER BY hit.path, l.n
    LIMIT ${limit}`;
  const matches: GrepMatch[] = rows.map((row) => ({
    path: row.path as string,
    line: row.line as number,
    text: row.text as string,
  }));
  return { matches };
}
