/**
 * All brace alternatives of a pattern matched at once. The alternatives (segment lists after brace
 * expansion) are the words of one minimal acyclic automaton: alternatives that share a prefix or a
 * suffix share its states, so `{**,?}/` nine times (512 alternatives) needs 26 states. A path is run
 * through it once, carrying the set of states reached (glob-automaton-match.ts).
 *
 * A word's letters are whole names (a literal segment; `**`, zero or more names; a trailing `**`,
 * one or more; a wildcard segment, when the pattern has few distinct ones) or, when it has many
 * (`*{a,b,c,d}` five times in one name makes 1,024), the tokens of the wildcard segments followed
 * by an end-of-name letter, so that they share states too and each name is read once.
 *
 * Cost per path: at each name boundary every state is visited at most once, and inside a name read
 * by tokens once per character; a literal name or character is one lookup per state, any other
 * transition one test. So matching costs O({@link GlobAutomaton.size} × path length), plus at most
 * {@link MAX_NAME_TESTS} whole-name tests per name (each O(name × segment), glob-simulate.ts) and
 * the bounded cost of extglob groups; the pattern check bounds `size` by the pattern's length.
 */
import type { GlobToken, Segment } from "./glob-segment.js";
import { matchGroupedTokens, matchTokens } from "./glob-simulate.js";

/** Tests the name `path.slice(start, end)` (not sliced unless needed); `charsOf()` gives its code points. */
export type NameTest = (path: string, start: number, end: number, charsOf: () => string[]) => boolean;

/**
 * Most distinct wildcard segments a pattern tests as whole names: those tests are not shared
 * between segments, so past this the segments' tokens join the automaton instead.
 */
export const MAX_NAME_TESTS = 8;

/** Transitions on exact strings (literal names, literal characters): at most one per string and state. */
export class ExactTransitions {
  private readonly key: Array<string | undefined> = [];
  private readonly target: number[] = [];
  private readonly keys: Array<Map<string, number> | undefined> = [];

  /** Appends the next state's transitions. */
  push(transitions: Map<string, number>): void {
    const [only] = transitions;
    this.key.push(transitions.size === 1 ? only?.[0] : undefined);
    this.target.push(transitions.size === 1 ? (only?.[1] ?? -1) : -1);
    this.keys.push(transitions.size > 1 ? transitions : undefined);
  }

  has(state: number): boolean {
    return this.key[state] !== undefined || this.keys[state] !== undefined;
  }

  /** The state after reading `key` from `state`, or -1. */
  get(state: number, key: string): number {
    if (this.key[state] === key) return this.target[state] as number;
    return this.keys[state]?.get(key) ?? -1;
  }

  /** The state after reading the name `path.slice(start, end)` from `state`, or -1; `name()` slices it. */
  getName(state: number, path: string, start: number, end: number, name: () => string): number {
    const key = this.key[state];
    if (key !== undefined) {
      return key.length === end - start && path.startsWith(key, start) ? (this.target[state] as number) : -1;
    }
    return this.keys[state]?.get(name()) ?? -1;
  }
}

/** Transitions by state, flattened: those of state `s` are at `from[s] .. from[s + 1] - 1`. */
interface Transitions<T> {
  readonly from: Int32Array;
  readonly on: readonly T[];
  readonly to: Int32Array;
}

function flatten<T>(lists: Array<Array<[on: T, to: number]>>): Transitions<T> {
  const from = new Int32Array(lists.length + 1);
  const on: T[] = [];
  const to: number[] = [];
  lists.forEach((list, s) => {
    from[s] = on.length;
    for (const [letter, target] of list) {
      on.push(letter);
      to.push(target);
    }
  });
  from[lists.length] = on.length;
  return { from, on, to: Int32Array.from(to) };
}

/** A minimal automaton over the alternatives of one pattern; state 0 is the start. */
export interface GlobAutomaton {
  /** States plus transitions other than literal names and characters (each one lookup per state). */
  readonly size: number;
  readonly final: Uint8Array;
  readonly names: ExactTransitions;
  /** Wildcard segments tested as whole names, by index into `tests`. */
  readonly named: Transitions<number>;
  readonly tests: readonly NameTest[];
  /** `**` before another segment: zero or more names. */
  readonly globstar: Transitions<null>;
  /** A trailing `**`: one or more names. */
  readonly trailingGlobstar: Transitions<null>;
  /** Inside a name: literal characters, and the other tokens (classes, `?`, stars, groups). */
  readonly chars: ExactTransitions;
  readonly tokens: Transitions<GlobToken>;
  /** The state after the end of a name read by tokens, or -1. */
  readonly nameEnd: Int32Array;
}

type Letter =
  | { kind: "name"; name: string }
  | { kind: "named"; segment: Segment }
  | { kind: "globstar"; trailing: boolean }
  | { kind: "char"; char: string }
  | { kind: "token"; token: GlobToken }
  | { kind: "end" };

