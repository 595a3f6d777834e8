import type { SearchTarget } from "./composite-mounts.js";
import { globSearchRoot } from "./glob.js";
import { isWithin, relativeTo } from "./paths.js";

/** How a member is asked for the files a pattern selects. */
export type ForwardedPattern = { pattern: string } | "superset" | "none";

/**
 * What to ask a member for so that it returns the files `pattern` selects (the glob contract:
 * relative to `dir`, or anchored at the root when it starts with `/`) among its own files:
 * the same pattern when the mapping does not change its meaning, the pattern without the mount's
 * leading segments when those are literal in it, `"none"` when no file of the member can match,
 * and `"superset"` when it cannot be expressed (the member lists everything; the router filters).
 */
export function forwardPattern(pattern: string, dir: string, t: SearchTarget): ForwardedPattern {
  const anchored = pattern.startsWith("/");
  const mount = t.mount.mount;
  // The default backend sees caller paths; a relative pattern keeps its meaning below a route that holds `dir`.
  if (mount === "/" || (!anchored && isWithin(dir, mount))) return { pattern };
  const base = anchored ? "/" : dir;
  const body = anchored ? pattern.replace(/^\/+/, "") : pattern;
  const segments = body.split("/");
  const mountSegments = relativeTo(mount, base).split("/");
  const literalPrefix = relativeTo(globSearchRoot(body, "/"), "/");
  const literal = literalPrefix === "" ? [] : literalPrefix.split("/");
  const shared = Math.min(literal.length, mountSegments.length);
  for (let i = 0; i < shared; i++) if (literal[i] !== mountSegments[i]) return "none";
  if (literal.length >= mountSegments.length) {
    const rest = segments.slice(mountSegments.length).join("/");
    // The member searches from its root, where an anchored pattern means the same; anchoring also
    // keeps a one-segment rest from turning into grep's basename rule.
    return { pattern: anchored || !rest.includes("/") ? `/${rest}` : rest };
  }
  // `**/name` matches by basename at any depth, which a mount prefix does not change.
  if (segments.length === 2 && segments[0] === "**" && segments[1] !== undefined && !segments[1].includes("**")) {
    return { pattern };
  }
  // Without `**`, braces, classes or extglobs every pattern segment matches exactly one path segment,
  // so a pattern shallower than the member's files cannot match any of them.
  if (!/\*\*|[{[(]/.test(body) && segments.length <= mountSegments.length) return "none";
  return "superset";
}
