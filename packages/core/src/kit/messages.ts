/**
 * Every sentence a backend built on the driver layer returns is written here, once, from a
 * {@link Fault} and the path the caller gave (canonical), so every store says the same thing for
 * the same failure.
 */
import type { ErrorCode, FileOperationError } from "../protocol.js";
import { type Fault, isFault } from "./driver.js";

/** The operation a sentence describes. */
export type Operation =
  | "read"
  | "write"
  | "edit"
  | "delete"
  | "ls"
  | "glob"
  | "grep"
  | "upload"
  | "download"
  | "stat"
  | "execute"
  | "history"
  | "readVersion"
  | "restore"
  | "snapshot"
  | "changesSince"
  | "restoreSnapshot";

const VERB: Record<Operation, string> = {
  read: "Reading",
  write: "Writing",
  edit: "Editing",
  delete: "Deleting",
  ls: "Listing",
  glob: "Searching",
  grep: "Searching",
  upload: "Uploading",
  download: "Downloading",
  stat: "Inspecting",
  execute: "Running a command in",
  history: "Listing the history of",
  readVersion: "Reading a version of",
  restore: "Restoring",
  snapshot: "Taking a snapshot of",
  changesSince: "Listing the changes of",
  restoreSnapshot: "Restoring a snapshot of",
};

const suffix = (detail: string | undefined, open = " (", close = ")") => (detail ? `${open}${detail}${close}` : "");

/** The sentence for `fault` met while doing `op` on `path`. */
export function describeFault(op: Operation, path: string, fault: Fault): string {
  const at = fault.path ?? path;
  const verb = VERB[op];
  switch (fault.fault) {
    case "file_not_found":
      if (fault.reason === "no_version") return `'${at}' has no version '${fault.detail ?? ""}'`;
      if (fault.reason === "deleted_version") {
        return `Version '${fault.detail ?? ""}' of '${at}' is a deletion: it has no content to read or restore`;
      }
      return `File '${at}' not found`;
    case "is_directory":
      return `'${at}' is a directory, not a file`;
    case "not_a_directory":
      if (fault.reason === "file_in_way") {
        return at !== path
          ? `'${at}' is a file, so '${path}' cannot be created below it`
          : `A parent of '${path}' is a file, so '${path}' cannot be below it`;
      }
      return `'${at}' is not a directory${suffix(fault.detail, ": ", "")}`;
    case "conflict":
      switch (fault.reason) {
        case "exists":
          return `'${at}' already exists (ifNoneMatch: "*")`;
        case "missing":
          return `'${at}' does not exist, so ifMatch cannot hold`;
        case "contended":
          return `'${at}' kept changing while it was being edited; read it again and retry`;
        default:
          return `'${at}' changed since it was read (etag mismatch); read it again and retry`;
      }
    case "aborted":
      return `${verb} '${at}' was aborted`;
    case "timeout":
      return `${verb} '${at}' timed out${suffix(fault.detail)}`;
    case "permission_denied":
      return `${verb} '${at}' was refused${fault.detail ? `: ${fault.detail}` : " (permission denied)"}`;
    case "read_only":
      return `'${at}' cannot be changed: ${fault.detail ?? "the backend is read-only"}`;
    case "too_large":
      if (fault.reason === "quota") return `${verb} '${at}' would exceed a quota${suffix(fault.detail, ": ", "")}`;
      if (fault.reason === "answer") {
        return `${verb} '${at}' would answer ${fault.detail ?? "too many matching lines"}; pass maxCount, or narrow the path, the glob or the pattern`;
      }
      return `'${at}' is too large${suffix(fault.detail)}`;
    case "invalid_path":
      if (fault.reason === "too_long") return `Path '${at}' is too long${suffix(fault.detail, ": ", "")}`;
      return `Invalid path '${at}'${suffix(fault.detail, ": ", "")}`;
    case "invalid_argument":
      if (fault.reason === "unknown_snapshot") return `${verb} '${at}': not a snapshot id of this backend`;
      return `${verb} '${at}': ${fault.detail ?? "invalid argument"}`;
    case "unsupported":
      if (fault.reason === "history_pruned") {
        return `${verb} '${path}' is not possible: the history kept for '${at}' no longer reaches back to the snapshot`;
      }
      if (fault.reason === "no_history") {
        return `${verb} '${at}' is not possible: this backend keeps no history${suffix(fault.detail, " (", ")")}`;
      }
      return `${verb} '${at}' is not supported by this backend${suffix(fault.detail, ": ", "")}`;
    case "backend_unavailable":
      return `${verb} '${at}' failed${suffix(fault.detail, ": ", "")}`;
    default:
      return `${verb} '${at}' failed (${fault.fault})${suffix(fault.detail, ": ", "")}`;
  }
}

/** The returned failure for `fault`: `{ error, code }`. */
export function failureOf(op: Operation, path: string, f: Fault): { error: string; code: ErrorCode } {
  return { error: describeFault(op, path, f), code: f.fault };
}

/**
 * The reference's coarse code of an upload or download entry for a precise deepfs code: the four
 * codes it knows pass through, `read_only` is `permission_denied` (the caller may not change it),
 * and everything else (`too_large`, `conflict`, `backend_unavailable`, ...) is `invalid_path` —
 * the one rule every backend and the router use.
 */
export function coarseCode(code: ErrorCode): FileOperationError {
  if (code === "read_only") return "permission_denied";
  return code === "file_not_found" || code === "permission_denied" || code === "is_directory" || code === "invalid_path"
    ? code
    : "invalid_path";
}

/**
 * The fault for an error a driver threw (a bug, or a failure it did not translate): its class name
 * only, never its message, which may hold paths on the host, credentials or contents.
 */
export function faultOfThrown(error: unknown): Fault {
  if (isFault(error)) return error;
  const carried = (error as { fault?: unknown } | null)?.fault;
  if (isFault(carried)) return carried;
  const name = error instanceof Error ? error.name : typeof error;
  return { fault: "backend_unavailable", detail: `unexpected ${name} in the storage driver`, cause: error };
}
