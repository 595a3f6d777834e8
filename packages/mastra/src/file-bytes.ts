import {
  type BackendProtocol,
  contentFromBytes,
  type WriteOptions as DeepfsWriteOptions,
  type ErrorFields,
  fileDataToBytes,
  isBinaryPath,
  isFailure,
  isWithin,
  joinPath,
  relativeTo,
} from "@deepfs/core";
import { type FileContent, FileExistsError, IsDirectoryError } from "@mastra/core/workspace";
import type { Directories } from "./directories.js";
import { DeepfsFilesystemError, toMastraError } from "./errors.js";

/** A file's bytes as Mastra gives them (a string is UTF-8). */
export function toBytes(content: FileContent): Uint8Array {
  return typeof content === "string" ? new Uint8Array(Buffer.from(content, "utf8")) : content;
}

/** The bytes of file `p` (written `path` by the caller); a directory is an `IsDirectoryError`. */
export async function readBytes(
  backend: BackendProtocol,
  dirs: Directories,
  p: string,
  path: string,
): Promise<Uint8Array> {
  const raw = await backend.readRaw(p);
  if (!isFailure(raw) && raw.data) return fileDataToBytes(raw.data);
  // Stores without real directories answer file_not_found for a directory; say what it is.
  if (raw.code === "file_not_found" && (await dirs.stat(p))?.type === "directory") {
    throw new IsDirectoryError(path);
  }
  throw toMastraError(raw, path, "read");
}

/**
 * Stores `bytes` at `p` exactly: as text for valid UTF-8 on a text path, as base64 for a binary
 * path (deepfs `write` takes base64 there), both with the preconditions; otherwise by upload.
 * Answers the failure, or null.
 */
export async function writeBytes(
  backend: BackendProtocol,
  p: string,
  bytes: Uint8Array,
  preconditions: DeepfsWriteOptions,
): Promise<ErrorFields | null> {
  const content = contentFromBytes(p, bytes);
  if (typeof content === "string" || isBinaryPath(p)) {
    const text = typeof content === "string" ? content : Buffer.from(content).toString("base64");
    const result = await backend.write(p, text, preconditions);
    return isFailure(result) ? result : null;
  }
  if (preconditions.ifNoneMatch || preconditions.ifMatch !== undefined) {
    const raw = await backend.readRaw(p);
    const exists = !isFailure(raw);
    if (preconditions.ifNoneMatch && exists) return { error: `'${p}' already exists`, code: "conflict" };
    if (preconditions.ifMatch !== undefined && (!exists || raw.etag !== preconditions.ifMatch)) {
      return { error: `'${p}' changed since it was read`, code: "conflict" };
    }
  }
  const [response] = await backend.uploadFiles([[p, bytes]]);
  if (!response || response.error === null) return null;
  return { error: response.message ?? `Upload of '${p}' failed`, code: response.code ?? response.error };
}

/** Copies file `from` to `to` (written `src` and `dest` by the caller); `overwrite: false` refuses an existing `to`. */
export async function copyOne(
  backend: BackendProtocol,
  dirs: Directories,
  paths: { from: string; to: string; src: string; dest: string },
  overwrite: boolean,
): Promise<void> {
  const bytes = await readBytes(backend, dirs, paths.from, paths.src);
  const failed = await writeBytes(backend, paths.to, bytes, overwrite ? {} : { ifNoneMatch: "*" });
  if (!failed) return;
  if (failed.code === "conflict" && !overwrite) throw new FileExistsError(paths.dest);
  throw toMastraError(failed, paths.dest, "write");
}

/**
 * Copies every file below `from` (written `src` by the caller) to the same place below `to`, and
 * the directories made by `mkdir` there; `overwrite: false` skips existing files.
 */
export async function copyTree(
  backend: BackendProtocol,
  dirs: Directories,
  paths: { from: string; to: string; src: string },
  overwrite: boolean,
): Promise<void> {
  const { from, to, src } = paths;
  if (isWithin(to, from)) {
    throw new DeepfsFilesystemError(`Cannot copy '${src}' into itself`, "invalid_argument", src);
  }
  const listed = await backend.glob("**", from);
  if (isFailure(listed)) throw toMastraError(listed, src, "read");
  for (const file of listed.files ?? []) {
    if (file.is_dir) continue;
    const target = joinPath(to, relativeTo(file.path, from));
    const bytes = await readBytes(backend, dirs, file.path, file.path);
    const failed = await writeBytes(backend, target, bytes, overwrite ? {} : { ifNoneMatch: "*" });
    if (failed && !(failed.code === "conflict" && !overwrite)) throw toMastraError(failed, target, "write");
  }
  dirs.recordCopy(from, to);
}
