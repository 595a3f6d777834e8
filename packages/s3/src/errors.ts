import { type ErrorCode, failure } from "@deepfs/core";

type Failure = { error: string; code: ErrorCode };

/** Thrown by the listing when S3 hands back a continuation token it already gave (a server bug). */
export class RepeatedContinuationTokenError extends Error {
  constructor(prefix: string) {
    super(`S3 returned the same continuation token twice while listing '${prefix}'`);
    this.name = "RepeatedContinuationTokenError";
  }
}

interface ServiceErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function shape(error: unknown): ServiceErrorShape {
  return typeof error === "object" && error !== null ? (error as ServiceErrorShape) : {};
}

function statusOf(error: unknown): number | undefined {
  return shape(error).$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string {
  const e = shape(error);
  // Node system errors are all named "Error"; their code (ECONNRESET, ...) says what happened.
  if (e.name === "Error" && typeof e.code === "string") return e.code;
  return e.Code ?? e.name ?? e.code ?? "";
}

/** True when the object (or bucket) named in the request does not exist. */
export function isNotFound(error: unknown): boolean {
  const name = nameOf(error);
  return name === "NoSuchKey" || name === "NotFound" || (statusOf(error) === 404 && name !== "NoSuchBucket");
}

/** True when an `If-Match` / `If-None-Match` condition did not hold (412), or lost a race (409). */
export function isPreconditionFailed(error: unknown): boolean {
  const name = nameOf(error);
  return statusOf(error) === 412 || name === "PreconditionFailed" || name === "ConditionalRequestConflict";
}

/** True for the rejection of a request cancelled through an `AbortSignal`. */
export function isAbort(error: unknown): boolean {
  const name = nameOf(error);
  return name === "AbortError" || name === "RequestAbortedError";
}

/**
 * The returned failure for an error from the S3 client, by HTTP status and error name (never by
 * message text). Transient faults (5xx, throttling, timeouts, resets) have already been retried
 * by the SDK (`maxRetries`) when they get here, so they become `backend_unavailable`.
 */
export function s3Failure(error: unknown, path: string, action: string): Failure {
  const status = statusOf(error);
  const name = nameOf(error);
  if (isAbort(error)) return failure("aborted", `${action} '${path}' was aborted`);
  if (error instanceof RepeatedContinuationTokenError)
    return failure("backend_unavailable", `${action} '${path}' failed: ${error.message}`);
  if (name === "NoSuchBucket")
    return failure("backend_unavailable", `${action} '${path}' failed: the S3 bucket does not exist`);
  if (isNotFound(error)) return failure("file_not_found", `File '${path}' not found`);
  if (status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") {
    return failure(
      "permission_denied",
      `${action} '${path}' was refused by S3 (access denied); check the credentials and bucket policy`,
    );
  }
  if (isPreconditionFailed(error))
    return failure("conflict", `'${path}' changed since it was read (precondition failed); read it again and retry`);
  if (name === "KeyTooLongError") return failure("invalid_path", `Path '${path}' is too long for an S3 key`);
  if (name === "EntityTooLarge") return failure("too_large", `'${path}' is too large for a single S3 upload`);
  if (name === "TimeoutError" || name === "RequestTimeout" || name === "TimeoutException") {
    return failure("backend_unavailable", `${action} '${path}' timed out after retries; S3 is slow or unreachable`);
  }
  const detail = status ? `HTTP ${status}${name ? ` ${name}` : ""}` : name || "network error";
  return failure("backend_unavailable", `${action} '${path}' failed after retries (${detail}); S3 is unavailable`);
}
