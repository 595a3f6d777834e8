/**
 * Running a path through a {@link GlobAutomaton} (glob-automaton.ts builds it): the set of states
 * reached is carried name by name in buffers allocated once per matcher, so matching costs
 * O(automaton size x path length) plus the bounded whole-name and extglob tests.
 */
import type { GlobAutomaton, NameTest } from "./glob-automaton.js";
import type { GlobToken } from "./glob-segment.js";
import { type GroupRun, groupEnds, groupRun } from "./glob-simulate.js";

/** A set of states: a list, and a stamp per state saying whether it is in the current set. */
class StateSet {
  readonly list: Int32Array;
  count = 0;
  private readonly stamp: Uint32Array;
  private generation = 0;

  constructor(size: number) {
    this.list = new Int32Array(size);
    this.stamp = new Uint32Array(size);
  }

  clear(): void {
    this.count = 0;
    if (this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.generation = 0;
    }
    this.generation++;
  }

  has(state: number): boolean {
    return this.stamp[state] === this.generation;
  }

  /** Adds a state; false when it was there already. */
  add(state: number): boolean {
    if (this.stamp[state] === this.generation) return false;
    this.stamp[state] = this.generation;
    this.list[this.count++] = state;
    return true;
  }
}

// What a state reads at a name: literal names, whole-name tests, characters (bits of `reading`).
const NAMES = 1;
const NAMED = 2;
const CHARS = 4;

/**
 * The matcher of an automaton over relative paths. It keeps its buffers between calls, so it must
 * not be entered again while it runs (it calls only name and character tests, which never match).
 */
export function automatonMatcher(automaton: GlobAutomaton): (relativePath: string) => boolean {
  const { final, names: exact, named, tests, globstar, trailingGlobstar, chars: exactChars, tokens } = automaton;
  const states = final.length;
  // The states at a name boundary are `loops`, reached through a `**` (which may then read any
  // number of names, so they stay for the rest of the path), and `here`, reached by the last name.
  // A state's `**` transitions are followed once per path.
  const loops = new StateSet(states);
  const followed = new StateSet(states);
  // Reached through a trailing `**`: one name at least, so in `loops` from the next boundary on.
  const later = new StateSet(states);
  let here = new StateSet(states);
  let after = new StateSet(states);
  const starts = new StateSet(states);
  const reading = new Uint8Array(states);
  for (let s = 0; s < states; s++) {
    reading[s] =
      (exact.has(s) ? NAMES : 0) |
      ((named.from[s + 1] as number) > (named.from[s] as number) ? NAMED : 0) |
      (exactChars.has(s) || (tokens.from[s + 1] as number) > (tokens.from[s] as number) ? CHARS : 0);
  }
  // Each whole-name test runs once per name: `testedAt[test] === nameCount` when it ran on this one.
  const testedAt = new Float64Array(tests.length).fill(-1);
  const testResult = new Uint8Array(tests.length);
  let nameCount = 0;
  const reader = nameReader(automaton);
  // The name being read: `path.slice(start, end)`, sliced and split into code points only if needed.
  let path = "";
  let start = 0;
  let end = 0;
  let name: string | undefined;
  let chars: string[] | undefined;
  const nameOf = () => {
    name ??= path.slice(start, end);
    return name;
  };
  const charsOf = () => {
    chars ??= [...nameOf()];
    return chars;
  };

  const follow = (s: number): void => {
    if (!followed.add(s)) return;
    for (let e = globstar.from[s] as number, stop = globstar.from[s + 1] as number; e < stop; e++) {
      const t = globstar.to[e] as number;
      loops.add(t);
      follow(t);
    }
    for (let e = trailingGlobstar.from[s] as number, stop = trailingGlobstar.from[s + 1] as number; e < stop; e++) {
      later.add(trailingGlobstar.to[e] as number);
    }
  };

  /** Adds to `after` the states `s` reaches by reading the whole current name. */
  const step = (s: number): void => {
    const what = reading[s] as number;
    if (what === 0) return;
    if (what & NAMES) {
      const to = exact.getName(s, path, start, end, nameOf);
      // A state that reads nothing and ends nothing matters only until its `**` is followed.
      if (to >= 0 && (reading[to] !== 0 || final[to] === 1 || !followed.has(to))) after.add(to);
    }
    if (what & NAMED) {
      for (let e = named.from[s] as number, stop = named.from[s + 1] as number; e < stop; e++) {
        const test = named.on[e] as number;
        if (testedAt[test] !== nameCount) {
          testedAt[test] = nameCount;
          testResult[test] = (tests[test] as NameTest)(path, start, end, charsOf) ? 1 : 0;
        }
        if (testResult[test]) after.add(named.to[e] as number);
      }
    }
    if (what & CHARS) starts.add(s);
  };

  return (relativePath) => {
    path = relativePath;
    loops.clear();
    followed.clear();
    later.clear();
    here.clear();
    here.add(0);
    for (start = 0; ; start = end + 1) {
      for (let k = 0; k < here.count; k++) follow(here.list[k] as number);
      const slash = path.indexOf("/", start);
      end = slash < 0 ? path.length : slash;
      name = undefined;
      chars = undefined;
      nameCount++;
      after.clear();
      starts.clear();
      for (let k = 0; k < loops.count; k++) step(loops.list[k] as number);
      for (let k = 0; k < here.count; k++) if (!loops.has(here.list[k] as number)) step(here.list[k] as number);
      if (starts.count > 0) reader(charsOf(), starts, after);
      for (let k = 0; k < later.count; k++) {
        const t = later.list[k] as number;
        if (loops.add(t)) follow(t);
      }
      later.clear();
      if (after.count === 0 && loops.count === 0) return false;
      const swap = here;
      here = after;
      after = swap;
      if (slash < 0) break;
    }
    for (let k = 0; k < here.count; k++) follow(here.list[k] as number);
    for (let k = 0; k < here.count; k++) if (final[here.list[k] as number]) return true;
    for (let k = 0; k < loops.count; k++) if (final[loops.list[k] as number]) return true;
    return false;
  };
}

