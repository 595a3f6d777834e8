import { type GrepMatch, type GrepQuery, grepFileText, grepFileUtf8, grepGlobSearchRoot } from "@deepfs/core";
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";
import { descendantRange } from "./path-range.js";
import { type TableRef, tableSql } from "./schema.js";

/**
 * Up to this many bytes of matching files, their lines are split and matched in SQL, so that only
 * the matching lines cross the wire; beyond, the files are streamed to Node and searched there
 * (splitting in SQL costs about ten times more per byte than sending the text and searching it in
 * Node, which only pays off while the files are small).
 */
export const SPLIT_IN_SQL_MAX_BYTES = 1024 * 1024;

/** At most this many rows per round trip when texts are streamed with a cursor. */
const MAX_BATCH_ROWS = 1000;
/** Bytes of text per round trip when files are streamed to Node (the rows per batch follow). */
const TEXT_BATCH_BYTES = 2 * 1024 * 1024;
/** With a cap, the files first scanned in path order before the index is asked (see phase 1). */
const PREFIX_FILES = 256;

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

/**
 * SQL condition: the row is `dir` itself or lies below it. Every path lies below the root: for it
 * there is no condition, which the planner would otherwise answer with a range scan of the primary
 * key over the whole tenant, combined with the trigram index for nothing.
 */
function withinSql(sql: PostgresClient, dir: string): postgres.PendingQuery<postgres.Row[]> {
  if (dir === "/") return sql`TRUE`;
  const { from, to } = descendantRange(dir);
  return sql`(f.path = ${dir} OR (f.path >= ${from} AND f.path < ${to}))`;
}

interface Candidate {
  path: string;
  size: number;
}

/**
 * Grep inside the database, with a cost that follows the matches returned rather than the size of
 * the matching files. Two phases, in path order:
 *
 * 1. The paths (and sizes) of the files that contain the pattern, filtered by the `glob` in Node
 *    (core's matcher). When the pattern has trigrams and a `pg_trgm` index exists, the search runs
 *    with sequential and plain index scans disabled, so that the index answers whatever the
 *    planner estimates; a pattern without trigrams (1-2 characters, punctuation) is searched by a
 *    sequential scan (index scans disabled: the trigram index could only be read whole). The test
 *    is `LIKE` (escaped), which measured about twice as fast as `strpos` here. With a cap, the first
 *    {@link PREFIX_FILES} files in path order are tried first (a common needle is found there, and
 *    the index is never read); only if they do not hold `maxCount + 1` matches is the rest searched.
 * 2. The lines of those files: when they total at most {@link SPLIT_IN_SQL_MAX_BYTES}, split and
 *    matched in SQL (`string_to_array` + `WITH ORDINALITY` + `strpos`), so that only matching lines
 *    cross the wire; otherwise their texts are streamed with a cursor and searched in Node with
 *    core's line matcher, stopping as soon as `maxCount + 1` matches are found.
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
  const search = new FileSearch(sql, ref, namespace, query, options.trigramIndex);
  const matches: GrepMatch[] = [];
  const linesOf = async (files: Candidate[]) => {
    if (files.length === 0) return;
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    const paths = files.map((file) => file.path);
    const left = limit - matches.length;
    const found =
      bytes <= SPLIT_IN_SQL_MAX_BYTES
        ? await linesInSql(sql, ref, namespace, query.pattern, paths, left)
        : await linesInNode(sql, ref, namespace, query.pattern, paths, left, batchRows(bytes / paths.length));
    for (const match of found) matches.push(match);
  };
  let after: string | null = null;
  if (Number.isFinite(limit)) {
    const prefix = await search.prefix(PREFIX_FILES, limit);
    await linesOf(prefix.files);
    if (matches.length >= limit || prefix.last === null) return { matches };
    after = prefix.last;
  }
  // Every matching file holds at least one match: the matches still wanted lie in that many files.
  await linesOf(await search.after(after, limit - matches.length));
  return { matches };
}

/** Phase 1: the files that contain the pattern and pass the glob, in path order. */
class FileSearch {
  private readonly useIndex: boolean;
  private readonly root: string;

