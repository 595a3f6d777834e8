import { createHash } from "node:crypto";
import {
  decodeBase64Content,
  decodeUtf8Strict,
  encodeUtf8,
  type FileDataV2,
  getMimeType,
  isTextMimeType,
  utf8ByteLength,
} from "@deepfs/core";

/**
 * How binary content is kept in store values:
 * - `"bytes"`: `content` is a `Uint8Array`, exactly as deepagents' own `StoreBackend` writes it. Only
 *   for stores that keep values in memory as given (`InMemoryStore`).
 * - `"base64"`: `content` is the base64 text and `encoding: "base64"` marks it, for stores that
 *   serialise values as JSON (PostgreSQL and other persistent stores), where a `Uint8Array` would
 *   not survive. Text containing NUL, which PostgreSQL's `jsonb` cannot hold, is kept as the
 *   base64 of its UTF-8 bytes, marked `encoding: "utf8-base64"`.
 */
export type BinaryEncoding = "bytes" | "base64";

/** A store value as this package writes it: FileData v2, plus `encoding` for base64 binary. */
export interface StoredFileValue {
  content: string | Uint8Array;
  mimeType: string;
  created_at: string;
  modified_at: string;
  encoding?: "base64" | "utf8-base64";
}

/** A store value read as a file: its FileData v2 and size in bytes. */
export interface StoredFile {
  data: FileDataV2;
  size: number;
}

function isByteIndexedObject(value: object): boolean {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k, i) => k === String(i));
}

/**
 * Bytes from the forms binary content takes in stores: a typed array or `ArrayBuffer`, a Node
 * `Buffer` as JSON (`{type:"Buffer",data}`), or a `Uint8Array` as JSON (`{"0":1,"1":2}`, what a
 * JSON store makes of the bytes deepagents' `StoreBackend` writes). Null for anything else.
 */
function bytesOf(content: unknown): Uint8Array | null {
  if (content instanceof Uint8Array) return content;
  if (ArrayBuffer.isView(content)) return new Uint8Array(content.buffer, content.byteOffset, content.byteLength);
  if (content instanceof ArrayBuffer) return new Uint8Array(content);
  if (typeof content !== "object" || content === null) return null;
  const buffer = content as { type?: unknown; data?: unknown };
  if (buffer.type === "Buffer" && Array.isArray(buffer.data)) return Uint8Array.from(buffer.data as number[]);
  if (isByteIndexedObject(content)) {
    const values = Object.values(content);
    if (values.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) return Uint8Array.from(values as number[]);
  }
  return null;
}

/** The etag of a file: a digest of its content, MIME type and modification time. */
export function etagOf(data: FileDataV2): string {
  const hash = createHash("sha256");
  hash.update(`${data.mimeType}\u0000${data.modified_at}\u0000${typeof data.content === "string" ? "t" : "b"}`);
  hash.update(typeof data.content === "string" ? encodeUtf8(data.content) : data.content);
  return hash.digest("base64url").slice(0, 27);
}

function stored(data: FileDataV2): StoredFile {
  const size = typeof data.content === "string" ? utf8ByteLength(data.content) : data.content.byteLength;
  return { data, size };
}

/**
 * Reads a store value as a file: FileData v2 (ours or deepagents'), base64-encoded binary, or the
 * legacy v1 form (`content` as an array of lines). Null when the value is not a file.
 */
export function decodeFileValue(path: string, value: unknown): StoredFile | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.created_at !== "string" || typeof v.modified_at !== "string") return null;
  const times = { created_at: v.created_at, modified_at: v.modified_at };
  const mimeType = typeof v.mimeType === "string" && v.mimeType !== "" ? v.mimeType : getMimeType(path);
  const { content } = v;
  if (Array.isArray(content)) {
    if (!content.every((line) => typeof line === "string")) return null;
    return stored({ content: content.join("\n"), mimeType: getMimeType(path), ...times });
  }
  if (typeof content === "string" && v.encoding === "utf8-base64") {
    const bytes = decodeBase64Content(content);
    const text = bytes && decodeUtf8Strict(bytes);
    return typeof text === "string" ? stored({ content: text, mimeType, ...times }) : null;
  }
  if (typeof content === "string") {
    // Explicitly encoded bytes, or a binary file kept as base64 text by a v1-format writer.
    if (v.encoding === "base64" || !isTextMimeType(mimeType)) {
      const bytes = decodeBase64Content(content);
      if (bytes) return stored({ content: bytes, mimeType, ...times });
      if (v.encoding === "base64") return null;
    }
    return stored({ content, mimeType, ...times });
  }
  const bytes = bytesOf(content);
  // Copy: stores such as InMemoryStore hand out the stored object itself.
  return bytes ? stored({ content: bytes.slice(), mimeType, ...times }) : null;
}

/** The store value for `data`. */
export function encodeFileValue(data: FileDataV2, encoding: BinaryEncoding): StoredFileValue {
  const { content } = data;
  // Stores that keep values by reference must not share a buffer with the caller.
  if (typeof content !== "string" && encoding === "bytes") return { ...data, content: content.slice() };
  if (typeof content === "string") {
    if (encoding === "bytes" || !content.includes("\u0000")) return { ...data };
    return { ...data, content: Buffer.from(content, "utf8").toString("base64"), encoding: "utf8-base64" };
  }
  return { ...data, content: Buffer.from(content).toString("base64"), encoding: "base64" };
}

/** `created_at` of a store value, without decoding its content. */
export function createdAtOf(value: unknown): string | undefined {
  const createdAt =
    typeof value === "object" && value !== null ? (value as { created_at?: unknown }).created_at : undefined;
  return typeof createdAt === "string" ? createdAt : undefined;
}
