/**
 * A loopback HTTP server that answers S3 ListObjectsV2 (prefix, delimiter, max-keys,
 * continuation-token) over a synthetic bucket of `count` keys, generated on the fly in key order:
 * `PREFIX/dNN/fNNNNNN.txt`, 100 directories, every 100th file a `.md`. It stands in for a bucket of
 * 100,000 objects, which moto (one PUT at a time) would take many minutes to fill; only the
 * listing is served, so only listing operations (glob, ls) can run against it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const SYNTHETIC_BUCKET = "synthetic";
export const SYNTHETIC_PREFIX = "keys";
const DIRS = 100;

export interface SyntheticListing {
  url: string;
  close(): Promise<void>;
}

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

/** First index whose key is >= `target` (keys are generated in ascending order). */
function lowerBound(keyAt: (i: number) => string, count: number, target: string): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const xmlText = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function listPage(count: number, params: URLSearchParams): string {
  const keyAt = keyMaker(count);
  const prefix = params.get("prefix") ?? "";
  const delimiter = params.get("delimiter") ?? "";
  const maxKeys = Math.min(1000, Number(params.get("max-keys") ?? 1000) || 1000);
  const token = params.get("continuation-token");
  let i = token ? Number(token) : lowerBound(keyAt, count, prefix);
  const parts: string[] = [];
  let items = 0;
  while (i < count && items < maxKeys) {
    const key = keyAt(i);
    if (!key.startsWith(prefix)) {
      i = count;
      break;
    }
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut !== -1) {
      const common = key.slice(0, cut + delimiter.length);
      parts.push(`<CommonPrefixes><Prefix>${xmlText(common)}</Prefix></CommonPrefixes>`);
      // Everything sharing this common prefix is rolled up into it.
      i = lowerBound(keyAt, count, `${common}\uffff`);
    } else {
      parts.push(
        `<Contents><Key>${xmlText(key)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
          `<ETag>"0"</ETag><Size>2048</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      );
      i++;
    }
    items++;
  }
  const truncated = i < count && keyAt(i).startsWith(prefix);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
    `<Name>${SYNTHETIC_BUCKET}</Name><Prefix>${xmlText(prefix)}</Prefix><KeyCount>${items}</KeyCount>` +
    `<MaxKeys>${maxKeys}</MaxKeys>${delimiter ? `<Delimiter>${xmlText(delimiter)}</Delimiter>` : ""}` +
    `<IsTruncated>${truncated}</IsTruncated>` +
    `${token ? `<ContinuationToken>${token}</ContinuationToken>` : ""}` +
    `${truncated ? `<NextContinuationToken>${i}</NextContinuationToken>` : ""}${parts.join("")}</ListBucketResult>`
  );
}

/** Starts the server on a free loopback port. */
export async function startSyntheticListing(count: number): Promise<SyntheticListing> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (
      req.method === "GET" &&
      (url.pathname === `/${SYNTHETIC_BUCKET}` || url.pathname === `/${SYNTHETIC_BUCKET}/`) &&
      url.searchParams.get("list-type") === "2"
    ) {
      const body = listPage(count, url.searchParams);
      res.writeHead(200, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404, { "content-type": "application/xml" });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>only listings</Message></Error>`,
    );
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
