import { withRetry } from "@deepfs/core/kit";
import { translateError } from "./errors.js";

/** How often and how patiently transient faults are retried. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled for each next one (with jitter). */
  baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 50 };

/**
 * Runs `operation` again while it fails with a transient fault (dropped connection, server restart,
 * deadlock, serialization failure), with the kit's backoff; rethrows the last error otherwise.
 * Only operations that are safe to repeat go through here: reads, and transactions that did not
 * reach COMMIT (see `UncertainCommitError`).
 */
export function retrying<T>(operation: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  return withRetry(operation, {
    attempts: policy.attempts,
    baseDelayMs: policy.baseDelayMs,
    maxDelayMs: Math.max(1000, policy.baseDelayMs * 2 ** (policy.attempts - 1)),
    retryable: (error) => translateError(error).transient,
    ...(signal ? { signal } : {}),
  });
}
