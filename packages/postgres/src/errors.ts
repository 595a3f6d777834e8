import {
  type Fault,
  fault,
  nativeErrorCode,
  SOCKET_ERROR_CODES,
  type TranslatedError,
  translateSqlState,
} from "@deepfs/core/kit";

export type { TranslatedError } from "@deepfs/core/kit";

// postgres.js's own codes for a connection that went away, besides Node's socket errors.
const CLIENT_CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

function isConnectionCode(code: string): boolean {
  return CLIENT_CONNECTION_CODES.has(code) || SOCKET_ERROR_CODES.has(code);
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
  const code = nativeErrorCode(error);
  if (isConnectionCode(code)) return { code: "backend_unavailable", transient: true, reason: code };
  const sql = translateSqlState(code);
  if (sql) return sql;
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
  const code = nativeErrorCode(error);
  return isConnectionCode(code) || code.startsWith("08") || code.startsWith("57P");
}
