import type postgres from "postgres";
import type { PostgresClient, Queryable, Transaction } from "./config.js";
import { runTransaction } from "./transaction.js";

/** Where the files live, and what `initialize()` found out about the server. */
export interface TableRef {
  schema: string;
  table: string;
}

/** The result of {@link createSchema}. */
export interface SchemaInfo {
  /** True when the `pg_trgm` GIN index on the searchable text exists. */
  trigramIndex: boolean;
  /**
   * True when the table stores a text file once, as `text_content` with `content` NULL (every table
   * this version creates; an older one once `content` may be NULL, see {@link createSchema}).
   */
  textOnce: boolean;
}

/**
 * One key for every deepfs DDL in a database: table, index and extension creation are rare, and
 * serialising them all also covers two tables that race to `CREATE EXTENSION pg_trgm`.
 * (Two-int4 advisory keys never collide with the one-bigint keys that writes use.)
 */
const DDL_LOCK = [0x64656570, 0x66732d31] as const; // "deep", "fs-1"

// Refused privilege, missing extension files, or a server (PGlite) that cannot load it.
const EXTENSION_UNAVAILABLE = new Set(["42501", "58P01", "0A000"]);

/** The table of versions of a files table: `<table>_history` in the same schema. */
export function historyRef(ref: TableRef): TableRef {
  return { schema: ref.schema, table: `${ref.table}_history` };
}

/**
 * The longest suffix of the names derived from the table's (`_parent_idx`, `_text_trgm_idx`,
 * `_history`, and the history table's index): a table name must leave room for it (see `config.ts`).
 */
export const LONGEST_TABLE_SUFFIX = "_history_seq_idx";

/** `"schema"."table"` as a query fragment. */
export function tableSql(sql: Queryable, ref: TableRef): postgres.PendingQuery<postgres.Row[]> {
  return sql`${sql(ref.schema)}.${sql(ref.table)}`;
}

async function trigramSchema(tx: Transaction): Promise<string | null> {
  const rows = await tx`
    SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm'`;
  return (rows[0]?.schema as string | undefined) ?? null;
}

/** The schema of `pg_trgm`, created when permitted, or null when the server cannot have it. */
async function ensureTrigram(tx: Transaction): Promise<string | null> {
  const existing = await trigramSchema(tx);
  if (existing !== null) return existing;
  try {
    // A savepoint, because a failed statement would otherwise abort the whole transaction.
    await tx.savepoint((sp) => sp`CREATE EXTENSION IF NOT EXISTS pg_trgm`);
  } catch (error) {
    if (EXTENSION_UNAVAILABLE.has(String((error as { code?: unknown }).code))) return null;
    throw error;
  }
  return trigramSchema(tx);
}

/**
 * True when the server can compress TOASTed values with LZ4 (PostgreSQL 14 or later, built with
 * lz4): it decompresses about twice as fast as the default pglz, which halves what grep pays to
 * recheck the files the trigram index proposes.
 */
async function lz4Available(tx: Transaction): Promise<boolean> {
  const rows = await tx`
    SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)`;
  return rows.length > 0;
}

/**
 * Creates the schema, the table and its indexes when missing. Idempotent, and safe when several
 * processes call it at once: the whole DDL runs in one transaction under an advisory lock.
 *
 * Layout (one row per file):
 * - `(namespace, path)` primary key, `path COLLATE "C"` so that a directory's descendants are the
 *   index range `[dir/, dir0)` (`0` follows `/` in byte order) and results come in code point order;
 * - `parent` (the file's directory) with an index, so that `ls` reads only the directory's files;
 * - each file's content stored once: `text_content` when the file is text grep may search (text
 *   MIME type, valid UTF-8, no NUL: its UTF-8 is exactly the file's bytes), with `content` NULL;
 *   otherwise `content bytea`, the exact bytes, with `text_content` NULL. `text_content` has a
 *   `pg_trgm` GIN index when available and is compressed with LZ4 when the server has it (a table
 *   created earlier keeps its compression). A table created by an earlier version, which stored
 *   text files twice with `content NOT NULL`, is altered to allow NULL when this role may (else it
 *   keeps storing both, and says so in `textOnce`);
 * - `size` in bytes, `mime_type`, `created_at`, `modified_at`;
 * - `version`: drawn from one sequence on every change, so it never repeats, even after a delete
 *   and re-create; it is the etag.
 *
 * With `history`, also the table of versions (see {@link createHistoryTable}).
 */
