/**
 * Peak memory of one grep over the memory corpus (200 MB in the full run), each grep in a fresh
 * child process whose whole process tree is sampled (so ripgrep's memory counts too). The corpus is
 * streamed to disk and to PostgreSQL file by file; the bench never holds it. First on real code
 * (the rare identifier and `return`, the smallest and the largest answer of the needle set).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PostgresBackend } from "@deepfs/postgres";
import postgres from "postgres";
import type { BenchContext, BenchGroup } from "../context.js";
import { bulkSpec, type CorpusFile, expectedMatches, streamCorpus } from "../corpus.js";
import { writeTree } from "../fs-corpus.js";
import type { Row } from "../measure.js";
import { type ProbeResult, runProbe } from "../process-tree-rss.js";
import { countLines, loadRealCorpus, QUICK_REAL_FILES, REAL_NEEDLES } from "../real-needles.js";
import { pgUrl } from "../services.js";

const GROUP = "memory";
const PROBE = fileURLToPath(new URL("../memory-probe.js", import.meta.url));
const LIMIT_MB = 200;

/** Worst (highest) peak over a few runs of a probe; every run must find every match. */
async function peak(args: string[], runs: number, expected: number): Promise<ProbeResult> {
  let worst: ProbeResult | undefined;
  for (let i = 0; i < runs; i++) {
    const result = await runProbe(PROBE, args);
    if (result.matches !== expected)
      throw new Error(`probe ${args[0]}: ${result.matches} matches, expected ${expected}`);
    if (!worst || result.treePeakRssMb > worst.treePeakRssMb) worst = result;
  }
  return worst as ProbeResult;
}

function memoryRow(
  measure: string,
  peer: string,
  ours: ProbeResult,
  theirs: ProbeResult,
  idle: ProbeResult,
  what: string,
): Row {
  return {
    group: GROUP,
    measure,
    ours: ours.treePeakRssMb,
    theirs: theirs.treePeakRssMb,
    peer,
    unit: "MB",
    ratio: ours.treePeakRssMb / theirs.treePeakRssMb,
    goal: `< ${LIMIT_MB} MB RSS`,
    pass: ours.treePeakRssMb < LIMIT_MB,
    note:
      `${what ? `${what} ` : ""}Peak RSS of the grep's process tree (highest of the runs), sampled every 10 ms; ` +
      `ours: Node process alone ${ours.nodeMaxRssMb.toFixed(0)} MB, grep ${ours.ms.toFixed(0)} ms; ` +
      `peer: Node alone ${theirs.nodeMaxRssMb.toFixed(0)} MB, grep ${theirs.ms.toFixed(0)} ms; ` +
      `an idle Node process of the same kind peaks at ${idle.treePeakRssMb.toFixed(0)} MB.`,
  };
}

