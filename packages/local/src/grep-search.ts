import {
  capGrepMatches,
  comparePaths,
  decodeUtf8Strict,
  type GrepMatch,
  type GrepQuery,
  type GrepResult,
  getMimeType,
  grepFileText,
  isTextMimeType,
} from "@deepfs/core";
import { readRegularFile } from "./file-io.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import type { WalkedFile } from "./walk.js";

/** Files read ahead of the one being searched: bounded parallel reads, results consumed in path order. */
const READ_AHEAD = 32;

/**
 * The searchable text of a file under the core rule, or null when grep must skip it: not a regular
 * file, over the size limit, containing NUL, or not valid UTF-8. `needle` (the pattern's UTF-8
 * bytes, when non-empty) lets files without it be skipped before decoding: UTF-8 is
 * self-synchronising, so byte containment equals string containment for valid text.
 */
async function searchableText(
  host: string,
  maxBytes: number,
  needle: Buffer | null,
  root: HostRoot,
): Promise<string | null> {
  try {
    // Through the threadpool: the read-ahead overlaps many reads, and a search must not hold the event loop.
    const read = await readRegularFile(host, maxBytes, IoMode.threadpool, root);
    if (read.kind !== "file") return null;
    if (needle && read.bytes.indexOf(needle) === -1) return null;
    if (read.bytes.indexOf(0) !== -1) return null;
    return decodeUtf8Strict(read.bytes);
  } catch {
    // Vanished, unreadable, swapped for a symlink or moved outside the root since the listing: not searchable.
    return null;
  }
}

/**
 * Greps candidate files exactly as the core matcher (`grepTexts`) would: the glob filter and MIME
 * rule decide which files count, files are searched in path order with bounded read-ahead, and the
 * search stops once `maxCount + 1` matches are known. Candidates may be a superset (ripgrep's
 * answer or a full walk); every file is re-checked and matched by the core line matcher.
 */
export async function grepCandidates(
  files: WalkedFile[],
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
): Promise<GrepResult> {
  const candidates = files
    .filter((file) => query.accepts(file.path) && isTextMimeType(getMimeType(file.path)))
    .sort((a, b) => comparePaths(a.path, b.path));
  const needle = query.pattern.length > 0 ? Buffer.from(query.pattern, "utf8") : null;
  const matches: GrepMatch[] = [];
  const pending: Array<Promise<string | null>> = [];
  let next = 0;
  const fill = () => {
    while (pending.length < READ_AHEAD && next < candidates.length) {
      pending.push(searchableText((candidates[next++] as WalkedFile).host, maxBytes, needle, root));
    }
  };
  fill();
  for (const file of candidates) {
    const text = await (pending.shift() as Promise<string | null>);
    const room = query.maxCount + 1 - matches.length;
    if (room <= 0) break;
    fill();
    if (text !== null) for (const match of grepFileText(file.path, text, query.pattern, room)) matches.push(match);
  }
  return capGrepMatches(matches, query.maxCount);
}
