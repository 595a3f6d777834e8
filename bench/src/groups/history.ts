/**
 * The cost of version history on writes: the same workload (write every file, then overwrite each
 * once, one call at a time) with `history` on and off, on StateBackend, LocalBackend, PostgreSQL and
 * S3 (a versioned bucket). The ratio is history on / history off: 1.0x means history is free.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { CreateBucketCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { type BackendProtocol, type HistoryOption, StateBackend } from "@deepfs/core";
import { LocalBackend } from "@deepfs/local";
import { PostgresBackend } from "@deepfs/postgres";
import { createS3Client, S3Backend } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { type CorpusFile, generateCorpus, standardSpec } from "../corpus.js";
import { compare, type Row, type TimingOptions, timePair, unavailable } from "../measure.js";
import { pgUrl, s3Config } from "../services.js";

const GROUP = "history";
const PEER = "the same backend, history off";

/** A fresh backend (history on or off) and how to close it. */
type Open = (history: HistoryOption | undefined) => Promise<{ backend: BackendProtocol; close: () => Promise<void> }>;

/** Writes every file, then overwrites each once: 2 versions per file with history on. */
async function workload(backend: BackendProtocol, corpus: CorpusFile[]): Promise<void> {
  for (const f of corpus) {
    const result = await backend.write(f.path, f.content);
    if (result.error) throw new Error(`write ${f.path}: ${result.error}`);
  }
  for (const f of corpus) {
    const result = await backend.write(f.path, `${f.content}\n// revised\n`);
    if (result.error) throw new Error(`overwrite ${f.path}: ${result.error}`);
  }
}

async function measure(
  ctx: BenchContext,
  name: string,
  corpus: CorpusFile[],
  timing: TimingOptions,
  open: Open,
  note: string,
): Promise<Row> {
  const n = corpus.length.toLocaleString("en-US");
  ctx.log(`history: ${name}, ${n} files`);
  const side = (history: HistoryOption | undefined) => ({
    setup: () => open(history),
    run: async (opened: Awaited<ReturnType<Open>>) => {
      try {
        await workload(opened.backend, corpus);
      } finally {
        await opened.close();
      }
    },
  });
  const samples = await timePair(timing, side(true), side(undefined));
  return compare(
    { group: GROUP, measure: `${name}: write ${n} files, then overwrite each`, peer: PEER, maxRatio: null, note },
    samples,
  );
}

export const historyGroup: BenchGroup = {
  name: "history",
  async run(ctx: BenchContext): Promise<Row[]> {
    const files = ctx.quick ? 100 : 1_000;
    const corpus = generateCorpus(standardSpec(ctx.seed, files));
    const s3Corpus = corpus.slice(0, ctx.quick ? 30 : 200);
    const rows: Row[] = [];

    rows.push(
      await measure(
        ctx,
        "StateBackend",
        corpus,
        ctx.timing,
        async (history) => ({
          backend: new StateBackend(history === undefined ? {} : { history }),
          close: async () => {},
        }),
        "In memory: each version is recorded in the same synchronous step as the change (VersionLog).",
      ),
    );

    rows.push(
      await measure(
        ctx,
        "LocalBackend",
        corpus,
        ctx.timing,
        async (history) => {
          const root = mkdtempSync(path.join(ctx.tmpDir, "history-local-"));
          const backend = new LocalBackend({
            rootDir: path.join(root, "files"),
            ...(history ? { history } : {}),
          } as never);
          return {
            backend,
            close: async () => {
              await backend.close();
              rmSync(root, { recursive: true, force: true });
            },
          };
        },
        "On disk: content-addressed objects and an fsync'd log outside the root, per change.",
      ),
    );

    const url = pgUrl(ctx.env);
    if (typeof url !== "string") {
      rows.push(unavailable(GROUP, "PostgresBackend", PEER, "", url.unavailable));
    } else {
      const table = `bench_history_${randomBytes(4).toString("hex")}`;
      rows.push(
        await measure(
          ctx,
          "PostgresBackend",
          corpus,
          ctx.timing,
          async (history) => {
            const backend = new PostgresBackend({
              url,
              table: history ? `${table}_on` : `${table}_off`,
              namespace: `run-${randomBytes(4).toString("hex")}`,
              ...(history ? { history } : {}),
            });
            await backend.initialize();
            return { backend, close: () => backend.close() };
          },
          "The version row is written by the same SQL statement as the change (a CTE), plus a shared namespace lock.",
        ),
      );
    }

    const config = s3Config(ctx.env, "unused");
    if ("unavailable" in config) {
      rows.push(unavailable(GROUP, "S3Backend", PEER, "", config.unavailable));
    } else {
      // A bucket of its own with versioning enabled (history needs it); history off writes the same bucket.
      const bucket = `bench-history-${randomBytes(4).toString("hex")}`;
      const client = createS3Client({ ...config, bucket });
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        await client.send(
          new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
        );
        rows.push(
          await measure(
            ctx,
            "S3Backend",
            s3Corpus,
            { runs: Math.min(ctx.timing.runs, 3), warmup: 0 },
            async (history) => ({
              backend: new S3Backend({
                client,
                bucket,
                prefix: `run-${randomBytes(4).toString("hex")}`,
                ...(history ? { history } : {}),
              }),
              close: async () => {},
            }),
            "Bucket versioning keeps each version with the PUT itself; history adds the op as object metadata.",
          ),
        );
      } finally {
        client.destroy();
      }
    }
    return rows;
  },
};
