/** Line helpers shared by the unified diff and the three-way merge (internal). */

/**
 * The line-diff work allowed for two texts of `n` and `m` lines: Myers' diff costs about
 * (n + m) × d for d differing lines, so d is capped to keep any pair under about half a second,
 * while every pair of files up to a few thousand lines is diffed in full.
 */
export function lineEditBudget(n: number, m: number): number {
  return Math.max(200, Math.floor(40_000_000 / (n + m + 1)));
}

/** The lines of a text, each with its line break (the last may have none). */
export function splitLines(text: string): string[] {
  const lines = text.split(/(?<=\n)/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export function countLines(text: string): number {
  let n = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) n++;
  return n;
}
