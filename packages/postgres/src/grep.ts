import { type GrepMatch, type GrepQuery, GrepTally, grepAnswerTooLarge, grepGlobSearchRoot } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";
import type postgres from "postgres";
import type { PostgresClient } from "./config.js";
import {
  batchRows,
  type Candidate,
  linesInNode,
  linesInSql,
  ReadAhead,
  SPLIT_IN_SQL_MAX_BYTES,
  type TenantTable,
  UnorderedMatches,
  withinSizeSql,
} from "./grep-lines.js";

export { SPLIT_IN_SQL_MAX_BYTES } from "./grep-lines.js";

import { descendantRange } from "./path-range.js";
import { type TableRef, tableSql } from "./schema.js";
import { forEachUntil, StreamStop } from "./stream-stop.js";

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

/**
 * Grep inside the database, with a cost that follows the matches returned rather than the size of
 * the matching files. Two phases:
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
 *    cross the wire; otherwise their texts are streamed raw and searched in Node on their bytes
 *    (`grep-lines.ts`), stopping as soon as `maxCount + 1` matches are found.
 *
 * Files over `maxFileBytes` (`maxFileSizeMb`) are left out in SQL, as every backend skips them:
 * a test of the `size` column, ahead of the test of the text, so that their texts are never read.
 *
 * With a cap both phases go in path order. Without one, order only matters at the end: phase 1
 * streams the files as the server finds them and phase 2 reads them while it does (see
 * `ReadAhead`); and without a glob either, both phases are one statement (see
 * {@link FileSearch.oneScan}): the search that finds the files sends their texts once the files
 * found pass {@link SPLIT_IN_SQL_MAX_BYTES} (the paths of those before, whose lines are split in SQL).
 *
 * The answer is bounded by `query.limits` (see `GrepTally`), counted as matches are found: every
 * LIMIT is at most what still fits, and once the matches found pass a bound the statements still
 * sending rows are cancelled (a cursor is closed) and grep answers `too_large` at once.
 */
export async function grepInDatabase(
  sql: PostgresClient,
  ref: TableRef,
  namespace: string,
  query: GrepQuery,
  options: { trigramIndex: boolean; maxFileBytes?: number } = { trigramIndex: false },
): Promise<{ matches: GrepMatch[] } | Fault> {
  // A pattern core knows can match nothing (see GrepQuery.matchesNothing) never reaches SQL: a
  // text value cannot even hold NUL, so PostgreSQL would refuse the query rather than find nothing.
  if (query.matchesNothing || query.maxCount < 0) return { matches: [] };
  const tenant: TenantTable = { sql, ref, namespace, maxFileBytes: options.maxFileBytes };
  const search = new FileSearch(tenant, query, options.trigramIndex);
  const tally = new GrepTally(query);
  const answer = (matches: GrepMatch[]) => (tally.within ? { matches } : grepAnswerTooLarge(tally));
  if (!Number.isFinite(query.maxCount)) {
    if (search.oneScan()) {
      const found = new UnorderedMatches(query.pattern, tally);
      const small: string[] = [];
      await search.scanTexts(
        (row) => found.add(row),
        (path) => small.push(path),
      );
      if (small.length > 0 && tally.within)
        found.addInPathOrder(await linesInSql(tenant, query.pattern, small, tally.room));
      return answer(tally.within ? found.inPathOrder() : []);
    }
    const lines = new ReadAhead(tenant, query.pattern, tally);
    await search.streamAll((file) => lines.add(file));
    return answer(await lines.matches());
  }
  const limit = Math.min(query.maxCount + 1, tally.room);
  const matches: GrepMatch[] = [];
  const linesOf = async (files: Candidate[]) => {
    if (files.length === 0 || !tally.within) return;
    const bytes = files.reduce((sum, file) => sum + file.size, 0);
    const paths = files.map((file) => file.path);
    const left = limit - matches.length;
    let found: GrepMatch[];
    if (bytes <= SPLIT_IN_SQL_MAX_BYTES) {
      // At most 1 MiB of files (or what they grew to since phase 1): counted once they are here.
      found = await linesInSql(tenant, query.pattern, paths, left);
      tally.add(found);
    } else found = await linesInNode(tenant, query.pattern, paths, left, batchRows(bytes / paths.length), tally);
    for (const match of found) matches.push(match);
  };
  const prefix = await search.prefix(PREFIX_FILES, limit);
  await linesOf(prefix.files);
  if (matches.length >= limit || prefix.last === null || !tally.within) return answer(matches);
  // Every matching file holds at least one match: the matches still wanted lie in that many files.
  await linesOf(await search.after(prefix.last, limit - matches.length));
  return answer(matches);
}

/** Phase 1: the files that contain the pattern and pass the glob, in path order. */
class FileSearch {
  private readonly useIndex: boolean;
  private readonly root: string;

  private readonly sql: PostgresClient;
  private readonly ref: TableRef;
  private readonly namespace: string;
  private readonly maxFileBytes: number | undefined;

  constructor(
    { sql, ref, namespace, maxFileBytes }: TenantTable,
    private readonly query: GrepQuery,
    trigramIndex: boolean,
  ) {
    this.sql = sql;
    this.ref = ref;
    this.namespace = namespace;
    this.maxFileBytes = maxFileBytes;
    this.useIndex = trigramIndex && trigramCanNarrow(query.pattern);
    this.root = query.glob === null ? query.dir : grepGlobSearchRoot(query.glob, query.dir);
  }

