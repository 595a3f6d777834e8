import braces from "braces";
import picomatch from "picomatch";

/**
 * Compiles a glob into a matcher over relative POSIX paths that runs in time linear in the path
 * times the pattern, whatever the pattern: regex translations of globs (picomatch included)
 * backtrack polynomially on patterns such as `*a*a*a*a*a*b`, which lets one glob call freeze the
 * process. Braces are expanded with `braces`; each path segment is matched by a wildcard automaton
 * over single-character tokens; `**` segments are matched by dynamic programming over segments.
 * picomatch is kept only for extglob segments (`+(a|b)` ...), which cannot be tokenised that way.
 */
export function compileGlob(pattern: string): (relativePath: string) => boolean {
  const alternatives = expandBraces(pattern).map(compileAlternative);
  return (path) => {
    const names = path.split("/");
    return alternatives.some((match) => match(names));
  };
}

/** At most this many alternatives from brace expansion; past that, braces match literally. */
const MAX_ALTERNATIVES = 1024;

function expandBraces(pattern: string): string[] {
  if (!pattern.includes("{")) return [pattern];
  try {
    const expanded = braces(pattern, { expand: true, rangeLimit: MAX_ALTERNATIVES });
    if (expanded.length > 0 && expanded.length <= MAX_ALTERNATIVES) return [...new Set(expanded)];
  } catch {
    // An over-long range: fall through and treat the braces as literal characters.
  }
  return [pattern];
}

type SegmentMatcher = "globstar" | ((name: string) => boolean);

function compileAlternative(pattern: string): (names: string[]) => boolean {
  const parts = pattern.split("/").filter((part) => part !== "" && part !== ".");
  // `**/**` is the same as `**`.
  const segments: SegmentMatcher[] = [];
  for (const part of parts) {
    const matcher = part === "**" ? "globstar" : compileSegment(part);
    if (matcher === "globstar" && segments[segments.length - 1] === "globstar") continue;
    segments.push(matcher);
  }
  const last = segments.length - 1;
  return (names) => {
    // reachable[j]: the segments seen so far can consume exactly names[0..j).
    let reachable = new Uint8Array(names.length + 1);
    reachable[0] = 1;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as SegmentMatcher;
      const next = new Uint8Array(names.length + 1);
      if (segment === "globstar") {
        // Zero or more whole names; a trailing `**` after other segments needs at least one.
        const minimum = i === last && i > 0 ? 1 : 0;
        let open = false;
        for (let j = 0; j <= names.length; j++) {
          if (j - minimum >= 0 && reachable[j - minimum]) open = true;
          if (open) next[j] = 1;
        }
      } else {
        for (let j = 0; j < names.length; j++) {
          if (reachable[j] && segment(names[j] as string)) next[j + 1] = 1;
        }
      }
      reachable = next;
    }
    return reachable[names.length] === 1;
  };
}

type Token = { kind: "star" } | { kind: "char"; test: (c: string) => boolean };

const EXTGLOB = /[?*+@!]\(/;
const ANY_CHAR: Token = { kind: "char", test: () => true };

function compileSegment(segment: string): (name: string) => boolean {
  if (EXTGLOB.test(segment)) {
    const regex = picomatch.makeRe(segment, { dot: true, nonegate: true, fastpaths: false });
    return (name) => regex.test(name);
  }
  const tokens = tokenize(segment);
  return (name) => matchTokens(tokens, [...name]);
}

function tokenize(segment: string): Token[] {
  const chars = [...segment];
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === "*") {
      // Consecutive stars inside a name mean one star (`**.ts` does not cross directories).
      if (tokens[tokens.length - 1]?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === "?") {
      tokens.push(ANY_CHAR);
    } else if (c === "\\" && i + 1 < chars.length) {
      tokens.push(literal(chars[++i] as string));
    } else if (c === "[") {
      const parsed = parseClass(chars, i);
      if (parsed) {
        tokens.push({ kind: "char", test: parsed.test });
        i = parsed.end;
      } else {
        tokens.push(literal(c));
      }
    } else {
      tokens.push(literal(c));
    }
  }
  return tokens;
}

function literal(c: string): Token {
  return { kind: "char", test: (x) => x === c };
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

/**
 * Wildcard matching with single-character tokens and stars, remembering only the last star: each
 * star can absorb more characters without revisiting earlier ones, so the work is O(name × pattern).
 */
function matchTokens(tokens: Token[], name: string[]): boolean {
  let t = 0;
  let n = 0;
  let starToken = -1;
  let starName = 0;
  while (n < name.length) {
    const token = tokens[t];
    if (token?.kind === "char" && token.test(name[n] as string)) {
      t++;
      n++;
    } else if (token?.kind === "star") {
      starToken = t++;
      starName = n;
    } else if (starToken !== -1) {
      t = starToken + 1;
      n = ++starName;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === "star") t++;
  return t === tokens.length;
}
