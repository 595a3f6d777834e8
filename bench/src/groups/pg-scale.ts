/**
 * PostgresBackend at 10x scale (issue 24): 200,000 files of about 2 KB (about 400 MB; 2,000 with
 * `--quick`) in 20 directories of 10,000 files. Uploads against one multi-row INSERT per 1,000 files
 * into a plain table; then grep of a rare identifier (a word pair of the filler, so it shares its
 * trigrams with most files), `ls` of a directory of 10,000 files and the peak RSS of a process
 * running `glob("**\/*.ts")` over everything, each against the issue's budget.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { splitLines } from "@deepfs/core";
import { PostgresBackend } from "@deepfs/postgres";
import postgres from "postgres";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, type CorpusSpec, streamCorpus } from "../corpus.js";
import { compare, expectCount, type Row, time, unavailable } from "../measure.js";

const GROUP = "PostgresBackend at scale";
const DIRS = 20;
/** A rare identifier made of the filler's own words: its trigrams are in most files. */
const NEEDLE = "schemaWindow7";
const UPLOAD_BATCH = 1_000;

const run = promisify(execFile);

function scaleSpec(seed: number, files: number): CorpusSpec {
  return { seed, files, topDirs: DIRS, subDirs: 1, rootFiles: 0, fileBytes: 2_048 };
}

