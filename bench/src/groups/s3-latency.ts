/**
 * S3Backend grep through the 20 ms latency proxy at several sizes, against "list, then sequential
 * GETs" through the same proxy, with the limit printed next to the peer: against moto (a real S3
 * server, which answers one request at a time) and against an in-memory server that answers in
 * parallel (see `memory-s3.ts`), where only the latency limits the client.
 */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { splitLines } from "@deepfs/core";
import { createS3Client, S3Backend, type S3Config } from "@deepfs/s3";
import type { BenchContext, BenchGroup } from "../context.js";
import { expectedMatches, generateCorpus, NEEDLE, standardSpec } from "../corpus.js";
import { type InFlightStats, startLatencyProxy } from "../latency-proxy.js";
import { compare, expectCount, median, type Row, time, unavailable } from "../measure.js";
import { startRemoteMemoryS3 } from "../memory-s3-worker.js";
import { s3Config } from "../services.js";

export const GROUP = "S3Backend";
export const PEER = "list, then sequential GETs";
/** The S3 request latency the proxy adds. */
export const LATENCY_MS = 20;
/** S3Config's default `grepConcurrency`, set explicitly so the limit below uses the same. */
export const GREP_CONCURRENCY = 16;
/** The goal of issue 24 through the proxy. */
const MAX_RATIO = 0.1;

