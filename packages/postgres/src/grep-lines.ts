import { concatMatches, type GrepMatch, type GrepTally, grepFileText, grepFileUtf8 } from "@deepfs/core";
import type { PostgresClient } from "./config.js";
import { type TableRef, tableSql } from "./schema.js";
import { streamReserved } from "./stream-stop.js";

/** At most this many rows per round trip when texts are streamed with a cursor. */
const MAX_BATCH_ROWS = 1000;
/** Bytes of text per round trip when files are streamed to Node (the rows per batch follow). */
const TEXT_BATCH_BYTES = 2 * 1024 * 1024;
/**
 * Up to this many bytes of matching files, their lines are split and matched in SQL, so that only
 * the matching lines cross the wire; beyond, the files are streamed to Node and searched there
 * (splitting in SQL costs about ten times more per byte than sending the text and searching it in
 * Node, which only pays off while the files are small).
 */
export const SPLIT_IN_SQL_MAX_BYTES = 1024 * 1024;
/** Bytes of files found by phase 1 that make one phase-2 read while phase 1 goes on. */
const READ_AHEAD_BYTES = 8 * 1024 * 1024;

/** Where a tenant's texts are read from. */
export interface TenantTable {
  sql: PostgresClient;
  ref: TableRef;
  namespace: string;
  /** Larger files are skipped (`maxFileSizeMb`); none when undefined. */
  maxFileBytes?: number | undefined;
}

/**
 * SQL condition: the file `f` is within grep's size limit. A test of the `size` column, written
 * before any test of the text so that a larger file's text is never read for it.
 */
export function withinSizeSql(sql: PostgresClient, maxFileBytes: number | undefined) {
  return maxFileBytes === undefined ? sql`TRUE` : sql`f.size <= ${maxFileBytes}::int8`;
}

/** A file phase 1 found: its path and size. */
export interface Candidate {
  path: string;
  size: number;
}

/** Phase 2, small files: the matching lines of `paths`, split and matched in SQL. */
export async function linesInSql(
  { sql, ref, namespace, maxFileBytes }: TenantTable,
  pattern: string,
  paths: string[],
  limit: number,
): Promise<GrepMatch[]> {
  // A final newline ends the last line, it does not start an empty one: only an empty pattern can
  // match that empty string, so only then is the line count tested. The split is fenced
  // (`OFFSET 0`) so that it runs once per file: inlined, every reference to the array split the
  // text again, for every line (a 20,000-line file took over 30 s).
  const rows = await sql`
    SELECT f.path, l.n::int4 AS line, l.text
    FROM ${tableSql(sql, ref)} f
    CROSS JOIN LATERAL (SELECT string_to_array(f.text_content, chr(10)) AS lines OFFSET 0) s0
    CROSS JOIN LATERAL (SELECT s0.lines, cardinality(s0.lines) AS count OFFSET 0) s
    CROSS JOIN LATERAL unnest(s.lines) WITH ORDINALITY AS l(text, n)
    WHERE f.namespace = ${namespace} AND f.path = ANY(${paths}::text[]) AND ${withinSizeSql(sql, maxFileBytes)} AND ${
      pattern === "" ? sql`(l.n < s.count OR l.text <> '')` : sql`strpos(l.text, ${pattern}) > 0`
    }
    ORDER BY f.path, l.n
    LIMIT ${Number.isFinite(limit) ? limit : null}`;
  return rows.map((row) => ({ path: row.path as string, line: row.line as number, text: row.text as string }));
}

/** Rows per cursor batch for files of `averageBytes`: about {@link TEXT_BATCH_BYTES} a round trip. */
export function batchRows(averageBytes: number): number {
  return Math.min(MAX_BATCH_ROWS, Math.max(1, Math.floor(TEXT_BATCH_BYTES / Math.max(averageBytes, 1))));
}

