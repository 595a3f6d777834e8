import { type GrepMatch, type GrepQuery, grepFileText, grepGlobSearchRoot } from "@deepfs/core";
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";
import { descendantRange } from "./path-range.js";
import { type TableRef, tableSql } from "./schema.js";
import { runTransaction } from "./transaction.js";

/**
 * Up to this many bytes of matching files, their lines are split and matched in SQL, so that only
 * the matching lines cross the wire; beyond, the files are streamed to Node and searched there
 * (splitting in SQL costs about ten times more per byte than sending the text and searching it in
 * Node, which only pays off while the files are small).
 */
export const SPLIT_IN_SQL_MAX_BYTES = 1024 * 1024;

/** Rows per round trip when the candidate paths, then the texts, are read with a cursor. */
const PATH_BATCH = 1000;
const TEXT_BATCH = 32;

/** `%`, `_` and the escape character itself are LIKE wildcards; escaped, the pattern is a literal. */
function likeContaining(literal: string): string {
  return `%${literal.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * True when a `pg_trgm` index can narrow a `LIKE '%pattern%'` search: the pattern holds a run of
 * at least three ASCII letters or digits, from which pg_trgm extracts at least one trigram (it
 * extracts nothing from a shorter pattern, and the index would then be read whole for nothing).
 */
export function trigramCanNarrow(pattern: string): boolean {
  return /[A-Za-z0-9]{3}/.test(pattern);
}

/** SQL condition: the row is `dir` itself or lies below it. */
function withinSql(sql: PostgresClient, dir: string): postgres.PendingQuery<postgres.Row[]> {
  const { from, to } = descendantRange(dir);
  return sql`(f.path = ${dir} OR (f.path >= ${from} AND f.path < ${to}))`;
}

interface Candidate {
  path: string;
  size: number;
}

/**
 * Grep inside the database, in two phases, with a cost that follows the matches returned rather
 * than the size of the matching files:
 *
 * 1. The paths (and sizes) of the files that contain the pattern, in path order, read with a
 *    cursor and filtered by the `glob` in Node (core's matcher) until `maxCount + 1` files are
 *    accepted: every matching file holds at least one match, so the first `maxCount + 1` matches
 *    lie in them. When the pattern has trigrams and a `pg_trgm` index exists, this runs with
 *    sequential scans disabled so that the index answers whatever the planner estimates; a
 *    pattern without trigrams (1-2 characters, punctuation) is searched with `strpos`, the
 *    cheapest scan, which the index cannot serve anyway.
 * 2. The lines: when those files total at most {@link SPLIT_IN_SQL_MAX_BYTES}, they are split and
 *    matched in SQL (`string_to_array` + `WITH ORDINALITY` + `strpos`), so that only matching lines
 *    cross the wire; otherwise their texts are streamed in path order with a cursor and searched in
 *    Node with core's line matcher, stopping as soon as `maxCount + 1` matches are found.
 */
export async function grepInDatabase(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  query: GrepQuery,
  options: { trigramIndex: boolean } = { trigramIndex: false },
): Promise<{ matches: GrepMatch[] }> {
  // A pattern core knows can match nothing ("\n" or NUL) never reaches SQL: a text value cannot
  // even hold NUL, so PostgreSQL would refuse the query rather than find nothing.
  if (query.matchesNothing || query.maxCount < 0) return { matches: [] };
  const limit = Number.isFinite(query.maxCount) ? query.maxCount + 1 : Number.POSITIVE_INFINITY;
  const candidates = await matchingFiles(sql, ref, namespace, query, limit, options.trigramIndex);
  if (candidates.length === 0) return { matches: [] };
  const bytes = candidates.reduce((sum, file) => sum + file.size, 0);
  const paths = candidates.map((file) => file.path);
  const matches =
    bytes <= SPLIT_IN_SQL_MAX_BYTES
      ? await linesInSql(sql, ref, namespace, query.pattern, paths, limit)
      : await linesInNode(sql, ref, namespace, query.pattern, paths, limit);
  return { matches };
}

/** Phase 1: the first `limit` files (path order) that contain the pattern and pass the glob. */
async function matchingFiles(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  query: GrepQuery,
  limit: number,
  trigramIndex: boolean,
): Promise<Candidate[]> {
  const { pattern } = query;
  const useIndex = trigramIndex && trigramCanNarrow(pattern);
  const search = (q: PostgresClient) => {
    const table = tableSql(q, ref);
    const root = query.glob === null ? query.dir : grepGlobSearchRoot(query.glob, query.dir);
    const condition =
      pattern === ""
        ? q`f.text_content IS NOT NULL`
        : useIndex
          ? q`f.text_content LIKE ${likeContaining(pattern)}`
          : q`strpos(f.text_content, ${pattern}) > 0`;
    // Without a glob every row found is kept: the LIMIT lets the server stop early.
    const rowLimit = query.glob === null && Number.isFinite(limit) ? limit : null;
    return q`
      SELECT f.path, f.size::float8 AS size FROM ${table} f
      WHERE f.namespace = ${namespace} AND ${withinSql(q, root)} AND ${condition}
      ORDER BY f.path
      LIMIT ${rowLimit}`;
  };
  const collect = async (q: PostgresClient): Promise<Candidate[]> => {
    const found: Candidate[] = [];
    for await (const rows of search(q).cursor(PATH_BATCH)) {
      for (const row of rows) {
        const path = row.path as string;
        if (query.glob === null || query.accepts(path)) found.push({ path, size: row.size as number });
        if (found.length >= limit) return found;
      }
    }
    return found;
  };
  if (!useIndex) return collect(sql);
  // The planner often prices a trigram search of a needle sharing trigrams with most files above a
  // scan of the whole table (or of the primary key); the index plan is never much worse and often
  // far better, so sequential and plain index scans are ruled out for this one statement.
  return runTransaction(sql, async (tx) => {
    await tx`SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)`;
    return collect(tx as unknown as PostgresClient);
  });
}

/** Phase 2, small files: the matching lines of `paths`, split and matched in SQL. */
async function linesInSql(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  pattern: string,
  paths: string[],
  limit: number,
): Promise<GrepMatch[]> {
  // A final newline ends the last line, it does not start an empty one: only an empty pattern can
  // match that empty string, so only then is the line count tested (referencing the array again
  // re-splits the text for every line, which made a 200,000-line file quadratic).
  const rows = await sql`
    SELECT f.path, l.n::int4 AS line, l.text
    FROM ${tableSql(sql, ref)} f
    CROSS JOIN LATERAL (SELECT string_to_array(f.text_content, chr(10)) AS lines) s
    CROSS JOIN LATERAL unnest(s.lines) WITH ORDINALITY AS l(text, n)
    WHERE f.namespace = ${namespace} AND f.path = ANY(${paths}::text[]) AND ${
      pattern === "" ? sql`(l.n < cardinality(s.lines) OR l.text <> '')` : sql`strpos(l.text, ${pattern}) > 0`
    }
    ORDER BY f.path, l.n
    LIMIT ${Number.isFinite(limit) ? limit : null}`;
  return rows.map((row) => ({ path: row.path as string, line: row.line as number, text: row.text as string }));
}

/** Phase 2, large files: their texts streamed in path order and searched in Node, until `limit`. */
async function linesInNode(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  pattern: string,
  paths: string[],
  limit: number,
): Promise<GrepMatch[]> {
  const matches: GrepMatch[] = [];
  const texts = sql`
    SELECT f.path, f.text_content FROM ${tableSql(sql, ref)} f
    WHERE f.namespace = ${namespace} AND f.path = ANY(${paths}::text[])
    ORDER BY f.path`;
  for await (const rows of texts.cursor(TEXT_BATCH)) {
    for (const row of rows) {
      // A file rewritten as binary since phase 1 has no text left: it has no match either.
      const text = row.text_content as string | null;
      if (text === null) continue;
      for (const match of grepFileText(row.path as string, text, pattern, limit - matches.length)) matches.push(match);
      // Leaving the loop closes the cursor: the remaining files are never read.
      if (matches.length >= limit) return matches;
    }
  }
  return matches;
}
