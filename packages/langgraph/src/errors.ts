import {
  type Fault,
  nativeErrorCode,
  SOCKET_ERROR_CODES,
  type TranslatedError,
  translateSqlState,
  withRetry,
} from "@deepfs/core/kit";

export type { TranslatedError } from "@deepfs/core/kit";

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}

/** Maps an error thrown by a `BaseStore` to a deepfs code. */
export function translateError(error: unknown): TranslatedError {
  // LangGraph's own class for a namespace the store refuses.
  if (errorName(error) === "InvalidNamespaceError")
    return { code: "invalid_argument", transient: false, reason: "the store refused the namespace" };
  const code = nativeErrorCode(error);
  if (SOCKET_ERROR_CODES.has(code)) return { code: "backend_unavailable", transient: true, reason: code };
  // Stores backed by PostgreSQL answer SQLSTATEs.
  const sql = translateSqlState(code);
  if (sql) return sql;
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
