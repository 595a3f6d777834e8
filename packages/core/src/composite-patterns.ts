import type { SearchTarget } from "./composite-mounts.js";
import { checkGlobPattern } from "./glob-pattern.js";
import type { Segment } from "./glob-segment.js";
import { isWithin, relativeTo } from "./paths.js";

/** How a member is asked for the files a pattern selects. */
export type ForwardedPattern = { pattern: string } | "superset" | "none";

/** Characters that make a mount point's name more than a literal in a pattern. */
const GLOB_SYNTAX = /[*?[\]{}()!@+\\,]/;

/**
 * What to ask a member for so that it returns the files `pattern` selects (the glob contract:
 * relative to `dir`, or anchored at the root when it starts with `/`) among its own files:
 * the same pattern when the mapping does not change its meaning, the pattern without the mount's
 * leading segments when those are literal in it, `"none"` when no file of the member can match,
 * and `"superset"` when it cannot be expressed (the member lists everything; the router filters).
 * Each brace alternative is routed on its own (`{proj/a,x/b}` asks the route at `/proj` for `a`
 * only), so a brace that spans a mount point loses nothing.
 */
export function forwardPattern(pattern: string, dir: string, t: SearchTarget): ForwardedPattern {
  const anchored = pattern.startsWith("/");
  const mount = t.mount.mount;
  // The default backend sees caller paths; a relative pattern keeps its meaning below a route that holds `dir`.
  if (mount === "/" || (!anchored && isWithin(dir, mount))) return { pattern };
  const base = anchored ? "/" : dir;
  const body = anchored ? pattern.replace(/^\/+/, "") : pattern;
  const mountSegments = relativeTo(mount, base).split("/");
  // The pattern starts with the mount's names as plain text: the rest, braces and all, is the
  // member's pattern.
  const prefix = `${mountSegments.join("/")}/`;
  if (!GLOB_SYNTAX.test(prefix) && body.startsWith(prefix)) {
    const rest = body.slice(prefix.length);
    // The member searches from its root, where an anchored pattern means the same; anchoring also
    // keeps a one-segment rest from turning into grep's basename rule.
    return checked(anchored || !rest.includes("/") ? `/${rest}` : rest);
  }
  // `**/name` matches by basename at any depth, which a mount prefix does not change.
  const parts = body.split("/");
  if (parts.length === 2 && parts[0] === "**" && parts[1] !== undefined && !parts[1].includes("**")) {
    return { pattern };
  }
  const parsed = checkGlobPattern(body);
  if (!parsed.ok) return "superset";
  const rests = new Set<string>();
  parsed.glob.alternatives.forEach((segments, i) => {
    rests.add(forwardAlternative(segments, parsed.glob.literalPrefixes[i] ?? [], mountSegments));
  });
  rests.delete(NONE);
  if (rests.has(SUPERSET)) return "superset";
  if (rests.size === 0) return "none";
  const [only] = rests;
  return checked(rests.size === 1 ? `/${only}` : `/{${[...rests].join(",")}}`);
}

/**
 * The member's pattern, or `"superset"` when it would be refused: written out, the alternatives
 * (or a shorter pattern's bounds) may pass a limit the caller's pattern kept within.
 */
function checked(pattern: string): ForwardedPattern {
  return checkGlobPattern(pattern.replace(/^\/+/, "") || pattern).ok ? { pattern } : "superset";
}

const NONE = "\u0000none";
const SUPERSET = "\u0000superset";

/**
 * One brace alternative (its segments, and the literal directory names it starts with) for a
 * member mounted at `mountSegments` below the search root: its pattern in the member (written so
 * that it expands to nothing else), {@link NONE} or {@link SUPERSET}.
 */
function forwardAlternative(segments: Segment[], literal: string[], mountSegments: string[]): string {
  const shared = Math.min(literal.length, mountSegments.length);
  for (let i = 0; i < shared; i++) if (literal[i] !== mountSegments[i]) return NONE;
  if (literal.length >= mountSegments.length) return written(segments.slice(mountSegments.length));
  // `**/name` matches by basename at any depth, which a mount prefix does not change.
  if (segments.length === 2 && segments[0]?.globstar && !segments[1]?.globstar) return written(segments);
  // Without `**` every segment matches exactly one name, so an alternative shallower than the
  // member's files cannot match any of them.
  if (segments.every((s) => !s.globstar) && segments.length <= mountSegments.length) return NONE;
  return SUPERSET;
}

/**
 * Segments as pattern text that expands to nothing else: braces and commas (literal after
 * expansion) escaped, and a final backslash (a literal one) doubled.
 */
function written(segments: Segment[]): string {
  const escaped = (m: string) => (m === "\\" ? "\\\\" : m.length === 1 ? `\\${m}` : m);
  return segments.map((s) => s.source.replace(/\\.|\\$|[{},]/gs, escaped)).join("/");
}
