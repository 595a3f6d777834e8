import { DeepfsError } from "./errors.js";
import { checkGlobPattern, compileParsedGlob, type GlobCheck, type ParsedGlob } from "./glob-pattern.js";
import { checkDirPath, isWithin, relativeTo } from "./paths.js";
import type { ErrorCode } from "./protocol.js";

/** Tests one path (absolute, normalised) against a compiled pattern. */
export type PathMatcher = (path: string) => boolean;

/** A pattern as given: the anchored body (leading `/`s removed) and whether it was anchored. */
function anchoring(pattern: string): { anchored: boolean; body: string } {
  const anchored = pattern.startsWith("/");
  return { anchored, body: anchored ? pattern.replace(/^\/+/, "") : pattern };
}

/** Parses a pattern that callers were meant to validate first; an invalid one throws `DeepfsError`. */
function parsedOrThrow(pattern: string): ParsedGlob {
  const checked: GlobCheck = checkGlobPattern(pattern);
  if (!checked.ok) throw new DeepfsError(checked.code, checked.error);
  return checked.glob;
}

/**
 * The glob rule of the contract for `glob(pattern, path)`: the pattern is relative to the search
 * directory `dir` (normalised, absolute) unless it starts with `/`, in which case it is anchored at
 * the root. A `**` segment matches zero or more directories (a trailing `/**` at least one name),
 * `*` and `?` do not cross `/`, classes, braces and extglobs work, dotfiles match. Matching costs
 * time bounded by the pattern's length for any pattern and path. Throws `DeepfsError` for a
 * pattern {@link checkGlobPattern} refuses (backends validate first, through {@link parseGlobArgs}).
 */
export function createGlobMatcher(pattern: string, dir = "/"): PathMatcher {
  const { anchored, body } = anchoring(pattern);
  return matcherOf(body === "" ? null : parsedOrThrow(body), anchored, dir);
}

function matcherOf(glob: ParsedGlob | null, anchored: boolean, dir: string): PathMatcher {
  if (!glob) return () => false;
  const test = compileParsedGlob(glob);
  if (anchored) return (path) => isWithin(path, dir) && test(path.slice(1));
  return (path) => isWithin(path, dir) && path !== dir && test(relativeTo(path, dir));
}

/**
 * The rule of grep's `glob` filter: a pattern without `/` matches the basename at any depth
 * (`*.py`); a pattern with `/` matches the path relative to the search directory. Throws
 * `DeepfsError` for a pattern {@link checkGlobPattern} refuses.
 */
export function createGrepGlobFilter(pattern: string, dir = "/"): PathMatcher {
  const parsed = parseGrepGlob(pattern, dir);
  if (!parsed.ok) throw new DeepfsError(parsed.code, parsed.error);
  return parsed.accepts;
}

/**
 * The directory below which every match of `pattern` (relative to `dir`) must lie: `src/**` →
 * `dir/src`, `*.ts` → `dir`, `{a,b}/x/*` → `dir`. Backends use it to list less (an S3 or SQL
 * prefix, a local start directory); the matcher still decides. The pattern's literal segments are
 * validated names (never `.` or `..`), so the result is a canonical path inside `dir` or the root.
 */
export function globSearchRoot(pattern: string, dir = "/"): string {
  const { anchored, body } = anchoring(pattern);
  return searchRootOf(body === "" ? null : parsedOrThrow(body), anchored, dir);
}

function searchRootOf(glob: ParsedGlob | null, anchored: boolean, dir: string): string {
  const base = anchored ? "/" : dir;
  const literal = glob ? commonPrefix(glob.literalPrefixes) : [];
  if (literal.length === 0) return base;
  const joined = base === "/" ? `/${literal.join("/")}` : `${base}/${literal.join("/")}`;
  const canonical = checkDirPath(joined);
  if (!canonical.ok || canonical.path !== joined) return base;
  // Matches lie within both `dir` and `joined`: keep the narrower (disjoint ones match nothing anyway).
  return isWithin(dir, joined) ? dir : joined;
}

function commonPrefix(lists: string[][]): string[] {
  const [first, ...rest] = lists;
  if (!first) return [];
  let length = first.length;
  for (const list of rest) {
    let k = 0;
    while (k < length && k < list.length && list[k] === first[k]) k++;
    length = k;
  }
  return first.slice(0, length);
}

/**
 * The directory below which every file that grep's `glob` filter accepts must lie, for narrowing
 * listings: only a pattern with `/` can narrow.
 */
export function grepGlobSearchRoot(pattern: string | null | undefined, dir = "/"): string {
  return pattern?.includes("/") ? globSearchRoot(pattern, dir) : dir;
}

/** Validated `glob` arguments, shared by every backend. */
export interface GlobQuery {
  pattern: string;
  /** Normalised search directory. */
  dir: string;
  /** The directory every match lies below (see {@link globSearchRoot}). */
  root: string;
  /** The contract's decision for one path. */
  matches: PathMatcher;
}

/**
 * Validates `glob(pattern, path)` before any I/O: the directory like a path, the pattern by
 * {@link checkGlobPattern} (no `.`/`..` segment in any brace alternative, bounded cost). The
 * failure is ready to return.
 */
export function parseGlobArgs(
  pattern: unknown,
  path?: string | null,
): { ok: true; query: GlobQuery } | { ok: false; error: string; code: ErrorCode } {
  const dir = checkDirPath(path);
  if (!dir.ok) return dir;
  if (typeof pattern !== "string") return checkGlobPattern(pattern) as { ok: false; error: string; code: ErrorCode };
  const { anchored, body } = anchoring(pattern);
  const checked = checkGlobPattern(body || pattern);
  if (!checked.ok) return checked;
  const glob = body === "" ? null : checked.glob;
  return {
    ok: true,
    query: {
      pattern,
      dir: dir.path,
      root: searchRootOf(glob, anchored, dir.path),
      matches: matcherOf(glob, anchored, dir.path),
    },
  };
}

/**
 * Validates grep's `glob` filter like a `glob` pattern and compiles it (see
 * {@link createGrepGlobFilter}); the failure is ready to return.
 */
export function parseGrepGlob(
  pattern: string,
  dir: string,
): { ok: true; accepts: PathMatcher } | { ok: false; error: string; code: ErrorCode } {
  const { anchored, body } = anchoring(pattern);
  const checked = checkGlobPattern(body || pattern);
  if (!checked.ok) return checked;
  if (pattern.includes("/")) return { ok: true, accepts: matcherOf(body === "" ? null : checked.glob, anchored, dir) };
  const test = compileParsedGlob(checked.glob);
  return { ok: true, accepts: (path) => isWithin(path, dir) && test(path.slice(path.lastIndexOf("/") + 1)) };
}
