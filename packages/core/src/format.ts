import { constants } from "node:buffer";
import type { GrepMatch, ReadResult } from "./protocol.js";
import { countLines } from "./text.js";

/** Longest line shown on one row by {@link formatContentWithLineNumbers}; longer lines wrap. */
export const MAX_LINE_LENGTH = 5000;
/** Results longer than this many characters are cut by {@link truncateIfTooLong}. */
export const TOOL_RESULT_CHAR_LIMIT = 80_000;
export const TRUNCATION_GUIDANCE = "... [results truncated, try being more specific with your parameters]";
export const EMPTY_CONTENT_WARNING = "System reminder: File exists but has empty contents";

const { MAX_STRING_LENGTH } = constants;

/** Rows joined at a time: bounded arrays, never one element per line of a huge text. */
const ROW_BATCH = 4096;

/**
 * `cat -n` style rendering for tool output: a 6-wide right-aligned line number, a tab, the line.
 * Lines over {@link MAX_LINE_LENGTH} characters continue on rows numbered `N.1`, `N.2`, ...
 * Throws a `RangeError` when the rendering would be longer than a string can be (a text of
 * ~70 million lines), before building it whole.
 */
export function formatContentWithLineNumbers(content: string | string[], startLine = 1): string {
  const batches: string[] = [];
  let rows: string[] = [];
  let length = 0;
  let n = startLine;
  const addLine = (line: string) => {
    for (let chunk = 0; chunk === 0 || chunk * MAX_LINE_LENGTH < line.length; chunk++) {
      const label = chunk === 0 ? String(n) : `${n}.${chunk}`;
      const row = `${label.padStart(6)}\t${line.slice(chunk * MAX_LINE_LENGTH, (chunk + 1) * MAX_LINE_LENGTH)}`;
      length += row.length + 1;
      if (length > MAX_STRING_LENGTH) throw tooLong();
      rows.push(row);
      if (rows.length === ROW_BATCH) {
        batches.push(rows.join("\n"));
        rows = [];
      }
    }
    n++;
  };
  if (typeof content === "string") {
    // Each line takes at least 7 more characters (number and tab): refuse before building anything.
    if (content.length + 6 * countLines(content) > MAX_STRING_LENGTH) throw tooLong();
    // Line by line with indexOf, as splitLines cuts them, without an array of every line.
    for (let start = 0; start < content.length; ) {
      const newline = content.indexOf("\n", start);
      const end = newline === -1 ? content.length : newline;
      addLine(content.slice(start, end));
      start = end + 1;
    }
  } else {
    for (const line of content) addLine(line);
  }
  if (rows.length > 0) batches.push(rows.join("\n"));
  return batches.join("\n");
}

function tooLong(): RangeError {
  return new RangeError("Invalid string length: too many lines to number");
}

/** The reminder to show for empty (or whitespace-only) content, else `null`. */
export function checkEmptyContent(content: string): string | null {
  return content.trim() === "" ? EMPTY_CONTENT_WARNING : null;
}

/**
 * Renders a `read` result the way the file tools show it to a model: line-numbered text, the empty
 * file reminder, a note when more lines remain, or the error sentence.
 */
export function formatReadResponse(result: ReadResult): string {
  if (result.error) return `Error: ${result.error}`;
  const content = result.content;
  if (content instanceof Uint8Array)
    return `[binary content: ${result.mimeType ?? "application/octet-stream"}, ${content.byteLength} bytes]`;
  if (content === undefined || content === "") {
    return (result.totalLines ?? 0) === 0
      ? EMPTY_CONTENT_WARNING
      : `Error: offset is past the end of the file (${result.totalLines} lines)`;
  }
  const body = formatContentWithLineNumbers(content, result.startLine ?? 1);
  return result.nextOffset === undefined
    ? body
    : `${body}\n\n[Showing lines ${result.startLine}-${result.endLine} of ${result.totalLines}; continue with offset=${result.nextOffset}]`;
}

/** Cuts a tool result (a string or a list of lines) that would flood the model's context. */
export function truncateIfTooLong(result: string): string;
export function truncateIfTooLong(result: string[]): string[];
export function truncateIfTooLong(result: string | string[]): string | string[] {
  if (typeof result === "string") {
    return result.length > TOOL_RESULT_CHAR_LIMIT
      ? `${result.slice(0, TOOL_RESULT_CHAR_LIMIT)}\n${TRUNCATION_GUIDANCE}`
      : result;
  }
  const total = result.reduce((sum, line) => sum + line.length, 0);
  if (total <= TOOL_RESULT_CHAR_LIMIT) return result;
  const keep = Math.floor((result.length * TOOL_RESULT_CHAR_LIMIT) / total);
  return [...result.slice(0, keep), TRUNCATION_GUIDANCE];
}

/** Makes a tool call id safe as a file name (no `.`, `/` or `\`). */
export function sanitizeToolCallId(toolCallId: string): string {
  return toolCallId.replace(/[./\\]/g, "_");
}

/** Grep matches grouped by file, files in the order first seen. */
export function groupGrepMatches(matches: GrepMatch[]): Map<string, Array<{ line: number; text: string }>> {
  const groups = new Map<string, Array<{ line: number; text: string }>>();
  for (const m of matches) {
    let group = groups.get(m.path);
    if (!group) {
      group = [];
      groups.set(m.path, group);
    }
    group.push({ line: m.line, text: m.text });
  }
  return groups;
}

/** How grep results are shown: matching lines, only file names, or counts per file. */
export type GrepOutputMode = "content" | "files_with_matches" | "count";

/** Renders grep matches for a model, as the reference's grep tool does. */
export function formatGrepMatches(matches: GrepMatch[], outputMode: GrepOutputMode = "files_with_matches"): string {
  if (matches.length === 0) return "No matches found";
  const groups = groupGrepMatches(matches);
  if (outputMode === "files_with_matches") return [...groups.keys()].join("\n");
  if (outputMode === "count") return [...groups].map(([path, lines]) => `${path}: ${lines.length}`).join("\n");
  const rows: string[] = [];
  for (const [path, lines] of groups) {
    rows.push(`${path}:`);
    for (const { line, text } of lines) rows.push(`  ${line}: ${text}`);
  }
  return rows.join("\n");
}
