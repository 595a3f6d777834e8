/**
 * PostgresBackend grep (searched in SQL, only matching lines returned) against "fetch everything,
 * search in Node": one query returning every row of a plain (path, content) table, then a substring
 * search line by line, as the Python deepagents-backends package does. On the generated corpus,
 * then on real code (the repository's installed dependencies) with a needle set: a rare identifier,
 * common keywords, a 2-character needle, an absent needle, and a capped grep.
 */
import { randomBytes } from "node:crypto";
import { splitLines } from "@deepfs/core";
import { PostgresBackend } from "@deepfs/postgres";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, expectedMatches, generateCorpus, NEEDLE, RARE_NEEDLE, standardSpec } from "../corpus.js";
import { compare, expectCount, type Row, time, timePair, unavailable } from "../measure.js";
import { countingClient } from "../pg-client.js";
import { loadRealCorpus, matchCount, NO_MATCH, QUICK_REAL_FILES, REAL_NEEDLES, realGrepRow } from "../real-needles.js";

const GROUP = "PostgresBackend";
const PEER = "fetch everything, search in Node";

/**
 * The baseline's grep: every row over the wire, then a literal search of each line, keeping what a
 * grep answers (path, line number and text of each matching line, as ours returns).
 */
async function fetchEverythingGrep(
  sql: ReturnType<typeof countingClient>["sql"],
  table: string,
  pattern: string,
): Promise<number> {
  const rows = await sql`SELECT path, content FROM ${sql(table)}`;
  const matches: Array<{ path: string; line: number; text: string }> = [];
  for (const row of rows) {
    const path = row.path as string;
    splitLines(row.content as string).forEach((text, i) => {
      if (text.includes(pattern)) matches.push({ path, line: i + 1, text });
    });
  }
  return matches.length;
}

async function loadBackend(backend: PostgresBackend, corpus: CorpusFile[]): Promise<void> {
  for (let i = 0; i < corpus.length; i += 500) {
    const batch = corpus.slice(i, i + 500).map((f): [string, Uint8Array] => [f.path, Buffer.from(f.content)]);
    const results = await backend.uploadFiles(batch);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
  }
}

/** The issue's goal (ours / peer) for each needle of the real-code set. */
const REAL_GOALS: Record<string, number> = {
  ContinuationToken: 0.05,
  return: 0.25,
  import: 0.25,
  "0x": 0.3,
  [NO_MATCH]: 0.05,
};

/**
 * Grep over real code (the repository's installed dependencies), needle by needle, against fetch
 * everything and search in Node on the same server: every match returned (no cap), then `return`
 * with `maxCount` 100, where the cost must follow the matches returned.
 */
