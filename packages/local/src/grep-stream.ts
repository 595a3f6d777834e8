import { constants } from "node:fs";
import { comparePaths, concatMatches, type GrepMatch, type GrepQuery, getMimeType, isTextMimeType } from "@deepfs/core";
import type { Fault } from "@deepfs/core/kit";
import type { GrepBudget } from "./grep-budget.js";
import type { grepWorkers } from "./grep-pool.js";
import type { GrepFileScanner } from "./grep-scan.js";
import type { BatchScan, FileScan } from "./grep-worker.js";
import type { HostRoot } from "./host-root.js";
import type { WalkedFile } from "./walk.js";

type Workers = NonNullable<ReturnType<typeof grepWorkers>>;

/** Files per worker message. */
export const BATCH_FILES = 128;
/** Fewer candidates than this are searched on the main thread: a worker round trip would cost more. */
export const WORKERS_FROM = 64;

/**
 * The part of a scan job that is the same for every batch of one grep (each batch adds its files
 * and the room left in the answer's bounds, see {@link batchJob}).
 */
export function scanJob(
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
  scanner: GrepFileScanner,
  budget: GrepBudget,
) {
  return {
    needle: Buffer.from(query.pattern, "utf8"),
    maxBytes,
    limit: query.maxCount + 1,
    rootBase: root.base,
    // The device the scanner read once for this grep: the workers and this thread apply one rule.
    rootDev: scanner.rootDev,
    openFlags: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    stop: budget.stopFlag,
  };
}

/**
 * The job of one batch: its files, at most `room` matches (no more than the answer's bounds leave)
 * and the characters the bounds leave, so that a batch never holds much more than the bounds.
 */
export function batchJob(job: ReturnType<typeof scanJob>, files: WalkedFile[], room: number, budget: GrepBudget) {
  return {
    ...job,
    hosts: files.map((file) => file.host),
    room: Math.min(room, budget.room),
    textRoom: budget.textRoom,
  };
}

/**
 * The matches of the files of one batch, from the workers' answer (null: every file is read by
 * `scanner`, as is a file to retry), at most `room` in all; the files without any are left out.
 */
export async function batchMatches(
  files: WalkedFile[],
  result: BatchScan | null,
  scanner: GrepFileScanner,
  room: number,
  workers: Workers,
): Promise<Array<{ path: string; matches: GrepMatch[] }>> {
  const out: Array<{ path: string; matches: GrepMatch[] }> = [];
  const texts = result ? lineTexts(result.text) : [];
  // Decoded: the buffer goes back to the workers for a later batch.
  if (result) workers.recycle(result.text);
  let next = 0;
  for (let i = 0; i < files.length && room > 0; i++) {
    const file = files[i] as WalkedFile;
    const scan: FileScan = result ? ((result.scans[i] as FileScan | undefined) ?? null) : "retry";
    let matches: GrepMatch[] = [];
    if (scan === "retry") {
      const bytes = await scanner.scan(file.host);
      if (bytes !== null) matches = scanner.matches(file.path, bytes, room);
    } else if (scan !== null) {
      const count = Math.min(scan.length, room);
      for (let k = 0; k < count; k++) {
        matches.push({ path: file.path, line: scan[k] as number, text: texts[next + k] as string });
      }
      next += scan.length;
    }
    if (matches.length > 0) {
      out.push({ path: file.path, matches });
      room -= matches.length;
    }
  }
  return out;
}

/**
 * Every matching line of a batch, in order, each decoded on its own: a string of its own, where
 * splitting one decoded batch gives slices that keep the whole batch's text alive as long as any
 * one match is kept (79 MB of heap against 56 MB for `return` over 15,756 real files).
 */
function lineTexts(text: Uint8Array): string[] {
  const texts: string[] = [];
  if (text.length === 0) return texts;
  const bytes = Buffer.from(text.buffer, text.byteOffset, text.length);
  for (let at = 0; ; ) {
    const newline = bytes.indexOf(10, at);
    texts.push(bytes.toString("utf8", at, newline === -1 ? bytes.length : newline));
    if (newline === -1) return texts;
    at = newline + 1;
  }
}

/**
 * Finds the files to search (`find`: a walk, or ripgrep and a walk for the links) and searches
 * them at once: each batch of files goes to the workers as soon as it is found, in whatever order,
 * and the files with matches are put in path order at the end (as `grepTexts` does). Every
 * match is kept, so this is for a grep without `maxCount`; with one, files are searched in path
 * order and the search stops early instead. Fewer than {@link WORKERS_FROM} files go to `small`.
 * Each batch's matches are counted on `budget` as they come: once the answer passes its bounds,
 * the finding (`budget.signal`) and the workers (`budget.stopFlag`) stop, later answers are dropped
 * unread, and the grep answers `too_large`.
 */
export async function grepWhileFinding(
  workers: Workers,
  find: (found: (file: WalkedFile) => void, signal: AbortSignal) => Promise<unknown>,
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
  scanner: GrepFileScanner,
  budget: GrepBudget,
  small: (files: WalkedFile[]) => Promise<{ matches: GrepMatch[] } | Fault>,
): Promise<{ matches: GrepMatch[] } | Fault> {
  const job = scanJob(query, maxBytes, root, scanner, budget);
  // Each batch's matches are made as soon as its answer comes, while the workers search the next.
  const searched: Array<Promise<void>> = [];
  const hits: Array<{ path: string; matches: GrepMatch[] }> = [];
  let batch: WalkedFile[] = [];
  const keep = async (files: WalkedFile[], result: BatchScan | null) => {
    if (budget.over) return;
    for (const hit of await batchMatches(files, result, scanner, budget.room, workers)) {
      if (budget.over) return;
      hits.push(hit);
      if (!budget.add(hit.matches)) return;
    }
  };
  const send = () => {
    const files = batch;
    batch = [];
    const sent = batchJob(job, files, Number.POSITIVE_INFINITY, budget);
    searched.push(workers.run(sent).then((result) => keep(files, result)));
  };
  const found = (file: WalkedFile) => {
    if (budget.over || !query.accepts(file.path) || !isTextMimeType(getMimeType(file.path))) return;
    batch.push(file);
    if (batch.length >= BATCH_FILES) send();
  };
  await find(found, budget.signal);
  // A small tree is searched here: a worker round trip would cost more than the search.
  if (searched.length === 0 && batch.length < WORKERS_FROM) return small(batch);
  if (batch.length > 0 && !budget.over) send();
  // Batches sent before the stop end at once (the workers search no further file of them).
  await Promise.all(searched);
  if (budget.over) return budget.fault();
  hits.sort((a, b) => comparePaths(a.path, b.path));
  return { matches: concatMatches(hits) };
}
