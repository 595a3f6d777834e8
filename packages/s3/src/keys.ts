import { checkPath, DeepfsError } from "@deepfs/core";

/** Longest object key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/**
 * Maps virtual paths to object keys and back: key = prefix + path without its leading `/`.
 *
 * The prefix always ends with `/` (when not empty), so tenant `acme` lists `acme/` and can never
 * see `acme-corp/`.
 */
export class KeyMapper {
  /** `""` (the whole bucket) or a normalised prefix ending with `/`. */
  readonly prefix: string;

  constructor(prefix = "") {
    if (typeof prefix !== "string") throw new DeepfsError("invalid_argument", "S3 prefix must be a string");
    if (prefix.replace(/\/+/g, "") === "") {
      this.prefix = "";
      return;
    }
    const checked = checkPath(prefix);
    if (!checked.ok) throw new DeepfsError("invalid_argument", `Invalid S3 prefix: ${checked.error}`);
    this.prefix = `${checked.path.slice(1)}/`;
  }

  /** Key of the file at a normalised path other than `/`. */
  fileKey(path: string): string {
    return this.prefix + path.slice(1);
  }

  /** Listing prefix of everything below a normalised directory (`/` → the backend's prefix). */
  dirKey(dir: string): string {
    return dir === "/" ? this.prefix : `${this.prefix}${dir.slice(1)}/`;
  }

  /**
   * Virtual path of a key below the prefix (a trailing `/` is dropped), or `null` when the key is
   * not a path this backend could have written (`a//b`, `../x`, control characters, ...): such
   * objects, put there by other tools, are left out rather than shown under a path that would
   * name something else.
   */
  toPath(key: string): string | null {
    if (!key.startsWith(this.prefix)) return null;
    const rest = key.slice(this.prefix.length).replace(/\/$/, "");
    if (rest === "") return null;
    const path = `/${rest}`;
    const checked = checkPath(path);
    return checked.ok && checked.path === path ? path : null;
  }
}

/** True when a key is too long for S3. */
export function keyTooLong(key: string): boolean {
  return Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES;
}
