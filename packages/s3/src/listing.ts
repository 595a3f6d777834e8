import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { RepeatedContinuationTokenError } from "./errors.js";

/** One object of a listing page. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date | undefined;
}

/** One page of ListObjectsV2: objects and, with a delimiter, the common prefixes ("directories"). */
export interface ListPage {
  objects: ListedObject[];
  prefixes: string[];
}

export interface ListRequest {
  bucket: string;
  prefix: string;
  /** `"/"` for one directory level; omitted for everything below `prefix`. */
  delimiter?: string;
  /** MaxKeys per page; the server's default (1000) when omitted. */
  pageSize?: number | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Every page of a ListObjectsV2 listing. Stops with {@link RepeatedContinuationTokenError} when the
 * server hands out a token twice, which would otherwise loop forever.
 */
export async function* listPages(client: S3Client, request: ListRequest): AsyncGenerator<ListPage> {
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: request.bucket,
        Prefix: request.prefix,
        Delimiter: request.delimiter,
        MaxKeys: request.pageSize,
        ContinuationToken: token,
      }),
      { abortSignal: request.signal },
    );
    yield {
      objects: (page.Contents ?? []).flatMap((o) =>
        o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified }],
      ),
      prefixes: (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix === undefined ? [] : [p.Prefix])),
    };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new RepeatedContinuationTokenError(request.prefix);
      seen.add(token);
    }
  } while (token !== undefined);
}

/** Every object below `prefix` (no delimiter), page after page. */
export async function* listObjects(
  client: S3Client,
  request: Omit<ListRequest, "delimiter">,
): AsyncGenerator<ListedObject> {
  for await (const page of listPages(client, request)) yield* page.objects;
}
