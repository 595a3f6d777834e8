import { isUtf8 } from "node:buffer";
/**
 * glob and grep over a driver: the store's native search when it has one, otherwise a walk of
 * the search root with the core matcher and the reference grep.
 */
import type { GlobQuery } from "../glob.js";
import {
  capGrepMatches,
  checkGrepAnswer,
  GrepHits,
  type GrepQuery,
  GrepTally,
  grepAnswerTooLarge,
  sortGrepMatches,
} from "../grep.js";
import { getMimeType, isTextMimeType } from "../mime.js";
import { comparePaths } from "../paths.js";
import type { FileInfo, GlobResult, GrepResult } from "../protocol.js";
import { decodeUtf8Strict, encodeUtf8, grepFileText, grepFileUtf8, isSearchableText } from "../text.js";
import { type Driver, type DriverEntry, type Fault, fault, isFault } from "./driver.js";
import { mapLimit } from "./limit.js";

/** Files larger than this are not searched by the walking grep (a native grep has its own rule). */
export const DEFAULT_MAX_GREP_FILE_BYTES = 10 * 1024 * 1024;

/**
 * The one rule for which files grep searches: a text MIME type, within the search and the glob
 * filter, and not larger than `maxBytes` (when the size is known). Content is checked afterwards:
 * bytes that are not UTF-8, or text holding NUL, are binary and skipped.
 */
export function isGreppable(
  entry: Pick<DriverEntry, "path" | "size">,
  accepts: (path: string) => boolean,
  maxBytes = DEFAULT_MAX_GREP_FILE_BYTES,
): boolean {
  return (
    isTextMimeType(getMimeType(entry.path)) &&
    (entry.size === undefined || entry.size <= maxBytes) &&
    accepts(entry.path)
  );
}

/** A file entry as a listing shows it. */
export function fileInfoOf(entry: DriverEntry): FileInfo {
  if (entry.kind === "directory") return { path: entry.path === "/" ? "/" : `${entry.path}/`, is_dir: true, size: 0 };
  const info: FileInfo = { path: entry.path, is_dir: false, size: entry.size ?? 0 };
  if (entry.modifiedAt !== undefined) info.modified_at = entry.modifiedAt;
  return info;
}

/** Files that match a glob; a fault is the driver's. */
export async function globDriver(driver: Driver, query: GlobQuery, signal?: AbortSignal): Promise<GlobResult | Fault> {
  const files: FileInfo[] = [];
  const candidates = driver.glob ? driver.glob(query, { signal }) : driver.walk(query.root, { signal });
  for await (const entry of candidates) {
    if (entry.kind === "file" && query.matches(entry.path)) files.push(fileInfoOf(entry));
  }
  return { files: files.sort((a, b) => comparePaths(a.path, b.path)) };
}

/** Matches of a grep; a fault is the driver's. */
export async function grepDriver(
  driver: Driver,
  query: GrepQuery,
  options: { concurrency: number; maxFileBytes: number; signal?: AbortSignal },
): Promise<GrepResult | Fault> {
  if (query.matchesNothing) return { matches: [] };
  if (driver.grep) {
    const found = await driver.grep(query, { signal: options.signal });
    if (isFault(found)) return found;
    const capped = capGrepMatches(sortGrepMatches(found.matches), query.maxCount);
    // A native grep bounds its answer as it searches; this holds the bounds for one that did not.
    const over = checkGrepAnswer(capped.matches ?? [], query);
    if (over) return over;
    return found.truncated ? { ...capped, truncated: true } : capped;
  }
  const candidates = await candidatesOf(driver, query, options);
  if (isFault(candidates)) return candidates;
  // Each file is searched as it arrives and only its matches are kept (within `maxCount`, see
  // GrepHits), so the search holds the answer, not every text it read.
  const tally = new GrepTally(query);
  const hits = new GrepHits(query, tally);
  const needle = query.pattern.length > 0 ? encodeUtf8(query.pattern) : null;
  let failed: Fault | undefined;
  await mapLimit(candidates, options.concurrency, async (entry) => {
    if (failed) return;
    const file = await driver.read(entry.path, { signal: options.signal });
    if (isFault(file)) {
      // A file deleted, or turned into a directory, since the walk is simply not there any more.
      if (file.fault !== "file_not_found" && file.fault !== "is_directory") failed = file;
      return;
    }
    if ("window" in file) return;
    if (failed) return;
    const matches = fileMatches(entry.path, file.content, query, needle, hits.room);
    if (matches.length > 0 && !hits.add({ path: entry.path, matches })) failed = grepAnswerTooLarge(tally);
  });
  return failed ?? hits.answer();
}

/**
 * The matches of one file under the contract's rule (no NUL, valid UTF-8 as a whole), at most
 * `limit`. Bytes are searched as bytes and only the matching lines decoded, each a string
 * of its own (no match keeps the file's text alive).
 */
function fileMatches(
  path: string,
  content: string | Uint8Array,
  query: GrepQuery,
  needle: Uint8Array | null,
  limit: number,
) {
  if (typeof content === "string") {
    return isSearchableText(content) ? grepFileText(path, content, query.pattern, limit) : [];
  }
  if (needle === null) {
    const text = decodeUtf8Strict(content);
    return text !== null && isSearchableText(text) ? grepFileText(path, text, query.pattern, limit) : [];
  }
  if (content.indexOf(0) !== -1 || !isUtf8(content)) return [];
  return grepFileUtf8(path, content, needle, limit);
}

/** The files a walking grep reads: the search path itself when it is a file, else the files below it. */
async function candidatesOf(
  driver: Driver,
  query: GrepQuery,
  options: { maxFileBytes: number; signal?: AbortSignal },
): Promise<DriverEntry[] | Fault> {
  const out: DriverEntry[] = [];
  if (query.dir !== "/") {
    const stat = await driver.stat(query.dir, { signal: options.signal });
    if (isFault(stat)) return stat;
    if (stat.kind === "file") {
      const entry: DriverEntry = { path: query.dir, kind: "file", size: stat.size };
      return isGreppable(entry, query.accepts, options.maxFileBytes) ? [entry] : [];
    }
    if (stat.kind === "none") return out;
  }
  for await (const entry of driver.walk(query.dir, { signal: options.signal })) {
    if (entry.kind === "file" && isGreppable(entry, query.accepts, options.maxFileBytes)) out.push(entry);
  }
  return out;
}

/** The fault for a walk that was cancelled. */
export function abortedFault(signal: AbortSignal | undefined): Fault | null {
  return signal?.aborted ? fault("aborted") : null;
}
