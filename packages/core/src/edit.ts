import type { ErrorCode } from "./protocol.js";

/** Outcome of {@link performStringReplacement}. */
export type ReplacementResult =
  | { ok: true; content: string; occurrences: number }
  | {
      ok: false;
      code: Extract<ErrorCode, "string_not_found" | "multiple_occurrences" | "invalid_argument">;
      error: string;
    };

function countOccurrences(content: string, needle: string): number {
  let n = 0;
  for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * The edit rule of the contract, applied to a text. `path` only appears in the messages, which
 * never quote file contents.
 */
export function performStringReplacement(
  content: string,
  oldString: string,
  newString: string,
  replaceAll = false,
  path = "the file",
): ReplacementResult {
  if (oldString === "") {
    if (content === "") return { ok: true, content: newString, occurrences: 0 };
    return {
      ok: false,
      code: "invalid_argument",
      error: `old_string is empty but ${path} is not; give the exact text to replace`,
    };
  }
  const occurrences = countOccurrences(content, oldString);
  if (occurrences === 0) {
    return {
      ok: false,
      code: "string_not_found",
      error: `String not found in ${path}; read the file and copy the exact text, including whitespace`,
    };
  }
  if (occurrences > 1 && !replaceAll) {
    return {
      ok: false,
      code: "multiple_occurrences",
      error: `String appears ${occurrences} times in ${path}; pass replace_all=true to replace every occurrence, or include more surrounding context to make it unique`,
    };
  }
  // split/join replaces literally: no `$&`-style patterns in newString are interpreted.
  return { ok: true, content: content.split(oldString).join(newString), occurrences };
}
