import type { CharToken, GlobToken, GroupToken, StarToken } from "./glob-segment.js";

/**
 * Wildcard matching with single-character tokens and stars, remembering only the last star: each
 * star can absorb more characters without revisiting earlier ones, so the work is O(name × pattern).
 */
export function matchTokens(tokens: GlobToken[], name: string[]): boolean {
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

/**
 * Matching with extglob groups by position-set simulation (no backtracking): the set of positions
 * in `name` reachable after each token is carried forward. A group's ends from one start position
 * are computed once per name, so a name of n characters costs O(tokens × n²) at most, whatever
 * the pattern: `+(*a)` against `aaaa…X` answers in microseconds where a backtracking regex takes
 * seconds.
 */
export function matchGroupedTokens(tokens: GlobToken[], name: string[]): boolean {
  const n = name.length;
  const run = groupRun(name);
  let set = new Uint8Array(n + 1);
  set[0] = 1;
  for (const token of tokens) {
    const next = new Uint8Array(n + 1);
    if (token.kind === "group") applyGroup(token, set, next, run);
    else applyPlain(token, set, next, name);
    set = next;
  }
  return set[n] === 1;
}

/** One name's matching state: the memo of group ends by start, and two scratch sets. */
export interface GroupRun {
  name: string[];
  memo: Map<GroupToken, Array<Uint8Array | undefined>>;
  /** Ends of a whole group (its operator applied) by start, for {@link groupEnds}. */
  spans: Map<GroupToken, Array<Uint8Array | undefined>>;
  a: Uint8Array;
  b: Uint8Array;
}

/** A fresh matching state for one name (its code points). */
export function groupRun(name: string[]): GroupRun {
  const n = name.length;
  return { name, memo: new Map(), spans: new Map(), a: new Uint8Array(n + 1), b: new Uint8Array(n + 1) };
}

/**
 * The positions of `run.name` where the group (its operator applied) can end when it starts at
 * `start`; computed once per group and start, O(tokens × n²) at most, like {@link matchGroupedTokens}.
 */
export function groupEnds(group: GroupToken, start: number, run: GroupRun): Uint8Array {
  let byStart = run.spans.get(group);
  if (!byStart) {
    byStart = [];
    run.spans.set(group, byStart);
  }
  const known = byStart[start];
  if (known) return known;
  const n = run.name.length;
  const from = new Uint8Array(n + 1);
  from[start] = 1;
  const ends = new Uint8Array(n + 1);
  applyGroup(group, from, ends, run);
  byStart[start] = ends;
  return ends;
}

/** `to` := the positions reached from `from` by one plain token (`to` is overwritten). */
function applyPlain(token: CharToken | StarToken, from: Uint8Array, to: Uint8Array, name: string[]): void {
  const n = name.length;
  to.fill(0);
  if (token.kind === "star") {
    const first = from.indexOf(1);
    if (first >= 0) to.fill(1, first);
    return;
  }
  for (let i = 0; i < n; i++) if (from[i] && token.test(name[i] as string)) to[i + 1] = 1;
}

/** Positions where one match of any of the group's alternatives can end, starting at `start`. */
function endsOfOne(group: GroupToken, start: number, run: GroupRun): Uint8Array {
  let byStart = run.memo.get(group);
  if (!byStart) {
    byStart = [];
    run.memo.set(group, byStart);
  }
  const known = byStart[start];
  if (known) return known;
  const n = run.name.length;
  const ends = new Uint8Array(n + 1);
  for (const alternative of group.alternatives) {
    let from = run.a;
    let to = run.b;
    from.fill(0);
    from[start] = 1;
    for (const token of alternative) {
      applyPlain(token, from, to, run.name);
      [from, to] = [to, from];
    }
    for (let j = start; j <= n; j++) if (from[j]) ends[j] = 1;
  }
  byStart[start] = ends;
  return ends;
}

/** `next` := the positions reached from `set` by the group (`next` starts empty). */
function applyGroup(group: GroupToken, set: Uint8Array, next: Uint8Array, run: GroupRun): void {
  const n = run.name.length;
  const orOnce = (target: Uint8Array, start: number) => {
    const ends = endsOfOne(group, start, run);
    for (let j = start; j <= n; j++) if (ends[j]) target[j] = 1;
  };
  switch (group.op) {
    case "@":
      for (let i = 0; i <= n; i++) if (set[i]) orOnce(next, i);
      return;
    case "?":
      for (let i = 0; i <= n; i++)
        if (set[i]) {
          next[i] = 1;
          orOnce(next, i);
        }
      return;
    case "!":
      // Any span from i that is not one whole match of the alternatives.
      for (let i = 0; i <= n; i++) {
        if (!set[i]) continue;
        const ends = endsOfOne(group, i, run);
        for (let j = i; j <= n; j++) if (!ends[j]) next[j] = 1;
      }
      return;
    default: {
      // `*`: zero or more matches, `+`: one or more. Matches never end before they start, so one
      // sweep in increasing position order reaches every position a chain of matches can.
      if (group.op === "*") next.set(set);
      else for (let i = 0; i <= n; i++) if (set[i]) orOnce(next, i);
      for (let j = 0; j <= n; j++) if (next[j]) orOnce(next, j);
    }
  }
}
