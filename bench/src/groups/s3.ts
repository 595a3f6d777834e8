/**
 * S3Backend grep against "list, then GET each object one after another" (the approach of the
 * Python deepagents-backends package and of most hand-written S3 backends), on the same objects.
 */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { splitLines } from "@deepfs/core";
import { createS3Client, S3Backend } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { expectedMatches, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { startLatencyProxy } from "../latency-proxy.js";
import { compare, expectCount, median, type Row, timePair, unavailable } from "../measure.js";
import { s3Config } from "../services.js";

const GROUP = "S3Backend";
const PEER = "list, then sequential GETs";

/** The baseline: every key of the prefix, then each object fetched and searched in turn. */
async function sequentialGrep(client: S3Client, bucket: string, prefix: string, pattern: string): Promise<number> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  let matches = 0;
  for (const key of keys) {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await object.Body?.transformToString("utf-8")) ?? "";
    for (const line of splitLines(text)) if (line.includes(pattern)) matches++;
  }
  return matches;
}

/** The S3 request latency the second measure adds (see the note). */
const LATENCY_MS = 20;
/** S3Config's default `grepConcurrency`, set explicitly so the ceiling below uses the same. */
const GREP_CONCURRENCY = 16;

/** Every key of the prefix fetched `concurrency` at a time, bodies read, nothing searched. */
async function parallelFetch(client: S3Client, bucket: string, keys: string[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await object.Body?.transformToString("utf-8");
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export const s3Group: BenchGroup = {
  name: "s3",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.s3);
    const n = spec.files.toLocaleString("en-US");
    const prefix = `bench-${randomBytes(4).toString("hex")}`;
    const config = s3Config(ctx.env, prefix);
    const measure = `grep needle, ${n} objects`;
    if ("unavailable" in config) return [unavailable(GROUP, measure, PEER, "<= 0.2x", config.unavailable)];
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const backend = new S3Backend({ ...config, grepConcurrency: GREP_CONCURRENCY });
    const concurrency = GREP_CONCURRENCY;
    // The baseline gets a client built by the same factory (same endpoint, pool and checksum settings).
    const client = createS3Client(config);
    const proxy = await startLatencyProxy(config.endpointUrl as string, LATENCY_MS);
    const slowConfig = { ...config, endpointUrl: proxy.url, grepConcurrency: GREP_CONCURRENCY };
    const slowBackend = new S3Backend(slowConfig);
    const slowClient = createS3Client(slowConfig);
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
      // The sequential side pays the latency once per object (about a minute for 2,000): fewer runs
      // and no warm-up, the direct measure above has warmed both sides.
      ctx.log(`s3: grep over ${n} with ${LATENCY_MS} ms per request`);
      const slow = grepSides(slowBackend, slowClient);
      const slowSamples = await timePair({ runs: Math.min(ctx.timing.runs, 3), warmup: 0 }, slow.ours, slow.theirs);
      const ceilingMs = median(ceiling.theirs);
      return [
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
        compare(
          {
            group: GROUP,
            measure: `${measure}, ${LATENCY_MS} ms per request`,
            peer: PEER,
            maxRatio: 0.2,
            note:
              `The same moto_server behind a loopback proxy that holds each request ${LATENCY_MS} ms before ` +
              `forwarding it: the latency of a real S3 store (AWS: small requests to S3 in the same region have ` +
              `median latencies "in the tens of milliseconds"). ${Math.min(ctx.timing.runs, 3)} runs, no warm-up.`,
          },
          slowSamples,
        ),
      ];
    } finally {
      await backend.delete("/").catch(() => {});
      client.destroy();
      slowClient.destroy();
      await backend.close();
      await slowBackend.close();
      await proxy.close();
    }
  },
};
