import type { ErrorCode } from "@deepfs/core";
import { type Fault, fault } from "@deepfs/core/kit";

/**
 * What a native error means for a call: its deepfs code, and whether repeating the call may succeed.
 * Decided by code only (SQLSTATE, postgres.js client codes, Node socket codes), never by message text.
 */
export interface TranslatedError {
  code: ErrorCode;
  /** A fault of the connection or the server that a new attempt (on a new connection) may not meet. */
  transient: boolean;
  /** Short, credential-free reason for the message (the SQLSTATE or client code). */
  reason: string;
}

// postgres.js's own codes for a connection that went away, and Node's socket errors.
const CLIENT_CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

// SQLSTATEs after which the same statement can succeed on a retry.
const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "53300", // too_many_connections
  "57P01", // admin_shutdown (pg_terminate_backend, server restart)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
]);

function errorCode(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}

/** Maps a native error to a deepfs code. */
export function translateError(error: unknown): TranslatedError {
  if (error instanceof UncertainCommitError) {
    return {
      code: "backend_unavailable",
      transient: false,
      reason: "connection lost during COMMIT; the change may or may not be saved, read it back",
    };
  }
  const code = errorCode(error);
  if (CLIENT_CONNECTION_CODES.has(code)) return { code: "backend_unavailable", transient: true, reason: code };
  // Class 08: connection exceptions.
  if (code.startsWith("08") || TRANSIENT_SQLSTATES.has(code))
    return { code: "backend_unavailable", transient: true, reason: `SQLSTATE ${code}` };
  if (code === "57014") return { code: "timeout", transient: false, reason: "statement timeout" };
  if (code === "42501") return { code: "permission_denied", transient: false, reason: "permission denied" };
  if (code === "25006") return { code: "read_only", transient: false, reason: "read-only transaction" };
  // program_limit_exceeded (a value over 1 GB) and string too long.
  if (code === "54000" || code === "22001") return { code: "too_large", transient: false, reason: `SQLSTATE ${code}` };
  if (code === "CONNECTION_ENDED")
    return { code: "backend_unavailable", transient: false, reason: "the backend was closed" };
  return { code: "backend_unavailable", transient: false, reason: code ? `error ${code}` : "unexpected error" };
}

/**
 * The fault for a native error: its deepfs code and a short detail (the SQLSTATE or client code),
 * never the statement, its values, or the connection settings.
 */
export function faultFromError(error: unknown): Fault {
  const translated = translateError(error);
  return fault(translated.code, { detail: `PostgreSQL: ${translated.reason}`, cause: error });
}

/**
 * Thrown by a transaction body when the outcome of its COMMIT is unknown: the connection dropped
 * after the commit was sent, so repeating the write could apply it twice.
 */
export class UncertainCommitError extends Error {
  constructor(readonly nativeError: unknown) {
    super("connection lost while committing");
    this.name = "UncertainCommitError";
  }
}

/** True when the connection went away (client-side drop, socket error, or the server shutting the session). */
export function isConnectionLoss(error: unknown): boolean {
  const code = errorCode(error);
  return CLIENT_CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("57P");
}