async function realCodeRows(ctx: BenchContext, url: string): Promise<Row[]> {
  const real = await loadRealCorpus(ctx.quick ? QUICK_REAL_FILES : Number.POSITIVE_INFINITY);
  const corpus = real.files;
  const n = corpus.length.toLocaleString("en-US");
  const megabytes = real.megabytes;
  const suffix = randomBytes(4).toString("hex");
  const namespace = `bench-real-${suffix}`;
  const baselineTable = `bench_fetch_all_real_${suffix}`;
  // A table of its own, so that its size is the size of this corpus alone.
  const ourTable = `bench_real_${suffix}`;
  const ours = countingClient(url);
  const theirs = countingClient(url);
  const backend = new PostgresBackend({ sql: ours.sql, namespace, table: ourTable });
  const rows: Row[] = [];
  try {
    await backend.initialize();
    ctx.log(`postgres: loading ${n} real source files (${megabytes.toFixed(1)} MB)`);
    await loadBackend(backend, corpus);
    await theirs.sql`CREATE TABLE ${theirs.sql(baselineTable)} (path text PRIMARY KEY, content text NOT NULL)`;
    for (let i = 0; i < corpus.length; i += 500) {
      await theirs.sql`INSERT INTO ${theirs.sql(baselineTable)} ${theirs.sql(corpus.slice(i, i + 500), "path", "content")}`;
    }
    await ours.sql`ANALYZE`;
    const note = `${real.note} Same server.`;
    rows.push(await tableSizeRow(ours.sql, ourTable, megabytes * 1e6, n));
    for (const needle of REAL_NEEDLES) {
      rows.push(
        await realGrepRow(
          ctx,
          {
            group: GROUP,
            peer: PEER,
            corpus: real,
            ours: async (pattern) => matchCount(await backend.grep(pattern, "/"), "ours grep"),
            theirs: (pattern) => fetchEverythingGrep(theirs.sql, baselineTable, pattern),
            maxRatio: (x) => REAL_GOALS[x.needle] ?? null,
            note: "Same server.",
          },
          needle,
        ),
      );
      const grepSamples = rows[rows.length - 1]?.samples?.ours ?? [];
      for (const limit of await limitRows(ctx, ours.sql, ourTable, namespace, needle.needle)) {
        rows.push(
          compare(
            {
              group: GROUP,
              measure: `grep \`${needle.needle}\` against ${limit.what}, real code`,
              peer: `limit: ${limit.what}`,
              maxRatio: null,
              note: `${note} ${limit.note}`,
            },
            { ours: grepSamples, theirs: limit.samples },
          ),
        );
      }
    }
    const cap = 100;
    rows.push(
      compare(
        {
          group: GROUP,
          measure: `grep \`return\` with maxCount ${cap}, ${real.label}`,
          peer: PEER,
          maxRatio: 0.05,
          note: `${note} The peer still fetches every row; ours stops at maxCount + 1 matches.`,
        },
        await timePair(
          ctx.timing,
          {
            run: async () =>
              expectCount("ours grep", (await backend.grep("return", "/", null, cap)).matches?.length ?? 0, cap),
          },
          {
            run: async () =>
              expectCount(
                "fetch-all grep",
                Math.min(cap, await fetchEverythingGrep(theirs.sql, baselineTable, "return")),
                cap,
              ),
          },
        ),
      ),
    );
  } finally {
    await theirs.sql`DROP TABLE IF EXISTS ${theirs.sql(baselineTable)}`.catch(() => {});
    await ours.sql`DROP TABLE IF EXISTS ${ours.sql(ourTable)}`.catch(() => {});
    await backend.close();
    await ours.sql.end();
    await theirs.sql.end();
  }
  return rows;
}

/**
 * What the server alone needs to find the files holding `needle`: the pg_trgm GIN index plan
 * (forced, as ours forces it; only for needles with trigrams) and a sequential scan with `strpos`
 * (the fallback's floor), both counting rows so that no text crosses the wire; and the matching
 * files' texts sent raw, the floor of searching their lines outside the server.
 */
