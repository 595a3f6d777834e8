import { failure } from "./errors.js";
import { type PathMatcher, parseGrepGlob } from "./glob.js";
import { type Fault, fault } from "./kit/driver.js";
import { checkDirPath, comparePaths, isWithin } from "./paths.js";
import type { ErrorCode, GrepMatch, GrepResult } from "./protocol.js";
import { grepFileText, isSearchableText } from "./text.js";

/** Validated grep arguments, shared by every backend. */
export interface GrepQuery {
  pattern: string;
  /** Normalised search directory (or file). */
  dir: string;
  glob: string | null;
  /** Cap on the total number of matches, or `Infinity`. */
  maxCount: number;
  /** True for paths inside `dir` that the glob filter accepts. */
  accepts: PathMatcher;
  /**
   * The pattern can match no line: it holds `\n` (lines never do), NUL (a file with NUL is
   * binary, and binary files are not searched) or a lone UTF-16 surrogate (texts are UTF-8, and no
   * character of one is half of a pair). Backends answer `{ matches: [] }` without searching.
   */
  matchesNothing: boolean;
  /** Bounds of the answer (see {@link GrepLimits}); the facade sets the store's. */
  limits: GrepLimits;
}

/**
 * Bounds of one grep's answer, whatever `maxCount` says: an agent that writes a file of a million
 * one-character lines, or ten files of one 10 MiB line each, and greps them must not make the
 * process hold an answer it cannot afford. Past either bound grep answers `too_large` (and stops
 * searching as soon as it knows), never a silently shortened answer.
 */
export interface GrepLimits {
  /** Most matching lines in an answer (only binds when `maxCount` is larger, or not given). */
  maxMatches: number;
  /** Most characters (UTF-16 code units) of matching lines' text in an answer. */
  maxTextLength: number;
}

/** The bounds every store has unless it is given others: 1,000,000 lines, 256 Mi characters. */
export const DEFAULT_GREP_LIMITS: Readonly<GrepLimits> = Object.freeze({
  maxMatches: 1_000_000,
  maxTextLength: 256 * 1024 * 1024,
});

/**
 * Counts an answer as a grep builds it. Every grep that collects matches (any order) adds them
 * here and stops with {@link grepAnswerTooLarge} once {@link GrepTally.within} is false; before a
 * file is searched, {@link GrepTally.room} says how many of its matches can still be taken (one
 * more than fits, so that going over shows).
 */
export class GrepTally {
  private count = 0;
  private textLength = 0;
  private readonly countLimit: number;
  private readonly textLimit: number;

  constructor(query: Pick<GrepQuery, "maxCount" | "limits">) {
    // A cap at or under the bound already keeps the answer within it: no need to count.
    this.countLimit = query.maxCount <= query.limits.maxMatches ? Number.POSITIVE_INFINITY : query.limits.maxMatches;
    this.textLimit = query.limits.maxTextLength;
  }

  /** Counts `matches` (or any matching lines); false once the answer is past a bound. */
  add(matches: readonly { text: string }[]): boolean {
    return this.addCounts(matches.length, textLengthOf(matches));
  }

  /** Counts `count` matches holding `textLength` characters of line text; false once past a bound. */
  addCounts(count: number, textLength: number): boolean {
    this.count += count;
    this.textLength += textLength;
    return this.within;
  }

  /** Takes back `matches` counted before and then dropped (past `maxCount`, they are not answered). */
  remove(matches: readonly { text: string }[]): void {
    this.count -= matches.length;
    this.textLength -= textLengthOf(matches);
  }

  /** True while the answer counted is within both bounds. */
  get within(): boolean {
    return this.count <= this.countLimit && this.textLength <= this.textLimit;
  }

  /** How many more matches to collect at most: one past the count bound, or `Infinity`. */
  get room(): number {
    return Math.max(0, this.countLimit - this.count + 1);
  }

  /** Characters of matching lines that may still be taken before the text bound is passed. */
  get textRoom(): number {
    return Math.max(0, this.textLimit - this.textLength);
  }

