import { checkPath } from "@deepfs/core";
import { PermissionError } from "@mastra/core/workspace";
import { DeepfsFilesystemError } from "./errors.js";

/**
 * The deepfs path for a path as Mastra gives it. Mastra's tools pass paths relative to the
 * workspace root (`src/a.ts`, `.`) or absolute (`/src/a.ts`); both resolve from the backend's root
 * `/`. `.` segments are dropped and `..` climbs like a shell would, so the backend (and any
 * `withPermissions` rule in it) only ever sees the canonical path; a `..` that would climb above
 * the root is refused with a `PermissionError`, as Mastra's `LocalFilesystem` refuses a path
 * outside its base directory. Everything else deepfs refuses (control characters, `\`, `~`, drive
 * letters, over-long names) is a `DeepfsFilesystemError` with code `EINVAL`, before any I/O.
 */
export function toBackendPath(input: string, operation: string): string {
  if (typeof input !== "string") {
    throw new DeepfsFilesystemError("A path must be a string", "invalid_path", String(input));
  }
  const parts: string[] = [];
  for (const segment of input.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (parts.length === 0) throw new PermissionError(input, `${operation} (path is outside the workspace)`);
      parts.pop();
      continue;
    }
    parts.push(segment);
  }
  const checked = checkPath(`/${parts.join("/")}`);
  if (!checked.ok) throw new DeepfsFilesystemError(checked.error, "invalid_path", input);
  return checked.path;
}
