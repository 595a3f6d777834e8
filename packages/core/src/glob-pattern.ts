import { buildGlobAutomaton, type GlobAutomaton, nameTest } from "./glob-automaton.js";
import { automatonMatcher } from "./glob-automaton-match.js";
import { expandGlobBraces } from "./glob-braces.js";
import { parseSegment, type Segment, type SegmentParse } from "./glob-segment.js";

/** Longest accepted glob pattern, in characters (the longest path). */
export const MAX_GLOB_LENGTH = 4096;
/**
 * Most tokens that extglob groups (`@(...)`, `*(...)`, ...) may hold in a pattern, over all its
 * brace alternatives: matching a group costs up to (name length)² per token, so this bounds the
 * work per name.
 */
export const MAX_EXTGLOB_TOKENS = 128;

/**
 * Bound on the size of a pattern's automaton (states plus transitions that are not a literal name or
 * character, glob-automaton.ts), per character of the pattern plus a constant: matching costs
 * O(size × path length), so this keeps the cost of a pattern proportional to its length. Brace
 * alternatives that share their parts stay far below it (`{**,?}/` nine times, 64 characters and
 * 512 alternatives, has size 66); many distinct wildcards in few characters (`*[{!..Ͽ}]*`, a
 * thousand different classes) are refused.
 */
export const MAX_GLOB_AUTOMATON_PER_CHAR = 4;
const MAX_GLOB_AUTOMATON_BASE = 64;

/** A validated pattern: its brace alternatives, each a list of segments (`**` or a name matcher). */
export interface ParsedGlob {
  alternatives: Segment[][];
  /** The literal directory names every match of each alternative starts with (for narrowing). */
  literalPrefixes: string[][];
  /** All alternatives as one automaton (glob-automaton.ts). */
  automaton: GlobAutomaton;
}

/** Outcome of {@link checkGlobPattern}. */
export type GlobCheck =
  | { ok: true; glob: ParsedGlob }
  | { ok: false; code: "invalid_path" | "invalid_argument"; error: string };

// The same characters paths refuse: they can never occur in a stored name.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

function refuse(pattern: string, code: "invalid_path" | "invalid_argument", reason: string): GlobCheck {
  const shown = JSON.stringify(pattern.length > 120 ? `${pattern.slice(0, 120)}…` : pattern);
  return { ok: false, code, error: `Invalid glob pattern ${shown}: ${reason}` };
}

/**
 * Validates a glob pattern before any I/O, as paths are validated: no `.` or `..` segment in any
 * brace alternative (`invalid_path`), no control characters or lone surrogates, and a cost bounded
 * by the pattern's length: braces are counted before they are expanded, extglob groups may not nest
 * and hold at most {@link MAX_EXTGLOB_TOKENS} tokens, and the automaton matching all alternatives at
 * once is at most {@link MAX_GLOB_AUTOMATON_PER_CHAR} per character (`invalid_argument`, saying which
 * limit).
 */
export function checkGlobPattern(pattern: unknown): GlobCheck {
  if (typeof pattern !== "string" || pattern === "") {
    return { ok: false, code: "invalid_argument", error: "glob pattern must be a non-empty string" };
  }
  if (pattern.length > MAX_GLOB_LENGTH) {
    return refuse(pattern, "invalid_argument", `longer than ${MAX_GLOB_LENGTH} characters`);
  }
  if (CONTROL_CHARS.test(pattern)) return refuse(pattern, "invalid_path", "control characters are not allowed");
  if (!pattern.isWellFormed()) return refuse(pattern, "invalid_path", "lone UTF-16 surrogates are not allowed");
  const expanded = expandGlobBraces(pattern);
  if (!expanded.ok) return refuse(pattern, "invalid_argument", expanded.reason);
  const alternatives: Segment[][] = [];
  const literalPrefixes: string[][] = [];
  let extglobTokens = 0;
  // Alternatives repeat segments (`{a,b}/{c,d}`): each text is parsed once.
  const parsedSegments = new Map<string, SegmentParse>();
  for (const alternative of expanded.alternatives) {
    const segments: Segment[] = [];
    const prefix: string[] = [];
    let literalSoFar = true;
    for (const text of splitSegments(alternative)) {
      if (text === "") continue;
      let parsed = parsedSegments.get(text);
      if (!parsed) {
        parsed = parseSegment(text);
        parsedSegments.set(text, parsed);
      }
      if (!parsed.ok) return refuse(pattern, "invalid_argument", parsed.reason);
      const segment = parsed.segment;
      if (segment.literal === "." || segment.literal === "..") {
        return refuse(pattern, "invalid_path", `'${segment.literal}' segments are not allowed (in "${alternative}")`);
      }
      extglobTokens += segment.groupTokens;
      if (extglobTokens > MAX_EXTGLOB_TOKENS) {
        return refuse(pattern, "invalid_argument", `extglob groups hold more than ${MAX_EXTGLOB_TOKENS} tokens in all`);
      }
      // `**/**` is the same as `**`.
      if (segment.globstar && segments[segments.length - 1]?.globstar) continue;
      segments.push(segment);
      if (literalSoFar && segment.literal !== undefined) prefix.push(segment.literal);
      else literalSoFar = false;
    }
    // The last segment names files, never a directory to descend into.
    if (literalSoFar && prefix.length > 0) prefix.pop();
    alternatives.push(segments);
    literalPrefixes.push(prefix);
  }
  const automaton = buildGlobAutomaton(alternatives);
  const maxSize = MAX_GLOB_AUTOMATON_PER_CHAR * pattern.length + MAX_GLOB_AUTOMATON_BASE;
  if (automaton.size > maxSize) {
    return refuse(
      pattern,
      "invalid_argument",
      `its braces make a matcher of ${automaton.size} states and transitions, more than ${maxSize} for its length`,
    );
  }
  return { ok: true, glob: { alternatives, literalPrefixes, automaton } };
}

/** Splits on `/` outside extglob parentheses, keeping escapes; empty segments (`//`) stay empty. */
function splitSegments(pattern: string): string[] {
  const segments: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "(" && i > 0 && "?*+@!".includes(pattern[i - 1] as string)) depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (c === "/" && depth === 0) {
      segments.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  segments.push(pattern.slice(start));
  return segments;
}

/** Most alternatives the last-name shortcut tests one by one; past it the automaton shares their work. */
const MAX_LAST_NAME_TESTS = 8;

/**
 * Compiles a validated pattern into a matcher over relative POSIX paths whose cost per path is
 * bounded by the pattern's length times the path's: all brace alternatives are matched at once by
 * one automaton (glob-automaton.ts) whose size the check bounded, names by a wildcard automaton (no
 * regex backtracking), extglob groups by position-set simulation.
 */
export function compileParsedGlob(glob: ParsedGlob): (relativePath: string) => boolean {
  // A few alternatives `**/x` (the common `**/*.ts`): only the last name counts, and the path is
  // not split. The automaton gives the same answer.
  const lastNameTests = glob.alternatives.map((segments) =>
    segments.length === 2 && segments[0]?.globstar && !segments[1]?.globstar ? nameTest(segments[1] as Segment) : null,
  );
  if (lastNameTests.length <= MAX_LAST_NAME_TESTS && lastNameTests.every((test) => test !== null)) {
    return (path) => {
      const start = path.lastIndexOf("/") + 1;
      let chars: string[] | undefined;
      const charsOf = () => {
        chars ??= [...path.slice(start)];
        return chars;
      };
      return lastNameTests.some((test) => test?.(path, start, path.length, charsOf));
    };
  }
  return automatonMatcher(glob.automaton);
}