/** The raw `(path, text_content)` rows of `paths`, in path order or as the server reads them. */
function textsOf({ sql, ref, namespace, maxFileBytes }: TenantTable, paths: string[], ordered: boolean) {
  // The size again: a file found small may have grown since.
  return sql`
    SELECT f.path, f.text_content FROM ${tableSql(sql, ref)} f
    WHERE f.namespace = ${namespace} AND f.path = ANY(${paths}::text[]) AND ${withinSizeSql(sql, maxFileBytes)}
    ${ordered ? sql`ORDER BY f.path` : sql``}`.raw();
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
 * The matches of raw `(path, text_content)` rows that arrive in any order (each row searched as it
 * arrives, while the server sends the next ones), given back in path order, counted on `tally`:
 * each file yields at most what still fits (`tally.room`), and once the answer is past its bounds
 * every later row is ignored. {@link add} runs inside the driver's message handler: nothing may
 * escape it, so a failure is kept and thrown by {@link inPathOrder}.
 */
export class UnorderedMatches {
  private readonly search: ReturnType<typeof lineSearcher>;
  private readonly files: Array<{ path: Buffer; matches: GrepMatch[] }> = [];
  private failure: { error: unknown } | null = null;

  constructor(
    pattern: string,
    private readonly tally: GrepTally,
  ) {
    this.search = lineSearcher(pattern);
  }

  /** Searches one row; false once nothing more is wanted (past the bounds, or failed): stop reading. */
  add(row: unknown): boolean {
    if (this.failure !== null || !this.tally.within) return false;
    try {
      const [path, text] = row as [Buffer, Buffer | null];
      // A file rewritten as binary meanwhile has no text left: it has no match either.
      if (text === null) return true;
      const matches = this.search(path.toString("utf8"), text, this.tally.room);
      if (matches.length === 0) return true;
      // The row's buffers belong to the connection's read buffer: keep a copy of the path only.
      this.files.push({ path: Buffer.from(path), matches });
      return this.tally.add(matches);
    } catch (error) {
      this.failure ??= { error };
      return false;
    }
  }

  /** Matches found elsewhere (by {@link linesInSql}), in path order: kept with the rest, and counted. */
  addInPathOrder(matches: GrepMatch[]): void {
    let from = 0;
    for (let i = 1; i <= matches.length; i++) {
      if (i < matches.length && matches[i]?.path === matches[from]?.path) continue;
      this.files.push({
        path: Buffer.from((matches[from] as GrepMatch).path, "utf8"),
        matches: matches.slice(from, i),
      });
      from = i;
    }
    this.tally.add(matches);
  }

  inPathOrder(): GrepMatch[] {
    if (this.failure !== null) throw this.failure.error;
    // Byte order is the order of the path column (collation "C").
    this.files.sort((a, b) => Buffer.compare(a.path, b.path));
    return concatMatches(this.files);
  }
}

/**
 * Phase 2 of a capped grep, large files: their texts streamed raw in path order with a cursor and
 * searched in Node on their bytes (not decoded into strings, which costs more than the search),
 * stopping as soon as `limit` matches are found or the answer counted on `tally` passes its bounds.
 */
export async function linesInNode(
  tenant: TenantTable,
  pattern: string,
  paths: string[],
  limit: number,
  batch: number,
  tally: GrepTally,
): Promise<GrepMatch[]> {
  const search = lineSearcher(pattern);
  const matches: GrepMatch[] = [];
  for await (const rows of textsOf(tenant, paths, true).cursor(batch)) {
    for (const [path, text] of rows as unknown as Array<[Buffer, Buffer | null]>) {
      // A file rewritten as binary since phase 1 has no text left: it has no match either.
      if (text === null) continue;
      const found = search(path.toString("utf8"), text, limit - matches.length);
      for (const match of found) matches.push(match);
      // Leaving the loop closes the cursor: the remaining files are never read.
      if (!tally.add(found) || matches.length >= limit) return matches;
    }
  }
  return matches;
}

/**
 * Phase 2 of a grep without a cap, fed while phase 1 still runs: once the files found pass
 * {@link SPLIT_IN_SQL_MAX_BYTES} (their lines will be searched in Node), every
 * {@link READ_AHEAD_BYTES} of them are read (raw, in any order) while the server goes on finding
 * the next ones; reads run one after another. Files found that stay within the split size are
 * split in SQL at the end, as before. Matches are counted on `tally`: once past its bounds, the
 * read under way is cancelled, no other starts, and {@link add} answers false (phase 1 stops too).
 * {@link add} runs inside the driver's message handler and never throws; a failed read is thrown
 * by {@link matches}.
 */
export class ReadAhead {
  private readonly found: UnorderedMatches;
  private pending: string[] = [];
  private pendingBytes = 0;
  private totalBytes = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;

  constructor(
    private readonly tenant: TenantTable,
    private readonly pattern: string,
    private readonly tally: GrepTally,
  ) {
    this.found = new UnorderedMatches(pattern, tally);
  }

  /** Takes a file phase 1 found; false once no more are wanted (the answer is past its bounds). */
  add(file: Candidate): boolean {
    if (!this.tally.within) return false;
    this.pending.push(file.path);
    this.pendingBytes += file.size;
    this.totalBytes += file.size;
    if (this.totalBytes > SPLIT_IN_SQL_MAX_BYTES && this.pendingBytes >= READ_AHEAD_BYTES) this.readPending();
    return true;
  }

  /** Every match, in path order, once phase 1 has ended (the caller checks the tally). */
  async matches(): Promise<GrepMatch[]> {
    // Within the split size nothing was read ahead (reads start only beyond it).
    if (this.totalBytes <= SPLIT_IN_SQL_MAX_BYTES) {
      if (this.pending.length === 0) return [];
      const found = await linesInSql(this.tenant, this.pattern, this.pending, this.tally.room);
      this.tally.add(found);
      return found;
    }
    if (this.pending.length > 0) this.readPending();
    await this.chain;
    if (this.failure !== null) throw this.failure.error;
    return this.tally.within ? this.found.inPathOrder() : [];
  }

  private readPending(): void {
    const paths = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain
      .then(async () => {
        if (this.failure !== null || !this.tally.within) return;
        // On a connection of its own, so that the read can be cancelled once the bounds are passed.
        await streamReserved(
          this.tenant.sql,
          (q) => textsOf({ ...this.tenant, sql: q }, paths, false),
          (row) => this.found.add(row),
        );
      })
      // Kept, never left unhandled while phase 1 still runs: `matches` throws it.
      .catch((error: unknown) => {
        this.failure ??= { error };
      });
  }
}
