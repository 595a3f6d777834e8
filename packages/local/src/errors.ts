import { type Fault, fault, withRetry } from "@deepfs/core/kit";

/** The `code` of a Node.js system error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The `code` of the error thrown when what was opened lies outside the root (not a Node errno). */
export const OUTSIDE_ROOT = "EDEEPFS_OUTSIDE_ROOT";

/** Too many open files, or a busy resource: worth a retry once other operations have closed theirs. */
const RETRYABLE = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY"]);

/** Runs a filesystem call, retrying with bounded backoff (about 10, 20, 40, 80 ms) while it fails with a transient errno. */
export function retrying<T>(operation: () => T | Promise<T>): Promise<T> {
  return withRetry(operation, {
    attempts: 5,
    baseDelayMs: 10,
    maxDelayMs: 500,
    retryable: (error) => RETRYABLE.has(errnoCode(error) ?? ""),
  });
}

/**
 * The fault for a Node.js filesystem error, by its errno code only: host paths (which Node's
 * messages hold) never reach a fault; the facade names the caller's path.
 */
export function fromNodeError(error: unknown): Fault {
  const code = errnoCode(error);
  switch (code) {
    case "ENOENT":
      return fault("file_not_found");
    case OUTSIDE_ROOT:
      return outsideRoot();
    case "EACCES":
    case "EPERM":
      return fault("permission_denied");
    case "ELOOP":
      // O_NOFOLLOW reports a symlink at the final component as ELOOP, like a real loop.
      return fault("permission_denied", {
        detail: "it is a symbolic link that is not followed (or a symlink loop)",
      });
    case "EISDIR":
      return fault("is_directory");
    case "ENOTDIR":
      return notADirectory();
    case "ENAMETOOLONG":
      return fault("invalid_path", { reason: "too_long", detail: "longer than the filesystem allows" });
    case "EROFS":
      return fault("read_only", { detail: "it is on a read-only filesystem" });
    case "EFBIG":
      return fault("too_large", { detail: "for the filesystem" });
    case "ENOSPC":
    case "EDQUOT":
      return fault("backend_unavailable", { detail: "no space left on the device" });
    case "EMFILE":
    case "ENFILE":
      return fault("backend_unavailable", { detail: "too many open files; retry later" });
    default:
      return fault("backend_unavailable", { detail: `filesystem error ${code ?? "unknown"}` });
  }
}

/** A path whose real location (through a symlink, possibly one swapped in meanwhile) is outside the root. */
export function outsideRoot(): Fault {
  return fault("permission_denied", {
    detail: "it resolves (through a symbolic link) outside the root directory",
  });
}

/** A parent of the path is a file (`file`: its virtual path, when known). */
export function notADirectory(file?: string): Fault {
  return fault(
    "not_a_directory",
    file === undefined ? { reason: "file_in_way" } : { path: file, reason: "file_in_way" },
  );
}

/** A path that is not canonical (HostRoot refuses it before any I/O). */
export function notCanonical(): Fault {
  return fault("invalid_path", { detail: "not a canonical absolute path" });
}

/** A write, edit or upload whose last path component is a symlink: deepagents refuses these too. */
export function symlinkNotWritable(): Fault {
  return fault("permission_denied", {
    detail: "it is a symbolic link; writes do not follow symbolic links (write to the file it points to instead)",
  });
}