/** The automaton of a validated pattern's alternatives (each with `**` runs collapsed, no empty segment). */
export function buildGlobAutomaton(alternatives: Segment[][]): GlobAutomaton {
  const wildcards = new Set<string>();
  for (const segments of alternatives) {
    for (const s of segments) if (!s.globstar && s.literal === undefined) wildcards.add(s.source);
  }
  const wholeNames = wildcards.size <= MAX_NAME_TESTS;

  // A trie of the alternatives first; a state is created after its parent.
  const children: Array<Map<string, number>> = [new Map()];
  const isFinal: boolean[] = [false];
  const letters = new Map<string, Letter>();
  const step = (from: number, key: string, letter: () => Letter): number => {
    const out = children[from] as Map<string, number>;
    let to = out.get(key);
    if (to === undefined) {
      to = children.length;
      children.push(new Map());
      isFinal.push(false);
      out.set(key, to);
      if (!letters.has(key)) letters.set(key, letter());
    }
    return to;
  };
  for (const segments of alternatives) {
    let state = 0;
    segments.forEach((segment, i) => {
      if (segment.globstar) {
        const trailing = i === segments.length - 1;
        state = step(state, trailing ? "**+" : "**", () => ({ kind: "globstar", trailing }));
      } else if (segment.literal !== undefined) {
        const name = segment.literal;
        state = step(state, `L${name}`, () => ({ kind: "name", name }));
      } else if (wholeNames) {
        state = step(state, `N${segment.source}`, () => ({ kind: "named", segment }));
      } else {
        for (const token of segment.tokens) {
          const char = token.kind === "char" ? token.char : undefined;
          state = step(state, `T${token.key}`, () =>
            char !== undefined ? { kind: "char", char } : { kind: "token", token },
          );
        }
        state = step(state, "/", () => ({ kind: "end" }));
      }
    });
    isFinal[state] = true;
  }

  // Then the states with the same future merged, children before parents (decreasing ids).
  const canonical = new Int32Array(children.length);
  const registry = new Map<string, number>();
  for (let id = children.length - 1; id >= 0; id--) {
    const parts: string[] = [];
    for (const [key, child] of children[id] as Map<string, number>) parts.push(`${key}\u0000${canonical[child]}`);
    const signature = `${isFinal[id] ? 1 : 0}\u0001${parts.sort().join("\u0001")}`;
    const known = registry.get(signature);
    canonical[id] = known ?? id;
    if (known === undefined) registry.set(signature, id);
  }
  const order = [0];
  const index = new Map<number, number>([[0, 0]]);
  for (let k = 0; k < order.length; k++) {
    for (const child of (children[order[k] as number] as Map<string, number>).values()) {
      const state = canonical[child] as number;
      if (!index.has(state)) {
        index.set(state, order.length);
        order.push(state);
      }
    }
  }

  const count = order.length;
  const final = new Uint8Array(count);
  const names = new ExactTransitions();
  const named: Array<Array<[number, number]>> = [];
  const tests: NameTest[] = [];
  const testIndex = new Map<string, number>();
  const globstar: Array<Array<[null, number]>> = [];
  const trailingGlobstar: Array<Array<[null, number]>> = [];
  const chars = new ExactTransitions();
  const tokens: Array<Array<[GlobToken, number]>> = [];
  const nameEnd = new Int32Array(count).fill(-1);
  let tested = 0;
  order.forEach((id, state) => {
    final[state] = isFinal[id] ? 1 : 0;
    const byName = new Map<string, number>();
    const byChar = new Map<string, number>();
    const whole: Array<[number, number]> = [];
    const zeroOrMore: Array<[null, number]> = [];
    const oneOrMore: Array<[null, number]> = [];
    const read: Array<[GlobToken, number]> = [];
    for (const [key, child] of children[id] as Map<string, number>) {
      const to = index.get(canonical[child] as number) as number;
      const letter = letters.get(key) as Letter;
      if (letter.kind === "name") byName.set(letter.name, to);
      else if (letter.kind === "char") byChar.set(letter.char, to);
      else if (letter.kind === "globstar") (letter.trailing ? oneOrMore : zeroOrMore).push([null, to]);
      else if (letter.kind === "token") read.push([letter.token, to]);
      else if (letter.kind === "end") nameEnd[state] = to;
      else {
        let test = testIndex.get(letter.segment.source);
        if (test === undefined) {
          test = tests.length;
          testIndex.set(letter.segment.source, test);
          tests.push(nameTest(letter.segment));
        }
        whole.push([test, to]);
      }
    }
    tested += whole.length + zeroOrMore.length + oneOrMore.length + read.length + (nameEnd[state] === -1 ? 0 : 1);
    names.push(byName);
    chars.push(byChar);
    named.push(whole);
    globstar.push(zeroOrMore);
    trailingGlobstar.push(oneOrMore);
    tokens.push(read);
  });
  return {
    size: count + tested,
    final,
    names,
    named: flatten(named),
    tests,
    globstar: flatten(globstar),
    trailingGlobstar: flatten(trailingGlobstar),
    chars,
    tokens: flatten(tokens),
    nameEnd,
  };
}

/** A whole-name test for one segment; literals, `*suffix` and `prefix*` are plain string tests. */
export function nameTest(segment: Segment): NameTest {
  const { literal, tokens } = segment;
  if (literal !== undefined) {
    return (path, start, end) => end - start === literal.length && path.startsWith(literal, start);
  }
  // `*suffix` and `prefix*` (the common `*.ts`): a star absorbs whole code points, so on well-formed
  // names this is a plain string test, without splitting the name.
  const fixed = (part: GlobToken[]) => part.every((t) => t.kind === "char" && t.char !== undefined);
  const chars = (part: GlobToken[]) => part.map((t) => (t as { char: string }).char).join("");
  if (tokens.length > 1 && tokens[0]?.kind === "star" && fixed(tokens.slice(1))) {
    const suffix = chars(tokens.slice(1));
    return (path, start, end) => end - start >= suffix.length && path.endsWith(suffix, end);
  }
  if (tokens.length > 1 && tokens[tokens.length - 1]?.kind === "star" && fixed(tokens.slice(0, -1))) {
    const prefix = chars(tokens.slice(0, -1));
    return (path, start, end) => end - start >= prefix.length && path.startsWith(prefix, start);
  }
  if (tokens.some((token) => token.kind === "group"))
    return (_, _start, _end, charsOf) => matchGroupedTokens(tokens, charsOf());
  return (_, _start, _end, charsOf) => matchTokens(tokens, charsOf());
}
