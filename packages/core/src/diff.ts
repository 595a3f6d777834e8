/**
 * Diffs for people reviewing what an agent changed: a unified diff of two texts (jsdiff, the `diff`
 * package), and a one-line summary for binary files, whose bytes mean nothing in a patch.
 */
import { createTwoFilesPatch } from "diff";
import { diffableText, lineEditBudget, linesWithEnds } from "./line-diff.js";
import { countLines, utf8ByteLength } from "./text.js";

/** One side of a change: text, bytes, or `null` for a file that does not exist on that side. */
export type DiffSide = string | Uint8Array | null;

/** Options of {@link unifiedDiff}. */
export interface UnifiedDiffOptions {
  /** Unchanged lines shown around each change (default 3, as git). */
  context?: number;
}

/**
 * A unified diff of `before` and `after` (as `git diff` shows it: `--- a/path`, `+++ b/path`, and
 * `/dev/null` for the side of a file that does not exist), or `""` when the texts are equal.
 */
export function unifiedDiff(
  path: string,
  before: string | null,
  after: string | null,
  options: UnifiedDiffOptions = {},
): string {
  if (before === after) return "";
  const oldName = before === null ? "/dev/null" : `a${path}`;
  const newName = after === null ? "/dev/null" : `b${path}`;
  const oldText = before ?? "";
  const newText = after ?? "";
  const patch = createTwoFilesPatch(oldName, newName, oldText, newText, undefined, undefined, {
    context: options.context ?? 3,
    maxEditLength: lineEditBudget(countLines(oldText), countLines(newText)),
  });
  // Past the budget: the whole file replaced, a correct patch at linear cost.
  if (patch === undefined) return wholeReplacement(oldName, newName, oldText, newText);
  // jsdiff starts with a separator line for the two names; a patch starts at `---`.
  const start = patch.indexOf("--- ");
  return start > 0 ? patch.slice(start) : patch;
}

/** A unified diff that removes every line of `before` and adds every line of `after`, in one hunk. */
function wholeReplacement(oldName: string, newName: string, before: string, after: string): string {
  const oldLines = linesWithEnds(before);
  const newLines = linesWithEnds(after);
  const range = (count: number) => (count === 0 ? "0,0" : `1,${count}`);
  const out = [`--- ${oldName}\n+++ ${newName}\n@@ -${range(oldLines.length)} +${range(newLines.length)} @@\n`];
  const emit = (sign: string, line: string) =>
    out.push(line.endsWith("\n") ? `${sign}${line}` : `${sign}${line}\n\\ No newline at end of file\n`);
  for (const line of oldLines) emit("-", line);
  for (const line of newLines) emit("+", line);
  return out.join("");
}

/** The summary of a binary change: `binary, 120 → 96 bytes` (an absent side counts 0 bytes). */
export function binaryDiff(before: DiffSide, after: DiffSide): string {
  return `binary, ${byteLength(before)} → ${byteLength(after)} bytes`;
}

/**
 * {@link unifiedDiff} when both sides are text (or absent), else {@link binaryDiff}. Bytes that are
 * valid UTF-8 are text (stores such as S3 answer bytes for every file); invalid UTF-8, and text
 * holding NUL, are binary (grep's rule, after ripgrep).
 */
export function diffContents(path: string, before: DiffSide, after: DiffSide, options?: UnifiedDiffOptions): string {
  const oldText = before === null ? null : diffableText(before);
  const newText = after === null ? null : diffableText(after);
  if ((before !== null && oldText === null) || (after !== null && newText === null)) return binaryDiff(before, after);
  return unifiedDiff(path, oldText, newText, options);
}

function byteLength(side: DiffSide): number {
  if (side === null) return 0;
  return typeof side === "string" ? utf8ByteLength(side) : side.byteLength;
}