export async function createSchema(
  sql: PostgresClient,
  ref: TableRef,
  options: { history?: boolean } = {},
): Promise<SchemaInfo> {
  return runTransaction(sql, async (tx) => {
    await tx`SET LOCAL client_min_messages = warning`;
    await tx`SELECT pg_advisory_xact_lock(${DDL_LOCK[0]}::int4, ${DDL_LOCK[1]}::int4)`;
    const trigram = await ensureTrigram(tx);
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
    const schemas = await tx`SELECT 1 FROM pg_namespace WHERE nspname = ${ref.schema}`;
    if (schemas.length === 0) await tx`CREATE SCHEMA IF NOT EXISTS ${tx(ref.schema)}`;
    const table = tableSql(tx, ref);
    const textCompression = (await lz4Available(tx)) ? tx`COMPRESSION lz4` : tx``;
    await tx`
      CREATE TABLE IF NOT EXISTS ${table} (
        namespace text NOT NULL,
        path text COLLATE "C" NOT NULL,
        parent text COLLATE "C" NOT NULL,
        content bytea,
        text_content text ${textCompression},
        size bigint NOT NULL,
        mime_type text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        modified_at timestamptz NOT NULL DEFAULT now(),
        version bigint GENERATED BY DEFAULT AS IDENTITY,
        PRIMARY KEY (namespace, path),
        CHECK (content IS NOT NULL OR text_content IS NOT NULL)
      )`;
    const textOnce = await allowTextOnce(tx, ref);
    await tx`CREATE INDEX IF NOT EXISTS ${tx(`${ref.table}_parent_idx`)} ON ${table} (namespace, parent, path)`;
    if (trigram !== null) {
      await tx`
        CREATE INDEX IF NOT EXISTS ${tx(`${ref.table}_text_trgm_idx`)} ON ${table}
        USING gin (text_content ${tx(trigram)}.gin_trgm_ops)`;
    }
    if (options.history) await createHistoryTable(tx, ref);
    return { trigramIndex: trigram !== null, textOnce };
  });
}

/**
 * Whether `content` may be NULL (text stored once): for a table of an earlier version, drops its
 * NOT NULL (a catalog change, no rewrite) when this role owns the table; false when it may not.
 */
async function allowTextOnce(tx: Transaction, ref: TableRef): Promise<boolean> {
  const rows = await tx`
    SELECT a.attnotnull AS not_null FROM pg_attribute a
    WHERE a.attrelid = ${`${quoteIdent(ref.schema)}.${quoteIdent(ref.table)}`}::regclass AND a.attname = 'content'`;
  if (rows[0]?.not_null !== true) return true;
  try {
    await tx.savepoint((sp) => sp`ALTER TABLE ${tableSql(sp, ref)} ALTER COLUMN content DROP NOT NULL`);
    return true;
  } catch (error) {
    if (String((error as { code?: unknown }).code) === "42501") return false;
    throw error;
  }
}

/** An SQL identifier, quoted (for a regclass literal). */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The table of versions, `<table>_history` (one row per version of a file), created when a backend
 * with `history` initializes:
 * - `(namespace, path, version_id)` primary key; `version_id` from the table's own identity
 *   sequence, so ids grow with every change of the whole table and a snapshot is a watermark of it;
 * - `op` (`write`, `edit`, `upload`, `delete`, `restore`); `etag`: the file's `version` as of this
 *   version, NULL for a tombstone; `size`, `mime_type`, `created_at`, `modified_at` (the change's time);
 * - `content bytea`: the exact bytes, as in the files table (NULL for a tombstone);
 * - `pruned_from`: set on the oldest version kept when retention dropped older ones, the id of the
 *   file's first version ever, so that a snapshot needing a dropped version is refused.
 * `(namespace, version_id)` is indexed for the changes since a snapshot.
 */
async function createHistoryTable(tx: Transaction, ref: TableRef): Promise<void> {
  const history = historyRef(ref);
  const table = tableSql(tx, history);
  await tx`
    CREATE TABLE IF NOT EXISTS ${table} (
      namespace text NOT NULL,
      path text COLLATE "C" NOT NULL,
      version_id bigint GENERATED BY DEFAULT AS IDENTITY,
      op text NOT NULL,
      etag bigint,
      size bigint NOT NULL,
      mime_type text,
      created_at timestamptz,
      modified_at timestamptz NOT NULL DEFAULT now(),
      content bytea,
      pruned_from bigint,
      PRIMARY KEY (namespace, path, version_id)
    )`;
  // The longest name derived from the table's: LONGEST_TABLE_SUFFIX.
  await tx`CREATE INDEX IF NOT EXISTS ${tx(`${history.table}_seq_idx`)} ON ${table} (namespace, version_id)`;
}
