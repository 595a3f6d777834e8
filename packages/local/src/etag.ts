import { createHash } from "node:crypto";

/**
 * The etag of a file's bytes: a SHA-1 content hash. Unlike an mtime/size/inode tag it changes on
 * every content change, even two writes within one timestamp tick of the same size, and it stays
 * the same when identical bytes are rewritten (so `ifMatch` never fails spuriously).
 */
export function etagOf(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("base64url");
}
