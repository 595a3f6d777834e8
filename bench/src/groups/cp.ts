/**
 * `deepfs cp` of a directory tree into S3 and PostgreSQL, run as a user runs it (the built binary,
 * process start included), against a naive copy of the same files: one PutObject (or one INSERT)
 * after another. S3 is measured against moto directly and through the 20 ms latency proxy.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, type S3Config } from "@deepfs/s3";
import postgres from "postgres";
import type { BenchContext, BenchGroup } from "../context.js";
import { generateCorpus, standardSpec } from "../corpus.js";
import { writeTree } from "../fs-corpus.js";
import { startLatencyProxy } from "../latency-proxy.js";
import { compare, expectCount, type Row, timePair, unavailable } from "../measure.js";
import { pgUrl, s3Config } from "../services.js";

const GROUP = "deepfs cp";
const LATENCY_MS = 20;
const run = promisify(execFile);

/** The CLI as built in this checkout (the bench builds its workspace dependencies first). */
const BIN = fileURLToPath(new URL("../../../packages/cli/dist/bin.js", import.meta.url));

/** Runs `deepfs cp --json` and checks it copied `count` files. */
async function deepfsCp(source: string, destination: string, env: NodeJS.ProcessEnv, count: number): Promise<void> {
  const { stdout } = await run(process.execPath, [BIN, "--json", "cp", "--no-progress", source, destination], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const report = JSON.parse(stdout) as { files?: number; failed?: unknown[] };
  expectCount("deepfs cp files", report.files ?? 0, count);
  if ((report.failed ?? []).length > 0) throw new Error(`deepfs cp: ${report.failed?.length} files failed`);
}

/** The naive S3 copy: each file read and PUT, one after another. */
async function sequentialPut(client: S3Client, bucket: string, prefix: string, root: string, rels: string[]) {
  for (const rel of rels) {
    const body = await readFile(path.join(root, rel));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${rel}`, Body: body }));
  }
}

async function countKeys(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `${prefix}/`,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    count += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}

function s3Url(config: S3Config, endpoint: string, prefix: string): string {
  return `s3://${config.bucket}/${prefix}?endpoint=${endpoint}&region=${config.region ?? "us-east-1"}&path-style=1#/`;
}

async function s3Rows(ctx: BenchContext, root: string, rels: string[], measure: string): Promise<Row[]> {
  const peer = "one PutObject after another";
  const base = `bench-cp-${randomBytes(4).toString("hex")}`;
  const config = s3Config(ctx.env, base);
  if ("unavailable" in config) return [unavailable(GROUP, `${measure} → S3`, peer, "", config.unavailable)];
  const env = {
    AWS_ACCESS_KEY_ID: config.accessKeyId ?? "test",
    AWS_SECRET_ACCESS_KEY: config.secretAccessKey ?? "test",
    AWS_REGION: config.region ?? "us-east-1",
  };
  const proxy = await startLatencyProxy(config.endpointUrl as string, LATENCY_MS);
  const clients: S3Client[] = [];
  try {
    const rows: Row[] = [];
    for (const [endpoint, label, timing] of [
      // A naive copy of 5,000 files takes minutes (one request at a time): fewer runs here.
      [config.endpointUrl as string, "", { runs: Math.min(ctx.timing.runs, 2), warmup: 0 }],
      [proxy.url, `, ${LATENCY_MS} ms per request`, { runs: 1, warmup: 0 }],
    ] as const) {
      const client = createS3Client({ ...config, endpointUrl: endpoint });
      clients.push(client);
      const ours = `${base}${label ? "-slow" : ""}/ours`;
      const theirs = `${base}${label ? "-slow" : ""}/theirs`;
      ctx.log(`cp: ${rels.length} files → S3${label}`);
      const samples = await timePair(
        timing,
        { run: () => deepfsCp(root, s3Url(config, endpoint, ours), env, rels.length) },
        { run: () => sequentialPut(client, config.bucket, theirs, root, rels) },
      );
      expectCount("objects copied by deepfs cp", await countKeys(client, config.bucket, ours), rels.length);
      expectCount("objects copied one by one", await countKeys(client, config.bucket, theirs), rels.length);
      rows.push(
        compare(
          {
            group: GROUP,
            measure: `${measure} → S3${label}`,
            peer,
            maxRatio: null,
            note:
              "deepfs cp is the built binary, process start (about 0.7 s) and backend set-up included; it uploads " +
              "in batches of 64 files, 4 batches in flight; S3Backend checks the contract for a batch with one " +
              "listing of the batch's common directory (and a HEAD per ancestor above it, and per overwritten " +
              "file) before the PUTs, where the naive copy only PUTs. " +
              (label
                ? `Through a loopback proxy holding each request ${LATENCY_MS} ms (a real store's latency).`
                : "moto_server on loopback."),
          },
          samples,
        ),
      );
    }
    return rows;
  } finally {
    for (const client of clients) client.destroy();
    await proxy.close();
  }
}

async function postgresRow(ctx: BenchContext, root: string, rels: string[], measure: string): Promise<Row> {
  const peer = "one INSERT after another";
  const url = pgUrl(ctx.env);
  if (typeof url !== "string") return unavailable(GROUP, `${measure} → PostgreSQL`, peer, "", url.unavailable);
  const suffix = randomBytes(4).toString("hex");
  const table = `bench_cp_naive_${suffix}`;
  const namespace = `bench-cp-${suffix}`;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const destination = `${url}${url.includes("?") ? "&" : "?"}namespace=${namespace}#/`;
  try {
    await sql`CREATE TABLE ${sql(table)} (path text PRIMARY KEY, content bytea NOT NULL)`;
    ctx.log(`cp: ${rels.length} files → PostgreSQL`);
    const samples = await timePair(
      ctx.timing,
      { run: () => deepfsCp(root, destination, {}, rels.length) },
      {
        run: async () => {
          for (const rel of rels) {
            const content = await readFile(path.join(root, rel));
            await sql`INSERT INTO ${sql(table)} (path, content) VALUES (${`/${rel}`}, ${content})
              ON CONFLICT (path) DO UPDATE SET content = excluded.content`;
          }
        },
      },
    );
    const [row] = await sql<Array<{ count: string }>>`SELECT count(*)::text AS count FROM ${sql(table)}`;
    expectCount("rows inserted one by one", Number(row?.count ?? 0), rels.length);
    return compare(
      {
        group: GROUP,
        measure: `${measure} → PostgreSQL`,
        peer,
        maxRatio: null,
        note: "deepfs cp (the built binary, process start included) into PostgresBackend; the naive copy is one INSERT per file on one connection into a plain (path, bytea) table.",
      },
      samples,
    );
  } finally {
    await sql`DROP TABLE IF EXISTS ${sql(table)}`.catch(() => {});
    await sql.end({ timeout: 5 });
  }
}

export const cpGroup: BenchGroup = {
  name: "cp",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.cp);
    const corpus = generateCorpus(spec);
    const root = path.join(ctx.tmpDir, `cp-${randomBytes(4).toString("hex")}`);
    await writeTree(root, corpus);
    const rels = corpus.map((f) => f.path.replace(/^\//, ""));
    const measure = `copy ${rels.length.toLocaleString("en-US")} files from disk`;
    return [...(await s3Rows(ctx, root, rels, measure)), await postgresRow(ctx, root, rels, measure)];
  },
};
