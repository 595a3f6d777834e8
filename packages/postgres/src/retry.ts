import { translateError } from "./errors.js";

/** How often and how patiently transient faults are retried. */
export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled for each next one (with jitter). */
  baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 50 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `operation` again while it fails with a transient fault (dropped connection, server restart,
 * deadlock, serialization failure), with exponential backoff; rethrows the last error otherwise.
 * Only operations that are safe to repeat go through here: reads, and transactions that did not
 * reach COMMIT (see `UncertainCommitError`).
 */
export async function withRetry<T>(operation: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= policy.attempts || !translateError(error).transient) throw error;
      const delay = policy.baseDelayMs * 2 ** (attempt - 1);
      await sleep(delay / 2 + Math.random() * delay);
    }
  }
}
