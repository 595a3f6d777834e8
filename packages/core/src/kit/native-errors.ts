/**
 * Reading native errors by their codes, never by their messages: Node's socket codes and
 * PostgreSQL's SQLSTATEs, shared by every driver that talks to a server or to PostgreSQL.
 */
import type { ErrorCode } from "../protocol.js";

/** What a native error means for a call. */
export interface TranslatedError {
  code: ErrorCode;
  /** A fault of the connection or the server that a new attempt (on a new connection) may not meet. */
  transient: boolean;
  /** Short, credential-free reason for the message (a socket code, a SQLSTATE). */
  reason: string;
}

/** Node's socket error codes for a connection that went away or could not be made. */
export const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** SQLSTATEs after which the same statement can succeed on a retry. */
const TRANSIENT_SQLSTATES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "55P03", // lock_not_available
  "53300", // too_many_connections
  "57P01", // admin_shutdown (pg_terminate_backend, server restart)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
]);

/** The string `code` of a native error (`ECONNRESET`, a SQLSTATE), or "". */
export function nativeErrorCode(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}

/** The meaning of a SQLSTATE, or null for one that says nothing more than `backend_unavailable`. */
export function translateSqlState(code: string): TranslatedError | null {
  // Class 08: connection exceptions.
  if (/^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_SQLSTATES.has(code)) {
    return { code: "backend_unavailable", transient: true, reason: `SQLSTATE ${code}` };
  }
  if (code === "57014") return { code: "timeout", transient: false, reason: "statement timeout" };
  if (code === "42501") return { code: "permission_denied", transient: false, reason: "permission denied" };
  if (code === "25006") return { code: "read_only", transient: false, reason: "read-only transaction" };
  // program_limit_exceeded (a value over 1 GB) and string too long.
  if (code === "54000" || code === "22001") return { code: "too_large", transient: false, reason: `SQLSTATE ${code}` };
  return null;
}
