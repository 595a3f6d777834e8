import { getMimeType, isTextMimeType } from "./mime.js";
import type { FileData, FileDataV1, FileDataV2 } from "./protocol.js";
import { decodeUtf8Strict, encodeUtf8 } from "./text.js";

/** True for legacy FileData whose content is an array of lines. */
export function isFileDataV1(data: FileData): data is FileDataV1 {
  return Array.isArray(data.content);
}

/** True when FileData holds bytes rather than text. */
export function isFileDataBinary(data: FileData): data is FileDataV2 & { content: Uint8Array } {
  return data.content instanceof Uint8Array;
}

let lastMs = Number.NaN;
let lastIso = "";

/** The current time as an ISO string; formatted once per millisecond, however many writes share it. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Creates v2 FileData; the MIME type defaults from the content kind. */
export function createFileData(content: string | Uint8Array, createdAt?: string, mimeType?: string): FileDataV2 {
  const now = nowIso();
  return {
    content,
    mimeType: mimeType ?? (typeof content === "string" ? "text/plain" : "application/octet-stream"),
    created_at: createdAt ?? now,
    modified_at: now,
  };
}

/** New content for existing FileData: keeps `created_at` (and the version: v1 stays v1 for text). */
export function updateFileData(data: FileData, content: string | Uint8Array): FileData {
  const modified_at = nowIso();
  if (isFileDataV1(data) && typeof content === "string") {
    return { content: content.split("\n"), created_at: data.created_at, modified_at };
  }
  const mimeType = isFileDataV1(data) ? "text/plain" : data.mimeType;
  return { content, mimeType, created_at: data.created_at, modified_at };
}

/** Text of FileData (v1 lines are joined by `\n`). Throws for binary data; check first. */
export function fileDataToString(data: FileData): string {
  if (isFileDataV1(data)) return data.content.join("\n");
  if (typeof data.content === "string") return data.content;
  throw new TypeError("FileData holds binary content, not text");
}

/** Reads legacy v1 or current v2 FileData as v2; the MIME type of v1 data comes from `path`. */
export function toFileDataV2(data: FileData, path: string): FileDataV2 {
  if (!isFileDataV1(data)) return data;
  return {
    content: data.content.join("\n"),
    mimeType: getMimeType(path),
    created_at: data.created_at,
    modified_at: data.modified_at,
  };
}

/** Exact bytes of FileData (text is UTF-8 encoded). */
export function fileDataToBytes(data: FileData): Uint8Array {
  if (isFileDataV1(data)) return encodeUtf8(data.content.join("\n"));
  return typeof data.content === "string" ? encodeUtf8(data.content) : data.content;
}

/**
 * Content to store for bytes written to `path`: text for a text MIME type when the bytes are valid
 * UTF-8, otherwise the bytes themselves, so that every byte round-trips exactly.
 */
export function contentFromBytes(path: string, bytes: Uint8Array): string | Uint8Array {
  if (!isTextMimeType(getMimeType(path))) return bytes;
  return decodeUtf8Strict(bytes) ?? bytes;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes the base64 content that `write` receives for a binary path (as deepagents does). Accepts
 * a `data:` URL and whitespace; returns `null` when the text is not base64.
 */
export function decodeBase64Content(content: string): Uint8Array | null {
  const trimmed = content.trim();
  const payload = (trimmed.startsWith("data:") ? trimmed.slice(trimmed.indexOf(",") + 1) : trimmed).replace(/\s+/g, "");
  if (payload.length % 4 === 1 || !BASE64.test(payload)) return null;
  return new Uint8Array(Buffer.from(payload, "base64"));
}

/**
 * Bytes that `write(path, content)` stores: UTF-8 of the text for a text path, the decoded base64
 * for a binary path (`null` when that is not valid base64).
 */
export function bytesForWrite(path: string, content: string): Uint8Array | null {
  return isTextMimeType(getMimeType(path)) ? encodeUtf8(content) : decodeBase64Content(content);
}
