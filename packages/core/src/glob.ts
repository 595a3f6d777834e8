import picomatch from "picomatch";
import { compileGlob } from "./glob-pattern.js";
import { isWithin, relativeTo } from "./paths.js";

/** Tests one path (absolute, normalised) against a compiled pattern. */
export type PathMatcher = (path: string) => boolean;

/**
 * The glob rule of the contract for `glob(pattern, path)`: the pattern is relative to the search
 * directory `dir` (normalised, absolute) unless it starts with `/`, in which case it is anchored at
 * the root. A `**` segment matches zero or more directories (a trailing `/**` at least one name),
 * `*` and `?` do not cross `/`, classes and braces work, dotfiles match. Matching takes time linear
 * in the path for any pattern.
 */
export function createGlobMatcher(pattern: string, dir = "/"): PathMatcher {
  if (pattern.startsWith("/")) {
    const test = compileGlob(pattern.replace(/^\/+/, ""));
    return (path) => isWithin(path, dir) && test(path.slice(1));
  }
  const test = compileGlob(pattern);
  return (path) => isWithin(path, dir) && path !== dir && test(relativeTo(path, dir));
}

/**
 * The rule of grep's `glob` filter: a pattern without `/` matches the basename at any depth
 * (`*.py`); a pattern with `/` matches the path relative to the search directory.
 */
export function createGrepGlobFilter(pattern: string, dir = "/"): PathMatcher {
  if (pattern.includes("/")) return createGlobMatcher(pattern, dir);
  const test = compileGlob(pattern);
  return (path) => isWithin(path, dir) && test(path.slice(path.lastIndexOf("/") + 1));
}

/**
 * The directory below which every match of `pattern` (relative to `dir`) must lie: `src/**` →
 * `dir/src`, `*.ts` → `dir`. Backends use it to list less (an S3 or SQL prefix, a local start
 * directory); the matcher still decides.
 */
export function globSearchRoot(pattern: string, dir = "/"): string {
  const anchored = pattern.startsWith("/");
  const body = anchored ? pattern.replace(/^\/+/, "") : pattern;
  const literal: string[] = [];
  const segments = body.split("/");
  // The last segment names files, never a directory to descend into.
  for (const segment of segments.slice(0, -1)) {
    if (segment === "" || segment === "." || picomatch.scan(segment).isGlob || /[\\[\]{}()*?!+@]/.test(segment)) break;
    literal.push(segment);
  }
  const base = anchored ? "/" : dir;
  if (literal.length === 0) return base;
  const joined = base === "/" ? `/${literal.join("/")}` : `${base}/${literal.join("/")}`;
  // Matches lie within both `dir` and `joined`: keep the narrower (disjoint ones match nothing anyway).
  return isWithin(dir, joined) ? dir : joined;
}

/**
 * The directory below which every file that grep's `glob` filter accepts must lie, for narrowing
 * listings: only a pattern with `/` can narrow.
 */
export function grepGlobSearchRoot(pattern: string | null | undefined, dir = "/"): string {
  return pattern?.includes("/") ? globSearchRoot(pattern, dir) : dir;
}
