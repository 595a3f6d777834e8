/** Bounded retry with jittered exponential backoff: the one copy every driver uses. */

export interface RetryOptions {
  /** Attempts in total, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubled for each next one, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs?: number;
  /** True when the error is worth another attempt (a dropped connection, EMFILE, a 5xx). */
  retryable: (error: unknown) => boolean;
  signal?: AbortSignal;
}

/** A pause of about `baseDelayMs * 2^(attempt-1)` (jittered by ±50%, capped), ended early by `signal`. */
export function backoff(attempt: number, baseDelayMs: number, maxDelayMs = 1000, signal?: AbortSignal): Promise<void> {
  const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1)) * (0.5 + Math.random());
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, delay);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Runs `operation`, again while it throws an error `retryable` accepts, up to `attempts` times in
 * all; rethrows the last error. Only for operations that are safe to repeat.
 */
export async function withRetry<T>(operation: (attempt: number) => T | Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= options.attempts || options.signal?.aborted || !options.retryable(error)) throw error;
      await backoff(attempt, options.baseDelayMs, options.maxDelayMs, options.signal);
    }
  }
}
