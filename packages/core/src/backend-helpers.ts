import { failure } from "./errors.js";
import { isTextMimeType } from "./mime.js";
import type { ErrorCode, FileDataV2, ReadResult, WriteOptions } from "./protocol.js";
import { readTextWindow } from "./text.js";

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

/** The text an edit may change, or the failure for a binary file. */
export function editableText(path: string, data: FileDataV2): string | Failure {
  if (typeof data.content === "string" && isTextMimeType(data.mimeType)) return data.content;
  return failure("invalid_argument", `'${path}' is a binary file and cannot be edited as text`);
}

/**
 * The contract's answer to `read` for a file's stored content: bytes as they are (offset and limit
 * ignored), text as the requested window of lines; both with the MIME type and etag.
 */
export function readResultOf(
  content: string | Uint8Array,
  mimeType: string,
  etag: string,
  offset?: number,
  limit?: number,
): ReadResult {
  if (typeof content !== "string") return { content, mimeType, etag };
  const result: ReadResult = readTextWindow(content, offset, limit);
  result.mimeType = mimeType;
  result.etag = etag;
  return result;
}
