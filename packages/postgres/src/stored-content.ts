import {
  contentFromBytes,
  decodeUtf8Strict,
  encodeUtf8,
  getMimeType,
  isSearchableText,
  isTextMimeType,
} from "@deepfs/core";

/** The columns derived from a file's bytes when it is written. */
export interface StoredContent {
  /** The exact bytes. */
  content: Uint8Array;
  /** The text grep may search (text MIME type, valid UTF-8, no NUL), else null. */
  textContent: string | null;
  size: number;
  mimeType: string;
}

/** Columns for `bytes` written at `path`; `text` is their decoding when the caller already has it. */
export function storedContent(path: string, bytes: Uint8Array, text?: string): StoredContent {
  const mimeType = getMimeType(path);
  const decoded = isTextMimeType(mimeType) ? (text ?? decodeUtf8Strict(bytes)) : null;
  return {
    content: bytes,
    textContent: decoded !== null && isSearchableText(decoded) ? decoded : null,
    size: bytes.byteLength,
    mimeType,
  };
}

/**
 * The value of the `content` column: null when the file is stored once, as its text (a table that
 * stores text once, and text whose UTF-8 is exactly the bytes), else the bytes.
 */
export function bytesColumn(stored: StoredContent, textOnce: boolean): Uint8Array | null {
  const text = stored.textContent;
  return textOnce && text !== null && Buffer.byteLength(text, "utf8") === stored.size ? null : stored.content;
}

/**
 * A file's content from a row with `content` and `text_content`: the text as it is when the file is
 * stored once as text (valid UTF-8 by construction, so exactly the file's bytes), else from the bytes.
 */
export function contentOfRow(path: string, row: { content?: unknown; text_content?: unknown }): string | Uint8Array {
  if (row.content === null || row.content === undefined) {
    const text = row.text_content as string;
    return isTextMimeType(getMimeType(path)) ? text : encodeUtf8(text);
  }
  return contentFromBytes(path, asBytes(row.content));
}

/** The exact bytes of a file from a row with `content` and `text_content`. */
export function bytesOfRow(row: { content?: unknown; text_content?: unknown }): Uint8Array {
  return row.content === null || row.content === undefined
    ? encodeUtf8(row.text_content as string)
    : asBytes(row.content);
}

/** A bytea value from postgres.js (a Buffer) as a plain Uint8Array view, without copying. */
export function asBytes(value: unknown): Uint8Array {
  const buffer = value as Uint8Array;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
