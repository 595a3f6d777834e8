import type { ErrorCode } from "@deepfs/core";
import { failure, notFound } from "@deepfs/core";

/** A returned failure. */
export type Failure = { error: string; code: ErrorCode };

/** The `code` of a Node.js system error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The `code` of the error thrown when what was opened lies outside the root (not a Node errno). */
export const OUTSIDE_ROOT = "EDEEPFS_OUTSIDE_ROOT";

/** Too many open files: worth a retry once other operations have closed theirs. */
const RETRYABLE = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY"]);
const RETRY_DELAYS_MS = [10, 50, 200, 500];

/** Runs `operation`, retrying with bounded backoff while it fails with a transient errno. */
export async function withRetry<T>(operation: () => T | Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay === undefined || !RETRYABLE.has(errnoCode(error) ?? "")) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Translates a Node.js filesystem error into a returned failure, by its errno code only. `path` is
 * the virtual path the caller asked about; host paths never appear in messages.
 */
export function fromNodeError(error: unknown, path: string): Failure {
  const code = errnoCode(error);
  switch (code) {
    case "ENOENT":
      return notFound(path);
    case OUTSIDE_ROOT:
      return outsideRoot(path);
    case "EACCES":
    case "EPERM":
      return failure("permission_denied", `Permission denied for '${path}'`);
    case "ELOOP":
      // O_NOFOLLOW reports a symlink at the final component as ELOOP, like a real loop.
      return failure("permission_denied", `'${path}' is a symbolic link that is not followed (or a symlink loop)`);
    case "EISDIR":
      return failure("is_directory", `'${path}' is a directory, not a file`);
    case "ENOTDIR":
      return failure("not_a_directory", `A parent of '${path}' is a file, not a directory`);
    case "ENAMETOOLONG":
      return failure("invalid_path", `'${path}' is too long for the filesystem`);
    case "EROFS":
      return failure("read_only", `'${path}' is on a read-only filesystem`);
    case "EFBIG":
      return failure("too_large", `'${path}' is too large for the filesystem`);
    case "ENOSPC":
    case "EDQUOT":
      return failure("backend_unavailable", `No space left on the device to write '${path}'`);
    case "EMFILE":
    case "ENFILE":
      return failure("backend_unavailable", `Too many open files while accessing '${path}'; retry later`);
    default:
      return failure("backend_unavailable", `Filesystem error ${code ?? "unknown"} while accessing '${path}'`);
  }
}

/** A path whose real location (through a symlink, possibly one swapped in meanwhile) is outside the root. */
export function outsideRoot(path: string): Failure {
  return failure("permission_denied", `'${path}' resolves (through a symbolic link) outside the root directory`);
}

/** A write, edit or upload whose last path component is a symlink: deepagents refuses these too. */
export function symlinkNotWritable(path: string): Failure {
  return failure(
    "permission_denied",
    `'${path}' is a symbolic link; writes do not follow symbolic links (write to the file it points to instead)`,
  );
}
