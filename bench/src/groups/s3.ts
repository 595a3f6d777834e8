/**
 * S3Backend grep against "list, then GET each object one after another" (the approach of the
 * Python deepagents-backends package and of most hand-written S3 backends), on the same objects.
 */
import { randomBytes } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client, S3Backend, type S3Config } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { expectedMatches, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { compare, expectCount, median, type Row, timePair, unavailable } from "../measure.js";
import { loadRealCorpus, matchCount, realGrepRows } from "../real-needles.js";
import { s3Config } from "../services.js";
import { GREP_CONCURRENCY, GROUP, PEER, parallelFetch, sequentialGrep } from "./s3-latency.js";
import { listingRows } from "./s3-listing.js";

/**
 * Grep over real code against the same baseline: the first 500 files in path order (50 with
 * `--quick`; moto stores one PUT at a time), needle by needle, under a prefix of their own.
 */
async function realCodeRows(ctx: BenchContext, base: S3Config): Promise<Row[]> {
  const corpus = await loadRealCorpus(ctx.quick ? 50 : 500);
  const config = { ...base, prefix: `${base.prefix}-real` };
  const backend = new S3Backend({ ...config, grepConcurrency: GREP_CONCURRENCY });
  const client = createS3Client(config);
  try {
    ctx.log(`s3: uploading ${corpus.label}`);
    const results = await backend.uploadFiles(corpus.files.map((f) => [f.path, Buffer.from(f.content)]));
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
    return await realGrepRows(ctx, {
      group: GROUP,
      peer: PEER,
      corpus,
      ours: async (needle) => matchCount(await backend.grep(needle, "/"), "ours grep"),
      theirs: (needle) => sequentialGrep(client, config.bucket, `${config.prefix}/`, needle),
      maxRatio: () => 0.2,
      note: "moto_server on loopback (one request at a time): see the synthetic rows for its ceiling.",
    });
  } finally {
    await backend.delete("/").catch(() => {});
    client.destroy();
    await backend.close();
  }
}

export const s3Group: BenchGroup = {
  name: "s3",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.s3);
    const n = spec.files.toLocaleString("en-US");
    const prefix = `bench-${randomBytes(4).toString("hex")}`;
    const config = s3Config(ctx.env, prefix);
    const measure = `grep needle, synthetic corpus, ${n} objects`;
    if ("unavailable" in config) return [unavailable(GROUP, measure, PEER, "<= 0.2x", config.unavailable)];
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const backend = new S3Backend({ ...config, grepConcurrency: GREP_CONCURRENCY });
    const concurrency = GREP_CONCURRENCY;
    // The baseline gets a client built by the same factory (same endpoint, pool and checksum settings).
    const client = createS3Client(config);
    const grepSides = (ours: S3Backend, theirs: S3Client) => ({
      ours: {
        run: async () => expectCount("ours grep", (await ours.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
      },
      theirs: {
        run: async () =>
          expectCount(
            "sequential grep",
            await sequentialGrep(theirs, config.bucket, `${prefix}/`, NEEDLE),
            expected.needle,
          ),
      },
    });
    const rows: Row[] = await realCodeRows(ctx, config);
    try {
      ctx.log(`s3: uploading ${n} objects`);
      const results = await backend.uploadFiles(corpus.map((f) => [f.path, Buffer.from(f.content)]));
      const failed = results.find((r) => r.error);
      if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
      const keys = corpus.map((f) => `${prefix}${f.path}`);

      ctx.log(`s3: grep over ${n}`);
      const direct = grepSides(backend, client);
      const directSamples = await timePair(ctx.timing, direct.ours, direct.theirs);
      ctx.log(`s3: the server's ceiling, ${concurrency} GETs at a time`);
      const ceiling = await timePair(ctx.timing, direct.ours, {
        run: () => parallelFetch(client, config.bucket, keys, concurrency),
      });
      const ceilingMs = median(ceiling.theirs);
      rows.push(
        compare(
          {
            group: GROUP,
            measure,
            peer: PEER,
            maxRatio: 0.2,
            note:
              `moto_server on loopback: one Python process that serves requests one at a time, so no client can go ` +
              `much faster than one after another. Its ceiling here: ${ceilingMs.toFixed(0)} ms to GET every object ` +
              `${concurrency} at a time without searching (${(ceilingMs / median(directSamples.theirs)).toFixed(2)}x ` +
              `the sequential baseline). The next rows show ours against that ceiling and with a real store's latency.`,
          },
          directSamples,
        ),
        compare(
          {
            group: GROUP,
            measure: `${measure}, against the server's ceiling`,
            peer: `${concurrency} parallel GETs, no search`,
            maxRatio: null,
          },
          ceiling,
        ),
      );
    } finally {
      await backend.delete("/").catch(() => {});
      client.destroy();
      await backend.close();
    }
    rows.push(...(await listingRows(ctx)));
    return rows;
  },
};