/**
 * Reads one name's code points from the states in `starts` through the character transitions, and
 * adds to `ends` the states after the end of the name. Stars and extglob groups are sets of
 * positions, never backtracking: a star, once entered, stays entered for the rest of the name.
 */
function nameReader(automaton: GlobAutomaton): (name: string[], starts: StateSet, ends: StateSet) => void {
  const { chars, tokens, nameEnd } = automaton;
  const states = nameEnd.length;
  let current = new StateSet(states);
  let next = new StateSet(states);
  const stars = new StateSet(states);
  // States that only end the name (`prefix*`): after a star they are reached at its end, at once.
  const endsOnly = new Uint8Array(states);
  for (let s = 0; s < states; s++) {
    endsOnly[s] = !chars.has(s) && tokens.from[s + 1] === tokens.from[s] && (nameEnd[s] as number) >= 0 ? 1 : 0;
  }

  return (name, starts, ends) => {
    const length = name.length;
    let run: GroupRun | undefined;
    // Group matches that end further on in the name: position → states.
    let pending: Array<number[] | undefined> | undefined;
    let lastPending = -1;
    current.clear();
    for (let k = 0; k < starts.count; k++) current.add(starts.list[k] as number);
    stars.clear();
    for (let p = 0; ; p++) {
      const c = name[p] as string;
      next.clear();
      for (let k = 0; k < current.count; k++) {
        const s = current.list[k] as number;
        if (p === length) {
          if ((nameEnd[s] as number) >= 0) ends.add(nameEnd[s] as number);
        } else {
          const to = chars.get(s, c);
          if (to >= 0) next.add(to);
        }
        for (let e = tokens.from[s] as number, end = tokens.from[s + 1] as number; e < end; e++) {
          const token = tokens.on[e] as GlobToken;
          const to = tokens.to[e] as number;
          if (token.kind === "char") {
            if (p < length && token.test(c)) next.add(to);
          } else if (token.kind === "star") {
            if (endsOnly[to]) ends.add(nameEnd[to] as number);
            else if (stars.add(to)) current.add(to);
          } else {
            run ??= groupRun(name);
            const reach = groupEnds(token, p, run);
            if (reach[p]) current.add(to);
            for (let q = p + 1; q <= length; q++) {
              if (!reach[q]) continue;
              pending ??= [];
              const at = pending[q] ?? [];
              pending[q] = at;
              // At most one entry per state and position, whatever the starts.
              if (!at.includes(to)) at.push(to);
              if (q > lastPending) lastPending = q;
            }
          }
        }
      }
      if (p === length) return;
      // A star reads any character of a name.
      for (let k = 0; k < stars.count; k++) next.add(stars.list[k] as number);
      for (const t of pending?.[p + 1] ?? []) next.add(t);
      if (next.count === 0 && lastPending <= p + 1) return;
      const swap = current;
      current = next;
      next = swap;
    }
  };
}
