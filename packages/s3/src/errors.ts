import { type Fault, fault } from "@deepfs/core/kit";

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

/** True when a `Range` asked for bytes the object does not have (416: it is empty). */
export function isRangeNotSatisfiable(error: unknown): boolean {
  return statusOf(error) === 416 || nameOf(error) === "InvalidRange";
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

/** The fault for a key over {@link MAX_KEY_BYTES}: S3 would refuse it. */
export function keyTooLongFault(): Fault {
  return fault("invalid_path", { reason: "too_long", detail: "S3 keys are at most 1024 bytes including the prefix" });
}

/**
 * The fault for an error from the S3 client, by HTTP status and error name (never by message
 * text). Transient faults (5xx, throttling, timeouts, resets) have already been retried by the SDK
 * (`maxRetries`) when they get here, so they become `backend_unavailable`.
 */
export function s3Fault(error: unknown): Fault {
  const status = statusOf(error);
  const name = nameOf(error);
  const cause = error;
  if (isAbort(error)) return fault("aborted", { cause });
  if (error instanceof RepeatedContinuationTokenError)
    return fault("backend_unavailable", { detail: "S3 returned the same listing continuation token twice", cause });
  if (name === "NoSuchBucket") return fault("backend_unavailable", { detail: "the S3 bucket does not exist", cause });
  if (isNotFound(error)) return fault("file_not_found", { cause });
  if (status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") {
    return fault("permission_denied", { detail: "access denied; check the credentials and bucket policy", cause });
  }
  if (isPreconditionFailed(error)) return fault("conflict", { reason: "changed", cause });
  if (name === "KeyTooLongError") return { ...keyTooLongFault(), cause };
  if (name === "EntityTooLarge") return fault("too_large", { detail: "over the S3 single-upload limit", cause });
  if (name === "TimeoutError" || name === "RequestTimeout" || name === "TimeoutException") {
    return fault("backend_unavailable", { detail: "timed out after retries; S3 is slow or unreachable", cause });
  }
  const what = status ? `HTTP ${status}${name ? ` ${name}` : ""}` : name || "network error";
  return fault("backend_unavailable", { detail: `${what} after retries; S3 is unavailable`, cause });
}

/**
 * The fault for a file (or a version) over the read limit, `maxFileSizeMb` (`size`: its length in
 * bytes, when known): numbers only.
 */
export function readLimitFault(size: number | undefined, maxFileBytes: number): Fault {
  const limit = `the maxFileSizeMb limit of ${maxFileBytes / (1024 * 1024)} MiB`;
  return fault("too_large", { detail: size === undefined ? `over ${limit}` : `${size} bytes, over ${limit}` });
}
