/**
 * Child process of the S3 listing memory measure: ONE listing operation against the synthetic
 * listing server, printing a JSON line `{ matches, maxRssMb, ms }` (matches: entries returned).
 *
 * usage: node s3-listing-probe.js <glob|ls|collect|idle> <endpoint>
 *   glob     S3Backend.glob("**\/*.md") over the whole bucket (1% of the keys match)
 *   ls       S3Backend.ls("/") (the 100 directories)
 *   collect  the hand-written way: every key listed into an array, then filtered to *.md
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createS3Client, S3Backend } from "@deepfs/s3";
import { peakRssMb } from "./peak-rss.js";
import { SYNTHETIC_BUCKET, SYNTHETIC_PREFIX } from "./synthetic-listing.js";

async function run(kind: string, endpointUrl: string): Promise<number> {
  const config = {
    bucket: SYNTHETIC_BUCKET,
    endpointUrl,
    prefix: SYNTHETIC_PREFIX,
    accessKeyId: "synthetic",
    secretAccessKey: "synthetic",
  };
  switch (kind) {
    case "glob":
    case "ls": {
      const backend = new S3Backend(config);
      try {
        const found = kind === "glob" ? await backend.glob("**/*.md", "/") : await backend.ls("/");
        if (found.error) throw new Error(found.error);
        return found.files?.length ?? -1;
      } finally {
        await backend.close();
      }
    }
    case "collect": {
      const client = createS3Client(config);
      try {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(
            new ListObjectsV2Command({
              Bucket: SYNTHETIC_BUCKET,
              Prefix: `${SYNTHETIC_PREFIX}/`,
              ...(token ? { ContinuationToken: token } : {}),
            }),
          );
          for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys.filter((key) => key.endsWith(".md")).length;
      } finally {
        client.destroy();
      }
    }
    case "idle":
      return 0;
    default:
      throw new Error(`unknown probe ${kind}`);
  }
}

const [kind = "", endpoint = ""] = process.argv.slice(2);
const start = performance.now();
const matches = await run(kind, endpoint);
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ matches, maxRssMb: peakRssMb(), ms })}\n`);
