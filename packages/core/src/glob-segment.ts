/**
 * One path segment of a glob pattern (between `/`s), tokenised for the bounded matchers of
 * glob-simulate.ts: single-character tests, stars, and extglob groups (`@(a|b)`, `?(...)`,
 * `*(...)`, `+(...)`, `!(...)`) whose alternatives hold only characters and stars. Every token has
 * a `key` (its text, escapes resolved for literals): tokens with equal keys match the same
 * characters, so the brace alternatives of a pattern share them in one automaton (glob-automaton.ts).
 */

/** One character: `?`, a class, or a literal (then `char` is set). */
export interface CharToken {
  kind: "char";
  key: string;
  test: (c: string) => boolean;
  char?: string;
}
export interface StarToken {
  kind: "star";
  key: string;
}
/** An extglob group; its alternatives never hold another group. */
export interface GroupToken {
  kind: "group";
  key: string;
  op: "@" | "?" | "*" | "+" | "!";
  alternatives: Array<Array<CharToken | StarToken>>;
}
export type GlobToken = CharToken | StarToken | GroupToken;

export interface Segment {
  /** The segment as written (escapes kept); segments with the same source match the same names. */
  source: string;
  /** A whole-segment `**`. */
  globstar: boolean;
  tokens: GlobToken[];
  /** The name this segment matches when it has no wildcard (escapes resolved). */
  literal?: string;
  /** Tokens inside extglob groups: their matching cost is quadratic in the name. */
  groupTokens: number;
}

export type SegmentParse = { ok: true; segment: Segment } | { ok: false; reason: string };

const ANY_CHAR: CharToken = { kind: "char", key: "?", test: () => true };
const STAR: StarToken = { kind: "star", key: "*" };
const GROUP_OPS = "@?*+!";

export function parseSegment(text: string): SegmentParse {
  if (text === "**") return { ok: true, segment: { source: text, globstar: true, tokens: [], groupTokens: 0 } };
  const chars = [...text];
  const tokens: GlobToken[] = [];
  let groupTokens = 0;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (GROUP_OPS.includes(c) && chars[i + 1] === "(") {
      const group = parseGroup(chars, i);
      if ("reason" in group) return { ok: false, reason: group.reason };
      if (group.token) {
        tokens.push(group.token);
        groupTokens += group.size;
        i = group.end;
        continue;
      }
    }
    const token = parseCharOrStar(chars, i);
    i = token.end;
    // Consecutive stars inside a name mean one star (`**.ts` does not cross directories).
    if (token.token.kind === "star" && tokens[tokens.length - 1]?.kind === "star") continue;
    tokens.push(token.token);
  }
  const literal = tokens.every((t) => t.kind === "char" && t.char !== undefined)
    ? tokens.map((t) => (t as CharToken).char).join("")
    : undefined;
  const segment: Segment = { source: text, globstar: false, tokens, groupTokens };
  if (literal !== undefined) segment.literal = literal;
  return { ok: true, segment };
}

/**
 * Parses the group opening at `start` (`@(`): a token, or `token: null` when it has no closing
 * parenthesis (then its characters are literal), or a reason to refuse it.
 */
function parseGroup(
  chars: string[],
  start: number,
): { token: GroupToken | null; end: number; size: number } | { reason: string } {
  const op = chars[start] as GroupToken["op"];
  const alternatives: GroupToken["alternatives"] = [];
  let current: Array<CharToken | StarToken> = [];
  let size = 0;
  for (let i = start + 2; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === ")") {
      alternatives.push(current);
      const key = chars.slice(start, i + 1).join("");
      return { token: { kind: "group", key, op, alternatives }, end: i, size: size + 1 };
    }
    if (c === "|") {
      alternatives.push(current);
      current = [];
      continue;
    }
    if (GROUP_OPS.includes(c) && chars[i + 1] === "(") {
      return {
        reason: "nested extglob groups (a group inside @(...), *(...), +(...), ?(...) or !(...)) are not supported",
      };
    }
    const token = parseCharOrStar(chars, i);
    i = token.end;
    if (!(token.token.kind === "star" && current[current.length - 1]?.kind === "star")) current.push(token.token);
    size++;
  }
  return { token: null, end: start, size: 0 };
}

function parseCharOrStar(chars: string[], i: number): { token: CharToken | StarToken; end: number } {
  const c = chars[i] as string;
  if (c === "*") return { token: STAR, end: i };
  if (c === "?") return { token: ANY_CHAR, end: i };
  if (c === "\\" && i + 1 < chars.length) return { token: literal(chars[i + 1] as string), end: i + 1 };
  if (c === "[") {
    const parsed = parseClass(chars, i);
    if (parsed) {
      const key = chars.slice(i, parsed.end + 1).join("");
      return { token: { kind: "char", key, test: parsed.test }, end: parsed.end };
    }
  }
  return { token: literal(c), end: i };
}

// Tokens for ASCII literals are shared: a pattern with 1,024 brace alternatives reuses them.
const ASCII_LITERALS: CharToken[] = Array.from({ length: 128 }, (_, code) => {
  const c = String.fromCharCode(code);
  return { kind: "char", key: `=${c}`, test: (x: string) => x === c, char: c };
});

function literal(c: string): CharToken {
  const code = c.charCodeAt(0);
  if (c.length === 1 && code < 128) return ASCII_LITERALS[code] as CharToken;
  return { kind: "char", key: `=${c}`, test: (x) => x === c, char: c };
}

const POSIX_CLASSES: Record<string, (c: string) => boolean> = {
  alnum: (c) => /^[\p{L}\p{N}]$/u.test(c),
  alpha: (c) => /^\p{L}$/u.test(c),
  digit: (c) => c >= "0" && c <= "9",
  lower: (c) => /^\p{Ll}$/u.test(c),
  upper: (c) => /^\p{Lu}$/u.test(c),
  space: (c) => /^\s$/u.test(c),
  punct: (c) => /^[\p{P}\p{S}]$/u.test(c),
  xdigit: (c) => /^[0-9A-Fa-f]$/.test(c),
  word: (c) => /^[\p{L}\p{N}_]$/u.test(c),
};

/** Parses `[...]` starting at `start`; null when it is not a complete class (then `[` is literal). */
function parseClass(chars: string[], start: number): { test: (c: string) => boolean; end: number } | null {
  let i = start + 1;
  const negated = chars[i] === "!" || chars[i] === "^";
  if (negated) i++;
  const tests: Array<(c: string) => boolean> = [];
  let first = true;
  for (; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "]" && !first) {
      const test = (x: string) => tests.some((t) => t(x)) !== negated;
      return { test, end: i };
    }
    first = false;
    if (c === "[" && chars[i + 1] === ":") {
      const close = chars.indexOf(":", i + 2);
      const name = close > 0 && chars[close + 1] === "]" ? chars.slice(i + 2, close).join("") : "";
      const posix = POSIX_CLASSES[name];
      if (posix) {
        tests.push(posix);
        i = close + 1;
        continue;
      }
    }
    const lo = c === "\\" && i + 1 < chars.length ? (chars[++i] as string) : c;
    if (chars[i + 1] === "-" && i + 2 < chars.length && chars[i + 2] !== "]") {
      const hi = chars[i + 2] as string;
      i += 2;
      const from = lo.codePointAt(0) as number;
      const to = hi.codePointAt(0) as number;
      tests.push((x) => {
        const cp = x.codePointAt(0) as number;
        return cp >= from && cp <= to;
      });
    } else {
      tests.push((x) => x === lo);
    }
  }
  return null;
}
