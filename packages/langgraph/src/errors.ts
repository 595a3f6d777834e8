import type { ErrorCode } from "@deepfs/core";
import { type Fault, withRetry } from "@deepfs/core/kit";

/** What a native store error means for a call, decided by its `code` or class, never by its message. */
export interface TranslatedError {
  code: ErrorCode;
  /** A fault of the connection or the server that a new attempt may not meet. */
  transient: boolean;
  /** Short, credential-free reason for the message. */
  reason: string;
}

// Node socket errors and the pg client's own codes for a connection that went away.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

// SQLSTATEs (stores backed by PostgreSQL) after which the same call can succeed on a retry.
const TRANSIENT_SQLSTATES = new Set(["40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"]);

function errorCode(error: unknown): string {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "";
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

/** Maps an error thrown by a `BaseStore` to a deepfs code. */
export function translateError(error: unknown): TranslatedError {
  // LangGraph's own class for a namespace the store refuses.
  if (errorName(error) === "InvalidNamespaceError")
    return { code: "invalid_argument", transient: false, reason: "the store refused the namespace" };
  const code = errorCode(error);
  if (CONNECTION_CODES.has(code)) return { code: "backend_unavailable", transient: true, reason: code };
  // Class 08: connection exceptions.
  if (/^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_SQLSTATES.has(code))
    return { code: "backend_unavailable", transient: true, reason: `SQLSTATE ${code}` };
  if (code === "57014") return { code: "timeout", transient: false, reason: "statement timeout" };
  if (code === "42501") return { code: "permission_denied", transient: false, reason: "permission denied" };
  return { code: "backend_unavailable", transient: false, reason: code || errorName(error) || "unknown error" };
}

/** Thrown inside the driver to carry a translated store failure up to the facade, as a fault. */
export class StoreCallError extends Error {
  /** Read by the facade (`faultOfThrown`): the code and the reason, never the store's message. */
  readonly fault: Fault;

  constructor(translated: TranslatedError, cause: unknown) {
    super(`store call failed: ${translated.reason}`, { cause });
    this.name = "StoreCallError";
    this.fault = { fault: translated.code, detail: `the store answered ${translated.reason}` };
  }
}

/** Runs a store call, retrying transient faults with bounded backoff; throws a {@link StoreCallError}. */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(call, {
      attempts: 4,
      baseDelayMs: 50,
      maxDelayMs: 800,
      retryable: (error) => translateError(error).transient,
    });
  } catch (error) {
    throw new StoreCallError(translateError(error), error);
  }
}
