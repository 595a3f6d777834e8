import { MAX_EDIT_FILE_BYTES, performStringReplacement } from "./edit.js";
import { failure } from "./errors.js";
import { isTextMimeType } from "./mime.js";
import type { EditResult, ErrorCode, FileDataV2, ReadResult, WriteOptions } from "./protocol.js";
import { decodeUtf8Lossy, decodeUtf8Strict, readTextWindow } from "./text.js";

type Failure = { error: string; code: ErrorCode };

/** The `conflict` to return when the etag of an existing file fails `ifMatch` / `ifNoneMatch`. */
export function checkPreconditions(
  path: string,
  currentEtag: string,
  options: WriteOptions | undefined,
): Failure | null {
  if (options?.ifNoneMatch === "*") return failure("conflict", `'${path}' already exists (ifNoneMatch: "*")`);
  if (options?.ifMatch !== undefined && options.ifMatch !== currentEtag) {
    return failure("conflict", `'${path}' changed since it was read (etag mismatch); read it again and retry`);
  }
  return null;
}

/** The `conflict` to return when `ifMatch` names a version of a file that does not exist. */
export function writeConflict(path: string, options: WriteOptions | undefined): Failure | null {
  if (options?.ifMatch !== undefined) return failure("conflict", `'${path}' does not exist, so ifMatch cannot hold`);
  return null;
}

/**
 * The text an edit may change, or the failure for a binary file or for text bytes that are not
 * valid UTF-8 (an edit would have to rewrite the bytes it could not decode).
 */
export function editableText(path: string, data: FileDataV2): string | Failure {
  if (!isTextMimeType(data.mimeType))
    return failure("invalid_argument", `'${path}' is a binary file and cannot be edited as text`);
  const text = typeof data.content === "string" ? data.content : decodeUtf8Strict(data.content);
  if (text !== null) return text;
  return failure(
    "invalid_argument",
    `'${path}' is not valid UTF-8 text, so it cannot be edited without changing bytes it could not decode; write or upload the whole file instead`,
  );
}

/** The version of a file an edit starts from. */
export interface EditBase {
  etag: string;
  content: string | Uint8Array;
  mimeType: string;
}

/**
 * What an edit of `base` comes to: a failure (aborted, a failed precondition, a binary file, the
 * old string missing or ambiguous, a result over `maxBytes` UTF-8 bytes), `done` when there is
 * nothing to store (`oldString === newString`), or the new text and its number of replacements,
 * for the backend to store (and to compare-and-swap against `base.etag` where its store allows).
 */
export function planEdit(
  path: string,
  base: EditBase,
  oldString: string,
  newString: string,
  replaceAll: boolean,
  options: WriteOptions | undefined,
  maxBytes = MAX_EDIT_FILE_BYTES,
): Failure | { done: EditResult } | { content: string; occurrences: number } {
  if (options?.signal?.aborted) return failure("aborted", `Edit of '${path}' was aborted`);
  const precondition = checkPreconditions(path, base.etag, options);
  if (precondition) return precondition;
  const text = editableText(path, { content: base.content, mimeType: base.mimeType, created_at: "", modified_at: "" });
  if (typeof text !== "string") return text;
  const replaced = performStringReplacement(text, oldString, newString, replaceAll, `'${path}'`, maxBytes);
  if (!replaced.ok) return failure(replaced.code, replaced.error);
  if (oldString === newString) return { done: { path, occurrences: replaced.occurrences, etag: base.etag } };
  return { content: replaced.content, occurrences: replaced.occurrences };
}

/**
 * The contract's answer to `read` for a file's stored content: bytes of a binary MIME type as they
 * are (offset and limit ignored), text as the requested window of lines; both with the MIME type
 * and etag. Bytes under a text MIME type that are not valid UTF-8 are read as text with U+FFFD
 * replacements and `invalidUtf8: true`, so that a non-empty file is never shown as empty (the
 * deepagents tools show no bytes for a text MIME type).
 */
export function readResultOf(
  content: string | Uint8Array,
  mimeType: string,
  etag: string,
  offset?: number,
  limit?: number,
): ReadResult {
  let text = content;
  let invalidUtf8 = false;
  if (typeof content !== "string") {
    if (!isTextMimeType(mimeType)) return { content, mimeType, etag };
    const strict = decodeUtf8Strict(content);
    invalidUtf8 = strict === null;
    text = strict ?? decodeUtf8Lossy(content);
  }
  const result: ReadResult = readTextWindow(text as string, offset, limit);
  result.mimeType = mimeType;
  result.etag = etag;
  if (invalidUtf8) result.invalidUtf8 = true;
  return result;
}
