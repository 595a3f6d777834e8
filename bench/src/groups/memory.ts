/**
 * Peak memory of one grep over the memory corpus (200 MB in the full run), each grep in a fresh
 * child process whose whole process tree is sampled (so ripgrep's memory counts too). The corpus is
 * streamed to disk and to PostgreSQL file by file; the bench never holds it.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PostgresBackend } from "@deepfs/postgres";
import postgres from "postgres";
import type { BenchContext, BenchGroup } from "../context.js";
import { bulkSpec, type CorpusFile, expectedMatches, streamCorpus } from "../corpus.js";
import { writeTree } from "../fs-corpus.js";
import type { Row } from "../measure.js";
import { type ProbeResult, runProbe } from "../process-tree-rss.js";
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

export const memoryGroup: BenchGroup = {
  name: "memory",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = bulkSpec(ctx.seed, ctx.sizes.memoryMb);
    const expected = expectedMatches(spec).needle;
    const runs = Math.min(3, ctx.timing.runs);
    const size = `${ctx.sizes.memoryMb} MB (${spec.files.toLocaleString("en-US")} files of 10 KB)`;
    const rows: Row[] = [];

    ctx.log(`memory: writing ${size} to disk`);
    const root = await mkdtemp(path.join(ctx.tmpDir, "memory-"));
    await writeTree(root, streamCorpus(spec));
    const idle = await peak(["idle"], runs, 0);
    ctx.log("memory: LocalBackend grep");
    rows.push(
      memoryRow(
        `LocalBackend grep, ${size}`,
        "deepagents FilesystemBackend",
        await peak(["local", root], runs, expected),
        await peak(["fs-peer", root], runs, expected),
        idle,
        "LocalBackend runs ripgrep to find candidate files, whose RSS is included.",
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
    const suffix = randomBytes(4).toString("hex");
    const namespace = `bench-memory-${suffix}`;
    const table = `bench_memory_${suffix}`;
    const backend = new PostgresBackend({ url, namespace, maxPoolSize: 2 });
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      ctx.log(`memory: loading ${size} into PostgreSQL`);
      await backend.initialize();
      await sql`CREATE TABLE ${sql(table)} (path text PRIMARY KEY, content text NOT NULL)`;
      for await (const batch of batches(streamCorpus(spec), 200)) {
        const results = await backend.uploadFiles(
          batch.map((f): [string, Uint8Array] => [f.path, Buffer.from(f.content)]),
        );
        if (results.some((r) => r.error)) throw new Error("upload to PostgresBackend failed");
        await sql`INSERT INTO ${sql(table)} ${sql(batch, "path", "content")}`;
      }
      await sql`ANALYZE`;
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
    } finally {
      await sql`DROP TABLE IF EXISTS ${sql(table)}`.catch(() => {});
      await sql`DELETE FROM deepfs_files WHERE namespace = ${namespace}`.catch(() => {});
      await sql.end();
      await backend.close();
    }
    return rows;
  },
};
