import type { ErrorCode, ErrorFields } from "@deepfs/core";
import {
  FileNotFoundError,
  FilesystemError,
  IsDirectoryError,
  NotDirectoryError,
  PermissionError,
} from "@mastra/core/workspace";

/**
 * A deepfs failure with no dedicated Mastra error class (`too_large`, `conflict`, `timeout`, ...).
 * It is a Mastra `FilesystemError`, so Mastra's tools handle it like their own; `deepfsCode` keeps
 * the backend's code for callers that branch on it.
 */
export class DeepfsFilesystemError extends FilesystemError {
  readonly deepfsCode: ErrorCode;

  constructor(message: string, deepfsCode: ErrorCode, path: string) {
    super(message, ERRNO[deepfsCode] ?? "EIO", path);
    this.name = "DeepfsFilesystemError";
    this.deepfsCode = deepfsCode;
  }
}

// errno-style codes, as Mastra's own errors use (`ENOENT`, `EACCES`, ...).
const ERRNO: Partial<Record<ErrorCode, string>> = {
  invalid_path: "EINVAL",
  invalid_argument: "EINVAL",
  string_not_found: "EINVAL",
  multiple_occurrences: "EINVAL",
  conflict: "ECONFLICT",
  too_large: "EFBIG",
  timeout: "ETIMEDOUT",
  aborted: "ECANCELED",
  unsupported: "ENOTSUP",
  backend_unavailable: "EIO",
};

/**
 * The Mastra error for a failed deepfs result, chosen by `code` (never by message): the classes
 * Mastra's `LocalFilesystem` throws for the same situations. `path` is the path as the caller wrote
 * it; `operation` names what was refused in a `PermissionError`.
 */
export function toMastraError(result: ErrorFields, path: string, operation: string): FilesystemError {
  const code = result.code ?? "backend_unavailable";
  switch (code) {
    case "file_not_found":
      return new FileNotFoundError(path);
    case "is_directory":
      return new IsDirectoryError(path);
    case "not_a_directory":
      return new NotDirectoryError(path);
    case "permission_denied":
      return new PermissionError(path, operation);
    case "read_only":
      return new PermissionError(path, `${operation} (read-only)`);
    default:
      return new DeepfsFilesystemError(result.error ?? `${operation} failed on ${path}`, code, path);
  }
}
