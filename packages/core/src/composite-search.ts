/**
 * The router's fan-out of grep and glob: every member below the search directory is asked at the
 * same time with a query in its own paths (the caller's query object with its directory, filter
 * and matcher rewritten, never a re-parsed argument list), and the answers are merged in caller
 * paths. The facade sorts, caps and writes the sentences.
 */
import { innerPath, type MountTable, outerPath, type SearchTarget } from "./composite-mounts.js";
import { callMember, outerEntry, outerMatch } from "./composite-paths.js";
import { forwardPattern } from "./composite-patterns.js";
import type { GlobQuery } from "./glob.js";
import { type GrepQuery, GrepTally, grepAnswerTooLarge } from "./grep.js";
import { type DriverEntry, type Fault, isFault } from "./kit/driver.js";
import { globDriver, grepDriver } from "./kit/search.js";
import { isWithin } from "./paths.js";
import type { GrepMatch } from "./protocol.js";

/** How members without a native grep are searched. */
export interface SearchOptions {
  concurrency: number;
  maxFileBytes: number;
}

/**
 * One member's matches (in caller paths, visible, accepted by the filter), at most what the
 * caller needs plus whether more exist. When the member cannot be asked exactly (shadowed files,
 * a filter the mount changes) it is asked again for more until enough visible matches are known.
 */
async function grepMember(
  table: MountTable,
  t: SearchTarget,
  query: GrepQuery,
  options: SearchOptions & { signal?: AbortSignal },
): Promise<{ matches: GrepMatch[]; more: boolean } | Fault> {
  let glob = query.glob;
  let exact = !t.shadowed;
  if (glob?.includes("/")) {
    const forwarded = forwardPattern(glob, query.dir, t);
    if (forwarded === "none") return { matches: [], more: false };
    if (forwarded === "superset") {
      glob = null;
      exact = false;
    } else {
      glob = forwarded.pattern;
    }
  }
  const wanted = (outer: string) => query.accepts(outer) && table.isVisible(t, outer);
  // A driver that applies `accepts` itself gets the caller's exact decision, in its own paths.
  const accepts = (inner: string) => wanted(outerPath(t.mount, inner));
  let cap = query.maxCount;
  for (;;) {
    const memberQuery: GrepQuery = { ...query, dir: t.root, glob, maxCount: cap, accepts };
    const found = await callMember(t.mount, () => grepDriver(t.mount.driver, memberQuery, options));
    if (isFault(found)) return found;
    const listed = found.matches ?? [];
    const matches: GrepMatch[] = [];
    for (const match of listed) {
      const outer = outerMatch(t.mount, match);
      if (wanted(outer.path)) matches.push(outer);
    }
    const more = found.truncated === true;
    // Stop when the answer is exact, complete, already past the cap, or capped by the member itself.
    if (exact || !more || !Number.isFinite(cap) || matches.length > query.maxCount || listed.length < cap) {
      return { matches, more: more || matches.length > query.maxCount };
    }
    cap = Math.max(cap * 4, query.maxCount + 64);
  }
}

/** Matches of `query` in every member below `query.dir`, unsorted; `truncated` when some member had more. */
export async function grepFanOut(
  table: MountTable,
  query: GrepQuery,
  options: SearchOptions & { signal?: AbortSignal },
): Promise<{ matches: GrepMatch[]; truncated?: boolean } | Fault> {
  const answers = await Promise.all(table.searchTargets(query.dir).map((t) => grepMember(table, t, query, options)));
  const matches: GrepMatch[] = [];
  let more = false;
  // Each member bounds its own answer; together they must stay within the same bounds.
  const tally = new GrepTally(query);
  for (const answer of answers) {
    if (isFault(answer)) return answer;
    if (!tally.add(answer.matches)) return grepAnswerTooLarge(tally);
    // One push per entry: spreading a member's answer into `push` overflows the stack past ~125,000.
    for (const match of answer.matches) matches.push(match);
    more ||= answer.more;
  }
  return more ? { matches, truncated: true } : { matches };
}

/**
 * One member's files that `query` selects, in caller paths. The member is asked with the pattern
 * rewritten for its paths where that keeps its meaning (so a protocol member searches natively),
 * else for everything below its root; the caller's matcher decides either way.
 */
async function globMember(
  table: MountTable,
  t: SearchTarget,
  query: GlobQuery,
  signal: AbortSignal | undefined,
): Promise<DriverEntry[] | Fault> {
  // Every match lies below both the caller's narrowed root and the member's area.
  let root = t.root;
  if (isWithin(query.root, t.area)) root = innerPath(t.mount, query.root);
  else if (!isWithin(t.area, query.root)) return [];
  const forwarded = forwardPattern(query.pattern, query.dir, t);
  if (forwarded === "none") return [];
  const pattern = forwarded === "superset" ? "**" : forwarded.pattern;
  const wanted = (outer: string) => query.matches(outer) && table.isVisible(t, outer);
  const memberQuery: GlobQuery = {
    pattern,
    dir: t.root,
    root,
    matches: (inner) => wanted(outerPath(t.mount, inner)),
  };
  const driver = t.mount.driver;
  if (driver.globList) {
    const listed = await callMember(t.mount, () =>
      (driver.globList as NonNullable<typeof driver.globList>)(memberQuery),
    );
    return isFault(listed) ? listed : listed.map((entry) => outerEntry(t.mount, entry));
  }
  const found = await callMember(t.mount, () => globDriver(driver, memberQuery, signal));
  if (isFault(found)) return found;
  const out: DriverEntry[] = [];
  for (const info of found.files ?? []) {
    const entry = outerEntry(t.mount, { path: info.path, kind: "file", size: info.size ?? 0 });
    if (info.modified_at !== undefined) entry.modifiedAt = info.modified_at;
    out.push(entry);
  }
  return out;
}

/** Files of every member below `query.dir` that `query` selects, unsorted. */
export async function globFanOut(
  table: MountTable,
  query: GlobQuery,
  signal?: AbortSignal,
): Promise<DriverEntry[] | Fault> {
  const answers = await Promise.all(table.searchTargets(query.dir).map((t) => globMember(table, t, query, signal)));
  const files: DriverEntry[] = [];
  for (const answer of answers) {
    if (isFault(answer)) return answer;
    for (const entry of answer) files.push(entry);
  }
  return files;
}