  /** Which bound was passed, for the answer's sentence. */
  get passed(): string {
    return this.count > this.countLimit
      ? `more than ${this.countLimit.toLocaleString("en-US")} matching lines`
      : `more than ${this.textLimit.toLocaleString("en-US")} characters of matching lines`;
  }
}

/** Characters (UTF-16 code units) of the matching lines of `matches`. */
function textLengthOf(matches: readonly { text: string }[]): number {
  let length = 0;
  for (const match of matches) length += match.text.length;
  return length;
}

/** The fault of a grep whose answer passed a bound of `tally`. */
export function grepAnswerTooLarge(tally: GrepTally): Fault {
  return fault("too_large", { reason: "answer", detail: tally.passed });
}

/** The fault when `matches` (an answer already built) passes the bounds of `query`, else null. */
export function checkGrepAnswer(matches: readonly GrepMatch[], query: Pick<GrepQuery, "maxCount" | "limits">) {
  const tally = new GrepTally(query);
  return tally.add(matches) ? null : grepAnswerTooLarge(tally);
}

/** Validates and normalises grep's arguments; the failure is ready to return. */
export function parseGrepArgs(
  pattern: string,
  path?: string | null,
  glob?: string | null,
  maxCount?: number | null,
): { ok: true; query: GrepQuery } | { ok: false; error: string; code: ErrorCode } {
  if (typeof pattern !== "string")
    return { ok: false, ...failure("invalid_argument", "grep pattern must be a string") };
  if (glob !== undefined && glob !== null && typeof glob !== "string") {
    return { ok: false, ...failure("invalid_argument", "grep glob must be a string") };
  }
  const dir = checkDirPath(path);
  if (!dir.ok) return dir;
  let cap = Number.POSITIVE_INFINITY;
  if (maxCount !== undefined && maxCount !== null) {
    if (typeof maxCount !== "number" || Number.isNaN(maxCount) || maxCount < 0) {
      return { ok: false, ...failure("invalid_argument", "max_count must be a non-negative number") };
    }
    cap = Math.floor(maxCount);
  }
  const root = dir.path;
  let accepts: PathMatcher = (p) => isWithin(p, root);
  if (glob) {
    const filter = parseGrepGlob(glob, root);
    if (!filter.ok) return filter;
    accepts = filter.accepts;
  }
  const matchesNothing = pattern.includes("\n") || pattern.includes("\u0000") || !pattern.isWellFormed();
  return {
    ok: true,
    query: {
      pattern,
      dir: root,
      glob: glob || null,
      maxCount: cap,
      accepts,
      matchesNothing,
      limits: DEFAULT_GREP_LIMITS,
    },
  };
}

/** Sorts matches by path, then line, in place. */
export function sortGrepMatches(matches: GrepMatch[]): GrepMatch[] {
  // Matches of one file share its path string: equal paths compare without a scan.
  return matches.sort((a, b) =>
    a.path === b.path ? a.line - b.line : comparePaths(a.path, b.path) || a.line - b.line,
  );
}

/**
 * Applies `maxCount` to sorted matches: `truncated` is true only when more matches existed.
 * Callers that stop early must collect `maxCount + 1` matches so that this can tell.
 */
export function capGrepMatches(matches: GrepMatch[], maxCount: number): GrepResult {
  if (matches.length > maxCount) return { matches: matches.slice(0, maxCount), truncated: true };
  return { matches };
}

/**
 * Grep over texts already in memory: the reference implementation of the contract. `files` yields
 * each candidate file's path and text (binary files must be left out by the caller). The answer's
 * bounds are not applied (see {@link grepTextsWithin}).
 */
export function grepTexts(files: Iterable<{ path: string; text: string }>, query: GrepQuery): GrepResult {
  const unbounded = { maxMatches: Number.POSITIVE_INFINITY, maxTextLength: Number.POSITIVE_INFINITY };
  return grepTextsWithin(files, { ...query, limits: unbounded }) as GrepResult;
}

/**
 * {@link grepTexts} within the query's bounds, counted on `tally` (shared by the calls of one
 * grep): `too_large` as soon as the matches found pass them.
 */