async function* batches(files: Iterable<CorpusFile>, size: number): AsyncGenerator<CorpusFile[]> {
  let batch: CorpusFile[] = [];
  for (const f of files) {
    batch.push(f);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The files into PostgresBackend and into a plain `(path, content)` table, 200 at a time. */
async function loadPostgres(
  backend: PostgresBackend,
  sql: postgres.Sql,
  table: string,
  files: Iterable<CorpusFile>,
): Promise<void> {
  await backend.initialize();
  await sql`CREATE TABLE ${sql(table)} (path text PRIMARY KEY, content text NOT NULL)`;
  for await (const batch of batches(files, 200)) {
    const results = await backend.uploadFiles(batch.map((f): [string, Uint8Array] => [f.path, Buffer.from(f.content)]));
    if (results.some((r) => r.error)) throw new Error("upload to PostgresBackend failed");
    await sql`INSERT INTO ${sql(table)} ${sql(batch, "path", "content")}`;
  }
  await sql`ANALYZE`;
}

/** Runs `fn` with a PostgresBackend and a plain table of its own, both dropped afterwards. */
async function withPostgres(
  url: string,
  fn: (backend: PostgresBackend, sql: postgres.Sql, namespace: string, table: string) => Promise<void>,
): Promise<void> {
  const suffix = randomBytes(4).toString("hex");
  const namespace = `bench-memory-${suffix}`;
  const table = `bench_memory_${suffix}`;
  const backend = new PostgresBackend({ url, namespace, maxPoolSize: 2 });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await fn(backend, sql, namespace, table);
  } finally {
    await sql`DROP TABLE IF EXISTS ${sql(table)}`.catch(() => {});
    await sql`DELETE FROM deepfs_files WHERE namespace = ${namespace}`.catch(() => {});
    await sql.end();
    await backend.close();
  }
}

/**
 * The same greps over real code (all of it; the first 2,000 files with `--quick`) for the needles
 * with the smallest and the largest answer: the rare identifier and `return`.
 */
async function realCodeRows(ctx: BenchContext, runs: number, idle: ProbeResult): Promise<Row[]> {
  const corpus = await loadRealCorpus(ctx.quick ? QUICK_REAL_FILES : Number.POSITIVE_INFINITY, {
    skipHidden: true,
  });
  const needles = REAL_NEEDLES.slice(0, 2);
  const rows: Row[] = [];
  ctx.log(`memory: writing ${corpus.label} to disk`);
  const root = await mkdtemp(path.join(ctx.tmpDir, "memory-real-"));
  await writeTree(root, corpus.files);
  const expected = needles.map((n) => countLines(corpus.files, n.needle));
  const what = (i: number) =>
    `grep ${needles[i]?.kind} \`${needles[i]?.needle}\` (${expected[i]?.toLocaleString("en-US")} lines), ${corpus.label}`;
  for (const [i, { needle }] of needles.entries()) {
    ctx.log(`memory: LocalBackend ${what(i)}`);
    rows.push(
      memoryRow(
        `LocalBackend ${what(i)}`,
        "deepagents FilesystemBackend",
        await peak(["local", root, "", needle], runs, expected[i] ?? 0),
        await peak(["fs-peer", root, "", needle], runs, expected[i] ?? 0),
        idle,
        `${corpus.note} Written to a directory of its own. LocalBackend searches on worker threads of its process (their memory counts; so would ripgrep's, were it run).`,
      ),
    );
  }
  await rm(root, { recursive: true, force: true });
  const url = pgUrl(ctx.env);
  if (typeof url !== "string") return rows;
  await withPostgres(url, async (backend, sql, namespace, table) => {
    ctx.log(`memory: loading ${corpus.label} into PostgreSQL`);
    await loadPostgres(backend, sql, table, corpus.files);
    for (const [i, { needle }] of needles.entries()) {
      ctx.log(`memory: PostgresBackend ${what(i)}`);
      rows.push(
        memoryRow(
          `PostgresBackend ${what(i)}`,
          "fetch everything, search in Node",
          await peak(["postgres", url, namespace, needle], runs, expected[i] ?? 0),
          await peak(["pg-fetch-all", url, table, needle], runs, expected[i] ?? 0),
          idle,
          corpus.note,
        ),
      );
    }
  });
  return rows;
}

export const memoryGroup: BenchGroup = {
  name: "memory",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = bulkSpec(ctx.seed, ctx.sizes.memoryMb);
    const expected = expectedMatches(spec).needle;
    const runs = Math.min(3, ctx.timing.runs);
    const size = `synthetic corpus, ${ctx.sizes.memoryMb} MB (${spec.files.toLocaleString("en-US")} files of 10 KB)`;
    const idle = await peak(["idle"], runs, 0);
    const rows: Row[] = await realCodeRows(ctx, runs, idle);

    ctx.log(`memory: writing ${size} to disk`);
    const root = await mkdtemp(path.join(ctx.tmpDir, "memory-"));
    await writeTree(root, streamCorpus(spec));
    ctx.log("memory: LocalBackend grep");
    rows.push(
      memoryRow(
        `LocalBackend grep, ${size}`,
        "deepagents FilesystemBackend",
        await peak(["local", root], runs, expected),
        await peak(["fs-peer", root], runs, expected),
        idle,
        "LocalBackend searches on worker threads of its process (their memory counts; so would ripgrep's, were it run).",
      ),
    );

    const url = pgUrl(ctx.env);
    if (typeof url !== "string") {
      rows.push({
        ...memoryRow(`PostgresBackend grep, ${size}`, "fetch everything", idle, idle, idle, ""),
        ours: null,
        theirs: null,
        ratio: null,
        pass: null,
        note: `not available: ${url.unavailable}`,
      });
      return rows;
    }
    await withPostgres(url, async (backend, sql, namespace, table) => {
      ctx.log(`memory: loading ${size} into PostgreSQL`);
      await loadPostgres(backend, sql, table, streamCorpus(spec));
      ctx.log("memory: PostgresBackend grep");
      rows.push(
        memoryRow(
          `PostgresBackend grep, ${size}`,
          "fetch everything, search in Node",
          await peak(["postgres", url, namespace], runs, expected),
          await peak(["pg-fetch-all", url, table], runs, expected),
          idle,
          "",
        ),
      );
    });
    return rows;
  },
};
