/**
 * A loopback HTTP server that answers S3 ListObjectsV2 (prefix, delimiter, max-keys,
 * continuation-token) over a synthetic bucket of `count` keys, generated on the fly in key order:
 * `PREFIX/dNN/fNNNNNN.txt`, 100 directories, every 100th file a `.md`. It stands in for a bucket of
 * 100,000 objects, which moto (one PUT at a time) would take many minutes to fill; only the
 * listing is served, so only listing operations (glob, ls) can run against it.
 */
import { answerListing, type S3Stub, type SortedKeys, startS3Stub } from "./s3-http.js";

export const SYNTHETIC_BUCKET = "synthetic";
export const SYNTHETIC_PREFIX = "keys";
const DIRS = 100;

export type SyntheticListing = S3Stub;

/** Files of the synthetic bucket whose name ends in `.md`. */
export function syntheticMarkdownCount(count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (i % 100 === 0) n++;
  return n;
}

function keyMaker(count: number): (i: number) => string {
  const perDir = Math.ceil(count / DIRS);
  return (i) => {
    const dir = String(Math.floor(i / perDir)).padStart(2, "0");
    return `${SYNTHETIC_PREFIX}/d${dir}/f${String(i).padStart(6, "0")}.${i % 100 === 0 ? "md" : "txt"}`;
  };
}

/** Starts the server on a free loopback port. */
export async function startSyntheticListing(count: number): Promise<SyntheticListing> {
  const keys: SortedKeys = { count, keyAt: keyMaker(count), sizeAt: () => 2048 };
  return startS3Stub("only listings", (req, url, res) => answerListing(SYNTHETIC_BUCKET, keys, req, url, res));
}
