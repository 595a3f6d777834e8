/**
 * Brace expansion for glob patterns, bounded before it runs: the number of alternatives and their
 * total length are computed arithmetically from the parsed pattern, so `{a,b}` repeated 40 times is
 * refused in microseconds instead of expanding to 2^40 strings.
 *
 * Grammar (bash's, which is also picomatch's): `{x,y,...}` is a choice between the comma-separated
 * parts (nested braces allowed); `{1..9}`, `{01..10}`, `{a..e}` and `{1..9..2}` are ranges; a brace
 * with neither a top-level comma nor a valid range (`{1}`, `{}`), an unmatched brace and `\{` are
 * literal characters. Escapes are kept in the output, for the segment tokenizer.
 */

/** The most alternatives a pattern may expand to. */
export const MAX_GLOB_ALTERNATIVES = 1024;
/** The most characters all alternatives of a pattern may add up to. */
export const MAX_GLOB_EXPANDED_CHARS = 16_384;

type Part = string | Choice;
/** A brace: one of `options`, each a sequence of parts; `size` alone for a range too large to build. */
interface Choice {
  options: Part[][];
  size?: number;
}

/** The expanded alternatives, or the reason the pattern was refused. */
export type BraceExpansion = { ok: true; alternatives: string[] } | { ok: false; reason: string };

export function expandGlobBraces(pattern: string): BraceExpansion {
  if (!pattern.includes("{")) return { ok: true, alternatives: [pattern] };
  const parts = parseParts(pattern, 0, pattern.length, matchBraces(pattern));
  const { count, chars } = measure(parts);
  if (count > MAX_GLOB_ALTERNATIVES) {
    return { ok: false, reason: `its braces expand to more than ${MAX_GLOB_ALTERNATIVES} alternatives` };
  }
  if (chars > MAX_GLOB_EXPANDED_CHARS) {
    return { ok: false, reason: `its braces expand to more than ${MAX_GLOB_EXPANDED_CHARS} characters in all` };
  }
  return { ok: true, alternatives: [...new Set(expand(parts))] };
}

/** For each `{` that has a matching `}`, the index of that `}`, and the top-level commas between. */
interface BraceMatch {
  close: number;
  commas: number[];
}

function matchBraces(pattern: string): Map<number, BraceMatch> {
  const matches = new Map<number, BraceMatch>();
  const open: Array<{ at: number; commas: number[] }> = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "{") open.push({ at: i, commas: [] });
    else if (c === "," && open.length > 0) open[open.length - 1]?.commas.push(i);
    else if (c === "}") {
      const brace = open.pop();
      if (brace) matches.set(brace.at, { close: i, commas: brace.commas });
    }
  }
  return matches;
}

function parseParts(pattern: string, from: number, to: number, braces: Map<number, BraceMatch>): Part[] {
  const parts: Part[] = [];
  let text = "";
  for (let i = from; i < to; i++) {
    const c = pattern[i] as string;
    if (c === "\\") {
      text += pattern.slice(i, i + 2);
      i++;
      continue;
    }
    const brace = c === "{" ? braces.get(i) : undefined;
    const choice = brace && brace.close < to ? parseChoice(pattern, i, brace, braces) : null;
    if (!brace || !choice) {
      text += c;
      continue;
    }
    if (text !== "") parts.push(text);
    text = "";
    parts.push(choice);
    i = (brace as BraceMatch).close;
  }
  if (text !== "") parts.push(text);
  return parts;
}

function parseChoice(pattern: string, at: number, brace: BraceMatch, braces: Map<number, BraceMatch>): Choice | null {
  if (brace.commas.length === 0) {
    const range = parseRange(pattern.slice(at + 1, brace.close));
    if (!range) return null;
    return range.values ? { options: range.values.map((value) => [value]) } : { options: [], size: range.size };
  }
  const bounds = [at, ...brace.commas, brace.close];
  const options: Part[][] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    options.push(parseParts(pattern, (bounds[k] as number) + 1, bounds[k + 1] as number, braces));
  }
  return { options };
}

const NUMERIC_RANGE = /^(-?\d{1,15})\.\.(-?\d{1,15})(?:\.\.(-?\d{1,15}))?$/;
const CHAR_RANGE = /^([^\\.])\.\.([^\\.])(?:\.\.(-?\d{1,15}))?$/u;

/**
 * The size and values of a range brace, or null when the text is not a range. A range over the
 * alternative cap is only counted, never built.
 */
function parseRange(body: string): { size: number; values?: string[] } | null {
  const numeric = NUMERIC_RANGE.exec(body);
  if (numeric) {
    const [, a, b, s] = numeric as unknown as [string, string, string, string | undefined];
    const from = Number(a);
    const to = Number(b);
    const step = Math.abs(Number(s ?? 1)) || 1;
    const size = Math.floor(Math.abs(to - from) / step) + 1;
    if (size > MAX_GLOB_ALTERNATIVES) return { size };
    const padded = /^-?0\d/.test(a) || /^-?0\d/.test(b);
    const width = padded ? Math.max(a.replace("-", "").length, b.replace("-", "").length) : 0;
    const values: string[] = [];
    for (let k = 0; k < size; k++) {
      const n = from <= to ? from + k * step : from - k * step;
      const digits = String(Math.abs(n)).padStart(width, "0");
      values.push(n < 0 ? `-${digits}` : digits);
    }
    return { size, values };
  }
  const chars = CHAR_RANGE.exec(body);
  if (chars) {
    const from = (chars[1] as string).codePointAt(0) as number;
    const to = (chars[2] as string).codePointAt(0) as number;
    const step = Math.abs(Number(chars[3] ?? 1)) || 1;
    const size = Math.floor(Math.abs(to - from) / step) + 1;
    if (size > MAX_GLOB_ALTERNATIVES) return { size };
    const values: string[] = [];
    for (let k = 0; k < size; k++) values.push(String.fromCodePoint(from <= to ? from + k * step : from - k * step));
    return { size, values };
  }
  return null;
}

/** Alternatives and total characters of a sequence of parts, without expanding it. */
function measure(parts: Part[]): { count: number; chars: number } {
  let count = 1;
  let chars = 0;
  for (const part of parts) {
    const m = typeof part === "string" ? { count: 1, chars: part.length } : measureChoice(part);
    // chars(xy) = chars(x)·count(y) + count(x)·chars(y)
    chars = chars * m.count + count * m.chars;
    count *= m.count;
    if (count > MAX_GLOB_ALTERNATIVES) return { count, chars };
  }
  return { count, chars };
}

function measureChoice(choice: Choice): { count: number; chars: number } {
  if (choice.size !== undefined && choice.options.length === 0) return { count: choice.size, chars: choice.size };
  let count = 0;
  let chars = 0;
  for (const option of choice.options) {
    const m = measure(option);
    count += m.count;
    chars += m.chars;
    if (count > MAX_GLOB_ALTERNATIVES) break;
  }
  return { count, chars };
}

function expand(parts: Part[]): string[] {
  let results = [""];
  for (const part of parts) {
    const tails = typeof part === "string" ? [part] : part.options.flatMap(expand);
    const next: string[] = [];
    for (const head of results) for (const tail of tails) next.push(head + tail);
    results = next;
  }
  return results;
}