/** The baseline: every key of the prefix, then each object fetched and searched in turn. */
export async function sequentialGrep(
  client: S3Client,
  bucket: string,
  prefix: string,
  pattern: string,
): Promise<number> {
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

/** Every key fetched `concurrency` at a time, bodies read, nothing searched. */
export async function parallelFetch(
  client: S3Client,
  bucket: string,
  keys: string[],
  concurrency: number,
): Promise<void> {
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

const fmt = (n: number) => n.toLocaleString("en-US");

/** Times ours, and reads from the proxy how many requests it kept in flight while doing so. */
async function timeOurs(
  runs: number,
  proxy: { inFlight(): InFlightStats | Promise<InFlightStats>; resetInFlight(): void | Promise<void> },
  grep: () => Promise<unknown>,
) {
  await grep();
  await proxy.resetInFlight();
  const samples = await time({ runs, warmup: 0 }, grep);
  const { mean, peak } = await proxy.inFlight();
  return { samples, inFlight: `${mean.toFixed(1)} requests in flight on average (peak ${peak})` };
}

/**
 * Rows at `objects` objects through the proxy: ours against the sequential peer (the goal row),
 * and against the server's ceiling through the same proxy (16 parallel GETs that search nothing).
 * The limit of any client with 16 requests in flight, objects / 16 x round trip, is printed in the
 * note of the goal row next to the peer's time.
 */
export async function latencyRows(ctx: BenchContext, config: S3Config, objects: number): Promise<Row[]> {
  const prefix = `bench-lat-${randomBytes(4).toString("hex")}`;
  const spec = standardSpec(ctx.seed, objects);
  const expected = expectedMatches(spec).needle;
  const direct = new S3Backend({ ...config, prefix });
  const proxy = await startLatencyProxy(config.endpointUrl as string, LATENCY_MS);
  const slowConfig = { ...config, prefix, endpointUrl: proxy.url, grepConcurrency: GREP_CONCURRENCY };
  const slowBackend = new S3Backend(slowConfig);
  const slowClient = createS3Client(slowConfig);
  const measure = `grep needle, ${fmt(objects)} objects, ${LATENCY_MS} ms per request`;
  try {
    ctx.log(`s3: uploading ${fmt(objects)} objects`);
    const corpus = generateCorpus(spec);
    const uploaded = await direct.uploadFiles(corpus.map((f) => [f.path, Buffer.from(f.content)]));
    const failed = uploaded.find((r) => r.error);
    if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
    const keys = corpus.map((f) => `${prefix}${f.path}`);
    corpus.length = 0;

    // The sequential peer pays the latency once per object (about 5 minutes at 10,000): fewer runs.
    const oursRuns = Math.min(ctx.timing.runs, 3);
    const peerRuns = objects >= 5_000 ? 1 : oursRuns;
    ctx.log(`s3: grep over ${fmt(objects)} through the proxy (${oursRuns} runs, peer ${peerRuns})`);
    const { samples: ours, inFlight } = await timeOurs(oursRuns, proxy, async () =>
      expectCount("ours grep", (await slowBackend.grep(NEEDLE, "/")).matches?.length ?? 0, expected),
    );
    const ceiling = await time({ runs: oursRuns, warmup: 0 }, () =>
      parallelFetch(slowClient, config.bucket, keys, GREP_CONCURRENCY),
    );
    const theirs = await time({ runs: peerRuns, warmup: 0 }, async () =>
      expectCount("sequential grep", await sequentialGrep(slowClient, config.bucket, `${prefix}/`, NEEDLE), expected),
    );
    const peerMs = median(theirs);
    const limitMs = (objects / GREP_CONCURRENCY) * LATENCY_MS;
    const ceilingMs = median(ceiling);
    return [
      compare(
        {
          group: GROUP,
          measure,
          peer: PEER,
          maxRatio: MAX_RATIO,
          note:
            `Limit with ${GREP_CONCURRENCY} requests in flight: ${fmt(objects)} / ${GREP_CONCURRENCY} x ${LATENCY_MS} ms ` +
            `= ${fmt(Math.round(limitMs))} ms, ${(limitMs / peerMs).toFixed(3)}x the peer. This server's own limit ` +
            `(moto answers one request at a time): ${fmt(Math.round(ceilingMs))} ms to GET every object ` +
            `${GREP_CONCURRENCY} at a time through the proxy without searching, ${(ceilingMs / peerMs).toFixed(3)}x ` +
            `the peer. Ours kept ${inFlight} (grepConcurrency ${GREP_CONCURRENCY}). ${oursRuns} runs of ours after ` +
            `one warm-up, ${peerRuns} of the peer.`,
        },
        { ours, theirs },
      ),
      compare(
        {
          group: GROUP,
          measure: `${measure}, against the server's ceiling`,
          peer: `${GREP_CONCURRENCY} parallel GETs through the proxy, no search`,
          maxRatio: null,
        },
        { ours, theirs: ceiling },
      ),
    ];
  } finally {
    await direct.delete("/").catch(() => {});
    slowClient.destroy();
    await slowBackend.close();
    await direct.close();
    await proxy.close();
  }
}

/**
 * The same measure against the in-memory server (see `memory-s3.ts`, run on a worker thread by
 * `memory-s3-worker.ts`), which answers every request at once: the goal row (ours against the
 * sequential peer) where the server is not the bottleneck, and ours against 16 parallel GETs that
 * search nothing. Nothing runs against moto here.
 */
export async function memoryLatencyRows(ctx: BenchContext, objects: number): Promise<Row[]> {
  const bucket = "memory";
  const prefix = "bench-mem";
  const spec = standardSpec(ctx.seed, objects);
  const expected = expectedMatches(spec).needle;
  const keys = generateCorpus(spec).map((f) => `${prefix}${f.path}`);
  // The server and its proxy run on a worker thread: serving the requests takes no CPU from ours.
  const proxy = await startRemoteMemoryS3({ bucket, prefix, seed: ctx.seed, objects, latencyMs: LATENCY_MS });
  const config: S3Config = {
    bucket,
    prefix,
    endpointUrl: proxy.url,
    region: "us-east-1",
    accessKeyId: "bench",
    secretAccessKey: "bench",
    grepConcurrency: GREP_CONCURRENCY,
  };
  const backend = new S3Backend(config);
  const client = createS3Client(config);
  const measure = `grep needle, ${fmt(objects)} objects, ${LATENCY_MS} ms per request, in-memory server`;
  try {
    const oursRuns = Math.min(ctx.timing.runs, 3);
    const peerRuns = objects >= 5_000 ? 1 : oursRuns;
    ctx.log(`s3: grep over ${fmt(objects)} in memory through the proxy (${oursRuns} runs, peer ${peerRuns})`);
    const { samples: ours, inFlight } = await timeOurs(oursRuns, proxy, async () =>
      expectCount("ours grep", (await backend.grep(NEEDLE, "/")).matches?.length ?? 0, expected),
    );
    const ceiling = await time({ runs: oursRuns, warmup: 0 }, () =>
      parallelFetch(client, bucket, keys, GREP_CONCURRENCY),
    );
    const theirs = await time({ runs: peerRuns, warmup: 0 }, async () =>
      expectCount("sequential grep", await sequentialGrep(client, bucket, `${prefix}/`, NEEDLE), expected),
    );
    const peerMs = median(theirs);
    const limitMs = (objects / GREP_CONCURRENCY) * LATENCY_MS;
    return [
      compare(
        {
          group: GROUP,
          measure,
          peer: PEER,
          maxRatio: MAX_RATIO,
          note:
            `A server holding the objects in memory that answers every request at once (unlike moto), behind the ` +
            `same proxy, both on a worker thread. Limit with ${GREP_CONCURRENCY} requests in flight: ${fmt(objects)} / ${GREP_CONCURRENCY} x ` +
            `${LATENCY_MS} ms = ${fmt(Math.round(limitMs))} ms, ${(limitMs / peerMs).toFixed(3)}x the peer; ours is ` +
            `${(median(ours) / limitMs).toFixed(2)}x that limit. Ours kept ${inFlight} (grepConcurrency ` +
            `${GREP_CONCURRENCY}). ${oursRuns} runs of ours after one warm-up, ${peerRuns} of the peer.`,
        },
        { ours, theirs },
      ),
      compare(
        {
          group: GROUP,
          measure: `${measure}, against ${GREP_CONCURRENCY} parallel GETs`,
          peer: `${GREP_CONCURRENCY} parallel GETs through the proxy, no search`,
          maxRatio: null,
        },
        { ours, theirs: ceiling },
      ),
    ];
  } finally {
    client.destroy();
    await backend.close();
    await proxy.close();
  }
}

/**
 * The latency rows on their own (`--only s3-latency`): at each size, against moto, then against
 * the in-memory server.
 */
export const s3LatencyGroup: BenchGroup = {
  name: "s3-latency",
  async run(ctx: BenchContext): Promise<Row[]> {
    const rows: Row[] = [];
    const config = s3Config(ctx.env, `bench-lat-${randomBytes(4).toString("hex")}`);
    for (const objects of ctx.sizes.s3Latency) {
      if ("unavailable" in config) {
        rows.push(
          unavailable(GROUP, `grep needle, ${fmt(objects)} objects`, PEER, `<= ${MAX_RATIO}x`, config.unavailable),
        );
      } else {
        rows.push(...(await latencyRows(ctx, config, objects)));
      }
      rows.push(...(await memoryLatencyRows(ctx, objects)));
    }
    return rows;
  },
};
