import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { type GrepMatch, type GrepQuery, GrepTally, grepGlobSearchRoot, isBinaryPath } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";
import { AdaptiveConcurrency } from "./adaptive-concurrency.js";
import { isNotFound, isRangeNotSatisfiable } from "./errors.js";
import type { KeyMapper } from "./keys.js";
import { type LineMatch, LineSearcher } from "./line-search.js";
import { listObjects } from "./listing.js";
import { type Candidate, OrderedSearch } from "./ordered-search.js";
import { firstKeyAt } from "./probe.js";

/** What grep needs from the backend. */
export interface GrepContext {
  client: S3Client;
  bucket: string;
  keys: KeyMapper;
  pageSize: number | undefined;
  /** Most objects fetched at once (`grepConcurrency`); fewer while the server queues them. */
  concurrency: number;
  /**
   * The in-flight limit the last grep ended with, shared between the greps of one backend: the
   * next one starts from it instead of relearning it (undefined: start at 4, or the cap if smaller).
   */
  learned?: { limit: number | undefined };
  /** Larger objects are skipped. */
  maxFileBytes: number;
}

/**
 * Candidates listed ahead of the searches. A ListObjectsV2 page holds up to 1,000 keys, so the next
 * page is asked for while the previous one still feeds the pool: the searches never wait for the
 * listing, and the listing never runs more than about a page ahead of them.
 */
const LOOKAHEAD = 1000;

/**
 * grep over objects: the listing of the candidate keys (narrowed by the search path and the glob's
 * literal prefix; binary types and oversized objects left out) feeds a bounded pool of GETs while
 * it goes on, page after page, and each object is streamed through a line searcher (see
 * {@link LineSearcher} and {@link OrderedSearch}). How many GETs are in flight follows the latency
 * observed, up to `concurrency` (see {@link AdaptiveConcurrency}).
 *
 * ListObjectsV2 returns keys in UTF-8 binary order, which below one prefix is the order of
 * `comparePaths`, so candidates arrive in path order and `maxCount` can stop the work early (the
 * GETs in flight and the listing itself). The search path itself, when it names a file, sorts
 * before everything below it and is looked up alongside the first page.
 *
 * The answer is counted against the query's bounds (`query.limits`, see `GrepTally`) as objects
 * are searched: once the matches found pass them, the GETs in flight and the listing are aborted
 * the same way and the answer is `too_large`, so the process never holds an answer past them.
 */
export async function grepObjects(
  ctx: GrepContext,
  query: GrepQuery,
  signal?: AbortSignal,
): Promise<{ matches: GrepMatch[] } | Fault> {
  // A pattern spanning lines, or one no valid UTF-8 text can contain, matches nothing: skip the downloads.
  if (query.matchesNothing) return { matches: [] };
  const limit = new AdaptiveConcurrency({
    max: ctx.concurrency,
    ...(ctx.learned?.limit !== undefined ? { initial: ctx.learned.limit } : {}),
  });
  const { maxTextLength } = query.limits;
  const pool = new OrderedSearch({
    concurrency: ctx.concurrency,
    limit,
    wanted: query.maxCount + 1,
    tally: new GrepTally(query),
    search: (candidate, room, stop) => searchObject(ctx, candidate.key, query.pattern, room, maxTextLength, stop),
    signal,
  });
  produceCandidates(ctx, query, pool).then(
    () => pool.end(),
    (error: unknown) => pool.fail(error),
  );
  const answer = await pool.done;
  if (ctx.learned) ctx.learned.limit = limit.limit;
  return answer;
}

