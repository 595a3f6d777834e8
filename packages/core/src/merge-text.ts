/**
 * A three-way merge of texts, as `git merge-file` does it: the changes from a common ancestor to
 * each side are found by line (jsdiff's Myers diff, bounded), changes that do not touch each other
 * are both applied, and changes that overlap or touch are a conflict unless both sides made the
 * same one. The cost is bounded for any input: the diff gives up past an edit budget, and the
 * merge then answers `too_complex` instead of spending seconds on it.
 */
import { diffArrays } from "diff";
import { lineEditBudget, linesWithEnds } from "./line-diff.js";

/** One place where both sides changed the same lines differently. */
export interface MergeConflictRegion {
  /** 1-based line of the ancestor where the region starts (the line after, for an insertion). */
  line: number;
  /** The ancestor's lines of the region (may be empty: both sides inserted there). */
  base: string;
  /** What the first side (`ours`) has there. */
  ours: string;
  /** What the second side (`theirs`) has there. */
  theirs: string;
}

/** The answer of {@link mergeTexts}. */
export type MergeTextResult =
  | { ok: true; merged: string }
  | { ok: false; reason: "conflict"; conflicts: MergeConflictRegion[] }
  | { ok: false; reason: "too_complex" };

/** A change of one side: the ancestor lines [start, end) become `lines`. */
interface Hunk {
  start: number;
  end: number;
  lines: string[];
}

/**
 * Merges the changes `ours` and `theirs` each made to `base`. Both sides' changes are kept where
 * they touch different lines; where they overlap (or touch, as git counts it), the same change on
 * both sides is kept once and different changes are reported, with both sides, and nothing is merged.
 */
export function mergeTexts(base: string, ours: string, theirs: string): MergeTextResult {
  if (ours === theirs || theirs === base) return { ok: true, merged: ours };
  if (ours === base) return { ok: true, merged: theirs };
  const o = linesWithEnds(base);
  const a = linesWithEnds(ours);
  const b = linesWithEnds(theirs);
  const hunksA = hunksOf(o, a);
  const hunksB = hunksOf(o, b);
  if (hunksA === undefined || hunksB === undefined) return { ok: false, reason: "too_complex" };
  const merged: string[] = [];
  const conflicts: MergeConflictRegion[] = [];
  let at = 0;
  let i = 0;
  let j = 0;
  while (i < hunksA.length || j < hunksB.length) {
    // The next group: hunks of either side chained by overlapping or touching ancestor ranges.
    const first = pickEarlier(hunksA[i], hunksB[j]);
    const start = first.start;
    let end = first.end;
    const groupA: Hunk[] = [];
    const groupB: Hunk[] = [];
    if (first === hunksA[i]) groupA.push(hunksA[i++] as Hunk);
    else groupB.push(hunksB[j++] as Hunk);
    for (;;) {
      const nextA = hunksA[i];
      const nextB = hunksB[j];
      if (nextA !== undefined && nextA.start <= end) {
        groupA.push(nextA);
        end = Math.max(end, nextA.end);
        i++;
      } else if (nextB !== undefined && nextB.start <= end) {
        groupB.push(nextB);
        end = Math.max(end, nextB.end);
        j++;
      } else break;
    }
    for (let k = at; k < start; k++) merged.push(o[k] as string);
    const sideA = applyHunks(o, start, end, groupA);
    const sideB = applyHunks(o, start, end, groupB);
    if (groupB.length === 0 || sameLines(sideA, sideB)) merged.push(...sideA);
    else if (groupA.length === 0) merged.push(...sideB);
    else {
      conflicts.push({
        line: start + 1,
        base: o.slice(start, end).join(""),
        ours: sideA.join(""),
        theirs: sideB.join(""),
      });
    }
    at = end;
  }
  if (conflicts.length > 0) return { ok: false, reason: "conflict", conflicts };
  for (let k = at; k < o.length; k++) merged.push(o[k] as string);
  return { ok: true, merged: merged.join("") };
}

/** The hunk that starts first (an insertion before a change at the same line). */
function pickEarlier(x: Hunk | undefined, y: Hunk | undefined): Hunk {
  if (x === undefined) return y as Hunk;
  if (y === undefined) return x;
  return y.start < x.start || (y.start === x.start && y.end < x.end) ? y : x;
}

/** The ancestor's lines [start, end) with one side's hunks (all inside that range) applied. */
function applyHunks(o: string[], start: number, end: number, hunks: Hunk[]): string[] {
  const out: string[] = [];
  let at = start;
  for (const h of hunks) {
    for (let k = at; k < h.start; k++) out.push(o[k] as string);
    out.push(...h.lines);
    at = h.end;
  }
  for (let k = at; k < end; k++) out.push(o[k] as string);
  return out;
}

function sameLines(x: string[], y: string[]): boolean {
  return x.length === y.length && x.every((line, k) => line === y[k]);
}

/** The changes from `o` to `side` as hunks in ancestor order, or undefined past the edit budget. */
function hunksOf(o: string[], side: string[]): Hunk[] | undefined {
  const parts = diffArrays(o, side, { maxEditLength: lineEditBudget(o.length, side.length) });
  if (parts === undefined) return undefined;
  const hunks: Hunk[] = [];
  let at = 0;
  let open: Hunk | undefined;
  for (const part of parts) {
    const count = part.count ?? part.value.length;
    if (!part.added && !part.removed) {
      open = undefined;
      at += count;
      continue;
    }
    if (open === undefined) {
      open = { start: at, end: at, lines: [] };
      hunks.push(open);
    }
    if (part.removed) {
      at += count;
      open.end = at;
    } else open.lines.push(...(part.value as string[]));
  }
  return hunks;
}