  /**
   * True when one pass is cheapest for a grep without a cap: without a glob, every file the search
   * finds is wanted, so the statement that finds them (the trigram index where it narrows, else a
   * scan) sends their texts at once. Paths first and texts in a second read would have the server
   * find every file, then look each one up again and read its text a second time; measured on real
   * code, `return` (10,786 files, 165 MB): 836-1,036 ms in two phases against 531-653 ms in one.
   */
  oneScan(): boolean {
    return this.query.glob === null;
  }

  /**
   * The one pass (see {@link oneScan}): every matching file as the server finds it, in no order.
   * Until the files found total {@link SPLIT_IN_SQL_MAX_BYTES}, only their paths are sent, to
   * `onSmall`, so that a grep whose files are few and small still receives only its matching lines
   * (split in SQL next, as phase 2 does); each file beyond comes raw, `(path, text)`, to `onRow`,
   * searched while the server sends the next. The running total is a window sum over the rows in
   * the order they are produced, which the server computes as it goes (the first row still comes
   * at once). `onRow` answers false when no more rows are wanted: the statement is then cancelled.
   * Neither callback may throw.
   */
  async scanTexts(onRow: (row: unknown) => boolean, onSmall: (path: string) => void): Promise<void> {
    await withPlan(
      this.sql,
      this.useIndex ? INDEX_PLAN : SCAN_PLAN,
      (q, stop) =>
        forEachUntil(
          q`
          SELECT f.path, CASE WHEN sum(f.size) OVER (ROWS UNBOUNDED PRECEDING) > ${SPLIT_IN_SQL_MAX_BYTES}::int8
            THEN f.text_content END AS text_content
          FROM ${tableSql(q, this.ref)} f
          WHERE f.namespace = ${this.namespace} AND ${withinSql(q, this.root)} AND ${this.condition(q)}`.raw(),
          stop,
          (row) => {
            const [path, text] = row as [Buffer, Buffer | null];
            // The condition holds only for rows with text: no text means "within the split size".
            if (text !== null) return onRow(row);
            onSmall(path.toString("utf8"));
            return true;
          },
        ),
      true,
    );
  }

  /** The file is searched (within the size limit, text) and holds the pattern. */
  private condition(q: PostgresClient): postgres.PendingQuery<postgres.Row[]> {
    const { pattern } = this.query;
    const small = withinSizeSql(q, this.maxFileBytes);
    if (pattern === "") return q`${small} AND f.text_content IS NOT NULL`;
    return q`${small} AND f.text_content LIKE ${likeContaining(pattern)}`;
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

  /**
   * Every matching file of the scope that passes the glob, to `onFile` as the server finds them
   * (in no order: sorting would hold every row back until the last), until `onFile` answers false
   * (the statement is then cancelled). `onFile` must not throw.
   */
  async streamAll(onFile: (file: Candidate) => boolean): Promise<void> {
    await withPlan(
      this.sql,
      this.useIndex ? INDEX_PLAN : SCAN_PLAN,
      (q, stop) =>
        forEachUntil(
          q`
          SELECT f.path, f.size::float8 AS size FROM ${tableSql(q, this.ref)} f
          WHERE f.namespace = ${this.namespace} AND ${withinSql(q, this.root)} AND ${this.condition(q)}`,
          stop,
          (row) => {
            const { path, size } = row as { path: string; size: number };
            return !this.accepted(path) || onFile({ path, size });
          },
        ),
      true,
    );
  }

  /** The first `limit` matching files whose path follows `after`, in path order. */
  async after(after: string, limit: number): Promise<Candidate[]> {
    // Without a glob every row found is kept: the LIMIT lets the server stop early.
    const rowLimit = this.query.glob === null && Number.isFinite(limit) ? limit : null;
    const search = (q: PostgresClient) => q`
      SELECT f.path, f.size::float8 AS size FROM ${tableSql(q, this.ref)} f
      WHERE f.namespace = ${this.namespace} AND ${withinSql(q, this.root)} AND ${this.condition(q)}
        AND f.path > ${after}
      ORDER BY f.path
      LIMIT ${rowLimit}`;
    // The trigram index when the pattern has trigrams; else a scan of the whole scope, never the
    // primary key's order, which a LIMIT tempts the planner into and which reads a rare needle's
    // table in random order.
    const rows = (await withPlan(this.sql, this.useIndex ? INDEX_PLAN : SCAN_PLAN, search)) ?? [];
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
 *
 * A `stoppable` statement may be cancelled from its row callback (see `StreamStop`): its COMMIT
 * then waits until the statement has ended and the cancel request was delivered, so that the
 * request can never cancel the COMMIT (which would leave the reserved connection in an aborted
 * transaction) nor what runs next on the connection. After a cancel, COMMIT ends the aborted
 * transaction (PostgreSQL rolls it back) and this answers undefined, whatever failed meanwhile.
 */
async function withPlan<T>(
  sql: PostgresClient,
  settings: typeof INDEX_PLAN | typeof SCAN_PLAN,
  statement: (q: PostgresClient, stop: StreamStop) => Promise<T>,
  stoppable = false,
): Promise<T | undefined> {
  const reserved = await sql.reserve();
  const stop = new StreamStop();
  try {
    const q = reserved as unknown as PostgresClient;
    const sent = [q`BEGIN READ ONLY`, q.unsafe(settings), statement(q, stop)];
    const settled = await Promise.allSettled(stoppable ? sent : [...sent, q`COMMIT`]);
    if (stoppable) {
      await stop.sent();
      settled.push(...(await Promise.allSettled([q`COMMIT`])));
      if (stop.stopped) return undefined;
    }
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    return (settled[2] as PromiseFulfilledResult<T>).value;
  } finally {
    await stop.sent();
    reserved.release();
  }
}