  constructor(
    private readonly sql: PostgresClient,
    private readonly ref: TableRef,
    private readonly namespace: string,
    private readonly query: GrepQuery,
    trigramIndex: boolean,
  ) {
    this.useIndex = trigramIndex && trigramCanNarrow(query.pattern);
    this.root = query.glob === null ? query.dir : grepGlobSearchRoot(query.glob, query.dir);
  }

  private condition(q: PostgresClient): postgres.PendingQuery<postgres.Row[]> {
    const { pattern } = this.query;
    if (pattern === "") return q`f.text_content IS NOT NULL`;
    return q`f.text_content LIKE ${likeContaining(pattern)}`;
  }

  private accepted(path: string): boolean {
    return this.query.glob === null || this.query.accepts(path);
  }

  /**
   * The first `limit` matching files among the first `count` files of the scope, in the primary
   * key's order, and the last path read (null when the scope held fewer: it was read whole).
   */
  async prefix(count: number, limit: number): Promise<{ files: Candidate[]; last: string | null }> {
    const q = this.sql;
    // Without a glob every file found is kept: no more than `limit` are sent.
    const hitLimit = this.query.glob === null ? limit : null;
    const rows = await q`
      WITH head AS MATERIALIZED (
        SELECT f.path, f.size, f.text_content FROM ${tableSql(q, this.ref)} f
        WHERE f.namespace = ${this.namespace} AND ${withinSql(q, this.root)}
        ORDER BY f.path
        LIMIT ${count}
      )
      SELECT * FROM (
        (SELECT f.path, f.size::float8 AS size, false AS last FROM head f
         WHERE ${this.condition(q)} ORDER BY f.path LIMIT ${hitLimit})
        UNION ALL
        SELECT max(path), NULL, true FROM head HAVING count(*) = ${count}
      ) u
      ORDER BY u.last, u.path`;
    const files: Candidate[] = [];
    let last: string | null = null;
    for (const row of rows) {
      const path = row.path as string;
      if (row.last === true) last = path;
      else if (this.accepted(path)) files.push({ path, size: row.size as number });
    }
    return { files, last };
  }

  /** The first `limit` matching files whose path follows `after` (all of them when null). */
  async after(after: string | null, limit: number): Promise<Candidate[]> {
    // Without a glob every row found is kept: the LIMIT lets the server stop early.
    const rowLimit = this.query.glob === null && Number.isFinite(limit) ? limit : null;
    const search = (q: PostgresClient) => q`
      SELECT f.path, f.size::float8 AS size FROM ${tableSql(q, this.ref)} f
      WHERE f.namespace = ${this.namespace} AND ${withinSql(q, this.root)} AND ${this.condition(q)}
        ${after === null ? q`` : q`AND f.path > ${after}`}
      ORDER BY f.path
      LIMIT ${rowLimit}`;
    // The trigram index when the pattern has trigrams; else a scan of the whole scope, never the
    // primary key's order, which a LIMIT tempts the planner into and which reads a rare needle's
    // table in random order.
    const rows = await withPlan(this.sql, this.useIndex ? INDEX_PLAN : SCAN_PLAN, search);
    const found: Candidate[] = [];
    for (const row of rows) {
      const path = row.path as string;
      if (this.accepted(path)) found.push({ path, size: row.size as number });
      if (found.length >= limit) break;
    }
    return found;
  }
}

/** Planner settings: the trigram index (a bitmap scan), or a scan of the table. */
const INDEX_PLAN = "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)";
const SCAN_PLAN = "SELECT set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true)";

/**
 * Runs one read-only statement under planner `settings`: the planner often prices a trigram
 * search of a needle sharing trigrams with most files above a scan of the whole table (or of the
 * primary key), while the index plan is never much worse and often far better. The settings are
 * local to a transaction on a reserved connection, and the four statements are sent at once (one
 * round trip); should one fail, the transaction is rolled back and the settings go with it.
 */
