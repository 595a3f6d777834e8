/**
 * The HTTP side shared by the bench's stand-in S3 servers (see `synthetic-listing.ts` and
 * `memory-s3.ts`): a loopback server and the ListObjectsV2 page the real SDK parses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface S3Stub {
  /** `http://127.0.0.1:PORT`: use it as the S3 endpoint (path-style). */
  url: string;
  close(): Promise<void>;
}

/** Keys of a bucket in ascending (UTF-8 binary) order, read by index. */
export interface SortedKeys {
  count: number;
  keyAt(i: number): string;
  sizeAt(i: number): number;
}

/** First index whose key is >= `target`. */
export function lowerBound(keys: SortedKeys, target: string): number {
  let lo = 0;
  let hi = keys.count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys.keyAt(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** One ListObjectsV2 page (prefix, delimiter, max-keys, continuation-token) over `keys`. */
export function listObjectsV2Page(bucket: string, keys: SortedKeys, params: URLSearchParams): string {
  const { count } = keys;
  const prefix = params.get("prefix") ?? "";
  const delimiter = params.get("delimiter") ?? "";
  const maxKeys = Math.min(1000, Number(params.get("max-keys") ?? 1000) || 1000);
  const token = params.get("continuation-token");
  let i = token ? Number(token) : lowerBound(keys, prefix);
  const parts: string[] = [];
  let items = 0;
  while (i < count && items < maxKeys) {
    const key = keys.keyAt(i);
    if (!key.startsWith(prefix)) {
      i = count;
      break;
    }
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut !== -1) {
      const common = key.slice(0, cut + delimiter.length);
      parts.push(`<CommonPrefixes><Prefix>${xmlText(common)}</Prefix></CommonPrefixes>`);
      // Everything sharing this common prefix is rolled up into it.
      i = lowerBound(keys, `${common}\uffff`);
    } else {
      parts.push(
        `<Contents><Key>${xmlText(key)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
          `<ETag>"0"</ETag><Size>${keys.sizeAt(i)}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      );
      i++;
    }
    items++;
  }
  const truncated = i < count && keys.keyAt(i).startsWith(prefix);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${xmlText(bucket)}</Name><Prefix>${xmlText(prefix)}</Prefix><KeyCount>${items}</KeyCount>` +
    `<MaxKeys>${maxKeys}</MaxKeys>${delimiter ? `<Delimiter>${xmlText(delimiter)}</Delimiter>` : ""}` +
    `<IsTruncated>${truncated}</IsTruncated>` +
    `${token ? `<ContinuationToken>${xmlText(token)}</ContinuationToken>` : ""}` +
    `${truncated ? `<NextContinuationToken>${i}</NextContinuationToken>` : ""}${parts.join("")}</ListBucketResult>`
  );
}

/** Answers a ListObjectsV2 request of `bucket`; false when `url` is not one. */
export function answerListing(
  bucket: string,
  keys: SortedKeys,
  req: IncomingMessage,
  url: URL,
  res: ServerResponse,
): boolean {
  if (
    req.method !== "GET" ||
    (url.pathname !== `/${bucket}` && url.pathname !== `/${bucket}/`) ||
    url.searchParams.get("list-type") !== "2"
  ) {
    return false;
  }
  const body = listObjectsV2Page(bucket, keys, url.searchParams);
  res.writeHead(200, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
  res.end(body);
  return true;
}

/**
 * Starts a loopback server; `handle` answers what it knows (returning true), everything else is a
 * NoSuchKey error naming `what` the stub serves.
 */
export async function startS3Stub(
  what: string,
  handle: (req: IncomingMessage, url: URL, res: ServerResponse) => boolean,
): Promise<S3Stub> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (handle(req, url, res)) return;
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>${what}</Message></Error>`;
    res.writeHead(404, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
