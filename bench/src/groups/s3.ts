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
import { compare, expectCount, type Row, timePair, unavailable } from "../measure.js";
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

export const s3Group: BenchGroup = {
  name: "s3",
  async run(ctx: BenchContext): Promise<Row[]> {
    const spec = standardSpec(ctx.seed, ctx.sizes.s3);
    const n = spec.files.toLocaleString("en-US");
    const prefix = `bench-${randomBytes(4).toString("hex")}`;
    const config = s3Config(ctx.env, prefix);
    if ("unavailable" in config)
      return [unavailable(GROUP, `grep needle, ${n} objects`, PEER, "<= 0.2x", config.unavailable)];
    const corpus = generateCorpus(spec);
    const expected = expectedMatches(spec);
    const backend = new S3Backend(config);
    // The baseline gets a client built by the same factory (same endpoint, pool and checksum settings).
    const client = createS3Client(config);
    try {
      ctx.log(`s3: uploading ${n} objects`);
      const results = await backend.uploadFiles(corpus.map((f) => [f.path, Buffer.from(f.content)]));
      const failed = results.find((r) => r.error);
      if (failed) throw new Error(`upload ${failed.path}: ${failed.message ?? failed.error}`);
      ctx.log(`s3: grep over ${n}`);
      return [
        compare(
          { group: GROUP, measure: `grep needle, ${n} objects`, peer: PEER, maxRatio: 0.2 },
          await timePair(
            ctx.timing,
            {
              run: async () =>
                expectCount("ours grep", (await backend.grep(NEEDLE, "/")).matches?.length ?? 0, expected.needle),
            },
            {
              run: async () =>
                expectCount(
                  "sequential grep",
                  await sequentialGrep(client, config.bucket, `${prefix}/`, NEEDLE),
                  expected.needle,
                ),
            },
          ),
        ),
      ];
    } finally {
      await backend.delete("/").catch(() => {});
      client.destroy();
      await backend.close();
    }
  },
};
