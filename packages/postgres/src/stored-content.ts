import { decodeUtf8Strict, getMimeType, isSearchableText, isTextMimeType } from "@deepfs/core";

/** The columns derived from a file's bytes when it is written. */
export interface StoredContent {
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

/** A bytea value from postgres.js (a Buffer) as a plain Uint8Array view, without copying. */
export function asBytes(value: unknown): Uint8Array {
  const buffer = value as Uint8Array;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
