import {
  comparePaths,
  decodeUtf8Strict,
  type GrepMatch,
  type GrepQuery,
  getMimeType,
  grepFileText,
  isTextMimeType,
} from "@deepfs/core";
import { type Fault, fault } from "@deepfs/core/kit";
import { readRegularFile } from "./file-io.js";
import type { HostRoot } from "./host-root.js";
import { IoMode } from "./io-mode.js";
import type { GrepEngine } from "./options.js";
import { ripgrepAvailable, ripgrepCandidates } from "./ripgrep.js";
import { type WalkedFile, type WalkOptions, walkFiles } from "./walk.js";

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
 * How grep finds the files below a directory that may hold the pattern: ripgrep (a superset: it
 * matches bytes, the caller re-checks every file), or a walk of every file.
 */
export class GrepEngines {
  private ripgrepCheck: Promise<boolean> | undefined;

  constructor(
    private readonly engine: GrepEngine,
    private readonly ripgrepPath: string,
  ) {}

  /** Candidate files below the host directory `host` (virtual path `path`). */
  async candidates(
    pattern: string,
    host: string,
    path: string,
    maxBytes: number,
    walk: WalkOptions,
  ): Promise<WalkedFile[] | Fault> {
    const useRipgrep = await this.useRipgrep();
    if (typeof useRipgrep !== "boolean") return useRipgrep;
    if (!useRipgrep) return walkFiles(host, path, walk);
    // ripgrep does not follow symlinks (following would descend into linked directories): the links
    // to regular files come from a walk that runs beside it.
    const links = walkFiles(host, path, { ...walk, linksOnly: true });
    try {
      const [found, linked] = await Promise.all([
        ripgrepCandidates(this.ripgrepPath, pattern, host, path, maxBytes),
        links,
      ]);
      return found.concat(linked);
    } catch {
      // ripgrep failed to run: the built-in search gives the same answer.
      await links.catch(() => undefined);
      return walkFiles(host, path, walk);
    }
  }

  private async useRipgrep(): Promise<boolean | Fault> {
    if (this.engine === "builtin") return false;
    this.ripgrepCheck ??= ripgrepAvailable(this.ripgrepPath);
    const available = await this.ripgrepCheck;
    if (!available && this.engine === "ripgrep") {
      return fault("unsupported", { detail: "grepEngine is 'ripgrep' but the ripgrep executable was not found" });
    }
    return available;
  }
}

/**
 * Greps candidate files exactly as the core matcher (`grepTexts`) would: the glob filter and MIME
 * rule decide which files count, files are searched in path order with bounded read-ahead, and the
 * search stops once `maxCount + 1` matches are known (the facade caps them and tells truncation).
 * Candidates may be a superset (ripgrep's answer or a full walk); every file is re-checked and
 * matched by the core line matcher.
 */
export async function grepCandidates(
  files: WalkedFile[],
  query: GrepQuery,
  maxBytes: number,
  root: HostRoot,
): Promise<{ matches: GrepMatch[] }> {
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
  return { matches };
}