export function grepTextsWithin(
  files: Iterable<{ path: string; text: string }>,
  query: GrepQuery,
  tally = new GrepTally(query),
): GrepResult | Fault {
  // Search every file in any order, then order only the files that matched: with few matches,
  // sorting every candidate path (and scanning every text for NUL) costs more than the search.
  if (query.matchesNothing) return { matches: [] };
  const hits = new GrepHits(query, tally);
  for (const file of files) {
    if (!query.accepts(file.path)) continue;
    const matches = grepFileText(file.path, file.text, query.pattern, hits.room);
    if (matches.length > 0 && isSearchableText(file.text) && !hits.add({ path: file.path, matches })) {
      return grepAnswerTooLarge(tally);
    }
  }
  return hits.answer();
}

/**
 * The matches of the files a grep searched in any order, held within bounds: the first
 * `maxCount + 1` in path order are all an answer can need, so once the files held have several
 * times that many, the files past them in path order are dropped (and taken back from the tally).
 * A capped grep over many matching files thus holds O(maxCount) matches, not `maxCount + 1` per
 * file, and its answer's bounds count what it can answer, not everything it found.
 */
export class GrepHits {
  private hits: FileHits[] = [];
  private held = 0;
  private readonly keep: number;
  private readonly tally: GrepTally;

  constructor(query: Pick<GrepQuery, "maxCount" | "limits">, tally = new GrepTally(query)) {
    this.keep = query.maxCount + 1;
    this.tally = tally;
  }

  /** How many matches of the next file to collect at most. */
  get room(): number {
    return Math.min(this.keep, this.tally.room);
  }

  /** Adds one file's matches (at most {@link room}, in line order); false once past a bound. */
  add(hit: FileHits): boolean {
    this.hits.push(hit);
    this.held += hit.matches.length;
    const within = this.tally.add(hit.matches);
    // Past a bound, or holding several answers' worth: keep only what the answer can need.
    if (this.held > 4 * this.keep || (!within && this.held > this.keep)) this.trim();
    return this.tally.within;
  }

  /** Files in path order, the first `maxCount` matches, `truncated` when more existed. */
  answer(): GrepResult {
    return mergeFileHits(this.hits, this.keep - 1);
  }

  /** Drops the files past the first `keep` matches in path order. */
  private trim(): void {
    this.hits.sort((a, b) => comparePaths(a.path, b.path));
    let kept = 0;
    let files = 0;
    while (files < this.hits.length && kept < this.keep) kept += (this.hits[files++] as FileHits).matches.length;
    for (const dropped of this.hits.splice(files)) this.tally.remove(dropped.matches);
    this.held = kept;
  }
}

/** The matches of one file (at most `maxCount + 1` of them). */
export interface FileHits {
  path: string;
  matches: GrepMatch[];
}

/**
 * The answer from each matching file's matches, gathered in any order: files in path order, the
 * first `maxCount` matches, `truncated` when more existed. Each file must hold at most
 * `maxCount + 1` matches, in line order.
 */
export function mergeFileHits(hits: FileHits[], maxCount: number): GrepResult {
  hits.sort((a, b) => comparePaths(a.path, b.path));
  return capGrepMatches(concatMatches(hits, maxCount + 1), maxCount);
}

/**
 * The matches of `groups` one after another, at most `limit` of them, in one array allocated at its
 * size: for an answer of 300,000 matches in 10,000 files, `flatMap` takes about 50 ms and growing
 * an array by `push` 27-74 ms, against 7 ms here.
 */
export function concatMatches(
  groups: ReadonlyArray<{ matches: readonly GrepMatch[] }>,
  limit = Number.POSITIVE_INFINITY,
): GrepMatch[] {
  let total = 0;
  for (const group of groups) total += group.matches.length;
  const out = new Array<GrepMatch>(Math.max(0, Math.min(total, limit)));
  let next = 0;
  for (const group of groups) {
    for (const match of group.matches) {
      if (next >= out.length) return out;
      out[next++] = match;
    }
  }
  return out;
}
