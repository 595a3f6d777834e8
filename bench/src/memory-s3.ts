/**
 * A loopback S3 stand-in that holds a bucket in memory and answers ListObjectsV2 and GetObject for
 * the real SDK at once and in parallel: a server that is never the bottleneck, unlike moto (one
 * request at a time). Behind the latency proxy it shows what a client can reach against a store
 * that serves requests in parallel, as S3 does.
 */
import { answerListing, type S3Stub, type SortedKeys, startS3Stub } from "./s3-http.js";

export type MemoryS3 = S3Stub;

/** Starts the server over `objects` (key → body) of `bucket`; the map is read, never written. */
export async function startMemoryS3(bucket: string, objects: ReadonlyMap<string, Uint8Array>): Promise<MemoryS3> {
  // ListObjectsV2 order: UTF-8 binary order of the keys.
  const sorted = [...objects.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const keys: SortedKeys = {
    count: sorted.length,
    keyAt: (i) => sorted[i] as string,
    sizeAt: (i) => objects.get(sorted[i] as string)?.byteLength ?? 0,
  };
  const objectPrefix = `/${bucket}/`;
  return startS3Stub("no such object", (req, url, res) => {
    if (answerListing(bucket, keys, req, url, res)) return true;
    if ((req.method !== "GET" && req.method !== "HEAD") || !url.pathname.startsWith(objectPrefix)) return false;
    const body = objects.get(decodeURIComponent(url.pathname.slice(objectPrefix.length)));
    if (!body) return false;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": body.byteLength,
      etag: '"0"',
      "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT",
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  });
}