async function withPlan(
  sql: PostgresClient,
  settings: typeof INDEX_PLAN | typeof SCAN_PLAN,
  statement: (q: PostgresClient) => postgres.PendingQuery<postgres.Row[]>,
): Promise<postgres.RowList<postgres.Row[]>> {
  const reserved = await sql.reserve();
  try {
    const q = reserved as unknown as PostgresClient;
    const settled = await Promise.allSettled([q`BEGIN READ ONLY`, q.unsafe(settings), statement(q), q`COMMIT`]);
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    return (settled[2] as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value;
  } finally {
    reserved.release();
  }
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

/** Rows per cursor batch for files of `averageBytes`: about {@link TEXT_BATCH_BYTES} a round trip. */
function batchRows(averageBytes: number): number {
  return Math.min(MAX_BATCH_ROWS, Math.max(1, Math.floor(TEXT_BATCH_BYTES / Math.max(averageBytes, 1))));
}

/**
 * The matching lines of one file's text, given as the raw bytes of its `text_content` (PostgreSQL
 * sends a text value in the connection's encoding, UTF-8, and a text value is always valid in the
 * database's encoding and never holds NUL): searched on its bytes (only matching lines are
 * decoded); the empty pattern, which matches every line, on the decoded text.
 */
function lineSearcher(pattern: string): (path: string, text: Buffer, limit: number) => GrepMatch[] {
  // A pattern that reaches a driver is well-formed (see GrepQuery.matchesNothing): it has a UTF-8 form.
  const needle = pattern.length > 0 ? Buffer.from(pattern, "utf8") : null;
  if (needle === null) return (path, text, limit) => grepFileText(path, text.toString("utf8"), pattern, limit);
  return (path, text, limit) => grepFileUtf8(path, text, needle, limit);
}

/**
 * Phase 2, large files: their texts streamed and searched in Node on their raw bytes (not decoded
 * into strings, which costs more than the search). With a limit, in path order with a cursor,
 * stopping as soon as `limit` matches are found; without one, in the order the server reads them,
 * each row searched as it arrives (while the server sends the next ones), then put in path order.
 */
async function linesInNode(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  pattern: string,
  paths: string[],
  limit: number,
  batch: number,
): Promise<GrepMatch[]> {
  const search = lineSearcher(pattern);
  const texts = (ordered: boolean) =>
    sql`
    SELECT f.path, f.text_content FROM ${tableSql(sql, ref)} f
    WHERE f.namespace = ${namespace} AND f.path = ANY(${paths}::text[])
    ${ordered ? sql`ORDER BY f.path` : sql``}`.raw();
  if (Number.isFinite(limit)) {
    const matches: GrepMatch[] = [];
    for await (const rows of texts(true).cursor(batch)) {
      for (const [path, text] of rows as unknown as Array<[Buffer, Buffer | null]>) {
        // A file rewritten as binary since phase 1 has no text left: it has no match either.
        if (text === null) continue;
        for (const match of search(path.toString("utf8"), text, limit - matches.length)) matches.push(match);
        // Leaving the loop closes the cursor: the remaining files are never read.
        if (matches.length >= limit) return matches;
      }
    }
    return matches;
  }
  const found: Array<{ path: Buffer; matches: GrepMatch[] }> = [];
  let failure: unknown = null;
  await texts(false).forEach((row) => {
    // Runs inside the driver's message handler: nothing may escape it.
    try {
      const [path, text] = row as unknown as [Buffer, Buffer | null];
      if (text === null || failure !== null) return;
      const matches = search(path.toString("utf8"), text, limit);
      // The row's buffers belong to the connection's read buffer: keep a copy of the path only.
      if (matches.length > 0) found.push({ path: Buffer.from(path), matches });
    } catch (error) {
      failure ??= error;
    }
  });
  if (failure !== null) throw failure;
  // Byte order is the order of the path column (collation "C").
  found.sort((a, b) => Buffer.compare(a.path, b.path));
  return found.flatMap((file) => file.matches);
}
