import type { ErrorCode } from "./protocol.js";
import { utf8ByteLength } from "./text.js";

/**
 * The largest file, in UTF-8 bytes, that one edit may produce: 64 MiB. An edit's arguments are
 * small but `replaceAll` multiplies them (one call turned 1 MiB into 268 MB), so the result is
 * measured before it is built. 64 MiB is far above any text an agent edits (LocalBackend reads
 * and the walking grep stop at 10 MiB by default), and far below what one call must never reach:
 * V8's longest string (2^29 − 24 UTF-16 units) and the 2^27 pieces at which building a string
 * from an array aborts the process; it keeps one edit's memory (the text, its result and the
 * result's UTF-8 for the store) to a few hundred MB at worst. A store with a smaller read limit
 * declares it (`capabilities.limits.maxFileBytes` of its driver), which the facade applies instead,
 * so an edit never makes a file the store cannot read back.
 */
export const MAX_EDIT_FILE_BYTES = 64 * 1024 * 1024;

/** Outcome of {@link performStringReplacement}. */
export type ReplacementResult =
  | { ok: true; content: string; occurrences: number }
  | {
      ok: false;
      code: Extract<ErrorCode, "string_not_found" | "multiple_occurrences" | "invalid_argument" | "too_large">;
      error: string;
    };

/** Pieces joined at a time when replacing: bounded arrays, measured ~3x faster than one split/join. */
const JOIN_BATCH = 4096;

/** Occurrences of `needle` in `content` from the first one, at `first` (its text before is not scanned again). */
function countOccurrences(content: string, needle: string, first: number): number {
  let n = 0;
  for (let i = first; i !== -1; i = content.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * `content` with every occurrence of `oldString` replaced by `newString`, literally (no `$&`-style
 * patterns), the first occurrence being at `first`. Never builds an array with one element per occurrence: V8 aborts the whole process
 * (uncatchably) when a split yields more than 2^27 pieces.
 */
function replaceEvery(content: string, oldString: string, newString: string, first: number): string {
  const batches: string[] = [];
  let pieces: string[] = [];
  let last = 0;
  for (let hit = first; hit !== -1; hit = content.indexOf(oldString, last)) {
    pieces.push(content.slice(last, hit));
    last = hit + oldString.length;
    if (pieces.length === JOIN_BATCH) {
      batches.push(pieces.join(newString));
      pieces = [];
    }
  }
  pieces.push(content.slice(last));
  batches.push(pieces.join(newString));
  return batches.join(newString);
}

/**
 * The answer `too_large` when `content` grown by `growth` UTF-8 bytes (shrunk, when negative) would
 * exceed `maxBytes`; else null. Measured without building the result.
 */
function sizeFailure(
  content: string,
  growth: number,
  maxBytes: number,
  path: string,
): Extract<ReplacementResult, { ok: false }> | null {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most texts are under the limit without measuring them.
  if (3 * content.length + growth <= maxBytes) return null;
  const size = utf8ByteLength(content) + growth;
  if (size <= maxBytes) return null;
  return {
    ok: false,
    code: "too_large",
    error: `Editing ${path} would make it ${size} bytes, over the limit of ${maxBytes} bytes for the result of an edit; replace fewer occurrences or with shorter text`,
  };
}

/**
 * The edit rule of the contract, applied to a text. `path` only appears in the messages, which
 * never quote file contents. A result larger than `maxBytes` UTF-8 bytes is refused with
 * `too_large` before anything is built (`oldString === newString` builds nothing, so it is not).
 */
export function performStringReplacement(
  content: string,
  oldString: string,
  newString: string,
  replaceAll = false,
  path = "the file",
  maxBytes = MAX_EDIT_FILE_BYTES,
): ReplacementResult {
  if (oldString === "") {
    if (content === "")
      return sizeFailure(newString, 0, maxBytes, path) ?? { ok: true, content: newString, occurrences: 0 };
    return {
      ok: false,
      code: "invalid_argument",
      error: `old_string is empty but ${path} is not; give the exact text to replace`,
    };
  }
  const first = content.indexOf(oldString);
  if (first === -1) {
    return {
      ok: false,
      code: "string_not_found",
      error: `String not found in ${path}; read the file and copy the exact text, including whitespace`,
    };
  }
  const occurrences = countOccurrences(content, oldString, first);
  if (occurrences > 1 && !replaceAll) {
    return {
      ok: false,
      code: "multiple_occurrences",
      error: `String appears ${occurrences} times in ${path}; pass replace_all=true to replace every occurrence, or include more surrounding context to make it unique`,
    };
  }
  if (oldString === newString) return { ok: true, content, occurrences };
  const growth = occurrences * (utf8ByteLength(newString) - utf8ByteLength(oldString));
  const refused = sizeFailure(content, growth, maxBytes, path);
  if (refused) return refused;
  const replaced =
    occurrences === 1
      ? content.slice(0, first) + newString + content.slice(first + oldString.length)
      : replaceEvery(content, oldString, newString, first);
  return { ok: true, content: replaced, occurrences };
}