async function limitRows(
  ctx: BenchContext,
  sql: ReturnType<typeof countingClient>["sql"],
  table: string,
  namespace: string,
  needle: string,
): Promise<Array<{ what: string; note: string; samples: number[] }>> {
  const like = `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const forced = (settings: string[], query: (q: typeof sql) => Promise<unknown>) =>
    time(ctx.timing, () =>
      sql.begin(async (tx) => {
        for (const setting of settings) await tx.unsafe(`SET LOCAL ${setting} = off`);
        return query(tx as unknown as typeof sql);
      }),
    );
  const out: Array<{ what: string; note: string; samples: number[] }> = [];
  const counted =
    "The limit finds the matching files only (a count, no line crosses the wire): how close ours is to what the server can do.";
  if (/[A-Za-z0-9]{3}/.test(needle)) {
    out.push({
      what: "the GIN index plan (forced)",
      note: counted,
      samples: await forced(["enable_seqscan", "enable_indexscan"], (q) =>
        q.unsafe(`SELECT count(*) FROM "${table}" WHERE namespace = $1 AND text_content LIKE $2`, [namespace, like]),
      ),
    });
  }
  // What streaming the answer's files costs: the texts of the files holding the needle, sent raw
  // (never decoded) and dropped, under the plan ours uses. A common word's answer lies in most of
  // the corpus, so this is the floor of any search that reads lines in Node.
  out.push({
    what: "sending the matching files' texts (raw, not searched)",
    note: "The limit reads the files holding the needle and sends their texts undecoded, without searching them: what any search of their lines outside the server pays first.",
    samples: await forced(
      /[A-Za-z0-9]{3}/.test(needle)
        ? ["enable_seqscan", "enable_indexscan"]
        : ["enable_indexscan", "enable_bitmapscan"],
      async (q) => {
        let bytes = 0;
        await q
          .unsafe(`SELECT text_content FROM "${table}" WHERE namespace = $1 AND text_content LIKE $2`, [
            namespace,
            like,
          ])
          .raw()
          .forEach((row) => {
            bytes += (row[0] as Buffer | null)?.length ?? 0;
          });
        return bytes;
      },
    ),
  });
  out.push({
    what: "a sequential strpos scan",
    note: counted,
    samples: await forced(["enable_indexscan", "enable_bitmapscan"], (q) =>
      q.unsafe(`SELECT count(*) FROM "${table}" WHERE namespace = $1 AND strpos(text_content, $2) > 0`, [
        namespace,
        needle,
      ]),
    ),
  });
  return out;
}

/**
 * The size of the files table with its indexes and TOAST (`pg_total_relation_size`, after a
 * VACUUM so that dead rows of the load are not counted) against the corpus's raw bytes.
 */
async function tableSizeRow(
  sql: ReturnType<typeof countingClient>["sql"],
  table: string,
  rawBytes: number,
  n: string,
): Promise<Row> {
  await sql`VACUUM ${sql(table)}`;
  const [row] = await sql`
    SELECT pg_total_relation_size(${table}::regclass)::bigint AS total,
           pg_relation_size(${table}::regclass)::bigint AS heap,
           pg_indexes_size(${table}::regclass)::bigint AS indexes`;
  const total = Number(row?.total);
  const mb = (bytes: number) => Math.round((bytes / 1e6) * 10) / 10;
  // The layout before issue 24, for comparison: the same rows with every text file's bytes kept too.
  const twice = `${table}_twice`;
  await sql`CREATE TABLE ${sql(twice)} (LIKE ${sql(table)} INCLUDING ALL)`;
  await sql`
    INSERT INTO ${sql(twice)} SELECT namespace, path, parent, COALESCE(content, convert_to(text_content, 'UTF8')),
      text_content, size, mime_type, created_at, modified_at, version FROM ${sql(table)}`;
  await sql`VACUUM ${sql(twice)}`;
  const [before] = await sql`SELECT pg_total_relation_size(${twice}::regclass)::bigint AS total`;
  await sql`DROP TABLE ${sql(twice)}`;
  const ratio = total / rawBytes;
  return {
    group: GROUP,
    measure: `table size with indexes and TOAST, real code, ${n} files`,
    ours: mb(total),
    theirs: mb(rawBytes),
    peer: "the files' raw bytes",
    unit: "MB",
    ratio,
    goal: "<= 1.2x",
    pass: ratio <= 1.2,
    note:
      `pg_total_relation_size after VACUUM: ${mb(total)} MB (heap ${mb(Number(row?.heap))} MB, indexes ` +
      `${mb(Number(row?.indexes))} MB, the rest TOAST) for ${mb(rawBytes)} MB of files. Text files are stored once, as text; ` +
      `the same rows with the bytes of text files kept too (the layout before): ${mb(Number(before?.total))} MB ` +
      `(${(Number(before?.total) / rawBytes).toFixed(2)}x).`,
  };
}

export const postgresGroup: BenchGroup = {
  name: "postgres",
  async run(ctx: BenchContext): Promise<Row[]> {
    const url = ctx.env.DEEPFS_PG_URL;
    if (!url) {
      const reason = ctx.env.DEEPFS_POSTGRES_UNAVAILABLE ?? "DEEPFS_PG_URL not set";
      return [unavailable(GROUP, "grep needle", PEER, "<= 0.1x", reason)];
    }
    const spec = standardSpec(ctx.seed, ctx.sizes.large);
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const n = corpus.length.toLocaleString("en-US");
    const suffix = randomBytes(4).toString("hex");
    const namespace = `bench-${suffix}`;
    const baselineTable = `bench_fetch_all_${suffix}`;
    const ours = countingClient(url);
    const theirs = countingClient(url);
    const backend = new PostgresBackend({ sql: ours.sql, namespace });
    const rows: Row[] = [];
    try {
      const schema = await backend.initialize();
      ctx.log(`postgres: loading ${n} files (trigram index: ${schema.trigramIndex})`);
      await loadBackend(backend, corpus);
      await theirs.sql`CREATE TABLE ${theirs.sql(baselineTable)} (path text PRIMARY KEY, content text NOT NULL)`;
      for (let i = 0; i < corpus.length; i += 1000) {
        await theirs.sql`INSERT INTO ${theirs.sql(baselineTable)} ${theirs.sql(corpus.slice(i, i + 1000), "path", "content")}`;
      }
      await ours.sql`ANALYZE`;

      ctx.log(`postgres: grep over ${n}`);
      rows.push(
        compare(
          {
            group: GROUP,
            measure: `grep needle, ${n} files`,
            peer: PEER,
            maxRatio: 0.1,
            note: `PostgresBackend with the pg_trgm GIN index ${schema.trigramIndex ? "present" : "ABSENT (extension unavailable)"}; both on the same server, same ${n} files.`,
          },
          await timePair(
            ctx.timing,
            {
              run: async () =>
                expectCount("ours grep", (await backend.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
            },
            {
              run: async () =>
                expectCount(
                  "fetch-all grep",
                  await fetchEverythingGrep(theirs.sql, baselineTable, NEEDLE),
                  expected.needle,
                ),
            },
          ),
        ),
      );

      // Bytes received, counted on the sockets around one call each (after the timing, warm pool).
      const received = async (client: typeof ours, fn: () => Promise<unknown>) => {
        const before = client.bytesReceived();
        await fn();
        return client.bytesReceived() - before;
      };
      const payload = async (pattern: string) => {
        const matches = (await backend.grep(pattern, "/")).matches ?? [];
        return matches.reduce((sum, m) => sum + Buffer.byteLength(m.path) + Buffer.byteLength(m.text) + 4, 0);
      };
      const oursNone = await received(ours, () => backend.grep(NO_MATCH, "/"));
      const oursNeedle = await received(ours, () => backend.grep(NEEDLE, "/"));
      const oursRare = await received(ours, () => backend.grep(RARE_NEEDLE, "/"));
      const theirsNeedle = await received(theirs, () => fetchEverythingGrep(theirs.sql, baselineTable, NEEDLE));
      const needlePayload = await payload(NEEDLE);
      const rarePayload = await payload(RARE_NEEDLE);
      // "Proportional to matches": beyond the cost of a grep that matches nothing, at most 4x the
      // bytes of the matches themselves (path + line text + line number), for both match counts.
      const proportional =
        oursNeedle - oursNone <= 4 * needlePayload && oursRare - oursNone <= 4 * Math.max(rarePayload, 1);
      rows.push({
        group: GROUP,
        measure: `bytes received, grep needle, ${n} files`,
        ours: oursNeedle / 1024,
        theirs: theirsNeedle / 1024,
        peer: PEER,
        unit: "KB",
        ratio: oursNeedle / theirsNeedle,
        goal: "proportional to matches",
        pass: proportional,
        note:
          `Bytes read from the PostgreSQL sockets during one grep. Ours: ${oursNone} B with 0 matches, ` +
          `${oursRare} B with ${expected.rare} matches (${rarePayload} B of match data), ` +
          `${oursNeedle} B with ${expected.needle} matches (${needlePayload} B of match data). ` +
          "Pass when, above the 0-match cost, ours is at most 4x the match data for both counts.",
      });
    } finally {
      await theirs.sql`DROP TABLE IF EXISTS ${theirs.sql(baselineTable)}`.catch(() => {});
      await ours.sql`DELETE FROM deepfs_files WHERE namespace = ${namespace}`.catch(() => {});
      await backend.close();
      await ours.sql.end();
      await theirs.sql.end();
    }
    rows.push(...(await realCodeRows(ctx, url)));
    return rows;
  },
};
