import { constants } from "node:fs";
import { comparePaths, type GrepMatch, type GrepQuery, getMimeType, grepFileText, isTextMimeType } from "@deepfs/core";
import type { grepWorkers } from "./grep-pool.js";
import type { GrepFileScanner } from "./grep-scan.js";
import type { FileScan } from "./grep-worker.js";
import type { HostRoot } from "./host-root.js";
import type { WalkedFile } from "./walk.js";

type Workers = NonNullable<ReturnType<typeof grepWorkers>>;

/** Files per worker message. */
export const BATCH_FILES = 128;
/** Fewer candidates than this are searched on the main thread: a worker round trip would cost more. */
export const WORKERS_FROM = 64;

/** The part of a scan job that is the same for every batch of one grep. */
export function scanJob(query: GrepQuery, maxBytes: number, root: HostRoot) {
  return {
    needle: Buffer.from(query.pattern, "utf8"),
    maxBytes,
    limit: query.maxCount + 1,
    rootBase: root.base,
    openFlags: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  };
}

/** The matches of one file from its scan, at most `room`; a file to retry is read by `scanner`. */
export async function matchesOf(
  file: WalkedFile,
  scan: FileScan,
  query: GrepQuery,
  scanner: GrepFileScanner,
  room: number,
): Promise<GrepMatch[]> {
  if (scan === null) return [];
  if (scan === "retry") {
    const text = await scanner.scan(file.host);
    return text === null ? [] : grepFileText(file.path, text, query.pattern, room);
  }
  const texts = scan.lines.length === 1 ? [scan.text] : scan.text.split("\n");
  const count = Math.min(scan.lines.length, room);
  const matches: GrepMatch[] = [];
  for (let k = 0; k < count; k++) {
    matches.push({ path: file.path, line: scan.lines[k] as number, text: texts[k] as string });
  }
  return matches;
}

/**
 * Finds the files to search (`find`: a walk, or ripgrep and a walk for the links) and searches
 * them at once: each batch of files goes to the workers as soon as it is found, in whatever order,
 * and the files with matches are put in path order at the end (as `grepTexts` does). Every
 * match is kept, so this is for a grep without `maxCount`; with one, files are searched in path
 * order and the search stops early instead. Fewer than {@link WORKERS_FROM} files go to `small`.
 */
export async function grepWhileFinding(
  workers: Workers,
  find: (found: (file: WalkedFile) => void) => Promise<unknown>,
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
  scanner: GrepFileScanner,
  small: (files: WalkedFile[]) => Promise<{ matches: GrepMatch[] }>,
): Promise<{ matches: GrepMatch[] }> {
  const job = scanJob(query, maxBytes, root);
  const searched: Array<Promise<{ batch: WalkedFile[]; scans: FileScan[] | null }>> = [];
  let batch: WalkedFile[] = [];
  const send = () => {
    const files = batch;
    batch = [];
    searched.push(
      workers.run({ ...job, hosts: files.map((file) => file.host) }).then((scans) => ({ batch: files, scans })),
    );
  };
  const found = (file: WalkedFile) => {
    if (!query.accepts(file.path) || !isTextMimeType(getMimeType(file.path))) return;
    batch.push(file);
    if (batch.length >= BATCH_FILES) send();
  };
  await find(found);
  // A small tree is searched here: a worker round trip would cost more than the search.
  if (searched.length === 0 && batch.length < WORKERS_FROM) return small(batch);
  if (batch.length > 0) send();
  const hits: Array<{ path: string; matches: GrepMatch[] }> = [];
  for (const { batch: files, scans } of await Promise.all(searched)) {
    for (let i = 0; i < files.length; i++) {
      const file = files[i] as WalkedFile;
      // A batch the workers could not search is read here, file by file.
      const matches = await matchesOf(file, scans ? (scans[i] as FileScan) : "retry", query, scanner, Infinity);
      if (matches.length > 0) hits.push({ path: file.path, matches });
    }
  }
  hits.sort((a, b) => comparePaths(a.path, b.path));
  return { matches: hits.flatMap((hit) => hit.matches) };
}
