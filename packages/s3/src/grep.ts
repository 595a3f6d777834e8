import { setMaxListeners } from "node:events";
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { comparePaths, type GrepMatch, type GrepQuery, grepGlobSearchRoot, isBinaryPath } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";
import { isNotFound, s3Fault } from "./errors.js";
import type { KeyMapper } from "./keys.js";
import { type LineMatch, LineSearcher } from "./line-search.js";
import { listObjects } from "./listing.js";
import { firstKeyAt } from "./probe.js";

/** What grep needs from the backend. */
export interface GrepContext {
  client: S3Client;
  bucket: string;
  keys: KeyMapper;
  pageSize: number | undefined;
  /** Objects fetched at once. */
  concurrency: number;
  /** Larger objects are skipped. */
  maxFileBytes: number;
}

interface Candidate {
  path: string;
  key: string;
}

/**
 * grep over objects: list the candidate keys (narrowed by the search path and the glob's literal
 * prefix; binary types and oversized objects left out), then stream the objects with bounded
 * concurrency and search them line by line (see {@link LineSearcher}).
 *
 * Results must come out in path order and `maxCount` must stop the work early, so candidates are
 * fetched in path order within a sliding window and finalised strictly in order: once the
 * finalised prefix holds `maxCount + 1` matches, nothing later can change the answer, and every
 * in-flight request is aborted. The answer holds at most a few matches past `maxCount` (the facade
 * caps it and reports the truncation).
 */
export async function grepObjects(
  ctx: GrepContext,
  query: GrepQuery,
  signal?: AbortSignal,
): Promise<{ matches: GrepMatch[] } | Fault> {
  // A pattern spanning lines, or one no valid UTF-8 text can contain, matches nothing: skip the downloads.
  if (query.matchesNothing || !isWellFormed(query.pattern)) return { matches: [] };
  let candidates: Candidate[];
  try {
    candidates = await listCandidates(ctx, query, signal);
  } catch (error) {
    return s3Fault(error);
  }
  return searchInOrder(ctx, query, candidates, signal);
}

async function listCandidates(
  ctx: GrepContext,
  query: GrepQuery,
  signal: AbortSignal | undefined,
): Promise<Candidate[]> {
  const root = grepGlobSearchRoot(query.glob, query.dir);
  const found = new Map<string, Candidate>();
  const consider = (key: string, size: number) => {
    // Keys ending in "/" are directory markers of other tools, never files.
    if (key.endsWith("/") || size > ctx.maxFileBytes) return;
    const path = ctx.keys.toPath(key);
    if (path === null || isBinaryPath(path) || !query.accepts(path)) return;
    found.set(path, { path, key });
  };
  const below = (async () => {
    for await (const object of listObjects(ctx.client, {
      bucket: ctx.bucket,
      prefix: ctx.keys.dirKey(root),
      pageSize: ctx.pageSize,
      signal,
    })) {
      consider(object.key, object.size);
    }
  })();
  // The search path may name a single file.
  const itself =
    root === query.dir && root !== "/" ? firstKeyAt(ctx.client, ctx.bucket, ctx.keys.fileKey(root)) : undefined;
  const [, file] = await Promise.all([below, itself]);
  if (file) consider(file.key, file.size);
  return [...found.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/** The matches of the candidates in order, up to `maxCount + 1`, or the first hard failure. */
function searchInOrder(
  ctx: GrepContext,
  query: GrepQuery,
  candidates: Candidate[],
  signal: AbortSignal | undefined,
): Promise<{ matches: GrepMatch[] } | Fault> {
  const wanted = query.maxCount + 1;
  const window = ctx.concurrency * 4;
  const controller = new AbortController();
  // One signal stops every in-flight GET (each adds listeners: the SDK's and the body's), so more
  // than Node's default of 10 is expected here, not a leak.
  setMaxListeners(4 * window, controller.signal);
  const done: Array<LineMatch[] | undefined> = new Array(candidates.length);
  const matches: GrepMatch[] = [];
  let next = 0;
  let finalised = 0;
  let active = 0;
  let stopped = false;
  let failed: Fault | undefined;

  return new Promise((resolve) => {
    const settle = () => {
      if (active > 0) return;
      signal?.removeEventListener("abort", cancel);
      resolve(failed ?? { matches });
    };
    const stop = () => {
      stopped = true;
      controller.abort();
    };
    const finalise = () => {
      while (!stopped && finalised < candidates.length) {
        const lines = done[finalised];
        if (lines === undefined) break;
        const { path } = candidates[finalised] as Candidate;
        done[finalised] = undefined;
        finalised++;
        for (const m of lines) matches.push({ path, line: m.line, text: m.text });
        if (matches.length >= wanted) stop();
      }
    };
    const pump = () => {
      while (!stopped && active < ctx.concurrency && next < candidates.length && next < finalised + window) {
        const index = next++;
        const candidate = candidates[index] as Candidate;
        active++;
        // Matches already finalised only grow, so the room left now bounds what this file can add.
        searchObject(ctx, candidate.key, query.pattern, wanted - matches.length, controller.signal)
          .then(
            (lines) => {
              done[index] = lines;
            },
            (error: unknown) => {
              // After a stop, aborted requests and destroyed bodies fail by design.
              if (stopped) return;
              failed ??= { ...s3Fault(error), path: candidate.path };
              stop();
            },
          )
          .finally(() => {
            active--;
            finalise();
            pump();
            if (stopped || finalised === candidates.length) settle();
          });
      }
    };
    // The caller's cancellation stops the search like a reached maxCount, answering `aborted`.
    const cancel = () => {
      failed ??= { fault: "aborted" };
      stop();
    };
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    pump();
    if (candidates.length === 0 || stopped) settle();
  });
}

/** Streams one object through a {@link LineSearcher}: its matches, `[]` for binary or vanished objects. */
async function searchObject(
  ctx: GrepContext,
  key: string,
  pattern: string,
  limit: number,
  signal: AbortSignal,
): Promise<LineMatch[]> {
  let response: GetObjectCommandOutput;
  try {
    response = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key }), { abortSignal: signal });
  } catch (error) {
    // Deleted between the listing and the fetch: no longer a file to search.
    if (isNotFound(error)) return [];
    throw error;
  }
  const body = response.Body as
    | (AsyncIterable<Uint8Array> & { destroy?: () => void; readableEnded?: boolean })
    | undefined;
  if (!body) return [];
  const searcher = new LineSearcher(pattern, limit);
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
    // Leaving early (binary, abort, error): release the connection instead of leaking it.
    if (body.readableEnded === false) destroy();
  }
}

/** False for strings with lone surrogates, which no valid UTF-8 text contains. */
function isWellFormed(text: string): boolean {
  return Buffer.from(text, "utf8").toString("utf8") === text;
}