function* batchesOf(spec: CorpusSpec, size: number): Generator<CorpusFile[]> {
  let batch: CorpusFile[] = [];
  for (const file of streamCorpus(spec)) {
    batch.push(file);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** A row of one measured time against a fixed budget (the issue's absolute goal). */
function budgetRow(measure: string, ms: number[], budgetMs: number, note: string): Row {
  return compare(
    { group: GROUP, measure, peer: `the ${budgetMs} ms budget`, maxRatio: 1, note },
    { ours: ms, theirs: ms.map(() => budgetMs) },
  );
}

/** Peak RSS of a child process running one glob over the namespace (see memory-probe.ts). */
async function globPeakRss(url: string, namespace: string, table: string, expected: number): Promise<number> {
  const probe = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "memory-probe.js");
  const { stdout } = await run(process.execPath, [probe, "postgres-glob", url, `${namespace}:${table}`], {
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { matches: number; maxRssMb: number };
  expectCount("glob **/*.ts", result.matches, expected);
  return result.maxRssMb;
}

export const pgScaleGroup: BenchGroup = {
  name: "pg-scale",
  async run(ctx: BenchContext): Promise<Row[]> {
    const url = ctx.env.DEEPFS_PG_URL;
    if (!url) {
      const reason = ctx.env.DEEPFS_POSTGRES_UNAVAILABLE ?? "DEEPFS_PG_URL not set";
      return [unavailable(GROUP, "200,000 files", "budgets", "<= 1x", reason)];
    }
    const files = ctx.quick ? 2_000 : 200_000;
    const spec = scaleSpec(ctx.seed, files);
    const n = files.toLocaleString("en-US");
    const perDir = (files / DIRS).toLocaleString("en-US");
    const suffix = randomBytes(4).toString("hex");
    const table = `bench_scale_${suffix}`;
    const plain = `bench_scale_plain_${suffix}`;
    const indexed = `bench_scale_indexed_${suffix}`;
    const namespace = "scale";
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    const backend = new PostgresBackend({ url, namespace, table, maxPoolSize: 4 });
    const rows: Row[] = [];
    try {
      await backend.initialize();
      await sql`CREATE TABLE ${sql(plain)} (path text PRIMARY KEY, content text NOT NULL)`;
      // The same INSERTs into a table with the search index ours keeps (pg_trgm GIN on the text).
      await sql`CREATE TABLE ${sql(indexed)} (path text PRIMARY KEY, content text NOT NULL)`;
      await sql`CREATE INDEX ON ${sql(indexed)} USING gin (content gin_trgm_ops)`;
      let expectedLines = 0;
      let expectedTs = 0;
      let bytes = 0;
      const ours: number[] = [];
      const theirs: number[] = [];
      const theirsIndexed: number[] = [];
      ctx.log(`pg-scale: uploading ${n} files, ${UPLOAD_BATCH} per call, against multi-row INSERTs`);
      let oursMs = 0;
      let theirsMs = 0;
      let indexedMs = 0;
      for (const batch of batchesOf(spec, UPLOAD_BATCH)) {
        for (const f of batch) {
          bytes += f.content.length;
          if (f.path.endsWith(".ts")) expectedTs++;
          for (const line of splitLines(f.content)) if (line.includes(NEEDLE)) expectedLines++;
        }
        const payload = batch.map((f): [string, Uint8Array] => [f.path, Buffer.from(f.content)]);
        let start = performance.now();
        const results = await backend.uploadFiles(payload);
        oursMs += performance.now() - start;
        if (results.some((r) => r.error)) throw new Error("pg-scale: an upload failed");
        start = performance.now();
        await sql`INSERT INTO ${sql(plain)} ${sql(batch, "path", "content")}`;
        theirsMs += performance.now() - start;
        start = performance.now();
        await sql`INSERT INTO ${sql(indexed)} ${sql(batch, "path", "content")}`;
        indexedMs += performance.now() - start;
      }
      ours.push(oursMs);
      theirs.push(theirsMs);
      theirsIndexed.push(indexedMs);
      const megabytes = (bytes / 1e6).toFixed(0);
      rows.push(
        compare(
          {
            group: GROUP,
            measure: `upload ${n} files (${megabytes} MB), uploadFiles of ${UPLOAD_BATCH} files per call`,
            peer: `one multi-row INSERT per ${UPLOAD_BATCH} files into (path, content) with a pg_trgm GIN index`,
            maxRatio: 1,
            note:
              "One run each, interleaved batch by batch. The peer's table has the search index ours keeps, so " +
              "the ratio is the cost of batching, the path locks, the tree checks and the parent index.",
          },
          { ours, theirs: theirsIndexed },
        ),
      );
      rows.push(
        compare(
          {
            group: GROUP,
            measure: `upload ${n} files (${megabytes} MB), against a table without the search index`,
            peer: `one multi-row INSERT per ${UPLOAD_BATCH} files, plain (path, content) table, primary key only`,
            maxRatio: null,
            note: "The same run; most of the difference is maintaining the pg_trgm index that makes grep fast.",
          },
          { ours, theirs },
        ),
      );
      await sql`VACUUM ANALYZE ${sql(table)}`;

      ctx.log(`pg-scale: grep ${JSON.stringify(NEEDLE)} (${expectedLines} lines)`);
      const grepMs = await time(ctx.timing, async () =>
        expectCount("grep", (await backend.grep(NEEDLE, "/")).matches?.length ?? 0, expectedLines),
      );
      rows.push(
        budgetRow(
          `grep rare identifier \`${NEEDLE}\` (${expectedLines} lines), ${n} files`,
          grepMs,
          300,
          `${n} files of about 2 KB (${megabytes} MB); the needle is a pair of the filler's words, so its trigrams are in most files.`,
        ),
      );

      ctx.log(`pg-scale: ls of a directory of ${perDir} files`);
      const lsMs = await time(ctx.timing, async () =>
        expectCount("ls", (await backend.ls("/d00/s0")).files?.length ?? 0, files / DIRS),
      );
      rows.push(budgetRow(`ls of a directory of ${perDir} files, ${n} files in all`, lsMs, 200, ""));

      ctx.log("pg-scale: peak RSS of glob **/*.ts in a child process");
      const rss = await globPeakRss(url, namespace, table, expectedTs);
      rows.push({
        group: GROUP,
        measure: `peak RSS of a process running glob **/*.ts (${expectedTs.toLocaleString("en-US")} files), ${n} files`,
        ours: rss,
        theirs: 200,
        peer: "the 200 MB budget",
        unit: "MB",
        ratio: rss / 200,
        goal: "<= 1x",
        pass: rss <= 200,
        note: "A fresh Node process that opens the backend, runs the glob and prints its own peak RSS (VmHWM of /proc/self/status).",
      });
    } finally {
      await sql`DROP TABLE IF EXISTS ${sql(plain)}`.catch(() => {});
      await sql`DROP TABLE IF EXISTS ${sql(indexed)}`.catch(() => {});
      await sql`DROP TABLE IF EXISTS ${sql(table)}`.catch(() => {});
      await backend.close();
      await sql.end();
    }
    return rows;
  },
};