/** Lists the candidates into the pool, in path order, a page or so ahead of the searches. */
async function produceCandidates(ctx: GrepContext, query: GrepQuery, pool: OrderedSearch): Promise<void> {
  const root = grepGlobSearchRoot(query.glob, query.dir);
  const candidateOf = (key: string, size: number): Candidate | undefined => {
    // Keys ending in "/" are directory markers of other tools, never files; an empty object has
    // no line to match (and a range of it could not be satisfied).
    if (key.endsWith("/") || size === 0 || size > ctx.maxFileBytes) return undefined;
    const path = ctx.keys.toPath(key);
    if (path === null || isBinaryPath(path) || !query.accepts(path)) return undefined;
    return { path, key };
  };
  const objects = listObjects(ctx.client, {
    bucket: ctx.bucket,
    prefix: ctx.keys.dirKey(root),
    pageSize: ctx.pageSize,
    signal: pool.signal,
  });
  // Each page is asked for before it is awaited (the first one alongside the lookup of the search
  // path as a file), so a failure may come while nothing awaits it yet: marked handled at once, it
  // is still thrown where it is awaited, never reported as an unhandled rejection.
  const ask = () => {
    const page = objects.next();
    page.catch(() => {});
    return page;
  };
  let next = ask();
  try {
    if (root === query.dir && root !== "/") {
      const file = await firstKeyAt(ctx.client, ctx.bucket, ctx.keys.fileKey(root), pool.signal);
      const candidate = file && candidateOf(file.key, file.size);
      if (candidate) pool.add(candidate);
    }
    for (;;) {
      const item = await next;
      if (item.done || pool.isStopped) break;
      const candidate = candidateOf(item.value.key, item.value.size);
      if (candidate) {
        pool.add(candidate);
        await pool.room(LOOKAHEAD);
        if (pool.isStopped) break;
      }
      next = ask();
    }
  } finally {
    // A page request left pending (the pool stopped, or the lookup failed) is aborted with the pool.
    objects.return(undefined).catch(() => {});
  }
}

/**
 * Streams one object through a {@link LineSearcher}: its matches, `[]` for binary, vanished or
 * oversized objects. The size was checked on the listing, but the object may have been replaced
 * since: the GET asks for at most `maxFileBytes` bytes (`Range`), an object the response says is
 * larger is skipped, and the searcher takes no more than that many bytes (a server that ignores
 * the range cannot make it hold more, nor grow a line without end). It keeps at most `limit`
 * matches, and none past the first that bring their text over `maxText` characters (more than
 * the whole answer may hold: enough to show the bound passed).
 */
async function searchObject(
  ctx: GrepContext,
  key: string,
  pattern: string,
  limit: number,
  maxText: number,
  signal: AbortSignal,
): Promise<LineMatch[]> {
  let response: GetObjectCommandOutput;
  try {
    response = await ctx.client.send(
      new GetObjectCommand({ Bucket: ctx.bucket, Key: key, Range: `bytes=0-${ctx.maxFileBytes - 1}` }),
      { abortSignal: signal },
    );
  } catch (error) {
    // Deleted between the listing and the fetch, or emptied (a range of nothing cannot be
    // satisfied): no longer a file with lines to search.
    if (isNotFound(error) || isRangeNotSatisfiable(error)) return [];
    throw error;
  }
  const body = response.Body as
    | (AsyncIterable<Uint8Array> & { destroy?: () => void; readableEnded?: boolean })
    | undefined;
  if (!body) return [];
  if (objectSize(response) > ctx.maxFileBytes) {
    body.destroy?.();
    return [];
  }
  const searcher = new LineSearcher(pattern, limit, ctx.maxFileBytes, maxText);
  // Aborting after the headers arrived must also stop the body, or its socket stays busy.
  const destroy = () => body.destroy?.();
  signal.addEventListener("abort", destroy, { once: true });
  try {
    for await (const chunk of body) {
      if (!searcher.push(chunk)) return [];
    }
    return searcher.finish() ?? [];
  } finally {
    signal.removeEventListener("abort", destroy);
    // Leaving early (binary, oversized, abort, error): release the connection instead of leaking it.
    if (body.readableEnded === false) destroy();
  }
}

/** The length of the whole object a (possibly ranged) GET answered: `Content-Range`'s total, else its length. */
function objectSize(response: GetObjectCommandOutput): number {
  const total = /\/(\d+)$/.exec(response.ContentRange ?? "")?.[1];
  return total !== undefined ? Number(total) : (response.ContentLength ?? 0);
}
