/** Line helpers shared by the unified diff and the three-way merge (internal). */
import { decodeUtf8Strict, isSearchableText } from "./text.js";

/**
 * The line-diff work allowed for two texts of `n` and `m` lines: Myers' diff costs about
 * (n + m) × d for d differing lines, so d is capped to keep any pair under about half a second,
 * while every pair of files up to a few thousand lines is diffed in full.
 */
export function lineEditBudget(n: number, m: number): number {
  return Math.max(200, Math.floor(40_000_000 / (n + m + 1)));
}

/** The lines of a text, each with its line break (the last may have none). */
export function linesWithEnds(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * The text of a content for diffs and merges, or null for binary: bytes count as text when they are
 * valid UTF-8 (a store that answers bytes for every file, as S3 does, still diffs its text files),
 * and text holding NUL is binary (grep's rule, after ripgrep).
 */
export function diffableText(content: string | Uint8Array): string | null {
  const text = typeof content === "string" ? content : decodeUtf8Strict(content);
  return text !== null && isSearchableText(text) ? text : null;
}
