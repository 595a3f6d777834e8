import { DeepfsError } from "./errors.js";

/** Longest accepted virtual path, in characters. */
export const MAX_PATH_LENGTH = 4096;
/** Longest accepted path component, in UTF-8 bytes (the common filesystem limit). */
export const MAX_NAME_BYTES = 255;

/** Outcome of {@link checkPath}: a normalised path, or the reason it was refused. */
export type PathCheck = { ok: true; path: string } | { ok: false; error: string; code: "invalid_path" };

// C0 controls and DEL; they have no business in a file name and break line-based tools.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const DRIVE_PREFIX = /^[A-Za-z]:/;

function refuse(input: string, reason: string): PathCheck {
  // The path itself may be hostile (huge, control characters): quote a short, escaped form.
  const shown = JSON.stringify(input.length > 120 ? `${input.slice(0, 120)}…` : input);
  return { ok: false, error: `Invalid path ${shown}: ${reason}`, code: "invalid_path" };
}

// An already normalised path: absolute, no empty, `.` or `..` names, nothing refused. Most calls
// pass one, and recognising it with one regex spares splitting and re-joining it.
const NORMALISED = /^(?:\/(?!\.\.?(?:\/|$))[^/\\\u0000-\u001f\u007f]+)+$/;
// A name this long may exceed MAX_NAME_BYTES in UTF-8 (3 bytes per UTF-16 unit at most).
const LONG_NAME_CHARS = 86;
const LONG_NAME = new RegExp(`[^/]{${LONG_NAME_CHARS},}`);

/**
 * Normalises a virtual path and reports why it is unsafe instead of throwing.
 *
 * Collapses `//`, strips a trailing `/`, makes a relative path absolute. Refuses `.` and `..`
 * components (naming the canonical form: deepagents matches its permission rules on the path as
 * written, so a silently resolved `/./secret` would pass a `deny /secret/**` rule), a leading `~`,
 * control characters, lone UTF-16 surrogates (which would alias other names once encoded), Windows
 * drive prefixes and backslashes.
 */
export function checkPath(input: string): PathCheck {
  if (
    typeof input === "string" &&
    input.isWellFormed() &&
    input.length <= MAX_PATH_LENGTH &&
    NORMALISED.test(input) &&
    (input.length < LONG_NAME_CHARS || !LONG_NAME.test(input))
  ) {
    return { ok: true, path: input };
  }
  if (typeof input !== "string" || input.length === 0) return refuse(String(input), "the path is empty");
  // Bound the work on hostile input first; the limit itself applies to the normalised path below.
  if (input.length > 4 * MAX_PATH_LENGTH) return refuse(input, `longer than ${MAX_PATH_LENGTH} characters`);
  if (CONTROL_CHARS.test(input)) return refuse(input, "control characters are not allowed");
  if (input.includes("\\")) return refuse(input, "use '/' as the separator, not '\\'");
  if (!input.isWellFormed()) return refuse(input, "lone UTF-16 surrogates are not allowed");
  if (input.startsWith("~")) return refuse(input, "'~' is not expanded; give an absolute path");
  if (DRIVE_PREFIX.test(input)) return refuse(input, "drive letters are not allowed; give a POSIX path");
  const parts: string[] = [];
  let dotted = false;
  for (const part of input.split("/")) {
    if (part === "") continue;
    if (part === ".") {
      dotted = true;
      continue;
    }
    if (part === "..") return refuse(input, "'..' is not allowed");
    // A UTF-16 unit encodes to at most 3 bytes: only long names need their UTF-8 size computed.
    if (part.length * 3 > MAX_NAME_BYTES && Buffer.byteLength(part, "utf8") > MAX_NAME_BYTES) {
      return refuse(input, `a name is longer than ${MAX_NAME_BYTES} bytes`);
    }
    parts.push(part);
  }
  const path = `/${parts.join("/")}`;
  if (dotted) return refuse(input, `'.' segments are not allowed; write it as ${JSON.stringify(path)}`);
  if (path.length > MAX_PATH_LENGTH) return refuse(input, `longer than ${MAX_PATH_LENGTH} characters`);
  return { ok: true, path };
}

/**
 * Normalises a virtual path, throwing a `DeepfsError` with code `invalid_path` when it is unsafe.
 * Backends use {@link checkPath} so that they can return the failure instead.
 */
export function validatePath(input: string): string {
  const checked = checkPath(input);
  if (!checked.ok) throw new DeepfsError("invalid_path", checked.error);
  return checked.path;
}

/** Normalises an optional directory argument: `undefined`, `null` and `""` mean the root. */
export function checkDirPath(input: string | null | undefined): PathCheck {
  return input === undefined || input === null || input === "" ? { ok: true, path: "/" } : checkPath(input);
}

/** `/a/b` → `/a/b/`, `/` → `/`: the prefix every descendant of a directory starts with. */
export function dirPrefix(dir: string): string {
  return dir.endsWith("/") ? dir : `${dir}/`;
}

/** Parent directory of a normalised path (`/a/b` → `/a`, `/a` → `/`). */
export function parentDir(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Last component of a path (`/a/b.txt` → `b.txt`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** True when `path` is `dir` itself or lies below it. Both must be normalised. */
export function isWithin(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}

/** Path of `path` relative to `dir` without a leading `/` (`/a/b/c`, `/a` → `b/c`). */
export function relativeTo(path: string, dir: string): string {
  if (dir === "/") return path.slice(1);
  return path === dir ? "" : path.slice(dir.length + 1);
}

/** Joins a normalised directory and a relative path. */
export function joinPath(dir: string, rel: string): string {
  if (rel === "") return dir;
  return dir === "/" ? `/${rel}` : `${dir}/${rel}`;
}

/**
 * Orders paths by Unicode code point, which is also UTF-8 byte order: the order of S3 listings and
 * of PostgreSQL's `COLLATE "C"`, so every backend returns the same sequence.
 */
export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF, which sort after 0xE000-0xFFFF.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
