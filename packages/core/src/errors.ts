import type { ErrorCode, ErrorFields } from "./protocol.js";

const DEEPFS_ERROR_MARKER = Symbol.for("deepfs.error");

/**
 * Thrown only for construction and configuration mistakes. Per-call failures are returned as
 * `{ error, code }` results instead.
 */
export class DeepfsError extends Error {
  readonly code: ErrorCode;
  /** Marker read by {@link DeepfsError.isInstance}. */
  readonly [DEEPFS_ERROR_MARKER] = true;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeepfsError";
    this.code = code;
  }

  /** Works across duplicate installs of `@deepfs/core`, unlike `instanceof`. */
  static isInstance(value: unknown): value is DeepfsError {
    return typeof value === "object" && value !== null && DEEPFS_ERROR_MARKER in value;
  }
}

/** Builds a returned failure: `{ error, code }`. */
export function failure(code: ErrorCode, error: string): { error: string; code: ErrorCode } {
  return { error, code };
}

/** True when a result carries an error. */
export function isFailure(result: ErrorFields): result is Required<ErrorFields> {
  return typeof result.error === "string";
}

/** The sentence used for every `file_not_found`. */
export function notFound(path: string): { error: string; code: "file_not_found" } {
  return { error: `File '${path}' not found`, code: "file_not_found" };
}

/**
 * Codes after which the contract guarantees the store changed nothing: refusals, as opposed to an
 * outage, a timeout or an abort, after which a change may or may not have been made.
 */
export const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "file_not_found",
  "is_directory",
  "not_a_directory",
  "invalid_path",
  "invalid_argument",
  "permission_denied",
  "read_only",
  "string_not_found",
  "multiple_occurrences",
  "conflict",
  "too_large",
  "unsupported",
]);
