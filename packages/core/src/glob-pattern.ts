import { expandGlobBraces } from "./glob-braces.js";
import { type GlobToken, parseSegment, type Segment, type SegmentParse } from "./glob-segment.js";
import { matchGroupedTokens, matchTokens } from "./glob-simulate.js";

/** Longest accepted glob pattern, in characters (the longest path). */
export const MAX_GLOB_LENGTH = 4096;
/**
 * Most tokens that extglob groups (`@(...)`, `*(...)`, ...) may hold in a pattern, over all its
 * brace alternatives: matching a group costs up to (name length)² per token, so this bounds the
 * work per name.
 */
export const MAX_EXTGLOB_TOKENS = 128;

/** A validated pattern: its brace alternatives, each a list of segments (`**` or a name matcher). */
export interface ParsedGlob {
  alternatives: Segment[][];
  /** The literal directory names every match of each alternative starts with (for narrowing). */
  literalPrefixes: string[][];
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
 * and hold at most {@link MAX_EXTGLOB_TOKENS} tokens (`invalid_argument`, saying which limit).
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
  for (const alternative of expanded.alternatives) {
    const segments: Segment[] = [];
    const prefix: string[] = [];
    let literalSoFar = true;
    for (const text of splitSegments(alternative)) {
      if (text === "") continue;
      const parsed: SegmentParse = parseSegment(text);
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
  return { ok: true, glob: { alternatives, literalPrefixes } };
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

/**
 * Compiles a validated pattern into a matcher over relative POSIX paths whose cost per path is
 * bounded by the pattern's length: braces are counted before expansion, names are matched by a
 * wildcard automaton (no regex backtracking), extglob groups by position-set simulation, and `**`
 * segments by dynamic programming over segments.
 */
export function compileParsedGlob(glob: ParsedGlob): (relativePath: string) => boolean {
  // Every alternative `**/x` (the common `**/*.ts`): only the last name counts, and the path is
  // not split. The general run below gives the same answer.
  const lastNameTests = glob.alternatives.map((segments) =>
    segments.length === 2 && segments[0]?.globstar && !segments[1]?.globstar ? nameTest(segments[1] as Segment) : null,
  );
  if (lastNameTests.every((test) => test !== null)) {
    return (path) => {
      const names = [path.slice(path.lastIndexOf("/") + 1)];
      let chars: string[] | undefined;
      const charsOf = () => {
        chars ??= [...(names[0] as string)];
        return chars;
      };
      return lastNameTests.some((test) => (test as NameTest)(names, 0, charsOf));
    };
  }
  const alternatives = glob.alternatives.map(compileAlternative);
  return (path) => {
    const names = path.split("/");
    // Each name is split into code points once, whatever the number of brace alternatives.
    const split: Array<string[] | undefined> = [];
    const charsOf = (j: number) => {
      let chars = split[j];
      if (!chars) {
        chars = [...(names[j] as string)];
        split[j] = chars;
      }
      return chars;
    };
    return alternatives.some((match) => match(names, charsOf));
  };
}

/** Tests the name at index `j`; `charsOf(j)` gives its code points. */
type NameTest = (names: string[], j: number, charsOf: (j: number) => string[]) => boolean;

function compileAlternative(segments: Segment[]): (names: string[], charsOf: (j: number) => string[]) => boolean {
  const last = segments.length - 1;
  const tests = segments.map((segment) => (segment.globstar ? null : nameTest(segment)));
  const lastTest = tests[1];
  // `**/x`: any number of names, then one that passes x's test; the general run below gives the same.
  if (tests.length === 2 && tests[0] === null && lastTest) {
    return (names, charsOf) => lastTest(names, names.length - 1, charsOf);
  }
  return (names, charsOf) => {
    // reachable[j]: the segments seen so far can consume exactly names[0..j).
    let reachable = new Uint8Array(names.length + 1);
    reachable[0] = 1;
    for (let i = 0; i < tests.length; i++) {
      const test = tests[i];
      const next = new Uint8Array(names.length + 1);
      if (!test) {
        // Zero or more whole names; a trailing `**` after other segments needs at least one.
        const minimum = i === last && i > 0 ? 1 : 0;
        let open = false;
        for (let j = 0; j <= names.length; j++) {
          if (j - minimum >= 0 && reachable[j - minimum]) open = true;
          if (open) next[j] = 1;
        }
      } else {
        for (let j = 0; j < names.length; j++) {
          if (reachable[j] && test(names, j, charsOf)) next[j + 1] = 1;
        }
      }
      reachable = next;
    }
    return reachable[names.length] === 1;
  };
}

function nameTest(segment: Segment): NameTest {
  const { literal, tokens } = segment;
  if (literal !== undefined) return (names, j) => names[j] === literal;
  // `*suffix` and `prefix*` (the common `*.ts`): a star absorbs whole code points, so on well-formed
  // names this is a plain string test, without splitting the name.
  const fixed = (part: GlobToken[]) => part.every((t) => t.kind === "char" && t.char !== undefined);
  const chars = (part: GlobToken[]) => part.map((t) => (t as { char: string }).char).join("");
  if (tokens.length > 1 && tokens[0]?.kind === "star" && fixed(tokens.slice(1))) {
    const suffix = chars(tokens.slice(1));
    return (names, j) => (names[j] as string).endsWith(suffix);
  }
  if (tokens.length > 1 && tokens[tokens.length - 1]?.kind === "star" && fixed(tokens.slice(0, -1))) {
    const prefix = chars(tokens.slice(0, -1));
    return (names, j) => (names[j] as string).startsWith(prefix);
  }
  if (tokens.some((token) => token.kind === "group")) return (_, j, charsOf) => matchGroupedTokens(tokens, charsOf(j));
  return (_, j, charsOf) => matchTokens(tokens, charsOf(j));
}
